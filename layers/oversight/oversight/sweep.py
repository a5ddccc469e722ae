"""The scheduled sweep, in this order: expire overdue interventions as their
`on_expiry` says (the jobs they gate follow the outcome) and escalate those
left unclaimed, reclaim job runs that died (past their run
deadline: given back for another attempt, cancelled or failed), queue again
PENDING jobs whose message was lost, then purge interventions and jobs past
retention. Finds its work through the schedule index (never a Scan), stops
well before the Lambda timeout and resumes on the next run; every write is
conditional, so two overlapping runs do no harm."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aws_lambda_powertools.metrics import MetricUnit

from oversight import clock, gates
from oversight.lifecycle import Action
from oversight.observability import logger, metrics
from oversight.store import get_intervention_store
from oversight.store.jobs import get_job_store
from oversight.store.keys import SCHEDULE_SHARDS
from oversight.worker import fail_dead_run, requeue_stale

# Keep this much of the invocation's time in reserve when deciding to go on.
SAFETY_MARGIN_MS = 10_000
PAGE = 100


@dataclass
class SweepReport:
    expired: int = 0
    escalated: int = 0
    purged: int = 0
    skipped: int = 0
    dead_runs: int = 0
    requeued: int = 0
    purged_jobs: int = 0
    complete: bool = True


def run_sweep(remaining_ms: Callable[[], int]) -> SweepReport:
    store = get_intervention_store()
    report = SweepReport()

    def time_left() -> bool:
        if remaining_ms() > SAFETY_MARGIN_MS:
            return True
        report.complete = False
        return False

    def run_due(tenant: str, intervention_id: str) -> None:
        done = gates.run_due(tenant, intervention_id)
        if done is Action.EXPIRE:
            report.expired += 1
        elif done is Action.ESCALATE:
            report.escalated += 1
        else:
            report.skipped += 1

    def purge(tenant: str, intervention_id: str) -> None:
        store.purge(tenant, intervention_id, clock.now())
        report.purged += 1

    def reclaim(tenant: str, job_id: str) -> None:
        if fail_dead_run(tenant, job_id):
            report.dead_runs += 1

    def requeue(tenant: str, job_id: str) -> None:
        if requeue_stale(tenant, job_id):
            report.requeued += 1

    def purge_job(tenant: str, job_id: str) -> None:
        get_job_store().purge(tenant, job_id, clock.now())
        report.purged_jobs += 1

    _drain(store.due_for_expiry, run_due, time_left)
    _drain(get_job_store().overdue_runs, reclaim, time_left)
    _drain(get_job_store().stale_pending, requeue, time_left)

    _drain(store.past_retention, purge, time_left)
    _drain(get_job_store().past_retention, purge_job, time_left)
    metrics.add_metric(name="InterventionsExpired", unit=MetricUnit.Count, value=report.expired)
    metrics.add_metric(name="InterventionsPurged", unit=MetricUnit.Count, value=report.purged)
    logger.info("sweep finished", extra=report.__dict__)
    return report


def _drain(
    find: Callable[[int, datetime, int], list[tuple[str, str]]],
    handle: Callable[[str, str], None],
    time_left: Callable[[], bool],
) -> None:
    """Handle every (tenant, id) `find` reports as due, shard by shard, a
    page at a time, while there is time. Handled items leave the index."""
    for shard in range(SCHEDULE_SHARDS):
        while time_left():
            batch = find(shard, clock.now(), PAGE)
            for tenant, record_id in batch:
                if not time_left():
                    return
                handle(tenant, record_id)
            if len(batch) < PAGE:
                break
