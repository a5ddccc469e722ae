"""Webhook subscriptions in a browser: the page and its nav entry for admins
only (anyone else is told why); a new subscription's secret shown once, in
the page's memory alone, never in the list, storage or the address, and gone
after a reload; the API's 422 beside the field it names; Delete confirmed in
the row; a disabled subscription's reason and the last delivery in words.

Most tests answer /webhooks with contract-shaped replies through
`page.route` (`FakeWebhooks`), so each state (a 410-disabled subscription, a
failed delivery, a refusal) is shown on demand; the last ones drive the real
API of the local runtime."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import Locator, Page, Request, Route, expect

from tests.browser.conftest import Api, has_horizontal_scroll, sign_in
from tests.browser.pages import create, fresh_tenant, webhooks_nav, webhooks_row
from tests.e2e.runtime_process import RunningRuntime, RuntimeLauncher, bearer

pytestmark = pytest.mark.browser

# Ports of this module's own servers.
PORTS = range(8740, 8760)
VIOLATION_PROBE = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def free_port(taken: set[int]) -> int:
    for port in PORTS:
        if port in taken:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        taken.add(port)
        return port
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


_PORTS_USED: set[int] = set()


@pytest.fixture(scope="module")
def receiver_address() -> str:
    """host:port a receiver may listen on (allow-listed for the real API)."""
    return f"127.0.0.1:{free_port(_PORTS_USED)}"


class _Receiver(BaseHTTPRequestHandler):
    """A webhook receiver: /gone answers 410 Gone, any other path 204; every
    delivery is kept (path, headers, body) for the test to read."""

    received: ClassVar[list[tuple[str, dict[str, str], bytes]]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(410 if self.path.startswith("/gone") else 204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def receiver(receiver_address: str) -> Iterator[type[_Receiver]]:
    host, port = receiver_address.split(":")
    server = ThreadingHTTPServer((host, int(port)), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield _Receiver
    server.shutdown()
    server.server_close()


def wait_for(condition: Callable[[], Any], seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while not (found := condition()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
    return found


@pytest.fixture(scope="module")
def console_environment(receiver_address: str) -> dict[str, str]:
    return {"WEBHOOK_ALLOWED_HOSTS": f"hooks.example.com,{receiver_address}", "OVERSIGHT_LOCAL_RETRY_SCALE": "0.01"}


@pytest.fixture(scope="module")
def console_runtime(
    tmp_path_factory: pytest.TempPathFactory, console_environment: dict[str, str]
) -> Iterator[RunningRuntime]:
    """The module's runtime, on a port of this module's range."""
    launcher = RuntimeLauncher(tmp_path_factory.mktemp("console-logs"))
    yield launcher.start(
        tmp_path_factory.mktemp("console-state"), environment=console_environment, port=free_port(_PORTS_USED)
    )
    launcher.stop_all()


# ------------------------------------------------------------------------------------------- the API, faked


def subscription(**fields: Any) -> dict[str, Any]:
    """A subscription as the API returns it (never with its secret)."""
    return {
        "id": f"wh-{uuid.uuid4().hex[:8]}",
        "url": "https://hooks.example.com/oversight",
        "events": ["*"],
        "description": "",
        "enabled": True,
        "disabled_reason": None,
        "created_at": "2026-11-30T09:00:00Z",
        "created_by": "ada",
        "last_delivery": None,
        **fields,
    }


def delivery(**fields: Any) -> dict[str, Any]:
    return {
        "at": "2026-11-30T10:00:00Z",
        "event_id": str(uuid.uuid4()),
        "event_type": "Intervention Approved",
        "attempt": 1,
        "ok": True,
        "status_code": 204,
        "error": None,
        **fields,
    }


@dataclass
class FakeWebhooks:
    """Answers the page's /webhooks calls as the contract says: a list, 201
    with a secret (422 for a refused host), 204 for a delete (404 for an
    unknown id); `fail_delete` answers a delete with that error instead."""

    items: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, str, Any]] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    refuse: dict[str, Any] | None = None
    fail_delete: tuple[int, dict[str, Any]] | None = None

    @staticmethod
    def handles(url: str) -> bool:
        path = urlsplit(url).path
        return path == "/webhooks" or path.startswith("/webhooks/")

    def install(self, page: Page) -> FakeWebhooks:
        page.route(self.handles, self.answer)
        return self

    def answer(self, route: Route, request: Request) -> None:
        path = urlsplit(request.url).path
        body = request.post_data_json if request.method == "POST" else None
        self.calls.append((request.method, path, body))
        if request.method == "GET" and path == "/webhooks":
            route.fulfill(json={"items": self.items, "next_cursor": None})
        elif request.method == "POST" and path == "/webhooks":
            if self.refuse:
                route.fulfill(status=422, json=self.refuse)
                return
            secret = f"whs{uuid.uuid4().hex}{uuid.uuid4().hex[:8]}"
            created = subscription(url=body["url"], events=body["events"], description=body.get("description", ""))
            self.items.append(created)
            self.secrets.append(secret)
            route.fulfill(status=201, json={**created, "secret": secret})
        elif request.method == "DELETE":
            hook_id = path.rsplit("/", 1)[1]
            if self.fail_delete:
                status, error = self.fail_delete
                route.fulfill(status=status, json=error)
            elif any(item["id"] == hook_id for item in self.items):
                self.items = [item for item in self.items if item["id"] != hook_id]
                route.fulfill(status=204, body="")
            else:
                route.fulfill(status=404, json={"code": "not_found", "message": f"No webhook {hook_id}"})
        else:
            route.fulfill(status=405, json={"code": "method_not_allowed", "message": "Method not allowed"})

    def requests(self, method: str) -> list[tuple[str, str, Any]]:
        return [call for call in self.calls if call[0] == method]


def open_webhooks(page: Page, user: str = "ada", roles: str = "admin", tenant: str = "acme") -> None:
    page.goto("/console/#/webhooks")
    sign_in(page, user, roles, tenant)
    expect(page.get_by_role("heading", name="Webhooks", level=1)).to_be_visible()


def secret_box(page: Page) -> Locator:
    return page.get_by_role("region", name="Signing secret: copy it now")


def stored_anywhere(page: Page, text: str) -> bool:
    """Whether `text` is in the tab's session or local storage, its address or its history's state."""
    return bool(
        page.evaluate(
            """(text) => [JSON.stringify(sessionStorage), JSON.stringify(localStorage), location.href,
                         JSON.stringify(history.state)].some((where) => where.includes(text))""",
            text,
        )
    )


def add_subscription(page: Page, url: str, events: list[str] | None = None, description: str = "") -> None:
    page.get_by_label("URL").fill(url)
    if events:
        page.get_by_label("Only these events").check()
        for event in events:
            page.get_by_label(event, exact=True).check()
    page.get_by_label("Description").fill(description)
    page.get_by_role("button", name="Add subscription").click()


# ---------------------------------------------------------------------------------------------- who sees it


def test_an_admin_finds_the_page_in_the_navigation(page: Page) -> None:
    hooks = FakeWebhooks([subscription(description="Billing sync")]).install(page)
    page.goto("/console/")
    sign_in(page, "ada", "admin")
    webhooks_nav(page).click()
    expect(page).to_have_url(re.compile(r"#/webhooks$"))
    expect(page.get_by_role("heading", name="Webhooks", level=1)).to_be_visible()
    expect(webhooks_nav(page)).to_have_attribute("aria-current", "page")
    expect(webhooks_row(page, "https://hooks.example.com/oversight")).to_contain_text("Billing sync")
    expect(page.get_by_text("1 of at most 25 subscriptions")).to_be_visible()
    assert hooks.requests("GET") == [("GET", "/webhooks", None)]


@pytest.mark.parametrize("roles", ["operator", "viewer", "requester,operator"])
def test_anyone_else_has_no_entry_and_the_address_says_why(page: Page, roles: str) -> None:
    hooks = FakeWebhooks([subscription()]).install(page)
    page.goto("/console/")
    sign_in(page, "olga", roles, "acme")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Jobs")).to_be_visible()
    expect(webhooks_nav(page)).to_have_count(0)
    page.goto("/console/#/webhooks")
    expect(page.get_by_role("heading", name="Webhooks", level=1)).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Only admins")).to_contain_text(
        f"Only admins can see and change webhook subscriptions: you hold {roles.replace(',', ', ')} in the tenant acme."
    )
    expect(page.get_by_role("button", name="Add subscription")).to_have_count(0)
    assert hooks.calls == []


def test_the_entry_follows_the_user_signed_in(page: Page) -> None:
    FakeWebhooks().install(page)
    page.goto("/console/")
    sign_in(page, "ada", "admin")
    expect(webhooks_nav(page)).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "olga", "operator")
    expect(webhooks_nav(page)).to_have_count(0)


# ------------------------------------------------------------------------------------------- the secret, once


def test_a_new_subscription_shows_its_secret_once_and_the_list_never(page: Page) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    hooks = FakeWebhooks().install(page)
    open_webhooks(page)
    expect(page.get_by_text("No subscriptions yet")).to_be_visible()

    add_subscription(
        page,
        "https://hooks.example.com/a",
        ["Intervention Approved", "Job Failed"],
        "Pager <b>on call</b>",
    )
    ((_, _, sent),) = hooks.requests("POST")
    assert sent == {
        "url": "https://hooks.example.com/a",
        "events": ["Intervention Approved", "Job Failed"],
        "description": "Pager <b>on call</b>",
    }
    (secret,) = hooks.secrets
    box = secret_box(page)
    expect(box).to_be_visible()
    expect(box).to_contain_text("It will not be shown again.")
    expect(box.get_by_label("Secret")).to_have_value(secret)
    expect(box.get_by_role("heading")).to_be_focused()
    # The row: what the API returned, as text, and not the secret.
    row = webhooks_row(page, "https://hooks.example.com/a")
    expect(row).to_contain_text("Intervention Approved")
    expect(row).to_contain_text("Job Failed")
    expect(row).to_contain_text("Pager <b>on call</b>")
    expect(row).to_contain_text("Enabled")
    expect(row).to_contain_text("None yet")
    assert secret not in page.locator("table").inner_text()
    assert page.locator("main").inner_text().count(secret) == 0  # only an input's value holds it
    assert not stored_anywhere(page, secret)
    # The form is ready for the next one.
    expect(page.get_by_label("URL")).to_have_value("")
    expect(page.get_by_label("All events (*)")).to_be_checked()

    box.get_by_role("button", name="Copy secret").click()
    expect(box.get_by_role("status")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == secret

    # Leaving the page and coming back: the list is read again, the secret is gone.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Jobs").click()
    expect(page.get_by_role("heading", name="Jobs", level=1)).to_be_visible()
    webhooks_nav(page).click()
    expect(webhooks_row(page, "https://hooks.example.com/a")).to_be_visible()
    expect(secret_box(page)).to_have_count(0)
    assert secret not in page.content()


def test_a_reload_drops_the_secret(page: Page) -> None:
    hooks = FakeWebhooks().install(page)
    open_webhooks(page)
    add_subscription(page, "https://hooks.example.com/b")
    (secret,) = hooks.secrets
    expect(secret_box(page).get_by_label("Secret")).to_have_value(secret)
    assert hooks.requests("POST")[0][2]["events"] == ["*"]

    page.reload()
    expect(webhooks_row(page, "https://hooks.example.com/b")).to_contain_text("All events")
    expect(secret_box(page)).to_have_count(0)
    assert secret not in page.content()
    assert not stored_anywhere(page, secret)


def test_hiding_the_secret_by_hand(page: Page) -> None:
    hooks = FakeWebhooks().install(page)
    open_webhooks(page)
    add_subscription(page, "https://hooks.example.com/c")
    secret_box(page).get_by_role("button", name="I have stored it; hide it").click()
    expect(secret_box(page)).to_have_count(0)
    expect(page.get_by_role("heading", name="Webhooks", level=1)).to_be_focused()
    assert hooks.secrets[0] not in page.content()


# ------------------------------------------------------------------------------------------------ refusals


def test_a_422_is_shown_beside_the_field_it_names(page: Page) -> None:
    message = "Value error, host internal.example is not in WEBHOOK_ALLOWED_HOSTS"
    hooks = FakeWebhooks(
        refuse={
            "code": "validation_error",
            "message": "Invalid request: body.url",
            "details": [{"loc": ["body", "url"], "msg": message, "type": "value_error"}],
        }
    ).install(page)
    open_webhooks(page)
    add_subscription(page, "https://internal.example/hook", description="kept")
    url = page.get_by_label("URL")
    expect(url).to_have_attribute("aria-invalid", "true")
    expect(url).to_have_accessible_description(re.compile(re.escape(message)))
    expect(url).to_be_focused()
    expect(page.get_by_role("alert").filter(has_text="Invalid request: body.url")).to_be_visible()
    # What was written stays, to be corrected; no secret, no row.
    expect(url).to_have_value("https://internal.example/hook")
    expect(page.get_by_label("Description")).to_have_value("kept")
    expect(secret_box(page)).to_have_count(0)
    expect(page.locator("table tbody tr")).to_have_count(0)
    assert len(hooks.requests("POST")) == 1

    # An unknown event type: beside the events.
    hooks.refuse = {
        "code": "validation_error",
        "message": "Invalid request: body.events.0",
        "details": [{"loc": ["body", "events", 0], "msg": "Unknown event type 'Job Exploded'", "type": "value_error"}],
    }
    page.get_by_label("URL").fill("https://hooks.example.com/d")
    page.get_by_role("button", name="Add subscription").click()
    events = page.get_by_role("group", name="Events")
    expect(events).to_have_accessible_description("Unknown event type 'Job Exploded'")
    expect(url).not_to_have_attribute("aria-invalid", "true")

    # A description too long for the API: beside the description.
    hooks.refuse = {
        "code": "validation_error",
        "message": "Invalid request: body.description",
        "details": [{"loc": ["body", "description"], "msg": "String should have at most 500 characters"}],
    }
    page.get_by_role("button", name="Add subscription").click()
    expect(page.get_by_label("Description")).to_have_accessible_description(
        re.compile("String should have at most 500 characters")
    )


def test_the_page_checks_what_it_can_before_sending(page: Page) -> None:
    hooks = FakeWebhooks().install(page)
    open_webhooks(page)
    page.get_by_role("button", name="Add subscription").click()
    expect(page.get_by_label("URL")).to_have_accessible_description(re.compile("Required"))
    page.get_by_label("URL").fill("ftp://hooks.example.com/x")
    page.get_by_label("Only these events").check()
    page.get_by_role("button", name="Add subscription").click()
    expect(page.get_by_label("URL")).to_have_accessible_description(re.compile("http:// or https://"))
    expect(page.get_by_role("group", name="Events")).to_have_accessible_description(
        "Choose at least one event, or All events."
    )
    assert hooks.requests("POST") == []


def test_a_full_tenant_cannot_add_more(page: Page) -> None:
    FakeWebhooks([subscription(url=f"https://hooks.example.com/{n}") for n in range(25)]).install(page)
    open_webhooks(page)
    expect(page.get_by_text("25 of at most 25 subscriptions")).to_be_visible()
    expect(page.get_by_role("button", name="Add subscription")).to_be_disabled()
    expect(page.get_by_text("A tenant has at most 25 subscriptions")).to_be_visible()


# ------------------------------------------------------------------------------------------------- delete


def test_delete_asks_first_then_removes_the_row(page: Page) -> None:
    keep, gone = subscription(url="https://hooks.example.com/keep"), subscription(url="https://hooks.example.com/gone")
    hooks = FakeWebhooks([keep, gone]).install(page)
    open_webhooks(page)
    row = webhooks_row(page, gone["url"])
    # With the keyboard: Delete, then the question, whose safe answer has the focus.
    row.get_by_role("button", name=f"Delete the subscription to {gone['url']}").focus()
    page.keyboard.press("Enter")
    expect(row.get_by_role("group", name=f"Delete {gone['url']}?")).to_be_visible()
    expect(row.get_by_role("button", name="Keep it")).to_be_focused()
    page.keyboard.press("Enter")
    expect(row.get_by_role("button", name=f"Delete the subscription to {gone['url']}")).to_be_focused()
    assert hooks.requests("DELETE") == []

    page.keyboard.press("Enter")
    page.keyboard.press("Shift+Tab")
    expect(row.get_by_role("button", name="Yes, delete")).to_be_focused()
    page.keyboard.press("Enter")
    expect(webhooks_row(page, gone["url"])).to_have_count(0)
    expect(webhooks_row(page, keep["url"])).to_be_visible()
    expect(page.get_by_role("status").filter(has_text=f"Deleted the subscription to {gone['url']}.")).to_be_visible()
    assert hooks.requests("DELETE") == [("DELETE", f"/webhooks/{gone['id']}", None)]
    expect(page.get_by_text("1 of at most 25 subscriptions")).to_be_visible()


def test_a_refused_delete_keeps_the_row_and_says_why(page: Page) -> None:
    target = subscription(url="https://hooks.example.com/stays")
    hooks = FakeWebhooks([target], fail_delete=(403, {"code": "forbidden", "message": "Admins only"})).install(page)
    open_webhooks(page)
    row = webhooks_row(page, target["url"])
    row.get_by_role("button", name=f"Delete the subscription to {target['url']}").click()
    row.get_by_role("button", name="Yes, delete").click()
    expect(row.get_by_role("alert")).to_have_text("Not deleted: 403 forbidden: Admins only")
    expect(row).to_be_visible()

    # Deleted elsewhere meanwhile: the 404 is said and the list read again.
    hooks.fail_delete = (404, {"code": "not_found", "message": f"No webhook {target['id']}"})
    hooks.items = []
    row.get_by_role("button", name=f"Delete the subscription to {target['url']}").click()
    row.get_by_role("button", name="Yes, delete").click()
    expect(page.get_by_role("alert").filter(has_text="no longer exists")).to_contain_text(
        f"404 not_found: No webhook {target['id']}"
    )
    expect(webhooks_row(page, target["url"])).to_have_count(0)


# ------------------------------------------------------------------------------------------ state and delivery


def test_a_disabled_subscription_shows_its_reason(page: Page) -> None:
    reason = "The receiver answered 410 Gone at 2026-11-30T10:00:00Z: no more deliveries"
    disabled = subscription(
        url="https://hooks.example.com/old",
        enabled=False,
        disabled_reason=reason,
        last_delivery=delivery(ok=False, status_code=410, attempt=1, event_type="Job Completed"),
    )
    FakeWebhooks([subscription(), disabled]).install(page)
    open_webhooks(page)
    state = webhooks_row(page, disabled["url"]).get_by_role("cell").nth(3)
    expect(state.get_by_text("Disabled", exact=True)).to_be_visible()
    expect(state.get_by_text(reason, exact=True)).to_be_visible()
    expect(webhooks_row(page, "https://hooks.example.com/oversight").get_by_role("cell").nth(3)).to_have_text("Enabled")


def age(page: Page, hook: dict[str, Any]) -> str:
    """The page's own words for how long ago the last delivery was (they change with the clock)."""
    return page.locator(f'time[datetime="{hook["last_delivery"]["at"]}"]').first.inner_text()


