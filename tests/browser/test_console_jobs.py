"""Jobs and "Run a tool" in a browser: a job started from the form follows
its status to COMPLETED and its output downloads; a gated job shows its
approval request; Cancel is offered only to who may cancel; the form checks
values before sending and shows the API's refusals beside the fields; the
detail shows errors, truncation and logs; the list filters and pages."""

from __future__ import annotations

import csv
import io
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import Api, PageFactory, sign_in
from tests.e2e.runtime_process import bearer

pytestmark = pytest.mark.browser

REQUESTER = bearer("agent-7", "requester")
OPERATOR = bearer("pilot-ana", "operator")
BIG_BODY_BYTES = 70 * 1024
JOB_URL = re.compile(r"#/jobs/([^/?]+)$")


class _Answer(BaseHTTPRequestHandler):
    """The target of http_post jobs: a body longer than the result's cap."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b"a" * BIG_BODY_BYTES
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def closed_port() -> str:
    """A port nothing listens on: a POST there is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


@pytest.fixture(scope="module")
def console_environment(target: str, closed_port: str) -> dict[str, str]:
    return {"HTTP_POST_ALLOWED_HOSTS": f"{target},{closed_port}"}


def job_status(page: Page) -> Locator:
    """The status chip beside the job's heading (a live region)."""
    return page.get_by_role("status", name="Job status")


def size_words(size: int) -> str:
    """The page's words for a size: 812 B, 1.5 KiB, 12 KiB."""
    if size < 1024:
        return f"{size} B"
    kib = size / 1024
    return f"{kib:.1f} KiB" if kib < 10 else f"{kib:.0f} KiB"


def opened_job_id(page: Page) -> str:
    expect(page).to_have_url(JOB_URL)
    found = JOB_URL.search(page.url)
    assert found
    return found.group(1)


def test_a_job_run_from_the_form_completes_and_its_output_downloads(page: Page, api: Api) -> None:
    created = {
        api.post("/interventions", REQUESTER, {"uow_id": f"run-{n}", "type": "approval", "title": f"#{n}"})["id"]
        for n in range(3)
    }
    page.goto("/console/#/run")
    sign_in(page, "agent-7", "requester")
    page.get_by_label("Tool").select_option("export_interventions")
    page.get_by_label("Format").select_option("csv")
    page.get_by_role("button", name="Run", exact=True).click()

    job_id = opened_job_id(page)
    expect(job_status(page)).to_have_text("Completed", timeout=30_000)
    job = api.get(f"/jobs/{job_id}", REQUESTER)
    assert job["status"] == "COMPLETED" and job["submitted_by"] == "agent-7"
    assert job["tool"] == "export_interventions" and job["parameters"]["format"] == "csv"

    link = page.get_by_role("link", name="Download interventions.csv")
    href = link.get_attribute("href")
    assert href and href.startswith("http")
    download = requests.get(href, timeout=10)
    assert download.status_code == 200, download.text
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert "id" in (rows[0].keys() if rows else ()) and created <= {row["id"] for row in rows}
    # The page's size is the API's.
    (output,) = job["result"]["outputs"]
    expect(page.get_by_role("listitem").filter(has=link)).to_contain_text(size_words(output["size_bytes"]))


