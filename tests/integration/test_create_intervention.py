"""POST /interventions: success, defaults, auth and every validation error."""

import json

import pytest

from tests.support import ADMIN, OPERATOR, REQUESTER, VIEWER, user

BODY = {"uow_id": "run-1", "type": "clarification", "title": "Which account?"}


def test_created_with_defaults_and_all_fields(api, clock):
    reply = api.post("/interventions", REQUESTER, BODY)
    assert reply.status == 201
    iv = reply.body
    assert iv["status"] == "PENDING" and iv["priority"] == "normal" and iv["required_role"] == "operator"
    assert iv["created_by"] == "agent-7" and iv["version"] == 1 and iv["description"] == ""
    assert iv["created_at"] == "2026-11-23T09:00:00.000Z" and iv["expires_at"] == "2026-11-23T10:00:00.000Z"
    expected_fields = {
        "id",
        "uow_id",
        "type",
        "status",
        "priority",
        "title",
        "description",
        "context",
        "required_role",
        "assigned_to",
        "created_by",
        "created_at",
        "updated_at",
        "expires_at",
        "decided_by",
        "decided_at",
        "decision_reason",
        "response",
        "resolution_seconds",
        "job_id",
        "required_approvals",
        "approvals",
        "approvals_needed",
        "on_expiry",
        "response_schema",
        "escalation",
        "escalated_at",
        "callback_url",
        "version",
    }
    assert set(iv) == expected_fields
    assert api.get(f"/interventions/{iv['id']}", VIEWER).body == iv


def test_admin_may_create_with_every_optional_field(api):
    body = {
        **BODY,
        "description": "d",
        "priority": "critical",
        "context": {"n": 1.5, "list": [1, None]},
        "expires_in_seconds": 60,
        "required_role": "finance",
        "assigned_to": "pilot-ana",
    }
    iv = api.post("/interventions", ADMIN, body).body
    assert {k: iv[k] for k in ("priority", "context", "required_role", "assigned_to")} == {
        "priority": "critical",
        "context": {"n": 1.5, "list": [1, None]},
        "required_role": "finance",
        "assigned_to": "pilot-ana",
    }


def test_no_token_is_401(api):
    reply = api.post("/interventions", None, BODY)
    assert reply.status == 401 and reply.body["code"] == "unauthorized"


@pytest.mark.parametrize("claims", [OPERATOR, VIEWER, user("nobody")])
def test_roles_other_than_requester_or_admin_are_403(api, claims):
    reply = api.post("/interventions", claims, BODY)
    assert reply.status == 403 and reply.body["code"] == "forbidden"


def test_token_without_tenant_is_403(api):
    assert api.post("/interventions", user("x", "requester", tenant=None), BODY).status == 403


def test_body_over_64_kib_is_413(api):
    body = {**BODY, "description": "x" * (64 * 1024)}
    reply = api.post("/interventions", REQUESTER, body)
    assert reply.status == 413 and reply.body["code"] == "payload_too_large"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"type": "approval", "title": "t"}, {"body.uow_id"}),
        ({**BODY, "colour": "red"}, {"body.colour"}),
        ({**BODY, "title": "x" * 201}, {"body.title"}),
        ({**BODY, "title": ""}, {"body.title"}),
        ({**BODY, "description": "x" * 4001}, {"body.description"}),
        ({**BODY, "context": {"blob": "y" * 17_000}}, {"body.context"}),
        ({**BODY, "type": "teleport"}, {"body.type"}),
        ({**BODY, "priority": "urgent"}, {"body.priority"}),
        ({**BODY, "expires_in_seconds": 10}, {"body.expires_in_seconds"}),
        ({**BODY, "context": "not an object"}, {"body.context"}),
        ([1, 2], {"body"}),
    ],
)
def test_invalid_body_is_422_naming_each_field(api, body, fields):
    reply = api.post("/interventions", REQUESTER, body)
    assert reply.status == 422 and reply.body["code"] == "validation_error"
    named = {".".join(str(p) for p in d["loc"]) for d in reply.body["details"]}
    assert fields <= named, reply.body


@pytest.mark.parametrize("raw", ["{not json", "", "null"])
def test_malformed_or_missing_json_is_422(api, raw):
    reply = api.post("/interventions", REQUESTER, raw_body=raw)
    assert reply.status == 422 and reply.body["code"] == "validation_error"
    assert reply.body["details"][0]["loc"] == ["body"]


def test_validation_errors_never_echo_the_input(api):
    reply = api.post("/interventions", REQUESTER, {**BODY, "title": "secret-" + "x" * 300})
    assert "secret-" not in json.dumps(reply.body)


