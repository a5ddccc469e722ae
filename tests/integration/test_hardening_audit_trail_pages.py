"""GET /interventions/{id}/events pages: `limit` (1-100, default 100) and
`cursor`, oldest first, `next_cursor` null after the last page; a small
trail stays whole in one page; 404 for an unknown id as before."""

import pytest

from tests.support import OPERATOR, VIEWER, user


def cycle(api, iv_id: str, times: int) -> None:
    for _ in range(times):
        assert api.post(f"/interventions/{iv_id}/claim", OPERATOR).status == 200
        assert api.post(f"/interventions/{iv_id}/release", OPERATOR).status == 200


def pages(api, iv_id: str, limit: int | None, claims=VIEWER) -> list[dict]:
    seen, cursor = [], None
    while True:
        query = "&".join(q for q in (f"limit={limit}" if limit else "", f"cursor={cursor}" if cursor else "") if q)
        reply = api.get(f"/interventions/{iv_id}/events?{query}", claims)
        assert reply.status == 200, reply.body
        assert set(reply.body) == {"items", "next_cursor"}
        seen.append(reply.body)
        cursor = reply.body["next_cursor"]
        if cursor is None:
            return seen


def test_a_long_trail_pages_oldest_first_with_nothing_lost_or_repeated(api, clock):
    iv = api.create()
    cycle(api, iv["id"], 60)  # 1 + 120 events
    whole = [event for page in pages(api, iv["id"], 100) for event in page["items"]]
    assert len(whole) == 121
    assert [e["action"] for e in whole[:3]] == ["create", "claim", "release"]

    by_seven = pages(api, iv["id"], 7)
    assert [len(page["items"]) for page in by_seven] == [7] * 17 + [2]
    assert [event for page in by_seven for event in page["items"]] == whole


def test_the_default_keeps_a_trail_of_up_to_100_events_in_one_page(api):
    iv = api.create()
    cycle(api, iv["id"], 49)  # 99 events
    api.post(f"/interventions/{iv['id']}/cancel", user("agent-7", "requester"), {"reason": "done"})
    (only,) = pages(api, iv["id"], None)
    assert len(only["items"]) == 100 and only["next_cursor"] is None


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=ten"])
def test_limit_is_1_to_100_and_anything_else_is_422_on_query_limit(api, query):
    iv = api.create()
    for good in ("limit=1", "limit=100"):
        assert api.get(f"/interventions/{iv['id']}/events?{good}", VIEWER).status == 200
    reply = api.get(f"/interventions/{iv['id']}/events?{query}", VIEWER)
    assert reply.status == 422 and ["query", "limit"] in [d["loc"] for d in reply.body["details"]]


def test_a_cursor_of_another_trail_or_an_altered_one_is_422(api):
    first, second = api.create(), api.create()
    cycle(api, first["id"], 2)
    cursor = api.get(f"/interventions/{first['id']}/events?limit=2", VIEWER).body["next_cursor"]
    assert cursor
    altered = cursor[:-3] + ("AAA" if cursor[-3:] != "AAA" else "BBB")
    for iv_id, bad in ((second["id"], cursor), (first["id"], altered), (first["id"], "garbage")):
        reply = api.get(f"/interventions/{iv_id}/events?cursor={bad}", VIEWER)
        assert reply.status == 422 and reply.body["details"][0]["loc"] == ["query", "cursor"], reply.body


def test_an_unknown_or_foreign_id_is_404_with_or_without_paging(api):
    iv = api.create()
    cycle(api, iv["id"], 2)
    cursor = api.get(f"/interventions/{iv['id']}/events?limit=2", VIEWER).body["next_cursor"]
    other_tenant = user("eve", "viewer", tenant="globex")
    assert api.get(f"/interventions/{iv['id']}/events?limit=2", other_tenant).status == 404
    assert api.get("/interventions/7b0c56a4-1c56-4b39-9a53-6b7b0b2f1f10/events?limit=5", VIEWER).status == 404
    # A cursor of this tenant's trail, carried by another tenant, is refused
    # before any read: the answer says nothing of the record.
    assert api.get(f"/interventions/{iv['id']}/events?limit=2&cursor={cursor}", other_tenant).status == 422


def test_a_page_of_a_trail_past_retention_is_404(api, clock):
    iv = api.create()
    cycle(api, iv["id"], 2)
    cursor = api.get(f"/interventions/{iv['id']}/events?limit=2", VIEWER).body["next_cursor"]
    api.post(f"/interventions/{iv['id']}/cancel", user("agent-7", "requester"), {"reason": "done"})
    clock.advance(days=91)
    assert api.get(f"/interventions/{iv['id']}/events?limit=2&cursor={cursor}", VIEWER).status == 404
