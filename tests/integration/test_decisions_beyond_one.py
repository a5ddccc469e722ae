"""Decisions beyond one approver, through the handlers against moto: quorum
(exactly once under concurrency), a default at expiry, answer forms,
escalation, delegation and comments."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from local_runtime.context import LocalLambdaContext
from local_runtime.handlers import load_handler
from local_runtime.routing import build_http_event
from oversight import sweep as sweep_module
from oversight.clock import parse_iso
from tests.conftest import TEMPLATE
from tests.support import ADMIN, OPERATOR, OPERATOR_2, REQUESTER, VIEWER, JobWorker, user

OPERATORS = [user(f"pilot-{n}", "operator") for n in range(6)]


def sweep() -> sweep_module.SweepReport:
    return sweep_module.run_sweep(lambda: 60_000)


def events(api: Any, iv: dict[str, Any]) -> list[dict[str, Any]]:
    return api.get(f"/interventions/{iv['id']}/events", VIEWER).body["items"]


def approve(api: Any, iv: dict[str, Any], who: dict[str, Any], **body: Any) -> Any:
    return api.post(f"/interventions/{iv['id']}/approve", who, {"reason": "looks right", **body})


# ---------------------------------------------------------------- quorum
def test_a_quorum_of_three_needs_three_distinct_approvers(api):
    iv = api.create(required_approvals=3)
    assert (iv["required_approvals"], iv["approvals"], iv["approvals_needed"]) == (3, [], 3)

    first = approve(api, iv, OPERATORS[0])
    assert first.status == 200
    assert (first.body["status"], first.body["approvals_needed"]) == ("PENDING", 2)
    assert [a["user"] for a in first.body["approvals"]] == ["pilot-0"]

    again = approve(api, iv, OPERATORS[0])
    assert (again.status, again.body["code"]) == (409, "conflict")
    creator = approve(api, iv, REQUESTER)
    assert (creator.status, creator.body["code"]) == (403, "forbidden")
    viewer = approve(api, iv, VIEWER)
    assert viewer.status == 403

    assert approve(api, iv, OPERATORS[1]).body["approvals_needed"] == 1
    done = approve(api, iv, OPERATORS[2], response={"ticket": 7}).body
    assert (done["status"], done["approvals_needed"], done["decided_by"]) == ("APPROVED", 0, "pilot-2")
    assert done["response"] == {"ticket": 7} and len(done["approvals"]) == 3
    trail = events(api, iv)
    approvals = [e for e in trail if e["action"] == "approve"]
    assert [(e["actor"], e["from_status"], e["to_status"]) for e in approvals] == [
        ("pilot-0", "PENDING", "PENDING"),
        ("pilot-1", "PENDING", "PENDING"),
        ("pilot-2", "PENDING", "APPROVED"),
    ]
    assert approve(api, iv, OPERATORS[3]).body["code"] == "invalid_transition"


def test_one_rejection_after_an_approval_rejects(api):
    iv = api.create(required_approvals=3)
    assert approve(api, iv, OPERATORS[0]).status == 200
    reply = api.post(f"/interventions/{iv['id']}/reject", OPERATORS[1], {"reason": "no"})
    assert reply.status == 200
    assert (reply.body["status"], reply.body["decided_by"], reply.body["approvals_needed"]) == (
        "REJECTED",
        "pilot-1",
        0,
    )


def test_with_a_quorum_a_claim_does_not_lock_out_the_other_approvers(api):
    iv = api.create(required_approvals=2)
    assert api.post(f"/interventions/{iv['id']}/claim", OPERATOR).status == 200
    assert approve(api, iv, OPERATOR_2).body["approvals_needed"] == 1
    assert approve(api, iv, OPERATOR).body["status"] == "APPROVED"


def test_a_single_approver_request_keeps_its_claim_rule(api):
    iv = api.create()
    assert api.post(f"/interventions/{iv['id']}/claim", OPERATOR).status == 200
    assert approve(api, iv, OPERATOR_2).status == 403
    approved = approve(api, iv, OPERATOR).body
    assert approved["status"] == "APPROVED" and [a["user"] for a in approved["approvals"]] == ["pilot-ana"]


def _approve_concurrently(api: Any, iv: dict[str, Any], round_number: int) -> list[int]:
    barrier = threading.Barrier(len(OPERATORS))

    def one(n: int) -> int:
        url = f"/interventions/{iv['id']}/approve"
        match = api.router.match("POST", url)
        handler = load_handler(match.function, instance=100 * round_number + n + 1)  # one environment each
        event = build_http_event(
            match,
            "POST",
            url,
            headers={"content-type": "application/json"},
            body=f'{{"reason": "approval {n}"}}',
            claims=OPERATORS[n],
            base=api.sample_event(match.function.name),
        )
        barrier.wait()
        return handler(event, LocalLambdaContext("DecideInterventionFunction", 10))["statusCode"]

    with ThreadPoolExecutor(max_workers=len(OPERATORS)) as pool:
        return list(pool.map(one, range(len(OPERATORS))))


def test_six_operators_approving_a_quorum_of_three_at_once_never_overshoot(api):
    rounds = 20
    for round_number in range(rounds):
        iv = api.create(required_approvals=3, uow_id=f"quorum-{round_number}")
        statuses = _approve_concurrently(api, iv, round_number)
        final = api.get(f"/interventions/{iv['id']}", VIEWER).body
        assert final["status"] == "APPROVED", statuses
        assert len(final["approvals"]) == 3 and len({a["user"] for a in final["approvals"]}) == 3
        assert statuses.count(200) == 3 and set(statuses) <= {200, 409}
        trail = events(api, iv)
        assert [e["to_status"] for e in trail if e["action"] == "approve"] == ["PENDING", "PENDING", "APPROVED"]
        assert final["decided_by"] == final["approvals"][-1]["user"]

    stats = api.get("/stats", VIEWER).body["interventions"]
    assert stats["by_status"]["APPROVED"] == rounds and stats["total"] == rounds
    listed = api.get("/interventions?status=APPROVED&limit=100", VIEWER).body["items"]
    approvals_per_user: dict[str, int] = {}
    for record in listed:
        for approval in record["approvals"]:
            approvals_per_user[approval["user"]] = approvals_per_user.get(approval["user"], 0) + 1
    assert sum(approvals_per_user.values()) == 3 * rounds
    assert {r["user"]: r["count"] for r in stats["top_responders"]} == approvals_per_user


# ---------------------------------------------------------------- a default at expiry
@pytest.mark.parametrize(
    ("on_expiry", "status"), [("reject", "REJECTED"), ("approve", "APPROVED"), ("expire", "EXPIRED")]
)
def test_the_sweep_applies_the_default_as_the_system(api, clock, on_expiry, status):
    iv = api.create(on_expiry=on_expiry, expires_in_seconds=60)
    clock.advance(seconds=61)
    assert sweep().expired == 1
    final = api.get(f"/interventions/{iv['id']}", VIEWER).body
    assert (final["status"], final["decided_by"]) == (status, "system")
    last = events(api, iv)[-1]
    assert (last["action"], last["actor"], last["to_status"]) == ("expire", "system", status)
    if on_expiry != "expire":
        assert on_expiry in last["reason"] and final["decision_reason"] == last["reason"]
    assert api.get("/stats", VIEWER).body["interventions"]["by_status"][status] == 1
    assert approve(api, iv, OPERATOR).status == 409


@pytest.mark.parametrize(("on_expiry", "job_status"), [("approve", "COMPLETED"), ("reject", "REJECTED")])
def test_a_gated_job_follows_the_default(api, clock, sqs, on_expiry, job_status):
    job = api.post(
        "/jobs",
        ADMIN,
        {
            "tool": "export_interventions",
            "requires_approval": True,
            "approval": {"on_expiry": on_expiry, "expires_in_seconds": 60},
        },
    ).body
    clock.advance(seconds=61)
    assert sweep().expired == 1
    JobWorker(TEMPLATE, sqs).drain()  # an approved job was queued when the default was committed
    assert api.get(f"/jobs/{job['id']}", VIEWER).body["status"] == job_status
    gate = api.get(f"/interventions/{job['intervention_id']}", VIEWER).body
    assert gate["decided_by"] == "system" and gate["status"] == ("APPROVED" if on_expiry == "approve" else "REJECTED")


def test_a_decision_racing_the_default_gives_exactly_one_outcome(api, clock, monkeypatch):
    iv = api.create(on_expiry="approve", expires_in_seconds=60)
    from oversight.store import get_intervention_store

    store = get_intervention_store()
    original = store.save_transition
    raced = []

    def reject_just_before(tenant, before, after, event, linked=None):
        if after.decided_by == "system" and not raced:
            raced.append(True)
            sweep_time = clock.current
            clock.current = parse_iso(iv["expires_at"]) - timedelta(seconds=1)
            try:
                assert api.post(f"/interventions/{iv['id']}/reject", OPERATOR, {"reason": "in time"}).status == 200
            finally:
                clock.current = sweep_time
        return original(tenant, before, after, event, linked)

    monkeypatch.setattr(store, "save_transition", reject_just_before)
    clock.advance(seconds=61)
    report = sweep()
    final = api.get(f"/interventions/{iv['id']}", VIEWER).body
    assert final["status"] == "REJECTED" and final["decided_by"] == "pilot-ana"
    assert (report.expired, report.skipped) == (0, 1)
    closing = [e for e in events(api, iv) if e["to_status"] != "PENDING"]
    assert [e["action"] for e in closing] == ["reject"]


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"type": "kill_switch", "on_expiry": "approve"}, ["body"]),
        ({"required_approvals": 2, "on_expiry": "approve"}, ["body"]),
        ({"required_approvals": 11}, ["body", "required_approvals"]),
        ({"on_expiry": "maybe"}, ["body", "on_expiry"]),
    ],
)
def test_refused_defaults_and_bounds_are_422_naming_the_field(api, fields, loc):
    reply = api.post("/interventions", REQUESTER, {"uow_id": "u", "type": "approval", "title": "t", **fields})
    assert reply.status == 422 and reply.body["code"] == "validation_error"
    assert reply.body["details"][0]["loc"][: len(loc)] == loc


def test_a_gate_of_http_post_may_default_to_approve_only_when_an_admin_submits_it(api, monkeypatch):
    monkeypatch.setenv("HTTP_POST_ALLOWED_HOSTS", "hooks.example.com")
    body = {
        "tool": "http_post",
        "parameters": {"url": "https://hooks.example.com/x", "json": {}},
        "requires_approval": True,
        "approval": {"on_expiry": "approve"},
    }
    refused = api.post("/jobs", REQUESTER, body)
    assert refused.status == 422 and refused.body["details"][0]["loc"] == ["body", "approval", "on_expiry"]
    admitted = api.post("/jobs", ADMIN, body)
    assert admitted.status == 202 and admitted.body["status"] == "AWAITING_APPROVAL"
    assert api.post("/jobs", REQUESTER, {**body, "approval": {"on_expiry": "reject"}}).status == 202


# ---------------------------------------------------------------- answer forms
SCHEMA = {
    "type": "object",
    "properties": {"amount": {"type": "number", "minimum": 0}, "currency": {"enum": ["EUR", "USD"]}},
    "required": ["amount"],
    "additionalProperties": False,
}


def test_an_invalid_schema_is_refused_at_creation(api):
    reply = api.post(
        "/interventions",
        REQUESTER,
        {"uow_id": "u", "type": "approval", "title": "t", "response_schema": {"type": "nubmer"}},
    )
    assert reply.status == 422 and reply.body["details"][0]["loc"][:2] == ["body", "response_schema"]


@pytest.mark.parametrize(
    ("response", "path"),
    [
        (None, ["body", "response"]),
        ({"currency": "EUR"}, ["body", "response"]),
        ({"amount": -1}, ["body", "response", "amount"]),
    ],
)
def test_an_answer_that_does_not_fit_the_schema_is_422_naming_the_path(api, response, path):
    iv = api.create(response_schema=SCHEMA)
    reply = approve(api, iv, OPERATOR, **({} if response is None else {"response": response}))
    assert reply.status == 422 and reply.body["code"] == "validation_error"
    assert reply.body["details"][0]["loc"][: len(path)] == path
    assert api.get(f"/interventions/{iv['id']}", VIEWER).body["status"] == "PENDING"


def test_a_fitting_answer_is_stored_and_the_schema_is_shown(api):
    iv = api.create(response_schema=SCHEMA)
    assert api.get(f"/interventions/{iv['id']}", VIEWER).body["response_schema"] == SCHEMA
    reply = approve(api, iv, OPERATOR, response={"amount": 12.5, "currency": "EUR"})
    assert reply.status == 200 and reply.body["response"] == {"amount": 12.5, "currency": "EUR"}


# ---------------------------------------------------------------- escalation
def test_an_unclaimed_request_escalates_once_to_the_role_and_priority(api, clock):
    iv = api.create(priority="low", escalation={"after_seconds": 600, "to_role": "oncall", "priority": "critical"})
    others = [api.create(priority="high", uow_id=f"other-{n}") for n in range(2)]
    oncall = user("pager-1", "oncall")
    assert api.post(f"/interventions/{iv['id']}/claim", oncall).status == 403
    clock.advance(seconds=599)
    assert sweep().escalated == 0
    clock.advance(seconds=2)
    assert sweep().escalated == 1
    assert sweep().escalated == 0  # once
    escalated = api.get(f"/interventions/{iv['id']}", VIEWER).body
    assert escalated["priority"] == "critical" and escalated["escalated_at"] is not None
    queue = [item["id"] for item in api.get("/interventions", VIEWER).body["items"]]
    assert queue[0] == iv["id"] and set(queue[1:]) == {o["id"] for o in others}  # was last: low
    last = events(api, iv)[-1]
    assert (last["action"], last["actor"], last["from_status"], last["to_status"]) == (
        "escalate",
        "system",
        "PENDING",
        "PENDING",
    )
    assert api.post(f"/interventions/{iv['id']}/claim", oncall).status == 200
    assert approve(api, iv, oncall).body["status"] == "APPROVED"
    by_priority = api.get("/stats", VIEWER).body["interventions"]["by_priority"]
    assert (by_priority["critical"], by_priority["low"], by_priority["high"]) == (1, 0, 2)


def test_a_claim_before_the_escalation_wins(api, clock):
    iv = api.create(escalation={"after_seconds": 600, "priority": "critical"})
    clock.advance(seconds=599)
    assert api.post(f"/interventions/{iv['id']}/claim", OPERATOR).status == 200
    clock.advance(seconds=2)
    assert sweep().escalated == 0
    claimed = api.get(f"/interventions/{iv['id']}", VIEWER).body
    assert (claimed["priority"], claimed["escalated_at"]) == ("normal", None)
    assert "escalate" not in [e["action"] for e in events(api, iv)]


def test_an_escalation_never_lowers_the_priority(api):
    reply = api.post(
        "/interventions",
        REQUESTER,
        {
            "uow_id": "u",
            "type": "approval",
            "title": "t",
            "priority": "high",
            "escalation": {"after_seconds": 60, "priority": "low"},
        },
    )
    assert reply.status == 422


# ---------------------------------------------------------------- delegation and comments
def test_an_admin_assigns_and_the_assignee_hands_it_on(api):
    iv = api.create()
    assert api.post(f"/interventions/{iv['id']}/assign", OPERATOR, {"user": "pilot-bo"}).status == 403
    assigned = api.post(f"/interventions/{iv['id']}/assign", ADMIN, {"user": "pilot-ana"})
    assert assigned.status == 200
    assert (assigned.body["status"], assigned.body["assigned_to"]) == ("IN_PROGRESS", "pilot-ana")
    handed = api.post(f"/interventions/{iv['id']}/assign", OPERATOR, {"user": "pilot-bo"}).body
    assert handed["assigned_to"] == "pilot-bo"
    assert approve(api, iv, OPERATOR).status == 403  # no longer the assignee
    assert approve(api, iv, OPERATOR_2).body["status"] == "APPROVED"
    assigns = [e for e in events(api, iv) if e["action"] == "assign"]
    assert [(e["actor"], e["reason"]) for e in assigns] == [
        ("root-cy", "Assigned to pilot-ana"),
        ("pilot-ana", "Assigned to pilot-bo"),
    ]


def test_assigning_to_the_creator_or_a_closed_request_is_refused(api):
    iv = api.create()
    creator = api.post(f"/interventions/{iv['id']}/assign", ADMIN, {"user": "agent-7"})
    assert creator.status == 422 and creator.body["details"][0]["loc"] == ["body", "user"]
    assert api.post(f"/interventions/{iv['id']}/cancel", REQUESTER).status == 200
    closed = api.post(f"/interventions/{iv['id']}/assign", ADMIN, {"user": "pilot-bo"})
    assert (closed.status, closed.body["code"]) == (409, "invalid_transition")
    assert api.post(f"/interventions/{iv['id']}/assign", ADMIN, {}).status == 422


def test_comments_join_the_trail_in_any_state_and_move_no_counter(api):
    iv = api.create()
    comment = api.post(f"/interventions/{iv['id']}/comments", VIEWER, {"text": "Who owns this?"})
    assert comment.status == 201
    assert (comment.body["actor"], comment.body["text"]) == ("watcher-di", "Who owns this?")
    before = api.get("/stats", VIEWER).body
    assert approve(api, iv, OPERATOR).status == 200
    after_comment = api.post(f"/interventions/{iv['id']}/comments", REQUESTER, {"text": "Thanks"})
    assert after_comment.status == 201
    record = api.get(f"/interventions/{iv['id']}", VIEWER).body
    assert record["status"] == "APPROVED"
    trail = events(api, iv)
    comments = [(e["actor"], e["reason"], e["from_status"], e["to_status"]) for e in trail if e["action"] == "comment"]
    assert comments == [
        ("watcher-di", "Who owns this?", "PENDING", "PENDING"),
        ("agent-7", "Thanks", "APPROVED", "APPROVED"),
    ]
    stats = api.get("/stats", VIEWER).body["interventions"]
    assert stats["by_status"]["APPROVED"] == 1 and stats["total"] == before["interventions"]["total"]
    assert api.post(f"/interventions/{iv['id']}/comments", VIEWER, {"text": ""}).status == 422


def test_other_tenants_cannot_comment_or_assign(api):
    iv = api.create()
    stranger = user("pilot-x", "admin", tenant="globex")
    assert api.post(f"/interventions/{iv['id']}/comments", stranger, {"text": "hi"}).status == 404
    assert api.post(f"/interventions/{iv['id']}/assign", stranger, {"user": "pilot-x"}).status == 404
    assert api.post(f"/interventions/{iv['id']}/comments", user("nobody", tenant="acme"), {"text": "hi"}).status == 403


def _metric_total(text: str, name: str) -> float:
    import json

    total = 0.0
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if "_aws" in record and name in record:
            values = record[name]
            total += sum(values) if isinstance(values, list) else values
    return total


def test_a_quorum_is_decided_once_in_the_metrics(api, capsys):
    iv = api.create(required_approvals=3)
    capsys.readouterr()
    for operator in OPERATORS[:3]:
        assert approve(api, iv, operator).status == 200
    out = capsys.readouterr().out
    assert (_metric_total(out, "InterventionApproved"), _metric_total(out, "InterventionDecided")) == (3, 1)


def test_the_count_still_needed_is_derived_on_read_never_stored(api, dynamodb):
    iv = api.create(required_approvals=2)
    item = dynamodb.get_item(
        TableName="OversightTable", Key={"pk": {"S": f"T#acme#INT#{iv['id']}"}, "sk": {"S": "#META"}}
    )["Item"]
    assert "approvals_needed" not in item and "required_approvals" in item
    assert api.get(f"/interventions/{iv['id']}", VIEWER).body["approvals_needed"] == 2
