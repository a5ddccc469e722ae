"""The dashboard in a browser: its figures are the API's /stats, its daily
charts have one bar group per day of /stats/daily for 7, 30 and 90 days, and
the README's screenshot of it is written here."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import Api, screenshot, sign_in
from tests.e2e.runtime_process import bearer

pytestmark = pytest.mark.browser

REQUESTER = bearer("agent-7", "requester")
ANA = bearer("pilot-ana", "operator")
BO = bearer("pilot-bo", "operator")
ADMIN = bearer("root", "admin")


def humanize(key: str) -> str:
    """The dashboard's words for the API's keys: IN_PROGRESS → "In progress"."""
    words = key.replace("_", " ").lower()
    return words[:1].upper() + words[1:]


def rate(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


@pytest.fixture(scope="module")
def seeded(api: Api) -> None:
    """Requests of several types and priorities, decided by two operators, one
    cancelled, and a finished job: figures that are not all zero."""
    kinds = [
        ("approval", "critical"),
        ("approval", "high"),
        ("clarification", "normal"),
        ("kill_switch", "low"),
        ("waive_violation", "normal"),
        ("resume", "high"),
        ("approval", "normal"),
    ]
    ids = [
        api.post(
            "/interventions",
            REQUESTER,
            {"uow_id": f"dash-{n}", "type": kind, "priority": priority, "title": f"Dashboard request {n}"},
        )["id"]
        for n, (kind, priority) in enumerate(kinds)
    ]
    for request_id in ids[:2]:
        api.post(f"/interventions/{request_id}/approve", ANA, {"reason": "fine"})
    api.post(f"/interventions/{ids[2]}/approve", BO, {"reason": "fine"})
    api.post(f"/interventions/{ids[3]}/reject", BO, {"reason": "not now"})
    api.post(f"/interventions/{ids[4]}/cancel", REQUESTER, {"reason": "no longer needed"})
    api.post(f"/interventions/{ids[5]}/claim", ANA)
    job = api.post("/jobs", REQUESTER, {"tool": "export_interventions", "parameters": {"format": "csv"}})
    api.wait_for_job(job["id"], "COMPLETED", REQUESTER)


def open_dashboard(page: Page) -> None:
    page.goto("/console/#/dashboard")
    sign_in(page, "pilot-ana", "operator")
    expect(page.get_by_role("table", name="Requests by status")).to_be_visible()
    expect(page.get_by_role("figure", name=re.compile(r"^Requests per day"))).to_be_visible()


def rows_of(table: Locator) -> dict[str, Locator]:
    """Each body row of a table by its row header's text."""
    rows = {}
    for row in table.get_by_role("row").all():
        header = row.get_by_role("rowheader")
        if header.count():
            rows[header.inner_text().strip()] = row
    return rows


def first_cell(row: Locator) -> str:
    return row.get_by_role("cell").first.inner_text().strip()


def counts_in(page: Page, caption: str) -> dict[str, int]:
    return {name: int(first_cell(row)) for name, row in rows_of(page.get_by_role("table", name=caption)).items()}


def seconds_in(row: Locator) -> float | None:
    """The exact value of a duration cell (its <time datetime="PT…S">), None for "—"."""
    cell = row.get_by_role("cell").first
    if cell.inner_text().strip() == "—":
        return None
    value = cell.locator("time").get_attribute("datetime")
    assert value is not None and value.startswith("PT") and value.endswith("S"), value
    return float(value[2:-1])


