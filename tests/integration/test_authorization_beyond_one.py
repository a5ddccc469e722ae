"""Who may claim and decide once an intervention escalates or needs a
quorum: the cells test_authorization_matrix.py cannot hold, because they
need fixtures its table does not build (a sweep that escalated the record,
approvals already given).

The rules (SPEC.md "Decisions beyond one approver"):

- after an escalation (`escalated_at` set) holders of `escalation.to_role`
  may claim, approve and reject as holders of `required_role` do; before it
  they may not (403). The escalation stays: a release does not undo it;
  without a `to_role` nobody new may act. Never the creator; another
  tenant's caller gets 404;
- with `required_approvals` > 1 any eligible user may approve or reject,
  claimed or not; with one, a claim keeps the others out (403); the same
  user approving twice is 409 `conflict`.

One row per cell (SCENARIOS builds the record, CALLERS names who acts).
A refused request must leave every item of the table as it was; a 2xx
must show its effect on the record and its audit trail.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from oversight import sweep as sweep_module
from tests.conftest import TEMPLATE
from tests.support import user

HOME = "acme"
CREATOR = user("owner-1", "requester", "operator", "legal", tenant=HOME)  # holds every role a decider needs
CLAIMANT = user("pilot-bo", "operator", tenant=HOME)
CALLERS = {
    "operator": user("pilot-ana", "operator", tenant=HOME),
    "claimant": CLAIMANT,
    "legal": user("lex-1", "legal", tenant=HOME),
    "legal_2": user("lex-2", "legal", tenant=HOME),
    "oncall": user("pager-1", "oncall", tenant=HOME),  # a role the escalation does not name
    "viewer": user("watcher-di", "viewer", tenant=HOME),
    "admin": user("root-cy", "admin", tenant=HOME),
    "creator": CREATOR,
    # The same subs and roles in another tenant: what differs is the tenant alone.
    "foreign_legal": user("lex-1", "legal", tenant="globex"),
    "foreign_operator": user("pilot-ana", "operator", tenant="globex"),
}
TO_LEGAL = {"after_seconds": 600, "to_role": "legal"}
BODIES = {"claim": None, "release": None, "approve": {"reason": "Looks right"}, "reject": {"reason": "Not this one"}}


def sweep() -> sweep_module.SweepReport:
    return sweep_module.run_sweep(lambda: 60_000)


def ok(reply: Any) -> dict[str, Any]:
    assert reply.status == 200, reply.body
    return reply.body


def act(api: Any, iv: dict[str, Any], action: str, claims: dict[str, Any]) -> Any:
    return api.post(f"/interventions/{iv['id']}/{action}", claims, BODIES[action])


# ------------------------------------------------------------------ fixtures
def escalation_due(api: Any, clock: Any) -> dict[str, Any]:
    """PENDING, one second before its escalation to `legal`: the sweep has run and left it alone."""
    iv = api.create(CREATOR, escalation=TO_LEGAL)
    clock.advance(seconds=599)
    assert sweep().escalated == 0
    record = api.get(f"/interventions/{iv['id']}", CREATOR).body
    assert record["escalated_at"] is None
    return record


def escalated(api: Any, clock: Any, **fields: Any) -> dict[str, Any]:
    """PENDING, escalated to `legal` by the sweep."""
    iv = api.create(CREATOR, escalation=TO_LEGAL, **fields)
    clock.advance(seconds=601)
    assert sweep().escalated == 1
    record = api.get(f"/interventions/{iv['id']}", CREATOR).body
    assert record["escalated_at"] is not None
    return record


def escalated_without_role(api: Any, clock: Any) -> dict[str, Any]:
    """Escalated by priority alone: no role is named to take over."""
    iv = api.create(CREATOR, escalation={"after_seconds": 600, "priority": "high"})
    clock.advance(seconds=601)
    assert sweep().escalated == 1
    return api.get(f"/interventions/{iv['id']}", CREATOR).body


def escalated_then_released(api: Any, clock: Any) -> dict[str, Any]:
    """Escalated, claimed by an operator, released: PENDING again, still escalated."""
    iv = escalated(api, clock)
    ok(act(api, iv, "claim", CLAIMANT))
    return ok(act(api, iv, "release", CLAIMANT))


def escalated_claimed(api: Any, clock: Any) -> dict[str, Any]:
    """Escalated and claimed by a holder of the escalation's role (one approver needed)."""
    iv = escalated(api, clock)
    return ok(act(api, iv, "claim", CALLERS["legal_2"]))


