"""Decisions beyond one approver in a browser: a quorum's count in the inbox
and the detail (each approver once, claimed or not), the answer form drawn
from a `response_schema` (the page's own checks, then the API's 422 beside
its field, then the stored answer), Assign (an admin hands a request to a
user, who finds it under "Assigned to me", and hands it on), comments in the
audit trail of open and closed requests, the default at expiry and the
escalation in words; the new actions enabled exactly as the API allows them."""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, Request, Route, expect

from tests.browser.conftest import Api, PageFactory, has_horizontal_scroll, screenshot, sign_in
from tests.browser.pages import actions, create, fresh_tenant, open_detail, row
from tests.e2e.runtime_process import bearer

pytestmark = pytest.mark.browser


# Counts the CSP's refusals in the page (an inline style or script would fire one), as test_console_security does.
VIOLATION_PROBE = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def trail(page: Page):  # noqa: ANN201 - a Locator
    return page.get_by_role("list", name="Audit trail, oldest first").get_by_role("listitem")


def events(api: Api, record: dict[str, Any], tenant: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get(
        f"/interventions/{record['id']}/events", bearer("ada", "admin", tenant=tenant)
    )["items"]
    return items


def test_a_quorum_counts_in_the_inbox_and_the_detail_and_each_approver_counts_once(
    page: Page, new_page: PageFactory, api: Api
) -> None:
    # Given a request that needs three approvals, and an operator's inbox
    tenant = fresh_tenant()
    record = create(api, tenant, "Rotate the signing keys", required_approvals=3, priority="high")
    assert (record["required_approvals"], record["approvals"], record["approvals_needed"]) == (3, [], 3)
    sign_in(page, "olga", "operator", tenant)

    # Then its row says 0 of 3 in the Approvals column
    approvals_cell = row(page, "Rotate the signing keys").locator("td[data-label='Approvals']")
    expect(approvals_cell).to_have_text("0 of 3")
    expect(page.get_by_role("columnheader", name="Approvals")).to_be_visible()

    # When the operator opens it, the detail says how many are required and how many remain
    row(page, "Rotate the signing keys").get_by_role("link").click()
    expect(page.get_by_role("region", name="Approvals (0 of 3)")).to_contain_text("3 more approvals needed")

    # When they approve with a reason (written as HTML, shown as text)
    page.get_by_label("Reason").fill("Checked the <b>rotation</b> plan")
    actions(page).get_by_role("button", name="Approve").click()

    # Then it stays open with 1 of 3, their approval listed, and they cannot approve twice
    approvals = page.get_by_role("region", name="Approvals (1 of 3)")
    expect(approvals).to_contain_text("2 more approvals needed")
    listed = approvals.get_by_role("list", name="Approvals, oldest first").get_by_role("listitem")
    expect(listed).to_have_count(1)
    expect(listed.first).to_contain_text("olga")
    expect(listed.first).to_contain_text("Checked the <b>rotation</b> plan")
    assert page.locator("main b").count() == 0
    expect(page.locator(".chips").get_by_text("pending", exact=True)).to_be_visible()
    approve = actions(page).get_by_role("button", name="Approve")
    expect(approve).to_be_disabled()
    expect(approve).to_have_accessible_description("You approved already")
    expect(page.get_by_role("status").filter(has_text="recorded (1 of 3)")).to_have_count(1)
    stored = api.get(f"/interventions/{record['id']}", bearer("olga", "operator", tenant=tenant))
    assert (stored["status"], [a["user"] for a in stored["approvals"]], stored["approvals_needed"]) == (
        "PENDING",
        ["olga"],
        2,
    )
    # ... as the API says too: a second approval by the same user is a conflict
    again = requests.post(
        f"{api.url}/interventions/{record['id']}/approve",
        headers=bearer("olga", "operator", tenant=tenant),
        json={"reason": "twice"},
        timeout=10,
    )
    assert (again.status_code, again.json()["code"]) == (409, "conflict")

    # Back in the inbox the row reads 1 of 3, and why olga has nothing left to do
    page.get_by_role("link", name="← Inbox").click()
    expect(approvals_cell).to_have_text("1 of 3")
    expect(row(page, "Rotate the signing keys")).to_contain_text("Cannot act: you approved already")

    # When another operator claims it, a third still approves (a quorum takes any eligible approver), on a phone
    api.post(f"/interventions/{record['id']}/claim", bearer("oscar", "operator", tenant=tenant))
    phone = new_page(390, 844)
    open_detail(phone, record, "pat", "operator", tenant)
    expect(actions(phone).get_by_role("button", name="Approve")).to_be_enabled()
    phone.get_by_label("Reason").fill("Keys rotate monthly anyway")
    actions(phone).get_by_role("button", name="Approve").click()
    expect(phone.get_by_role("region", name="Approvals (2 of 3)")).to_contain_text("1 more approval needed")
    assert not has_horizontal_scroll(phone)

    # When the assignee adds the third, the quorum is reached: the open page follows without a reload
    api.post(f"/interventions/{record['id']}/approve", bearer("oscar", "operator", tenant=tenant), {"reason": "Third"})
    expect(phone.get_by_role("region", name="Approvals (3 of 3)")).to_contain_text("The quorum was reached")
    expect(phone.locator(".chips").get_by_text("approved", exact=True)).to_be_visible()
    # The trail has one event per approval, each counted
    texts = [text.lower() for text in trail(phone).all_inner_texts()]
    assert [text.split()[0] for text in texts] == ["created", "approved", "claimed", "approved", "approved"]
    assert "(1 of 3) by olga" in texts[1] and "(2 of 3) by pat" in texts[3] and "(3 of 3) by oscar" in texts[4]
    assert [event["action"] for event in events(api, record, tenant)] == [
        "create",
        "approve",
        "claim",
        "approve",
        "approve",
    ]


AMOUNT_SCHEMA = {
    "type": "object",
    "properties": {
        # A refund of nothing is no refund: the page checks the minimum, only the API knows the `not`.
        "amount": {"type": "number", "title": "Amount", "minimum": 0, "not": {"const": 0}},
        "currency": {"enum": ["EUR", "USD"], "title": "Currency"},
        "note": {"type": "string", "title": "Note", "maxLength": 200},
    },
    "required": ["amount", "currency"],
}


def test_a_response_schema_draws_its_form_and_the_api_s_422_lands_beside_its_field(page: Page, api: Api) -> None:
    # Given a request whose answer must follow a schema with a number and an enum
    tenant = fresh_tenant()
    record = create(api, tenant, "How much to refund?", type="clarification", response_schema=AMOUNT_SCHEMA)
    assert record["response_schema"] == AMOUNT_SCHEMA
    open_detail(page, record, "olga", "operator", tenant)
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)

    # Then the form replaces the free JSON answer: a number field, a select of the enum, required ones marked
    expect(page.get_by_label("Answer (JSON, optional)")).to_have_count(0)
    amount = page.get_by_label("Amount")
    currency = page.get_by_label("Currency")
    expect(amount).to_have_attribute("type", "number")
    expect(amount).to_have_attribute("aria-required", "true")
    assert currency.evaluate("node => node.tagName") == "SELECT"
    assert [option.strip() for option in currency.locator("option").all_inner_texts()] == ["— choose —", "EUR", "USD"]

    # When a required field is left empty, the page says so and sends nothing
    page.get_by_label("Reason").fill("Customer kept the parcel")
    amount.fill("-5")
    actions(page).get_by_role("button", name="Approve").click()
    expect(actions(page).get_by_role("alert")).to_contain_text("The answer has errors")
    expect(amount).to_have_accessible_description(re.compile("At least 0"))
    expect(currency).to_have_accessible_description(re.compile("Choose one"))
    assert posts == []

    # When a value passes the page but not the schema, the API's 422 comes back beside that field, its path named
    amount.fill("0")
    currency.select_option(label="EUR")
    actions(page).get_by_role("button", name="Approve").click()
    expect(actions(page).get_by_role("alert")).to_contain_text("response.amount")
    expect(amount).to_have_attribute("aria-invalid", "true")
    expect(amount).to_have_accessible_description(re.compile(r"\S"))
    expect(currency).not_to_have_attribute("aria-invalid", "true")
    assert len(posts) == 1 and posts[0].endswith("/approve")
    assert api.get(f"/interventions/{record['id']}", bearer("olga", "operator", tenant=tenant))["status"] == "PENDING"

    # When the value is valid, it approves and the stored answer is shown
    amount.fill("25.5")
    page.get_by_label("Note").fill("Goodwill")
    actions(page).get_by_role("button", name="Approve").click()
    expect(page.locator(".chips").get_by_text("approved", exact=True)).to_be_visible()
    response = page.get_by_role("region", name="Response")
    expect(response).to_contain_text("25.5")
    expect(response).to_contain_text('"EUR"')
    stored = api.get(f"/interventions/{record['id']}", bearer("olga", "operator", tenant=tenant))
    assert (stored["status"], stored["response"]) == (
        "APPROVED",
        {"amount": 25.5, "currency": "EUR", "note": "Goodwill"},
    )
    assert stored["approvals"][0]["response"] == stored["response"]