def test_the_dashboard_shows_the_figures_of_stats(page: Page, api: Api, seeded: None) -> None:
    open_dashboard(page)
    stats = api.get("/stats", ANA)
    requests_, jobs = stats["interventions"], stats["jobs"]
    # Figures worth comparing: the seeding reached the counters.
    assert requests_["by_status"]["APPROVED"] == 3 and requests_["top_responders"] and jobs["by_status"]["COMPLETED"]

    assert counts_in(page, "Requests by status") == {humanize(k): v for k, v in requests_["by_status"].items()}
    assert counts_in(page, "Requests by type") == {humanize(k): v for k, v in requests_["by_type"].items()}
    assert counts_in(page, "Requests by priority") == {humanize(k): v for k, v in requests_["by_priority"].items()}
    assert counts_in(page, "Top responders") == {r["user"]: r["count"] for r in requests_["top_responders"]}
    assert counts_in(page, "Jobs by status") == {humanize(k): v for k, v in jobs["by_status"].items()}
    assert counts_in(page, "Top tools") == {t["tool"]: t["count"] for t in jobs["top_tools"]}

    summary = rows_of(page.get_by_role("table", name="Request summary"))
    assert int(first_cell(summary["Total"])) == requests_["total"]
    assert int(first_cell(summary["Open"])) == requests_["open"]
    assert seconds_in(summary["Average resolution"]) == pytest.approx(requests_["avg_resolution_seconds"])
    assert seconds_in(summary["Resolution p50"]) == pytest.approx(requests_["resolution_seconds_p50"])
    assert seconds_in(summary["Resolution p95"]) == pytest.approx(requests_["resolution_seconds_p95"])

    job_summary = rows_of(page.get_by_role("table", name="Job summary"))
    assert int(first_cell(job_summary["Total"])) == jobs["total"]
    assert first_cell(job_summary["Success rate"]) == rate(jobs["success_rate"])
    assert seconds_in(job_summary["Average duration"]) == pytest.approx(jobs["avg_duration_seconds"])


def names_of(groups: Locator) -> list[str]:
    """The accessible names (aria-label) of the bar groups, in one round trip."""
    return groups.evaluate_all("groups => groups.map(group => group.getAttribute('aria-label'))")


def day_label(day: dict[str, int]) -> str:
    resolved = day["approved"] + day["rejected"] + day["expired"] + day["cancelled"]
    return (
        f"{day['date']}: {day['created']} created; {resolved} resolved ({day['approved']} approved, "
        f"{day['rejected']} rejected, {day['expired']} expired, {day['cancelled']} cancelled)"
    )


def job_day_label(day: dict[str, int]) -> str:
    finished = day["jobs_completed"] + day["jobs_failed"]
    return f"{day['date']}: {finished} finished ({day['jobs_completed']} completed, {day['jobs_failed']} failed)"


@pytest.mark.parametrize("days", [7, 30, 90])
def test_the_daily_charts_have_one_bar_group_per_day(page: Page, api: Api, seeded: None, days: int) -> None:
    open_dashboard(page)
    page.get_by_role("group", name="Period").get_by_role("button", name=f"{days} days").click()
    requests_chart = page.get_by_role("figure", name=f"Requests per day, last {days} days")
    jobs_chart = page.get_by_role("figure", name=f"Jobs per day, last {days} days")
    expect(requests_chart).to_be_visible()
    expect(page.get_by_role("button", name=f"{days} days")).to_have_attribute("aria-pressed", "true")

    daily = api.get("/stats/daily", ANA, days=days)["days"]
    assert len(daily) == days and daily[-1]["created"] >= 7
    assert requests_chart.get_by_role("img").count() == days
    assert names_of(requests_chart.get_by_role("img")) == [day_label(day) for day in daily]
    assert names_of(jobs_chart.get_by_role("img")) == [job_day_label(day) for day in daily]
    # The same rows as a table, for those who do not read the picture.
    page.get_by_text("Show the figures as a table").click()
    table = page.get_by_role("table", name=f"Per day, last {days} days")
    assert [text.strip() for text in table.get_by_role("rowheader").all_inner_texts()] == [day["date"] for day in daily]
    assert int(first_cell(table.get_by_role("row").last)) == daily[-1]["created"]


def test_a_screenshot_of_the_dashboard_for_the_readme(page: Page, seeded: None) -> None:
    open_dashboard(page)
    path = screenshot(page, "dashboard", full_page=True)
    assert path.stat().st_size > 10_000
