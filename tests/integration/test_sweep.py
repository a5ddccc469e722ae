"""The scheduled sweep: expiry through the due-time index, partial runs,
races with decisions, retention."""

import json
from datetime import timedelta

import pytest

from local_runtime.context import LocalLambdaContext
from local_runtime.handlers import load_handler
from oversight import sweep as sweep_module
from oversight.clock import parse_iso
from oversight.config import settings
from oversight.store import get_intervention_store
from tests.conftest import ROOT, TEMPLATE
from tests.support import ADMIN, OPERATOR, REQUESTER, VIEWER, FakeRemainingTime, stored_interventions


def run_sweep_handler():
    spec = TEMPLATE.function("sweep")
    event = json.loads((ROOT / "events" / "sweep.json").read_text())
    return load_handler(spec)(event, LocalLambdaContext(spec.logical_id, spec.timeout))


def statuses(api, items):
    return [api.get(f"/interventions/{iv['id']}", VIEWER).body["status"] for iv in items]


def test_one_run_expires_exactly_the_due_ones_and_a_second_changes_nothing(api, clock):
    due = [api.create(expires_in_seconds=60 * (n + 1)) for n in range(4)]  # due at +1..+4 min
    later = [api.create(expires_in_seconds=3600) for _ in range(3)]
    claimed = api.create(expires_in_seconds=120)
    api.post(f"/interventions/{claimed['id']}/claim", OPERATOR)
    decided = api.create(expires_in_seconds=60)
    api.post(f"/interventions/{decided['id']}/reject", OPERATOR, {"reason": "no"})
    clock.advance(minutes=4)

    report = run_sweep_handler()
    assert report == {
        "expired": 5,
        "escalated": 0,
        "purged": 0,
        "skipped": 0,
        "dead_runs": 0,
        "requeued": 0,
        "purged_jobs": 0,
        "complete": True,
    }
    assert statuses(api, due + [claimed]) == ["EXPIRED"] * 5
    assert statuses(api, later) == ["PENDING"] * 3 and statuses(api, [decided]) == ["REJECTED"]

    assert run_sweep_handler()["expired"] == 0
    events = api.get(f"/interventions/{claimed['id']}/events", VIEWER).body["items"]
    assert [(e["action"], e["actor"], e["from_status"]) for e in events][-1] == ("expire", "system", "IN_PROGRESS")
    expired = api.get(f"/interventions/{due[0]['id']}", VIEWER).body
    assert expired["decided_by"] == "system" and expired["resolution_seconds"] == 240.0

    stats = api.get("/stats", VIEWER).body["interventions"]
    assert stats["by_status"]["EXPIRED"] == 5 and stats["by_status"]["PENDING"] == 3 and stats["open"] == 3
    assert stats["by_status"]["REJECTED"] == 1 and stats["total"] == 9
    daily = api.get("/stats/daily?days=1", VIEWER).body["days"][0]
    assert (daily["created"], daily["expired"], daily["rejected"]) == (9, 5, 1)


def test_a_decision_that_wins_the_race_stays(api, clock, monkeypatch):
    """Approved after the sweeper read the index (and, for the second one,
    after it read the record): the conditional write loses, the decision stays."""
    first, second = api.create(expires_in_seconds=60), api.create(expires_in_seconds=60)
    store = get_intervention_store()
    original_due, original_save = store.due_for_expiry, store.save_transition

    def approve_just_in_time(iv):
        # The approval request was handled a moment before expires_at.
        sweep_time = clock.current
        clock.current = parse_iso(iv["expires_at"]) - timedelta(seconds=1)
        try:
            assert api.post(f"/interventions/{iv['id']}/approve", OPERATOR, {"reason": "in time"}).status == 200
        finally:
            clock.current = sweep_time

    def due_then_decide(*args, **kwargs):
        found = original_due(*args, **kwargs)
        if any(iv_id == first["id"] for _, iv_id in found):
            approve_just_in_time(first)
        return found

    def decide_then_save(tenant, before, after, event, linked=None):
        if before.id == second["id"] and after.status.value == "EXPIRED" and before.version == 1:
            approve_just_in_time(second)
        return original_save(tenant, before, after, event, linked)

    monkeypatch.setattr(store, "due_for_expiry", due_then_decide)
    monkeypatch.setattr(store, "save_transition", decide_then_save)
    clock.advance(seconds=61)
    report = sweep_module.run_sweep(lambda: 60_000)
    assert statuses(api, [first, second]) == ["APPROVED", "APPROVED"]
    assert report.expired == 0 and report.skipped == 2
    for iv in (first, second):
        actions = [e["action"] for e in api.get(f"/interventions/{iv['id']}/events", VIEWER).body["items"]]
        assert actions == ["create", "approve"]
    stats = api.get("/stats", VIEWER).body["interventions"]
    assert stats["by_status"]["APPROVED"] == 2 and stats["by_status"]["EXPIRED"] == 0


