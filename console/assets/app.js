// The console's shell: reads /console/config.json, restores or obtains the token, keeps the header (navigation, who is
// signed in, notifications, Sign out), shows notices and routes by location.hash to the views. A view is a module
// exporting render(root, ctx, params) that may return (or resolve to) a cleanup function, called when leaving it.
//
// ctx = {api, user: {sub, roles, tenant, expiresAt (ms)}, navigate(hash), notice(message, kind), config, live}

import { createApi } from "./api.js";
import {
  completeHostedSignIn, forgetToken, renderSignIn, signOutUrl, storeToken, storedToken, userFromToken,
} from "./auth.js";
import { clear, el } from "./dom.js";
import { installKeyboard, resetKeyboard, showKeys } from "./keyboard.js";
import { webhookPermission } from "./permissions.js";
import { notificationsOn, notificationsSupported, setNotifications, startLive, titleWithCount } from "./live.js";

const ROUTES = [
  { pattern: /^\/inbox$/, module: "./inbox.js", nav: "inbox" },
  { pattern: /^\/requests\/([^/?]+)$/, module: "./detail.js", nav: "inbox", id: true },
  { pattern: /^\/dashboard$/, module: "./dashboard.js", nav: "dashboard" },
  { pattern: /^\/jobs$/, module: "./jobs.js", nav: "jobs" },
  { pattern: /^\/jobs\/([^/?]+)$/, module: "./jobs.js", nav: "jobs", id: true },
  { pattern: /^\/run$/, module: "./run.js", nav: "run" },
  { pattern: /^\/webhooks$/, module: "./webhooks.js", nav: "webhooks" },
];
const DEFAULT_HASH = "#/inbox";
// setTimeout's longest delay; a token living longer is checked again when that timer fires.
const MAX_TIMER_MS = 2 ** 31 - 1;
const NOTICE_MS = { info: 5000, retry: 8000 };

const main = document.getElementById("view");
const nav = document.getElementById("nav");
const session = document.getElementById("session");
const whoami = document.getElementById("whoami");
const notices = document.getElementById("notices");
const notifyButton = document.getElementById("notify");
const signOutButton = document.getElementById("signout");
const keysButton = document.getElementById("keys");

let config = { sign_in: "local", api: "" };
let ctx = null;
let cleanup = null;
let renderSerial = 0;
let expiryTimer = null;
let openCount = 0;

/** Shows a message in the notice area: info and retry notices fade, errors stay until dismissed. */
function notice(message, kind = "info") {
  const dismiss = el("button", { type: "button", class: "notice-close", "aria-label": "Dismiss" }, "×");
  const item = el("div", { class: ["notice", `notice-${kind}`], role: kind === "error" ? "alert" : "status" },
    el("span", {}, String(message)), dismiss);
  dismiss.addEventListener("click", () => item.remove());
  if (kind === "retry") {
    // One retry notice at a time: the latest attempt replaces the previous one.
    notices.querySelectorAll(".notice-retry").forEach((old) => old.remove());
  }
  notices.append(item);
  if (NOTICE_MS[kind]) {
    setTimeout(() => item.remove(), NOTICE_MS[kind]);
  }
  return item;
}

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || DEFAULT_HASH.slice(1);
  const [path, search = ""] = raw.split("?");
  return { path, query: new URLSearchParams(search) };
}

function navigate(hash) {
  const target = hash.startsWith("#") ? hash : `#${hash}`;
  if (location.hash === target) {
    route();
  } else {
    location.hash = target;
  }
}

function markNav(section) {
  for (const link of nav.querySelectorAll("a[data-nav]")) {
    if (link.dataset.nav === section) {
      link.setAttribute("aria-current", "page");
    } else {
      link.removeAttribute("aria-current");
    }
  }
}

function runCleanup() {
  const done = cleanup;
  cleanup = null;
  if (typeof done === "function") {
    try {
      done();
    } catch (error) {
      console.warn("view cleanup failed", error);
    }
  }
}

async function route() {
  if (!ctx) {
    return;
  }
  const serial = ++renderSerial;
  runCleanup();
  const { path, query } = parseHash();
  const match = ROUTES.map((candidate) => ({ candidate, found: candidate.pattern.exec(path) }))
    .find(({ found }) => found);
  clear(main);
  if (!match) {
    markNav("");
    main.append(el("h1", {}, "Not found"), el("p", {}, "There is no such page. "),
      el("p", {}, el("a", { href: DEFAULT_HASH }, "Go to the inbox")));
    return;
  }
  const { candidate, found } = match;
  markNav(candidate.nav);
  main.append(el("p", { class: "loading", role: "status" }, "Loading…"));
  const params = { query };
  if (candidate.id) {
    params.id = decodeURIComponent(found[1]);
  }
  let view;
  try {
    view = await import(candidate.module);
  } catch (error) {
    if (serial === renderSerial) {
      clear(main);
      main.append(el("h1", {}, "This page could not load"), el("p", { class: "form-error" }, String(error.message || error)));
    }
    return;
  }
  if (serial !== renderSerial) {
    return;
  }
  clear(main);
  let result;
  try {
    result = view.render(main, ctx, params);
    if (result && typeof result.then === "function") {
      result = await result;
    }
  } catch (error) {
    if (serial === renderSerial) {
      main.append(el("p", { class: "form-error", role: "alert" }, `This page failed: ${error.message || error}`));
    }
    console.error(error);
    return;
  }
  if (serial !== renderSerial) {
    if (typeof result === "function") {
      result();
    }
    return;
  }
  cleanup = typeof result === "function" ? result : null;
}