def test_the_last_delivery_is_told_in_words(page: Page) -> None:
    ok = subscription(url="https://hooks.example.com/ok", last_delivery=delivery())
    failed = subscription(
        url="https://hooks.example.com/failing",
        events=["Job Failed"],
        last_delivery=delivery(ok=False, status_code=500, attempt=3, event_type="Job Failed"),
    )
    timed_out = subscription(
        url="https://hooks.example.com/slow",
        last_delivery=delivery(ok=False, status_code=None, error="timed out after 5 s", attempt=8),
    )
    never = subscription(url="https://hooks.example.com/new")
    FakeWebhooks([ok, failed, timed_out, never]).install(page)
    open_webhooks(page)

    def last_delivery(url: str) -> Locator:
        return webhooks_row(page, url).get_by_role("cell").nth(5)

    def lines(url: str) -> list[str]:
        return [line.strip() for line in last_delivery(url).inner_text().splitlines() if line.strip()]

    expect(last_delivery(ok["url"]).get_by_text("Delivered", exact=True)).to_be_visible()
    assert lines(ok["url"])[1:] == ["HTTP 204 · attempt 1", f"Intervention Approved, {age(page, ok)}"]
    assert last_delivery(ok["url"]).locator("time").get_attribute("datetime") == "2026-11-30T10:00:00Z"
    expect(last_delivery(failed["url"]).get_by_text("Failed", exact=True)).to_be_visible()
    assert lines(failed["url"])[1:] == ["HTTP 500 · attempt 3", f"Job Failed, {age(page, failed)}"]
    assert lines(timed_out["url"])[:2] == ["Failed", "timed out after 5 s · attempt 8"]
    expect(last_delivery(never["url"])).to_have_text("None yet")
    created = webhooks_row(page, ok["url"]).get_by_role("cell").nth(4)
    expect(created).to_contain_text("by ada")
    assert created.locator("time").get_attribute("datetime") == ok["created_at"]