def test_a_schema_the_form_cannot_draw_keeps_the_json_answer(page: Page, api: Api) -> None:
    tenant = fresh_tenant()
    schema = {"type": "array", "items": {"type": "string"}, "minItems": 1}
    record = create(api, tenant, "Which regions?", type="clarification", response_schema=schema)
    open_detail(page, record, "olga", "operator", tenant)
    answer = page.get_by_label("Answer (JSON)", exact=True)
    expect(answer).to_be_visible()
    page.get_by_label("Reason").fill("These two")
    # An answer of the wrong shape: the API's message is placed under the JSON box
    answer.fill("[]")
    actions(page).get_by_role("button", name="Approve").click()
    expect(answer).to_have_attribute("aria-invalid", "true")
    expect(answer).to_have_accessible_description(re.compile("response: "))
    answer.fill('["eu-west-1", "us-east-1"]')
    actions(page).get_by_role("button", name="Approve").click()
    expect(page.get_by_role("region", name="Response")).to_contain_text('"us-east-1"')


def test_an_admin_assigns_a_request_and_the_user_finds_it_assigned_to_them(
    page: Page, new_page: PageFactory, api: Api
) -> None:
    # Given a pending request, and an operator who is not the admin
    tenant = fresh_tenant()
    record = create(api, tenant, "Reconcile the ledger")
    olga = new_page()
    open_detail(olga, record, "olga", "operator", tenant)
    # Then Assign is not offered to someone who may not assign (neither admin nor the assignee)
    expect(olga.get_by_role("button", name="Assign")).to_be_hidden()
    expect(olga.get_by_label("User")).to_be_hidden()

    # When the admin opens it and names its creator, the page refuses before sending
    open_detail(page, record, "ada", "admin", tenant)
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    user = page.get_by_label("User")
    user.fill("rita")
    page.get_by_role("button", name="Assign").click()
    expect(user).to_have_accessible_description(re.compile("rita created it"))
    assert posts == []

    # When the admin assigns it to bob
    user.fill("bob")
    page.get_by_role("button", name="Assign").click()

    # Then it is in progress for bob, and the trail says who assigned it to whom
    expect(page.locator(".chips").get_by_text("in progress", exact=True)).to_be_visible()
    expect(page.get_by_role("region", name="Fields")).to_contain_text("bob")
    assigned = trail(page).last
    expect(assigned).to_contain_text("assigned by ada")
    expect(assigned).to_contain_text("bob")
    stored = api.get(f"/interventions/{record['id']}", bearer("ada", "admin", tenant=tenant))
    assert (stored["status"], stored["assigned_to"]) == ("IN_PROGRESS", "bob")
    assert events(api, record, tenant)[-1]["action"] == "assign"

    # And bob finds it under "Assigned to me"; olga does not
    bob = new_page()
    sign_in(bob, "bob", "operator", tenant)
    bob.get_by_role("link", name="Assigned to me").click()
    expect(row(bob, "Reconcile the ledger")).to_be_visible()
    olga.get_by_role("link", name="← Inbox").click()
    olga.get_by_role("link", name="Assigned to me").click()
    expect(olga.get_by_text("No requests in “Assigned to me”")).to_be_visible()

    # As the assignee bob may hand it on, and then has nothing left to hand
    row(bob, "Reconcile the ledger").get_by_role("link").click()
    bob.get_by_label("User").fill("carl")
    bob.get_by_role("button", name="Assign").click()
    expect(bob.get_by_role("region", name="Fields")).to_contain_text("carl")
    expect(bob.get_by_role("button", name="Assign")).to_be_hidden()
    assert api.get(f"/interventions/{record['id']}", bearer("ada", "admin", tenant=tenant))["assigned_to"] == "carl"

    # On a closed request an admin sees Assign disabled, with the reason
    api.post(f"/interventions/{record['id']}/approve", bearer("carl", "operator", tenant=tenant), {"reason": "Done"})
    page.reload()
    expect(page.get_by_role("button", name="Assign")).to_have_accessible_description("Not possible: it is approved")


