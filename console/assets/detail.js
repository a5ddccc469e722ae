// One request: every field, the description as plain text, context and response as collapsible JSON, the gated job,
// the audit trail (newest last) and the actions, each enabled only for who may use it (permissions.js mirrors the
// API's rules) and otherwise disabled with the reason beside it. After an action the page shows the new state; a 409
// (someone else was faster) is explained and the page re-read. While the tab is visible the record is re-read with
// If-None-Match, so a change by someone else shows up too (a 304 costs no body).

import { ApiError } from "./api.js";
import { clear, el, formatAge, formatDuration, formatTime, jsonView } from "./dom.js";
import { setViewKeys } from "./keyboard.js";
import { ACTIONS, isOpen, permissions, statusWords } from "./permissions.js";

const POLL_MS = 3000;
const EVENTS_PAGE = 100;
const LABELS = {
  claim: "Claim", release: "Release", approve: "Approve", reject: "Reject", cancel: "Cancel", complete: "Complete",
};
const DONE = {
  claim: "Claimed", release: "Released", approve: "Approved", reject: "Rejected", cancel: "Cancelled", complete: "Completed",
};
const NEEDS_REASON = new Set(["approve", "reject"]);
// Fields drawn in their own sections (or the header) rather than in the field list.
const OWN_SECTIONS = new Set(["title", "description", "context", "response", "approvals", "response_schema", "escalation"]);
const FIELD_ORDER = [
  "id", "status", "priority", "type", "uow_id", "required_role", "assigned_to", "created_by", "created_at", "updated_at",
  "expires_at", "decided_by", "decided_at", "decision_reason", "resolution_seconds", "job_id", "required_approvals",
  "approvals_needed", "on_expiry", "escalated_at", "version",
];
const TIME_FIELDS = new Set(["created_at", "updated_at", "expires_at", "decided_at", "escalated_at"]);