def test_server_text_is_shown_as_text(page: Page) -> None:
    hostile = "<img src=x onerror=window.__owned=1>"
    FakeWebhooks(
        [
            subscription(
                url=f"https://hooks.example.com/{hostile}",
                description=hostile,
                enabled=False,
                disabled_reason=hostile,
                last_delivery=delivery(ok=False, status_code=None, error=hostile),
            )
        ]
    ).install(page)
    open_webhooks(page)
    row = page.locator("table tbody tr")
    expect(row).to_contain_text(hostile)
    expect(row.locator("img")).to_have_count(0)
    assert page.evaluate("window.__owned") is None


def test_no_policy_violation_and_no_sideways_scroll_at_390_px(phone_page: Page) -> None:
    phone_page.add_init_script(VIOLATION_PROBE)
    long_url = "https://hooks.example.com/" + "a-very-long-path-segment/" * 8
    hooks = FakeWebhooks(
        [
            subscription(url=long_url, description="A description that goes on " * 6, last_delivery=delivery()),
            subscription(events=["Intervention Created", "Job Failed"], enabled=False, disabled_reason="410 Gone"),
        ]
    ).install(phone_page)
    open_webhooks(phone_page)
    expect(webhooks_row(phone_page, long_url)).to_be_visible()
    add_subscription(phone_page, "https://hooks.example.com/phone", ["Job Completed"])
    expect(secret_box(phone_page).get_by_label("Secret")).to_have_value(hooks.secrets[0])
    assert not has_horizontal_scroll(phone_page)
    assert phone_page.evaluate("window.__violations") == []


