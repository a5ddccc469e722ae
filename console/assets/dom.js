// A tiny helper over document.createElement: record text only ever becomes text nodes (never HTML), listeners are
// attached with addEventListener (the CSP forbids inline handlers) and nothing here reads or writes innerHTML.

// JSON trees open this many levels deep: a typical context reads at a glance, a deep one stays one click away.
const OPEN_LEVELS = 3;
// Set as properties rather than attributes so that they reflect the live state of form controls.
const PROPERTIES = new Set(["value", "checked", "disabled", "selected", "indeterminate", "hidden", "open", "multiple"]);

function appendChildren(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false || child === true) {
      continue;
    }
    if (Array.isArray(child)) {
      appendChildren(node, child);
    } else if (child instanceof Node) {
      node.appendChild(child);
    } else {
      node.appendChild(document.createTextNode(String(child)));
    }
  }
}

/**
 * el("button", {class: "primary", type: "button", onclick: handler, dataset: {id}}, "Approve") → an element.
 * Attributes: `class` (string or array), `dataset` (object), `on<event>` functions (addEventListener), the form
 * properties above (set as properties), `true` for a present boolean attribute, null/undefined/false to leave it out.
 * Children: strings and numbers become text nodes, nodes are appended, arrays are flattened, null/false skipped.
 */
export function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) {
      continue;
    }
    if (name === "class" || name === "className") {
      const names = Array.isArray(value) ? value.filter(Boolean).join(" ") : String(value);
      if (names) {
        node.className = names;
      }
    } else if (name === "dataset") {
      for (const [key, item] of Object.entries(value)) {
        if (item !== null && item !== undefined) {
          node.dataset[key] = String(item);
        }
      }
    } else if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (PROPERTIES.has(name)) {
      node[name] = value;
    } else {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  appendChildren(node, children);
  return node;
}

/** Removes every child of node (and returns it) without touching innerHTML. */
export function clear(node) {
  while (node.firstChild) {
    node.removeChild(node.firstChild);
  }
  return node;
}

/** A short human duration: "45 s", "12 min", "3 h 5 min", "2 d 4 h" (negative values read as their absolute value). */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) {
    return "—";
  }
  let rest = Math.round(Math.abs(Number(seconds)));
  if (rest < 60) {
    return `${rest} s`;
  }
  const days = Math.floor(rest / 86400);
  rest -= days * 86400;
  const hours = Math.floor(rest / 3600);
  rest -= hours * 3600;
  const minutes = Math.floor(rest / 60);
  if (days > 0) {
    return hours > 0 ? `${days} d ${hours} h` : `${days} d`;
  }
  if (hours > 0) {
    return minutes > 0 ? `${hours} h ${minutes} min` : `${hours} h`;
  }
  return `${minutes} min`;
}

/** How long ago an ISO 8601 time was: "5 min ago" ("in 5 min" for a time in the future, "—" when absent). */
export function formatAge(iso, now = Date.now()) {
  if (!iso) {
    return "—";
  }
  const at = Date.parse(iso);
  if (!Number.isFinite(at)) {
    return String(iso);
  }
  const seconds = (now - at) / 1000;
  if (Math.abs(seconds) < 5) {
    return "just now";
  }
  return seconds >= 0 ? `${formatDuration(seconds)} ago` : `in ${formatDuration(seconds)}`;
}

/** The exact time in the reader's locale, for a title or a <time> element beside a relative age. */
export function formatTime(iso) {
  if (!iso) {
    return "—";
  }
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? String(iso) : at.toLocaleString();
}

function scalarView(value) {
  if (value === null) {
    return el("span", { class: "json-null" }, "null");
  }
  if (typeof value === "string") {
    return el("span", { class: "json-string" }, JSON.stringify(value));
  }
  if (typeof value === "number") {
    return el("span", { class: "json-number" }, String(value));
  }
  if (typeof value === "boolean") {
    return el("span", { class: "json-boolean" }, String(value));
  }
  return el("span", {}, String(value));
}

function jsonNode(value, label, depth) {
  const isArray = Array.isArray(value);
  if (value === null || typeof value !== "object") {
    return el("div", { class: "json-row" }, label === null ? null : el("span", { class: "json-key" }, label + ": "),
      scalarView(value));
  }
  const entries = isArray ? value.map((item, index) => [String(index), item]) : Object.entries(value);
  const summary = isArray ? `[${entries.length} item${entries.length === 1 ? "" : "s"}]`
    : `{${entries.length} key${entries.length === 1 ? "" : "s"}}`;
  if (entries.length === 0) {
    return el("div", { class: "json-row" }, label === null ? null : el("span", { class: "json-key" }, label + ": "),
      el("span", { class: "json-empty" }, isArray ? "[]" : "{}"));
  }
  return el("details", { class: "json-node", open: depth < OPEN_LEVELS },
    el("summary", {}, label === null ? null : el("span", { class: "json-key" }, label + ": "),
      el("span", { class: "json-summary" }, summary)),
    el("div", { class: "json-children" }, entries.map(([key, item]) => jsonNode(item, key, depth + 1))));
}

/** A collapsible, readable JSON tree (<details> per object/array, open OPEN_LEVELS deep) built from text nodes only. */
export function jsonView(value) {
  return el("div", { class: "json-view" }, jsonNode(value, null, 0));
}
