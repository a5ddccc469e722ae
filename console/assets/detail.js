// One request: every field, the description as plain text, context and response as collapsible JSON, the approvals
// and the rules for time running out and for escalation, the gated job, the audit trail (newest last, comments
// included) and the actions, each enabled only for who may use it (permissions.js mirrors the API's rules) and
// otherwise disabled with the reason beside it. A request with a `response_schema` is answered through the form drawn
// from it. After an action the page shows the new state; a 409 (someone else was faster) is explained and the page
// re-read. While the tab is visible the record is re-read with If-None-Match, so a change by someone else (a comment
// too: it moves the record's version) shows up without a reload; a 304 costs no body.

import { ApiError } from "./api.js";
import { clear, el, formatAge, formatDuration, formatTime, jsonView } from "./dom.js";
import { setViewKeys } from "./keyboard.js";
import { ACTIONS, assignee, isOpen, permissions, quorum, statusWords } from "./permissions.js";

const POLL_MS = 3000;
const EVENTS_PAGE = 100;
const COMMENT_MAX = 2000;
const LABELS = {
  claim: "Claim", release: "Release", approve: "Approve", reject: "Reject", cancel: "Cancel", complete: "Complete",
};
const DONE = {
  claim: "Claimed", release: "Released", approve: "Approved", reject: "Rejected", cancel: "Cancelled", complete: "Completed",
};
const NEEDS_REASON = new Set(["approve", "reject"]);
// The audit trail's actions are the verbs performed ("approve"); people read them as what happened ("approved").
// A trail written before the verbs (past tense already) reads as it is.
const AUDIT_WORDS = {
  create: "created", claim: "claimed", release: "released", approve: "approved", reject: "rejected",
  cancel: "cancelled", complete: "completed", expire: "expired", escalate: "escalated", assign: "assigned",
  comment: "commented",
};
const ON_EXPIRY = {
  expire: { rule: "Expires if nobody decides it in time", soon: (left, at) => `Expires in ${left} (${at}) if nobody decides it.` },
  approve: {
    rule: "Approved by default at expiry",
    soon: (left, at) => `Approved by default at expiry: approves automatically in ${left} (${at}).`,
  },
  reject: {
    rule: "Rejected by default at expiry",
    soon: (left, at) => `Rejected by default at expiry: rejects automatically in ${left} (${at}).`,
  },
};
// Fields drawn in their own sections (or the header) rather than in the field list.
const OWN_SECTIONS = new Set(["title", "description", "context", "response"]);
const FIELD_ORDER = [
  "id", "status", "priority", "type", "uow_id", "required_role", "assigned_to", "created_by", "created_at", "updated_at",
  "expires_at", "decided_by", "decided_at", "decision_reason", "resolution_seconds", "job_id", "required_approvals",
  "approvals", "approvals_needed", "on_expiry", "escalation", "escalated_at", "response_schema", "version",
];
const TIME_FIELDS = new Set(["created_at", "updated_at", "expires_at", "decided_at", "escalated_at"]);

