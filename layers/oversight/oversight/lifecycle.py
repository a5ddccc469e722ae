"""The intervention state machine and who may drive it. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from oversight.auth import SYSTEM_ACTOR, Principal
from oversight.errors import Forbidden, InterventionExpired, InvalidTransition
from oversight.models import Intervention, InterventionEvent, Status

OPEN = frozenset({Status.PENDING, Status.IN_PROGRESS})


class Action(StrEnum):
    CLAIM = "claim"
    RELEASE = "release"
    APPROVE = "approve"
    REJECT = "reject"
    CANCEL = "cancel"
    COMPLETE = "complete"
    EXPIRE = "expire"


@dataclass(frozen=True)
class Rule:
    sources: frozenset[Status]
    target: Status
    past_tense: str


RULES: dict[Action, Rule] = {
    Action.CLAIM: Rule(frozenset({Status.PENDING}), Status.IN_PROGRESS, "claimed"),
    Action.RELEASE: Rule(frozenset({Status.IN_PROGRESS}), Status.PENDING, "released"),
    Action.APPROVE: Rule(OPEN, Status.APPROVED, "approved"),
    Action.REJECT: Rule(OPEN, Status.REJECTED, "rejected"),
    Action.CANCEL: Rule(OPEN, Status.CANCELLED, "cancelled"),
    Action.COMPLETE: Rule(frozenset({Status.APPROVED}), Status.COMPLETED, "completed"),
    Action.EXPIRE: Rule(OPEN, Status.EXPIRED, "expired"),
}

# Actions that close an intervention and so record who decided and when.
_DECIDING = {Action.APPROVE, Action.REJECT, Action.CANCEL, Action.EXPIRE}
# Actions refused once `expires_at` has passed, even before the sweeper ran.
_REFUSED_WHEN_OVERDUE = {Action.CLAIM, Action.APPROVE, Action.REJECT}


def authorize(action: Action, current: Intervention, actor: Principal) -> None:
    """Raise Forbidden unless `actor` may attempt `action` on `current`.
    Checks that depend only on who the actor is; state comes after."""
    is_creator = actor.sub == current.created_by
    if action in (Action.CLAIM, Action.APPROVE, Action.REJECT):
        if is_creator:
            raise Forbidden("The creator of an intervention cannot claim or decide it")
        if not actor.holds(current.required_role):
            raise Forbidden(f"Requires the role '{current.required_role}'")
    elif action is Action.RELEASE:
        if not (actor.is_admin or actor.sub == current.assigned_to):
            raise Forbidden("Only the assignee or an admin can release")
    elif action in (Action.CANCEL, Action.COMPLETE):
        if not (actor.is_admin or is_creator):
            raise Forbidden(f"Only the creator or an admin can {action.value}")
    elif action is Action.EXPIRE:
        raise Forbidden("Only the system expires interventions")


def check_state(action: Action, current: Intervention, now: datetime) -> None:
    rule = RULES[action]
    if current.status not in rule.sources:
        raise InvalidTransition(f"Cannot {action.value} an intervention that is {current.status.value}")
    if action in _REFUSED_WHEN_OVERDUE and now >= current.expires_at:
        raise InterventionExpired(f"The intervention expired at {current.expires_at.isoformat()}")


def apply(
    action: Action,
    current: Intervention,
    actor: Principal | None,
    now: datetime,
    reason: str | None = None,
    response: Any = None,
) -> tuple[Intervention, InterventionEvent]:
    """Validate and perform `action`; return the new state and its audit event.
    `actor` None means the system (the sweeper)."""
    if actor is not None:
        authorize(action, current, actor)
    check_state(action, current, now)
    if (
        actor is not None
        and action in (Action.APPROVE, Action.REJECT)
        and current.status is Status.IN_PROGRESS
        and not (actor.is_admin or actor.sub == current.assigned_to)
    ):
        raise Forbidden(f"Claimed by {current.assigned_to}: only the assignee or an admin can decide it")

    actor_id = actor.sub if actor is not None else SYSTEM_ACTOR
    rule = RULES[action]
    changes: dict[str, Any] = {"status": rule.target, "updated_at": now, "version": current.version + 1}
    if action is Action.CLAIM:
        changes["assigned_to"] = actor_id
    elif action is Action.RELEASE:
        changes["assigned_to"] = None
    if action in _DECIDING:
        changes.update(
            decided_by=actor_id,
            decided_at=now,
            decision_reason=reason,
            resolution_seconds=round((now - current.created_at).total_seconds(), 3),
        )
    if action in (Action.APPROVE, Action.REJECT):
        changes["response"] = response
    updated = current.model_copy(update=changes)
    event = InterventionEvent(
        at=now,
        actor=actor_id,
        action=rule.past_tense,
        from_status=current.status,
        to_status=rule.target,
        reason=reason,
    )
    return updated, event