def test_comments_appear_in_the_trail_on_open_and_closed_requests(page: Page, new_page: PageFactory, api: Api) -> None:
    # Given an open request seen by an operator
    tenant = fresh_tenant()
    record = create(api, tenant, "Close the old incident")
    open_detail(page, record, "olga", "operator", tenant)

    # When they comment (text that looks like HTML)
    page.get_by_label("Comment").fill("Asked the on-call <i>first</i>")
    page.get_by_role("button", name="Comment").click()

    # Then the comment is in the trail with its author and text, the status unchanged, the field emptied
    comment = trail(page).last
    expect(comment).to_contain_text("commented by olga")
    expect(comment).to_contain_text("Asked the on-call <i>first</i>")
    assert page.locator("main i").count() == 0
    expect(page.get_by_label("Comment")).to_have_value("")
    expect(page.locator(".chips").get_by_text("pending", exact=True)).to_be_visible()
    last = events(api, record, tenant)[-1]
    assert (last["action"], last["actor"], last["reason"]) == ("comment", "olga", "Asked the on-call <i>first</i>")
    assert last["from_status"] == last["to_status"] == "PENDING"

    # When someone else comments through the API, the open page shows it without a reload
    api.post(f"/interventions/{record['id']}/comments", bearer("bob", "operator", tenant=tenant), {"text": "Seen"})
    expect(trail(page).last).to_contain_text("commented by bob", timeout=8000)

    # An empty comment is not sent
    page.get_by_role("button", name="Comment").click()
    expect(page.get_by_label("Comment")).to_have_accessible_description(re.compile("Write the comment first"))

    # On a closed request a viewer (who may decide nothing) still comments
    api.post(f"/interventions/{record['id']}/approve", bearer("olga", "operator", tenant=tenant), {"reason": "Closed"})
    viewer = new_page()
    open_detail(viewer, record, "vic", "viewer", tenant)
    expect(actions(viewer).get_by_role("button", name="Approve")).to_be_disabled()
    viewer.get_by_label("Comment").fill("Post-mortem next week")
    viewer.get_by_role("button", name="Comment").click()
    expect(trail(viewer).last).to_contain_text("commented by vic")
    expect(trail(viewer).last).to_contain_text("Post-mortem next week")
    last = events(api, record, tenant)[-1]
    assert (last["action"], last["from_status"], last["to_status"]) == ("comment", "APPROVED", "APPROVED")


