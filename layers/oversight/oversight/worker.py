"""Runs one queued job: the job worker's domain (SQS → run_job function).
The job's state rules are `oversight.job_lifecycle`'s; this module decides
when each move is made, runs the tool and records what it did.

A delivery runs the job in steps: read it (a RUNNING job whose run died is
reclaimed first), start it, run its tool, record the outcome, report it.

- **Start.** At-least-once delivery is made exactly-once per attempt by a
  conditional PENDING → RUNNING write: a duplicate delivery finds the job
  taken and does nothing.
- **Run.** The tool runs in a thread bounded by its timeout, its stdout and
  stderr captured; how it ended is one typed `_Outcome`.
- **Record.** A failing tool is retried through SQS redelivery until the
  budget (`JOB_MAX_RECEIVES`, the queue's maxReceiveCount) is spent, then
  FAILED — and its message is still reported failed, so it lands in the
  DLQ. An outcome that cannot be written is given back (best effort).
- **Reclaim.** A run that died (the worker crashed) is reclaimed by the next
  delivery once its deadline has passed, or by the sweep (`fail_dead_run`),
  which also queues again a PENDING job whose message was lost
  (`requeue_stale`).

A cancellation requested while the job runs is never lost: every write of
the run is conditional on the `cancel_requested` flag it read, so a request
that lands in between makes the write fail; the worker reads the job again
and writes an outcome that honours it (CANCELLED, or COMPLETED with the flag
kept when the tool had already returned)."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, replace
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from oversight import clock, job_lifecycle
from oversight.clock import iso
from oversight.config import settings
from oversight.errors import VersionConflict
from oversight.job_lifecycle import RUN_GRACE_SECONDS
from oversight.jobs import parameters_digest
from oversight.models import Job, JobLogLine, JobResult, JobStatus, OutputFile
from oversight.models.job import RESULT_FIELD_CAP_BYTES
from oversight.observability import logger, metrics
from oversight.store.base import JobStore
from oversight.store.faults import dependency_fault
from oversight.store.jobs import get_job_store
from oversight.store.outputs import upload_output
from oversight.store.queue import enqueue_job
from oversight.tools import JobCancelled, Tool, ToolError, get_tool

__all__ = ["RUN_GRACE_SECONDS", "JobAttemptFailed", "JobRunContext", "fail_dead_run", "requeue_stale", "run_job"]

_LOG_FLUSH_LINES = 25
# How often `cancelled()` reads the store: a quarter of the time the run has
# lasted, between these bounds. A short run is checked every 50 ms; a long
# one at most every 2 s (a 240 s run that asks constantly: ~140 GetItems).
_CANCEL_CHECK_MIN_SECONDS = 0.05
_CANCEL_CHECK_MAX_SECONDS = 2.0
_CANCEL_CHECK_SHARE = 0.25


class JobAttemptFailed(Exception):
    """Raised to the batch processor so SQS delivers the message again (or,
    once the budget is spent, moves it to the dead-letter queue)."""


class JobRunContext:
    """What a tool sees of its run (oversight.tools.RunContext)."""

    def __init__(self, store: JobStore, tenant: str, job: Job) -> None:
        self.tenant = tenant
        self.job_id = job.id
        self.attempt = job.attempts
        self._store = store
        self._lines: list[tuple[int, JobLogLine]] = []
        self._seq = 0
        self._lock = threading.Lock()
        self.outputs: list[OutputFile] = []
        self.timed_out = False
        self.cancel_seen = False
        self._started = time.monotonic()
        self._next_cancel_check = self._started

    def log(self, level: str, message: str) -> None:
        with self._lock:
            self._seq += 1
            self._lines.append(
                (self._seq, JobLogLine(at=clock.now(), level=level.upper(), message=str(message)[:8192]))
            )
            full = len(self._lines) >= _LOG_FLUSH_LINES
        if full:
            self.flush_logs()

    def flush_logs(self) -> None:
        with self._lock:
            lines, self._lines = self._lines, []
        if lines:
            self._store.append_logs(self.tenant, self.job_id, self.attempt, lines)

    def write_output(self, name: str, chunks: Any, content_type: str = "application/octet-stream") -> OutputFile:
        size = upload_output(self.tenant, self.job_id, name, chunks, content_type)
        written = OutputFile(name=name, size_bytes=size)
        self.outputs.append(written)
        self.log("INFO", f"wrote output {name} ({size} bytes)")
        return written

    def cancelled(self) -> bool:
        if self.timed_out or self.cancel_seen:
            return True
        now = time.monotonic()
        if now >= self._next_cancel_check:
            interval = (now - self._started) * _CANCEL_CHECK_SHARE
            self._next_cancel_check = now + min(max(interval, _CANCEL_CHECK_MIN_SECONDS), _CANCEL_CHECK_MAX_SECONDS)
            job = self._store.get(self.tenant, self.job_id)
            self.cancel_seen = bool(job and job.cancel_requested)
        return self.cancel_seen


# ---------------------------------------------------------------- one delivery
def run_job(tenant: str, job_id: str) -> JobStatus | None:
    """Run the job if it is this delivery's to run; return its new status
    (None when there was nothing to do). Raises JobAttemptFailed to have
    the message delivered again."""
    store = get_job_store()
    job = store.get(tenant, job_id)
    if job is None:
        logger.warning("job not found; dropping its message", extra={"job_id": job_id})
        return None
    tool = get_tool(job.tool)
    job = _to_run(store, tenant, job, tool)
    if job is None:
        return None
    if tool is None:
        return _fail_unknown_tool(store, tenant, job)
    running = _start(store, tenant, job, tool)
    if running is None:
        return None
    context = JobRunContext(store, tenant, running)
    context.log("INFO", f"attempt {running.attempts} of {settings().job_max_receives}: running {tool.name}")
    outcome = _execute(tool, running.parameters, context)
    recorded = _record(store, tenant, running, outcome, context)
    return _report(store, tenant, tool, running, recorded, outcome)


def _to_run(store: JobStore, tenant: str, job: Job, tool: Tool | None) -> Job | None:
    """The job if this delivery has it to run: PENDING, or RUNNING by a run
    that died (reclaimed first: given back, or finished if it may not run
    again). None when there is nothing to run."""
    if job.status is JobStatus.RUNNING and tool and _run_is_dead(job, tool):
        reclaimed = _reclaim(store, tenant, job)
        if reclaimed is None:
            logger.info("nothing to run", extra={"job_id": job.id, "status": None})
            return None
        job = reclaimed
    if job.status is not JobStatus.PENDING:
        logger.info("nothing to run", extra={"job_id": job.id, "status": job.status})
        return None
    return job


def _fail_unknown_tool(store: JobStore, tenant: str, job: Job) -> JobStatus:
    """PENDING → FAILED without a run: no tool of that name is registered."""
    unknown = _Outcome(JobStatus.FAILED, error=f"Unknown tool {job.tool}")
    failed = job_lifecycle.refuse(job, _result(unknown, []), clock.now())
    store.transition(tenant, job, failed)
    metrics.add_metric(name="JobFailed", unit=MetricUnit.Count, value=1)
    logger.warning("job failed: unknown tool", extra={"job_id": job.id, "tool": job.tool})
    return failed.status


def _start(store: JobStore, tenant: str, job: Job, tool: Tool) -> Job | None:
    """PENDING → RUNNING, if this delivery is the first: the write is
    conditional on the job as read, so a duplicate delivery finds it taken
    (None). While RUNNING the job is in the sweep's deadline index."""
    running = job_lifecycle.start(job, clock.now())
    deadline = iso(job_lifecycle.run_deadline(running, tool.timeout_seconds))
    try:
        store.transition(tenant, job, running, run_deadline=deadline)
    except VersionConflict:
        logger.info("another delivery took the job", extra={"job_id": job.id})
        return None
    return running


