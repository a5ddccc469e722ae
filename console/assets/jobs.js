// Jobs: the list (status and tool filters, paging by cursor) at #/jobs and one job at #/jobs/<id> with its result,
// logs, output downloads and Cancel. Both follow running jobs by polling while the tab is visible (and only while
// something can still change), so a job started from "Run a tool" is seen reaching its end without a reload.

import { clear, el, formatAge, formatDuration, formatTime, jsonView } from "./dom.js";

export const JOB_STATUSES = Object.freeze(["AWAITING_APPROVAL", "PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED",
  "REJECTED"]);
const ACTIVE = new Set(["AWAITING_APPROVAL", "PENDING", "RUNNING"]);
const CANCELLABLE = new Set(["AWAITING_APPROVAL", "PENDING", "RUNNING"]);
const PAGE_SIZE = 25;
const LOG_PAGE_SIZE = 100;
const DETAIL_POLL_MS = 1500;
const LIST_POLL_MS = 3000;

/** "AWAITING_APPROVAL" → "Awaiting approval". */
export function jobStatusWords(status) {
  const words = String(status || "").replace(/_/g, " ").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function isActive(job) {
  return ACTIVE.has(job.status);
}

/** A status chip; the status is also in its text, so colour is never the only sign. */
export function jobStatusChip(status) {
  return el("span", { class: ["chip", "job-status", `job-status-${String(status).toLowerCase().replace(/_/g, "-")}`] },
    jobStatusWords(status));
}

/** A job's duration: "0.4 s" under a second (most exports), else formatDuration's words; "—" before it ends. */
export function durationWords(seconds) {
  if (seconds === null || seconds === undefined) {
    return "—";
  }
  const value = Number(seconds);
  return value < 1 ? `${value.toFixed(1)} s` : formatDuration(value);
}

/** 1536 → "1.5 KiB". */
export function formatBytes(bytes) {
  const value = Number(bytes) || 0;
  if (value < 1024) {
    return `${value} B`;
  }
  const units = ["KiB", "MiB", "GiB"];
  let size = value / 1024;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return `${size.toFixed(size < 10 ? 1 : 0)} ${units[unit]}`;
}

/** Whether this user may cancel this job now, and why not: mirrors jobs.cancel_job (the API stays the judge). */
export function cancelPermission(job, user) {
  if (!CANCELLABLE.has(job.status)) {
    return { allowed: false, reason: `the job is ${jobStatusWords(job.status).toLowerCase()}, nothing is left to cancel.` };
  }
  if (job.cancel_requested) {
    return { allowed: false, reason: "cancellation is already requested; the tool stops at its next check." };
  }
  const roles = (user && user.roles) || [];
  if (!(roles.includes("admin") || (user && user.sub === job.submitted_by))) {
    return { allowed: false, reason: `only its submitter (${job.submitted_by}) or an admin can cancel it.` };
  }
  return { allowed: true, reason: "" };
}

/** Runs `tick` every `ms` while the tab is visible (and at once when it becomes visible again); stop() ends it. */
function visiblePoller(tick, ms) {
  let timer = 0;
  let stopped = false;
  let running = false;
  async function run() {
    timer = 0;
    if (stopped || document.visibilityState !== "visible" || running) {
      return;
    }
    running = true;
    let again = true;
    try {
      again = (await tick()) !== false;
    } finally {
      running = false;
    }
    if (again && !stopped) {
      schedule();
    } else {
      stopped = true;
    }
  }
  function schedule() {
    if (!timer && !stopped) {
      timer = setTimeout(run, ms);
    }
  }
  function onVisibility() {
    if (document.visibilityState === "visible" && !stopped) {
      clearTimeout(timer);
      timer = 0;
      run();
    }
  }
  document.addEventListener("visibilitychange", onVisibility);
  return {
    start() {
      stopped = false;
      schedule();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      timer = 0;
    },
    dispose() {
      this.stop();
      document.removeEventListener("visibilitychange", onVisibility);
    },
  };
}

function errorBox(error, retry) {
  return el("div", { class: "error-box", role: "alert" },
    el("p", {}, error && error.message ? error.message : String(error)),
    retry ? el("button", { type: "button", class: "secondary", onclick: retry }, "Try again") : null);
}

function canSubmit(user) {
  const roles = (user && user.roles) || [];
  return roles.includes("requester") || roles.includes("admin");
}

// ---------------------------------------------------------------------------------------------------------- list

function renderList(root, ctx, query) {
  const initial = (name) => (query && typeof query.get === "function" ? query.get(name) || "" : "");
  const state = { status: initial("status"), tool: initial("tool"), items: [], cursor: null, loading: false, error: null,
    generation: 0 };
  const statusSelect = el("select", { id: "jobs-status", name: "status", "data-filter": true },
    el("option", { value: "" }, "Every status"),
    JOB_STATUSES.map((status) => el("option", { value: status }, jobStatusWords(status))));
  const toolSelect = el("select", { id: "jobs-tool", name: "tool" }, el("option", { value: "" }, "Every tool"));
  const filters = el("form", { class: "filters", role: "search", "aria-label": "Filter jobs" },
    el("div", { class: "field" }, el("label", { for: "jobs-status" }, "Status"), statusSelect),
    el("div", { class: "field" }, el("label", { for: "jobs-tool" }, "Tool"), toolSelect));
  filters.addEventListener("submit", (event) => event.preventDefault());
  statusSelect.value = JOB_STATUSES.includes(state.status) ? state.status : "";
  state.status = statusSelect.value;
  if (state.tool) {
    toolSelect.append(el("option", { value: state.tool }, state.tool));
    toolSelect.value = state.tool;
  }
  const body = el("tbody", {});
  const table = el("table", { class: "jobs-table data-table" },
    el("caption", { class: "visually-hidden" }, "Jobs, newest first"),
    el("thead", {}, el("tr", {},
      ["Tool", "Status", "Submitted by", "Created", "Duration", "Job"].map((name) => el("th", { scope: "col" }, name)))),
    body);
  const message = el("div", { class: "list-message", "aria-live": "polite" });
  const more = el("button", { type: "button", class: "secondary", hidden: true, onclick: () => load(true) }, "Load more");
  const runLink = canSubmit(ctx.user) ? el("a", { href: "#/run", class: "button" }, "Run a tool") : null;

  clear(root);
  root.append(el("div", { class: "view jobs" },
    el("div", { class: "view-head" }, el("h1", { tabindex: "-1" }, "Jobs"), el("div", { class: "view-actions" }, runLink)),
    filters, el("div", { class: "table-holder" }, table), message, el("div", { class: "pager" }, more)));

  function row(job) {
    return el("tr", { dataset: { jobId: job.id } },
      el("td", { "data-label": "Tool" }, el("a", { href: `#/jobs/${encodeURIComponent(job.id)}` }, job.tool)),
      el("td", { "data-label": "Status" }, el("span", {}, jobStatusChip(job.status),
        job.cached ? el("span", { class: "muted" }, " cached") : null)),
      el("td", { "data-label": "Submitted by" }, job.submitted_by),
      el("td", { "data-label": "Created" }, el("time", { datetime: job.created_at, title: formatTime(job.created_at) },
        formatAge(job.created_at))),
      el("td", { "data-label": "Duration" }, durationWords(job.duration_seconds)),
      el("td", { "data-label": "Job", class: "mono" }, job.id));
  }

  function draw() {
    clear(body);
    body.append(...state.items.map(row));
    clear(message);
    if (state.error) {
      message.append(errorBox(state.error, () => load(false)));
    } else if (state.loading && state.items.length === 0) {
      message.append(el("p", { class: "muted" }, "Loading jobs…"));
    } else if (state.items.length === 0) {
      message.append(el("p", { class: "empty" }, state.status || state.tool ? "No jobs match these filters."
        : "No jobs yet.", runLink ? [" ", el("a", { href: "#/run" }, "Run a tool")] : null));
    }
    table.hidden = state.items.length === 0;
    more.hidden = !state.cursor;
    more.disabled = state.loading;
  }

  async function load(append) {
    const generation = append ? state.generation : ++state.generation;
    state.loading = true;
    state.error = null;
    if (!append) {
      state.items = [];
      state.cursor = null;
    }
    draw();
    try {
      const page = await ctx.api.get("/jobs", { status: state.status, tool: state.tool, limit: PAGE_SIZE,
        cursor: append ? state.cursor : undefined });
      if (generation !== state.generation) {
        return;
      }
      state.items = append ? [...state.items, ...page.items] : page.items;
      state.cursor = page.next_cursor;
    } catch (error) {
      if (generation === state.generation) {
        state.error = error;
      }
    } finally {
      if (generation === state.generation) {
        state.loading = false;
        draw();
        if (state.items.some(isActive)) {
          poller.start();
        }
      }
    }
  }

  // Refreshes the first page in place: new jobs on top, the listed ones with their new status.
  async function refresh() {
    if (state.loading) {
      return true;
    }
    const generation = state.generation;
    try {
      const page = await ctx.api.get("/jobs", { status: state.status, tool: state.tool, limit: PAGE_SIZE });
      if (generation !== state.generation) {
        return true;
      }
      const fresh = new Map(page.items.map((job) => [job.id, job]));
      const known = new Set(state.items.map((job) => job.id));
      const added = page.items.filter((job) => !known.has(job.id));
      state.items = [...added, ...state.items.map((job) => fresh.get(job.id) || job)];
      if (state.items.length === page.items.length) {
        state.cursor = page.next_cursor;
      }
      draw();
    } catch {
      // A failed refresh leaves the list as it was; the next one tries again.
    }
    return state.items.some(isActive);
  }

  const poller = visiblePoller(refresh, LIST_POLL_MS);
  statusSelect.addEventListener("change", () => {
    state.status = statusSelect.value;
    load(false);
  });
  toolSelect.addEventListener("change", () => {
    state.tool = toolSelect.value;
    load(false);
  });
  ctx.api.get("/tools").then((tools) => {
    for (const tool of tools.items) {
      if (tool.name !== state.tool) {
        toolSelect.append(el("option", { value: tool.name }, tool.name));
      }
    }
    toolSelect.value = state.tool;
  }).catch(() => {
    // Without the list of tools the filter offers "Every tool" only; the jobs still load.
  });
  load(false);
  return () => {
    state.generation += 1;
    poller.dispose();
  };
}

// -------------------------------------------------------------------------------------------------------- detail

function metadata(job) {
  const rows = [
    ["Job", el("span", { class: "mono" }, job.id)],
    ["Tool", job.tool],
    ["Status", jobStatusWords(job.status)
      + (job.cancel_requested && job.status === "RUNNING" ? " (cancellation requested)" : "")],
    ["Submitted by", job.submitted_by],
    ["Created", timeText(job.created_at)],
    ["Started", timeText(job.started_at)],
    ["Finished", timeText(job.finished_at)],
    ["Duration", durationWords(job.duration_seconds)],
    ["Attempts", String(job.attempts ?? 0)],
    ["Cached", job.cached ? ["yes", job.cached_from
      ? [", from ", el("a", { href: `#/jobs/${encodeURIComponent(job.cached_from)}` }, "the run it reuses")]
      : null] : "no"],
  ];
  if (job.intervention_id) {
    rows.push(["Approval", el("a", { href: `#/requests/${encodeURIComponent(job.intervention_id)}` }, "Approval request")]);
  }
  return el("dl", { class: "details-list" },
    rows.map(([term, value]) => el("div", {}, el("dt", {}, term), el("dd", {}, value))));
}

function timeText(iso) {
  if (!iso) {
    return "—";
  }
  return el("time", { datetime: iso, title: formatTime(iso) }, `${formatTime(iso)} (${formatAge(iso)})`);
}

function stateNotice(job) {
  if (job.status === "AWAITING_APPROVAL") {
    return el("div", { class: "notice notice-info" },
      el("p", {}, "This job waits for a decision on its approval request: it runs once someone approves it."),
      job.intervention_id ? el("p", {}, el("a", { href: `#/requests/${encodeURIComponent(job.intervention_id)}` },
        "Open the approval request")) : null);
  }
  if (job.status === "REJECTED") {
    return el("div", { class: "notice" }, el("p", {}, "Its approval request was rejected: the job did not run."));
  }
  if (job.status === "PENDING") {
    return el("div", { class: "notice notice-info" }, el("p", {}, "Queued: a worker picks it up shortly."));
  }
  if (job.status === "RUNNING") {
    return el("div", { class: "notice notice-info" }, el("p", {}, job.cancel_requested
      ? "Running; cancellation requested: the tool stops at its next check."
      : `Running since ${job.started_at ? formatAge(job.started_at) : "now"}.`));
  }
  return null;
}

function outputText(title, text) {
  if (!text) {
    return el("div", { class: "result-block" }, el("h3", {}, title), el("p", { class: "muted" }, "(empty)"));
  }
  return el("div", { class: "result-block" }, el("h3", {}, title), el("pre", { class: "output", tabindex: "0" }, text));
}

function resultSection(job) {
  const result = job.result;
  if (!result) {
    return el("section", { class: "job-section", "aria-labelledby": "job-result" }, el("h2", { id: "job-result" }, "Result"),
      el("p", { class: "muted" }, isActive(job) ? "No result yet." : "This job has no result."));
  }
  const outputs = Array.isArray(result.outputs) ? result.outputs : [];
  return el("section", { class: "job-section", "aria-labelledby": "job-result" },
    el("h2", { id: "job-result" }, "Result"),
    result.error ? el("div", { class: "error-box", role: "alert" },
      el("h3", {}, "Error"), el("pre", { class: "output" }, result.error)) : null,
    result.truncated ? el("p", { class: "notice notice-warning" },
      "Truncated: the return value, stdout or stderr was longer than 64 KiB and was cut.") : null,
    el("div", { class: "result-block" }, el("h3", {}, "Return value"),
      result.return_value === undefined || result.return_value === null
        ? el("p", { class: "muted" }, "(none)") : jsonView(result.return_value)),
    outputText("Standard output", result.stdout),
    outputText("Standard error", result.stderr),
    el("div", { class: "result-block" }, el("h3", {}, "Output files"),
      outputs.length === 0 ? el("p", { class: "muted" }, "No files.") : el("ul", { class: "outputs" }, outputs.map((file) =>
        el("li", {}, file.url
          ? el("a", { href: file.url, download: file.name, target: "_blank", rel: "noopener noreferrer" },
            `Download ${file.name}`)
          : el("span", {}, file.name, el("span", { class: "muted" }, " (no link: reload the page for a new one)")),
        el("span", { class: "muted" }, ` ${formatBytes(file.size_bytes)}`))))),
  );
}

function renderDetail(root, ctx, id) {
  const state = { job: null, error: null, logs: [], logCursor: null, logPages: 0, logError: null, busy: false };
  const heading = el("h1", { tabindex: "-1" }, "Job");
  const chipHolder = el("span", { class: "heading-chip", role: "status", "aria-label": "Job status", "aria-live": "polite" });
  const cancelButton = el("button", { type: "button", class: "danger", disabled: true, "aria-describedby": "job-cancel-why",
    onclick: () => cancel() }, "Cancel");
  const cancelWhy = el("p", { id: "job-cancel-why", class: "muted action-reason" });
  const actionMessage = el("div", { "aria-live": "assertive" });
  const content = el("div", { class: "job-content", "aria-busy": "true" }, el("p", { class: "muted" }, "Loading the job…"));
  const logList = el("ol", { class: "log-lines" });
  const logMessage = el("div", { "aria-live": "polite" });
  const moreLogs = el("button", { type: "button", class: "secondary", hidden: true, onclick: () => loadLogs(true) },
    "Load more logs");
  const logsSection = el("section", { class: "job-section", "aria-labelledby": "job-logs" },
    el("h2", { id: "job-logs" }, "Logs"), logList, logMessage, el("div", { class: "pager" }, moreLogs));

  clear(root);
  root.append(el("div", { class: "view job-detail" },
    el("p", { class: "breadcrumb" }, el("a", { href: "#/jobs" }, "← Jobs")),
    el("div", { class: "view-head" }, el("div", { class: "title-line" }, heading, chipHolder),
      el("div", { class: "view-actions" }, cancelButton)),
    cancelWhy, actionMessage, content, logsSection));

  function drawJob() {
    const job = state.job;
    heading.textContent = job.tool;
    clear(chipHolder).append(jobStatusChip(job.status));
    const permission = cancelPermission(job, ctx.user);
    cancelButton.disabled = !permission.allowed || state.busy;
    cancelWhy.textContent = permission.allowed ? "" : `Cancel is not available: ${permission.reason}`;
    cancelWhy.hidden = permission.allowed;
    clear(content);
    content.setAttribute("aria-busy", "false");
    content.append(stateNotice(job) || "",
      el("section", { class: "job-section", "aria-labelledby": "job-about" },
        el("h2", { id: "job-about", class: "visually-hidden" }, "About this job"), metadata(job)),
      el("section", { class: "job-section", "aria-labelledby": "job-parameters" },
        el("h2", { id: "job-parameters" }, "Parameters"),
        Object.keys(job.parameters || {}).length ? jsonView(job.parameters) : el("p", { class: "muted" }, "(none)")),
      resultSection(job));
  }

  function drawLogs() {
    clear(logList);
    logList.append(...state.logs.map((line) => el("li", { class: `log-line log-${String(line.level).toLowerCase()}` },
      el("time", { datetime: line.at, title: formatTime(line.at) }, new Date(line.at).toLocaleTimeString()),
      el("span", { class: "log-level" }, line.level), el("span", { class: "log-message" }, line.message))));
    clear(logMessage);
    if (state.logError) {
      logMessage.append(errorBox(state.logError, () => loadLogs(false)));
    } else if (state.logs.length === 0) {
      logMessage.append(el("p", { class: "muted" }, state.job && isActive(state.job) ? "No log lines yet." : "No log lines."));
    }
    logList.hidden = state.logs.length === 0;
    moreLogs.hidden = !state.logCursor;
  }

  async function loadJob() {
    try {
      state.job = await ctx.api.get(`/jobs/${encodeURIComponent(id)}`);
      state.error = null;
      drawJob();
    } catch (error) {
      if (!state.job) {
        state.error = error;
        clear(content).append(errorBox(error, () => loadJob().then(() => poller.start())));
        content.setAttribute("aria-busy", "false");
        heading.textContent = error.status === 404 ? "Job not found" : "Job";
      }
      throw error;
    }
  }

  async function loadLogs(append) {
    try {
      const page = await ctx.api.get(`/jobs/${encodeURIComponent(id)}/logs`, { limit: LOG_PAGE_SIZE,
        cursor: append ? state.logCursor : undefined });
      state.logs = append ? [...state.logs, ...page.items] : page.items;
      state.logCursor = page.next_cursor;
      state.logPages = append ? state.logPages + 1 : 1;
      state.logError = null;
    } catch (error) {
      state.logError = error;
    }
    drawLogs();
  }

  async function tick() {
    const before = state.job ? state.job.status : null;
    try {
      await loadJob();
    } catch {
      return Boolean(state.job);
    }
    // Logs grow while it runs: the first page is read again as long as no later page was opened.
    if (state.logPages <= 1 && (isActive(state.job) || before !== state.job.status)) {
      await loadLogs(false);
    }
    return isActive(state.job);
  }

  async function cancel() {
    state.busy = true;
    cancelButton.disabled = true;
    clear(actionMessage);
    try {
      state.job = await ctx.api.post(`/jobs/${encodeURIComponent(id)}/cancel`);
      actionMessage.append(el("p", { class: "notice notice-info", role: "status" }, state.job.status === "CANCELLED"
        ? "Cancelled." : "Cancellation requested: the tool stops at its next check."));
    } catch (error) {
      const words = error.status === 409
        ? `${error.message} The job changed meanwhile; here it is as it is now.` : error.message;
      actionMessage.append(errorBox({ message: words }));
      await loadJob().catch(() => undefined);
    } finally {
      state.busy = false;
      if (state.job) {
        drawJob();
        if (isActive(state.job)) {
          poller.start();
        }
      }
    }
  }

  const poller = visiblePoller(tick, DETAIL_POLL_MS);
  Promise.allSettled([loadJob(), loadLogs(false)]).then(() => {
    if (state.job && isActive(state.job)) {
      poller.start();
    }
  });
  return () => poller.dispose();
}

/** #/jobs (#/jobs?status=FAILED&tool=http_post) → the list; #/jobs/<id> → that job. params: {id, query}. */
export function render(root, ctx, params) {
  const id = params && params.id;
  return id ? renderDetail(root, ctx, String(id)) : renderList(root, ctx, params && params.query);
}
