"""A request's detail in a browser: every field, the description as text,
context as collapsible JSON, the gated job, the audit trail newest last; the
actions enabled exactly as the API allows them (checked against the API
itself), a JSON answer checked before it is sent, a 409 explained and the page
refreshed, a 503 retried with a notice; the README's screenshot of a detail."""

from __future__ import annotations

import json
import re

import pytest
import requests
from playwright.sync_api import Page, Request, Route, expect

from tests.browser.conftest import Api, screenshot, sign_in
from tests.browser.pages import actions, create, fresh_tenant, open_detail
from tests.e2e.runtime_process import bearer

pytestmark = pytest.mark.browser

ACTIONS = ("claim", "release", "approve", "reject", "cancel", "complete")
LABELS = {action: action.capitalize() for action in ACTIONS}


def test_every_field_the_description_as_text_json_and_the_audit_trail(page: Page, api: Api) -> None:
    # Given a request with a multi-line HTML-looking description and nested context, claimed, released, claimed again
    tenant = fresh_tenant()
    description = "Line one\n  <b>not bold</b>\nLine three"
    record = create(
        api,
        tenant,
        "Everything shown",
        description=description,
        priority="high",
        context={"run": {"id": 42, "steps": ["fetch", "load"]}, "dry_run": False, "note": None},
    )
    operator = bearer("olga", "operator", tenant=tenant)
    for action in ("claim", "release", "claim"):
        api.post(f"/interventions/{record['id']}/{action}", operator)
    current = api.get(f"/interventions/{record['id']}", operator)

    # When the operator opens it
    open_detail(page, record, "olga", "operator", tenant)

    # Then every field of the API's record is listed (the long texts in sections of their own)
    fields = page.get_by_role("region", name="Fields")
    for name, value in current.items():
        if name in ("title", "description", "context", "response"):
            continue
        label = name.replace("_", " ")
        expect(fields.get_by_text(label[0].upper() + label[1:], exact=True)).to_be_visible()
        if isinstance(value, str) and name not in ("created_at", "updated_at", "expires_at", "status"):
            expect(fields).to_contain_text(value)
    # The description is text, whitespace kept, never HTML
    text = page.get_by_role("region", name="Description").locator("p")
    assert text.inner_text() == description
    assert page.locator("main b").count() == 0
    # Context is a collapsible JSON tree: nested keys visible, a branch closes on click
    context = page.get_by_role("region", name="Context")
    expect(context).to_contain_text("steps")
    expect(context.get_by_text('"fetch"')).to_be_visible()
    context.locator("summary", has_text="run:").click()
    expect(context.get_by_text('"fetch"')).to_be_hidden()
    # The audit trail, oldest first (newest last)
    events = page.get_by_role("list", name="Audit trail, oldest first").get_by_role("listitem")
    expect(events).to_have_count(4)
    actions_seen = [line.split()[0].lower() for line in events.all_inner_texts()]
    assert actions_seen == ["created", "claimed", "released", "claimed"]


def test_a_json_answer_is_checked_before_it_is_sent(page: Page, api: Api) -> None:
    tenant = fresh_tenant()
    record = create(api, tenant, "Which region?", type="clarification")
    open_detail(page, record, "olga", "operator", tenant)
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)

    # When the answer is not JSON, nothing is sent and the page says why
    page.get_by_label("Reason").fill("eu-west-1 has the capacity")
    page.get_by_label("Answer (JSON, optional)").fill("{region: eu-west-1}")
    actions(page).get_by_role("button", name="Approve").click()
    expect(actions(page).get_by_role("alert")).to_contain_text("The answer is not valid JSON")
    expect(page.get_by_label("Answer (JSON, optional)")).to_have_attribute("aria-invalid", "true")
    assert posts == []
    assert api.get(f"/interventions/{record['id']}", bearer("olga", "operator", tenant=tenant))["status"] == "PENDING"

    # When it is JSON, it is sent with the decision and shown as the response
    page.get_by_label("Answer (JSON, optional)").fill('{"region": "eu-west-1", "zones": 3}')
    actions(page).get_by_role("button", name="Approve").click()
    expect(page.get_by_role("region", name="Response")).to_contain_text('"eu-west-1"')
    assert len(posts) == 1 and posts[0].endswith("/approve")
    stored = api.get(f"/interventions/{record['id']}", bearer("olga", "operator", tenant=tenant))
    assert (stored["status"], stored["response"]) == ("APPROVED", {"region": "eu-west-1", "zones": 3})


AMOUNT_SCHEMA = {
    "type": "object",
    "properties": {
        "amount": {"type": "integer", "minimum": 1, "title": "Amount"},
        "currency": {"enum": ["EUR", "USD"], "title": "Currency"},
    },
    "required": ["amount", "currency"],
}


