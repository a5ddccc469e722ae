"""A keyed create whose process died after its write but before its
idempotency record was COMPLETED: the record stays IN_PROGRESS, expires, and
the retry runs the command again. Keyed creates store their records under
an id derived from the key, so that second run finds the first run's record
(answering it) instead of making another. Simulated here by removing the
idempotency record, which is what an expired IN_PROGRESS record is to
Powertools."""

from __future__ import annotations

import os

import boto3
import pytest

from tests.support import REQUESTER

BODY = {"uow_id": "deploy-42", "type": "approval", "title": "Promote 4.2", "context": {"b": 1, "a": [2]}}
JOB = {"tool": "test_echo", "parameters": {"text": "hello"}}


@pytest.fixture
def tools():
    import tests.jobtools as jobtools

    with jobtools.registered():
        yield


def lose_the_idempotency_records() -> None:
    table = boto3.resource("dynamodb").Table(os.environ["IDEMPOTENCY_TABLE_NAME"])
    for item in table.scan()["Items"]:
        table.delete_item(Key={"id": item["id"]})


def test_a_create_run_again_after_a_crash_answers_the_first_record(api):
    headers = {"Idempotency-Key": "crash-1"}
    first = api.post("/interventions", REQUESTER, BODY, headers=headers)
    lose_the_idempotency_records()

    again = api.post("/interventions", REQUESTER, BODY, headers=headers)

    assert (first.status, again.status) == (201, 201)
    assert again.body == first.body  # the same record, as the first run made it
    listed = api.get("/interventions?uow_id=deploy-42", REQUESTER).body["items"]
    assert [item["id"] for item in listed] == [first.body["id"]]
    assert api.get("/stats", REQUESTER).body["interventions"]["total"] == 1  # counted once


def test_the_key_with_another_body_after_a_crash_is_still_refused(api):
    headers = {"Idempotency-Key": "crash-2"}
    assert api.post("/interventions", REQUESTER, BODY, headers=headers).status == 201
    lose_the_idempotency_records()

    refused = api.post("/interventions", REQUESTER, {**BODY, "title": "Something else"}, headers=headers)

    assert (refused.status, refused.body["code"]) == (422, "idempotency_key_reused")


def test_keys_are_per_caller_and_unkeyed_creates_stay_random(api):
    headers = {"Idempotency-Key": "crash-3"}
    mine = api.post("/interventions", REQUESTER, BODY, headers=headers).body["id"]
    other = {**REQUESTER, "sub": "another-agent"}
    theirs = api.post("/interventions", other, BODY, headers=headers).body["id"]
    unkeyed = {api.post("/interventions", REQUESTER, BODY).body["id"] for _ in range(2)}
    assert len({mine, theirs, *unkeyed}) == 4


@pytest.mark.parametrize("gated", [False, True])
def test_a_job_submission_run_again_after_a_crash_answers_the_first_job(api, tools, gated):
    headers = {"Idempotency-Key": f"crash-job-{gated}"}
    body = {**JOB, "requires_approval": gated}
    first = api.post("/jobs", REQUESTER, body, headers=headers)
    lose_the_idempotency_records()

    again = api.post("/jobs", REQUESTER, body, headers=headers)

    assert (first.status, again.status) == (202, 202)
    assert again.body["id"] == first.body["id"]
    assert again.body.get("intervention_id") == first.body.get("intervention_id")
    assert [job["id"] for job in api.get("/jobs", REQUESTER).body["items"]] == [first.body["id"]]
