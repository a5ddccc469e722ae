"""GET /interventions/{id} and GET /jobs/{id} carry an ETag that changes
with every change of the record; If-None-Match naming it is answered 304
with no body, after the one GetItem the read makes anyway."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import OPERATOR, REQUESTER, VIEWER


def get(api: Any, path: str, etag: str | None = None) -> Any:
    return api.get(path, VIEWER, headers={"If-None-Match": etag} if etag else None)


def test_an_intervention_s_etag_changes_with_every_change_and_a_current_one_is_304(api, requests_made):
    iv = api.create()
    path = f"/interventions/{iv['id']}"
    first = get(api, path)
    assert first.status == 200 and first.headers["etag"] == '"1"'

    requests_made.reset()
    unchanged = get(api, path, first.headers["etag"])
    assert (unchanged.status, unchanged.body, unchanged.raw.get("body") or "") == (304, None, "")
    assert unchanged.headers["etag"] == '"1"'
    assert dict(requests_made.calls) == {"GetItem": 1}

    tags = [first.headers["etag"]]
    for change in (
        lambda: api.post(f"{path}/comments", OPERATOR, {"text": "a comment is a change too"}),
        lambda: api.post(f"{path}/claim", OPERATOR),
        lambda: api.post(f"{path}/approve", OPERATOR, {"reason": "ok"}),
    ):
        assert change().status in (200, 201)
        changed = get(api, path, tags[-1])
        assert changed.status == 200
        tags.append(changed.headers["etag"])
        assert get(api, path, tags[-1]).status == 304
    assert tags == ['"1"', '"2"', '"3"', '"4"']


@pytest.mark.parametrize("header", ['"1"', 'W/"1"', '"7", "1"', "*"])
def test_if_none_match_takes_lists_weak_tags_and_star(api, header):
    iv = api.create()
    assert get(api, f"/interventions/{iv['id']}", header).status == 304


@pytest.mark.parametrize("header", ['"2"', '"1-x"', "1"])
def test_a_stale_or_foreign_tag_gets_the_record(api, header):
    iv = api.create()
    reply = get(api, f"/interventions/{iv['id']}", header)
    assert reply.status == 200 and reply.body["id"] == iv["id"]


def test_an_unknown_or_foreign_record_is_404_whatever_the_tag(api):
    assert get(api, "/interventions/5b1c0f4e-2a3d-4c5e-8f9a-0b1c2d3e4f50", "*").status == 404
    iv = api.create()
    other = api.get(f"/interventions/{iv['id']}", {**VIEWER, "custom:tenant": "globex"}, headers={"If-None-Match": "*"})
    assert other.status == 404


def test_a_job_s_weak_etag_follows_its_moves(api, sqs):
    import tests.jobtools as jobtools
    from tests.conftest import TEMPLATE
    from tests.support import JobWorker

    with jobtools.registered():
        job = api.post("/jobs", REQUESTER, {"tool": "test_echo", "parameters": {"text": "hi"}, "use_cache": False}).body
        path = f"/jobs/{job['id']}"
        queued = get(api, path)
        assert queued.headers["etag"] == 'W/"1"' and get(api, path, 'W/"1"').status == 304
        JobWorker(TEMPLATE, sqs).drain()
        done = get(api, path, 'W/"1"')
    assert done.status == 200 and done.body["status"] == "COMPLETED"
    assert done.headers["etag"] == 'W/"3"' and get(api, path, '"3"').status == 304
