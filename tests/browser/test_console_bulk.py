"""Bulk decisions in a browser: several selected requests approved or
rejected with one reason, one API call each, every result shown, when some
of them were taken by another operator a moment before."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Api, sign_in
from tests.browser.pages import create, fresh_tenant
from tests.e2e.runtime_process import bearer

pytestmark = pytest.mark.browser


def decision_posts(page: Page) -> list[str]:
    """The URLs of the decisions the page sends, as it sends them."""
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" and "/interventions/" in r.url else None)
    return posts


def result_for(page: Page, title: str):  # noqa: ANN201 - a Locator
    results = page.get_by_role("region", name="Results of the last bulk decision")
    return results.get_by_role("listitem").filter(has=page.get_by_role("link", name=title, exact=True))


def test_three_approved_at_once_one_just_taken_by_another_operator(page: Page, api: Api) -> None:
    # Given three pending requests in an operator's inbox, all three selected
    tenant = fresh_tenant()
    first, taken, third = (create(api, tenant, title) for title in ("Bulk one", "Bulk two", "Bulk three"))
    sign_in(page, "olga", "operator", tenant)
    expect(page.locator("tbody tr")).to_have_count(3)
    page.get_by_role("checkbox", name="Select all the requests you can decide").check()
    expect(page.get_by_text("3 selected")).to_be_visible()
    posts = decision_posts(page)

    # When another operator approves one of them first, and the operator approves the three with one reason
    api.post(f"/interventions/{taken['id']}/approve", bearer("bob", "operator", tenant=tenant), {"reason": "mine"})
    page.get_by_label("Reason").fill("Weekly batch reviewed")
    page.get_by_role("button", name="Approve selected").click()

    # Then two succeed and one shows its 409, each beside its request
    results = page.get_by_role("region", name="Results of the last bulk decision")
    expect(results.get_by_role("heading")).to_have_text("Approve selected: 2 approved, 1 failed")
    expect(result_for(page, "Bulk one")).to_contain_text("Approved")
    expect(result_for(page, "Bulk three")).to_contain_text("Approved")
    expect(result_for(page, "Bulk two")).to_contain_text(re.compile(r"409 invalid_transition: .*APPROVED"))
    expect(result_for(page, "Bulk two")).to_contain_text("Someone else changed it first")
    # One API call each
    assert sorted(posts) == sorted(f"{api.url}/interventions/{r['id']}/approve" for r in (first, taken, third))
    reader = bearer("olga", "operator", tenant=tenant)
    decided = {r["id"]: api.get(f"/interventions/{r['id']}", reader) for r in (first, taken, third)}
    assert [(decided[r["id"]]["status"], decided[r["id"]]["decided_by"]) for r in (first, taken, third)] == [
        ("APPROVED", "olga"),
        ("APPROVED", "bob"),
        ("APPROVED", "olga"),
    ]
    assert decided[first["id"]]["decision_reason"] == "Weekly batch reviewed"
    # And the inbox, refreshed, no longer lists them
    expect(page.get_by_text("No requests in “Open”")).to_be_visible()


def test_reject_selected_by_keyboard_shows_each_refusal(page: Page, api: Api) -> None:
    # Given four pending requests, selected with the keyboard
    tenant = fresh_tenant()
    records = [create(api, tenant, f"Reject {n}") for n in range(4)]
    sign_in(page, "olga", "operator", tenant)
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(4)
    for _ in range(4):
        page.keyboard.press("j")
        page.keyboard.press("x")
    expect(page.get_by_text("4 selected")).to_be_visible()
    posts = decision_posts(page)

    # A reason is needed: without one nothing is sent
    page.get_by_role("button", name="Reject selected").click()
    expect(page.get_by_role("alert")).to_contain_text("Write a reason first")
    expect(page.get_by_label("Reason")).to_be_focused()
    assert posts == []

    # When another operator claims one and rejects another, and the operator rejects the four
    bob = bearer("bob", "operator", tenant=tenant)
    api.post(f"/interventions/{records[1]['id']}/claim", bob)
    api.post(f"/interventions/{records[2]['id']}/reject", bob, {"reason": "no"})
    page.keyboard.type("Out of policy")
    page.get_by_role("button", name="Reject selected").click()

    # Then each result is shown: two rejected, one 403 (claimed by bob), one 409 (already rejected)
    results = page.get_by_role("region", name="Results of the last bulk decision")
    expect(results.get_by_role("heading")).to_have_text("Reject selected: 2 rejected, 2 failed")
    expect(result_for(page, "Reject 0")).to_contain_text("Rejected")
    expect(result_for(page, "Reject 1")).to_contain_text(re.compile(r"403 forbidden: Claimed by bob"))
    expect(result_for(page, "Reject 2")).to_contain_text("409 invalid_transition")
    expect(result_for(page, "Reject 3")).to_contain_text("Rejected")
    assert len(posts) == 4
    reader = bearer("olga", "operator", tenant=tenant)
    statuses = [api.get(f"/interventions/{r['id']}", reader)["status"] for r in records]
    assert statuses == ["REJECTED", "IN_PROGRESS", "REJECTED", "REJECTED"]
