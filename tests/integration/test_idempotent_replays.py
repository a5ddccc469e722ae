"""Replays of keyed writes (same Idempotency-Key, same body) carry
`Idempotent-Replayed: true`; first answers, refusals and unkeyed writes do
not; the OpenAPI document declares the header on both keyed routes."""

from __future__ import annotations

import pytest

from tests.support import REQUESTER

REPLAYED = "idempotent-replayed"
JOB = {"tool": "test_echo", "parameters": {"text": "hello"}}


@pytest.fixture
def tools():
    import tests.jobtools as jobtools

    with jobtools.registered():
        yield


def test_a_replayed_job_submission_is_marked_and_the_first_is_not(api, tools):
    headers = {"Idempotency-Key": "job-marked"}
    first = api.post("/jobs", REQUESTER, JOB, headers=headers)
    again = api.post("/jobs", REQUESTER, JOB, headers=headers)
    assert (first.status, again.status) == (202, 202)
    assert REPLAYED not in first.headers
    assert again.headers[REPLAYED] == "true" and again.body["id"] == first.body["id"]
    assert REPLAYED not in api.post("/jobs", REQUESTER, JOB).headers
    # The key reused with another body is refused, and that is no replay.
    refused = api.post("/jobs", REQUESTER, {**JOB, "parameters": {"text": "other"}}, headers=headers)
    assert refused.status == 422 and REPLAYED not in refused.headers


def test_a_replay_mark_does_not_leak_into_the_next_request(api, tools):
    """The mark belongs to one request: a replay, then an unkeyed create in
    the same process (the same warm function)."""
    body = {"uow_id": "u", "type": "approval", "title": "t"}
    headers = {"Idempotency-Key": "leak"}
    api.post("/interventions", REQUESTER, body, headers=headers)
    assert api.post("/interventions", REQUESTER, body, headers=headers).headers[REPLAYED] == "true"
    assert REPLAYED not in api.post("/interventions", REQUESTER, body).headers


@pytest.mark.parametrize(("path", "status"), [("/interventions", "201"), ("/jobs", "202")])
def test_the_openapi_document_declares_the_replay_header(path, status):
    from local_runtime.openapi import build_document

    header = build_document()["paths"][path]["post"]["responses"][status]["headers"]["Idempotent-Replayed"]
    assert header["schema"] == {"type": "string", "enum": ["true"]}
