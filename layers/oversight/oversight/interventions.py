"""Intervention use cases: create (keyed or not), transition (a person's
action, or the sweep's expiry, optionally committed with another record's
change: see oversight.gates), read (one, a page, the audit trail)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from aws_lambda_powertools.metrics import MetricUnit

from oversight import clock
from oversight.auth import REQUESTER, Principal
from oversight.errors import (
    Conflict,
    IdempotencyKeyReused,
    InterventionNotFound,
    InvalidTransition,
    RecordExists,
    VersionConflict,
)
from oversight.lifecycle import CREATED_ACTION, RULES, Action, apply
from oversight.lookup import checked_id, shown_to
from oversight.models import (
    Comment,
    CreateInterventionRequest,
    EventList,
    Intervention,
    InterventionEvent,
    InterventionPage,
    ListInterventionsQuery,
    Status,
)
from oversight.models.common import canonical_json
from oversight.models.intervention import SEALED_FIELDS, WEBHOOK_HOSTS_VARIABLE
from oversight.observability import logger, metrics
from oversight.outbound import check_destination
from oversight.retries import until_saved
from oversight.store import get_intervention_store
from oversight.store.base import LinkedWrite
from oversight.store.sealed import seal_fields

if TYPE_CHECKING:
    from oversight.idempotency import IdempotentCommand

INTERVENTION_CHANGED = "The intervention changed concurrently; read it again and retry"


def create_intervention(
    principal: Principal,
    request: CreateInterventionRequest,
    idempotency_key: str | None = None,
    lambda_context: Any = None,
) -> Intervention:
    principal.require_any(REQUESTER)
    if request.callback_url is not None:
        check_destination(request.callback_url, WEBHOOK_HOSTS_VARIABLE, "callback_url")
    if idempotency_key is None:
        return _create(principal.tenant, principal.sub, request)
    # lazy: Powertools' idempotency utility costs ~11 ms of import (8-26 ms measured, 5 runs), kept off the cold
    # start of the functions that import this module but never make a keyed create (reads, decisions, the sweep).
    from oversight.idempotency import IdempotentCommand, run_idempotent

    command = IdempotentCommand(
        tenant=principal.tenant,
        caller=principal.sub,
        key=idempotency_key,
        body=request.model_dump(mode="json"),
    )
    return run_idempotent(_create_once, command, Intervention, lambda_context)


def _create_once(command: IdempotentCommand) -> Intervention:
    """The keyed create, under an id of its own key: run again after a
    crash, it answers the record the first run made instead of making
    another."""
    request = CreateInterventionRequest.model_validate(command.body)
    intervention_id = command.record_id("intervention")
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
    asked = _stored_fields(request)
    return intervention.model_dump(include=set(asked)) == asked


def _stored_fields(request: CreateInterventionRequest) -> dict[str, Any]:
    """The record's fields as the request gives them; objects in canonical
    form, so a replay answers byte for byte what the first answer said."""
    fields = request.model_dump(exclude={"expires_in_seconds", *SEALED_FIELDS})
    fields["context"] = canonical_json(request.context)
    if request.response_schema is not None:
        fields["response_schema"] = canonical_json(request.response_schema)
    return fields


def _create(
    tenant: str,
    creator: str,
    request: CreateInterventionRequest,
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
        version=1,
        **_stored_fields(request),
    )
    event = InterventionEvent(at=now, actor=creator, action=CREATED_ACTION, from_status=None, to_status=Status.PENDING)
    sealed = seal_fields(tenant, intervention.id, request.sealed_fields())
    get_intervention_store().create(tenant, intervention, event, sealed)
    metrics.add_metric(name="InterventionCreated", unit=MetricUnit.Count, value=1)
    logger.info(
        "intervention created",
        extra={"intervention_id": intervention.id, "type": intervention.type, "priority": intervention.priority},
    )
    return intervention


class Linked(Protocol):
    """Another record's change committed with a transition (e.g. the job an
    approval gates: oversight.gates.GateMove)."""

    @property
    def write(self) -> LinkedWrite: ...


LinkedT = TypeVar("LinkedT", bound=Linked)
# Given the intervention after the action and the action, the linked change to commit with it (or None).
Link = Callable[[Intervention, Action], "LinkedT | None"]


@dataclass(frozen=True)
class Changed(Generic[LinkedT]):
    """An intervention after a committed transition, and what was committed with it."""

    intervention: Intervention
    event: InterventionEvent
    linked: LinkedT | None = None


def transition_intervention(
    principal: Principal,
    intervention_id: str,
    action: Action,
    reason: str | None = None,
    response: Any = None,
    link: Link[LinkedT] | None = None,
    assignee: str | None = None,
) -> Changed[LinkedT]:
    """Apply `action` with optimistic concurrency: read, validate, write only
    if the version is unchanged; on a lost race re-read and re-validate.
    `link` adds another record's change to the same transaction."""
    intervention_id = checked_id(intervention_id, InterventionNotFound)
    store = get_intervention_store()

    def attempt() -> tuple[Changed[LinkedT], InterventionEvent]:
        current = store.get(principal.tenant, intervention_id)
        if current is None:
            raise InterventionNotFound()
        updated, event = apply(action, current, principal, clock.now(), reason, response, assignee)
        return _save(principal.tenant, current, updated, event, action, link), event

    changed, event = until_saved(attempt, INTERVENTION_CHANGED)
    metrics.add_metric(name=f"Intervention{RULES[action].past_tense.capitalize()}", unit=MetricUnit.Count, value=1)
    if event.from_status != event.to_status and event.to_status in (Status.APPROVED, Status.REJECTED):
        metrics.add_metric(name="InterventionDecided", unit=MetricUnit.Count, value=1)
    logger.info(
        "intervention %s",
        event.action,
        extra={"intervention_id": intervention_id, "from": event.from_status, "to": event.to_status},
    )
    return changed