def test_a_gated_job_shows_its_approval_request_and_runs_once_approved(page: Page, api: Api) -> None:
    page.goto("/console/#/run")
    sign_in(page, "agent-7", "requester")
    page.get_by_label("Tool").select_option("export_interventions")
    page.get_by_label("Require approval").check()
    page.get_by_label("Approval title").fill("Export for the audit")
    page.get_by_label("Approval priority").select_option("high")
    page.get_by_role("button", name="Run", exact=True).click()

    job_id = opened_job_id(page)
    expect(job_status(page)).to_have_text("Awaiting approval")
    job = api.get(f"/jobs/{job_id}", REQUESTER)
    assert job["status"] == "AWAITING_APPROVAL" and job["intervention_id"]
    request = api.get(f"/interventions/{job['intervention_id']}", OPERATOR)
    assert (request["title"], request["priority"], request["job_id"]) == ("Export for the audit", "high", job_id)
    link = page.get_by_role("link", name="Open the approval request")
    expect(link).to_have_attribute("href", f"#/requests/{job['intervention_id']}")

    # Approved elsewhere: the page follows the job until it has run.
    api.post(f"/interventions/{job['intervention_id']}/approve", OPERATOR, {"reason": "audit asked for it"})
    expect(job_status(page)).to_have_text("Completed", timeout=30_000)
    expect(page.get_by_role("link", name="Download interventions.jsonl")).to_be_visible()

    page.get_by_role("link", name="Approval request", exact=True).click()
    expect(page).to_have_url(re.compile(f"#/requests/{job['intervention_id']}$"))
    expect(page.get_by_text("Export for the audit").first).to_be_visible()


def test_cancel_is_offered_only_to_who_may_cancel(new_page: PageFactory, api: Api) -> None:
    job = api.post("/jobs", REQUESTER, {"tool": "export_interventions", "parameters": {}, "requires_approval": True})
    assert job["status"] == "AWAITING_APPROVAL"

    operator = sign_in(new_page(), "pilot-ana", "operator")
    operator.goto(f"/console/#/jobs/{job['id']}")
    expect(job_status(operator)).to_have_text("Awaiting approval")
    cancel = operator.get_by_role("button", name="Cancel")
    expect(cancel).to_be_disabled()
    expect(cancel).to_have_accessible_description(
        re.compile(r"only its submitter \(agent-7\) or an admin can cancel it")
    )

    submitter = sign_in(new_page(), "agent-7", "requester")
    submitter.goto(f"/console/#/jobs/{job['id']}")
    expect(submitter.get_by_role("button", name="Cancel")).to_be_enabled()
    submitter.get_by_role("button", name="Cancel").click()
    expect(job_status(submitter)).to_have_text("Cancelled")
    expect(submitter.get_by_role("button", name="Cancel")).to_be_disabled()
    assert api.get(f"/jobs/{job['id']}", REQUESTER)["status"] == "CANCELLED"
    assert api.get(f"/interventions/{job['intervention_id']}", OPERATOR)["status"] == "CANCELLED"
    # The operator's page follows the job, without a reload.
    expect(job_status(operator)).to_have_text("Cancelled", timeout=15_000)


def test_the_form_checks_values_before_sending_and_shows_the_api_refusals(page: Page, api: Api) -> None:
    before = len(api.get("/jobs", REQUESTER, tool="http_post", limit=100)["items"])
    page.goto("/console/#/run")
    sign_in(page, "agent-7", "requester")
    page.get_by_label("Tool").select_option("http_post")
    url, body, timeout = page.get_by_label("Url"), page.get_by_label("Json"), page.get_by_label("Timeout Seconds")
    expect(timeout).to_have_value("10")  # the schema's default

    timeout.fill("99")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(url).to_have_accessible_description(re.compile("Required"))
    expect(body).to_have_accessible_description(re.compile("Required"))
    expect(timeout).to_have_accessible_description(re.compile("At most 30"))
    expect(url).to_be_focused()

    url.fill("http://blocked.example/hook")
    body.fill("{not json")
    timeout.fill("5")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(body).to_have_accessible_description(re.compile("Not valid JSON"))

    body.fill('{"ok": true}')
    page.get_by_role("button", name="Run", exact=True).click()
    # The host is checked by the API (its allow-list): its 422 lands beside the field.
    expect(url).to_have_accessible_description(re.compile(r"blocked\.example.*not in HTTP_POST_ALLOWED_HOSTS"))
    expect(page.get_by_role("alert").filter(has_text="Invalid parameters for http_post")).to_be_visible()
    expect(page).to_have_url(re.compile(r"#/run$"))
    assert len(api.get("/jobs", REQUESTER, tool="http_post", limit=100)["items"]) == before