# ------------------------------------------------------------------------------------------------ the real API


def real_rows(api: Api, who: dict[str, str]) -> list[dict[str, Any]]:
    return api.get("/webhooks", who)["items"]


def test_against_the_api_create_shows_the_secret_once_then_delete(page: Page, api: Api, receiver_address: str) -> None:
    tenant = fresh_tenant()
    admin = bearer("ada", "admin", tenant=tenant)
    url = f"http://{receiver_address}/hook-{uuid.uuid4().hex[:6]}"
    open_webhooks(page, "ada", "admin", tenant)
    expect(page.get_by_text("No subscriptions yet")).to_be_visible()

    with page.expect_response(lambda r: r.request.method == "POST" and urlsplit(r.url).path == "/webhooks") as answer:
        add_subscription(page, url, ["Intervention Created", "Intervention Approved"], "Console test")
    created = answer.value.json()
    assert answer.value.status == 201, created
    secret = created["secret"]
    expect(secret_box(page).get_by_label("Secret")).to_have_value(secret)
    row = webhooks_row(page, url)
    expect(row).to_contain_text("Intervention Created")
    expect(row).to_contain_text("Console test")
    assert not stored_anywhere(page, secret)

    # The API lists it without the secret; so does the page, read again.
    (listed,) = real_rows(api, admin)
    assert listed["id"] == created["id"] and "secret" not in listed
    assert secret not in json.dumps(listed)
    page.reload()
    expect(webhooks_row(page, url)).to_contain_text("Enabled")
    expect(secret_box(page)).to_have_count(0)
    assert secret not in page.content()

    row = webhooks_row(page, url)
    row.get_by_role("button", name=f"Delete the subscription to {url}").click()
    with page.expect_response(lambda r: r.request.method == "DELETE") as deleted:
        row.get_by_role("button", name="Yes, delete").click()
    assert deleted.value.status == 204
    expect(webhooks_row(page, url)).to_have_count(0)
    assert real_rows(api, admin) == []


