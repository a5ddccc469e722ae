"""claim / release / approve / reject / cancel / complete over the handlers."""

import pytest

from tests.support import ADMIN, OPERATOR, OPERATOR_2, REQUESTER, VIEWER, user

DECISION = {"reason": "Looks right", "response": {"answer": "account 42"}}


def path(iv, action):
    return f"/interventions/{iv['id']}/{action}"


def body_for(action):
    return {"approve": DECISION, "reject": DECISION, "cancel": {"reason": "r"}, "complete": {"reason": "r"}}.get(action)


def test_claim_then_approve_by_the_assignee(api):
    iv = api.create()
    claimed = api.post(path(iv, "claim"), OPERATOR)
    assert claimed.status == 200
    assert (claimed.body["status"], claimed.body["assigned_to"], claimed.body["version"]) == (
        "IN_PROGRESS",
        "pilot-ana",
        2,
    )
    approved = api.post(path(iv, "approve"), OPERATOR, DECISION)
    assert approved.status == 200
    body = approved.body
    assert (body["status"], body["decided_by"], body["decision_reason"]) == ("APPROVED", "pilot-ana", "Looks right")
    assert body["response"] == {"answer": "account 42"} and body["version"] == 3


def test_claim_and_release_accept_empty_body_or_empty_object(api):
    iv = api.create()
    assert api.post(path(iv, "claim"), OPERATOR, raw_body="").status == 200
    assert api.post(path(iv, "release"), OPERATOR, {}).body["status"] == "PENDING"


def test_claim_with_a_body_is_422(api):
    iv = api.create()
    reply = api.post(path(iv, "claim"), OPERATOR, {"reason": "x"})
    assert reply.status == 422 and reply.body["details"][0]["loc"] == ["body", "reason"]


def test_reject_from_pending_records_resolution_time(api, clock):
    iv = api.create()
    clock.advance(seconds=125)
    body = api.post(path(iv, "reject"), OPERATOR, {"reason": "No"}).body
    assert body["status"] == "REJECTED" and body["resolution_seconds"] == 125.0 and body["response"] is None


def test_cancel_by_creator_with_and_without_reason(api):
    first, second = api.create(), api.create()
    assert api.post(path(first, "cancel"), REQUESTER).body["status"] == "CANCELLED"
    body = api.post(path(second, "cancel"), REQUESTER, {"reason": "not needed"}).body
    assert (body["status"], body["decision_reason"]) == ("CANCELLED", "not needed")


def test_complete_after_approval_by_creator(api):
    iv = api.create()
    api.post(path(iv, "approve"), OPERATOR, DECISION)
    done = api.post(path(iv, "complete"), REQUESTER, {"reason": "deployed"})
    assert done.status == 200 and done.body["status"] == "COMPLETED"
    assert done.body["decided_by"] == "pilot-ana"  # completion does not rewrite the decision


def test_admin_may_do_everything_but_decide_its_own(api):
    iv = api.create()
    api.post(path(iv, "claim"), OPERATOR)
    assert api.post(path(iv, "release"), ADMIN).status == 200
    assert api.post(path(iv, "approve"), ADMIN, DECISION).status == 200
    assert api.post(path(iv, "complete"), ADMIN).status == 200
    own = api.create(ADMIN)
    assert api.post(path(own, "approve"), ADMIN, DECISION).status == 403


# ----------------------------------------------------------------- 401 / 403
@pytest.mark.parametrize("action", ["claim", "release", "approve", "reject", "cancel", "complete"])
def test_no_token_is_401(api, action):
    iv = api.create()
    assert api.post(path(iv, action), None, body_for(action)).status == 401


@pytest.mark.parametrize("action", ["claim", "approve", "reject"])
def test_creator_cannot_claim_or_decide_own_request(api, action):
    creator = user("agent-7", "requester", "operator")
    iv = api.create(creator)
    reply = api.post(path(iv, action), creator, body_for(action))
    assert reply.status == 403 and reply.body["code"] == "forbidden"


@pytest.mark.parametrize("action", ["claim", "approve", "reject"])
@pytest.mark.parametrize("claims", [VIEWER, REQUESTER, user("auditor", "finance")])
def test_roles_without_the_required_role_are_403(api, action, claims):
    iv = api.create(user("creator-2", "requester"))
    assert api.post(path(iv, action), claims, body_for(action)).status == 403


