"""The inbox in a browser, driven by role and label as a person would: a new
request appears without a reload and is triaged with the keyboard; who cannot
act sees why; tenants never see each other; record text stays text; the page
fits a phone; the README's screenshot of the inbox is written here."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.browser.conftest import Api, has_horizontal_scroll, screenshot, sign_in
from tests.browser.pages import create, fresh_tenant, row
from tests.e2e.runtime_process import bearer

pytestmark = pytest.mark.browser

XSS_TITLE = "<img src=x onerror=alert(1)>"


def test_a_new_request_appears_without_reload_and_is_triaged_by_keyboard(page: Page, api: Api) -> None:
    # Given an operator signed in with the local form, looking at an empty inbox
    tenant = fresh_tenant()
    sign_in(page, "olga", "operator", tenant)
    expect(page.get_by_role("heading", name="Inbox", level=1)).to_be_visible()
    expect(page.get_by_text("No requests in “Open”")).to_be_visible()
    page.evaluate("window.sameDocument = true")

    # When a requester creates a request through the API
    created = create(api, tenant, "Restart the billing pipeline", priority="high", description="It stalled at step 3.")

    # Then it appears within 5 s, without a reload, and the tab title counts it
    expect(row(page, "Restart the billing pipeline")).to_be_visible(timeout=5000)
    assert page.evaluate("window.sameDocument === true"), "the page was reloaded"
    expect(page).to_have_title("(1) Oversight")

    # When the operator opens it with the keyboard, claims it, writes a reason and approves
    page.keyboard.press("j")
    expect(row(page, "Restart the billing pipeline")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Restart the billing pipeline", level=1)).to_be_visible()
    page.keyboard.press("c")
    expect(page.get_by_role("button", name="Release")).to_be_enabled()
    page.keyboard.press("a")
    expect(page.get_by_label("Reason")).to_be_focused()
    page.keyboard.type("Checked the runbook: safe to restart")
    page.keyboard.press("Control+Enter")

    # Then the page shows the new state without a reload ...
    actions = page.get_by_role("complementary", name="Actions")
    expect(page.locator(".chips").get_by_text("approved", exact=True)).to_be_visible()
    expect(actions.get_by_role("button", name="Approve")).to_be_disabled()
    assert page.evaluate("window.sameDocument === true")
    # ... the API shows it APPROVED by that operator ...
    record = api.get(f"/interventions/{created['id']}", bearer("olga", "operator", tenant=tenant))
    assert (record["status"], record["decided_by"], record["assigned_to"]) == ("APPROVED", "olga", "olga")
    assert record["decision_reason"] == "Checked the runbook: safe to restart"
    # ... and the audit trail in the page shows the three events, newest last
    events = page.get_by_role("list", name="Audit trail, oldest first").get_by_role("listitem")
    expect(events).to_have_count(3)
    texts = [text.lower() for text in events.all_inner_texts()]
    assert [text.split()[0] for text in texts] == ["created", "claimed", "approved"]
    assert "by rita" in texts[0] and "by olga" in texts[1] and "by olga" in texts[2]
    assert "checked the runbook" in texts[2]


def test_the_creator_sees_approve_disabled_with_the_reason(page: Page, api: Api) -> None:
    # Given a request created by a user who is also an operator
    tenant = fresh_tenant()
    created = api.post(
        "/interventions",
        bearer("cara", "requester", "operator", tenant=tenant),
        {"uow_id": "u1", "type": "approval", "title": "My own change"},
    )
    # When that user opens it
    sign_in(page, "cara", "requester,operator", tenant)
    page.get_by_role("link", name="My own change").click()
    actions = page.get_by_role("complementary", name="Actions")
    # Then Approve, Reject and Claim are disabled with the reason, and Cancel (the creator's) is enabled
    for name in ("Approve", "Reject", "Claim"):
        button = actions.get_by_role("button", name=name, exact=True)
        expect(button).to_be_disabled()
        expect(button).to_have_accessible_description(re.compile("You created it"))
    expect(actions.get_by_role("button", name="Cancel")).to_be_enabled()
    # And in the inbox the row says why it cannot be worked
    page.get_by_role("link", name="← Inbox").click()
    expect(row(page, "My own change")).to_contain_text("Cannot act: you created it")
    assert created["status"] == "PENDING"


def test_a_viewer_sees_no_enabled_action(page: Page, api: Api) -> None:
    tenant = fresh_tenant()
    create(api, tenant, "Read-only look")
    sign_in(page, "vic", "viewer", tenant)
    expect(row(page, "Read-only look")).to_contain_text("needs role operator")
    page.get_by_role("link", name="Read-only look").click()
    actions = page.get_by_role("complementary", name="Actions")
    buttons = actions.get_by_role("button")
    expect(buttons).to_have_count(6)
    for index in range(6):
        expect(buttons.nth(index)).to_be_disabled()
    expect(actions.get_by_role("button", name="Approve")).to_have_accessible_description("You lack the role operator")
    expect(page.get_by_label("Reason")).to_be_disabled()


def test_another_tenants_user_sees_none_of_it(page: Page, api: Api) -> None:
    # Given a request of one tenant
    tenant = fresh_tenant()
    created = create(api, tenant, "Tenant A only", priority="critical")
    # When an operator of another tenant signs in
    sign_in(page, "otto", "operator", fresh_tenant())
    # Then neither the inbox, nor a closed view, nor the request's own address shows it
    expect(page.get_by_text("No requests in “Open”")).to_be_visible()
    expect(page.get_by_role("link", name="Tenant A only")).to_have_count(0)
    expect(page).to_have_title("Oversight")
    page.goto(f"/console/#/requests/{created['id']}")
    expect(page.get_by_role("alert")).to_contain_text("There is no such request in your tenant")
    expect(page.get_by_text("Tenant A only")).to_have_count(0)


def test_a_request_needing_finance_is_marked_not_actionable_for_an_operator(page: Page, api: Api) -> None:
    tenant = fresh_tenant()
    create(api, tenant, "Pay the invoice", required_role="finance", priority="high")
    create(api, tenant, "Ordinary approval")
    sign_in(page, "olga", "operator", tenant)
    finance = row(page, "Pay the invoice")
    expect(finance).to_contain_text("Cannot act: needs role finance")
    expect(finance).to_have_class(re.compile(r"\bblocked\b"))
    expect(finance.get_by_role("checkbox")).to_be_disabled()
    ordinary = row(page, "Ordinary approval")
    expect(ordinary).not_to_contain_text("Cannot act")
    expect(ordinary.get_by_role("checkbox")).to_be_enabled()
    # And the required-role filter narrows the list to it
    page.get_by_label("Required role").fill("finance")
    page.get_by_label("Required role").press("Enter")
    expect(page.get_by_role("link", name="Ordinary approval")).to_have_count(0)
    expect(finance).to_be_visible()
    assert "role=finance" in page.url


def test_a_title_made_of_html_renders_as_text(page: Page, api: Api) -> None:
    # Given a request whose title and description are HTML
    tenant = fresh_tenant()
    create(api, tenant, XSS_TITLE, description="<script>alert(2)</script><b>bold?</b>")
    dialogs: list[Dialog] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog), dialog.dismiss()))
    sign_in(page, "olga", "operator", tenant)
    # Then the inbox shows the text itself, and no img element exists
    expect(page.get_by_role("link", name=XSS_TITLE, exact=True)).to_be_visible()
    assert page.locator("main img").count() == 0
    # And so does the detail, description included
    page.get_by_role("link", name=XSS_TITLE, exact=True).click()
    expect(page.get_by_role("heading", name=XSS_TITLE, level=1)).to_be_visible()
    expect(page.get_by_text("<script>alert(2)</script><b>bold?</b>")).to_be_visible()
    assert page.locator("img, main script, main b").count() == 0
    assert dialogs == []


def test_views_filters_keys_and_paging(page: Page, api: Api) -> None:
    # Given 55 pending requests (more than a page), one of them claimed by the operator and one approved
    tenant = fresh_tenant()
    who = bearer("olga", "operator", tenant=tenant)
    made = [create(api, tenant, f"Bulk item {n:02d}", priority="low") for n in range(53)]
    urgent = create(api, tenant, "Urgent one", priority="critical", type="kill_switch")
    mine = create(api, tenant, "Claimed by me", priority="normal")
    api.post(f"/interventions/{mine['id']}/claim", who)
    api.post(f"/interventions/{made[0]['id']}/approve", who, {"reason": "ok"})
    sign_in(page, "olga", "operator", tenant)

    # The API's order: critical first; a page of 50, then "Load more" reads the next by cursor
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("Urgent one")
    page.get_by_role("button", name="Load more").click()
    expect(rows).to_have_count(54)
    expect(page.get_by_role("button", name="Load more")).to_be_hidden()
    expect(page).to_have_title("(54) Oversight")

    # Assigned to me, Unassigned and a closed status are views of their own
    page.get_by_role("link", name="Assigned to me").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Claimed by me")
    page.get_by_role("link", name="Unassigned").click()
    expect(rows).to_have_count(50)
    expect(page.get_by_role("link", name="Claimed by me")).to_have_count(0)
    page.get_by_role("link", name="Approved", exact=True).click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Bulk item 00")

    # Filters by priority and type
    page.get_by_role("link", name="Open", exact=True).click()
    page.get_by_label("Priority").select_option("critical")
    expect(rows).to_have_count(1)
    page.get_by_label("Priority").select_option("")
    page.get_by_label("Type").select_option("kill_switch")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Urgent one")

    # `/` focuses the filter, `?` lists the keys, Esc closes the list
    page.locator("main h1").click()
    page.keyboard.press("/")
    expect(page.get_by_label("Find")).to_be_focused()
    page.keyboard.press("Escape")
    page.keyboard.press("?")
    keys = page.get_by_role("dialog", name="Keyboard")
    expect(keys).to_be_visible()
    expect(keys).to_contain_text("Approve")
    page.keyboard.press("Escape")
    expect(keys).to_be_hidden()

    # `c` claims the row that has the focus, in place
    page.get_by_label("Type").select_option("")
    expect(rows).to_have_count(50)
    page.keyboard.press("j")
    expect(rows.first).to_be_focused()
    page.keyboard.press("c")
    expect(rows.first).to_contain_text("olga")
    assert api.get(f"/interventions/{urgent['id']}", who)["assigned_to"] == "olga"


def test_the_inbox_fits_a_phone(new_page, api: Api) -> None:  # noqa: ANN001 - the conftest's page factory
    tenant = fresh_tenant()
    for n in range(3):
        create(
            api,
            tenant,
            f"Phone request {n} with a rather long title that has to wrap on a small screen",
            context={"long": "x" * 300},
        )
    phone = new_page(390, 844)
    sign_in(phone, "olga", "operator", tenant)
    expect(phone.locator("tbody tr")).to_have_count(3)
    assert not has_horizontal_scroll(phone)
    phone.get_by_role("link", name=re.compile("^Phone request 0")).click()
    expect(phone.get_by_role("heading", name="Context")).to_be_visible()
    assert not has_horizontal_scroll(phone)


def test_screenshot_of_the_inbox(page: Page, api: Api) -> None:
    # The README's picture: tenant "acme" (the tokens' default), which no other test of this module uses
    tenant = "acme"
    samples = [
        ("Stop the runaway summariser agent", "critical", "kill_switch", "operator", 900),
        ("Deploy payments-api v2.4 to production", "high", "approval", "operator", 7200),
        ("Waive the licence check for build 8812", "normal", "waive_violation", "operator", 86400),
        ("Which customer segment should the campaign target?", "normal", "clarification", "operator", 3600),
        ("Refund order 5531 above the automatic limit", "normal", "approval", "finance", 3600),
        ("Resume the nightly ETL after the schema change", "low", "resume", "operator", 172800),
    ]
    made = [
        create(api, tenant, title, "agent-7", priority=priority, type=kind, required_role=role, expires_in_seconds=ttl)
        for title, priority, kind, role, ttl in samples
    ]
    api.post(f"/interventions/{made[2]['id']}/claim", bearer("pilot-bo", "operator", tenant=tenant))
    sign_in(page, "pilot-ana", "operator", tenant)
    expect(page.locator("tbody tr")).to_have_count(len(samples))
    first = page.locator("tbody tr").first
    page.get_by_role("checkbox", name="Select Deploy payments-api v2.4 to production").check()
    page.keyboard.press("k")
    expect(first).to_be_focused()
    assert screenshot(page, "inbox").stat().st_size > 10_000


FAKE_NOTIFICATIONS = """
window.notes = [];
window.permissionRequests = 0;
class FakeNotification {
  static permission = "default";
  static async requestPermission() {
    window.permissionRequests += 1;
    FakeNotification.permission = "granted";
    return "granted";
  }
  constructor(title, options) { window.notes.push({ title, body: options && options.body }); }
  addEventListener() {}
  close() {}
}
window.Notification = FakeNotification;
"""


def test_notifications_are_opt_in_and_announce_new_critical_and_high_requests(page: Page, api: Api) -> None:
    # Given an operator signed in (the browser's Notification played by the test, to count what the page does)
    tenant = fresh_tenant()
    create(api, tenant, "Older critical", priority="critical")
    page.add_init_script(FAKE_NOTIFICATIONS)
    sign_in(page, "olga", "operator", tenant)
    expect(row(page, "Older critical")).to_be_visible()
    # Then nothing asked for permission on load
    assert page.evaluate("window.permissionRequests") == 0
    # When the operator opts in with the button
    page.get_by_role("button", name="Notify me").click()
    expect(page.get_by_role("button", name="Notifications on")).to_have_attribute("aria-pressed", "true")
    assert page.evaluate("window.permissionRequests") == 1
    # And new requests of each priority arrive
    for priority in ("critical", "high", "normal", "low"):
        create(api, tenant, f"New {priority}", priority=priority)
    expect(page.locator("tbody tr")).to_have_count(5)
    # Then exactly the new critical and high ones were announced, once each
    notes = page.evaluate("window.notes")
    assert sorted(note["title"] for note in notes) == ["Critical request: New critical", "High request: New high"]


def test_time_left_turns_red_in_the_last_tenth(page: Page) -> None:
    sign_in(page, "olga", "operator", fresh_tenant())
    verdicts = page.evaluate(
        """async () => {
            const { timeLeft } = await import("./assets/inbox.js");
            const record = {
                status: "PENDING", created_at: "2026-01-01T00:00:00Z", expires_at: "2026-01-01T01:40:00Z",
            };
            const at = (minutes) => Date.parse("2026-01-01T00:00:00Z") + minutes * 60000;
            return [89, 91, 99, 101].map((minutes) => timeLeft(record, at(minutes)));
        }"""
    )
    assert verdicts == [
        {"text": "11 min left", "urgent": False},
        {"text": "9 min left", "urgent": True},
        {"text": "1 min left", "urgent": True},
        {"text": "expired", "urgent": True},
    ]