def test_the_default_at_expiry_and_the_escalation_in_words(page: Page, api: Api) -> None:
    tenant = fresh_tenant()
    record = create(
        api,
        tenant,
        "Pause the nightly export",
        on_expiry="reject",
        expires_in_seconds=3600,
        escalation={"after_seconds": 600, "to_role": "oncall", "priority": "critical"},
    )
    open_detail(page, record, "olga", "operator", tenant)
    expect(page.get_by_role("region", name="Expiry")).to_contain_text(
        re.compile(r"Rejected by default at expiry: rejects automatically in (59|60) min")
    )
    escalation = page.get_by_role("region", name="Escalation")
    expect(escalation).to_contain_text(
        "Escalates after 10 min unclaimed, to the role oncall, raising the priority to critical"
    )
    expect(escalation).to_contain_text(re.compile(r"Not escalated yet: due in (9|10) min"))

    # Once escalated (the record as the sweep leaves it, shown to the page), an oncall holder may claim and decide
    current = api.get(f"/interventions/{record['id']}", bearer("ada", "admin", tenant=tenant))
    verdicts = page.evaluate(
        """async (record) => {
            const { permission } = await import("./assets/permissions.js");
            const user = { sub: "omar", roles: ["oncall"] };
            const escalated = { ...record, escalated_at: new Date().toISOString(), priority: "critical" };
            return {
                before: ["claim", "approve"].map((action) => permission(action, record, user)),
                after: ["claim", "approve"].map((action) => permission(action, escalated, user)),
            };
        }""",
        current,
    )
    assert [verdict["allowed"] for verdict in verdicts["before"]] == [False, False]
    assert verdicts["before"][0]["reason"] == "You lack the role operator until it escalates to oncall"
    assert [verdict["allowed"] for verdict in verdicts["after"]] == [True, True]


