"""The state machine and its authorization rules, without any I/O."""

from datetime import UTC, datetime, timedelta

import pytest

from oversight.auth import Principal
from oversight.errors import Forbidden, InterventionExpired, InvalidTransition
from oversight.lifecycle import RULES, Action, apply
from oversight.models import Intervention, Status

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
CREATOR = Principal("creator", "acme", frozenset({"requester"}))
OPERATOR = Principal("op-1", "acme", frozenset({"operator"}))
OTHER_OPERATOR = Principal("op-2", "acme", frozenset({"operator"}))
ADMIN = Principal("boss", "acme", frozenset({"admin"}))
VIEWER = Principal("eye", "acme", frozenset({"viewer"}))


def make(status=Status.PENDING, assigned_to=None, required_role="operator", expires_in=3600, created_by="creator"):
    return Intervention(
        id="0b0c56a4-1c56-4b39-9a53-6b7b0b2f1f10",
        uow_id="u",
        type="approval",
        status=status,
        priority="normal",
        title="t",
        description="",
        context={},
        required_role=required_role,
        assigned_to=assigned_to,
        created_by=created_by,
        created_at=NOW - timedelta(seconds=90),
        updated_at=NOW - timedelta(seconds=90),
        expires_at=NOW + timedelta(seconds=expires_in),
        version=3,
    )


ALLOWED = {
    (Action.CLAIM, Status.PENDING),
    (Action.RELEASE, Status.IN_PROGRESS),
    (Action.APPROVE, Status.PENDING),
    (Action.APPROVE, Status.IN_PROGRESS),
    (Action.REJECT, Status.PENDING),
    (Action.REJECT, Status.IN_PROGRESS),
    (Action.CANCEL, Status.PENDING),
    (Action.CANCEL, Status.IN_PROGRESS),
    (Action.COMPLETE, Status.APPROVED),
    (Action.ASSIGN, Status.PENDING),
    (Action.ASSIGN, Status.IN_PROGRESS),
    *((Action.COMMENT, status) for status in Status),
}
# Only the system takes these (the sweep): tested below.
SYSTEM_ACTIONS = (Action.EXPIRE, Action.ESCALATE)


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("action", [a for a in Action if a not in SYSTEM_ACTIONS])
def test_every_transition_is_allowed_exactly_where_the_spec_says(action, status):
    current = make(status=status, assigned_to=ADMIN.sub if status is Status.IN_PROGRESS else None)
    if (action, status) in ALLOWED:
        updated, event = apply(action, current, ADMIN, NOW, reason="r", assignee="op-2")
        assert updated.status is (RULES[action].target or status)
        assert updated.version == current.version + 1
        assert (event.from_status, event.to_status) == (status, updated.status)
    else:
        with pytest.raises(InvalidTransition):
            apply(action, current, ADMIN, NOW, reason="r", assignee="op-2")


def test_decision_records_decider_reason_response_and_resolution_time():
    updated, event = apply(Action.APPROVE, make(), OPERATOR, NOW, reason="fine", response={"answer": 42})
    assert (updated.decided_by, updated.decision_reason, updated.response) == ("op-1", "fine", {"answer": 42})
    assert updated.decided_at == NOW and updated.resolution_seconds == 90.0
    assert event.actor == "op-1" and event.action == "approve" and event.reason == "fine"


def test_claim_assigns_and_release_unassigns():
    claimed, _ = apply(Action.CLAIM, make(), OPERATOR, NOW)
    assert claimed.assigned_to == "op-1" and claimed.status is Status.IN_PROGRESS
    released, _ = apply(Action.RELEASE, claimed, OPERATOR, NOW)
    assert released.assigned_to is None and released.status is Status.PENDING


@pytest.mark.parametrize("action", [Action.CLAIM, Action.APPROVE, Action.REJECT])
def test_creator_never_claims_or_decides_even_as_admin(action):
    creator_admin = Principal("creator", "acme", frozenset({"admin", "operator"}))
    with pytest.raises(Forbidden):
        apply(action, make(), creator_admin, NOW, reason="r")


