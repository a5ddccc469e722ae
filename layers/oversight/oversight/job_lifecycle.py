"""The job state machine: its statuses, the moves between them, the retry
budget and when a run is presumed dead. Pure: no I/O, no settings (the
budget is passed in). Each move returns the new Job; the worker and the job
use cases decide when to make it, and the store writes it, conditional on
the job as it was read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from oversight.errors import InvalidTransition
from oversight.lifecycle import Action
from oversight.models import Job, JobResult, JobStatus

OPEN = frozenset({JobStatus.AWAITING_APPROVAL, JobStatus.PENDING, JobStatus.RUNNING})
FINISHED = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.REJECTED})


class Move(StrEnum):
    START = "start"
    GIVE_BACK = "give back"
    FINISH = "finish"
    REFUSE = "refuse"
    CANCEL = "cancel"
    DECIDE = "decide"


@dataclass(frozen=True)
class Rule:
    sources: frozenset[JobStatus]
    targets: frozenset[JobStatus]


# Every move a job may make. A finished job never moves again. A cancel
# request on a RUNNING job is not a move: it sets `cancel_requested`, and the
# run's outcome honours it.
RULES: dict[Move, Rule] = {
    # A delivery's conditional start: the next attempt.
    Move.START: Rule(frozenset({JobStatus.PENDING}), frozenset({JobStatus.RUNNING})),
    # For another attempt: a retry, a dead run reclaimed, an outcome that could not be recorded.
    Move.GIVE_BACK: Rule(frozenset({JobStatus.RUNNING}), frozenset({JobStatus.PENDING})),
    # The run's outcome; a dead run (or one not recorded) that may not run again.
    Move.FINISH: Rule(
        frozenset({JobStatus.RUNNING}), frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})
    ),
    # Failed without a run: its tool is not registered.
    Move.REFUSE: Rule(frozenset({JobStatus.PENDING}), frozenset({JobStatus.FAILED})),
    # A cancel request on a job not yet running.
    Move.CANCEL: Rule(frozenset({JobStatus.PENDING, JobStatus.AWAITING_APPROVAL}), frozenset({JobStatus.CANCELLED})),
    # The decision on its approval (approve; reject; cancel or expire).
    Move.DECIDE: Rule(
        frozenset({JobStatus.AWAITING_APPROVAL}),
        frozenset({JobStatus.PENDING, JobStatus.REJECTED, JobStatus.CANCELLED}),
    ),
}

# Where a job of each status may go, by any move.
MOVES: dict[JobStatus, frozenset[JobStatus]] = {
    status: frozenset().union(*(rule.targets for rule in RULES.values() if status in rule.sources))
    for status in JobStatus
}

# What a decision on the gating intervention makes of an AWAITING_APPROVAL job.
GATE_OUTCOME: dict[Action, JobStatus] = {
    Action.APPROVE: JobStatus.PENDING,
    Action.REJECT: JobStatus.REJECTED,
    Action.CANCEL: JobStatus.CANCELLED,
    Action.EXPIRE: JobStatus.CANCELLED,
}

# A run is presumed dead (its worker stopped) this long after its tool's timeout.
RUN_GRACE_SECONDS = 60


def can_move(source: JobStatus, target: JobStatus) -> bool:
    return target in MOVES[source]


def _moved(job: Job, move: Move, target: JobStatus, **changes: Any) -> Job:
    """The job after `move` to `target`, with `changes`; InvalidTransition
    unless the table allows it."""
    rule = RULES[move]
    if job.status not in rule.sources:
        raise InvalidTransition(f"Cannot {move.value} a job that is {job.status.value}")
    if target not in rule.targets:
        raise InvalidTransition(f"A job cannot {move.value} as {target.value}")
    return job.model_copy(update={"status": target, "version": job.version + 1, **changes})


# ---------------------------------------------------------------- the retry budget and the dead-run rule
def attempts_left(job: Job, max_receives: int) -> bool:
    """Whether a failed attempt may be retried: each delivery of the job's
    message is one attempt, and the queue delivers it `max_receives` times."""
    return job.attempts < max_receives


def run_deadline(job: Job, timeout_seconds: int) -> datetime:
    """When a run started at `started_at` (a job never started: its
    creation) is presumed dead: its tool's timeout plus RUN_GRACE_SECONDS."""
    started = job.started_at or job.created_at
    return started + timedelta(seconds=timeout_seconds + RUN_GRACE_SECONDS)


