// "Run a tool" at #/run (#/run?tool=<name> preselects one): the tools of GET /tools, a form drawn from the chosen
// tool's `parameters_schema`, `use_cache`, an optional approval gate; submitting opens the new job, which follows its
// status (a gated one shows its approval request). The submission carries an Idempotency-Key, so the 503 retries of
// api.js or a second click never start the job twice.

import { clear, el } from "./dom.js";
import { createSchemaForm } from "./schemaform.js";

// The API's ApprovalOptions (docs/openapi.json), drawn by the same form code as the tools' parameters.
const APPROVAL_SCHEMA = {
  type: "object",
  properties: {
    required_role: {
      type: "string", title: "Approver role", default: "operator", pattern: "^[A-Za-z0-9_.:-]{1,64}$",
      description: "Who may approve the job: holders of this role (or admins)",
    },
    priority: { enum: ["critical", "high", "normal", "low"], type: "string", title: "Approval priority", default: "normal" },
    title: {
      anyOf: [{ type: "string", minLength: 1, maxLength: 200 }, { type: "null" }], title: "Approval title",
      description: "What the approver reads in the inbox (default: the tool's name)",
    },
    expires_in_seconds: {
      type: "integer", title: "Approval expires in (seconds)", default: 3600, minimum: 60, maximum: 2592000,
      description: "Unanswered by then, the request expires and the job is cancelled",
    },
  },
};

function holds(user, role) {
  const roles = (user && user.roles) || [];
  return roles.includes(role) || roles.includes("admin");
}

function canSubmit(user) {
  return holds(user, "requester");
}

function newKey() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") {
    return window.crypto.randomUUID();
  }
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
}

