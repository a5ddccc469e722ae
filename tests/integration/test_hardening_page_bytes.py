"""Every list page fits Lambda's 6 MB response: a page stops early, with a
cursor, before its items pass the byte budget (GET /interventions, GET
/jobs, GET /jobs/{id}/logs, the audit trail), and paging on loses or
repeats nothing."""

import json
import uuid
from datetime import timedelta

import pytest

from tests.support import OPERATOR, REQUESTER, VIEWER

LAMBDA_RESULT_MAX_BYTES = 6 * 1024 * 1024 + 100
# Characters that grow most on the way to a Lambda result: one code point,
# 4 bytes of UTF-8 in the stored context, `\ud83d\ude00` (12 bytes) in the
# body, 14 once the body is a JSON string inside the result.
WIDE = "\U0001f600"


def worst_case_fields(n: int) -> dict:
    return {
        "uow_id": f"{n:03d}" + WIDE * 253,
        "type": "approval",
        "title": WIDE * 200,
        "description": WIDE * 4000,
        "context": {"k": WIDE * 4090},  # 16,368 bytes as JSON, under 16 KiB
    }


def result_size(reply) -> int:
    """The result as Lambda's Python runtime serialises it."""
    return len(json.dumps(reply.raw, ensure_ascii=False).encode())


def walk(api, url: str) -> list:
    replies, cursor = [], None
    while True:
        reply = api.get(url + (f"&cursor={cursor}" if cursor else ""), VIEWER)
        assert reply.status == 200, reply.body
        replies.append(reply)
        cursor = reply.body["next_cursor"]
        if cursor is None:
            return replies


def create_worst_case(api, n: int) -> str:
    # As UTF-8, as a client sends it: within the 64 KiB request limit.
    reply = api.post("/interventions", REQUESTER, raw_body=json.dumps(worst_case_fields(n), ensure_ascii=False))
    assert reply.status == 201, reply.body
    return reply.body["id"]


def test_a_limit_100_page_of_worst_case_records_fits_a_lambda_result(api):
    created = {create_worst_case(api, n) for n in range(100)}

    replies = walk(api, "/interventions?limit=100")

    sizes = [result_size(reply) for reply in replies]
    assert len(replies) > 1, f"one page of {sizes[0]} bytes"
    assert max(sizes) <= LAMBDA_RESULT_MAX_BYTES, sizes
    seen = [iv["id"] for reply in replies for iv in reply.body["items"]]
    assert len(seen) == len(set(seen)) and set(seen) == created


@pytest.fixture
def small_budget(monkeypatch) -> int:
    """A budget a few records fill, to page small data by bytes."""
    import oversight.store._dynamodb as dynamodb

    monkeypatch.setattr(dynamodb, "PAGE_BUDGET_BYTES", 6000)
    return 6000


def assert_paged_by_bytes(replies, budget: int) -> list:
    assert len(replies) > 1
    items = []
    for reply in replies:
        page = reply.body["items"]
        assert len(page) < 100
        # Each item as the result carries it: JSON in a JSON string, and a comma.
        sizes = [len(json.dumps(json.dumps(item, separators=(",", ":")))) - 1 for item in page]
        assert len(page) == 1 or sum(sizes) <= budget, sizes
        items += page
    return items


def created_a_second_apart(api, clock, count: int, **fields) -> list[str]:
    ids = []
    for _ in range(count):
        ids.append(api.create(description="x" * 1500, **fields)["id"])
        clock.advance(seconds=1)
    return ids


def test_the_intervention_list_stops_at_the_byte_budget_with_nothing_lost(api, clock, small_budget):
    created = created_a_second_apart(api, clock, 12)
    items = assert_paged_by_bytes(walk(api, "/interventions?limit=100"), small_budget)
    assert [iv["id"] for iv in items] == created  # the queue's order: same priority, oldest first


def test_a_filtered_list_stops_at_the_byte_budget_with_nothing_lost(api, clock, small_budget):
    created = created_a_second_apart(api, clock, 6, type="resume")
    api.create(type="approval")
    items = assert_paged_by_bytes(walk(api, "/interventions?type=resume&limit=100"), small_budget)
    assert [iv["id"] for iv in items] == created


def test_the_audit_trail_stops_at_the_byte_budget_with_nothing_lost(api, small_budget):
    iv = api.create()
    for _ in range(20):
        api.post(f"/interventions/{iv['id']}/claim", OPERATOR)
        api.post(f"/interventions/{iv['id']}/release", OPERATOR)
    api.post(f"/interventions/{iv['id']}/reject", OPERATOR, {"reason": "r" * 1900})
    items = assert_paged_by_bytes(walk(api, f"/interventions/{iv['id']}/events?limit=100"), small_budget)
    assert len(items) == 42 and items[-1]["action"] == "reject"


def _jobs(count: int, log_lines: int) -> list[str]:
    from oversight import clock
    from oversight.models import Job, JobLogLine, JobStatus
    from oversight.store.jobs import get_job_store

    store, ids = get_job_store(), []
    for n in range(count):
        job = Job(
            id=str(uuid.uuid4()),
            tool="test_echo",
            parameters={"text": "p" * 1500},
            status=JobStatus.PENDING,
            submitted_by="agent-7",
            created_at=clock.now() + timedelta(seconds=n),
        )
        store.create("acme", job)
        at = clock.now()
        lines = [(s, JobLogLine(at=at, level="INFO", message=f"{s:03d} " + "m" * 900)) for s in range(log_lines)]
        store.append_logs("acme", job.id, 1, lines)
        ids.append(job.id)
    return ids


def test_the_job_list_stops_at_the_byte_budget_with_nothing_lost(api, small_budget):
    created = _jobs(8, 0)
    items = assert_paged_by_bytes(walk(api, "/jobs?limit=100"), small_budget)
    assert [job["id"] for job in items] == created[::-1]  # newest first


def test_job_logs_stop_at_the_byte_budget_with_nothing_lost(api, small_budget):
    (job_id,) = _jobs(1, 20)
    items = assert_paged_by_bytes(walk(api, f"/jobs/{job_id}/logs?limit=100"), small_budget)
    assert [line["message"][:3] for line in items] == [f"{s:03d}" for s in range(20)]