def _record(store: JobStore, tenant: str, running: Job, outcome: _Outcome, context: JobRunContext) -> Job:
    """Write the run's logs and outcome; return the job as written. If that
    fails, give the job back and raise: the message is not acknowledged, so
    SQS delivers it again."""
    # A cancel the tool saw is in the stored job: expect it, saving a failed write.
    seen = job_lifecycle.requested_cancel(running) if context.cancel_seen else running
    try:
        if outcome.error:
            context.log("ERROR", outcome.error)
        context.flush_logs()
        return _write_honouring_cancel(store, tenant, seen, lambda job: _settled(job, outcome, context.outputs))
    except Exception as error:
        _give_back(store, tenant, seen, error)
        raise


def _report(store: JobStore, tenant: str, tool: Tool, running: Job, recorded: Job, outcome: _Outcome) -> JobStatus:
    """Metrics and log line for the recorded outcome; cache a completed run;
    raise JobAttemptFailed when the message must be delivered again (a
    retry) or moved to the dead-letter queue (a retryable failure with the
    budget spent)."""
    final = _with_cancel(outcome) if recorded.cancel_requested else outcome
    if recorded.status is JobStatus.PENDING:
        metrics.add_metric(name="JobAttemptFailed", unit=MetricUnit.Count, value=1)
        raise JobAttemptFailed(final.error)
    metrics.add_metric(name=f"Job{recorded.status.value.capitalize()}", unit=MetricUnit.Count, value=1)
    logger.info("job finished", extra={"job_id": recorded.id, "status": recorded.status, "error": final.error})
    if recorded.status is JobStatus.COMPLETED and tool.cacheable:
        _remember(store, tenant, tool, running)
    if recorded.status is JobStatus.FAILED and final.retryable:
        raise JobAttemptFailed(final.error)  # budget spent: let SQS move the message to the DLQ
    return recorded.status


