// One keydown listener for the whole console: views register the keys they answer (j/k, Enter, c, a, r, x), the shell
// answers `?` (the list of keys), `/` (the view's filter) and Esc. Keys are ignored while the user types in a field, and
// with Ctrl/Alt/Meta held (those belong to the browser), so typing a reason never triggers an action.

import { clear, el } from "./dom.js";

// The keys shown by `?`, in the order a triager meets them.
export const KEYS = Object.freeze([
  ["j / k", "Move to the next / previous request in the inbox"],
  ["Enter", "Open the request that has the focus"],
  ["x", "Select or unselect the request that has the focus (for Approve selected / Reject selected)"],
  ["c", "Claim the request (in the inbox: the one that has the focus)"],
  ["a", "Approve: focuses the Reason first when it is empty; Ctrl+Enter in the Reason then approves"],
  ["r", "Reject: focuses the Reason first when it is empty; Ctrl+Enter in the Reason then rejects"],
  ["/", "Focus the filter"],
  ["?", "Show this list of keys"],
  ["Esc", "Close this list; in a field, leave the field; on a request, go back to the inbox"],
]);

let viewKeys = {};
let dialog = null;

/** True when the event's target takes text (or is a select): keys then belong to it. */
export function isTyping(target) {
  if (!(target instanceof Element)) {
    return false;
  }
  if (target.isContentEditable) {
    return true;
  }
  const tag = target.tagName;
  if (tag === "TEXTAREA" || tag === "SELECT") {
    return true;
  }
  if (tag === "INPUT") {
    const type = (target.getAttribute("type") || "text").toLowerCase();
    return !["checkbox", "radio", "button", "submit", "reset", "range", "color", "file"].includes(type);
  }
  return false;
}

/** The current view's keys: {key: handler(event)}; returns a function that removes them (a view's cleanup). */
export function setViewKeys(keys) {
  viewKeys = keys || {};
  const mine = viewKeys;
  return () => {
    if (viewKeys === mine) {
      viewKeys = {};
    }
  };
}

function helpDialog() {
  if (dialog) {
    return dialog;
  }
  const closeButton = el("button", { type: "button", class: "secondary" }, "Close");
  dialog = el("dialog", { class: "keys-dialog", "aria-labelledby": "keys-title" },
    el("h2", { id: "keys-title" }, "Keyboard"),
    el("p", { class: "hint" }, "Keys work when the focus is not in a text field."),
    el("dl", { class: "keys-list" }, KEYS.map(([key, what]) => [el("dt", {}, el("kbd", {}, key)), el("dd", {}, what)])),
    el("div", { class: "dialog-actions" }, closeButton));
  closeButton.addEventListener("click", () => dialog.close());
  document.body.append(dialog);
  return dialog;
}

export function showKeys() {
  const box = helpDialog();
  if (!box.open) {
    box.showModal();
  }
}

function focusFilter() {
  const filter = document.querySelector("main [data-filter]");
  if (filter) {
    filter.focus();
    if (typeof filter.select === "function") {
      filter.select();
    }
    return true;
  }
  return false;
}

function onKeyDown(event) {
  if (event.defaultPrevented || event.isComposing) {
    return;
  }
  if (event.key === "Escape") {
    if (dialog && dialog.open) {
      return; // the dialog closes itself on Esc
    }
    if (isTyping(event.target)) {
      event.target.blur();
      event.preventDefault();
      return;
    }
  }
  if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) {
    return;
  }
  if (dialog && dialog.open) {
    return;
  }
  const handler = viewKeys[event.key];
  if (handler) {
    // Enter on a link or a button already does what it says: only rows and the page take Enter from here.
    if (event.key === "Enter" && event.target instanceof Element && event.target.closest("a, button, summary")) {
      return;
    }
    if (handler(event) !== false) {
      event.preventDefault();
    }
    return;
  }
  if (event.key === "?") {
    event.preventDefault();
    showKeys();
  } else if (event.key === "/") {
    if (focusFilter()) {
      event.preventDefault();
    }
  }
}

/** Installs the listener once, at boot. */
export function installKeyboard() {
  document.addEventListener("keydown", onKeyDown);
}

/** Removes the keys dialog's content (used when signing out). */
export function resetKeyboard() {
  viewKeys = {};
  if (dialog) {
    if (dialog.open) {
      dialog.close();
    }
    clear(dialog);
    dialog.remove();
    dialog = null;
  }
}
