"""The intervention state machine and who may drive it. Pure: no I/O.

Every change is an `Action`; `apply` checks who may do it (`authorize`),
whether the state allows it (`check_state`), and returns the record after it
with its audit event. The trail names each event by its action (`approve`,
`expire`, `comment`, ...), and the record's version numbers the events.

Beyond one approver: an approve adds to `approvals`; the one that completes
`required_approvals` (distinct users, never the creator) moves the record to
APPROVED, and one rejection rejects. The sweep expires a record as its
`on_expiry` says (EXPIRED, or APPROVED / REJECTED by `system`) and escalates
one still unclaimed after `escalation.after_seconds`: holders of
`escalation.to_role` may then act as holders of the required role."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from oversight.answers import check_answer
from oversight.auth import SYSTEM_ACTOR, Principal
from oversight.clock import iso
from oversight.errors import Conflict, Forbidden, InterventionExpired, InvalidTransition, ValidationFailed
from oversight.models import Approval, Intervention, InterventionEvent, OnExpiry, Status

OPEN = frozenset({Status.PENDING, Status.IN_PROGRESS})
EVERY_STATUS = frozenset(Status)
CREATED_ACTION = "create"


class Action(StrEnum):
    CLAIM = "claim"
    RELEASE = "release"
    ASSIGN = "assign"
    APPROVE = "approve"
    REJECT = "reject"
    CANCEL = "cancel"
    COMPLETE = "complete"
    EXPIRE = "expire"
    ESCALATE = "escalate"
    COMMENT = "comment"


@dataclass(frozen=True)
class Rule:
    """From which statuses an action may start, where it leads (None: the
    status stays), and its name in the past tense (metrics, log lines)."""

    sources: frozenset[Status]
    target: Status | None
    past_tense: str


RULES: dict[Action, Rule] = {
    Action.CLAIM: Rule(frozenset({Status.PENDING}), Status.IN_PROGRESS, "claimed"),
    Action.RELEASE: Rule(frozenset({Status.IN_PROGRESS}), Status.PENDING, "released"),
    Action.ASSIGN: Rule(OPEN, Status.IN_PROGRESS, "assigned"),
    # Stays open until the quorum is complete (`_approved`).
    Action.APPROVE: Rule(OPEN, Status.APPROVED, "approved"),
    Action.REJECT: Rule(OPEN, Status.REJECTED, "rejected"),
    Action.CANCEL: Rule(OPEN, Status.CANCELLED, "cancelled"),
    Action.COMPLETE: Rule(frozenset({Status.APPROVED}), Status.COMPLETED, "completed"),
    # EXPIRED, or what `on_expiry` says (`_expiry_outcome`).
    Action.EXPIRE: Rule(OPEN, Status.EXPIRED, "expired"),
    Action.ESCALATE: Rule(frozenset({Status.PENDING}), None, "escalated"),
    Action.COMMENT: Rule(EVERY_STATUS, None, "commented"),
}

# Actions refused once `expires_at` has passed, even before the sweeper ran.
_REFUSED_WHEN_OVERDUE = {Action.CLAIM, Action.ASSIGN, Action.APPROVE, Action.REJECT}
# Actions only the system (the sweep) takes.
_SYSTEM_ONLY = {Action.EXPIRE, Action.ESCALATE}
_DEFAULT_OUTCOME = {
    OnExpiry.EXPIRE: Status.EXPIRED,
    OnExpiry.APPROVE: Status.APPROVED,
    OnExpiry.REJECT: Status.REJECTED,
}


def may_decide(current: Intervention, actor: Principal) -> bool:
    """Whether `actor` holds a role that may claim or decide `current`: its
    required role, or the escalation's role once it has escalated (admins
    hold every role)."""
    if actor.holds(current.required_role):
        return True
    escalated_to = current.escalation.to_role if current.escalation and current.escalated_at else None
    return escalated_to is not None and actor.holds(escalated_to)


def authorize(action: Action, current: Intervention, actor: Principal) -> None:
    """Raise Forbidden unless `actor` may attempt `action` on `current`.
    Checks that depend only on who the actor is; state comes after."""
    is_creator = actor.sub == current.created_by
    if action in (Action.CLAIM, Action.APPROVE, Action.REJECT):
        if is_creator:
            raise Forbidden("The creator of an intervention cannot claim or decide it")
        if not may_decide(current, actor):
            raise Forbidden(f"Requires the role '{current.required_role}'")
    elif action is Action.RELEASE:
        if not (actor.is_admin or actor.sub == current.assigned_to):
            raise Forbidden("Only the assignee or an admin can release")
    elif action is Action.ASSIGN:
        if not (actor.is_admin or (current.assigned_to is not None and actor.sub == current.assigned_to)):
            raise Forbidden("Only an admin or the current assignee can assign")
    elif action in (Action.CANCEL, Action.COMPLETE):
        if not (actor.is_admin or is_creator):
            raise Forbidden(f"Only the creator or an admin can {action.value}")
    elif action is Action.COMMENT:
        actor.require_member()
    elif action in _SYSTEM_ONLY:
        raise Forbidden(f"Only the system can {action.value} interventions")


def check_state(action: Action, current: Intervention, now: datetime) -> None:
    rule = RULES[action]
    if current.status not in rule.sources:
        raise InvalidTransition(f"Cannot {action.value} an intervention that is {current.status.value}")
    if action in _REFUSED_WHEN_OVERDUE and now >= current.expires_at:
        raise InterventionExpired(f"The intervention expired at {iso(current.expires_at)}")


def _check_decider(action: Action, current: Intervention, actor: Principal, response: Any) -> None:
    """What the decider's own history, the claim and the answer form allow."""
    if action is Action.APPROVE and current.approved_by(actor.sub):
        raise Conflict("You approved this intervention already; another approver must add theirs")
    quorum = current.required_approvals > 1
    if not quorum and current.status is Status.IN_PROGRESS and not (actor.is_admin or actor.sub == current.assigned_to):
        raise Forbidden(f"Claimed by {current.assigned_to}: only the assignee or an admin can decide it")
    if action is Action.APPROVE and current.response_schema is not None:
        check_answer(current.response_schema, response)


