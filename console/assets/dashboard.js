// The dashboard: the tenant's `/stats` figures as tables (every status, type and priority, even at 0, as the API
// sends them) and `/stats/daily` as two SVG charts with a table of the same rows, for 7, 30 or 90 days. Two small
// requests per load, both reading pre-computed counters: refreshing it costs the API a few items whatever the size.

import { barChart, legend, shortDate } from "./chart.js";
import { clear, el, formatDuration, formatTime } from "./dom.js";

const PERIODS = [7, 30, 90];
const PERIOD_KEY = "oversight.dashboard.days";

const REQUEST_BARS = [
  { name: "Created", segments: [{ key: "created", label: "created" }] },
  {
    name: "Resolved",
    segments: [
      { key: "approved", label: "approved" },
      { key: "rejected", label: "rejected" },
      { key: "expired", label: "expired" },
      { key: "cancelled", label: "cancelled" },
    ],
  },
];
const JOB_BARS = [
  {
    name: "Finished",
    segments: [
      { key: "jobs_completed", label: "completed" },
      { key: "jobs_failed", label: "failed" },
    ],
  },
];
const DAILY_COLUMNS = [
  ["created", "Created"],
  ["approved", "Approved"],
  ["rejected", "Rejected"],
  ["expired", "Expired"],
  ["cancelled", "Cancelled"],
  ["jobs_completed", "Jobs completed"],
  ["jobs_failed", "Jobs failed"],
];

/** "IN_PROGRESS" → "In progress", "kill_switch" → "Kill switch": the API's keys as words. */
export function humanize(key) {
  const words = String(key).replace(/_/g, " ").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A rate in 0..1 as "66.7 %" ("—" before there is one). */
export function formatRate(rate) {
  return rate === null || rate === undefined ? "—" : `${(Number(rate) * 100).toFixed(1)} %`;
}

/** A duration as text with its exact value in seconds in a <time datetime="PT…S"> (absent: "—", no data yet). */
function durationCell(seconds) {
  if (seconds === null || seconds === undefined) {
    return el("span", { class: "muted", title: "Nothing resolved yet" }, "—");
  }
  const value = Number(seconds);
  // Sub-second resolutions are common when a machine decides; "0 s" would read as "none".
  const words = value < 1 ? `${value.toFixed(1)} s` : formatDuration(value);
  return el("time", { datetime: `PT${value}S`, title: `${value.toFixed(1)} s` }, words);
}

function storedPeriod() {
  try {
    const days = Number(sessionStorage.getItem(PERIOD_KEY));
    return PERIODS.includes(days) ? days : 30;
  } catch {
    return 30;
  }
}

function countsTable(caption, heading, counts, total) {
  const entries = Object.entries(counts || {});
  return el("table", { class: "figures-table" },
    el("caption", {}, caption),
    el("thead", {}, el("tr", {},
      el("th", { scope: "col" }, heading),
      el("th", { scope: "col", class: "number" }, "Count"),
      el("th", { scope: "col", class: "number" }, "Share"))),
    el("tbody", {}, entries.map(([key, count]) => el("tr", { class: count === 0 ? "zero" : null },
      el("th", { scope: "row" }, humanize(key)),
      el("td", { class: "number" }, String(count)),
      el("td", { class: "number muted" }, total > 0 ? `${Math.round((count / total) * 100)} %` : "—")))));
}

function rankingTable(caption, heading, items, nameKey, countHeading, emptyText) {
  if (!items || items.length === 0) {
    return el("div", { class: "figures-table empty-table" }, el("p", { class: "table-caption" }, caption),
      el("p", { class: "muted" }, emptyText));
  }
  return el("table", { class: "figures-table" },
    el("caption", {}, caption),
    el("thead", {}, el("tr", {},
      el("th", { scope: "col" }, heading),
      el("th", { scope: "col", class: "number" }, countHeading))),
    el("tbody", {}, items.map((item) => el("tr", {},
      el("th", { scope: "row" }, String(item[nameKey])),
      el("td", { class: "number" }, String(item.count))))));
}

function summaryTable(caption, rows) {
  return el("table", { class: "figures-table" },
    el("caption", {}, caption),
    el("tbody", {}, rows.map(([label, value]) => el("tr", {},
      el("th", { scope: "row" }, label), el("td", { class: "number" }, value)))));
}

function figure(label, value) {
  return el("div", { class: "figure" }, el("dt", {}, label), el("dd", {}, value));
}

function requestsSection(figures) {
  return el("section", { class: "dashboard-section", "aria-labelledby": "dash-requests" },
    el("h2", { id: "dash-requests" }, "Requests"),
    el("dl", { class: "figure-cards" },
      figure("Total", String(figures.total)),
      figure("Open", String(figures.open)),
      figure("Average resolution", durationCell(figures.avg_resolution_seconds))),
    el("div", { class: "tables-grid" },
      summaryTable("Request summary", [
        ["Total", String(figures.total)],
        ["Open", String(figures.open)],
        ["Average resolution", durationCell(figures.avg_resolution_seconds)],
        ["Resolution p50", durationCell(figures.resolution_seconds_p50)],
        ["Resolution p95", durationCell(figures.resolution_seconds_p95)],
      ]),
      countsTable("Requests by status", "Status", figures.by_status, figures.total),
      countsTable("Requests by type", "Type", figures.by_type, figures.total),
      countsTable("Requests by priority", "Priority", figures.by_priority, figures.total),
      rankingTable("Top responders", "User", figures.top_responders, "user", "Decisions", "No decisions yet.")));
}

function jobsSection(jobs) {
  return el("section", { class: "dashboard-section", "aria-labelledby": "dash-jobs" },
    el("h2", { id: "dash-jobs" }, "Jobs"),
    el("dl", { class: "figure-cards" },
      figure("Total", String(jobs.total)),
      figure("Success rate", formatRate(jobs.success_rate)),
      figure("Average duration", durationCell(jobs.avg_duration_seconds))),
    el("div", { class: "tables-grid" },
      summaryTable("Job summary", [
        ["Total", String(jobs.total)],
        ["Success rate", formatRate(jobs.success_rate)],
        ["Average duration", durationCell(jobs.avg_duration_seconds)],
      ]),
      countsTable("Jobs by status", "Status", jobs.by_status, jobs.total),
      rankingTable("Top tools", "Tool", jobs.top_tools, "tool", "Jobs", "No jobs yet.")));
}

function dailyTable(days) {
  // Eight columns do not fit 390 px: the table scrolls inside its own box (focusable, so keys scroll it too).
  return el("div", { class: "table-scroll", tabindex: "0", role: "region", "aria-label": "Per day (scrolls sideways)" },
    el("table", { class: "figures-table daily-table" },
    el("caption", {}, `Per day, last ${days.length} days`),
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Date"),
      DAILY_COLUMNS.map(([, label]) => el("th", { scope: "col", class: "number" }, label)))),
    el("tbody", {}, days.map((day) => el("tr", {},
      el("th", { scope: "row" }, el("time", { datetime: day.date }, day.date)),
      DAILY_COLUMNS.map(([key]) => el("td", { class: "number" }, String(day[key] ?? 0))))))));
}

