"""The console's security headers as the browser receives them (the CSP of
the spec: no inline script but the import map, whose hash it names), the
dashboard and job views running under that policy without one violation,
and those views at 390 px wide without horizontal scrolling."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from playwright.sync_api import Page, Response, expect

from tests.browser.conftest import Api, ConsoleErrors, has_horizontal_scroll, sign_in
from tests.e2e.runtime_process import bearer

pytestmark = pytest.mark.browser

REQUESTER = bearer("agent-7", "requester")
OPERATOR = bearer("pilot-ana", "operator")
IMPORT_MAP = re.compile(r'<script type="importmap">(.*?)</script>', re.DOTALL)
# Counts the policy's refusals in the page (a refused inline style, script or connection each fires one).
VIOLATION_PROBE = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


@pytest.fixture(scope="module")
def jobs(api: Api) -> dict[str, str]:
    """A finished export (with its output file) and a job waiting for approval,
    with requests behind them: views with content to lay out."""
    for n in range(3):
        title = f"A request whose title is long enough to wrap {n} " * 3
        api.post("/interventions", REQUESTER, {"uow_id": f"sec-{n}", "type": "approval", "title": title})
    done = api.post("/jobs", REQUESTER, {"tool": "export_interventions", "parameters": {"format": "csv"}})
    approval = {"title": "Export the whole tenant for the auditors"}
    gated = api.post(
        "/jobs",
        REQUESTER,
        {
            "tool": "export_interventions",
            "parameters": {"format": "jsonl"},
            "requires_approval": True,
            "approval": approval,
        },
    )
    api.wait_for_job(done["id"], "COMPLETED", REQUESTER)
    return {"done": done["id"], "gated": gated["id"]}


def test_the_console_is_served_with_the_csp_of_the_spec(page: Page) -> None:
    console_responses: list[Response] = []
    page.on("response", lambda response: console_responses.append(response) if "/console/" in response.url else None)
    response = page.goto("/console/")
    assert response is not None and response.status == 200
    headers = response.headers
    policy = directives(headers["content-security-policy"])

    assert policy["default-src"] == ["'self'"]
    scripts = policy["script-src"]
    assert "'self'" in scripts and not {"'unsafe-inline'", "'unsafe-eval'", "*"} & set(scripts)
    (import_map,) = IMPORT_MAP.findall(response.text())
    digest = base64.b64encode(hashlib.sha256(import_map.encode()).digest()).decode()
    # The only inline script allowed is the import map, by the hash of its exact text.
    assert [source for source in scripts if source != "'self'"] == [f"'sha256-{digest}'"]
    assert policy["style-src"] == ["'self'"]
    assert set(policy["img-src"]) == {"'self'", "data:"}
    assert "'self'" in policy["connect-src"] and "*" not in policy["connect-src"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert "'self'" in policy["form-action"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"

    # The page under that policy: the sign-in form drawn by the modules, and
    # every file of the console carrying the same headers.
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assets = [r for r in console_responses if "/assets/" in r.url]
    assert {r.url.rsplit(".", 1)[-1] for r in assets} >= {"js", "css"}
    for asset in assets:
        assert asset.status == 200, asset.url
        assert asset.headers["x-content-type-options"] == "nosniff", asset.url
        assert directives(asset.headers["content-security-policy"])["frame-ancestors"] == ["'none'"], asset.url


def test_the_dashboard_and_job_views_cause_no_policy_violation(
    page: Page, jobs: dict[str, str], console_errors: ConsoleErrors
) -> None:
    page.add_init_script(VIOLATION_PROBE)
    page.goto("/console/#/dashboard")
    sign_in(page, "root", "admin")
    expect(page.get_by_role("table", name="Requests by status")).to_be_visible()
    page.get_by_role("button", name="90 days").click()
    expect(page.get_by_role("figure", name="Requests per day, last 90 days")).to_be_visible()
    page.goto("/console/#/jobs")
    expect(page.get_by_role("link", name="export_interventions").first).to_be_visible()
    page.goto(f"/console/#/jobs/{jobs['done']}")
    expect(page.get_by_role("link", name="Download interventions.csv")).to_be_visible()
    page.goto(f"/console/#/jobs/{jobs['gated']}")
    expect(page.get_by_role("link", name="Open the approval request")).to_be_visible()
    page.goto("/console/#/run")
    page.get_by_label("Tool").select_option("http_post")
    page.get_by_label("Require approval").check()
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_label("Url")).to_have_accessible_description(re.compile("Required"))
    assert page.evaluate("window.__violations") == []

    # The probe sees a violation when there is one: an inline style is refused.
    console_errors.allow("Applying inline style violates the following Content Security Policy directive 'style-src")
    page.evaluate("document.querySelector('main').setAttribute('style', 'color: red')")
    page.wait_for_function("window.__violations.length > 0")
    assert [v.split()[0] for v in page.evaluate("window.__violations")] == ["style-src-attr"]


@pytest.mark.parametrize("view", ["dashboard", "dashboard-90", "jobs", "job", "gated-job", "run"])
def test_the_views_fit_390_px_without_horizontal_scrolling(phone_page: Page, jobs: dict[str, str], view: str) -> None:
    page = phone_page
    page.goto("/console/#/inbox")
    sign_in(page, "root", "admin")
    if view.startswith("dashboard"):
        page.goto("/console/#/dashboard")
        expect(page.get_by_role("table", name="Requests by status")).to_be_visible()
        if view == "dashboard-90":
            page.get_by_role("button", name="90 days").click()
            expect(page.get_by_role("figure", name="Requests per day, last 90 days")).to_be_visible()
        page.get_by_text("Show the figures as a table").click()
        expect(page.get_by_role("table", name=re.compile(r"^Per day"))).to_be_visible()
    elif view == "jobs":
        page.goto("/console/#/jobs")
        expect(page.get_by_role("link", name="export_interventions").first).to_be_visible()
    elif view == "job":
        page.goto(f"/console/#/jobs/{jobs['done']}")
        expect(page.get_by_role("link", name="Download interventions.csv")).to_be_visible()
    elif view == "gated-job":
        page.goto(f"/console/#/jobs/{jobs['gated']}")
        expect(page.get_by_role("link", name="Open the approval request")).to_be_visible()
    else:
        page.goto("/console/#/run")
        page.get_by_label("Tool").select_option("http_post")
        page.get_by_label("Require approval").check()
        page.get_by_role("button", name="Run", exact=True).click()
        expect(page.get_by_label("Url")).to_have_accessible_description(re.compile("Required"))
    assert page.viewport_size == {"width": 390, "height": 844}
    assert not has_horizontal_scroll(page), page.evaluate(
        "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth)"
        ".slice(0, 5).map(e => e.tagName + '.' + e.className)"
    )
