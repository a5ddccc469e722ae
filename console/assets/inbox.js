// The inbox: the queue of requests in the API's order, a view (Open, Assigned to me, Unassigned, each closed status),
// filters, paging by cursor, rows the user cannot act on marked with the reason, live updates (driven by live.js),
// keyboard triage (keyboard.js) and bulk decisions: one API call per selected request, each result shown.

import { ApiError } from "./api.js";
import { clear, el, formatAge, formatDuration, formatTime } from "./dom.js";
import { setViewKeys } from "./keyboard.js";
import { ListSource } from "./listing.js";
import {
  CLOSED_STATUSES, PRIORITIES, TYPES, actionability, isOpen, permission, quorum, statusWords,
} from "./permissions.js";

const PAGE_SIZE = 50;
// A live refresh re-reads at most this many rows; rows loaded beyond them come back with "Load more".
const REFRESH_MAX = 200;
// Every this many live ticks the list is read again even if no counter moved (an assignee change moves none).
const REFRESH_EVERY_TICKS = 10;
const BULK_PARALLEL = 4;
// The last tenth of a request's life is shown in red.
const URGENT_FRACTION = 0.1;
const KNOWN_ROLES = ["operator", "admin", "requester", "viewer"];

const VIEWS = [
  { id: "open", label: "Open", queries: () => [{ status: "OPEN" }] },
  { id: "mine", label: "Assigned to me", queries: (user) => [{ status: "OPEN", assigned_to: user.sub }] },
  // A request can be created already assigned while still PENDING: unassigned means no one at all.
  { id: "unassigned", label: "Unassigned", queries: () => [{ status: "PENDING" }], keep: (record) => !record.assigned_to },
  ...CLOSED_STATUSES.map((status) => ({
    id: status.toLowerCase(), label: statusWords(status).replace(/^./, (c) => c.toUpperCase()), queries: () => [{ status }],
  })),
];

function viewById(id) {
  return VIEWS.find((view) => view.id === id) || VIEWS[0];
}

function inboxHash(state) {
  const query = new URLSearchParams();
  if (state.view.id !== "open") {
    query.set("view", state.view.id);
  }
  for (const name of ["priority", "type", "role"]) {
    if (state.filters[name]) {
      query.set(name, state.filters[name]);
    }
  }
  const text = query.toString();
  return text ? `#/inbox?${text}` : "#/inbox";
}

/** Time left before expiry, and whether it is in the last tenth of the request's life. */
export function timeLeft(record, now = Date.now()) {
  const created = Date.parse(record.created_at);
  const expires = Date.parse(record.expires_at);
  if (!Number.isFinite(expires)) {
    return { text: "—", urgent: false };
  }
  if (!isOpen(record)) {
    return { text: "—", urgent: false };
  }
  const left = (expires - now) / 1000;
  if (left <= 0) {
    return { text: "expired", urgent: true };
  }
  const life = (expires - created) / 1000;
  return { text: `${formatDuration(left)} left`, urgent: life > 0 && left <= life * URGENT_FRACTION };
}

/** "1 of 3" for a request that needs several approvals (`approvals` of `required_approvals`); "" for one approver. */
export function approvalsText(record) {
  const needed = quorum(record);
  if (needed <= 1) {
    return "";
  }
  const have = Array.isArray(record.approvals) ? record.approvals.length : 0;
  return `${have} of ${needed}`;
}

function explain(error) {
  if (!(error instanceof ApiError)) {
    return String(error && error.message ? error.message : error);
  }
  const head = error.status ? `${error.status} ${error.code}` : error.code;
  const words = error.status === 409 ? " Someone else changed it first." : "";
  return `${head}: ${error.message}${words}`;
}