function humanize(name) {
  const text = name.replace(/_/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function fieldValue(name, value) {
  if (value === null || value === undefined || value === "") {
    return el("span", { class: "muted" }, "—");
  }
  if (TIME_FIELDS.has(name)) {
    return el("span", {}, el("time", { datetime: value }, formatTime(value)), el("span", { class: "muted" }, ` (${formatAge(value)})`));
  }
  if (name === "resolution_seconds") {
    return el("span", {}, `${formatDuration(value)} (${value} s)`);
  }
  if (name === "job_id") {
    return el("a", { href: `#/jobs/${encodeURIComponent(value)}` }, String(value));
  }
  if (name === "status") {
    return el("span", { class: ["status-chip", `status-${String(value).toLowerCase()}`] }, statusWords(value));
  }
  if (name === "priority") {
    return el("span", { class: ["chip", `chip-${value}`] }, String(value));
  }
  if (typeof value === "object") {
    return jsonView(value);
  }
  return el("span", { class: "value" }, String(value));
}

function explain(error) {
  if (!(error instanceof ApiError)) {
    return String(error && error.message ? error.message : error);
  }
  if (error.status === 409) {
    return `Someone else was faster, or the request changed meanwhile: ${error.message}. The page now shows its current state.`;
  }
  if (error.status === 403) {
    return `Not allowed: ${error.message}`;
  }
  if (error.status === 404) {
    return `Not found: ${error.message}`;
  }
  const fields = (error.details || []).map((detail) => (detail && detail.msg
    ? `${[].concat(detail.loc || []).filter((part) => part !== "body").join(".") || "body"}: ${detail.msg}` : ""))
    .filter(Boolean);
  return `${error.message}${fields.length ? ` (${fields.join("; ")})` : ""}`;
}

function section(title, ...children) {
  const id = `section-${title.toLowerCase().replace(/[^a-z]+/g, "-")}`;
  return el("section", { class: "detail-section", "aria-labelledby": id }, el("h2", { id }, title), ...children);
}

export function render(root, ctx, params) {
  const id = params.id;
  const query = params.query || new URLSearchParams();
  const user = ctx.user;
  const state = {
    record: null,
    etag: null,
    events: [],
    eventsError: null,
    job: null,
    jobError: null,
    busy: false,
    armed: ["approve", "reject"].includes(query.get("act")) ? query.get("act") : null,
    schemaForm: null,
    schemaText: null,
    stopped: false,
  };

  const body = el("div", { class: "detail-body" });
  const heading = el("h1", { id: "detail-title", tabindex: "-1" }, "Request");
  const chips = el("p", { class: "chips" });
  const actionsList = el("div", { class: "action-list" });
  const formError = el("p", { class: "form-error", role: "alert", hidden: true });
  const reason = el("textarea", { id: "decision-reason", rows: "3", maxlength: "2000", "aria-describedby": "decision-reason-hint" });
  const reasonHint = el("p", { class: "hint", id: "decision-reason-hint" });
  const answer = el("textarea", {
    id: "decision-answer", rows: "4", spellcheck: "false", class: "mono", "aria-describedby": "decision-answer-hint",
  });
  const answerHint = el("p", { class: "hint", id: "decision-answer-hint" },
    "Optional: any JSON (e.g. {\"answer\": \"yes\"}), sent with Approve or Reject.");
  const answerField = el("div", { class: "field" }, el("label", { for: "decision-answer" }, "Answer (JSON, optional)"), answer, answerHint);
  const schemaSlot = el("div", { class: "schema-slot" });
  const aside = el("aside", { class: "detail-actions", "aria-labelledby": "actions-title" },
    el("h2", { id: "actions-title" }, "Actions"),
    el("div", { class: "field" }, el("label", { for: "decision-reason" }, "Reason"), reason, reasonHint),
    answerField, schemaSlot, actionsList, formError);
  const status = el("div", { class: "list-status", role: "status", "aria-live": "polite" },
    el("p", { class: "loading" }, "Loading the request…"));

  root.append(
    el("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, el("a", { href: "#/inbox" }, "← Inbox")),
    el("article", { class: "detail", "aria-labelledby": "detail-title" },
      el("header", { class: "detail-head" }, heading, chips),
      status,
      el("div", { class: "detail-grid" }, body, aside)));
  aside.hidden = true;

  // ---------------------------------------------------------------- drawing
  function renderRecord() {
    const record = state.record;
    heading.textContent = record.title;
    clear(chips);
    chips.append(fieldValue("status", record.status), " ", fieldValue("priority", record.priority), " ",
      el("span", { class: "chip chip-type" }, record.type));
    clear(body);
    body.append(section("Description", record.description
      ? el("p", { class: "description" }, record.description) : el("p", { class: "muted" }, "No description.")));
    const names = [...FIELD_ORDER.filter((name) => name in record),
      ...Object.keys(record).filter((name) => !FIELD_ORDER.includes(name) && !OWN_SECTIONS.has(name))];
    body.append(section("Fields", el("dl", { class: "fields" }, names.map((name) => el("div", { class: "field-row" },
      el("dt", {}, humanize(name)), el("dd", {}, fieldValue(name, record[name])))))));
    body.append(section("Context", Object.keys(record.context || {}).length
      ? jsonView(record.context) : el("p", { class: "muted" }, "No context.")));
    if (record.response !== null && record.response !== undefined) {
      body.append(section("Response", jsonView(record.response)));
    }
    if (Array.isArray(record.approvals) && (record.approvals.length || Number(record.required_approvals) > 1)) {
      body.append(section(`Approvals (${record.approvals.length} of ${record.required_approvals || 1})`,
        record.approvals.length ? el("ol", { class: "approvals" }, record.approvals.map((approval) => el("li", {},
          el("strong", {}, approval.user), " · ", el("time", { datetime: approval.at }, formatTime(approval.at)),
          approval.reason ? el("p", { class: "description" }, approval.reason) : null,
          approval.response !== undefined && approval.response !== null ? jsonView(approval.response) : null)))
          : el("p", { class: "muted" }, "No approval yet.")));
    }
    if (record.escalation) {
      body.append(section("Escalation", jsonView(record.escalation)));
    }
    if (record.job_id) {
      body.append(section("Gated job", renderJob()));
    }
    body.append(section("Audit trail", renderEvents()));
    renderActions();
  }

  function renderJob() {
    const link = el("a", { href: `#/jobs/${encodeURIComponent(state.record.job_id)}` }, `Job ${state.record.job_id}`);
    if (state.jobError) {
      return el("p", {}, link, el("span", { class: "form-error" }, ` (its status could not be read: ${state.jobError})`));
    }
    if (!state.job) {
      return el("p", {}, link, el("span", { class: "muted" }, " (reading its status…)"));
    }
    return el("p", { class: "job-line" }, link, " · ", el("span", { class: "chip job-status" }, state.job.status),
      state.job.tool ? ` · tool ${state.job.tool}` : "");
  }

  function renderEvents() {
    if (state.eventsError) {
      return el("p", { class: "form-error" }, `The audit trail could not be read: ${state.eventsError}`);
    }
    if (!state.events.length) {
      return el("p", { class: "muted" }, "No events yet.");
    }
    return el("ol", { class: "audit", "aria-label": "Audit trail, oldest first" }, state.events.map((event) => el("li", {
      class: ["audit-event", `audit-${String(event.action).toLowerCase()}`],
    },
    el("div", { class: "audit-line" },
      el("strong", { class: "audit-action" }, event.action), " by ", el("span", { class: "audit-actor" }, event.actor),
      event.from_status && event.from_status !== event.to_status
        ? el("span", { class: "muted" }, ` · ${statusWords(event.from_status)} → ${statusWords(event.to_status)}`)
        : event.to_status && !event.from_status ? el("span", { class: "muted" }, ` · ${statusWords(event.to_status)}`) : null,
      " · ", el("time", { datetime: event.at, title: formatTime(event.at) }, formatTime(event.at))),
    event.reason ? el("p", { class: "description audit-reason" }, event.reason) : null)));
  }

  function renderActions() {
    const record = state.record;
    const allowed = permissions(record, user);
    clear(actionsList);
    for (const action of ACTIONS) {
      const { allowed: ok, reason: why } = allowed[action];
      const hintId = `action-${action}-why`;
      const button = el("button", {
        type: "button",
        class: ["action", action === "approve" ? "primary" : action === "reject" ? "danger" : "secondary",
          state.armed === action ? "armed" : ""],
        disabled: !ok || state.busy,
        "aria-describedby": ok ? null : hintId,
        dataset: { action },
      }, LABELS[action]);
      button.addEventListener("click", () => act(action));
      actionsList.append(el("div", { class: ["action-row", ok ? "" : "unavailable"] }, button,
        ok ? null : el("span", { class: "why", id: hintId }, why)));
    }
    reasonHint.textContent = state.armed
      ? `Needed to ${state.armed}; kept in the audit trail. Ctrl+Enter here sends ${LABELS[state.armed]}.`
      : "Needed to approve or reject; kept in the audit trail. Press a or r (or a button) to choose.";
    const canDecide = allowed.approve.allowed || allowed.reject.allowed;
    const canAct = ACTIONS.some((action) => allowed[action].allowed);
    reason.disabled = !canAct;
    answer.disabled = !canDecide;
    answerField.hidden = Boolean(record.response_schema) && Boolean(state.schemaForm);
    renderSchemaForm(canDecide);
  }

  async function renderSchemaForm(canDecide) {
    const schema = state.record.response_schema;
    const text = schema ? JSON.stringify(schema) : null;
    if (text === state.schemaText) {
      return;
    }
    state.schemaText = text;
    clear(schemaSlot);
    state.schemaForm = null;
    if (!schema) {
      answerField.hidden = false;
      return;
    }
    try {
      const { createSchemaForm } = await import("./schemaform.js");
      const form = createSchemaForm(schema, { idPrefix: "answer", emptyText: "The answer has no fields." });
      state.schemaForm = form;
      schemaSlot.append(el("fieldset", { class: "schema-answer", disabled: !canDecide },
        el("legend", {}, "Answer (the form of this request's response schema)"), form.element));
      answerField.hidden = true;
    } catch (error) {
      // Without the form the JSON answer stays, validated by the API against the schema.
      answerHint.textContent = `Answer as JSON matching this request's response schema (the form could not load: ${error.message}).`;
      answerField.hidden = false;
    }
  }

  function showError(message) {
    formError.textContent = message;
    formError.hidden = !message;
  }

  // ---------------------------------------------------------------- reading
  async function readEvents() {
    const events = [];
    let cursor;
    try {
      do {
        const page = await ctx.api.get(`/interventions/${encodeURIComponent(id)}/events`, { limit: EVENTS_PAGE, cursor });
        events.push(...(page.items || []));
        cursor = page.next_cursor || undefined;
      } while (cursor && !state.stopped);
      state.events = events;
      state.eventsError = null;
    } catch (error) {
      state.eventsError = error.message;
    }
  }

  async function readJob() {
    if (!state.record || !state.record.job_id) {
      state.job = null;
      return;
    }
    try {
      state.job = await ctx.api.get(`/jobs/${encodeURIComponent(state.record.job_id)}`);
      state.jobError = null;
    } catch (error) {
      state.jobError = error.message;
    }
  }

  /** Reads the record (conditionally when `quiet`); true when it changed and was drawn again. */
  async function read(quiet = false) {
    const headers = quiet && state.etag ? { "If-None-Match": state.etag } : {};
    let response;
    try {
      response = await ctx.api.raw(`/interventions/${encodeURIComponent(id)}`, { method: "GET", headers });
    } catch (error) {
      if (!quiet) {
        failed(error);
      }
      return false;
    }
    if (response.status === 304 || state.stopped) {
      return false;
    }
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      if (!quiet || response.status === 404) {
        failed(new ApiError(response.status, body.code, body.message || `HTTP ${response.status}`, body.details));
      }
      return false;
    }
    state.record = await response.json();
    state.etag = response.headers.get("ETag");
    await Promise.all([readEvents(), readJob()]);
    if (state.stopped) {
      return false;
    }
    clear(status);
    aside.hidden = false;
    renderRecord();
    return true;
  }

  function failed(error) {
    clear(status);
    const message = error instanceof ApiError && error.status === 404
      ? "There is no such request in your tenant (it may have been purged after its retention period)."
      : `The request could not be read: ${error.message}`;
    status.append(el("p", { class: "form-error", role: "alert" }, message), el("p", {}, el("a", { href: "#/inbox" }, "Back to the inbox")));
  }

  // ---------------------------------------------------------------- acting
  function decisionBody(action) {
    const body = {};
    const text = reason.value.trim();
    if (NEEDS_REASON.has(action)) {
      if (!text) {
        showError(`Write a reason to ${action}: it is kept with the decision.`);
        state.armed = action;
        renderActions();
        reason.focus();
        return null;
      }
      body.reason = text;
      if (state.schemaForm) {
        const { valid, value } = state.schemaForm.read();
        if (!valid) {
          showError("The answer has errors: see the fields marked.");
          state.schemaForm.focusFirstError();
          return null;
        }
        body.response = value;
      } else if (answer.value.trim()) {
        try {
          body.response = JSON.parse(answer.value);
        } catch (error) {
          showError(`The answer is not valid JSON: ${error.message}`);
          answer.setAttribute("aria-invalid", "true");
          answer.focus();
          return null;
        }
      }
      answer.removeAttribute("aria-invalid");
      return body;
    }
    if ((action === "cancel" || action === "complete") && text) {
      body.reason = text;
    }
    return action === "claim" || action === "release" ? undefined : body;
  }

  async function act(action) {
    if (state.busy || !state.record) {
      return;
    }
    showError("");
    const payload = decisionBody(action);
    if (payload === null) {
      return;
    }
    state.busy = true;
    renderActions();
    try {
      const updated = await ctx.api.post(`/interventions/${encodeURIComponent(id)}/${action}`, payload);
      state.record = updated;
      state.etag = null;
      state.armed = null;
      if (action !== "claim" && action !== "release") {
        reason.value = "";
        answer.value = "";
      }
      await Promise.all([readEvents(), readJob()]);
      state.busy = false;
      renderRecord();
      ctx.notice(`${DONE[action]}: “${updated.title}” is now ${statusWords(updated.status)}.`, "info");
      ctx.live.refresh();
      // Keep the focus where the user put it meanwhile (e.g. already typing the reason); else on the page, where
      // the keys work.
      if (!aside.contains(document.activeElement) || document.activeElement.tagName === "BUTTON") {
        heading.focus();
      }
    } catch (error) {
      state.busy = false;
      showError(explain(error));
      if (error instanceof ApiError && error.status === 422 && state.schemaForm) {
        state.schemaForm.showErrors(error.details, ["body", "response"]);
      }
      if (error instanceof ApiError && (error.status === 409 || error.status === 403)) {
        state.etag = null;
        await read(false);
      } else {
        renderActions();
      }
    }
  }

  // Ctrl+Enter (or Cmd+Enter) in the Reason sends the action chosen with a or r (never a default: a decision is
  // always chosen on purpose).
  reason.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      if (state.armed) {
        act(state.armed);
      } else {
        showError("Choose Approve or Reject first (the buttons, or Esc then a or r).");
      }
    }
  });
  answer.addEventListener("input", () => answer.removeAttribute("aria-invalid"));

  function keyAction(action) {
    if (!state.record) {
      return;
    }
    if (NEEDS_REASON.has(action) && !reason.value.trim()) {
      state.armed = action;
      renderActions();
      showError("");
      reason.focus();
      return;
    }
    const button = actionsList.querySelector(`button[data-action="${action}"]`);
    if (button && !button.disabled) {
      act(action);
    } else if (button) {
      const why = button.parentElement.querySelector(".why");
      showError(`${LABELS[action]} is not available: ${why ? why.textContent : "not now"}.`);
    }
  }

  const removeKeys = setViewKeys({
    c: () => keyAction("claim"),
    a: () => keyAction("approve"),
    r: () => keyAction("reject"),
    Escape: () => ctx.navigate("#/inbox"),
  });

  let timer = null;
  const poll = () => {
    if (document.visibilityState === "visible" && !state.busy && state.record) {
      read(true);
    }
  };
  timer = setInterval(poll, POLL_MS);

  read(false).then((shown) => {
    if (!shown || state.stopped) {
      return;
    }
    if (state.armed && isOpen(state.record)) {
      renderActions();
      reason.focus();
    } else {
      heading.focus();
    }
  });

  return () => {
    state.stopped = true;
    clearInterval(timer);
    removeKeys();
  };
}