def test_custom_required_role_is_enforced(api):
    iv = api.create(required_role="finance")
    assert api.post(path(iv, "approve"), OPERATOR, DECISION).status == 403
    assert api.post(path(iv, "approve"), user("cfo", "finance"), DECISION).status == 200


def test_other_operator_cannot_decide_or_release_a_claimed_one(api):
    iv = api.create()
    api.post(path(iv, "claim"), OPERATOR)
    assert api.post(path(iv, "approve"), OPERATOR_2, DECISION).status == 403
    assert api.post(path(iv, "reject"), OPERATOR_2, DECISION).status == 403
    assert api.post(path(iv, "release"), OPERATOR_2).status == 403


@pytest.mark.parametrize("action", ["cancel", "complete"])
def test_only_creator_or_admin_cancels_or_completes(api, action):
    iv = api.create()
    if action == "complete":
        api.post(path(iv, "approve"), OPERATOR, DECISION)
    assert api.post(path(iv, action), OPERATOR).status == 403
    assert api.post(path(iv, action), user("agent-8", "requester")).status == 403


# ----------------------------------------------------------------- 404
@pytest.mark.parametrize("action", ["claim", "approve", "cancel"])
def test_unknown_malformed_or_foreign_id_is_404(api, action):
    foreign = api.create(user("agent-x", "requester", tenant="globex"))
    body = body_for(action)
    for iv_id in ("7b0c56a4-1c56-4b39-9a53-6b7b0b2f1f10", "not-a-uuid", foreign["id"]):
        reply = api.post(f"/interventions/{iv_id}/{action}", OPERATOR, body)
        assert reply.status == 404 and reply.body["code"] == "not_found"


# ----------------------------------------------------------------- 409
def test_double_decision_is_409_invalid_transition(api):
    iv = api.create()
    assert api.post(path(iv, "approve"), OPERATOR, DECISION).status == 200
    for action in ("approve", "reject"):
        reply = api.post(path(iv, action), OPERATOR_2, DECISION)
        assert reply.status == 409 and reply.body["code"] == "invalid_transition"


def test_claim_of_a_claimed_one_is_409(api):
    iv = api.create()
    api.post(path(iv, "claim"), OPERATOR)
    reply = api.post(path(iv, "claim"), OPERATOR_2)
    assert reply.status == 409 and reply.body["code"] == "invalid_transition"


@pytest.mark.parametrize(("action", "body"), [("claim", None), ("approve", DECISION), ("reject", DECISION)])
def test_overdue_is_409_expired_before_any_sweeper(api, clock, action, body):
    iv = api.create(expires_in_seconds=60)
    clock.advance(seconds=61)
    reply = api.post(path(iv, action), OPERATOR, body)
    assert reply.status == 409 and reply.body["code"] == "expired"
    assert api.get(f"/interventions/{iv['id']}", VIEWER).body["status"] == "PENDING"


@pytest.mark.parametrize(
    ("setup", "action", "claims"),
    [
        ([], "release", ADMIN),
        ([], "complete", REQUESTER),
        ([("cancel", REQUESTER)], "cancel", REQUESTER),
        ([("cancel", REQUESTER)], "claim", OPERATOR),
        ([("reject", OPERATOR)], "complete", REQUESTER),
        ([("approve", OPERATOR), ("complete", REQUESTER)], "complete", REQUESTER),
    ],
)
def test_disallowed_transitions_are_409(api, setup, action, claims):
    iv = api.create()
    for step, who in setup:
        assert api.post(path(iv, step), who, body_for(step)).status == 200
    reply = api.post(path(iv, action), claims, body_for(action))
    assert reply.status == 409 and reply.body["code"] == "invalid_transition"


# ----------------------------------------------------------------- 422
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body.reason"),
        ({"reason": ""}, "body.reason"),
        ({"reason": "x" * 2001}, "body.reason"),
        ({"reason": "ok", "extra": 1}, "body.extra"),
    ],
)
def test_bad_decision_body_is_422(api, body, field):
    iv = api.create()
    reply = api.post(path(iv, "approve"), OPERATOR, body)
    assert reply.status == 422
    assert field in {".".join(map(str, d["loc"])) for d in reply.body["details"]}


def test_decision_body_over_64_kib_is_413(api):
    iv = api.create()
    assert api.post(path(iv, "approve"), OPERATOR, {"reason": "r", "response": "x" * 70_000}).status == 413