function renderNotifyButton() {
  if (!notificationsSupported()) {
    notifyButton.hidden = true;
    return;
  }
  const on = notificationsOn();
  notifyButton.textContent = on ? "Notifications on" : "Notify me";
  notifyButton.setAttribute("aria-pressed", on ? "true" : "false");
  notifyButton.title = on ? "Browser notifications for new critical and high requests are on; click to turn them off"
    : "Get a browser notification for each new critical or high request";
}

/** Nav entries of pages a role opens (data-requires="webhooks"): shown only to who may use them. */
function showNavFor(user) {
  for (const item of nav.querySelectorAll("[data-requires]")) {
    item.hidden = item.dataset.requires === "webhooks" ? !webhookPermission(user).allowed : true;
  }
}

function showSignedIn(user) {
  showNavFor(user);
  nav.hidden = false;
  session.hidden = false;
  clear(whoami);
  whoami.append(el("span", { class: "who-user" }, user.sub),
    el("span", { class: "who-detail" }, ` · ${user.roles.join(", ") || "no role"} · ${user.tenant || "no tenant"}`));
  renderNotifyButton();
}

function showSignedOut() {
  nav.hidden = true;
  session.hidden = true;
  clear(whoami);
  document.title = "Sign in · Oversight";
}

function armExpiry(user) {
  clearTimeout(expiryTimer);
  if (!user.expiresAt) {
    return;
  }
  const wait = user.expiresAt - Date.now();
  if (wait > MAX_TIMER_MS) {
    expiryTimer = setTimeout(() => armExpiry(user), MAX_TIMER_MS);
    return;
  }
  expiryTimer = setTimeout(() => {
    endSession(`Your session expired at ${new Date(user.expiresAt).toLocaleTimeString()}. Sign in again to continue.`);
  }, Math.max(0, wait));
}

/** Ends the session in this tab and shows the sign-in page with `reason`. */
function endSession(reason) {
  if (!ctx) {
    return;
  }
  const ended = ctx;
  ctx = null;
  clearTimeout(expiryTimer);
  runCleanup();
  renderSerial += 1;
  ended.live.stop();
  resetKeyboard();
  forgetToken();
  notices.querySelectorAll(".notice").forEach((item) => item.remove());
  showSignedOut();
  clear(main);
  renderSignIn(main, config, startSession, reason);
}

function startSession(token) {
  let user;
  try {
    user = userFromToken(token);
  } catch {
    forgetToken();
    showSignedOut();
    clear(main);
    renderSignIn(main, config, startSession, "The stored sign-in could not be read. Sign in again.");
    return;
  }
  if (user.expiresAt !== null && user.expiresAt <= Date.now()) {
    forgetToken();
    showSignedOut();
    clear(main);
    renderSignIn(main, config, startSession, "Your session has expired. Sign in again to continue.");
    return;
  }
  storeToken(token);
  const getToken = () => storedToken();
  const onExpired = (message) => endSession(`Signed out: ${message}`);
  const api = createApi(getToken, onExpired, (message) => notice(message, "retry"));
  const quietApi = createApi(getToken, onExpired, null);
  const live = startLive(quietApi, {
    onOpenCount(count) {
      openCount = count;
      document.title = titleWithCount(openCount);
    },
    openRequest(id) {
      navigate(`#/requests/${encodeURIComponent(id)}`);
    },
  });
  ctx = { api, user, navigate, notice, config, live };
  document.title = titleWithCount(openCount);
  showSignedIn(user);
  armExpiry(user);
  if (!location.hash) {
    history.replaceState(null, "", DEFAULT_HASH);
  }
  route();
}

async function signOut() {
  const token = storedToken();
  endSession("You signed out.");
  const away = await signOutUrl(config, token);
  if (away) {
    location.assign(away);
  }
}

async function loadConfig() {
  const response = await fetch("config.json", { cache: "no-store", credentials: "same-origin" });
  if (!response.ok) {
    throw new Error(`config.json answered ${response.status}`);
  }
  return response.json();
}

async function boot() {
  installKeyboard();
  window.addEventListener("hashchange", route);
  signOutButton.addEventListener("click", signOut);
  keysButton.addEventListener("click", showKeys);
  notifyButton.addEventListener("click", async () => {
    const on = await setNotifications(!notificationsOn());
    if (ctx) {
      ctx.live.notificationsChanged();
    }
    renderNotifyButton();
    notice(on ? "Notifications on: new critical and high requests will be announced."
      : Notification.permission === "denied" ? "The browser blocks notifications for this site; allow them in its settings."
        : "Notifications off.", "info");
  });
  showSignedOut();
  try {
    config = { ...config, ...(await loadConfig()) };
  } catch (error) {
    clear(main);
    main.append(el("h1", {}, "The console cannot start"),
      el("p", { class: "form-error", role: "alert" }, `Its configuration could not be read: ${error.message}`));
    return;
  }
  let token = storedToken();
  try {
    const returned = await completeHostedSignIn(config);
    if (returned) {
      token = returned.token;
      if (returned.returnHash) {
        history.replaceState(null, "", returned.returnHash);
      }
    }
  } catch (error) {
    clear(main);
    renderSignIn(main, config, startSession, error.message);
    return;
  }
  if (token) {
    startSession(token);
  } else {
    clear(main);
    renderSignIn(main, config, startSession);
  }
}

boot();