@pytest.mark.parametrize("actor", [VIEWER, CREATOR])
def test_deciding_needs_the_required_role(actor):
    with pytest.raises(Forbidden):
        apply(Action.APPROVE, make(created_by="someone-else"), actor, NOW, reason="r")


def test_custom_required_role():
    current = make(required_role="finance")
    with pytest.raises(Forbidden):
        apply(Action.CLAIM, current, OPERATOR, NOW)
    finance = Principal("fin", "acme", frozenset({"finance"}))
    assert apply(Action.CLAIM, current, finance, NOW)[0].assigned_to == "fin"


def test_claimed_intervention_is_decided_only_by_assignee_or_admin():
    claimed = make(status=Status.IN_PROGRESS, assigned_to="op-1")
    with pytest.raises(Forbidden):
        apply(Action.APPROVE, claimed, OTHER_OPERATOR, NOW, reason="r")
    assert apply(Action.REJECT, claimed, OPERATOR, NOW, reason="r")[0].status is Status.REJECTED
    assert apply(Action.APPROVE, claimed, ADMIN, NOW, reason="r")[0].status is Status.APPROVED


def test_release_only_by_assignee_or_admin():
    claimed = make(status=Status.IN_PROGRESS, assigned_to="op-1")
    with pytest.raises(Forbidden):
        apply(Action.RELEASE, claimed, OTHER_OPERATOR, NOW)
    assert apply(Action.RELEASE, claimed, ADMIN, NOW)[0].status is Status.PENDING


@pytest.mark.parametrize("action", [Action.CANCEL, Action.COMPLETE])
def test_cancel_and_complete_only_by_creator_or_admin(action):
    current = make(status=Status.APPROVED if action is Action.COMPLETE else Status.PENDING)
    with pytest.raises(Forbidden):
        apply(action, current, OPERATOR, NOW)
    assert apply(action, current, CREATOR, NOW)[0].status is RULES[action].target


@pytest.mark.parametrize("action", [Action.CLAIM, Action.APPROVE, Action.REJECT])
def test_overdue_open_intervention_cannot_be_claimed_or_decided(action):
    with pytest.raises(InterventionExpired):
        apply(action, make(expires_in=-1), OPERATOR, NOW, reason="r")


def test_overdue_intervention_can_still_be_cancelled_by_its_creator():
    assert apply(Action.CANCEL, make(expires_in=-1), CREATOR, NOW)[0].status is Status.CANCELLED


def test_system_expiry_and_no_person_may_expire():
    expired, event = apply(Action.EXPIRE, make(expires_in=-1), None, NOW)
    assert expired.status is Status.EXPIRED and event.actor == "system" and expired.decided_by == "system"
    with pytest.raises(Forbidden):
        apply(Action.EXPIRE, make(), ADMIN, NOW)


# ---------------------------------------------------------------- decisions beyond one approver
def quorum(n=3, **fields):
    return make(**fields).model_copy(update={"required_approvals": n})


def test_approvals_accumulate_until_the_quorum_decides():
    first, event = apply(Action.APPROVE, quorum(), OPERATOR, NOW, reason="one")
    assert (first.status, first.approvals_needed, first.decided_by) == (Status.PENDING, 2, None)
    assert (event.action, event.from_status, event.to_status) == ("approve", Status.PENDING, Status.PENDING)
    second, _ = apply(Action.APPROVE, first, OTHER_OPERATOR, NOW, reason="two")
    third, event = apply(Action.APPROVE, second, ADMIN, NOW, reason="three", response={"ok": True})
    assert (third.status, third.approvals_needed, third.decided_by, third.response) == (
        Status.APPROVED,
        0,
        "boss",
        {"ok": True},
    )
    assert [a.user for a in third.approvals] == ["op-1", "op-2", "boss"] and event.to_status is Status.APPROVED


def test_the_same_user_cannot_approve_twice():
    from oversight.errors import Conflict

    first, _ = apply(Action.APPROVE, quorum(), OPERATOR, NOW, reason="one")
    with pytest.raises(Conflict):
        apply(Action.APPROVE, first, OPERATOR, NOW, reason="again")