# ---------------------------------------------------------------- running the tool
@dataclass(frozen=True)
class _Outcome:
    """How a run ended, before it is recorded: the status it gives the job
    (COMPLETED, FAILED or CANCELLED), whether a retry could change it, and
    what the tool returned and printed."""

    status: JobStatus
    return_value: Any = None
    error: str | None = None
    stdout: str = ""
    stderr: str = ""
    retryable: bool = False


def _execute(tool: Tool, parameters: dict[str, Any], context: JobRunContext) -> _Outcome:
    """Run the tool in a thread, bounded by its timeout, capturing its output."""
    ended: list[_Outcome] = []  # filled by the thread once it has ended (never, if it timed out)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        runner = threading.Thread(
            target=lambda: ended.append(_call_tool(tool, parameters, context)),
            name=f"job-{context.job_id}",
            daemon=True,
        )
        runner.start()
        runner.join(tool.timeout_seconds)
        if runner.is_alive():
            context.timed_out = True  # cancelled() now says yes: a cooperative tool stops
    if context.timed_out:
        outcome = _Outcome(JobStatus.FAILED, error=f"Timed out after {tool.timeout_seconds} s")
    else:
        # Empty only if the thread died of a BaseException (SystemExit): nothing returned.
        outcome = ended[0] if ended else _Outcome(JobStatus.COMPLETED)
    return replace(outcome, stdout=out.getvalue(), stderr=err.getvalue())


def _call_tool(tool: Tool, parameters: dict[str, Any], context: JobRunContext) -> _Outcome:
    """The tool's run, in its thread: what it returned, or how it failed."""
    try:
        # Validated again: a setting it depends on (an allow-list) may have changed.
        validated = tool.parameters.model_validate(parameters)
    except ValidationError as error:
        return _Outcome(
            JobStatus.FAILED, error="Parameters no longer valid: " + "; ".join(e["msg"] for e in error.errors())
        )
    try:
        return _Outcome(JobStatus.COMPLETED, return_value=tool.run(validated, context))
    except JobCancelled:
        return _Outcome(JobStatus.CANCELLED, error="Cancelled on request")
    except ToolError as error:  # explained and final: no retry would change it
        return _Outcome(JobStatus.FAILED, error=str(error))
    except Exception as error:  # the tool's failure is the job's result
        return _Outcome(JobStatus.FAILED, error=f"{type(error).__name__}: {error}", retryable=True)


def _cap(text: str) -> tuple[str, bool]:
    data = text.encode()
    if len(data) <= RESULT_FIELD_CAP_BYTES:
        return text, False
    return data[:RESULT_FIELD_CAP_BYTES].decode(errors="ignore"), True


def _result(outcome: _Outcome, outputs: list[OutputFile]) -> JobResult:
    """The outcome as stored: each field capped, the return value as JSON."""
    stdout, cut_out = _cap(outcome.stdout)
    stderr, cut_err = _cap(outcome.stderr)
    value = outcome.return_value
    cut_value = False
    try:
        encoded = json.dumps(value, default=str)
    except (TypeError, ValueError):
        encoded, value = json.dumps(str(value)), str(value)
    if len(encoded.encode()) > RESULT_FIELD_CAP_BYTES:
        value, cut_value = _cap(encoded)[0], True
    else:
        value = json.loads(encoded)
    return JobResult(
        return_value=value,
        stdout=stdout,
        stderr=stderr,
        truncated=cut_out or cut_err or cut_value,
        outputs=outputs,
        error=outcome.error,
    )


# ---------------------------------------------------------------- recording the outcome
def _with_cancel(outcome: _Outcome) -> _Outcome:
    """The outcome of a run whose job was asked to cancel: a tool that
    returned keeps its result (the job is COMPLETED, its flag kept); any
    failure becomes CANCELLED, never retried."""
    if outcome.status is not JobStatus.FAILED:
        return outcome
    return replace(
        outcome,
        status=JobStatus.CANCELLED,
        retryable=False,
        error=f"Cancelled on request (the attempt had failed: {outcome.error})",
    )


