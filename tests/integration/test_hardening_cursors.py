"""Cursors cannot be forged, and a position outside the query never reaches
DynamoDB (which answers ValidationException, a 500, where moto answers 200):
GET /interventions, GET /jobs and GET /jobs/{id}/logs answer 422
`validation_error` on `query.cursor`, before any Query."""

import base64
import hashlib
import json
import uuid

import pytest

from oversight.store.cursor import encode_cursor
from tests.support import VIEWER


def payload(cursor: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


def unsigned(position: dict, filters: dict) -> str:
    """What anyone can build: a position and the unkeyed filter fingerprint."""
    fingerprint = hashlib.sha256(json.dumps(filters, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]
    raw = json.dumps({"p": position, "f": fingerprint}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def assert_refused_before_any_query(api, requests_made, url: str) -> None:
    requests_made.reset()
    reply = api.get(url, VIEWER)
    assert reply.status == 422, reply.body
    assert reply.body["code"] == "validation_error"
    assert reply.body["details"][0]["loc"] == ["query", "cursor"]
    assert "Query" not in requests_made.calls


@pytest.fixture
def high_cursor(api) -> dict:
    for _ in range(3):
        api.create(priority="high")
    page = api.get("/interventions?priority=high&limit=1", VIEWER).body
    return payload(page["next_cursor"])["p"]


FILTERS = {"priority": "high", "status": "PENDING"}


@pytest.mark.parametrize(
    "change",
    [
        {"gsi1sk": "0#2026-11-23T09:00:00.000Z#x"},  # the critical rank: outside the high list's begins_with("1#")
        {"gsi1sk": "1#" + "9" * 1100},  # over DynamoDB's 1,024-byte sort key
        {"pk": "T#acme#INT#" + "x" * 1030},  # over 1,024 bytes (the cursor itself within 2,048 characters)
    ],
)
def test_forged_intervention_cursor_is_422_before_any_query(api, requests_made, high_cursor, change):
    forged = unsigned({**high_cursor, **change}, FILTERS)
    assert_refused_before_any_query(api, requests_made, f"/interventions?priority=high&cursor={forged}")


@pytest.mark.parametrize(
    "change",
    [
        {"gsi1sk": "0#2026-11-23T09:00:00.000Z#x"},
        {"gsi1sk": "1#" + "9" * 1100},
        {"sk": "EVT#0000000001"},  # an event, not a record: not on this list
        {"gsi1pk": "T#acme#INT#S#APPROVED"},
        {"pk": "T#globex#INT#" + str(uuid.uuid4())},  # another tenant's record
    ],
)
def test_position_outside_the_query_is_422_even_when_signed(api, requests_made, high_cursor, change):
    # Signed with the deployment's key, as if it had leaked: bounds still hold.
    cursor = encode_cursor({**high_cursor, **change}, FILTERS, scope="interventions:acme")
    assert_refused_before_any_query(api, requests_made, f"/interventions?priority=high&cursor={cursor}")


def test_cursor_of_the_same_position_for_another_tenant_or_list_is_422(api, requests_made, high_cursor):
    for scope in ("interventions:globex", "jobs:acme", ""):
        cursor = encode_cursor(high_cursor, FILTERS, scope=scope)
        assert_refused_before_any_query(api, requests_made, f"/interventions?priority=high&cursor={cursor}")
    # The genuine one still pages on.
    genuine = encode_cursor(high_cursor, FILTERS, scope="interventions:acme")
    assert len(api.get(f"/interventions?priority=high&cursor={genuine}", VIEWER).body["items"]) == 2


def _seed_jobs_with_logs(count: int, lines: int) -> list[str]:
    from datetime import timedelta

    from oversight import clock
    from oversight.models import Job, JobLogLine, JobStatus
    from oversight.store.jobs import get_job_store

    store, ids = get_job_store(), []
    for n in range(count):
        job = Job(
            id=str(uuid.uuid4()),
            tool="test_echo",
            parameters={},
            status=JobStatus.PENDING,
            submitted_by="agent-7",
            created_at=clock.now() + timedelta(seconds=n),
        )
        store.create("acme", job)
        logged = [(s, JobLogLine(at=clock.now(), level="INFO", message=f"{s}")) for s in range(lines)]
        store.append_logs("acme", job.id, 1, logged)
        ids.append(job.id)
    return ids


def test_forged_job_list_cursor_is_422_before_any_query(api, requests_made):
    _seed_jobs_with_logs(3, 0)
    position = payload(api.get("/jobs?limit=1", VIEWER).body["next_cursor"])["p"]
    for change in ({"gsi2sk": "9" * 1100}, {"sk": "LOG#x"}):
        forged = unsigned({**position, **change}, {})
        assert_refused_before_any_query(api, requests_made, f"/jobs?limit=1&cursor={forged}")


def test_forged_job_log_cursor_is_422_before_any_query(api, requests_made):
    (job_id,) = _seed_jobs_with_logs(1, 3)
    position = payload(api.get(f"/jobs/{job_id}/logs?limit=1", VIEWER).body["next_cursor"])["p"]
    for change in ({"sk": "#META"}, {"sk": "LOG#" + "9" * 1100}):
        forged = unsigned({**position, **change}, {"job": job_id})
        assert_refused_before_any_query(api, requests_made, f"/jobs/{job_id}/logs?limit=1&cursor={forged}")
