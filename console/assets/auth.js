// Signing in and out. The token lives in this tab's sessionStorage only (never in a URL, never in localStorage, so it
// dies with the tab); the three ways to get one follow /console/config.json: the local runtime's form
// (POST /_local/token), Cognito's hosted UI, or another OpenID Connect provider found through its discovery document.
// Both hosted flows are the authorization code flow with PKCE (S256) and a checked `state`; the ID token is the bearer
// because it carries the user's groups and tenant (`cognito:groups`, `custom:tenant`), which the API reads.

import { ApiError } from "./api.js";
import { el } from "./dom.js";

const TOKEN_KEY = "oversight.token";
const PENDING_KEY = "oversight.signin";
const REASON_KEY = "oversight.signout_reason";
const LAST_LOCAL_KEY = "oversight.local_signin";
const DEFAULT_SCOPES = ["openid", "email", "profile"];

function base64UrlDecode(text) {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "=");
  const bytes = Uint8Array.from(atob(padded), (char) => char.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

function base64UrlEncode(bytes) {
  let text = "";
  for (const byte of bytes) {
    text += String.fromCharCode(byte);
  }
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomText(size = 32) {
  return base64UrlEncode(crypto.getRandomValues(new Uint8Array(size)));
}

async function s256(text) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return base64UrlEncode(new Uint8Array(digest));
}

/** The claims of a JWT (not verified: the API verifies it; the console only reads who it is for and when it ends). */
export function decodeClaims(token) {
  const parts = String(token || "").split(".");
  if (parts.length < 2) {
    throw new Error("not a JWT");
  }
  const claims = JSON.parse(base64UrlDecode(parts[1]));
  if (!claims || typeof claims !== "object") {
    throw new Error("not a JWT");
  }
  return claims;
}

/** Roles as the API reads them (auth.py): cognito:groups (a list, a JSON list or "[a b]") plus `oversight/<role>` scopes. */
export function rolesFromClaims(claims) {
  const roles = [];
  const groups = claims["cognito:groups"];
  if (Array.isArray(groups)) {
    roles.push(...groups.map(String));
  } else if (typeof groups === "string") {
    let text = groups.trim();
    let parsed = null;
    if (text.startsWith("[") && text.endsWith("]")) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
      if (!Array.isArray(parsed)) {
        text = text.slice(1, -1);
      }
    }
    roles.push(...(Array.isArray(parsed) ? parsed.map(String) : text.split(/\s+/).filter(Boolean)));
  }
  const scopes = Array.isArray(claims.scope) ? claims.scope : String(claims.scope || "").split(/\s+/);
  for (const scope of scopes) {
    if (scope.startsWith("oversight/") && scope.length > "oversight/".length) {
      roles.push(scope.slice("oversight/".length));
    }
  }
  return [...new Set(roles)];
}

/** ctx.user of a token: {sub, roles, tenant, expiresAt (ms since the epoch, or null)}. */
export function userFromToken(token) {
  const claims = decodeClaims(token);
  return {
    sub: String(claims.sub || ""),
    roles: rolesFromClaims(claims),
    tenant: String(claims["custom:tenant"] || claims.tenant || ""),
    expiresAt: Number.isFinite(Number(claims.exp)) && claims.exp !== null ? Number(claims.exp) * 1000 : null,
  };
}

export function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

/** Forgets the token; `reason` is shown on the sign-in page that follows (e.g. why the session ended). */
export function forgetToken(reason) {
  sessionStorage.removeItem(TOKEN_KEY);
  if (reason) {
    sessionStorage.setItem(REASON_KEY, reason);
  }
}

function takeSignOutReason() {
  const reason = sessionStorage.getItem(REASON_KEY);
  sessionStorage.removeItem(REASON_KEY);
  return reason;
}

/** The console's own address, without query or hash: the redirect URI registered with the identity provider. */
export function consoleUrl() {
  const path = location.pathname.endsWith("/") ? location.pathname : location.pathname.replace(/[^/]*$/, "");
  return location.origin + path;
}

