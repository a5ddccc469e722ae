"""How the worker's RunContext answers `cancelled()`: a short run sees a
cancellation within milliseconds (no once-a-second blind spot), and a long
run reads the store rarely."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import oversight.worker as worker
from oversight.models import Job, JobStatus


class FakeStore:
    """Answers get() with the job, flagged once `cancel_at` has passed."""

    def __init__(self, now, cancel_at: float = float("inf")) -> None:
        self.now, self.cancel_at, self.gets = now, cancel_at, 0

    def get(self, tenant: str, job_id: str) -> Job:
        self.gets += 1
        return Job(
            id=job_id,
            tool="test_wait",
            parameters={},
            status=JobStatus.RUNNING,
            submitted_by="agent-7",
            created_at=datetime(2026, 11, 23, tzinfo=UTC),
            attempts=1,
            cancel_requested=self.now() >= self.cancel_at,
        )


class FakeMonotonic:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def monotonic(monkeypatch) -> FakeMonotonic:
    fake = FakeMonotonic()
    monkeypatch.setattr(worker.time, "monotonic", fake)
    return fake


def context(store: FakeStore) -> worker.JobRunContext:
    running = store.get("acme", "job-1")
    store.gets = 0
    return worker.JobRunContext(store, "acme", running)


def run_checking(ctx: worker.JobRunContext, monotonic: FakeMonotonic, seconds: float, every: float = 0.01):
    """Ask cancelled() every `every` s for `seconds`; when it said yes (s into the run), or None."""
    began = monotonic.t
    while monotonic.t - began < seconds:
        if ctx.cancelled():
            return monotonic.t - began
        monotonic.t += every
    return None


@pytest.mark.parametrize("cancel_at", [0.01, 0.03, 0.08, 0.15])
def test_a_short_run_sees_a_cancellation_within_50_ms(monotonic, cancel_at):
    store = FakeStore(lambda: monotonic.t - 1000.0, cancel_at=cancel_at)
    seen = run_checking(context(store), monotonic, seconds=0.5)
    assert seen is not None and seen - cancel_at <= 0.05 + 1e-9, seen


def test_a_long_run_reads_the_store_rarely_and_still_sees_a_cancellation_within_2_s(monotonic):
    store = FakeStore(lambda: monotonic.t - 1000.0)
    assert run_checking(context(store), monotonic, seconds=240) is None
    print(f"\n{store.gets} GetItems for a 240 s run asking cancelled() every 10 ms")
    assert store.gets <= 150  # once a second would be 240
    for cancel_at in (1.0, 10.0, 100.0, 230.0):
        began = monotonic.t
        store = FakeStore(lambda began=began: monotonic.t - began, cancel_at=cancel_at)
        seen = run_checking(context(store), monotonic, seconds=240)
        # Within a quarter of the run's age so far, and never more than 2 s late.
        assert seen is not None and seen - cancel_at <= min(max(cancel_at / 4, 0.05), 2.0) + 0.02, (cancel_at, seen)
