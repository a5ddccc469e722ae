"""Job use cases: list tools, submit (validated, cached, optionally gated
behind an approval), read, logs, cancel; and what a decision on a gating
intervention does to its job."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import JsonValue, ValidationError

from oversight import clock
from oversight.auth import REQUESTER, Principal
from oversight.errors import (
    Conflict,
    Forbidden,
    IdempotencyKeyReused,
    InvalidTransition,
    RecordExists,
    RecordNotFound,
    ValidationFailed,
    VersionConflict,
)
from oversight.lifecycle import Action
from oversight.models import (
    ApprovalOptions,
    Intervention,
    InterventionEvent,
    InterventionType,
    Job,
    JobLogPage,
    JobPage,
    JobResult,
    JobStatus,
    OutputFile,
    Status,
    SubmitJobRequest,
    ToolInfo,
    ToolList,
)
from oversight.models.common import canonical_json
from oversight.observability import logger, metrics
from oversight.store.base import LinkedWrite
from oversight.store.faults import dependency_fault
from oversight.store.jobs import get_job_store
from oversight.store.outputs import output_url
from oversight.store.queue import enqueue_job
from oversight.tools import Tool, all_tools, get_tool

# What a decision on the gating intervention makes of an AWAITING_APPROVAL job.
_GATE_OUTCOME = {
    Action.APPROVE: JobStatus.PENDING,
    Action.REJECT: JobStatus.REJECTED,
    Action.CANCEL: JobStatus.CANCELLED,
    Action.EXPIRE: JobStatus.CANCELLED,
}


class JobNotFound(RecordNotFound):
    record = "job"


def _checked_id(job_id: str) -> str:
    try:
        return str(uuid.UUID(job_id))
    except ValueError:
        raise JobNotFound() from None


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


def submit_job(
    principal: Principal, request: SubmitJobRequest, idempotency_key: str | None = None, lambda_context: Any = None
) -> Job:
    principal.require_any(REQUESTER)
    tool = _known_tool(request)
    if tool.required_role is not None and not principal.holds(tool.required_role):
        # Before the parameters are looked at: a caller who may not run the tool learns nothing of them.
        raise Forbidden(f"The tool {tool.name} requires the role {tool.required_role}")
    _validated_parameters(request)  # 422 before any idempotency record is taken
    if idempotency_key is None:
        return _submit(principal.tenant, principal.sub, request)
    from oversight.idempotency import IdempotentCommand, run_idempotent  # keyed submissions only

    command = IdempotentCommand(
        tenant=principal.tenant, caller=principal.sub, key=idempotency_key, body=request.model_dump(mode="json")
    )
    return run_idempotent(_submit_once, command, Job, lambda_context)


def _submit_once(command: Any) -> Job:
    """The keyed submission (command: oversight.idempotency.IdempotentCommand),
    under ids of its own key: run again after a crash, it answers the job
    the first run stored (queued again by the sweep while PENDING) instead
    of storing another."""
    from oversight.idempotency import keyed_id

    request = SubmitJobRequest.model_validate(command.body)
    ids = (keyed_id(command, "job"), keyed_id(command, "approval"))
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
        job = job.model_copy(update={"status": JobStatus.AWAITING_APPROVAL, "intervention_id": intervention_id})
        options = request.approval or ApprovalOptions()
        intervention = Intervention(
            id=job.intervention_id,
            uow_id=f"job:{job.id}",
            type=InterventionType.APPROVAL,
            status=Status.PENDING,
            priority=options.priority,
            title=options.title or f"Approve running {tool.name}",
            description=f"Job {job.id} waits for approval to run the tool {tool.name}.",
            context={"job_id": job.id, "tool": tool.name, "parameters": tool.shown_parameters(parameters)},
            required_role=options.required_role,
            created_by=caller,
            created_at=now,
            updated_at=now,
            expires_at=now + timedelta(seconds=options.expires_in_seconds),
            job_id=job.id,
            version=1,
        )
        event = InterventionEvent(at=now, actor=caller, action="created", from_status=None, to_status=Status.PENDING)
        store.create_gated(tenant, job, intervention, event)
        metrics.add_metric(name="JobAwaitingApproval", unit=MetricUnit.Count, value=1)
        return job

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
    _queue(tenant, job)
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
    job = get_job_store().get(principal.tenant, _checked_id(job_id))
    if job is None:
        raise JobNotFound()
    principal.require_member()  # after the lookup: another tenant's record is 404, never 403
    return _presented(principal.tenant, job)


def list_jobs(
    principal: Principal, status: JobStatus | None, tool: str | None, limit: int, cursor: str | None
) -> JobPage:
    principal.require_member()
    items, next_cursor = get_job_store().list(principal.tenant, status, tool, limit, cursor)
    return JobPage(items=[_presented(principal.tenant, j) for j in items], next_cursor=next_cursor)


def job_logs(principal: Principal, job_id: str, limit: int, cursor: str | None) -> JobLogPage:
    job_id = _checked_id(job_id)
    if get_job_store().get(principal.tenant, job_id) is None:
        raise JobNotFound()
    principal.require_member()  # after the lookup: another tenant's record is 404, never 403
    items, next_cursor = get_job_store().logs(principal.tenant, job_id, limit, cursor)
    return JobLogPage(items=items, next_cursor=next_cursor)


def cancel_job(principal: Principal, job_id: str) -> Job:
    """PENDING / AWAITING_APPROVAL → CANCELLED at once (with the gating
    intervention); RUNNING → cancellation requested, the worker finishes it."""
    job_id = _checked_id(job_id)
    store = get_job_store()
    for _ in range(3):
        job = store.get(principal.tenant, job_id)
        if job is None:
            raise JobNotFound()
        if not (principal.is_admin or principal.sub == job.submitted_by):
            raise Forbidden("Only the submitter or an admin can cancel a job")
        if job.status is JobStatus.RUNNING:
            if store.request_cancel(principal.tenant, job_id):
                return redacted_job(job.model_copy(update={"cancel_requested": True}))
            continue
        if job.status not in (JobStatus.PENDING, JobStatus.AWAITING_APPROVAL):
            raise InvalidTransition(f"Cannot cancel a job that is {job.status.value}")
        if job.status is JobStatus.AWAITING_APPROVAL and job.intervention_id:
            from oversight.interventions import close_gate

            # The approval and the job close in one transaction: both or neither.
            moved = close_gate(principal.tenant, job.intervention_id)
            if moved is not None:
                return redacted_job(moved)
            # No open approval moved it: it was decided meanwhile (look again),
            # or it is gone and the job is cancelled on its own below.
        cancelled = job.model_copy(update={"status": JobStatus.CANCELLED, "finished_at": clock.now()})
        try:
            store.transition(principal.tenant, job, cancelled)
        except VersionConflict:
            continue
        return redacted_job(cancelled)
    raise Conflict("The job changed concurrently; read it again and retry")


def gate_write(tenant: str, gate: Intervention, action: Action) -> tuple[LinkedWrite, Job] | None:
    """The change a decision on a gating intervention makes to its job, to
    be committed in the same transaction as the decision (None: no change,
    e.g. the job was cancelled meanwhile)."""
    target = _GATE_OUTCOME.get(action)
    if target is None or not gate.job_id:
        return None
    store = get_job_store()
    job = store.get(tenant, gate.job_id)
    if job is None or job.status is not JobStatus.AWAITING_APPROVAL:
        return None
    update: dict[str, Any] = {"status": target}
    if target is not JobStatus.PENDING:
        update["finished_at"] = clock.now()
    moved = job.model_copy(update=update)
    return store.linked_transition(tenant, job, moved), moved


def after_gate_decided(tenant: str, job: Job) -> None:
    """Once the decision is committed: queue an approved job."""
    if job.status is JobStatus.PENDING:
        _queue(tenant, job)
    logger.info("gated job %s", job.status.value, extra={"job_id": job.id, "intervention_id": job.intervention_id})


def _queue(tenant: str, job: Job) -> None:
    """Queue a stored PENDING job. If the queue does not take the message,
    the job is not lost: while PENDING it sits in the sweep's re-queue index
    and is queued within REQUEUE_AFTER. The request that stored it succeeds:
    failing it would invite a retry that stores a second job (or, after an
    approval, a 409 for a decision that stands)."""
    try:
        enqueue_job(tenant, job.id)
    except Exception as error:
        if dependency_fault(error) is None:
            logger.exception("job stored but not queued; the sweep will queue it", extra={"job_id": job.id})
        else:
            logger.warning(
                "job stored but not queued; the sweep will queue it", extra={"job_id": job.id, "error": str(error)}
            )
        metrics.add_metric(name="JobQueueDeferred", unit=MetricUnit.Count, value=1)
