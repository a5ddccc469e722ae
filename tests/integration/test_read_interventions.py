"""GET /interventions (queue order, filters, cursors), get, events."""

import base64
import json
import random

import pytest

from tests.support import ADMIN, OPERATOR, OPERATOR_2, REQUESTER, VIEWER, user

PRIORITIES = ["critical", "high", "normal", "low"]


def test_pending_queue_is_priority_then_oldest_across_pages_one_query_each(api, clock, requests_made):
    rng = random.Random(7)
    created = []
    for n in range(12):
        priority = PRIORITIES[n % 4] if n < 4 else rng.choice(PRIORITIES)
        created.append(api.create(priority=priority, title=f"#{n}"))
        clock.advance(seconds=rng.randint(1, 300))
    expected = [iv["id"] for iv in sorted(created, key=lambda iv: (PRIORITIES.index(iv["priority"]), iv["created_at"]))]

    requests_made.reset()
    seen, cursor, pages = [], None, 0
    while True:
        url = "/interventions?status=PENDING&limit=5" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(url, OPERATOR).body
        pages += 1
        seen += [iv["id"] for iv in page["items"]]
        assert len(page["items"]) == (5 if pages < 3 else 2)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    assert pages == 3
    assert requests_made.calls == {"Query": 3}, "one Query per page, no Scan, no sorting in Python"


def test_default_status_is_pending_and_other_statuses_are_newest_first(api, clock):
    first = api.create()
    clock.advance(seconds=10)
    second = api.create()
    clock.advance(seconds=10)
    pending = api.create()
    for iv in (first, second):
        api.post(f"/interventions/{iv['id']}/approve", OPERATOR, {"reason": "ok"})
    assert [iv["id"] for iv in api.get("/interventions", VIEWER).body["items"]] == [pending["id"]]
    approved = api.get("/interventions?status=APPROVED", VIEWER).body["items"]
    assert [iv["id"] for iv in approved] == [second["id"], first["id"]]


def test_filters_priority_type_assigned_to_uow(api):
    a = api.create(priority="high", type="kill_switch", uow_id="u-a")
    b = api.create(priority="low", type="resume", uow_id="u-b")
    c = api.create(priority="high", type="resume", uow_id="u-a")
    api.post(f"/interventions/{c['id']}/claim", OPERATOR)
    d = api.create(priority="high", type="resume", uow_id="u-b")
    api.post(f"/interventions/{d['id']}/claim", OPERATOR_2)

    def ids(query):
        reply = api.get(f"/interventions?{query}", VIEWER)
        assert reply.status == 200, reply.body
        return {iv["id"] for iv in reply.body["items"]}

    assert ids("priority=high") == {a["id"]}
    assert ids("type=resume") == {b["id"]}
    assert ids("uow_id=u-a") == {a["id"]}
    assert ids("uow_id=u-a&status=IN_PROGRESS") == {c["id"]}
    assert ids("status=IN_PROGRESS&assigned_to=pilot-bo") == {d["id"]}
    assert ids("status=IN_PROGRESS&priority=high&type=resume") == {c["id"], d["id"]}
    assert ids("uow_id=u-b&priority=low") == {b["id"]}


def test_filtered_list_pages_with_cursor_bound_to_its_filters(api):
    for n in range(7):
        api.create(type="resume" if n % 2 else "approval")
    first = api.get("/interventions?type=approval&limit=2", VIEWER).body
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = api.get(f"/interventions?type=approval&limit=2&cursor={first['next_cursor']}", VIEWER).body
    assert len(rest["items"]) == 2 and not {i["id"] for i in rest["items"]} & {i["id"] for i in first["items"]}
    mismatch = api.get(f"/interventions?type=resume&cursor={first['next_cursor']}", VIEWER)
    assert mismatch.status == 422 and mismatch.body["details"][0]["loc"] == ["query", "cursor"]


def _tamper(cursor: str, **position) -> str:
    raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw["p"].update(position)
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


def test_bad_or_tampered_cursor_is_422_not_500(api):
    for _ in range(3):
        api.create()
    cursor = api.get("/interventions?limit=1", VIEWER).body["next_cursor"]
    for bad in (
        "garbage",
        "e30",
        _tamper(cursor, pk="T#globex#INT#x"),
        _tamper(cursor, gsi1pk="T#globex#INT#S#PENDING"),
    ):
        reply = api.get(f"/interventions?cursor={bad}", VIEWER)
        assert reply.status == 422 and reply.body["code"] == "validation_error", bad


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "query.limit"),
        ("limit=101", "query.limit"),
        ("limit=ten", "query.limit"),
        ("status=DONE", "query.status"),
        ("priority=urgent", "query.priority"),
        ("type=x", "query.type"),
    ],
)
def test_bad_query_parameters_are_422(api, query, field):
    reply = api.get(f"/interventions?{query}", VIEWER)
    assert reply.status == 422 and field in {".".join(map(str, d["loc"])) for d in reply.body["details"]}


def test_any_role_reads_but_no_role_or_no_token_cannot(api):
    iv = api.create()
    for claims in (VIEWER, REQUESTER, OPERATOR, ADMIN, user("c", "finance")):
        assert api.get(f"/interventions/{iv['id']}", claims).status == 200
    assert api.get(f"/interventions/{iv['id']}", user("nobody")).status == 403
    assert api.get(f"/interventions/{iv['id']}", None).status == 401
    assert api.get("/interventions", None).status == 401
    assert api.get(f"/interventions/{iv['id']}/events", None).status == 401


def test_unknown_or_malformed_id_is_404(api):
    for iv_id in ("7b0c56a4-1c56-4b39-9a53-6b7b0b2f1f10", "nope"):
        assert api.get(f"/interventions/{iv_id}", VIEWER).status == 404
        assert api.get(f"/interventions/{iv_id}/events", VIEWER).status == 404


def test_events_are_the_audit_trail_oldest_first(api, clock):
    iv = api.create()
    clock.advance(seconds=5)
    api.post(f"/interventions/{iv['id']}/claim", OPERATOR)
    clock.advance(seconds=5)
    api.post(f"/interventions/{iv['id']}/release", OPERATOR)
    clock.advance(seconds=5)
    api.post(f"/interventions/{iv['id']}/reject", OPERATOR_2, {"reason": "wrong account"})
    events = api.get(f"/interventions/{iv['id']}/events", VIEWER).body["items"]
    assert [(e["action"], e["from_status"], e["to_status"], e["actor"]) for e in events] == [
        ("create", None, "PENDING", "agent-7"),
        ("claim", "PENDING", "IN_PROGRESS", "pilot-ana"),
        ("release", "IN_PROGRESS", "PENDING", "pilot-ana"),
        ("reject", "PENDING", "REJECTED", "pilot-bo"),
    ]
    assert events[-1]["reason"] == "wrong account"
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    assert set(events[0]) == {"at", "actor", "action", "from_status", "to_status", "reason"}
