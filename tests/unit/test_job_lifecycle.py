"""The job state machine (oversight.job_lifecycle): every move it allows and
every one it refuses, the retry budget, the dead-run rule, and what a cancel
request and a decision on the approval make of a job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from oversight import job_lifecycle as jl
from oversight.errors import InvalidTransition
from oversight.lifecycle import Action
from oversight.models import Job, JobResult, JobStatus

S = JobStatus
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CREATED = NOW - timedelta(minutes=10)

ALLOWED = {
    (S.AWAITING_APPROVAL, S.PENDING),
    (S.AWAITING_APPROVAL, S.REJECTED),
    (S.AWAITING_APPROVAL, S.CANCELLED),
    (S.PENDING, S.RUNNING),
    (S.PENDING, S.FAILED),
    (S.PENDING, S.CANCELLED),
    (S.RUNNING, S.PENDING),
    (S.RUNNING, S.COMPLETED),
    (S.RUNNING, S.FAILED),
    (S.RUNNING, S.CANCELLED),
}
ALL_PAIRS = [(source, target) for source in S for target in S]


def a_job(status: JobStatus, **changes) -> Job:
    job = Job(id="job-1", tool="test_echo", parameters={}, status=status, submitted_by="agent-7", created_at=CREATED)
    return job.model_copy(update=changes)


def test_statuses_are_open_or_finished():
    assert set(S) == jl.OPEN | jl.FINISHED and not jl.OPEN & jl.FINISHED
    assert {S.COMPLETED, S.FAILED, S.CANCELLED, S.REJECTED} == jl.FINISHED


@pytest.mark.parametrize(("source", "target"), ALL_PAIRS)
def test_the_table_allows_exactly_the_listed_moves(source, target):
    assert jl.can_move(source, target) is ((source, target) in ALLOWED)


@pytest.mark.parametrize("status", sorted(jl.FINISHED))
def test_a_finished_job_never_moves(status):
    assert jl.MOVES[status] == frozenset()


# ---------------------------------------------------------------- each move of a run, from every status
MOVES = {
    "start": (lambda job: jl.start(job, NOW), {S.PENDING}),
    "give_back": (jl.give_back, {S.RUNNING}),
    "finish as FAILED": (lambda job: jl.finish(job, S.FAILED, JobResult(error="boom"), NOW), {S.RUNNING}),
    "refuse": (lambda job: jl.refuse(job, JobResult(error="Unknown tool x"), NOW), {S.PENDING}),
    "abandon": (lambda job: jl.abandon(job, NOW), {S.RUNNING}),
    "reclaim": (lambda job: jl.reclaim(job, 3, NOW), {S.RUNNING}),
}


@pytest.mark.parametrize("name", MOVES)
@pytest.mark.parametrize("status", list(S))
def test_each_run_move_is_made_only_from_its_sources(name, status):
    move, sources = MOVES[name]
    job = a_job(status, attempts=1, started_at=CREATED)
    if status in sources:
        assert move(job).status is not status
    else:
        with pytest.raises(InvalidTransition):
            move(job)


def test_start_begins_the_next_attempt():
    given_back = a_job(S.PENDING, attempts=1, started_at=CREATED)
    running = jl.start(given_back, NOW)
    assert (running.status, running.attempts, running.started_at) == (S.RUNNING, 2, NOW)
    assert (running.cancel_requested, running.finished_at) == (False, None)
    assert given_back.status is S.PENDING  # a new Job: the one read is left as it was


def test_finish_records_the_result_and_how_long_the_run_took():
    result = JobResult(return_value={"ok": True})
    done = jl.finish(a_job(S.RUNNING, attempts=1, started_at=NOW - timedelta(seconds=2.5)), S.COMPLETED, result, NOW)
    assert (done.status, done.finished_at, done.result, done.duration_seconds) == (S.COMPLETED, NOW, result, 2.5)


def test_a_job_refused_without_a_run_took_no_time():
    failed = jl.refuse(a_job(S.PENDING), JobResult(error="Unknown tool x"), NOW)
    assert (failed.status, failed.finished_at, failed.duration_seconds) == (S.FAILED, NOW, 0.0)
    assert failed.result == JobResult(error="Unknown tool x")


@pytest.mark.parametrize("target", [S.PENDING, S.RUNNING, S.REJECTED, S.AWAITING_APPROVAL])
def test_a_run_finishes_only_as_completed_failed_or_cancelled(target):
    with pytest.raises(InvalidTransition):
        jl.finish(a_job(S.RUNNING, attempts=1), target, JobResult(), NOW)


@pytest.mark.parametrize(
    ("cancel_requested", "status", "error"),
    [
        (False, S.PENDING, None),
        (True, S.CANCELLED, "Cancelled on request (its run was not recorded)"),
    ],
)
def test_an_unrecorded_run_is_given_back_or_cancelled(cancel_requested, status, error):
    job = jl.abandon(a_job(S.RUNNING, attempts=3, cancel_requested=cancel_requested), NOW)
    assert job.status is status
    assert (job.result.error if job.result else None) == error
    assert job.finished_at == (NOW if status is S.CANCELLED else None)


# ---------------------------------------------------------------- the retry budget
@pytest.mark.parametrize(
    ("attempts", "max_receives", "left"),
    [(0, 3, True), (1, 3, True), (2, 3, True), (3, 3, False), (4, 3, False), (1, 1, False)],
)
def test_the_retry_budget_is_the_number_of_deliveries(attempts, max_receives, left):
    assert jl.attempts_left(a_job(S.RUNNING, attempts=attempts), max_receives) is left


@pytest.mark.parametrize(
    ("attempts", "cancel_requested", "status", "error"),
    [
        (1, False, S.PENDING, None),
        (2, False, S.PENDING, None),
        (3, False, S.FAILED, "The run died (worker stopped) and no attempts are left"),
        (1, True, S.CANCELLED, "Cancelled on request (its run died)"),
        (3, True, S.CANCELLED, "Cancelled on request (its run died)"),
    ],
)
def test_a_dead_run_is_given_back_while_the_budget_allows(attempts, cancel_requested, status, error):
    job = jl.reclaim(a_job(S.RUNNING, attempts=attempts, cancel_requested=cancel_requested), 3, NOW)
    assert job.status is status
    assert (job.result.error if job.result else None) == error
    assert job.finished_at == (None if status is S.PENDING else NOW)


# ---------------------------------------------------------------- the dead-run rule
@pytest.mark.parametrize(
    ("started_ago", "dead"),
    [(0, False), (30 + jl.RUN_GRACE_SECONDS, False), (30 + jl.RUN_GRACE_SECONDS + 0.001, True), (3600, True)],
)
def test_a_run_is_dead_once_its_timeout_and_the_grace_have_passed(started_ago, dead):
    job = a_job(S.RUNNING, attempts=1, started_at=NOW - timedelta(seconds=started_ago))
    assert jl.run_deadline(job, 30) == job.started_at + timedelta(seconds=30 + jl.RUN_GRACE_SECONDS)
    assert jl.run_is_dead(job, 30, NOW) is dead


def test_a_run_never_started_counts_from_the_job_creation():
    job = a_job(S.RUNNING, attempts=1)
    assert jl.run_deadline(job, 30) == CREATED + timedelta(seconds=30 + jl.RUN_GRACE_SECONDS)
    assert jl.run_is_dead(job, 30, NOW) is True  # created 10 minutes ago


# ---------------------------------------------------------------- a cancel request
@pytest.mark.parametrize("status", [S.PENDING, S.AWAITING_APPROVAL])
def test_cancel_of_a_job_not_running_cancels_it_at_once(status):
    cancelled = jl.cancel(a_job(status), NOW)
    assert (cancelled.status, cancelled.finished_at, cancelled.cancel_requested) == (S.CANCELLED, NOW, False)


def test_cancel_of_a_running_job_only_asks_for_it():
    running = a_job(S.RUNNING, attempts=1, started_at=CREATED)
    asked = jl.cancel(running, NOW)
    # A change of its own: the version counts it.
    assert asked == running.model_copy(update={"cancel_requested": True, "version": running.version + 1})


@pytest.mark.parametrize("status", sorted(jl.FINISHED))
def test_cancel_of_a_finished_job_is_refused(status):
    with pytest.raises(InvalidTransition, match=f"^Cannot cancel a job that is {status.value}$"):
        jl.cancel(a_job(status), NOW)


# ---------------------------------------------------------------- a decision on the approval
@pytest.mark.parametrize(
    ("action", "status", "finished_at"),
    [
        (Action.APPROVE, S.PENDING, None),
        (Action.REJECT, S.REJECTED, NOW),
        (Action.CANCEL, S.CANCELLED, NOW),
        (Action.EXPIRE, S.CANCELLED, NOW),
    ],
)
def test_a_decision_on_the_approval_moves_the_waiting_job(action, status, finished_at):
    moved = jl.gate_outcome(a_job(S.AWAITING_APPROVAL), action, NOW)
    assert moved is not None and (moved.status, moved.finished_at) == (status, finished_at)


@pytest.mark.parametrize("action", [Action.CLAIM, Action.RELEASE, Action.COMPLETE])
def test_an_action_that_decides_nothing_leaves_the_job(action):
    assert jl.gate_outcome(a_job(S.AWAITING_APPROVAL), action, NOW) is None


@pytest.mark.parametrize("status", [s for s in S if s is not S.AWAITING_APPROVAL])
@pytest.mark.parametrize("action", list(jl.GATE_OUTCOME))
def test_a_decision_leaves_a_job_no_longer_waiting(status, action):
    assert jl.gate_outcome(a_job(status), action, NOW) is None
