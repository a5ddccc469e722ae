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
}


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("action", [a for a in Action if a is not Action.EXPIRE])
def test_every_transition_is_allowed_exactly_where_the_spec_says(action, status):
    current = make(status=status, assigned_to=ADMIN.sub if status is Status.IN_PROGRESS else None)
    if (action, status) in ALLOWED:
        updated, event = apply(action, current, ADMIN, NOW, reason="r")
        assert updated.status is RULES[action].target
        assert updated.version == current.version + 1
        assert (event.from_status, event.to_status) == (status, updated.status)
    else:
        with pytest.raises(InvalidTransition):
            apply(action, current, ADMIN, NOW, reason="r")


def test_decision_records_decider_reason_response_and_resolution_time():
    updated, event = apply(Action.APPROVE, make(), OPERATOR, NOW, reason="fine", response={"answer": 42})
    assert (updated.decided_by, updated.decision_reason, updated.response) == ("op-1", "fine", {"answer": 42})
    assert updated.decided_at == NOW and updated.resolution_seconds == 90.0
    assert event.actor == "op-1" and event.action == "approved" and event.reason == "fine"


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