/** Renders the run-a-tool form; returns the cleanup (nothing to stop: the form polls nothing). */
export function render(root, ctx, params) {
  const wanted = params && params.query && typeof params.query.get === "function" ? params.query.get("tool") : null;
  const state = { tools: [], tool: null, form: null, approvalForm: null, busy: false, alive: true };
  const heading = el("h1", { tabindex: "-1" }, "Run a tool");
  const body = el("div", { class: "run-body", "aria-busy": "true" }, el("p", { class: "muted" }, "Loading the tools…"));
  clear(root);
  root.append(el("div", { class: "view run" },
    el("p", { class: "breadcrumb" }, el("a", { href: "#/jobs" }, "← Jobs")),
    el("div", { class: "view-head" }, heading), body));

  const allowed = canSubmit(ctx.user);
  const toolSelect = el("select", { id: "run-tool", name: "tool", "aria-describedby": "run-tool-about", "data-filter": "" });
  const about = el("div", { id: "run-tool-about", class: "tool-about" });
  const parameters = el("fieldset", { class: "schema-fieldset" }, el("legend", {}, "Parameters"));
  const useCache = el("input", { type: "checkbox", id: "run-use-cache", name: "use_cache", checked: true,
    "aria-describedby": "run-use-cache-hint" });
  const useCacheHint = el("p", { class: "field-hint", id: "run-use-cache-hint" });
  const gate = el("input", { type: "checkbox", id: "run-gate", name: "requires_approval", "aria-describedby": "run-gate-hint",
    "aria-controls": "run-approval" });
  const approvalHolder = el("div", { id: "run-approval", class: "approval-fields", hidden: true });
  const errors = el("div", { class: "form-errors", "aria-live": "assertive" });
  const submit = el("button", { type: "submit", class: "primary", disabled: !allowed,
    "aria-describedby": allowed ? null : "run-not-allowed" }, "Run");
  const form = el("form", { class: "run-form", novalidate: true },
    el("div", { class: "field" }, el("label", { for: "run-tool" }, "Tool"), toolSelect, about),
    parameters,
    el("fieldset", { class: "schema-fieldset" }, el("legend", {}, "Options"),
      el("div", { class: "field field-check" }, useCache, el("label", { for: "run-use-cache" }, "Use cache"), useCacheHint),
      el("div", { class: "field field-check" }, gate, el("label", { for: "run-gate" }, "Require approval"),
        el("p", { class: "field-hint", id: "run-gate-hint" },
          "The job waits for an approval request to be approved before it runs (rejected: it never runs).")),
      approvalHolder),
    errors,
    el("div", { class: "form-actions" }, submit,
      allowed ? null : el("p", { id: "run-not-allowed", class: "action-reason" },
        `Running a tool needs the requester or admin role; you hold ${(ctx.user.roles || []).join(", ") || "no role"}.`)));

  function toolAllowed(tool) {
    return !tool.required_role || holds(ctx.user, tool.required_role);
  }

  function chooseTool(name) {
    const tool = state.tools.find((item) => item.name === name) || null;
    state.tool = tool;
    clear(errors);
    clear(about);
    parameters.querySelectorAll(":scope > :not(legend)").forEach((node) => node.remove());
    if (!tool) {
      state.form = null;
      return;
    }
    about.append(el("p", {}, tool.description),
      el("p", { class: "muted" }, `Times out after ${tool.timeout_seconds} s · `
        + (tool.cacheable ? "results cached" : "never cached")
        + (tool.required_role ? ` · needs the role ${tool.required_role}` : "")));
    state.form = createSchemaForm(tool.parameters_schema,
      { idPrefix: `param-${tool.name}`, emptyText: "This tool takes no parameters." });
    parameters.append(state.form.element);
    useCache.disabled = !tool.cacheable;
    useCache.checked = tool.cacheable;
    useCacheHint.textContent = tool.cacheable
      ? "A run of the same parameters finished within the cache's lifetime answers at once, with its result."
      : "This tool's results are never reused: it runs every time.";
    const permitted = allowed && toolAllowed(tool);
    submit.disabled = !permitted;
    if (allowed && !permitted) {
      errors.append(el("p", { class: "action-reason" },
        `Only holders of the role ${tool.required_role} (or admins) can run ${tool.name}.`));
    }
  }

  gate.addEventListener("change", () => {
    approvalHolder.hidden = !gate.checked;
    if (gate.checked && !state.approvalForm) {
      state.approvalForm = createSchemaForm(APPROVAL_SCHEMA, { idPrefix: "approval" });
      approvalHolder.append(state.approvalForm.element);
    }
  });
  toolSelect.addEventListener("change", () => chooseTool(toolSelect.value));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (state.busy || !state.tool || !state.form) {
      return;
    }
    clear(errors);
    const values = state.form.read();
    const approval = gate.checked ? state.approvalForm.read() : { valid: true, value: undefined };
    if (!values.valid || !approval.valid) {
      errors.append(el("p", { class: "form-error", role: "alert" },
        "Some fields need attention: see the messages beside them."));
      state.form.focusFirstError() || (state.approvalForm && state.approvalForm.focusFirstError());
      return;
    }
    const request = {
      tool: state.tool.name, parameters: values.value, use_cache: useCache.checked, requires_approval: gate.checked,
    };
    if (gate.checked) {
      request.approval = approval.value;
    }
    state.busy = true;
    submit.disabled = true;
    submit.textContent = "Starting…";
    try {
      const job = await ctx.api.post("/jobs", request, { "Idempotency-Key": newKey() });
      if (state.alive) {
        ctx.navigate(`#/jobs/${encodeURIComponent(job.id)}`);
      }
    } catch (error) {
      if (!state.alive) {
        return;
      }
      // details' loc is ["body", "parameters" | "approval", field...]: each part goes to its own form.
      const details = Array.isArray(error.details) ? error.details : [];
      const under = (part) => details.filter((d) => String((d.loc || [])[1]) === part);
      const unmatched = [
        ...state.form.showErrors(under("parameters"), ["body", "parameters"]),
        ...(state.approvalForm ? state.approvalForm.showErrors(under("approval"), ["body", "approval"]) : under("approval")),
        ...details.filter((d) => !["parameters", "approval"].includes(String((d.loc || [])[1]))),
      ];
      errors.append(el("div", { class: "error-box", role: "alert" },
        el("p", {}, error.message || String(error)),
        unmatched.length ? el("ul", {}, unmatched.map((d) => el("li", {}, `${(d.loc || []).join(".")}: ${d.msg}`))) : null));
    } finally {
      if (state.alive) {
        state.busy = false;
        submit.textContent = "Run";
        submit.disabled = !(allowed && state.tool && toolAllowed(state.tool));
      }
    }
  });

  ctx.api.get("/tools").then((tools) => {
    if (!state.alive) {
      return;
    }
    state.tools = tools.items || [];
    clear(body);
    body.setAttribute("aria-busy", "false");
    if (state.tools.length === 0) {
      body.append(el("p", { class: "empty" }, "No tools are registered."));
      return;
    }
    for (const tool of state.tools) {
      toolSelect.append(el("option", { value: tool.name },
        toolAllowed(tool) ? tool.name : `${tool.name} (needs the role ${tool.required_role})`));
    }
    const first = state.tools.find((tool) => tool.name === wanted) || state.tools.find(toolAllowed) || state.tools[0];
    toolSelect.value = first.name;
    body.append(allowed ? "" : el("p", { class: "notice notice-info" },
      "You can read the tools and their parameters; running one needs the requester or admin role."), form);
    chooseTool(first.name);
  }).catch((error) => {
    if (!state.alive) {
      return;
    }
    clear(body);
    body.setAttribute("aria-busy", "false");
    body.append(el("div", { class: "error-box", role: "alert" }, el("p", {}, error.message || String(error)),
      el("button", { type: "button", class: "secondary", onclick: () => ctx.navigate("#/run") }, "Try again")));
  });

  return () => {
    state.alive = false;
  };
}