def test_against_the_api_deliveries_and_a_410_appear_in_the_list(
    page: Page, api: Api, receiver: type[_Receiver], receiver_address: str
) -> None:
    tenant = fresh_tenant()
    admin = bearer("ada", "admin", tenant=tenant)
    ok_url = f"http://{receiver_address}/ok-{uuid.uuid4().hex[:6]}"
    gone_url = f"http://{receiver_address}/gone-{uuid.uuid4().hex[:6]}"
    for url in (ok_url, gone_url):
        api.post("/webhooks", admin, {"url": url, "events": ["Intervention Created"]}, expect=201)
    open_webhooks(page, "ada", "admin", tenant)
    expect(webhooks_row(page, ok_url).get_by_role("cell").nth(5)).to_have_text("None yet")

    create(api, tenant, "Delivered to both")
    wait_for(lambda: {path for path, _, _ in receiver.received} >= {urlsplit(ok_url).path, urlsplit(gone_url).path})
    wait_for(lambda: all(item["last_delivery"] for item in real_rows(api, admin)))
    wait_for(lambda: not next(item for item in real_rows(api, admin) if item["url"] == gone_url)["enabled"])
    page.get_by_role("button", name="Refresh").click()

    delivered = webhooks_row(page, ok_url)
    expect(delivered.get_by_role("cell").nth(5).get_by_text("Delivered", exact=True)).to_be_visible()
    expect(delivered.get_by_role("cell").nth(5)).to_contain_text("HTTP 204 · attempt 1")
    expect(delivered.get_by_role("cell").nth(5)).to_contain_text("Intervention Created, ")
    expect(delivered.get_by_role("cell").nth(3)).to_have_text("Enabled")
    gone = next(item for item in real_rows(api, admin) if item["url"] == gone_url)
    state = webhooks_row(page, gone_url).get_by_role("cell").nth(3)
    expect(state.get_by_text("Disabled", exact=True)).to_be_visible()
    expect(state.get_by_text(gone["disabled_reason"], exact=True)).to_be_visible()
    expect(webhooks_row(page, gone_url).get_by_role("cell").nth(5)).to_contain_text("HTTP 410 · attempt 1")


def test_against_the_api_a_refused_host_is_shown_beside_the_url(page: Page, api: Api) -> None:
    tenant = fresh_tenant()
    open_webhooks(page, "ada", "admin", tenant)
    add_subscription(page, "https://not-allowed.example/hook")
    url = page.get_by_label("URL")
    expect(url).to_have_attribute("aria-invalid", "true")
    expect(url).to_have_accessible_description(re.compile("not-allowed.example"))
    assert real_rows(api, bearer("ada", "admin", tenant=tenant)) == []


def test_the_module_is_served_fingerprinted(console_runtime: RunningRuntime) -> None:
    index = requests.get(f"{console_runtime.url}/console/", timeout=10).text
    found = re.search(r'"\./assets/webhooks\.js": "\./assets/(webhooks\.[0-9a-f]{10}\.js)"', index)
    assert found, "webhooks.js is missing from the import map"
    served = requests.get(f"{console_runtime.url}/console/assets/{found.group(1)}", timeout=10)
    assert served.status_code == 200
    source = (Path(__file__).resolve().parents[2] / "console" / "assets" / "webhooks.js").read_text()
    assert served.text == source