# ------------------------------------------------------------- idempotency
def test_same_key_same_body_three_times_creates_one(api, requests_made):
    headers = {"Idempotency-Key": "run-1-step-3"}
    replies = [api.post("/interventions", REQUESTER, BODY, headers=headers) for _ in range(3)]
    assert [r.status for r in replies] == [201, 201, 201]
    assert replies[0].raw["body"] == replies[1].raw["body"] == replies[2].raw["body"]
    listed = api.get("/interventions?uow_id=run-1", VIEWER).body["items"]
    assert [iv["id"] for iv in listed] == [replies[0].body["id"]]


def test_same_key_other_body_is_422_idempotency_key_reused(api):
    headers = {"Idempotency-Key": "k-1"}
    assert api.post("/interventions", REQUESTER, BODY, headers=headers).status == 201
    reply = api.post("/interventions", REQUESTER, {**BODY, "title": "Another"}, headers=headers)
    assert reply.status == 422 and reply.body["code"] == "idempotency_key_reused"


def test_keys_are_scoped_to_the_caller(api):
    headers = {"Idempotency-Key": "shared"}
    first = api.post("/interventions", REQUESTER, BODY, headers=headers).body
    other_tenant = api.post("/interventions", user("agent-7", "requester", tenant="globex"), BODY, headers=headers)
    other_user = api.post("/interventions", user("agent-8", "requester"), BODY, headers=headers)
    assert len({first["id"], other_tenant.body["id"], other_user.body["id"]}) == 3


def test_same_key_while_first_in_flight_is_409(api, monkeypatch):
    """The first request is still running when the retry arrives."""
    import oversight.interventions as domain

    headers = {"Idempotency-Key": "slow"}
    replies = []
    original = domain._create

    def create_and_retry(*args, **kwargs):
        replies.append(api.post("/interventions", REQUESTER, BODY, headers=headers))
        return original(*args, **kwargs)

    monkeypatch.setattr(domain, "_create", create_and_retry)
    first = api.post("/interventions", REQUESTER, BODY, headers=headers)
    assert first.status == 201
    assert replies[0].status == 409 and replies[0].body["code"] == "conflict"


def test_no_key_means_every_post_creates(api):
    ids = {api.post("/interventions", REQUESTER, BODY).body["id"] for _ in range(2)}
    assert len(ids) == 2


def test_failed_first_attempt_can_be_retried_with_the_same_key(api, monkeypatch):
    import oversight.interventions as domain

    headers = {"Idempotency-Key": "retry-me"}
    original = domain._create

    def fail_once(*args, **kwargs):
        monkeypatch.setattr(domain, "_create", original)
        raise RuntimeError("boom")

    monkeypatch.setattr(domain, "_create", fail_once)
    failed = api.post("/interventions", REQUESTER, BODY, headers=headers)
    assert failed.status == 500 and failed.body["code"] == "internal_error"
    assert "Traceback" not in failed.body["message"] and "correlation id" in failed.body["message"]
    assert api.post("/interventions", REQUESTER, BODY, headers=headers).status == 201


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", None])
def test_body_is_read_as_json_whatever_the_content_type(api, content_type):
    headers = {"content-type": content_type}  # None: no Content-Type at all
    reply = api.request("POST", "/interventions", REQUESTER, raw_body=json.dumps(BODY), headers=headers)
    assert reply.status == 201, reply.body


def test_replay_is_byte_identical_with_a_nested_context(api):
    headers = {"Idempotency-Key": "ctx"}
    body = {**BODY, "context": {"zeta": 1, "alpha": {"y": [1, {"b": 2, "a": 1}], "x": None}}}
    first, again = (api.post("/interventions", REQUESTER, body, headers=headers) for _ in range(2))
    assert first.raw["body"] == again.raw["body"]
    assert first.body["context"] == body["context"]


def test_a_replay_is_marked_idempotent_replayed_and_the_first_answer_is_not(api):
    headers = {"Idempotency-Key": "marked"}
    first, again, third = (api.post("/interventions", REQUESTER, BODY, headers=headers) for _ in range(3))
    assert first.status == again.status == third.status == 201
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == third.headers["idempotent-replayed"] == "true"
    assert again.body == first.body
    # Unkeyed creates and a new key are first answers, however many came before.
    assert "idempotent-replayed" not in api.post("/interventions", REQUESTER, BODY).headers
    fresh = api.post("/interventions", REQUESTER, BODY, headers={"Idempotency-Key": "marked-2"})
    assert fresh.status == 201 and "idempotent-replayed" not in fresh.headers