def escalated_quorum(api: Any, clock: Any) -> dict[str, Any]:
    return escalated(api, clock, required_approvals=2)


def quorum_claimed(api: Any, clock: Any) -> dict[str, Any]:
    """Two approvals needed, claimed by pilot-bo, none given yet."""
    iv = api.create(CREATOR, required_approvals=2)
    return ok(act(api, iv, "claim", CLAIMANT))


def quorum_half_approved(api: Any, clock: Any) -> dict[str, Any]:
    """Three approvals needed, claimed by pilot-bo; pilot-ana and pilot-bo approved: one to go."""
    iv = api.create(CREATOR, required_approvals=3)
    ok(act(api, iv, "claim", CLAIMANT))
    ok(act(api, iv, "approve", CALLERS["operator"]))
    record = ok(act(api, iv, "approve", CLAIMANT))
    assert (record["status"], record["approvals_needed"]) == ("IN_PROGRESS", 1)
    return record


def single_claimed(api: Any, clock: Any) -> dict[str, Any]:
    """One approval needed, claimed by pilot-bo: the contrast to a quorum."""
    iv = api.create(CREATOR)
    return ok(act(api, iv, "claim", CLAIMANT))


SCENARIOS: dict[str, Callable[[Any, Any], dict[str, Any]]] = {
    "escalation_due": escalation_due,
    "escalated": escalated,
    "escalated_without_role": escalated_without_role,
    "escalated_then_released": escalated_then_released,
    "escalated_claimed": escalated_claimed,
    "escalated_quorum": escalated_quorum,
    "quorum_claimed": quorum_claimed,
    "quorum_half_approved": quorum_half_approved,
    "single_claimed": single_claimed,
}

# ---------------------------------------------------------------------- table
# scenario, caller, action, expected status and, for an error, its code.
CELLS = """
# before the escalation, the role it names is no better than any other
escalation_due           legal             claim    403 forbidden
escalation_due           legal             approve  403 forbidden
escalation_due           legal             reject   403 forbidden
escalation_due           operator          claim    200

# after it, holders of that role act as holders of the required role do; the rest as before
escalated                legal             claim    200
escalated                legal             approve  200
escalated                legal             reject   200
escalated                operator          approve  200
escalated                oncall            claim    403 forbidden
escalated                oncall            approve  403 forbidden
escalated                viewer            approve  403 forbidden
escalated                creator           claim    403 forbidden
escalated                creator           approve  403 forbidden
escalated                foreign_legal     claim    404 not_found
escalated                foreign_legal     approve  404 not_found

# an escalation that names no role lets nobody new in
escalated_without_role   legal             claim    403 forbidden
escalated_without_role   legal             approve  403 forbidden
escalated_without_role   operator          approve  200

# the escalation outlives a claim and a release
escalated_then_released  legal             claim    200
escalated_then_released  legal             approve  200

# one approver needed: once claimed, only the assignee or an admin, escalation or not
escalated_claimed        legal             approve  403 forbidden
escalated_claimed        legal_2           approve  200
escalated_claimed        admin             approve  200

# an escalated quorum: the escalation's role counts towards it
escalated_quorum         legal             approve  200
escalated_quorum         oncall            approve  403 forbidden

# a quorum: a claim does not keep the other eligible users out
quorum_claimed           operator          approve  200
quorum_claimed           operator          reject   200
quorum_claimed           claimant          approve  200
quorum_claimed           admin             approve  200
quorum_claimed           legal             approve  403 forbidden
quorum_claimed           viewer            approve  403 forbidden
quorum_claimed           creator           approve  403 forbidden
quorum_claimed           foreign_operator  approve  404 not_found

# the same user twice is a conflict, assignee or not; the last one missing completes it
quorum_half_approved     operator          approve  409 conflict
quorum_half_approved     claimant          approve  409 conflict
quorum_half_approved     admin             approve  200
quorum_half_approved     legal             approve  403 forbidden
quorum_half_approved     foreign_operator  approve  404 not_found

# one approver needed: the claim keeps the others out
single_claimed           operator          approve  403 forbidden
single_claimed           operator          reject   403 forbidden
single_claimed           claimant          approve  200
"""