def apply(
    action: Action,
    current: Intervention,
    actor: Principal | None,
    now: datetime,
    reason: str | None = None,
    response: Any = None,
    assignee: str | None = None,
) -> tuple[Intervention, InterventionEvent]:
    """Validate and perform `action`; return the new state and its audit event.
    `actor` None means the system (the sweeper). `reason` is a comment's
    text for COMMENT; `assignee` the user an ASSIGN hands the record to."""
    if actor is not None:
        authorize(action, current, actor)
    check_state(action, current, now)
    if actor is not None and action in (Action.APPROVE, Action.REJECT):
        _check_decider(action, current, actor, response)
    asked = _Asked(current, actor.sub if actor is not None else SYSTEM_ACTOR, now, reason, response, assignee)
    changes, reason = _CHANGES[action](asked)
    updated = current.model_copy(update={"updated_at": now, "version": current.version + 1, **changes})
    event = InterventionEvent(
        at=now,
        actor=asked.actor_id,
        action=action.value,
        from_status=current.status,
        to_status=updated.status,
        reason=reason,
    )
    return updated, event


@dataclass(frozen=True)
class _Asked:
    """An action as asked, once it is allowed."""

    current: Intervention
    actor_id: str
    now: datetime
    reason: str | None
    response: Any
    assignee: str | None


# Each action's changes to the record (besides `updated_at` and `version`) and the reason its event gives.
Changes = tuple[dict[str, Any], str | None]


def _claim(asked: _Asked) -> Changes:
    return {"status": Status.IN_PROGRESS, "assigned_to": asked.actor_id}, asked.reason


def _release(asked: _Asked) -> Changes:
    return {"status": Status.PENDING, "assigned_to": None}, asked.reason


def _assign(asked: _Asked) -> Changes:
    user = _assignee(asked.current, asked.assignee)
    return {"status": Status.IN_PROGRESS, "assigned_to": user}, f"Assigned to {user}"