async function discover(config) {
  if (config.sign_in === "cognito") {
    const domain = String(config.cognito.domain || "").replace(/\/+$/, "");
    return {
      authorization_endpoint: `${domain}/oauth2/authorize`,
      token_endpoint: `${domain}/oauth2/token`,
      logout: (clientId) => `${domain}/logout?${new URLSearchParams({ client_id: clientId, logout_uri: consoleUrl() })}`,
      client_id: config.cognito.client_id,
      scopes: config.cognito.scopes && config.cognito.scopes.length ? config.cognito.scopes : DEFAULT_SCOPES,
    };
  }
  const issuer = String(config.oidc.issuer || "").replace(/\/+$/, "");
  const response = await fetch(`${issuer}/.well-known/openid-configuration`, { credentials: "omit" });
  if (!response.ok) {
    throw new Error(`The identity provider's discovery document answered ${response.status}`);
  }
  const document_ = await response.json();
  return {
    authorization_endpoint: document_.authorization_endpoint,
    token_endpoint: document_.token_endpoint,
    logout: document_.end_session_endpoint
      ? (clientId, idToken) => `${document_.end_session_endpoint}?${new URLSearchParams({
        client_id: clientId, post_logout_redirect_uri: consoleUrl(), ...(idToken ? { id_token_hint: idToken } : {}),
      })}`
      : null,
    client_id: config.oidc.client_id,
    scopes: config.oidc.scopes && config.oidc.scopes.length ? config.oidc.scopes : DEFAULT_SCOPES,
  };
}

/** Sends the browser to the provider's sign-in page with a fresh PKCE verifier, state and nonce kept in this tab. */
async function startHostedSignIn(config, returnHash) {
  const provider = await discover(config);
  const verifier = randomText(48);
  const state = randomText(24);
  const nonce = randomText(24);
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state, nonce, returnHash }));
  const query = new URLSearchParams({
    response_type: "code",
    client_id: provider.client_id,
    redirect_uri: consoleUrl(),
    scope: provider.scopes.join(" "),
    state,
    nonce,
    code_challenge: await s256(verifier),
    code_challenge_method: "S256",
  });
  location.assign(`${provider.authorization_endpoint}?${query}`);
}

/**
 * Finishes a hosted sign-in when the provider sent the browser back with ?code&state: checks the state, exchanges the
 * code (with the PKCE verifier) for tokens and keeps the ID token. The code and state leave the address bar either
 * way. Returns {token, returnHash} or null when this page load is not such a return; throws with a reason otherwise.
 */
export async function completeHostedSignIn(config) {
  const params = new URLSearchParams(location.search);
  if (!params.has("code") && !params.has("error")) {
    return null;
  }
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) || "null");
  sessionStorage.removeItem(PENDING_KEY);
  history.replaceState(null, "", consoleUrl() + ((pending && pending.returnHash) || location.hash || ""));
  if (params.has("error")) {
    throw new Error(`The identity provider refused the sign-in: ${params.get("error_description") || params.get("error")}`);
  }
  if (!pending || params.get("state") !== pending.state) {
    throw new Error("The sign-in answer did not match a sign-in started in this tab (state mismatch). Sign in again.");
  }
  const provider = await discover(config);
  const response = await fetch(provider.token_endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    credentials: "omit",
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: provider.client_id,
      code: params.get("code"),
      redirect_uri: consoleUrl(),
      code_verifier: pending.verifier,
    }),
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok || !body.id_token) {
    throw new Error(`The token exchange failed: ${body.error_description || body.error || response.status}`);
  }
  const claims = decodeClaims(body.id_token);
  if (claims.nonce !== undefined && claims.nonce !== pending.nonce) {
    throw new Error("The ID token was not issued for this sign-in (nonce mismatch). Sign in again.");
  }
  return { token: body.id_token, returnHash: pending.returnHash || "" };
}

/** Where "Sign out" sends the browser after forgetting the token: the provider's logout page, or back to sign-in. */
export async function signOutUrl(config, token) {
  if (config.sign_in === "cognito" || config.sign_in === "oidc") {
    try {
      const provider = await discover(config);
      if (provider.logout) {
        return provider.logout(provider.client_id, token);
      }
    } catch {
      // The provider is unreachable: forgetting the token in this tab is still a sign-out.
    }
  }
  return null;
}