def _settled(running: Job, outcome: _Outcome, outputs: list[OutputFile]) -> Job:
    """What the run makes of `running` (as last read): handed back for a
    retry (PENDING) while the budget allows, or finished."""
    if running.cancel_requested:
        outcome = _with_cancel(outcome)
    if outcome.retryable and job_lifecycle.attempts_left(running, settings().job_max_receives):
        return job_lifecycle.give_back(running)
    return job_lifecycle.finish(running, outcome.status, _result(outcome, outputs), clock.now())


def _write_honouring_cancel(store: JobStore, tenant: str, running: Job, settle: Callable[[Job], Job]) -> Job:
    """Write `settle(running)`. The write's condition includes the cancel
    flag as read: if a cancellation was requested meanwhile it fails, and
    the job, read again, is settled once more with the request in view (the
    flag only ever goes from false to true while RUNNING, so once is
    enough). Any other conflict (the run was reclaimed) propagates."""
    try:
        after = settle(running)
        store.transition(tenant, running, after)
        return after
    except VersionConflict:
        current = store.get(tenant, running.id)
        if (
            current is None
            or running.cancel_requested
            or not current.cancel_requested
            or current.status is not JobStatus.RUNNING
            or current.attempts != running.attempts
        ):
            raise
    after = settle(current)
    store.transition(tenant, current, after)
    return after


def _give_back(store: JobStore, tenant: str, running: Job, error: Exception) -> None:
    """The run's outcome could not be recorded (DynamoDB throttled or
    failing): give the job back (PENDING) so the redelivered message runs it
    again, instead of leaving it RUNNING until its deadline; or, if a
    cancellation was requested, cancel it. Best effort: if this write fails
    too, the job stays RUNNING and is reclaimed once its deadline has passed,
    by a later delivery or by the sweep. If the outcome was in fact written
    (only its answer was lost), the conditional write finds the job finished
    and leaves it so."""
    logger.warning(
        "could not record the job's outcome; giving it back", extra={"job_id": running.id, "error": str(error)}
    )
    metrics.add_metric(name="JobOutcomeNotRecorded", unit=MetricUnit.Count, value=1)
    try:
        _write_honouring_cancel(store, tenant, running, lambda job: job_lifecycle.abandon(job, clock.now()))
    except Exception as again:  # the original error is the one to report
        logger.warning(
            "could not give the job back; its run deadline will free it",
            extra={"job_id": running.id, "error": str(again)},
        )


def _remember(store: JobStore, tenant: str, tool: Tool, job: Job) -> None:
    """Offer a completed run to the cache. Only an optimisation: the job is
    finished either way, so a failed write is logged, not retried."""
    try:
        store.put_cache(
            tenant, tool.name, parameters_digest(tool.name, job.parameters), job.id, settings().job_cache_ttl_seconds
        )
    except Exception as error:
        if dependency_fault(error) is None:
            raise
        logger.warning("job result not cached", extra={"job_id": job.id, "error": str(error)})


# ---------------------------------------------------------------- dead runs and lost messages
def _run_is_dead(job: Job, tool: Tool) -> bool:
    return job_lifecycle.run_is_dead(job, tool.timeout_seconds, clock.now())


def _reclaim(store: JobStore, tenant: str, job: Job) -> Job | None:
    """Write what a dead run makes of its job (job_lifecycle.reclaim);
    None when someone else moved the job first."""
    back = job_lifecycle.reclaim(job, settings().job_max_receives, clock.now())
    try:
        store.transition(tenant, job, back)
    except VersionConflict:
        return None
    return back


def requeue_stale(tenant: str, job_id: str) -> bool:
    """For the sweep: queue again a PENDING job nobody started (its message
    was lost, e.g. the queue was unreachable when it was submitted). A
    duplicate message is harmless: the conditional start runs it once."""
    store = get_job_store()
    job = store.get(tenant, job_id)
    if job is None or job.status is not JobStatus.PENDING:
        return False
    enqueue_job(tenant, job_id)
    store.requeued(tenant, job)  # False: started or cancelled meanwhile, nothing left to watch
    logger.warning("job re-queued", extra={"job_id": job_id})
    return True


def fail_dead_run(tenant: str, job_id: str) -> bool:
    """For the sweep: fail (or give back, and queue again) a RUNNING job past its deadline."""
    store = get_job_store()
    job = store.get(tenant, job_id)
    tool = get_tool(job.tool) if job else None
    if job is None or job.status is not JobStatus.RUNNING or (tool and not _run_is_dead(job, tool)):
        return False
    reclaimed = _reclaim(store, tenant, job)
    if reclaimed is not None and reclaimed.status is JobStatus.PENDING:
        enqueue_job(tenant, job_id)
    return reclaimed is not None