def test_a_response_schema_gets_its_form(page: Page, api: Api) -> None:
    """A record carrying `response_schema` (the page is shown one by the test, whatever the API's version) gets the
    form drawn from it instead of the JSON field; what the form holds is checked in the page, then sent."""
    tenant = fresh_tenant()
    record = create(api, tenant, "How much to refund?", type="clarification")

    def with_schema(route: Route, request: Request) -> None:
        response = route.fetch()
        if request.method != "GET" or response.status != 200:
            route.fulfill(response=response)
            return
        route.fulfill(response=response, json={**response.json(), "response_schema": AMOUNT_SCHEMA})

    page.route(f"**/interventions/{record['id']}", with_schema)
    open_detail(page, record, "olga", "operator", tenant)
    posts: list[str] = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    expect(page.get_by_label("Answer (JSON, optional)")).to_be_hidden()
    page.get_by_label("Reason").fill("Customer kept the parcel")
    page.get_by_label("Amount").fill("0")
    page.get_by_label("Currency").select_option(label="EUR")
    actions(page).get_by_role("button", name="Approve").click()
    expect(actions(page).get_by_role("alert")).to_contain_text("The answer has errors")
    assert posts == []
    page.get_by_label("Amount").fill("250")
    actions(page).get_by_role("button", name="Approve").click()
    expect(page.locator(".chips").get_by_text("approved", exact=True)).to_be_visible()
    stored = api.get(f"/interventions/{record['id']}", bearer("olga", "operator", tenant=tenant))
    assert stored["response"] == {"amount": 250, "currency": "EUR"}


def test_a_409_is_explained_and_the_page_shows_the_new_state(page: Page, api: Api) -> None:
    # Given an operator looking at a pending request
    tenant = fresh_tenant()
    record = create(api, tenant, "Contested change")
    open_detail(page, record, "olga", "operator", tenant)
    expect(actions(page).get_by_role("button", name="Approve")).to_be_enabled()
    # The page's background re-reads answer "unchanged": the click lands before the next one would have noticed
    held = f"**/interventions/{record['id']}"

    def unchanged(route: Route, request: Request) -> None:
        if request.method == "GET" and "if-none-match" in request.headers:
            route.fulfill(status=304, headers={"ETag": request.headers["if-none-match"]})
        else:
            route.continue_()

    page.route(held, unchanged)
    # When another operator approves it first, and then this one clicks Approve
    api.post(f"/interventions/{record['id']}/approve", bearer("bob", "operator", tenant=tenant), {"reason": "mine"})
    page.get_by_label("Reason").fill("Looks right")
    actions(page).get_by_role("button", name="Approve").click()
    # Then the conflict is explained in words and the page shows the request as it now is
    expect(actions(page).get_by_role("alert")).to_contain_text("Someone else was faster")
    expect(page.locator(".chips").get_by_text("approved", exact=True)).to_be_visible()
    expect(page.get_by_role("region", name="Fields")).to_contain_text("bob")
    approve = actions(page).get_by_role("button", name="Approve")
    expect(approve).to_be_disabled()
    expect(approve).to_have_accessible_description("Not possible: it is approved")
    expect(page.get_by_label("Reason")).to_have_value("Looks right")


def test_a_request_claimed_by_someone_else(page: Page, api: Api) -> None:
    tenant = fresh_tenant()
    record = create(api, tenant, "Taken by Oscar")
    api.post(f"/interventions/{record['id']}/claim", bearer("oscar", "operator", tenant=tenant))
    open_detail(page, record, "olga", "operator", tenant)
    panel = actions(page)
    expect(panel.get_by_role("button", name="Approve")).to_have_accessible_description("Claimed by oscar")
    expect(panel.get_by_role("button", name="Reject")).to_be_disabled()
    expect(panel.get_by_role("button", name="Release")).to_have_accessible_description(re.compile("^Claimed by oscar"))
    expect(panel.get_by_role("button", name="Claim")).to_have_accessible_description("Not possible: it is in progress")
    # Esc goes back to the inbox, where the row says the same
    page.locator("main h1").click()
    page.keyboard.press("Escape")
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="Taken by Oscar")).to_contain_text("Cannot act: claimed by oscar")