function rememberLocal(values) {
  try {
    localStorage.setItem(LAST_LOCAL_KEY, JSON.stringify({ user: values.user, roles: values.roles, tenant: values.tenant }));
  } catch {
    // Storage may be disabled; remembering the last user is only a convenience.
  }
}

function lastLocal() {
  try {
    return JSON.parse(localStorage.getItem(LAST_LOCAL_KEY) || "null") || {};
  } catch {
    return {};
  }
}

function field(id, label, attributes, hint) {
  return el("div", { class: "field" },
    el("label", { for: id }, label),
    el("input", { id, name: id.replace("signin-", ""), type: "text", required: true, ...attributes }),
    hint ? el("p", { class: "hint", id: `${id}-hint` }, hint) : null);
}

/** The local runtime's sign-in form: POST /_local/token {user, roles, tenant} → {token}; a 422 names the bad field. */
function localForm(onToken) {
  const last = lastLocal();
  const error = el("p", { class: "form-error", role: "alert", hidden: true });
  const submit = el("button", { type: "submit", class: "primary" }, "Sign in");
  const form = el("form", { class: "signin-form", novalidate: true },
    field("signin-user", "User", { autocomplete: "username", value: last.user || "", "aria-describedby": "signin-user-hint" },
      "Any name, e.g. alice."),
    field("signin-roles", "Roles", { value: last.roles || "operator", "aria-describedby": "signin-roles-hint" },
      "Comma-separated: admin, operator, requester, viewer, or any other role a request may require."),
    field("signin-tenant", "Tenant", { value: last.tenant || "acme", "aria-describedby": "signin-tenant-hint" },
      "Letters, digits, '.', '_' or '-'."),
    error,
    submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = {
      user: form.querySelector("#signin-user").value.trim(),
      roles: form.querySelector("#signin-roles").value,
      tenant: form.querySelector("#signin-tenant").value.trim(),
    };
    error.hidden = true;
    submit.disabled = true;
    try {
      const response = await fetch("/_local/token", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(values),
        credentials: "same-origin",
      });
      const body = await response.json().catch(() => null);
      if (!response.ok || !body || !body.token) {
        // The details name the field and say what to type (e.g. "User is empty: name the user"): they are the message.
        const detail = body && Array.isArray(body.details)
          ? body.details.map((item) => (item && (item.msg || item.message)) || "").filter(Boolean).join("; ") : "";
        throw new ApiError(response.status, body && body.code, detail || (body && body.message)
          || `Sign-in failed (${response.status})`);
      }
      rememberLocal(values);
      onToken(body.token);
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
      submit.disabled = false;
    }
  });
  return form;
}

/**
 * Draws the sign-in page into `root`. `reason` (why the previous session ended) is shown above it; onToken(token) is
 * called with a new token from the local form (the hosted flows leave the page and come back through
 * completeHostedSignIn).
 */
export function renderSignIn(root, config, onToken, reason) {
  const shown = reason || takeSignOutReason();
  const mode = config.sign_in || "local";
  const intro = mode === "local"
    ? "Local runtime: choose who you are. The token is made by this machine's runtime and kept only in this tab."
    : `Sign in with ${mode === "cognito" ? "your organisation's account (Amazon Cognito)" : "your identity provider"}.`;
  const children = [
    el("h1", {}, "Sign in to Oversight"),
    shown ? el("p", { class: "notice notice-info", role: "status" }, shown) : null,
    el("p", {}, intro),
  ];
  if (mode === "local") {
    children.push(localForm(onToken));
  } else {
    const error = el("p", { class: "form-error", role: "alert", hidden: true });
    const button = el("button", { type: "button", class: "primary" }, "Sign in");
    button.addEventListener("click", async () => {
      button.disabled = true;
      error.hidden = true;
      try {
        await startHostedSignIn(config, location.hash);
      } catch (failure) {
        error.textContent = `Sign-in could not start: ${failure.message}`;
        error.hidden = false;
        button.disabled = false;
      }
    });
    children.push(button, error);
  }
  root.append(el("section", { class: "signin", "aria-labelledby": "signin-title" }, ...children));
  root.querySelector("h1").id = "signin-title";
  const first = root.querySelector("input, button");
  if (first) {
    first.focus();
  }
}
