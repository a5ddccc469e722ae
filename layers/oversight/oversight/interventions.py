"""Intervention use cases: create, transition, read. Each route calls one."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from oversight import clock
from oversight.auth import REQUESTER, Principal
from oversight.errors import Conflict, IdempotencyKeyReused, InterventionNotFound, RecordExists, VersionConflict
from oversight.lifecycle import Action, apply
from oversight.models import (
    CreateInterventionRequest,
    EventList,
    Intervention,
    InterventionEvent,
    InterventionPage,
    Job,
    ListInterventionsQuery,
    Status,
)
from oversight.models.common import canonical_json
from oversight.observability import logger, metrics
from oversight.store import get_intervention_store

# A conditional write that loses a race is re-evaluated against the fresh
# record this many times before the caller gets 409 conflict.
_TRANSITION_ATTEMPTS = 3


def _checked_id(intervention_id: str) -> str:
    """Ids are UUIDs we issued; anything else cannot exist (404, no read)."""
    try:
        return str(uuid.UUID(intervention_id))
    except ValueError:
        raise InterventionNotFound() from None


def create_intervention(
    principal: Principal,
    request: CreateInterventionRequest,
    idempotency_key: str | None = None,
    lambda_context: Any = None,
) -> Intervention:
    principal.require_any(REQUESTER)
    if idempotency_key is None:
        return _create(principal.tenant, principal.sub, request)
    # Only keyed creates need it: the other functions importing this module skip its cost.
    from oversight.idempotency import IdempotentCommand, run_idempotent

    command = IdempotentCommand(
        tenant=principal.tenant,
        caller=principal.sub,
        key=idempotency_key,
        body=request.model_dump(mode="json"),
    )
    return run_idempotent(_create_once, command, Intervention, lambda_context)


def _create_once(command: Any) -> Intervention:
    """The keyed create (command: oversight.idempotency.IdempotentCommand),
    under an id of its own key: run again after a crash, it answers the
    record the first run made instead of making another."""
    from oversight.idempotency import keyed_id

    request = CreateInterventionRequest.model_validate(command.body)
    intervention_id = keyed_id(command, "intervention")
    try:
        return _create(command.tenant, command.caller, request, intervention_id=intervention_id)
    except RecordExists:
        existing = get_intervention_store().get(command.tenant, intervention_id)
        if existing is None:  # made, then purged by retention: the key is older than its record
            raise IdempotencyKeyReused("This Idempotency-Key belongs to a record that no longer exists") from None
        if not _made_from(existing, request):
            raise IdempotencyKeyReused("This Idempotency-Key was already used with a different request body") from None
        logger.warning("keyed create found the record of an earlier run", extra={"intervention_id": existing.id})
        return existing


def _made_from(intervention: Intervention, request: CreateInterventionRequest) -> bool:
    """Whether `intervention` is what `request` creates (its expiry aside,
    which counts from the first run's time)."""
    asked = {**request.model_dump(exclude={"expires_in_seconds"}), "context": canonical_json(request.context)}
    return all(getattr(intervention, name) == value for name, value in asked.items())


def _create(
    tenant: str,
    creator: str,
    request: CreateInterventionRequest,
    job_id: str | None = None,
    intervention_id: str | None = None,
) -> Intervention:
    now = clock.now()
    intervention = Intervention(
        id=intervention_id or str(uuid.uuid4()),
        status=Status.PENDING,
        created_by=creator,
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(seconds=request.expires_in_seconds),
        job_id=job_id,
        version=1,
        **{**request.model_dump(exclude={"expires_in_seconds"}), "context": canonical_json(request.context)},
    )
    event = InterventionEvent(at=now, actor=creator, action="created", from_status=None, to_status=Status.PENDING)
    get_intervention_store().create(tenant, intervention, event)
    metrics.add_metric(name="InterventionCreated", unit=MetricUnit.Count, value=1)
    logger.info(
        "intervention created",
        extra={"intervention_id": intervention.id, "type": intervention.type, "priority": intervention.priority},
    )
    return intervention


def transition_intervention(
    principal: Principal,
    intervention_id: str,
    action: Action,
    reason: str | None = None,
    response: Any = None,
) -> Intervention:
    """Apply `action` with optimistic concurrency: read, validate, write only
    if the version is unchanged; on a lost race re-read and re-validate."""
    intervention_id = _checked_id(intervention_id)
    store = get_intervention_store()
    for _ in range(_TRANSITION_ATTEMPTS):
        current = store.get(principal.tenant, intervention_id)
        if current is None:
            raise InterventionNotFound()
        updated, event = apply(action, current, principal, clock.now(), reason, response)
        gated = gate_change(principal.tenant, updated, action)
        try:
            store.save_transition(principal.tenant, current, updated, event, gated[0] if gated else None)
        except VersionConflict:
            continue
        if gated:
            from oversight.jobs import after_gate_decided

            after_gate_decided(principal.tenant, gated[1])
        metrics.add_metric(name=f"Intervention{event.action.capitalize()}", unit=MetricUnit.Count, value=1)
        if action in (Action.APPROVE, Action.REJECT):
            metrics.add_metric(name="InterventionDecided", unit=MetricUnit.Count, value=1)
        logger.info(
            "intervention %s",
            event.action,
            extra={"intervention_id": intervention_id, "from": event.from_status, "to": event.to_status},
        )
        return updated
    raise Conflict("The intervention changed concurrently; read it again and retry")


def gate_change(tenant: str, updated: Intervention, action: Action) -> Any:
    """(linked write, moved job) for the job this decision changes, if the
    intervention gates one; the caller commits it with the decision."""
    if not updated.job_id or updated.status.is_open:
        return None
    from oversight.jobs import gate_write  # only gating interventions pay for the import

    return gate_write(tenant, updated, action)


def close_gate(tenant: str, intervention_id: str, reason: str = "The job it gates was cancelled") -> Job | None:
    """Cancel, as the system, the open approval intervention of a job being
    cancelled, and the job (still AWAITING_APPROVAL) with it, in one
    transaction. Returns the job as cancelled, or None when no open
    approval moved a job (it was decided or cancelled meanwhile)."""
    store = get_intervention_store()
    for _ in range(_TRANSITION_ATTEMPTS):
        current = store.get(tenant, intervention_id)
        if current is None or not current.status.is_open:
            return None
        updated, event = apply(Action.CANCEL, current, None, clock.now(), reason)
        gated = gate_change(tenant, updated, Action.CANCEL)
        if gated is None:
            return None  # the job left AWAITING_APPROVAL: the caller looks again
        try:
            store.save_transition(tenant, current, updated, event, gated[0])
        except VersionConflict:
            continue
        return gated[1]
    return None


def get_intervention(principal: Principal, intervention_id: str) -> Intervention:
    intervention_id = _checked_id(intervention_id)
    found = get_intervention_store().get(principal.tenant, intervention_id)
    if found is None:
        raise InterventionNotFound()
    principal.require_member()  # after the lookup: another tenant's record is 404, never 403
    return found


def list_interventions(principal: Principal, query: ListInterventionsQuery) -> InterventionPage:
    principal.require_member()
    page = get_intervention_store().list(principal.tenant, query)
    return InterventionPage(items=page.items, next_cursor=page.next_cursor)


def intervention_events(
    principal: Principal, intervention_id: str, limit: int = 100, cursor: str | None = None
) -> EventList:
    intervention_id = _checked_id(intervention_id)
    page = get_intervention_store().events(principal.tenant, intervention_id, limit, cursor)
    if page is None:
        raise InterventionNotFound()
    principal.require_member()  # after the lookup: another tenant's record is 404, never 403
    events, next_cursor = page
    return EventList(items=events, next_cursor=next_cursor)