def _approve(asked: _Asked) -> Changes:
    return _approved(asked.current, asked.actor_id, asked.now, asked.reason, asked.response), asked.reason


def _close(status: Status) -> Callable[[_Asked], Changes]:
    """REJECT, CANCEL: close the record, saying who decided and when (a rejection keeps its answer)."""

    def close(asked: _Asked) -> Changes:
        changes = _decided(asked.current, status, asked.actor_id, asked.now, asked.reason)
        if status is Status.REJECTED:
            changes["response"] = asked.response
        return changes, asked.reason

    return close


def _complete(asked: _Asked) -> Changes:
    return {"status": Status.COMPLETED}, asked.reason


def _expire(asked: _Asked) -> Changes:
    reason = _expiry_reason(asked.current)
    outcome = _DEFAULT_OUTCOME[asked.current.on_expiry]
    return _decided(asked.current, outcome, asked.actor_id, asked.now, reason), reason


def _escalate(asked: _Asked) -> Changes:
    return _escalation(asked.current, asked.now)


def _comment(asked: _Asked) -> Changes:
    # On the trail, not a change of the record's fields: `updated_at` (and so the purge time) stays.
    return {"updated_at": asked.current.updated_at}, asked.reason


_CHANGES: dict[Action, Callable[[_Asked], Changes]] = {
    Action.CLAIM: _claim,
    Action.RELEASE: _release,
    Action.ASSIGN: _assign,
    Action.APPROVE: _approve,
    Action.REJECT: _close(Status.REJECTED),
    Action.CANCEL: _close(Status.CANCELLED),
    Action.COMPLETE: _complete,
    Action.EXPIRE: _expire,
    Action.ESCALATE: _escalate,
    Action.COMMENT: _comment,
}


def _decided(current: Intervention, status: Status, actor_id: str, now: datetime, reason: str | None) -> dict[str, Any]:
    return {
        "status": status,
        "decided_by": actor_id,
        "decided_at": now,
        "decision_reason": reason,
        "resolution_seconds": round((now - current.created_at).total_seconds(), 3),
    }


def _approved(current: Intervention, user: str, now: datetime, reason: str | None, response: Any) -> dict[str, Any]:
    """One more approval; the one that completes the quorum decides."""
    approvals = [*current.approvals, Approval(user=user, at=now, reason=reason or "", response=response)]
    changes: dict[str, Any] = {"approvals": approvals}
    if len(approvals) >= current.required_approvals:
        changes.update(_decided(current, Status.APPROVED, user, now, reason), response=response)
    return changes


def _assignee(current: Intervention, user: str | None) -> str:
    if not user:
        raise ValidationFailed.field(["body", "user"], "Field required", "missing")
    if user == current.created_by:
        raise ValidationFailed.field(
            ["body", "user"], "The creator of an intervention cannot decide it, so cannot be assigned it"
        )
    return user


def _expiry_reason(current: Intervention) -> str | None:
    if current.on_expiry is OnExpiry.EXPIRE:
        return None
    outcome = "Approved" if current.on_expiry is OnExpiry.APPROVE else "Rejected"
    return f"{outcome} by default (on_expiry: {current.on_expiry.value}): nobody decided by {iso(current.expires_at)}"


def _escalation(current: Intervention, now: datetime) -> Changes:
    """The escalation of `current` and its event's reason."""
    escalation = current.escalation
    due = current.escalation_due_at()
    if escalation is None or due is None or now < due:
        raise InvalidTransition("This intervention has no escalation due")
    changes: dict[str, Any] = {"escalated_at": now}
    said = [f"Unclaimed {escalation.after_seconds} s after creation"]
    if escalation.to_role:
        said.append(f"holders of '{escalation.to_role}' may act")
    if escalation.priority is not None and escalation.priority is not current.priority:
        changes["priority"] = escalation.priority
        said.append(f"priority {current.priority.value} -> {escalation.priority.value}")
    return changes, "; ".join(said)
