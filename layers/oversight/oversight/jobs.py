"""Job use cases: list tools, submit (validated, answered from the cache,
queued, or gated behind an approval: oversight.gates), read, logs, cancel.
The job's state rules are oversight.job_lifecycle's; running it is
oversight.worker's."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import JsonValue, ValidationError

from oversight import clock, job_lifecycle
from oversight.auth import REQUESTER, Principal
from oversight.dispatch import queue_job
from oversight.errors import (
    Forbidden,
    IdempotencyKeyReused,
    RecordExists,
    RecordNotFound,
    ValidationFailed,
    VersionConflict,
)
from oversight.gates import close_gate, open_gate
from oversight.lookup import checked_id, shown_to
from oversight.models import (
    ApprovalOptions,
    Job,
    JobLogPage,
    JobPage,
    JobResult,
    JobStatus,
    OnExpiry,
    OutputFile,
    SubmitJobRequest,
    ToolInfo,
    ToolList,
)
from oversight.models.common import canonical_json
from oversight.observability import logger, metrics
from oversight.retries import until_saved
from oversight.store.jobs import get_job_store
from oversight.store.outputs import output_url
from oversight.tools import Tool, all_tools, get_tool

if TYPE_CHECKING:
    from oversight.idempotency import IdempotentCommand

JOB_CHANGED = "The job changed concurrently; read it again and retry"


class JobNotFound(RecordNotFound):
    record = "job"


def redacted_job(job: Job) -> Job:
    """The job as anyone but its run sees it: every API answer (and its
    idempotent replay), and anything published about the job. Parameters a
    tool declares secret are redacted (Tool.redact); the stored job keeps
    them for the worker."""
    tool = get_tool(job.tool)
    shown = tool.shown_parameters(job.parameters) if tool else job.parameters
    return job if shown is job.parameters else job.model_copy(update={"parameters": shown})


def parameters_digest(tool: str, parameters: dict[str, JsonValue]) -> str:
    """Identity of a run for the cache: the tool and its canonical parameters,
    secrets included (a run with other credentials is another run). A
    one-way hash, stored only in the cache entry's key, never shown."""
    canonical = json.dumps([tool, parameters], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def list_tools(principal: Principal) -> ToolList:
    principal.require_member()
    return ToolList(
        items=[
            ToolInfo(
                name=t.name,
                description=t.description,
                parameters_schema=t.schema(),
                cacheable=t.cacheable,
                timeout_seconds=t.timeout_seconds,
                required_role=t.required_role,
            )
            for t in all_tools()
        ]
    )


def _known_tool(request: SubmitJobRequest) -> Tool:
    tool = get_tool(request.tool)
    if tool is None:
        known = ", ".join(t.name for t in all_tools())
        raise ValidationFailed.field(["body", "tool"], f"Unknown tool '{request.tool}'; known: {known}", "unknown_tool")
    return tool


def _validated_parameters(request: SubmitJobRequest) -> tuple[Tool, dict[str, JsonValue]]:
    tool = _known_tool(request)
    try:
        parameters = tool.parameters.model_validate(request.parameters)
    except ValidationError as error:
        details = [
            {"loc": ["body", "parameters", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in error.errors()
        ]
        fields = ", ".join(".".join(map(str, d["loc"])) for d in details)
        raise ValidationFailed(f"Invalid parameters for {tool.name}: {fields}", details) from None
    return tool, canonical_json(parameters.model_dump(mode="json"))


def _check_default_approval(principal: Principal, tool: Tool, request: SubmitJobRequest) -> None:
    """A gate that approves itself at expiry runs its job with nobody having
    decided: refused for a tool that acts outside the service unless an admin
    submits it (docs/decisions.md)."""
    options = request.approval
    if not (request.requires_approval and options and options.on_expiry is OnExpiry.APPROVE):
        return
    if tool.reaches_outside and not principal.is_admin:
        raise ValidationFailed.field(
            ["body", "approval", "on_expiry"],
            f"on_expiry 'approve' would run {tool.name}, which acts outside the service, without anyone deciding;"
            " only an admin may submit that",
        )


def submit_job(
    principal: Principal, request: SubmitJobRequest, idempotency_key: str | None = None, lambda_context: Any = None
) -> Job:
    principal.require_any(REQUESTER)
    tool = _known_tool(request)
    if tool.required_role is not None and not principal.holds(tool.required_role):
        # Before the parameters are looked at: a caller who may not run the tool learns nothing of them.
        raise Forbidden(f"The tool {tool.name} requires the role {tool.required_role}")
    _validated_parameters(request)  # 422 before any idempotency record is taken
    _check_default_approval(principal, tool, request)
    if idempotency_key is None:
        return _submit(principal.tenant, principal.sub, request)
    # lazy: ~11 ms of import off the cold start of the functions that never make a keyed submission (see
    # oversight.interventions.create_intervention, measured there).
    from oversight.idempotency import IdempotentCommand, run_idempotent

    command = IdempotentCommand(
        tenant=principal.tenant, caller=principal.sub, key=idempotency_key, body=request.model_dump(mode="json")
    )
    return run_idempotent(_submit_once, command, Job, lambda_context)


def _submit_once(command: IdempotentCommand) -> Job:
    """The keyed submission, under ids of its own key: run again after a
    crash, it answers the job the first run stored (queued again by the
    sweep while PENDING) instead of storing another."""
    request = SubmitJobRequest.model_validate(command.body)
    ids = (command.record_id("job"), command.record_id("approval"))
    try:
        return _submit(command.tenant, command.caller, request, ids)
    except RecordExists:
        existing = get_job_store().get(command.tenant, ids[0])
        if existing is None or existing.tool != request.tool:
            raise IdempotencyKeyReused("This Idempotency-Key was already used with a different request") from None
        logger.warning("keyed submission found the job of an earlier run", extra={"job_id": existing.id})
        return redacted_job(existing)


def _submit(tenant: str, caller: str, request: SubmitJobRequest, ids: tuple[str, str] | None = None) -> Job:
    """Store (and queue) the job; the answer is redacted, so the idempotency
    record, which keeps the answer for replays, holds no secret either.
    `ids`: the job's and its approval's (keyed submissions), else new ones."""
    return redacted_job(_submitted(tenant, caller, request, ids or (str(uuid.uuid4()), str(uuid.uuid4()))))


def _submitted(tenant: str, caller: str, request: SubmitJobRequest, ids: tuple[str, str]) -> Job:
    tool, parameters = _validated_parameters(request)
    store = get_job_store()
    now = clock.now()
    job_id, intervention_id = ids
    job = Job(
        id=job_id, tool=tool.name, parameters=parameters, status=JobStatus.PENDING, submitted_by=caller, created_at=now
    )

    if request.requires_approval:
        return open_gate(tenant, job, intervention_id, tool, request.approval or ApprovalOptions(), caller, now)

    if tool.cacheable and request.use_cache:
        cached = _cached_result(tenant, tool.name, parameters)
        if cached is not None:
            source, result = cached
            job = job.model_copy(
                update={
                    "status": JobStatus.COMPLETED,
                    "cached": True,
                    "cached_from": source,
                    "result": result,
                    "started_at": now,
                    "finished_at": now,
                    "duration_seconds": 0.0,
                }
            )
            store.create(tenant, job)
            metrics.add_metric(name="JobCacheHit", unit=MetricUnit.Count, value=1)
            return job

    store.create(tenant, job)
    queue_job(tenant, job)
    metrics.add_metric(name="JobSubmitted", unit=MetricUnit.Count, value=1)
    logger.info("job queued", extra={"job_id": job.id, "tool": job.tool})
    return job


def _cached_result(tenant: str, tool: str, parameters: dict[str, JsonValue]) -> tuple[str, JobResult] | None:
    """(id of the run that produced it, its result), if one is fresh in the cache."""
    store = get_job_store()
    job_id = store.cached_job_id(tenant, tool, parameters_digest(tool, parameters))
    source = store.get(tenant, job_id) if job_id else None
    if source is None or source.status is not JobStatus.COMPLETED or source.result is None:
        return None
    return source.id, source.result


def _presented(tenant: str, job: Job) -> Job:
    """The job as the API shows it: redacted, output files with fresh download URLs."""
    job = redacted_job(job)
    if not job.result or not job.result.outputs:
        return job
    source = job.cached_from or job.id  # a cached job's files are its source run's
    outputs = [
        OutputFile(name=o.name, size_bytes=o.size_bytes, url=output_url(tenant, source, o.name))
        for o in job.result.outputs
    ]
    return job.model_copy(update={"result": job.result.model_copy(update={"outputs": outputs})})


def get_job(principal: Principal, job_id: str) -> Job:
    job = get_job_store().get(principal.tenant, checked_id(job_id, JobNotFound))
    return _presented(principal.tenant, shown_to(principal, job, JobNotFound))


def list_jobs(
    principal: Principal, status: JobStatus | None, tool: str | None, limit: int, cursor: str | None
) -> JobPage:
    principal.require_member()
    items, next_cursor = get_job_store().list(principal.tenant, status, tool, limit, cursor)
    return JobPage(items=[_presented(principal.tenant, j) for j in items], next_cursor=next_cursor)


def job_logs(principal: Principal, job_id: str, limit: int, cursor: str | None) -> JobLogPage:
    job_id = checked_id(job_id, JobNotFound)
    shown_to(principal, get_job_store().get(principal.tenant, job_id), JobNotFound)
    items, next_cursor = get_job_store().logs(principal.tenant, job_id, limit, cursor)
    return JobLogPage(items=items, next_cursor=next_cursor)


def cancel_job(principal: Principal, job_id: str) -> Job:
    """PENDING / AWAITING_APPROVAL → CANCELLED at once (with the gating
    intervention); RUNNING → cancellation requested, the worker finishes it."""
    job_id = checked_id(job_id, JobNotFound)
    store = get_job_store()

    def attempt() -> Job:
        job = store.get(principal.tenant, job_id)
        if job is None:
            raise JobNotFound()
        if not (principal.is_admin or principal.sub == job.submitted_by):
            raise Forbidden("Only the submitter or an admin can cancel a job")
        if job.status is JobStatus.RUNNING and job.cancel_requested:
            return redacted_job(job)  # asked already: the worker is finishing it
        cancelled = job_lifecycle.cancel(job, clock.now())  # InvalidTransition once finished
        if job.status is JobStatus.RUNNING:
            if not store.request_cancel(principal.tenant, job_id):
                raise VersionConflict(job_id)  # it stopped running meanwhile: look again
            return redacted_job(cancelled)
        if job.status is JobStatus.AWAITING_APPROVAL and job.intervention_id:
            # The approval and the job close in one transaction: both or neither.
            moved = close_gate(principal.tenant, job.intervention_id)
            if moved is not None:
                return redacted_job(moved)
            # No open approval moved it: it was decided meanwhile (look again),
            # or it is gone and the job is cancelled on its own below.
        store.transition(principal.tenant, job, cancelled)
        return redacted_job(cancelled)

    return until_saved(attempt, JOB_CHANGED)