def test_with_a_quorum_anyone_eligible_approves_a_claimed_request():
    claimed = quorum(status=Status.IN_PROGRESS, assigned_to="op-2")
    approved, _ = apply(Action.APPROVE, claimed, OPERATOR, NOW, reason="r")
    assert approved.status is Status.IN_PROGRESS and approved.approvals_needed == 2


@pytest.mark.parametrize(
    ("on_expiry", "status", "reason_says"),
    [("expire", Status.EXPIRED, None), ("approve", Status.APPROVED, "approve"), ("reject", Status.REJECTED, "reject")],
)
def test_expiry_applies_the_default_as_the_system(on_expiry, status, reason_says):
    from oversight.models import OnExpiry

    overdue = make(expires_in=-1).model_copy(update={"on_expiry": OnExpiry(on_expiry)})
    expired, event = apply(Action.EXPIRE, overdue, None, NOW)
    assert (expired.status, expired.decided_by, event.actor, event.action) == (status, "system", "system", "expire")
    assert expired.approvals == [] and (reason_says is None) == (event.reason is None)
    if reason_says:
        assert reason_says in event.reason


@pytest.mark.parametrize("action", [Action.EXPIRE, Action.ESCALATE])
def test_only_the_system_expires_or_escalates(action):
    with pytest.raises(Forbidden):
        apply(action, make(expires_in=-1), ADMIN, NOW)


def escalating(after=60, **escalation):
    from oversight.models import Escalation

    return make().model_copy(update={"escalation": Escalation(after_seconds=after, **escalation)})


def test_an_escalation_is_refused_before_it_is_due_and_applies_once():
    early = escalating(after=600)
    with pytest.raises(InvalidTransition):
        apply(Action.ESCALATE, early, None, NOW)
    due = escalating(after=60, to_role="oncall", priority="critical")
    escalated, event = apply(Action.ESCALATE, due, None, NOW)
    assert (escalated.priority, escalated.escalated_at, escalated.status) == ("critical", NOW, Status.PENDING)
    assert (event.action, event.actor) == ("escalate", "system") and "oncall" in event.reason
    assert escalated.escalation_due_at() is None
    with pytest.raises(InvalidTransition):
        apply(Action.ESCALATE, escalated, None, NOW)


def test_after_an_escalation_holders_of_its_role_may_decide():
    oncall = Principal("pager", "acme", frozenset({"oncall"}))
    due = escalating(after=60, to_role="oncall")
    with pytest.raises(Forbidden):
        apply(Action.CLAIM, due, oncall, NOW)
    escalated, _ = apply(Action.ESCALATE, due, None, NOW)
    claimed, _ = apply(Action.CLAIM, escalated, oncall, NOW)
    assert claimed.assigned_to == "pager"


def test_a_comment_changes_no_field_but_the_version():
    closed, _ = apply(Action.REJECT, make(), OPERATOR, NOW, reason="no")
    later = NOW + timedelta(hours=1)
    commented, event = apply(Action.COMMENT, closed, VIEWER, later, reason="why?")
    assert commented.model_copy(update={"version": closed.version}) == closed
    assert commented.version == closed.version + 1
    assert (event.action, event.reason, event.from_status, event.to_status) == (
        "comment",
        "why?",
        Status.REJECTED,
        Status.REJECTED,
    )


def test_assign_hands_over_and_never_to_the_creator():
    from oversight.errors import ValidationFailed

    assigned, event = apply(Action.ASSIGN, make(), ADMIN, NOW, assignee="op-2")
    assert (assigned.status, assigned.assigned_to, event.reason) == (Status.IN_PROGRESS, "op-2", "Assigned to op-2")
    handed, _ = apply(Action.ASSIGN, assigned, OTHER_OPERATOR, NOW, assignee="op-1")
    assert handed.assigned_to == "op-1"
    with pytest.raises(Forbidden):
        apply(Action.ASSIGN, handed, OTHER_OPERATOR, NOW, assignee="op-2")  # no longer the assignee
    with pytest.raises(ValidationFailed):
        apply(Action.ASSIGN, make(), ADMIN, NOW, assignee="creator")