function humanize(name) {
  const text = name.replace(/_/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** "after 10 min unclaimed, to the role finance, raising the priority to critical" for an `escalation` object. */
export function escalationRule(escalation) {
  const parts = [`Escalates after ${formatDuration(escalation.after_seconds)} unclaimed`];
  if (escalation.to_role) {
    parts.push(`to the role ${escalation.to_role}`);
  }
  if (escalation.priority) {
    parts.push(`raising the priority to ${escalation.priority}`);
  }
  return parts.join(", ");
}

/** Where the escalation stands: done (when), due (in how long), or no longer possible (claimed or closed in time). */
export function escalationState(record, now = Date.now()) {
  if (record.escalated_at) {
    return `Escalated ${formatAge(record.escalated_at, now)} (${formatTime(record.escalated_at)}).`;
  }
  if (record.status === "IN_PROGRESS") {
    return "Not escalated: it is claimed (only an unclaimed request escalates).";
  }
  if (record.status !== "PENDING") {
    return `Not escalated, and it no longer will: it is ${statusWords(record.status)}.`;
  }
  const due = Date.parse(record.created_at) + Number(record.escalation.after_seconds) * 1000;
  if (!Number.isFinite(due)) {
    return "Not escalated yet.";
  }
  return due > now
    ? `Not escalated yet: due in ${formatDuration((due - now) / 1000)} (${formatTime(new Date(due).toISOString())}).`
    : "Due now: the sweep escalates it within a minute.";
}

/**
 * The `on_expiry` rule in words with, while the request is open, what happens when and how soon ("Approved by default
 * at expiry: approves automatically in 12 min (…)").
 */
export function expiryText(record, now = Date.now()) {
  const words = ON_EXPIRY[record.on_expiry] || ON_EXPIRY.expire;
  const expires = Date.parse(record.expires_at);
  if (isOpen(record)) {
    if (!Number.isFinite(expires)) {
      return `${words.rule}.`;
    }
    return expires > now
      ? words.soon(formatDuration((expires - now) / 1000), formatTime(record.expires_at))
      : `${words.rule}: due now; the sweep applies it within a minute.`;
  }
  if (record.decided_by === "system") {
    return `${words.rule}: applied ${formatAge(record.decided_at, now)} (${formatTime(record.decided_at)}).`;
  }
  return `${words.rule} (no longer applies: it is ${statusWords(record.status)}).`;
}

function fieldValue(name, value, record) {
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
  if (name === "approvals" && Array.isArray(value)) {
    const listed = value.length && quorum(record) > 1;
    return el("span", {}, `${value.length} of ${quorum(record)}`, listed ? el("span", { class: "muted" }, " (listed under Approvals)") : null);
  }
  if (name === "on_expiry") {
    const words = ON_EXPIRY[value];
    return el("span", {}, String(value), words ? el("span", { class: "muted" }, ` (${words.rule.toLowerCase()})`) : null);
  }
  if (name === "escalation" && typeof value === "object") {
    return el("span", {}, `${escalationRule(value)}.`);
  }
  if (name === "response_schema" && typeof value === "object") {
    const count = Object.keys(value.properties || {}).length;
    return el("details", { class: "schema-view" },
      el("summary", {}, `JSON Schema${count ? ` (${count} propert${count === 1 ? "y" : "ies"})` : ""}`), jsonView(value));
  }
  if (typeof value === "object") {
    return jsonView(value);
  }
  return el("span", { class: "value" }, String(value));
}

/** "response.amount: must be at least 1; reason: …" from a 422's details (the leading "body" left out). */
function detailsText(details) {
  return (details || []).map((detail) => (detail && detail.msg
    ? `${[].concat(detail.loc || []).filter((part) => part !== "body").join(".") || "body"}: ${detail.msg}` : ""))
    .filter(Boolean).join("; ");
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
  const fields = detailsText(error.details);
  return `${error.message}${fields ? ` (${fields})` : ""}`;
}

function sectionId(title) {
  return `section-${title.toLowerCase().replace(/[^a-z]+/g, "-").replace(/-+$/, "")}`;
}

function section(title, ...children) {
  const id = sectionId(title);
  return el("section", { class: "detail-section", "aria-labelledby": id }, el("h2", { id }, title), ...children);
}

/** A message under a field, read as its accessible description while shown. */
function fieldMessage(control, message, text) {
  message.textContent = text || "";
  message.hidden = !text;
  if (text) {
    control.setAttribute("aria-invalid", "true");
  } else {
    control.removeAttribute("aria-invalid");
  }
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
    // Text nodes that say how long until something happens, refreshed on every poll.
    clocks: [],
    stopped: false,
  };

  const body = el("div", { class: "detail-body" });
  const sections = el("div", { class: "detail-sections" });
  const heading = el("h1", { id: "detail-title", tabindex: "-1" }, "Request");
  const chips = el("p", { class: "chips" });

  // The decision panel: Reason, the answer (JSON or the schema's form), the six buttons.
  const actionsList = el("div", { class: "action-list" });
  const formError = el("p", { class: "form-error", role: "alert", hidden: true });
  const reason = el("textarea", { id: "decision-reason", rows: "3", maxlength: "2000", "aria-describedby": "decision-reason-hint" });
  const reasonHint = el("p", { class: "hint", id: "decision-reason-hint" });
  const answer = el("textarea", {
    id: "decision-answer", rows: "4", spellcheck: "false", class: "mono",
    "aria-describedby": "decision-answer-hint decision-answer-error",
  });
  const answerLabel = el("label", { for: "decision-answer" }, "Answer (JSON, optional)");
  const answerHint = el("p", { class: "hint", id: "decision-answer-hint" },
    "Optional: any JSON (e.g. {\"answer\": \"yes\"}), sent with Approve or Reject.");
  const answerError = el("p", { class: "field-error", id: "decision-answer-error", hidden: true });
  const answerSchema = el("div", { class: "answer-schema" });
  const answerField = el("div", { class: "field" }, answerLabel, answer, answerHint, answerSchema, answerError);
  const schemaSlot = el("div", { class: "schema-slot" });
  const schemaError = el("p", { class: "field-error", hidden: true });

  // Assign: shown to admins and the assignee (the only ones who may hand a request to someone).
  const assignUser = el("input", {
    id: "assign-user", type: "text", maxlength: "256", autocomplete: "off", spellcheck: "false",
    "aria-describedby": "assign-user-hint assign-user-error",
  });
  const assignButton = el("button", { type: "button", class: "secondary", dataset: { action: "assign" } }, "Assign");
  const assignWhy = el("span", { class: "why", id: "action-assign-why" });
  const assignError = el("p", { class: "field-error", id: "assign-user-error", hidden: true });
  const assignGroup = el("div", { class: "assign", hidden: true },
    el("h3", {}, "Assign"),
    el("div", { class: "field" }, el("label", { for: "assign-user" }, "User"), assignUser,
      el("p", { class: "hint", id: "assign-user-hint" }, "Whom to hand it to (their user id); it is then in progress for them."),
      assignError),
    el("div", { class: "action-row" }, assignButton, assignWhy));

  const aside = el("aside", { class: "detail-actions", "aria-labelledby": "actions-title" },
    el("h2", { id: "actions-title" }, "Actions"),
    el("div", { class: "field" }, el("label", { for: "decision-reason" }, "Reason"), reason, reasonHint),
    answerField, schemaSlot, actionsList, formError, assignGroup);

  // The audit trail and the comment box live outside the sections redrawn on each change, so that a comment being
  // typed keeps its text and its focus when someone else's change arrives.
  const trail = el("div", { class: "audit-trail" });
  const commentText = el("textarea", {
    id: "comment-text", rows: "3", maxlength: String(COMMENT_MAX), "aria-describedby": "comment-hint comment-error",
  });
  const commentButton = el("button", { type: "button", class: "secondary" }, "Comment");
  const commentError = el("p", { class: "field-error", id: "comment-error", role: "alert", hidden: true });
  const commentForm = el("div", { class: "comment-form" },
    el("div", { class: "field" }, el("label", { for: "comment-text" }, "Comment"), commentText,
      el("p", { class: "hint", id: "comment-hint" }, "Kept in the audit trail for everyone on the request; changes nothing else."),
      commentError),
    el("div", { class: "action-row" }, commentButton));
  const trailSection = section("Audit trail", trail, commentForm);

  const status = el("div", { class: "list-status", role: "status", "aria-live": "polite" },
    el("p", { class: "loading" }, "Loading the request…"));

  body.append(sections, trailSection);
  root.append(
    el("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, el("a", { href: "#/inbox" }, "← Inbox")),
    el("article", { class: "detail", "aria-labelledby": "detail-title" },
      el("header", { class: "detail-head" }, heading, chips),
      status,
      el("div", { class: "detail-grid" }, body, aside)));
  aside.hidden = true;
  body.hidden = true;

  // ---------------------------------------------------------------- drawing
  /** A text node kept up to date with the clock (time left, escalation due). */
  function clock(text) {
    const node = el("span", {}, text());
    state.clocks.push({ node, text });
    return node;
  }

  function tickClocks() {
    for (const { node, text } of state.clocks) {
      node.textContent = text();
    }
  }

  function renderRecord() {
    const record = state.record;
    heading.textContent = record.title;
    clear(chips);
    chips.append(fieldValue("status", record.status, record), " ", fieldValue("priority", record.priority, record), " ",
      el("span", { class: "chip chip-type" }, record.type));
    if (record.escalated_at) {
      chips.append(" ", el("span", { class: "chip chip-escalated" }, "escalated"));
    }
    clear(sections);
    state.clocks = [];
    sections.append(section("Description", record.description
      ? el("p", { class: "description" }, record.description) : el("p", { class: "muted" }, "No description.")));
    const names = [...FIELD_ORDER.filter((name) => name in record),
      ...Object.keys(record).filter((name) => !FIELD_ORDER.includes(name) && !OWN_SECTIONS.has(name))];
    sections.append(section("Fields", el("dl", { class: "fields" }, names.map((name) => el("div", { class: "field-row" },
      el("dt", {}, humanize(name)), el("dd", {}, fieldValue(name, record[name], record)))))));
    sections.append(section("Context", Object.keys(record.context || {}).length
      ? jsonView(record.context) : el("p", { class: "muted" }, "No context.")));
    if (record.response !== null && record.response !== undefined) {
      sections.append(section("Response", jsonView(record.response)));
    }
    // A single approver's approval is the decision itself (decided_by, decided_at, decision_reason above).
    if (quorum(record) > 1) {
      sections.append(renderApprovals(record, Array.isArray(record.approvals) ? record.approvals : []));
    }
    sections.append(section("Expiry", el("p", { class: "expiry-rule" }, clock(() => expiryText(state.record)))));
    if (record.escalation) {
      sections.append(section("Escalation", el("p", {}, `${escalationRule(record.escalation)}.`),
        el("p", { class: "escalation-state" }, clock(() => escalationState(state.record)))));
    }
    if (record.job_id) {
      sections.append(section("Gated job", renderJob()));
    }
    renderTrail();
    renderActions();
  }

  function renderApprovals(record, approvals) {
    const needed = quorum(record);
    const remaining = Number.isFinite(Number(record.approvals_needed)) ? Number(record.approvals_needed)
      : Math.max(0, needed - approvals.length);
    const summary = isOpen(record)
      ? `${remaining} more approval${remaining === 1 ? "" : "s"} needed, each from a different person.`
      : record.status === "APPROVED" || record.status === "COMPLETED" ? "The quorum was reached."
        : `No more approvals are taken: it is ${statusWords(record.status)}.`;
    return section(`Approvals (${approvals.length} of ${needed})`,
      el("p", { class: "approvals-needed" }, `Requires ${needed} approval${needed === 1 ? "" : "s"}. ${summary}`),
      approvals.length ? el("ol", { class: "approvals", "aria-label": "Approvals, oldest first" },
        approvals.map((approval) => el("li", { class: "approval" },
          el("div", {}, el("strong", { class: "approval-user" }, approval.user), " · ",
            el("time", { datetime: approval.at, title: formatAge(approval.at) }, formatTime(approval.at))),
          approval.reason ? el("p", { class: "description approval-reason" }, approval.reason) : null,
          approval.response !== undefined && approval.response !== null ? jsonView(approval.response) : null)))
        : el("p", { class: "muted" }, "No approval yet."));
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

  function renderTrail() {
    clear(trail);
    if (state.eventsError) {
      trail.append(el("p", { class: "form-error" }, `The audit trail could not be read: ${state.eventsError}`));
      return;
    }
    if (!state.events.length) {
      trail.append(el("p", { class: "muted" }, "No events yet."));
      return;
    }
    const needed = state.record ? quorum(state.record) : 1;
    let approvalsSeen = 0;
    trail.append(el("ol", { class: "audit", "aria-label": "Audit trail, oldest first" }, state.events.map((event) => {
      const action = String(event.action);
      const word = AUDIT_WORDS[action] || action;
      // Each approval of a quorum is an event of its own: say which one it was.
      const counted = (action === "approve" || action === "approved") && needed > 1 ? ` (${++approvalsSeen} of ${needed})` : "";
      const moved = event.from_status && event.to_status && event.from_status !== event.to_status;
      return el("li", { class: ["audit-event", `audit-${action.toLowerCase()}`] },
        el("div", { class: "audit-line" },
          el("strong", { class: "audit-action" }, word), counted, " by ", el("span", { class: "audit-actor" }, event.actor),
          moved ? el("span", { class: "muted" }, ` · ${statusWords(event.from_status)} → ${statusWords(event.to_status)}`)
            : event.to_status && !event.from_status ? el("span", { class: "muted" }, ` · ${statusWords(event.to_status)}`) : null,
          " · ", el("time", { datetime: event.at, title: formatAge(event.at) }, formatTime(event.at))),
        event.reason ? el("p", { class: ["description", action === "comment" ? "audit-comment" : "audit-reason"] }, event.reason)
          : null);
    })));
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
    renderAssign(allowed.assign);
    commentButton.disabled = !allowed.comment.allowed || state.busy;
    commentText.disabled = !allowed.comment.allowed;
    renderSchemaForm(allowed.approve.allowed);
  }

  function renderAssign(verdict) {
    const record = state.record;
    // Only admins and the assignee may ever assign: for anyone else the control would be noise.
    assignGroup.hidden = !(user.roles.includes("admin") || (record.assigned_to && record.assigned_to === user.sub));
    assignButton.disabled = !verdict.allowed || state.busy;
    assignUser.disabled = !verdict.allowed;
    assignWhy.textContent = verdict.allowed ? "" : verdict.reason;
    if (verdict.allowed) {
      assignButton.removeAttribute("aria-describedby");
    } else {
      assignButton.setAttribute("aria-describedby", "action-assign-why");
    }
  }

  async function renderSchemaForm(canApprove) {
    const schema = state.record.response_schema;
    const text = schema ? JSON.stringify(schema) : null;
    const fieldset = schemaSlot.querySelector("fieldset");
    if (text === state.schemaText) {
      if (fieldset) {
        fieldset.disabled = !canApprove;
      }
      return;
    }
    state.schemaText = text;
    clear(schemaSlot);
    clear(answerSchema);
    state.schemaForm = null;
    answerField.hidden = false;
    if (!schema) {
      answerLabel.textContent = "Answer (JSON, optional)";
      answerHint.textContent = "Optional: any JSON (e.g. {\"answer\": \"yes\"}), sent with Approve or Reject.";
      return;
    }
    // Until (or unless) the form is drawn, the answer is JSON checked by the API against the schema.
    answerLabel.textContent = "Answer (JSON)";
    answerHint.textContent = "Needed to approve: JSON valid against this request's response schema.";
    answerSchema.append(el("details", { class: "schema-view" }, el("summary", {}, "The response schema"), jsonView(schema)));
    try {
      const { canDraw, createSchemaForm } = await import("./schemaform.js");
      if (state.stopped || state.schemaText !== text || !canDraw(schema)) {
        return;
      }
      const form = createSchemaForm(schema, { idPrefix: "answer", emptyText: "The answer has no fields." });
      state.schemaForm = form;
      schemaSlot.append(el("fieldset", { class: "schema-answer", disabled: !canApprove },
        el("legend", {}, "Answer (needed to approve)"), form.element, schemaError));
      answerField.hidden = true;
    } catch (error) {
      answerHint.textContent = `Needed to approve: JSON valid against this request's response schema (the form could not load: ${error.message}).`;
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
    body.hidden = false;
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
      fieldMessage(answer, answerError, "");
      schemaError.hidden = true;
      if (state.schemaForm) {
        // The form is the approval's answer; a rejection needs none (the API checks the answer of an approve only).
        if (action === "approve") {
          const { valid, value } = state.schemaForm.read();
          if (!valid) {
            showError("The answer has errors: see the fields marked.");
            state.schemaForm.focusFirstError();
            return null;
          }
          body.response = value;
        }
      } else if (answer.value.trim()) {
        try {
          body.response = JSON.parse(answer.value);
        } catch (error) {
          showError(`The answer is not valid JSON: ${error.message}`);
          fieldMessage(answer, answerError, `Not valid JSON: ${error.message}`);
          answer.focus();
          return null;
        }
      }
      return body;
    }
    if ((action === "cancel" || action === "complete") && text) {
      body.reason = text;
    }
    return action === "claim" || action === "release" ? undefined : body;
  }

  /** Places a 422's details about the answer beside the answer: on the form's fields, else under the JSON box. */
  function showAnswerErrors(details) {
    const about = (details || []).filter((detail) => detail && Array.isArray(detail.loc)
      && detail.loc[0] === "body" && detail.loc[1] === "response");
    if (!about.length) {
      return;
    }
    if (state.schemaForm) {
      const unmatched = state.schemaForm.showErrors(about, ["body", "response"]);
      schemaError.textContent = detailsText(unmatched);
      schemaError.hidden = !unmatched.length;
    } else {
      fieldMessage(answer, answerError, detailsText(about));
      answer.focus();
    }
  }

  function doneMessage(action, updated) {
    if (action === "approve" && isOpen(updated)) {
      const remaining = Number(updated.approvals_needed);
      const have = Array.isArray(updated.approvals) ? updated.approvals.length : 0;
      return `Your approval of “${updated.title}” is recorded (${have} of ${quorum(updated)})`
        + `${Number.isFinite(remaining) ? `; ${remaining} more needed` : ""}.`;
    }
    return `${DONE[action]}: “${updated.title}” is now ${statusWords(updated.status)}.`;
  }

  /** After the API took a change: the new record, its trail and job, drawn; the focus left where the user put it. */
  async function changed(updated) {
    if (updated) {
      state.record = updated;
    }
    state.etag = null;
    await Promise.all([readEvents(), readJob()]);
    state.busy = false;
    renderRecord();
    ctx.live.refresh();
  }

  async function refused(error) {
    state.busy = false;
    if (error instanceof ApiError && (error.status === 409 || error.status === 403)) {
      state.etag = null;
      await read(false);
    } else {
      renderActions();
    }
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
      state.armed = null;
      if (action !== "claim" && action !== "release") {
        reason.value = "";
        answer.value = "";
      }
      await changed(updated);
      ctx.notice(doneMessage(action, updated), "info");
      // Keep the focus where the user put it meanwhile (e.g. already typing the reason); else on the page, where
      // the keys work.
      if (!aside.contains(document.activeElement) || document.activeElement.tagName === "BUTTON") {
        heading.focus();
      }
    } catch (error) {
      showError(explain(error));
      if (error instanceof ApiError && error.status === 422) {
        showAnswerErrors(error.details);
      }
      await refused(error);
    }
  }

  async function assign() {
    if (state.busy || !state.record) {
      return;
    }
    showError("");
    const target = assignUser.value.trim();
    const check = assignee(state.record, target);
    if (!check.allowed) {
      fieldMessage(assignUser, assignError, check.reason);
      assignUser.focus();
      return;
    }
    fieldMessage(assignUser, assignError, "");
    state.busy = true;
    renderActions();
    try {
      const updated = await ctx.api.post(`/interventions/${encodeURIComponent(id)}/assign`, { user: target });
      assignUser.value = "";
      await changed(updated);
      ctx.notice(`Assigned “${updated.title}” to ${updated.assigned_to}: it is now ${statusWords(updated.status)}.`, "info");
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) {
        const about = (error.details || []).filter((detail) => detail && Array.isArray(detail.loc) && detail.loc.includes("user"));
        fieldMessage(assignUser, assignError, about.length ? about.map((detail) => detail.msg).join("; ") : error.message);
        assignUser.focus();
      } else {
        showError(explain(error));
      }
      await refused(error);
    }
  }

  async function comment() {
    if (!state.record || commentButton.disabled) {
      return;
    }
    const text = commentText.value.trim();
    if (!text) {
      fieldMessage(commentText, commentError, "Write the comment first.");
      commentText.focus();
      return;
    }
    fieldMessage(commentText, commentError, "");
    commentButton.disabled = true;
    try {
      await ctx.api.post(`/interventions/${encodeURIComponent(id)}/comments`, { text });
      commentText.value = "";
      await readEvents();
      renderTrail();
      ctx.notice("Comment added to the audit trail.", "info");
    } catch (error) {
      fieldMessage(commentText, commentError, error instanceof ApiError && error.status === 422
        ? `${error.message}${detailsText(error.details) ? ` (${detailsText(error.details)})` : ""}` : explain(error));
    } finally {
      commentButton.disabled = false;
      if (state.record) {
        renderActions();
      }
    }
  }

  assignButton.addEventListener("click", assign);
  assignUser.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      assign();
    }
  });
  assignUser.addEventListener("input", () => fieldMessage(assignUser, assignError, ""));
  commentButton.addEventListener("click", comment);
  commentText.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      comment();
    }
  });
  commentText.addEventListener("input", () => fieldMessage(commentText, commentError, ""));

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
  answer.addEventListener("input", () => fieldMessage(answer, answerError, ""));

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
  const poll = async () => {
    if (document.visibilityState !== "visible" || state.busy || !state.record) {
      return;
    }
    const redrawn = await read(true);
    if (!redrawn && !state.stopped) {
      tickClocks();
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