def run_is_dead(job: Job, timeout_seconds: int, now: datetime) -> bool:
    return now > run_deadline(job, timeout_seconds)


# ---------------------------------------------------------------- the moves of a run
def start(job: Job, now: datetime) -> Job:
    """PENDING → RUNNING: the next attempt, with no cancel request and no
    end yet."""
    return _moved(
        job,
        Move.START,
        JobStatus.RUNNING,
        started_at=now,
        attempts=job.attempts + 1,
        cancel_requested=False,
        finished_at=None,
    )


def give_back(job: Job) -> Job:
    """RUNNING → PENDING: the message, delivered again, runs the next attempt."""
    return _moved(job, Move.GIVE_BACK, JobStatus.PENDING)


def finish(job: Job, status: JobStatus, result: JobResult, now: datetime) -> Job:
    """RUNNING → the run's recorded outcome (COMPLETED, FAILED or
    CANCELLED), with its result and how long it ran."""
    return _moved(job, Move.FINISH, status, finished_at=now, result=result, duration_seconds=_duration(job, now))


def refuse(job: Job, result: JobResult, now: datetime) -> Job:
    """PENDING → FAILED without a run (its tool is not registered)."""
    return _moved(
        job, Move.REFUSE, JobStatus.FAILED, finished_at=now, result=result, duration_seconds=_duration(job, now)
    )


def _duration(job: Job, now: datetime) -> float:
    """Seconds since the last attempt started (none started: 0)."""
    return round((now - (job.started_at or now)).total_seconds(), 3)


def abandon(job: Job, now: datetime) -> Job:
    """A run whose outcome could not be recorded: CANCELLED if that was
    requested (it is not run again), else given back."""
    if job.cancel_requested:
        return _ended(job, JobStatus.CANCELLED, "Cancelled on request (its run was not recorded)", now)
    return give_back(job)


def reclaim(job: Job, max_receives: int, now: datetime) -> Job:
    """A RUNNING job whose run outlived its deadline died with its worker:
    CANCELLED if that was requested, else given back if the budget allows,
    else FAILED."""
    if job.cancel_requested:
        return _ended(job, JobStatus.CANCELLED, "Cancelled on request (its run died)", now)
    if attempts_left(job, max_receives):
        return give_back(job)
    return _ended(job, JobStatus.FAILED, "The run died (worker stopped) and no attempts are left", now)


def _ended(job: Job, status: JobStatus, error: str, now: datetime) -> Job:
    """RUNNING → finished by a run that left no result of its own."""
    return _moved(job, Move.FINISH, status, finished_at=now, result=JobResult(error=error))


# ---------------------------------------------------------------- requests and decisions
def cancel(job: Job, now: datetime) -> Job:
    """What a cancel request makes of the job: RUNNING → the same job with
    cancel_requested=True (the worker finishes it); PENDING /
    AWAITING_APPROVAL → CANCELLED with finished_at=now; otherwise raise
    InvalidTransition(f"Cannot cancel a job that is {job.status.value}")."""
    if job.status is JobStatus.RUNNING:
        return requested_cancel(job)
    return _moved(job, Move.CANCEL, JobStatus.CANCELLED, finished_at=now)


def requested_cancel(job: Job) -> Job:
    """A RUNNING job once its cancellation is requested: a change of its own
    (the version counts it), made once (store.request_cancel)."""
    return job.model_copy(update={"cancel_requested": True, "version": job.version + 1})


def gate_outcome(job: Job, action: Action, now: datetime) -> Job | None:
    """The job as a decision `action` on its approval leaves it: APPROVE →
    PENDING, REJECT → REJECTED (finished_at=now), CANCEL/EXPIRE → CANCELLED
    (finished_at=now); None when the action decides nothing (CLAIM, RELEASE,
    COMPLETE) or the job is not AWAITING_APPROVAL (it was cancelled meanwhile)."""
    target = GATE_OUTCOME.get(action)
    if target is None or job.status is not JobStatus.AWAITING_APPROVAL:
        return None
    if target is JobStatus.PENDING:
        return _moved(job, Move.DECIDE, target)
    return _moved(job, Move.DECIDE, target, finished_at=now)
