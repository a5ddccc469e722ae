// Webhook subscriptions at #/webhooks (admins only): the tenant's subscriptions (GET /webhooks) with their state and
// last delivery, Delete per row (confirmed in the row, DELETE /webhooks/{id}), and a form that adds one (POST
// /webhooks). The signing secret of a new subscription is in the 201 only: it is shown once, held in this view's
// memory alone (never in storage, never in the URL) and dropped when the view is left, the page hidden or reloaded.

import { clear, el, formatAge, formatTime } from "./dom.js";
import { webhookPermission } from "./permissions.js";

// The contract's event types, in its order; "*" subscribes to every one (and to types added later).
export const WEBHOOK_EVENT_TYPES = Object.freeze([
  "Intervention Created", "Intervention Claimed", "Intervention Released", "Intervention Assigned",
  "Intervention Approved", "Intervention Rejected", "Intervention Cancelled", "Intervention Completed",
  "Intervention Expired", "Intervention Escalated", "Intervention Commented",
  "Job Submitted", "Job Queued", "Job Started", "Job Completed", "Job Failed", "Job Cancelled", "Job Rejected",
]);
export const ALL_EVENTS = "*";
export const MAX_SUBSCRIPTIONS = 25;
const MAX_URL = 2048;
const MAX_DESCRIPTION = 500;
// GET /webhooks answers one page today (25 at most); a cursor, should one come, is followed this many times.
const MAX_PAGES = 10;
const FIELDS = ["url", "events", "description"];

function errorText(error) {
  if (!error) {
    return "";
  }
  if (error.status) {
    return `${error.status} ${error.code}: ${error.message}`;
  }
  return error.message || String(error);
}

function timeWords(iso) {
  if (!iso) {
    return "—";
  }
  return el("time", { datetime: iso, title: formatTime(iso) }, formatAge(iso));
}

function eventsView(events) {
  const list = Array.isArray(events) ? events : [];
  if (list.includes(ALL_EVENTS)) {
    return el("span", {}, "All events ", el("span", { class: "muted" }, "(*)"));
  }
  return el("ul", { class: "event-list" }, list.map((type) => el("li", {}, type)));
}

function stateView(subscription) {
  if (subscription.enabled) {
    return el("span", { class: ["chip", "hook-state", "hook-enabled"] }, "Enabled");
  }
  return el("div", { class: "hook-disabled-cell" },
    el("span", { class: ["chip", "hook-state", "hook-disabled"] }, "Disabled"),
    el("p", { class: "hook-reason" }, subscription.disabled_reason || "No reason given."));
}

/** The last delivery's answer in words: "HTTP 204 · attempt 1", "timed out after 5 s · attempt 8". */
export function deliveryWords(delivery) {
  const hasStatus = delivery.status_code !== null && delivery.status_code !== undefined;
  const parts = [hasStatus ? `HTTP ${delivery.status_code}` : delivery.error || "no answer"];
  if (hasStatus && delivery.error) {
    parts.push(delivery.error);
  }
  parts.push(`attempt ${delivery.attempt}`);
  return parts.join(" · ");
}

function deliveryView(delivery) {
  if (!delivery) {
    return el("span", { class: "muted" }, "None yet");
  }
  return el("div", { class: "hook-delivery" },
    el("span", { class: ["chip", "hook-outcome", delivery.ok ? "hook-ok" : "hook-failed"] },
      delivery.ok ? "Delivered" : "Failed"),
    el("p", { class: "hook-delivery-words" }, deliveryWords(delivery)),
    el("p", { class: "muted" }, delivery.event_type ? `${delivery.event_type}, ` : "", timeWords(delivery.at)));
}

function renderRefusal(root, reason) {
  clear(root);
  root.append(el("div", { class: "view webhooks" },
    el("div", { class: "view-head" }, el("h1", { tabindex: "-1" }, "Webhooks")),
    el("div", { class: "notice notice-info", role: "status" },
      el("p", {}, reason),
      el("p", {}, "Webhook subscriptions send the tenant's events to other systems; an admin of the tenant adds and "
        + "removes them. "), el("p", {}, el("a", { href: "#/inbox" }, "Go to the inbox")))));
}