export function render(root, ctx, params) {
  const query = params.query || new URLSearchParams();
  const state = {
    view: viewById(query.get("view") || "open"),
    filters: { priority: query.get("priority") || "", type: query.get("type") || "", role: query.get("role") || "" },
    find: "",
    items: [],
    source: null,
    more: false,
    loading: true,
    error: null,
    selected: new Map(),
    rowResults: new Map(),
    focusId: null,
    bulkBusy: false,
    serial: 0,
    refreshing: false,
  };
  const user = ctx.user;

  // ---------------------------------------------------------------- layout (built once; parts re-render from state)
  const heading = el("h1", { id: "inbox-title" }, "Inbox");
  const viewLinks = el("ul", { class: "view-tabs" }, VIEWS.map((view) => el("li", {},
    el("a", {
      href: inboxHash({ ...state, view }), "aria-current": view.id === state.view.id ? "page" : null, dataset: { view: view.id },
    }, view.label))));

  const priority = el("select", { id: "filter-priority", name: "priority" },
    el("option", { value: "" }, "Any"), PRIORITIES.map((p) => el("option", { value: p, selected: state.filters.priority === p }, p)));
  const type = el("select", { id: "filter-type", name: "type" },
    el("option", { value: "" }, "Any"), TYPES.map((t) => el("option", { value: t, selected: state.filters.type === t }, t)));
  const roleList = el("datalist", { id: "filter-role-list" }, KNOWN_ROLES.map((role) => el("option", { value: role })));
  const role = el("input", {
    id: "filter-role", name: "role", type: "text", list: "filter-role-list", value: state.filters.role, placeholder: "Any",
    autocomplete: "off", spellcheck: "false",
  });
  const find = el("input", {
    id: "filter-find", type: "search", placeholder: "Title, type, requester…", autocomplete: "off", dataset: { filter: "" },
    "aria-describedby": "filter-find-hint",
  });
  const filters = el("form", { class: "filters", role: "search", "aria-label": "Filter requests" },
    el("div", { class: "field" }, el("label", { for: "filter-find" }, "Find"), find,
      el("span", { class: "hint visually-hidden", id: "filter-find-hint" }, "Narrows the loaded rows; press / to come here")),
    el("div", { class: "field" }, el("label", { for: "filter-priority" }, "Priority"), priority),
    el("div", { class: "field" }, el("label", { for: "filter-type" }, "Type"), type),
    el("div", { class: "field" }, el("label", { for: "filter-role" }, "Required role"), role, roleList));

  const selectedCount = el("span", { class: "bulk-count", "aria-live": "polite" });
  const bulkReason = el("input", { id: "bulk-reason", type: "text", maxlength: "2000", autocomplete: "off" });
  const approveSelected = el("button", { type: "button", class: "primary" }, "Approve selected");
  const rejectSelected = el("button", { type: "button", class: "danger" }, "Reject selected");
  const clearSelection = el("button", { type: "button", class: "secondary" }, "Clear selection");
  const bulkError = el("p", { class: "form-error", role: "alert", hidden: true });
  const bulk = el("section", { class: "bulk", "aria-label": "Decide the selected requests" },
    selectedCount,
    el("div", { class: "field bulk-reason" }, el("label", { for: "bulk-reason" }, "Reason"), bulkReason),
    el("div", { class: "bulk-buttons" }, approveSelected, rejectSelected, clearSelection),
    bulkError);
  const results = el("section", { class: "bulk-results", "aria-label": "Results of the last bulk decision", hidden: true });

  const selectAll = el("input", { type: "checkbox", "aria-label": "Select all the requests you can decide" });
  const headRow = el("tr", {});
  const tbody = el("tbody", {});
  const table = el("table", { class: "inbox-table", "aria-labelledby": "inbox-title" }, el("thead", {}, headRow), tbody);
  const status = el("div", { class: "list-status", role: "status", "aria-live": "polite" });
  const moreButton = el("button", { type: "button", class: "secondary", hidden: true }, "Load more");

  root.append(
    el("div", { class: "inbox-head" }, heading, el("p", { class: "hint" }, "Press ? for the keys.")),
    el("nav", { class: "views", "aria-label": "Inbox views" }, viewLinks),
    filters, bulk, results, el("div", { class: "table-wrap" }, table), status, moreButton);

  // ---------------------------------------------------------------- helpers over state
  const visible = () => {
    const needle = state.find.trim().toLowerCase();
    if (!needle) {
      return state.items;
    }
    return state.items.filter((record) => [record.title, record.type, record.created_by, record.uow_id, record.id,
      record.assigned_to, record.required_role].some((value) => value && String(value).toLowerCase().includes(needle)));
  };
  const selectable = (record) => permission("approve", record, user).allowed || permission("reject", record, user).allowed;
  const showApprovals = () => state.items.some((record) => approvalsText(record));

  function renderHead() {
    clear(headRow);
    headRow.append(...[
      el("th", { scope: "col", class: "col-select" }, selectAll),
      el("th", { scope: "col" }, "Priority"),
      el("th", { scope: "col" }, "Type"),
      el("th", { scope: "col" }, "Title"),
      el("th", { scope: "col" }, "Age"),
      el("th", { scope: "col" }, "Time left"),
      el("th", { scope: "col" }, "Required role"),
      el("th", { scope: "col" }, "Assignee"),
      showApprovals() ? el("th", { scope: "col" }, "Approvals") : null].filter(Boolean));
  }

  function rowFor(record, withApprovals) {
    const { actionable, reason } = actionability(record, user);
    const canSelect = selectable(record);
    const checkbox = el("input", {
      type: "checkbox", checked: state.selected.has(record.id), disabled: !canSelect && !state.selected.has(record.id),
      "aria-label": `Select ${record.title}`, dataset: { id: record.id },
    });
    const left = timeLeft(record);
    const result = state.rowResults.get(record.id);
    const link = el("a", { href: `#/requests/${encodeURIComponent(record.id)}`, class: "row-title" }, record.title);
    const titleCell = el("td", { class: "cell-title", dataset: { label: "Title" } }, link,
      record.status !== "PENDING" ? el("span", { class: ["status-chip", `status-${record.status.toLowerCase()}`] },
        statusWords(record.status)) : null,
      !actionable && reason ? el("span", { class: "blocked-reason" }, `Cannot act: ${reason}`) : null,
      result ? el("span", { class: ["row-result", result.ok ? "ok" : "fail"] }, result.text) : null);
    const row = el("tr", {
      class: ["inbox-row", actionable ? "" : isOpen(record) ? "blocked" : "", state.selected.has(record.id) ? "selected" : ""],
      tabindex: record.id === state.focusId ? "0" : "-1",
      dataset: { id: record.id },
      "aria-label": `${record.priority} ${record.type}: ${record.title}`
        + `${approvalsText(record) ? `, approvals ${approvalsText(record)}` : ""}`
        + `${actionable ? "" : reason ? ` (cannot act: ${reason})` : ""}`,
    },
    el("td", { class: "col-select", dataset: { label: "Select" } }, checkbox),
    el("td", { dataset: { label: "Priority" } }, el("span", { class: ["chip", `chip-${record.priority}`] }, record.priority)),
    el("td", { class: "cell-type", dataset: { label: "Type" } }, record.type),
    titleCell,
    el("td", { class: "cell-age", dataset: { label: "Age" } },
      el("time", { datetime: record.created_at, title: formatTime(record.created_at) }, formatAge(record.created_at))),
    el("td", { class: ["cell-left", left.urgent ? "urgent" : ""], dataset: { label: "Time left" } },
      el("time", { datetime: record.expires_at, title: `Expires ${formatTime(record.expires_at)}` }, left.text)),
    el("td", { dataset: { label: "Required role" } }, record.required_role),
    el("td", { dataset: { label: "Assignee" } }, record.assigned_to || "—"),
    withApprovals ? el("td", { dataset: { label: "Approvals" } }, approvalsText(record) || "—") : null);
    return row;
  }

  function renderRows() {
    const hadFocus = table.contains(document.activeElement);
    const focusedCheckbox = hadFocus && document.activeElement.type === "checkbox" ? document.activeElement.dataset.id : null;
    renderHead();
    clear(tbody);
    const rows = visible();
    const withApprovals = showApprovals();
    if (!state.focusId && rows.length) {
      state.focusId = rows[0].id;
    }
    for (const record of rows) {
      tbody.append(rowFor(record, withApprovals));
    }
    if (!rows.some((record) => record.id === state.focusId) && rows.length) {
      state.focusId = rows[0].id;
      tbody.querySelector("tr").tabIndex = 0;
    }
    const candidates = rows.filter(selectable);
    selectAll.checked = candidates.length > 0 && candidates.every((record) => state.selected.has(record.id));
    selectAll.disabled = candidates.length === 0;
    if (hadFocus) {
      const target = focusedCheckbox
        ? tbody.querySelector(`input[data-id="${CSS.escape(focusedCheckbox)}"]`)
        : rowElement(state.focusId);
      if (target) {
        target.focus({ preventScroll: true });
      }
    }
    clear(status);
    if (state.loading && !state.items.length) {
      status.append(el("p", { class: "loading" }, "Loading requests…"));
    } else if (state.error) {
      const retry = el("button", { type: "button", class: "secondary" }, "Try again");
      retry.addEventListener("click", () => {
        state.refreshing = false;
        load(true);
      });
      status.append(el("p", { class: "form-error", role: "alert" }, `The requests could not be read: ${state.error}`), retry);
    } else if (!rows.length) {
      status.append(el("p", { class: "empty" }, state.items.length
        ? "No loaded request matches the text in Find."
        : `No requests in “${state.view.label}”${Object.values(state.filters).some(Boolean) ? " with these filters" : ""}.`));
    } else {
      status.append(el("p", { class: "hint" },
        `${rows.length} request${rows.length === 1 ? "" : "s"} shown${state.more ? "; more below" : ""}.`));
    }
    moreButton.hidden = !state.more || Boolean(state.error);
    moreButton.disabled = state.loading;
    renderBulk();
  }

  function renderBulk() {
    const count = state.selected.size;
    selectedCount.textContent = count ? `${count} selected` : "Select requests to decide several at once (x).";
    approveSelected.disabled = !count || state.bulkBusy;
    rejectSelected.disabled = !count || state.bulkBusy;
    clearSelection.disabled = !count || state.bulkBusy;
    bulk.classList.toggle("has-selection", count > 0);
  }

  function rowElement(id) {
    return id ? tbody.querySelector(`tr[data-id="${CSS.escape(id)}"]`) : null;
  }

  function updateTimes() {
    const now = Date.now();
    for (const record of state.items) {
      const row = rowElement(record.id);
      if (!row) {
        continue;
      }
      const age = row.querySelector(".cell-age time");
      const leftCell = row.querySelector(".cell-left");
      const left = timeLeft(record, now);
      age.textContent = formatAge(record.created_at, now);
      leftCell.querySelector("time").textContent = left.text;
      leftCell.classList.toggle("urgent", left.urgent);
    }
  }

  // ---------------------------------------------------------------- reading the list
  function newSource() {
    const filters = {};
    if (state.filters.priority) {
      filters.priority = state.filters.priority;
    }
    if (state.filters.type) {
      filters.type = state.filters.type;
    }
    if (state.filters.role) {
      filters.required_role = state.filters.role;
    }
    const baseKeep = state.view.keep || (() => true);
    // required_role is also checked here, so that the filter holds whichever API version answers.
    const keep = (record) => baseKeep(record) && (!state.filters.role || record.required_role === state.filters.role);
    return new ListSource(ctx.api, state.view.queries(user).map((q) => ({ ...q, ...filters })), keep);
  }

  /** Reads the view from its start: `count` rows (the first page, or as many as shown when refreshing). */
  async function load(fromStart, count = PAGE_SIZE) {
    const serial = ++state.serial;
    state.loading = true;
    state.error = null;
    if (fromStart && !state.refreshing) {
      state.items = [];
    }
    renderRows();
    const source = fromStart ? newSource() : state.source;
    try {
      const page = await source.take(count);
      if (serial !== state.serial) {
        return;
      }
      state.source = source;
      if (fromStart) {
        // Selected rows that left the view stay (marked by their result later): the API judges the bulk call.
        const fresh = new Set(page.items.map((record) => record.id));
        const kept = state.refreshing ? [...state.selected.values()].filter((record) => !fresh.has(record.id)) : [];
        state.items = [...page.items, ...kept];
        for (const record of page.items) {
          if (state.selected.has(record.id)) {
            state.selected.set(record.id, record);
          }
        }
      } else {
        const known = new Set(state.items.map((record) => record.id));
        state.items = [...state.items, ...page.items.filter((record) => !known.has(record.id))];
      }
      state.more = page.more;
    } catch (error) {
      if (serial !== state.serial) {
        return;
      }
      state.error = error instanceof ApiError ? error.message : String(error.message || error);
    } finally {
      if (serial === state.serial) {
        state.loading = false;
        state.refreshing = false;
        renderRows();
      }
    }
  }

  function refresh() {
    if (state.loading || state.bulkBusy) {
      return;
    }
    state.refreshing = true;
    load(true, Math.min(REFRESH_MAX, Math.max(PAGE_SIZE, state.items.length)));
  }

  function applyFilters() {
    state.filters = { priority: priority.value, type: type.value, role: role.value.trim() };
    history.replaceState(null, "", inboxHash(state));
    for (const link of viewLinks.querySelectorAll("a")) {
      link.href = inboxHash({ ...state, view: viewById(link.dataset.view) });
    }
    state.selected.clear();
    state.focusId = null;
    state.refreshing = false;
    load(true);
  }

  // ---------------------------------------------------------------- acting
  function toggleSelected(record, on) {
    if (on) {
      state.selected.set(record.id, record);
    } else {
      state.selected.delete(record.id);
    }
    const row = rowElement(record.id);
    if (row) {
      row.classList.toggle("selected", on);
      row.querySelector("input[type=checkbox]").checked = on;
    }
    const candidates = visible().filter(selectable);
    selectAll.checked = candidates.length > 0 && candidates.every((item) => state.selected.has(item.id));
    renderBulk();
  }

  async function claim(record) {
    const allowed = permission("claim", record, user);
    if (!allowed.allowed) {
      ctx.notice(`Cannot claim “${record.title}”: ${allowed.reason}.`, "error");
      return;
    }
    try {
      const updated = await ctx.api.post(`/interventions/${encodeURIComponent(record.id)}/claim`);
      state.items = state.items.map((item) => (item.id === updated.id ? updated : item));
      ctx.notice(`Claimed “${updated.title}”.`, "info");
      renderRows();
      ctx.live.refresh();
    } catch (error) {
      ctx.notice(`Claim failed: ${explain(error)}`, "error");
      if (error instanceof ApiError && error.status === 409) {
        refresh();
      }
    }
  }

  async function decideSelected(action) {
    const reason = bulkReason.value.trim();
    bulkError.hidden = true;
    if (!state.selected.size) {
      return;
    }
    if (!reason) {
      bulkError.textContent = "Write a reason first: it is kept with each decision.";
      bulkError.hidden = false;
      bulkReason.focus();
      return;
    }
    state.bulkBusy = true;
    renderBulk();
    const targets = [...state.selected.values()];
    const outcomes = new Array(targets.length);
    let next = 0;
    async function worker() {
      while (next < targets.length) {
        const index = next++;
        const record = targets[index];
        try {
          const updated = await ctx.api.post(`/interventions/${encodeURIComponent(record.id)}/${action}`, { reason });
          // An approval short of its quorum leaves the request open: say how far it got.
          const text = action === "reject" ? "Rejected"
            : isOpen(updated) ? `Approval recorded (${approvalsText(updated)})` : "Approved";
          outcomes[index] = { record: updated, ok: true, text };
        } catch (error) {
          outcomes[index] = { record, ok: false, text: explain(error), status: error.status };
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(BULK_PARALLEL, targets.length) }, worker));
    state.bulkBusy = false;
    state.rowResults = new Map(outcomes.map((outcome) => [outcome.record.id, outcome]));
    state.items = state.items.map((item) => {
      const outcome = state.rowResults.get(item.id);
      return outcome && outcome.ok ? outcome.record : item;
    });
    for (const outcome of outcomes) {
      state.selected.delete(outcome.record.id);
    }
    const passed = outcomes.filter((outcome) => outcome.ok).length;
    const verb = action === "approve" ? "approved" : "rejected";
    clear(results);
    results.hidden = false;
    results.append(
      el("h2", {}, `${action === "approve" ? "Approve" : "Reject"} selected: ${passed} ${verb}, ${outcomes.length - passed} failed`),
      el("ul", { class: "result-list" }, outcomes.map((outcome) => el("li", {
        class: ["result", outcome.ok ? "ok" : "fail"], dataset: { id: outcome.record.id },
      }, el("a", { href: `#/requests/${encodeURIComponent(outcome.record.id)}` }, outcome.record.title), " — ",
      el("span", { class: "result-text" }, outcome.text)))));
    ctx.notice(`${passed} of ${outcomes.length} ${verb}.`, passed === outcomes.length ? "info" : "error");
    if (passed) {
      bulkReason.value = "";
    }
    renderRows();
    ctx.live.refresh();
    refresh();
  }

  // ---------------------------------------------------------------- events
  for (const control of [priority, type]) {
    control.addEventListener("change", applyFilters);
  }
  role.addEventListener("change", applyFilters);
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    applyFilters();
  });
  find.addEventListener("input", () => {
    state.find = find.value;
    renderRows();
  });
  find.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      const first = visible()[0];
      if (first) {
        state.focusId = first.id;
        renderRows();
        const row = rowElement(first.id);
        if (row) {
          row.focus();
        }
      }
    }
  });
  moreButton.addEventListener("click", () => load(false));
  approveSelected.addEventListener("click", () => decideSelected("approve"));
  rejectSelected.addEventListener("click", () => decideSelected("reject"));
  clearSelection.addEventListener("click", () => {
    state.selected.clear();
    renderRows();
  });
  selectAll.addEventListener("change", () => {
    for (const record of visible().filter(selectable)) {
      if (selectAll.checked) {
        state.selected.set(record.id, record);
      } else {
        state.selected.delete(record.id);
      }
    }
    renderRows();
  });
  tbody.addEventListener("change", (event) => {
    const box = event.target;
    if (box.type !== "checkbox") {
      return;
    }
    const record = state.items.find((item) => item.id === box.dataset.id);
    if (record) {
      toggleSelected(record, box.checked);
    }
  });
  tbody.addEventListener("focusin", (event) => {
    const row = event.target.closest("tr[data-id]");
    if (row && row.dataset.id !== state.focusId) {
      const old = rowElement(state.focusId);
      if (old) {
        old.tabIndex = -1;
      }
      state.focusId = row.dataset.id;
      row.tabIndex = 0;
    }
  });
  tbody.addEventListener("dblclick", (event) => {
    const row = event.target.closest("tr[data-id]");
    if (row && !event.target.closest("a, input")) {
      ctx.navigate(`#/requests/${encodeURIComponent(row.dataset.id)}`);
    }
  });

  const focused = () => state.items.find((record) => record.id === state.focusId) || null;
  function move(step) {
    const rows = visible();
    if (!rows.length) {
      return;
    }
    const inTable = table.contains(document.activeElement);
    let index = rows.findIndex((record) => record.id === state.focusId);
    index = !inTable && index >= 0 ? index : Math.min(rows.length - 1, Math.max(0, index + step));
    state.focusId = rows[index].id;
    for (const row of tbody.querySelectorAll("tr[data-id]")) {
      row.tabIndex = row.dataset.id === state.focusId ? 0 : -1;
    }
    const row = rowElement(state.focusId);
    row.focus();
    row.scrollIntoView({ block: "nearest" });
  }
  const openFocused = (suffix = "") => {
    const record = focused();
    if (record) {
      ctx.navigate(`#/requests/${encodeURIComponent(record.id)}${suffix}`);
    }
  };
  const removeKeys = setViewKeys({
    j: () => move(1),
    ArrowDown: () => (table.contains(document.activeElement) ? move(1) : false),
    k: () => move(-1),
    ArrowUp: () => (table.contains(document.activeElement) ? move(-1) : false),
    Enter: () => (table.contains(document.activeElement) ? openFocused() : false),
    x: () => {
      const record = focused();
      if (record && (selectable(record) || state.selected.has(record.id))) {
        toggleSelected(record, !state.selected.has(record.id));
      }
    },
    c: () => {
      const record = focused();
      if (record) {
        claim(record);
      }
    },
    a: () => openFocused("?act=approve"),
    r: () => openFocused("?act=reject"),
  });

  const unsubscribe = ctx.live.subscribe(({ changed, tick }) => {
    updateTimes();
    if (changed || tick % REFRESH_EVERY_TICKS === 0) {
      refresh();
    }
  });

  load(true);

  return () => {
    removeKeys();
    unsubscribe();
    state.serial += 1;
  };
}