/** Renders the dashboard into root; returns the cleanup that removes its listeners. */
export function render(root, ctx) {
  const state = { days: storedPeriod(), stats: null, daily: null, error: null, loading: true, generation: 0 };
  const heading = el("h1", { tabindex: "-1" }, "Dashboard");
  const status = el("p", { class: "muted", role: "status", "aria-live": "polite" }, "Loading the figures…");
  const refreshButton = el("button", { type: "button", class: "secondary", onclick: () => load() }, "Refresh");
  const figures = el("div", { class: "dashboard-figures", "aria-busy": "true" });
  const periodButtons = PERIODS.map((days) => el("button", {
    type: "button", class: "segment", "aria-pressed": String(days === state.days), dataset: { days },
    onclick: () => choosePeriod(days),
  }, `${days} days`));
  const chartsHolder = el("div", { class: "charts" });
  const dailySection = el("section", { class: "dashboard-section", "aria-labelledby": "dash-daily" },
    el("div", { class: "section-head" },
      el("h2", { id: "dash-daily" }, "Per day"),
      el("div", { class: "segmented", role: "group", "aria-label": "Period" }, periodButtons)),
    chartsHolder);

  clear(root);
  root.append(el("div", { class: "view dashboard" },
    el("div", { class: "view-head" }, heading, el("div", { class: "view-actions" }, refreshButton)),
    status, figures, dailySection));

  function choosePeriod(days) {
    if (days === state.days && state.daily) {
      return;
    }
    state.days = days;
    try {
      sessionStorage.setItem(PERIOD_KEY, String(days));
    } catch {
      // Private windows may refuse storage; the choice then lasts for this view only.
    }
    for (const button of periodButtons) {
      button.setAttribute("aria-pressed", String(Number(button.dataset.days) === days));
    }
    loadDaily();
  }

  function showError(target, error, retry) {
    clear(target);
    target.append(el("div", { class: "error-box", role: "alert" },
      el("p", {}, error && error.message ? error.message : String(error)),
      el("button", { type: "button", class: "secondary", onclick: retry }, "Try again")));
  }

  function drawFigures() {
    clear(figures);
    figures.setAttribute("aria-busy", "false");
    const stats = state.stats;
    figures.append(requestsSection(stats.interventions), jobsSection(stats.jobs));
    clear(status);
    status.append("Figures as of ", el("time", { datetime: stats.generated_at }, formatTime(stats.generated_at)), ".");
  }

  function chartWidth() {
    const width = chartsHolder.clientWidth || root.clientWidth || 720;
    return Math.max(240, Math.floor(width));
  }

  function drawCharts() {
    const rows = state.daily.days;
    const width = chartWidth();
    const height = width < 500 ? 180 : 240;
    const first = rows.length ? shortDate(rows[0].date) : "";
    const last = rows.length ? shortDate(rows[rows.length - 1].date) : "";
    const span = rows.length ? `, ${first} to ${last}` : "";
    const quiet = rows.every((row) => DAILY_COLUMNS.every(([key]) => !row[key]));
    clear(chartsHolder);
    chartsHolder.dataset.width = String(width);
    if (quiet) {
      chartsHolder.append(el("p", { class: "muted" }, `Nothing was created, decided or run in the last ${rows.length} days.`));
    }
    chartsHolder.append(
      el("figure", { class: "chart" },
        el("figcaption", {}, `Requests per day, last ${rows.length} days`),
        barChart({ rows, bars: REQUEST_BARS, width, height, label: `Requests per day${span}: created and resolved` }),
        legend(REQUEST_BARS)),
      el("figure", { class: "chart" },
        el("figcaption", {}, `Jobs per day, last ${rows.length} days`),
        barChart({ rows, bars: JOB_BARS, width, height, label: `Jobs per day${span}: completed and failed` }),
        legend(JOB_BARS)),
      el("details", { class: "daily-details" }, el("summary", {}, "Show the figures as a table"), dailyTable(rows)));
  }

  async function loadStats(generation) {
    try {
      const stats = await ctx.api.get("/stats");
      if (generation !== state.generation) {
        return;
      }
      state.stats = stats;
      drawFigures();
    } catch (error) {
      if (generation === state.generation) {
        figures.setAttribute("aria-busy", "false");
        status.textContent = "";
        showError(figures, error, () => load());
      }
    }
  }

  async function loadDaily() {
    const days = state.days;
    chartsHolder.setAttribute("aria-busy", "true");
    if (!state.daily) {
      clear(chartsHolder).append(el("p", { class: "muted" }, "Loading the daily figures…"));
    }
    try {
      const daily = await ctx.api.get("/stats/daily", { days });
      if (days !== state.days) {
        return;
      }
      state.daily = daily;
      drawCharts();
    } catch (error) {
      if (days === state.days) {
        showError(chartsHolder, error, () => loadDaily());
      }
    } finally {
      if (days === state.days) {
        chartsHolder.setAttribute("aria-busy", "false");
      }
    }
  }

  function load() {
    state.generation += 1;
    return Promise.all([loadStats(state.generation), loadDaily()]);
  }

  // Redraw the charts for the new width (text keeps its size), at most once per frame.
  let frame = 0;
  function onResize() {
    if (frame || !state.daily) {
      return;
    }
    frame = requestAnimationFrame(() => {
      frame = 0;
      if (Math.abs(chartWidth() - Number(chartsHolder.dataset.width || 0)) >= 8) {
        drawCharts();
      }
    });
  }
  // Figures seen again after a while in another tab are refreshed, not left stale.
  function onVisibility() {
    if (document.visibilityState === "visible") {
      load();
    }
  }
  window.addEventListener("resize", onResize);
  document.addEventListener("visibilitychange", onVisibility);
  load();

  return () => {
    state.generation += 1;
    window.removeEventListener("resize", onResize);
    document.removeEventListener("visibilitychange", onVisibility);
    if (frame) {
      cancelAnimationFrame(frame);
    }
  };
}