/** Renders the page; returns its cleanup, which drops a secret still shown. */
export function render(root, ctx) {
  const permission = webhookPermission(ctx.user);
  if (!permission.allowed) {
    renderRefusal(root, permission.reason);
    return undefined;
  }
  const state = { items: [], loading: true, error: null, busy: false, alive: true, confirming: null, deleting: null,
    rowErrors: new Map(), secret: null, generation: 0 };

  // ---------------------------------------------------------------------------------------------- secret box
  const secretHolder = el("div", { class: "secret-holder" });

  function dropSecret() {
    state.secret = null;
    clear(secretHolder);
  }

  function showSecret(subscription, secret) {
    // Only which subscription it belongs to (a delete of that one drops it); the text lives in the field alone.
    state.secret = { id: subscription.id };
    const field = el("input", { type: "text", id: "webhook-secret", class: "mono secret-value", readonly: true,
      autocomplete: "off", spellcheck: "false", "aria-describedby": "webhook-secret-note", value: secret });
    const copied = el("p", { class: "copy-status", role: "status" });
    const copy = el("button", { type: "button", class: "primary" }, "Copy secret");
    const done = el("button", { type: "button", class: "secondary" }, "I have stored it; hide it");
    const title = el("h2", { id: "webhook-secret-title", tabindex: "-1" }, "Signing secret: copy it now");
    copy.addEventListener("click", async () => {
      copied.textContent = "";
      try {
        await navigator.clipboard.writeText(secret);
        copied.textContent = "Copied to the clipboard.";
      } catch {
        field.focus();
        field.select();
        copied.textContent = "The browser did not allow copying: the secret is selected, press Ctrl+C (⌘C) to copy it.";
      }
    });
    field.addEventListener("focus", () => field.select());
    done.addEventListener("click", () => {
      dropSecret();
      heading.focus();
    });
    clear(secretHolder).append(el("section", { class: "secret-box", "aria-labelledby": "webhook-secret-title" },
      title,
      el("p", { id: "webhook-secret-note", class: "secret-note" },
        el("strong", {}, "It will not be shown again. "),
        "The API returns it only once, when the subscription is made, and this page keeps it only until you leave or "
        + "reload it. Receivers check each delivery's webhook-signature with it."),
      el("p", { class: "secret-for" }, "Subscription: ", el("span", { class: "mono" }, subscription.url)),
      el("div", { class: "field" }, el("label", { for: "webhook-secret" }, "Secret"), field),
      el("div", { class: "form-actions" }, copy, done), copied));
    title.focus();
  }

  // -------------------------------------------------------------------------------------------------- list
  const heading = el("h1", { tabindex: "-1" }, "Webhooks");
  const count = el("p", { class: "muted", "aria-live": "polite" });
  const refresh = el("button", { type: "button", class: "secondary", onclick: () => load() }, "Refresh");
  // Explicit roles: at 640 px and below the rows become cards (display: block), which drops the table's own semantics.
  const body = el("tbody", { role: "rowgroup" });
  const table = el("table", { class: "webhooks-table data-table", role: "table", hidden: true },
    el("caption", { class: "visually-hidden" }, "Webhook subscriptions, oldest first"),
    el("thead", { role: "rowgroup" }, el("tr", { role: "row" },
      ["URL", "Events", "Description", "State", "Created", "Last delivery", "Actions"]
        .map((name) => el("th", { scope: "col", role: "columnheader" }, name)))),
    body);
  const listMessage = el("div", { class: "list-message", "aria-live": "polite" });

  function actionsCell(subscription) {
    const holder = el("div", {});
    const cell = el("td", { role: "cell", "data-label": "Actions", class: "hook-actions" }, holder);
    const rowError = state.rowErrors.get(subscription.id);
    if (state.confirming === subscription.id) {
      const busy = state.deleting === subscription.id;
      const yes = el("button", { type: "button", class: "danger small", disabled: busy },
        busy ? "Deleting…" : "Yes, delete");
      const keep = el("button", { type: "button", class: "secondary small hook-keep", disabled: busy }, "Keep it");
      yes.addEventListener("click", () => remove(subscription));
      keep.addEventListener("click", () => {
        state.confirming = null;
        draw();
        focusDelete(subscription.id);
      });
      holder.append(el("div", { class: "hook-confirm", role: "group", "aria-label": `Delete ${subscription.url}?` },
        el("p", {}, "Delete it? Its deliveries stop."), el("div", { class: "view-actions" }, yes, keep)));
    } else {
      const button = el("button", { type: "button", class: "secondary small hook-delete",
        "aria-label": `Delete the subscription to ${subscription.url}` }, "Delete");
      button.addEventListener("click", () => {
        state.confirming = subscription.id;
        state.rowErrors.delete(subscription.id);
        draw();
        focusIn(subscription.id, "button.hook-keep");
      });
      holder.append(button);
    }
    if (rowError) {
      holder.append(el("p", { class: "field-error", role: "alert" }, `Not deleted: ${errorText(rowError)}`));
    }
    return cell;
  }

  function focusIn(id, selector) {
    const button = body.querySelector(`tr[data-hook-id="${CSS.escape(id)}"] ${selector}`);
    if (button) {
      button.focus();
    }
  }

  function focusDelete(id) {
    focusIn(id, "button.hook-delete");
  }

  function row(subscription) {
    return el("tr", { role: "row", dataset: { hookId: subscription.id },
      class: subscription.enabled ? null : "hook-row-disabled" },
      el("td", { role: "cell", "data-label": "URL", class: "mono hook-url" }, subscription.url),
      el("td", { role: "cell", "data-label": "Events" }, eventsView(subscription.events)),
      el("td", { role: "cell", "data-label": "Description" }, subscription.description
        ? subscription.description : el("span", { class: "muted" }, "—")),
      el("td", { role: "cell", "data-label": "State" }, stateView(subscription)),
      el("td", { role: "cell", "data-label": "Created" }, el("div", {},
        el("div", {}, timeWords(subscription.created_at)),
        subscription.created_by ? el("div", { class: "muted" }, `by ${subscription.created_by}`) : null)),
      el("td", { role: "cell", "data-label": "Last delivery" }, deliveryView(subscription.last_delivery)),
      actionsCell(subscription));
  }

  function draw() {
    clear(body);
    body.append(...state.items.map(row));
    table.hidden = state.items.length === 0;
    count.textContent = state.loading && !state.items.length ? ""
      : `${state.items.length} of at most ${MAX_SUBSCRIPTIONS} subscriptions`;
    clear(listMessage);
    if (state.error) {
      listMessage.append(el("div", { class: "error-box", role: "alert" },
        el("p", {}, `The subscriptions could not be read: ${errorText(state.error)}`),
        el("button", { type: "button", class: "secondary", onclick: () => load() }, "Try again")));
    } else if (state.loading && state.items.length === 0) {
      listMessage.append(el("p", { class: "muted" }, "Loading the subscriptions…"));
    } else if (state.items.length === 0) {
      listMessage.append(el("p", { class: "empty" }, "No subscriptions yet: add one below."));
    }
    refresh.disabled = state.loading;
    const full = state.items.length >= MAX_SUBSCRIPTIONS;
    submit.disabled = state.busy || full;
    limitNote.hidden = !full;
  }

  async function load() {
    const generation = ++state.generation;
    state.loading = true;
    state.error = null;
    draw();
    try {
      const items = [];
      let cursor;
      for (let page = 0; page < MAX_PAGES; page += 1) {
        const answer = await ctx.api.get("/webhooks", { cursor });
        items.push(...(answer.items || []));
        cursor = answer.next_cursor;
        if (!cursor) {
          break;
        }
      }
      if (generation !== state.generation || !state.alive) {
        return;
      }
      state.items = items;
      state.rowErrors.clear();
      if (!items.some((item) => item.id === state.confirming)) {
        state.confirming = null;
      }
    } catch (error) {
      if (generation === state.generation) {
        state.error = error;
      }
    } finally {
      if (generation === state.generation && state.alive) {
        state.loading = false;
        draw();
      }
    }
  }

  async function remove(subscription) {
    state.deleting = subscription.id;
    draw();
    try {
      await ctx.api.delete(`/webhooks/${encodeURIComponent(subscription.id)}`);
      if (!state.alive) {
        return;
      }
      state.items = state.items.filter((item) => item.id !== subscription.id);
      state.confirming = null;
      if (state.secret && state.secret.id === subscription.id) {
        dropSecret();
      }
      ctx.notice(`Deleted the subscription to ${subscription.url}.`, "info");
      draw();
      heading.focus();
    } catch (error) {
      if (!state.alive) {
        return;
      }
      state.confirming = null;
      if (error.status === 404) {
        // Gone already (deleted elsewhere): say so and show the list as it is now.
        ctx.notice(`The subscription to ${subscription.url} no longer exists: ${errorText(error)}`, "error");
        state.deleting = null;
        await load();
        return;
      }
      state.rowErrors.set(subscription.id, error);
      draw();
      focusDelete(subscription.id);
    } finally {
      state.deleting = null;
    }
  }

  // -------------------------------------------------------------------------------------------------- form
  const fieldErrors = {};
  const errorSlot = (name) => {
    fieldErrors[name] = el("p", { class: "field-error", id: `webhook-${name}-error`, hidden: true });
    return fieldErrors[name];
  };
  const urlInput = el("input", { type: "url", id: "webhook-url", name: "url", required: true, maxlength: MAX_URL,
    autocomplete: "off", spellcheck: "false", placeholder: "https://hooks.example.com/oversight",
    "aria-required": "true", "aria-describedby": "webhook-url-hint webhook-url-error" });
  const allRadio = el("input", { type: "radio", id: "webhook-events-all", name: "events-choice", value: "all",
    checked: true });
  const someRadio = el("input", { type: "radio", id: "webhook-events-some", name: "events-choice", value: "some",
    "aria-controls": "webhook-event-types" });
  const typeBoxes = WEBHOOK_EVENT_TYPES.map((type, index) => el("input", { type: "checkbox",
    id: `webhook-event-${index}`, name: "events", value: type, disabled: true }));
  const typeGroups = ["Intervention", "Job"].map((kind) => el("fieldset", { class: "event-group" },
    el("legend", {}, kind === "Job" ? "Jobs" : "Requests (interventions)"),
    WEBHOOK_EVENT_TYPES.map((type, index) => [type, index]).filter(([type]) => type.startsWith(`${kind} `))
      .map(([type, index]) => el("div", { class: "field-check" }, typeBoxes[index],
        el("label", { for: `webhook-event-${index}` }, type)))));
  const eventsFieldset = el("fieldset", { class: "schema-fieldset events-fieldset", id: "webhook-events",
    "aria-describedby": "webhook-events-error" },
    el("legend", {}, "Events ", el("span", { class: "required-mark", "aria-hidden": "true" }, "*")),
    el("div", { class: "field-check" }, allRadio, el("label", { for: "webhook-events-all" }, "All events (*)")),
    el("div", { class: "field-check" }, someRadio, el("label", { for: "webhook-events-some" }, "Only these events")),
    el("div", { class: "event-types", id: "webhook-event-types" }, typeGroups),
    errorSlot("events"));
  const descriptionInput = el("textarea", { id: "webhook-description", name: "description", rows: 2,
    maxlength: MAX_DESCRIPTION, "aria-describedby": "webhook-description-hint webhook-description-error" });
  const formErrors = el("div", { class: "form-errors", "aria-live": "assertive" });
  const submit = el("button", { type: "submit", class: "primary" }, "Add subscription");
  const limitNote = el("p", { class: "action-reason", id: "webhook-limit", hidden: true },
    `A tenant has at most ${MAX_SUBSCRIPTIONS} subscriptions: delete one to add another.`);
  const form = el("form", { class: "run-form webhook-form", novalidate: true, "aria-labelledby": "webhook-form-title" },
    el("h2", { id: "webhook-form-title" }, "Add a subscription"),
    el("div", { class: "field" },
      el("label", { for: "webhook-url" }, "URL ", el("span", { class: "required-mark", "aria-hidden": "true" }, "*")),
      urlInput,
      el("p", { class: "field-hint", id: "webhook-url-hint" },
        "Where each event is posted (http or https). Its host must be in the stack's allow-list of webhook hosts."),
      errorSlot("url")),
    eventsFieldset,
    el("div", { class: "field" },
      el("label", { for: "webhook-description" }, "Description ", el("span", { class: "optional-mark" }, "(optional)")),
      descriptionInput,
      el("p", { class: "field-hint", id: "webhook-description-hint" },
        `What the receiver is, for whoever reads this list later (at most ${MAX_DESCRIPTION} characters).`),
      errorSlot("description")),
    formErrors,
    el("div", { class: "form-actions" }, submit, limitNote));

  function resetForm() {
    urlInput.value = "";
    descriptionInput.value = "";
    allRadio.checked = true;
    typeBoxes.forEach((box) => {
      box.checked = false;
    });
    syncEvents();
  }

  function syncEvents() {
    const some = someRadio.checked;
    typeBoxes.forEach((box) => {
      box.disabled = !some;
    });
  }
  allRadio.addEventListener("change", syncEvents);
  someRadio.addEventListener("change", () => {
    syncEvents();
    if (someRadio.checked && !typeBoxes.some((box) => box.checked)) {
      typeBoxes[0].focus();
    }
  });

  function controlOf(name) {
    if (name === "url") {
      return urlInput;
    }
    if (name === "description") {
      return descriptionInput;
    }
    return someRadio.checked ? typeBoxes.find((box) => !box.disabled) : allRadio;
  }

  function clearErrors() {
    for (const name of FIELDS) {
      fieldErrors[name].textContent = "";
      fieldErrors[name].hidden = true;
    }
    urlInput.removeAttribute("aria-invalid");
    descriptionInput.removeAttribute("aria-invalid");
    eventsFieldset.removeAttribute("aria-invalid");
    eventsFieldset.classList.remove("invalid");
    clear(formErrors);
  }

  function showFieldError(name, message) {
    const slot = fieldErrors[name];
    slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
    slot.hidden = false;
    if (name === "events") {
      eventsFieldset.setAttribute("aria-invalid", "true");
      eventsFieldset.classList.add("invalid");
    } else {
      controlOf(name).setAttribute("aria-invalid", "true");
    }
  }

  /** The field a 422 detail names: the first of url/events/description in its loc (["body", "events", 0]). */
  function fieldOf(detail) {
    const loc = Array.isArray(detail && detail.loc) ? detail.loc.map(String) : [];
    return loc.find((part) => FIELDS.includes(part)) || null;
  }

  /** The body to send, or null after marking what the page itself can tell is wrong. */
  function readForm() {
    const problems = [];
    const url = urlInput.value.trim();
    if (!url) {
      problems.push(["url", "Required."]);
    } else if (url.length > MAX_URL) {
      problems.push(["url", `At most ${MAX_URL} characters.`]);
    } else {
      let parsed = null;
      try {
        parsed = new URL(url);
      } catch {
        parsed = null;
      }
      if (!parsed || !["http:", "https:"].includes(parsed.protocol) || !parsed.hostname) {
        problems.push(["url", "Write a full http:// or https:// address."]);
      }
    }
    let events = [ALL_EVENTS];
    if (someRadio.checked) {
      events = typeBoxes.filter((box) => box.checked).map((box) => box.value);
      if (events.length === 0) {
        problems.push(["events", "Choose at least one event, or All events."]);
      }
    }
    const description = descriptionInput.value;
    if (description.length > MAX_DESCRIPTION) {
      problems.push(["description", `At most ${MAX_DESCRIPTION} characters.`]);
    }
    problems.forEach(([name, message]) => showFieldError(name, message));
    if (problems.length) {
      formErrors.append(el("p", { class: "form-error", role: "alert" },
        "Some fields need attention: see the messages beside them."));
      controlOf(problems[0][0]).focus();
      return null;
    }
    return { url, events, description };
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (state.busy) {
      return;
    }
    clearErrors();
    const request = readForm();
    if (!request) {
      return;
    }
    state.busy = true;
    submit.textContent = "Adding…";
    draw();
    try {
      const created = await ctx.api.post("/webhooks", request);
      if (!state.alive) {
        return;
      }
      const { secret, ...subscription } = created || {};
      state.items = [...state.items.filter((item) => item.id !== subscription.id), subscription];
      resetForm();
      draw();
      if (secret) {
        showSecret(subscription, secret);
      } else {
        ctx.notice(`Added the subscription to ${subscription.url}.`, "info");
      }
    } catch (error) {
      if (!state.alive) {
        return;
      }
      const details = Array.isArray(error.details) ? error.details : [];
      const unmatched = [];
      let first = null;
      for (const detail of details) {
        const name = fieldOf(detail);
        if (name) {
          showFieldError(name, String(detail.msg || detail.message || "Refused."));
          first = first || name;
        } else {
          unmatched.push(detail);
        }
      }
      formErrors.append(el("div", { class: "error-box", role: "alert" },
        el("p", {}, error.status ? `${error.message}` : errorText(error)),
        unmatched.length ? el("ul", {}, unmatched.map((d) => el("li", {},
          `${(d.loc || []).join(".")}: ${d.msg}`))) : null));
      if (first) {
        controlOf(first).focus();
      }
    } finally {
      if (state.alive) {
        state.busy = false;
        submit.textContent = "Add subscription";
        draw();
      }
    }
  });

  // ------------------------------------------------------------------------------------------------- page
  clear(root);
  root.append(el("div", { class: "view webhooks" },
    el("div", { class: "view-head" }, heading, el("div", { class: "view-actions" }, refresh)),
    el("p", { class: "muted" }, "Each event of the tenant is posted, signed, to every enabled subscription whose "
      + "events include it; a receiver answering 410 Gone disables its subscription."),
    secretHolder,
    el("section", { class: "webhooks-section", "aria-labelledby": "webhooks-list-title" },
      el("h2", { id: "webhooks-list-title" }, "Subscriptions"), count,
      el("div", { class: "table-holder" }, table), listMessage),
    el("section", { class: "webhooks-section", "aria-labelledby": "webhook-form-title" }, form)));

  // A page left for another site may come back from the back/forward cache: the secret must not.
  const onPageHide = () => dropSecret();
  window.addEventListener("pagehide", onPageHide);
  load();
  return () => {
    state.alive = false;
    state.generation += 1;
    dropSecret();
    window.removeEventListener("pagehide", onPageHide);
  };
}