def test_the_enabled_actions_are_exactly_those_the_api_allows(page: Page, api: Api) -> None:
    """Every action, for six users, on a request in three states: what the
    console enables is what the API then accepts (and refuses what it
    disables), each pair on a fresh record."""
    tenant = fresh_tenant()
    users = {
        "cara": ("requester", "operator"),  # the creator, also an operator
        "oscar": ("operator",),  # the assignee once claimed
        "olga": ("operator",),
        "vic": ("viewer",),
        "ada": ("admin",),
        "fay": ("finance",),
    }
    setups = {"PENDING": [], "IN_PROGRESS": ["claim"], "APPROVED": ["claim", "approve"]}
    cases = []
    for state, steps in setups.items():
        for user in users:
            for action in ACTIONS:
                record = api.post(
                    "/interventions",
                    bearer("cara", "requester", "operator", tenant=tenant),
                    {"uow_id": "matrix", "type": "approval", "title": f"{state} {user} {action}"},
                )
                for step in steps:
                    body = {"reason": "setup"} if step == "approve" else None
                    api.post(f"/interventions/{record['id']}/{step}", bearer("oscar", "operator", tenant=tenant), body)
                current = api.get(f"/interventions/{record['id']}", bearer("ada", "admin", tenant=tenant))
                assert current["status"] == state
                cases.append({"record": current, "user": user, "action": action})
    sign_in(page, "ada", "admin", tenant)
    verdicts = page.evaluate(
        """async (cases) => {
            const { permission } = await import("./assets/permissions.js");
            return cases.map(({ record, user, action, roles }) =>
                permission(action, record, { sub: user, roles }, Date.now()));
        }""",
        [{**case, "roles": list(users[case["user"]])} for case in cases],
    )
    disagreements = []
    for case, verdict in zip(cases, verdicts, strict=True):
        body = {"reason": "matrix"} if case["action"] in ("approve", "reject") else None
        who = bearer(case["user"], *users[case["user"]], tenant=tenant)
        path = f"/interventions/{case['record']['id']}/{case['action']}"
        reply = requests.post(f"{api.url}{path}", headers=who, json=body, timeout=10)
        assert reply.status_code in (200, 403, 409), (path, reply.status_code, reply.text)
        if (reply.status_code == 200) != verdict["allowed"]:
            disagreements.append((case["record"]["status"], case["user"], case["action"], verdict, reply.text))
    assert disagreements == []
    # Every refusal carries a reason for the person reading it
    assert all(verdict["reason"] for verdict in verdicts if not verdict["allowed"])
    # And an overdue request cannot be claimed or decided, as the API's rule says, even before the sweep
    overdue = page.evaluate(
        """async () => {
            const { permission } = await import("./assets/permissions.js");
            const record = { status: "PENDING", created_by: "cara", required_role: "operator",
                             created_at: "2026-01-01T00:00:00Z", expires_at: "2026-01-01T01:00:00Z" };
            const user = { sub: "olga", roles: ["operator"] };
            return ["claim", "approve", "reject"].map((action) => permission(action, record, user).reason);
        }"""
    )
    assert all(reason.startswith("Expired at") for reason in overdue)


def test_the_gated_job_is_shown_with_its_status_and_a_link(page: Page, api: Api) -> None:
    tenant = fresh_tenant()
    job = api.post(
        "/jobs",
        bearer("rita", "requester", tenant=tenant),
        {"tool": "export_interventions", "parameters": {"format": "csv"}, "requires_approval": True},
    )
    assert job["status"] == "AWAITING_APPROVAL" and job["intervention_id"]
    record = api.get(f"/interventions/{job['intervention_id']}", bearer("olga", "operator", tenant=tenant))
    open_detail(page, record, "olga", "operator", tenant)
    gated = page.get_by_role("region", name="Gated job")
    expect(gated).to_contain_text("AWAITING_APPROVAL")
    link = gated.get_by_role("link", name=f"Job {job['id']}")
    expect(link).to_have_attribute("href", f"#/jobs/{job['id']}")
    page.get_by_label("Reason").fill("Export is fine")
    actions(page).get_by_role("button", name="Approve").click()
    expect(gated).not_to_contain_text("AWAITING_APPROVAL")
    link.click()
    expect(page).to_have_url(re.compile(f"#/jobs/{job['id']}$"))


def test_a_503_is_retried_with_a_visible_notice(page: Page, api: Api) -> None:
    tenant = fresh_tenant()
    record = create(api, tenant, "Survives a busy moment")
    failures = []

    def busy_once(route: Route, request: Request) -> None:
        if request.method == "GET" and not failures:
            failures.append(request.url)
            body = json.dumps({"code": "service_unavailable", "message": "The table is busy, retry"})
            route.fulfill(status=503, headers={"Retry-After": "1", "Content-Type": "application/json"}, body=body)
        else:
            route.continue_()

    page.route(f"**/interventions/{record['id']}", busy_once)
    open_detail(page, record, "olga", "operator", tenant)
    assert len(failures) == 1
    expect(page.get_by_role("status").filter(has_text="retrying in 1 s")).to_have_count(1)
    expect(actions(page).get_by_role("button", name="Claim")).to_be_enabled()


def test_screenshot_of_a_request(page: Page, api: Api) -> None:
    tenant = "acme"
    record = create(
        api,
        tenant,
        "Deploy payments-api v2.4 to production",
        creator="deploy-agent",
        priority="high",
        description="The canary passed (error rate 0.02 %, p95 182 ms).\nRoll out to the remaining 9 regions?",
        context={
            "service": "payments-api",
            "version": "2.4.0",
            "canary": {"error_rate": 0.0002, "p95_ms": 182},
            "regions": ["eu-west-1", "us-east-1", "ap-southeast-2"],
        },
        expires_in_seconds=7200,
    )
    api.post(f"/interventions/{record['id']}/claim", bearer("pilot-ana", "operator", tenant=tenant))
    open_detail(page, record, "pilot-ana", "operator", tenant)
    page.get_by_label("Reason").fill("Canary healthy; rolling out")
    assert screenshot(page, "detail").stat().st_size > 10_000