def comment_on_intervention(principal: Principal, intervention_id: str, text: str) -> Comment:
    """A comment on the audit trail, in any state; the status and the
    counters stay as they are."""
    changed: Changed[Linked] = transition_intervention(principal, intervention_id, Action.COMMENT, reason=text)
    return Comment(at=changed.event.at, actor=changed.event.actor, text=text)


def apply_due(tenant: str, intervention_id: str, link: Link[LinkedT] | None = None) -> Changed[LinkedT] | None:
    """For the sweep: what the schedule index says is due, unless a person's
    action got there first (None): the expiry of an overdue open
    intervention (as its `on_expiry` says), else the escalation of a PENDING
    one unclaimed for `escalation.after_seconds`."""
    store = get_intervention_store()

    def attempt() -> Changed[LinkedT] | None:
        current = store.get(tenant, intervention_id)
        now = clock.now()
        if current is None or not current.status.is_open:
            return None
        if current.expires_at <= now:
            action = Action.EXPIRE
        elif (due := current.escalation_due_at()) is not None and due <= now:
            action = Action.ESCALATE
        else:
            return None
        updated, event = apply(action, current, None, now)
        return _save(tenant, current, updated, event, action, link)

    try:
        # An InvalidTransition means it changed under us too: look again.
        changed = until_saved(attempt, INTERVENTION_CHANGED, retry_on=(VersionConflict, InvalidTransition))
    except Conflict:
        return None
    if changed is not None:
        logger.info(
            "intervention %s",
            RULES[Action(changed.event.action)].past_tense,
            extra={"intervention_id": intervention_id, "tenant": tenant, "to": changed.event.to_status},
        )
    return changed


def _save(
    tenant: str,
    current: Intervention,
    updated: Intervention,
    event: InterventionEvent,
    action: Action,
    link: Link[LinkedT] | None,
) -> Changed[LinkedT]:
    """Commit `current` → `updated` (VersionConflict if it moved), with what `link` adds."""
    linked = link(updated, action) if link else None
    get_intervention_store().save_transition(tenant, current, updated, event, linked.write if linked else None)
    return Changed(updated, event, linked)


def get_intervention(principal: Principal, intervention_id: str) -> Intervention:
    intervention_id = checked_id(intervention_id, InterventionNotFound)
    return shown_to(principal, get_intervention_store().get(principal.tenant, intervention_id), InterventionNotFound)


def list_interventions(principal: Principal, query: ListInterventionsQuery) -> InterventionPage:
    principal.require_member()
    page = get_intervention_store().list(principal.tenant, query)
    return InterventionPage(items=page.items, next_cursor=page.next_cursor)


def intervention_events(
    principal: Principal, intervention_id: str, limit: int = 100, cursor: str | None = None
) -> EventList:
    intervention_id = checked_id(intervention_id, InterventionNotFound)
    page = get_intervention_store().events(principal.tenant, intervention_id, limit, cursor)
    events, next_cursor = shown_to(principal, page, InterventionNotFound)
    return EventList(items=events, next_cursor=next_cursor)
