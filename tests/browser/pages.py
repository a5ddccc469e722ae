"""What the console tests share: a tenant of each test's own, records made
through the API, and the page's landmarks as a person finds them."""

from __future__ import annotations

import uuid
from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import Api, sign_in
from tests.e2e.runtime_process import bearer


def fresh_tenant() -> str:
    """A tenant of the test's own: its inbox holds only what the test creates."""
    return f"t-{uuid.uuid4().hex[:10]}"


def create(api: Api, tenant: str, title: str, creator: str = "rita", **fields: Any) -> dict[str, Any]:
    body = {"uow_id": f"uow-{uuid.uuid4().hex[:6]}", "type": "approval", "title": title, **fields}
    return api.post("/interventions", bearer(creator, "requester", tenant=tenant), body)


def open_detail(page: Page, record: dict[str, Any], user: str, roles: str, tenant: str) -> None:
    page.goto(f"/console/#/requests/{record['id']}")
    sign_in(page, user, roles, tenant)
    expect(page.get_by_role("heading", name=record["title"], level=1)).to_be_visible()


def actions(page: Page) -> Locator:
    return page.get_by_role("complementary", name="Actions")


def row(page: Page, title: str) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=title, exact=True))


def webhooks_nav(page: Page) -> Locator:
    """The Webhooks entry of the main navigation (admins only)."""
    return page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks")


def webhooks_row(page: Page, url: str) -> Locator:
    """The row of the subscription to `url` on the Webhooks page."""
    return page.get_by_role("row").filter(has=page.get_by_role("cell").get_by_text(url, exact=True))
