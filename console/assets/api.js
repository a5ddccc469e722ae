// The one module that calls fetch: it adds the bearer token, maps the API's error bodies to ApiError and retries a
// 503 (honouring Retry-After) so that views never build requests, parse errors or handle transient faults themselves.

const MAX_RETRIES = 3;
const DEFAULT_RETRY_SECONDS = 1;
const MAX_RETRY_SECONDS = 10;

/** An error answered by the API: `status` is the HTTP status, `code`/`message`/`details` the API's error body. */
export class ApiError extends Error {
  constructor(status, code, message, details = []) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = Array.isArray(details) ? details : [];
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Seconds to wait before a retry: the Retry-After header when it is a number of seconds, else a short default. */
function retryDelaySeconds(response) {
  const header = response.headers.get("Retry-After");
  const seconds = header === null ? NaN : Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) {
    return Math.min(seconds, MAX_RETRY_SECONDS);
  }
  return DEFAULT_RETRY_SECONDS;
}

/** Appends the query's defined, non-empty values to the path (arrays become repeated parameters). */
function withQuery(path, query) {
  if (!query) {
    return path;
  }
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") {
      continue;
    }
    if (Array.isArray(value)) {
      value.forEach((item) => params.append(name, String(item)));
    } else {
      params.append(name, String(value));
    }
  }
  const text = params.toString();
  if (!text) {
    return path;
  }
  return path + (path.includes("?") ? "&" : "?") + text;
}

async function parseBody(response) {
  const text = await response.text();
  if (!text) {
    return null;
  }
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The ApiError for a response that is not 2xx, keeping the API's own code and message when the body has them. */
async function errorFrom(response) {
  const body = await parseBody(response).catch(() => null);
  if (body && typeof body === "object" && typeof body.message === "string") {
    return new ApiError(response.status, body.code || "error", body.message, body.details);
  }
  const text = typeof body === "string" && body.trim() ? body.trim().slice(0, 200) : response.statusText;
  return new ApiError(response.status, "http_" + response.status, text || "HTTP " + response.status);
}

/**
 * Creates the API client of the console.
 * getToken() returns the current bearer token (or null); onExpired(reason) is called on a 401 so that the shell can go
 * back to sign-in; onRetry(message) is called before each 503 retry so that the page shows a visible notice.
 */
export function createApi(getToken, onExpired, onRetry) {
  async function send(path, init = {}) {
    const headers = new Headers(init.headers || {});
    const token = getToken ? getToken() : null;
    if (token && !headers.has("Authorization")) {
      headers.set("Authorization", "Bearer " + token);
    }
    if (!headers.has("Accept")) {
      headers.set("Accept", "application/json");
    }
    const request = { ...init, headers, credentials: "same-origin", cache: "no-store" };
    for (let attempt = 0; ; attempt += 1) {
      let response;
      try {
        response = await fetch(path, request);
      } catch (cause) {
        // A network failure (server down, connection reset) reads like the API's own errors to the views.
        throw new ApiError(0, "network_error", "The API cannot be reached (" + (cause && cause.message) + "). Check the connection and try again.");
      }
      if (response.status === 503 && attempt < MAX_RETRIES) {
        const seconds = retryDelaySeconds(response);
        if (onRetry) {
          onRetry(`The service is busy (503); retrying in ${seconds} s (attempt ${attempt + 1} of ${MAX_RETRIES}).`);
        }
        await sleep(seconds * 1000);
        continue;
      }
      if (response.status === 401) {
        const error = await errorFrom(response);
        if (onExpired) {
          onExpired(error.message || "Your session has ended. Sign in again.");
        }
        throw error;
      }
      return response;
    }
  }

  async function json(path, init) {
    const response = await send(path, init);
    if (!response.ok && response.status !== 304) {
      throw await errorFrom(response);
    }
    if (response.status === 204 || response.status === 304) {
      return null;
    }
    return parseBody(response);
  }

  return {
    /** GET path (with the query's non-empty values) → parsed JSON. */
    get(path, query) {
      return json(withQuery(path, query), { method: "GET" });
    },
    /** POST a JSON body (none when undefined) → parsed JSON, or null for an empty body. */
    post(path, body, headers) {
      const init = { method: "POST", headers: { ...(headers || {}) } };
      if (body !== undefined) {
        init.body = JSON.stringify(body);
        init.headers["Content-Type"] = "application/json";
      }
      return json(path, init);
    },
    /** DELETE path → parsed JSON, or null for a 204 without a body. */
    delete(path, headers) {
      return json(path, { method: "DELETE", headers: { ...(headers || {}) } });
    },
    /** The raw Response (token, 401 and 503 handling included) for callers that need headers or a non-JSON body. */
    raw(path, init) {
      return send(path, init || {});
    },
  };
}