def test_the_detail_shows_an_error_a_truncated_result_and_the_logs(
    page: Page, api: Api, target: str, closed_port: str
) -> None:
    failed = api.post(
        "/jobs", REQUESTER, {"tool": "http_post", "parameters": {"url": f"http://{closed_port}/x", "json": {}}}
    )
    long = api.post(
        "/jobs", REQUESTER, {"tool": "http_post", "parameters": {"url": f"http://{target}/big", "json": [1]}}
    )
    failed = api.wait_for_job(failed["id"], "FAILED", REQUESTER)
    long = api.wait_for_job(long["id"], "COMPLETED", REQUESTER)
    assert failed["result"]["error"] and long["result"]["truncated"] is True

    sign_in(page, "pilot-ana", "operator")
    page.goto(f"/console/#/jobs/{failed['id']}")
    expect(job_status(page)).to_have_text("Failed")
    expect(page.get_by_role("alert").filter(has_text=failed["result"]["error"])).to_be_visible()

    page.goto(f"/console/#/jobs/{long['id']}")
    expect(job_status(page)).to_have_text("Completed")
    expect(page.get_by_text(re.compile("^Truncated: "))).to_be_visible()
    logs = api.get(f"/jobs/{long['id']}/logs", REQUESTER)["items"]
    assert any("answered 200" in line["message"] for line in logs)
    log_list = page.get_by_role("region", name="Logs").get_by_role("listitem")
    expect(log_list).to_have_count(len(logs))
    for n, line in enumerate(logs):
        expect(log_list.nth(n)).to_contain_text(line["message"])


def listed_ids(page: Page) -> list[str]:
    """The job ids of the list's rows, in the page's order (the last column)."""
    table = page.get_by_role("table", name="Jobs, newest first")
    return [row.get_by_role("cell").last.inner_text().strip() for row in table.get_by_role("row").all()[1:]]


def test_the_jobs_list_filters_and_pages_by_cursor(page: Page, api: Api, closed_port: str) -> None:
    refused = api.post(
        "/jobs", REQUESTER, {"tool": "http_post", "parameters": {"url": f"http://{closed_port}/", "json": 1}}
    )
    api.wait_for_job(refused["id"], "FAILED", REQUESTER)
    first = api.post("/jobs", REQUESTER, {"tool": "export_interventions", "parameters": {"format": "jsonl"}})
    api.wait_for_job(first["id"], "COMPLETED", REQUESTER)
    for _ in range(26):  # cached answers of the first: COMPLETED at once
        api.post("/jobs", REQUESTER, {"tool": "export_interventions", "parameters": {"format": "jsonl"}})
    every = api.get("/jobs", REQUESTER, limit=100)
    assert every["next_cursor"] is None and len(every["items"]) > 27

    page.goto("/console/#/jobs")
    sign_in(page, "pilot-ana", "operator")
    table = page.get_by_role("table", name="Jobs, newest first")
    expect(table.get_by_role("row")).to_have_count(25 + 1)
    page.get_by_role("button", name="Load more").click()
    expect(table.get_by_role("row")).to_have_count(min(50, len(every["items"])) + 1)
    while page.get_by_role("button", name="Load more").is_visible():
        shown = table.get_by_role("row").count()
        page.get_by_role("button", name="Load more").click()
        expect(table.get_by_role("row")).not_to_have_count(shown)
    assert listed_ids(page) == [job["id"] for job in every["items"]]

    page.get_by_label("Status").select_option(label="Failed")
    failed = [job["id"] for job in api.get("/jobs", REQUESTER, status="FAILED")["items"]]
    expect(table.get_by_role("row")).to_have_count(len(failed) + 1)
    assert failed and listed_ids(page) == failed

    page.get_by_label("Status").select_option(label="Every status")
    page.get_by_label("Tool").select_option("http_post")
    posts = [job["id"] for job in api.get("/jobs", REQUESTER, tool="http_post")["items"]]
    expect(table.get_by_role("row")).to_have_count(len(posts) + 1)
    assert posts and listed_ids(page) == posts

    page.get_by_label("Status").select_option(label="Cancelled")
    expect(page.get_by_text("No jobs match these filters.")).to_be_visible()