def test_short_on_time_a_run_does_part_and_the_next_finishes(api, clock):
    items = [api.create(expires_in_seconds=60) for _ in range(6)]
    clock.advance(minutes=2)
    first = sweep_module.run_sweep(FakeRemainingTime(calls=4))
    assert 0 < first.expired < 6 and not first.complete
    second = sweep_module.run_sweep(lambda: 60_000)
    assert first.expired + second.expired == 6 and second.complete
    for iv in items:
        actions = [e["action"] for e in api.get(f"/interventions/{iv['id']}/events", VIEWER).body["items"]]
        assert actions == ["create", "expire"]
    assert api.get("/stats", VIEWER).body["interventions"]["by_status"]["EXPIRED"] == 6


def test_two_overlapping_runs_do_no_harm(api, clock):
    import threading

    items = [api.create(expires_in_seconds=60) for _ in range(10)]
    clock.advance(minutes=2)
    reports = []
    threads = [
        threading.Thread(target=lambda: reports.append(sweep_module.run_sweep(lambda: 60_000))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.expired for r in reports) == 10
    assert api.get("/stats", VIEWER).body["interventions"]["by_status"]["EXPIRED"] == 10
    for iv in items:
        events = api.get(f"/interventions/{iv['id']}/events", VIEWER).body["items"]
        assert [e["action"] for e in events] == ["create", "expire"]


@pytest.fixture
def one_day_retention(monkeypatch):
    monkeypatch.setenv("RETENTION_DAYS", "1")
    settings.cache_clear()
    yield
    settings.cache_clear()


def test_retention_hides_then_purges_closed_records_never_open_ones(api, clock, dynamodb, one_day_retention):
    approved, rejected, cancelled = api.create(), api.create(), api.create()
    api.post(f"/interventions/{approved['id']}/approve", OPERATOR, {"reason": "ok"})
    api.post(f"/interventions/{approved['id']}/complete", REQUESTER)
    api.post(f"/interventions/{rejected['id']}/reject", OPERATOR, {"reason": "no"})
    api.post(f"/interventions/{cancelled['id']}/cancel", REQUESTER)
    open_one = api.create(expires_in_seconds=2_592_000)
    stats_before = api.get("/stats", ADMIN).body["interventions"]

    clock.advance(hours=23)
    assert api.get(f"/interventions/{rejected['id']}", VIEWER).status == 200

    clock.advance(hours=2)  # past the one-day retention, before any sweep
    for iv in (approved, rejected, cancelled):
        assert api.get(f"/interventions/{iv['id']}", VIEWER).status == 404
        assert api.get(f"/interventions/{iv['id']}/events", VIEWER).status == 404
    for status in ("COMPLETED", "REJECTED", "CANCELLED"):
        assert api.get(f"/interventions?status={status}", VIEWER).body["items"] == []

    report = sweep_module.run_sweep(lambda: 60_000)
    assert report.purged == 3
    remaining = stored_interventions(dynamodb)
    assert [iv.id for iv in remaining] == [open_one["id"]]
    assert (
        dynamodb.scan(
            TableName="OversightTable",
            FilterExpression="begins_with(sk, :e)",
            ExpressionAttributeValues={":e": {"S": "EVT#"}},
        )["Count"]
        == 1
    )
    assert api.get(f"/interventions/{open_one['id']}", VIEWER).body["status"] == "PENDING"
    stats_after = api.get("/stats", ADMIN).body["interventions"]
    assert {k: v for k, v in stats_after.items()} == stats_before, "purging never lowers the counts"
    assert sweep_module.run_sweep(lambda: 60_000).purged == 0