def parse_cells(text: str) -> dict[tuple[str, str, str], tuple[int, str | None]]:
    table: dict[tuple[str, str, str], tuple[int, str | None]] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        scenario, caller, action, status, *code = line.split()
        assert (scenario, caller, action) not in table, f"duplicate row {line}"
        table[(scenario, caller, action)] = (int(status), code[0] if code else None)
    return table


EXPECTED = parse_cells(CELLS)


def table_items(dynamodb: Any) -> list[dict[str, Any]]:
    """Every item of the main table (records, events, counters), in key order."""
    rows: list[dict[str, Any]] = []
    request = {"TableName": TEMPLATE.physical_name("OversightTable")}
    while True:
        page = dynamodb.scan(**request)
        rows += page["Items"]
        if "LastEvaluatedKey" not in page:
            return sorted(rows, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def check_effect(api: Any, before: dict[str, Any], action: str, sub: str, after: dict[str, Any]) -> None:
    """What a 2xx must show: the move the action makes, stored, and on the trail."""
    assert after["version"] == before["version"] + 1
    if action == "claim":
        assert (after["status"], after["assigned_to"]) == ("IN_PROGRESS", sub)
    elif action == "reject":
        assert (after["status"], after["decided_by"]) == ("REJECTED", sub)
    else:  # approve: one more approval; the one that completes the quorum decides
        assert [a["user"] for a in after["approvals"]] == [a["user"] for a in before["approvals"]] + [sub]
        if len(after["approvals"]) == before["required_approvals"]:
            assert (after["status"], after["decided_by"], after["approvals_needed"]) == ("APPROVED", sub, 0)
        else:
            assert (after["status"], after["assigned_to"]) == (before["status"], before["assigned_to"])
            assert after["approvals_needed"] == before["approvals_needed"] - 1
    assert api.get(f"/interventions/{before['id']}", CREATOR).body == after
    last = api.get(f"/interventions/{before['id']}/events", CREATOR).body["items"][-1]
    assert (last["action"], last["actor"], last["from_status"], last["to_status"]) == (
        action,
        sub,
        before["status"],
        after["status"],
    )


@pytest.mark.parametrize(("scenario", "caller", "action"), [pytest.param(*key, id="-".join(key)) for key in EXPECTED])
def test_who_may_act_beyond_one_approver(api, clock, dynamodb, scenario, caller, action):
    status, code = EXPECTED[(scenario, caller, action)]
    before = SCENARIOS[scenario](api, clock)
    items = table_items(dynamodb)
    claims = CALLERS[caller]

    reply = act(api, before, action, claims)

    assert reply.status == status, f"expected {status} {code or ''}, got {reply.status} {reply.body}"
    if status >= 400:
        assert reply.body["code"] == code, reply.body
        assert table_items(dynamodb) == items, "a refused request changed stored data"
    else:
        check_effect(api, before, action, claims["sub"], reply.body)


def test_the_table_names_known_scenarios_callers_and_actions():
    assert {scenario for scenario, _, _ in EXPECTED} == set(SCENARIOS), "a scenario without rows, or rows without one"
    assert {caller for _, caller, _ in EXPECTED} <= set(CALLERS)
    assert {action for _, _, action in EXPECTED} <= set(BODIES)
    for key, (status, code) in EXPECTED.items():
        expected_codes = {403: {"forbidden"}, 404: {"not_found"}, 409: {"conflict", "invalid_transition", "expired"}}
        assert (code is None) if status < 400 else (code in expected_codes[status]), key


def test_one_user_approves_once_and_the_quorum_still_needs_another(api):
    """The same user in a row, on an unclaimed quorum: the second is 409 and adds nothing."""
    iv = api.create(CREATOR, required_approvals=2)
    operator = CALLERS["operator"]
    first = ok(act(api, iv, "approve", operator))
    again = act(api, iv, "approve", operator)
    assert (again.status, again.body["code"]) == (409, "conflict")
    record = api.get(f"/interventions/{iv['id']}", CREATOR).body
    assert record == first and (record["status"], record["approvals_needed"]) == ("PENDING", 1)
    trail = api.get(f"/interventions/{iv['id']}/events", CREATOR).body["items"]
    assert [e["action"] for e in trail] == ["create", "approve"]
    assert ok(act(api, iv, "approve", CLAIMANT))["status"] == "APPROVED"