def test_an_escalated_request_reads_so(page: Page, api: Api) -> None:
    """The escalation's state as the page draws it, on the record the sweep leaves (shown to the page by the test:
    the sweep escalates after 60 s at the earliest)."""
    tenant = fresh_tenant()
    record = create(api, tenant, "Failover drill", escalation={"after_seconds": 60, "to_role": "oncall"})
    escalated_at = "2026-01-01T00:00:00Z"

    def escalated(route: Route, request: Request) -> None:
        response = route.fetch()
        if request.method != "GET" or response.status != 200:
            route.fulfill(response=response)
            return
        route.fulfill(response=response, json={**response.json(), "escalated_at": escalated_at})

    page.route(f"**/interventions/{record['id']}", escalated)
    open_detail(page, record, "omar", "oncall", tenant)
    expect(page.get_by_role("region", name="Escalation")).to_contain_text("Escalated")
    expect(page.locator(".chips").get_by_text("escalated", exact=True)).to_be_visible()
    expect(actions(page).get_by_role("button", name="Claim")).to_be_enabled()


def test_assign_comment_and_quorum_decisions_are_enabled_exactly_as_the_api_allows(page: Page, api: Api) -> None:
    """Assign and Comment on a request in three states, and Approve and Reject on a quorum of two in three states,
    for six users: what the console enables is what the API then accepts, each pair on a fresh record."""
    tenant = fresh_tenant()
    users = {
        "cara": ("requester", "operator"),  # the creator, also an operator
        "oscar": ("operator",),  # the assignee once claimed
        "olga": ("operator",),  # an approver already, in the "approved once" state
        "vic": ("viewer",),
        "ada": ("admin",),
        "fay": ("finance",),
    }
    creator = bearer("cara", "requester", "operator", tenant=tenant)
    oscar = bearer("oscar", "operator", tenant=tenant)
    olga = bearer("olga", "operator", tenant=tenant)
    setups: dict[str, tuple[dict[str, Any], list[tuple[dict[str, str], str, Any]]]] = {
        "pending": ({}, []),
        "claimed": ({}, [(oscar, "claim", None)]),
        "approved": ({}, [(oscar, "claim", None), (oscar, "approve", {"reason": "setup"})]),
        "quorum pending": ({"required_approvals": 2}, []),
        "quorum claimed": ({"required_approvals": 2}, [(oscar, "claim", None)]),
        "quorum approved once": ({"required_approvals": 2}, [(olga, "approve", {"reason": "setup"})]),
    }
    checks = {
        "pending": ("assign", "comment"),
        "claimed": ("assign", "comment"),
        "approved": ("assign", "comment"),
        "quorum pending": ("approve", "reject"),
        "quorum claimed": ("approve", "reject"),
        "quorum approved once": ("approve", "reject"),
    }
    cases = []
    for state, (fields, steps) in setups.items():
        for user in users:
            for action in checks[state]:
                record = api.post(
                    "/interventions", creator, {"uow_id": "matrix", "type": "approval", "title": state, **fields}
                )
                for who, step, body in steps:
                    api.post(f"/interventions/{record['id']}/{step}", who, body)
                current = api.get(f"/interventions/{record['id']}", bearer("ada", "admin", tenant=tenant))
                cases.append({"record": current, "user": user, "action": action, "roles": list(users[user])})
    sign_in(page, "ada", "admin", tenant)
    verdicts = page.evaluate(
        """async (cases) => {
            const { permission } = await import("./assets/permissions.js");
            return cases.map(({ record, user, action, roles }) => permission(action, record, { sub: user, roles }));
        }""",
        cases,
    )
    bodies = {
        "assign": {"user": "zed"},
        "comment": {"text": "matrix"},
        "approve": {"reason": "matrix"},
        "reject": {"reason": "matrix"},
    }
    disagreements = []
    for case, verdict in zip(cases, verdicts, strict=True):
        who = bearer(case["user"], *case["roles"], tenant=tenant)
        path = f"/interventions/{case['record']['id']}/{'comments' if case['action'] == 'comment' else case['action']}"
        reply = requests.post(f"{api.url}{path}", headers=who, json=bodies[case["action"]], timeout=10)
        assert reply.status_code in (200, 201, 403, 409), (path, reply.status_code, reply.text)
        if (reply.status_code in (200, 201)) != verdict["allowed"]:
            disagreements.append((case["record"]["title"], case["user"], case["action"], verdict, reply.text))
    assert disagreements == []
    assert all(verdict["reason"] for verdict in verdicts if not verdict["allowed"])


