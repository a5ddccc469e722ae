"""Browser fixtures: the console served by a local runtime of its own (one
per test module, its own state directory), driven by Debian's Chromium
through Playwright (browser downloads are not possible here), with every
console error or uncaught exception failing the test that caused it."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

from tests.e2e.runtime_process import RunningRuntime, RuntimeLauncher

# make test runs a test module per core: a page that signs in and lists while the other core starts
# functions can take more than Playwright's default 5 s to show a row, which is not a failure of the console.
expect.set_options(timeout=15_000)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = (1280, 900)
PHONE = (390, 844)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

# Chromium logs "Failed to load resource: ... status of 409" for every refused
# API call; the console shows those refusals in the page (and the tests check
# them there), so only failed loads of the console's own files are errors.
_FAILED_LOAD = re.compile(r"Failed to load resource: the server responded with a status of \d+")


@pytest.fixture(scope="module", autouse=True)
def _no_moto_mock_in_process(without_the_session_mock: None) -> None:
    """Browser tests talk to runtimes in subprocesses: a moto mock left running in
    this process (by an integration test on the same xdist worker) is paused."""


@dataclass
class ConsoleErrors:
    """Errors logged by the pages of one test. `allow(pattern)` accepts the
    ones a test provokes on purpose (matched with re.search)."""

    messages: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)
    reported: bool = False

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def watch(self, page: Page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = str(message.location.get("url", ""))
        if _FAILED_LOAD.search(message.text) and "/console/" not in url:
            return
        self.messages.append(f"console error: {message.text} ({url})")

    def _on_page_error(self, error: Error) -> None:
        self.messages.append(f"uncaught exception: {error.message}\n{error.stack or ''}")

    def unexpected(self) -> list[str]:
        return [text for text in self.messages if not any(pattern.search(text) for pattern in self.allowed)]

    def fail_if_any(self) -> None:
        unexpected = self.unexpected()
        if unexpected and not self.reported:
            self.reported = True
            pytest.fail("errors in the browser console:\n" + "\n".join(unexpected), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Console errors fail the test itself (not only its teardown), once the
    test body has run: errors logged after its last check count too."""
    result = yield
    errors = getattr(item, "funcargs", {}).get("console_errors")
    if isinstance(errors, ConsoleErrors):
        errors.fail_if_any()
    return result


class Api:
    """The runtime's HTTP API as a test calls it: `who` is a bearer() header."""

    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str, who: dict[str, str], **query: Any) -> Any:
        reply = requests.get(f"{self.url}{path}", headers=who, params=query or None, timeout=10)
        assert reply.status_code == 200, (path, reply.status_code, reply.text)
        return reply.json()

    def post(
        self, path: str, who: dict[str, str], body: Any = None, expect: int | Sequence[int] = (200, 201, 202)
    ) -> Any:
        reply = requests.post(f"{self.url}{path}", headers=who, json=body, timeout=10)
        expected = (expect,) if isinstance(expect, int) else tuple(expect)
        assert reply.status_code in expected, (path, reply.status_code, reply.text)
        return reply.json() if reply.content else None

    def wait_for_job(self, job_id: str, status: str, who: dict[str, str], seconds: float = 30) -> dict[str, Any]:
        """The job once it has `status` (failing after `seconds` with the job as it is)."""
        deadline = time.monotonic() + seconds
        while True:
            job = self.get(f"/jobs/{job_id}", who)
            if job["status"] == status or time.monotonic() > deadline:
                assert job["status"] == status, job
                return job
            time.sleep(0.2)


@pytest.fixture(scope="module")
def console_environment() -> dict[str, str]:
    """Variables set in the shell of the module's runtime (`X=... make run`);
    a module overrides this fixture to set some (e.g. HTTP_POST_ALLOWED_HOSTS)."""
    return {}


@pytest.fixture(scope="module")
def console_runtime(
    tmp_path_factory: pytest.TempPathFactory, console_environment: dict[str, str]
) -> Iterator[RunningRuntime]:
    """A runtime per test module: the module's records are its own (dashboard
    figures, inbox contents) whatever ran before it."""
    launcher = RuntimeLauncher(tmp_path_factory.mktemp("console-logs"))
    yield launcher.start(tmp_path_factory.mktemp("console-state"), environment=console_environment)
    launcher.stop_all()


@pytest.fixture(scope="module")
def api(console_runtime: RunningRuntime) -> Api:
    return Api(console_runtime.url)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run installs it)")
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture
def console_errors() -> ConsoleErrors:
    return ConsoleErrors()


PageFactory = Callable[..., Page]


@pytest.fixture
def new_page(browser: Browser, console_runtime: RunningRuntime, console_errors: ConsoleErrors) -> Iterator[PageFactory]:
    """`new_page(width=1280, height=900)`: a page in a context of its own (its
    own sessionStorage, so its own signed-in user), relative URLs resolved
    against the runtime. Console errors of any of them fail the test."""
    contexts: list[BrowserContext] = []

    def make(width: int = DESKTOP[0], height: int = DESKTOP[1]) -> Page:
        context = browser.new_context(viewport={"width": width, "height": height}, base_url=console_runtime.url)
        context.on("page", console_errors.watch)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
    console_errors.fail_if_any()


@pytest.fixture
def page(new_page: PageFactory) -> Page:
    """A desktop page, 1280x900."""
    return new_page(*DESKTOP)


@pytest.fixture
def phone_page(new_page: PageFactory) -> Page:
    """A phone-sized page, 390x844."""
    return new_page(*PHONE)


def sign_in(
    page_or_context: Page | BrowserContext, user: str, roles: str | Sequence[str], tenant: str = "acme"
) -> Page:
    """Signs in through the console's local form, as a person would; returns
    the page, signed in (its `Sign out` button shown)."""
    page = page_or_context.new_page() if isinstance(page_or_context, BrowserContext) else page_or_context
    if not page.url.startswith("http") or "/console/" not in page.url:
        page.goto("/console/")
    page.get_by_label("User").fill(user)
    page.get_by_label("Roles").fill(roles if isinstance(roles, str) else ",".join(roles))
    page.get_by_label("Tenant").fill(tenant)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()
    return page


def has_horizontal_scroll(page: Page) -> bool:
    """The page scrolls sideways: its content is wider than the viewport."""
    return bool(page.evaluate("document.scrollingElement.scrollWidth > window.innerWidth"))


def screenshot(page: Page, name: str, full_page: bool = False) -> Path:
    """Writes docs/screenshots/<name>.png (the README shows them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page, animations="disabled", caret="hide")
    return path
