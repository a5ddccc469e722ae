"""The approval gate: a job submitted with `requires_approval` waits
(AWAITING_APPROVAL) on an approval intervention of its own, and the two move
together, each change of both in one DynamoDB transaction:

| what happens | the approval | the job |
|---|---|---|
| submission (`open_gate`) | created PENDING | stored AWAITING_APPROVAL |
| approve (`decide`) | APPROVED | PENDING, queued once committed |
| reject (`decide`) | REJECTED | REJECTED |
| cancel of the approval (`decide`), or its expiry (`expire`) | CANCELLED / EXPIRED | CANCELLED |
| cancel of the job (`close_gate`) | CANCELLED by `system` | CANCELLED |

Every other intervention passes through `decide` and `expire` unchanged:
only one with a `job_id`, decided, moves a job. The job's side of each move
is `job_lifecycle.gate_outcome`; the intervention's is `lifecycle.apply`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from oversight import clock, job_lifecycle
from oversight.auth import Principal
from oversight.dispatch import queue_job
from oversight.errors import Conflict, VersionConflict
from oversight.interventions import INTERVENTION_CHANGED, apply_due, transition_intervention
from oversight.lifecycle import CREATED_ACTION, Action, apply
from oversight.models import (
    ApprovalOptions,
    Intervention,
    InterventionEvent,
    InterventionType,
    Job,
    JobStatus,
    Status,
)
from oversight.observability import logger, metrics
from oversight.retries import until_saved
from oversight.store import get_intervention_store
from oversight.store.base import LinkedWrite
from oversight.store.jobs import get_job_store
from oversight.tools import Tool


@dataclass(frozen=True)
class GateMove:
    """What a decision on a gating intervention does to its job: `write`
    commits in the decision's transaction; `job` is the job after it."""

    write: LinkedWrite
    job: Job


def approval_for(
    job: Job, intervention_id: str, tool: Tool, options: ApprovalOptions, caller: str, now: datetime
) -> tuple[Intervention, InterventionEvent]:
    """The approval intervention `intervention_id` (and its `created` event)
    gating `job`. It shows the parameters as the tool lets them be seen
    (secrets redacted)."""
    intervention = Intervention(
        id=intervention_id,
        uow_id=f"job:{job.id}",
        type=InterventionType.APPROVAL,
        status=Status.PENDING,
        priority=options.priority,
        title=options.title or f"Approve running {tool.name}",
        description=f"Job {job.id} waits for approval to run the tool {tool.name}.",
        context={"job_id": job.id, "tool": tool.name, "parameters": tool.shown_parameters(job.parameters)},
        required_role=options.required_role,
        required_approvals=options.required_approvals,
        on_expiry=options.on_expiry,
        escalation=options.escalation,
        created_by=caller,
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(seconds=options.expires_in_seconds),
        job_id=job.id,
        version=1,
    )
    event = InterventionEvent(at=now, actor=caller, action=CREATED_ACTION, from_status=None, to_status=Status.PENDING)
    return intervention, event


def open_gate(
    tenant: str, job: Job, intervention_id: str, tool: Tool, options: ApprovalOptions, caller: str, now: datetime
) -> Job:
    """Store the job AWAITING_APPROVAL with its approval `intervention_id`,
    atomically (RecordExists when already stored: a keyed submission run
    again). Returns the job as stored."""
    waiting = job.model_copy(update={"status": JobStatus.AWAITING_APPROVAL, "intervention_id": intervention_id})
    intervention, event = approval_for(waiting, intervention_id, tool, options, caller, now)
    get_job_store().create_gated(tenant, waiting, intervention, event)
    metrics.add_metric(name="JobAwaitingApproval", unit=MetricUnit.Count, value=1)
    return waiting


# A deciding action, by the status it left the approval in (an expiry may
# approve or reject by default: the job follows the outcome, not the action).
_DECIDING = frozenset({Action.APPROVE, Action.REJECT, Action.CANCEL, Action.EXPIRE})
_OUTCOME = {
    Status.APPROVED: Action.APPROVE,
    Status.REJECTED: Action.REJECT,
    Status.CANCELLED: Action.CANCEL,
    Status.EXPIRED: Action.EXPIRE,
}


def gate_move(tenant: str, decided: Intervention, action: Action) -> GateMove | None:
    """The move `action` (just applied: `decided` is the intervention after
    it) makes of the job the intervention gates; None when it gates none,
    decides nothing (still open: a quorum in progress; a comment), or its job
    no longer waits (cancelled meanwhile)."""
    outcome = _OUTCOME.get(decided.status)
    if not decided.job_id or action not in _DECIDING or outcome is None:
        return None
    store = get_job_store()
    job = store.get(tenant, decided.job_id)
    moved = job_lifecycle.gate_outcome(job, outcome, clock.now()) if job else None
    if job is None or moved is None:
        return None
    return GateMove(write=store.linked_transition(tenant, job, moved), job=moved)


def decide(
    principal: Principal,
    intervention_id: str,
    action: Action,
    reason: str | None = None,
    response: Any = None,
    assignee: str | None = None,
) -> Intervention:
    """A person's action on any intervention (claim, release, assign,
    approve, reject, cancel, complete). One that decides a gating
    intervention moves its job in the same transaction; an approved job is
    queued once that transaction is committed."""
    changed = transition_intervention(
        principal,
        intervention_id,
        action,
        reason,
        response,
        link=partial(gate_move, principal.tenant),
        assignee=assignee,
    )
    if changed.linked is not None:
        _after_decision(principal.tenant, changed.linked.job)
    return changed.intervention


def run_due(tenant: str, intervention_id: str) -> Action | None:
    """For the sweep: expire an overdue open intervention as its `on_expiry`
    says (a job it gates follows the outcome: cancelled, rejected, or queued
    once committed), or escalate one left unclaimed; None when a person's
    action got there first."""
    changed = apply_due(tenant, intervention_id, link=partial(gate_move, tenant))
    if changed is None:
        return None
    if changed.linked is not None:
        _after_decision(tenant, changed.linked.job)
    return Action(changed.event.action)


def close_gate(tenant: str, intervention_id: str, reason: str = "The job it gates was cancelled") -> Job | None:
    """Cancel, as the system, the open approval of a job being cancelled,
    and the job (still AWAITING_APPROVAL) with it, in one transaction.
    Returns the job as cancelled, or None when no open approval moved a job
    (it was decided or cancelled meanwhile: the caller looks again)."""
    store = get_intervention_store()

    def attempt() -> Job | None:
        current = store.get(tenant, intervention_id)
        if current is None or not current.status.is_open:
            return None
        updated, event = apply(Action.CANCEL, current, None, clock.now(), reason)
        move = gate_move(tenant, updated, Action.CANCEL)
        if move is None:
            return None  # the job left AWAITING_APPROVAL
        store.save_transition(tenant, current, updated, event, move.write)
        return move.job

    try:
        return until_saved(attempt, INTERVENTION_CHANGED, retry_on=(VersionConflict,))
    except Conflict:
        return None


def _after_decision(tenant: str, job: Job) -> None:
    """Once the decision is committed: queue an approved job."""
    if job.status is JobStatus.PENDING:
        queue_job(tenant, job)
    logger.info("gated job %s", job.status.value, extra={"job_id": job.id, "intervention_id": job.intervention_id})