def test_screenshot_of_a_quorum_with_an_answer_form(page: Page, api: Api) -> None:
    tenant = "acme"
    record = create(
        api,
        tenant,
        "Refund order 10-4471 (EUR 180)",
        creator="support-agent",
        type="clarification",
        priority="high",
        description="The parcel was returned damaged. Two approvals are needed above EUR 100.",
        context={"order": "10-4471", "customer": "c-2231", "amount": 180, "currency": "EUR"},
        required_approvals=2,
        response_schema={
            "type": "object",
            "properties": {
                "amount": {"type": "number", "title": "Refund amount", "minimum": 0, "maximum": 180},
                "method": {"enum": ["original payment", "voucher"], "title": "Refund method"},
            },
            "required": ["amount", "method"],
        },
        escalation={"after_seconds": 1800, "to_role": "support-lead", "priority": "critical"},
    )
    api.post(
        f"/interventions/{record['id']}/approve",
        bearer("pilot-ben", "operator", tenant=tenant),
        {"reason": "Photos confirm the damage", "response": {"amount": 180, "method": "original payment"}},
    )
    api.post(
        f"/interventions/{record['id']}/comments",
        bearer("pilot-ben", "operator", tenant=tenant),
        {"text": "Second approver: please check the courier's report"},
    )
    open_detail(page, record, "pilot-ana", "operator", tenant)
    expect(page.get_by_role("region", name="Approvals (1 of 2)")).to_be_visible()
    page.get_by_label("Reason").fill("Courier report agrees")
    assert screenshot(page, "decisions", full_page=True).stat().st_size > 10_000


def test_everything_of_a_decision_fits_a_phone(phone_page: Page, api: Api) -> None:
    """A quorum, an answer form, a default at expiry, an escalation, Assign and a long comment, at 390 px and within
    the CSP."""
    tenant = fresh_tenant()
    record = create(
        api,
        tenant,
        "Approve the quarterly access review for the finance systems",
        required_approvals=2,
        response_schema=AMOUNT_SCHEMA,
        on_expiry="reject",
        escalation={"after_seconds": 900, "to_role": "security-lead", "priority": "critical"},
    )
    api.post(f"/interventions/{record['id']}/claim", bearer("oscar", "operator", tenant=tenant))
    api.post(
        f"/interventions/{record['id']}/approve",
        bearer("olga", "operator", tenant=tenant),
        {"reason": "Reviewed all 48 accounts", "response": {"amount": 48, "currency": "EUR"}},
    )
    api.post(
        f"/interventions/{record['id']}/comments",
        bearer("olga", "operator", tenant=tenant),
        {"text": "https://wiki.example.com/access-reviews/2026-q4/finance-systems-without-any-break-in-it"},
    )
    phone_page.add_init_script(VIOLATION_PROBE)
    open_detail(phone_page, record, "ada", "admin", tenant)
    expect(phone_page.get_by_role("region", name="Approvals (1 of 2)")).to_be_visible()
    expect(phone_page.get_by_label("Amount")).to_be_visible()
    expect(phone_page.get_by_label("User")).to_be_visible()
    expect(phone_page.get_by_label("Comment")).to_be_visible()
    assert not has_horizontal_scroll(phone_page)
    # The panel is part of the page there (not a box of its own that scrolls): Assign is reached by scrolling the page
    assign = phone_page.get_by_role("button", name="Assign")
    assert assign.evaluate("node => node.closest('aside').scrollHeight <= node.closest('aside').clientHeight")
    # Drawn within the CSP: no inline style or script anywhere in it
    assert phone_page.evaluate("window.__violations") == []
