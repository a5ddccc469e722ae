"""Raises an Oversight intervention for a Step Functions task that waits for it.

The state machine (examples/approval-state-machine.asl.json) invokes this
function with `.waitForTaskToken`: the event is the intervention's fields
plus `task_token` (from `$$.Task.Token`). The function creates the
intervention and returns its id; the task then waits until Oversight calls
SendTaskSuccess (approved) or SendTaskFailure (`Oversight.Rejected`,
`Oversight.Expired`, `Oversight.Cancelled`) with that token.

The Idempotency-Key is derived from the task token, so the same invocation
retried (the same token) finds the intervention it created instead of
creating a second one.

Environment:
    OVERSIGHT_URL            the API, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com
    OVERSIGHT_TOKEN_URL      the user pool's token endpoint, https://<domain>/oauth2/token
    OVERSIGHT_CLIENT_ID      an app client allowed the client-credentials grant
    OVERSIGHT_CLIENT_SECRET  its secret
    OVERSIGHT_TOKEN          instead of the four above' grant, a token to send as is (local use: `make token`)

Python's standard library only: nothing to package beside this file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

SCOPE = "oversight/requester"
TIMEOUT_SECONDS = 10
# Answers worth another try, with the same Idempotency-Key: 503 (busy; Retry-After says when) and 409
# `conflict` (the first try with this key is still in flight). Everything else is final.
RETRY_DELAYS = (1, 2, 4)
# A token is reused until this close to its expiry (warm invocations share it).
EXPIRY_MARGIN_SECONDS = 60

_cached_token: tuple[str, float] | None = None


class OversightRequestFailed(Exception):
    """Oversight (or its token endpoint) refused; the Step Functions error name is this class's."""

    def __init__(self, status: int, code: str, message: str, details: list | None = None) -> None:
        self.status, self.code, self.message, self.details = status, code, message, details or []
        fields = "; ".join(_detail(entry) for entry in self.details)
        super().__init__(f"{status} {code}: {message}" + (f" ({fields})" if fields else ""))


def handler(event: dict[str, Any], context: Any = None) -> dict[str, str]:
    """POST /interventions with the event's fields; returns {"id": the intervention's id}."""
    task_token = event.get("task_token")
    if not isinstance(task_token, str) or not task_token:
        raise ValueError('the event has no "task_token": pass "task_token.$": "$$.Task.Token"')
    url = os.environ["OVERSIGHT_URL"].rstrip("/") + "/interventions"
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {bearer_token()}",
        "Idempotency-Key": idempotency_key(task_token),
    }
    created = _send(url, json.dumps(event).encode(), headers)
    return {"id": created["id"]}


def idempotency_key(task_token: str) -> str:
    """The same for every retry with this token, and shorter than the API's 128 characters (a token is not)."""
    return "sfn-" + hashlib.sha256(task_token.encode()).hexdigest()


def bearer_token(now: float | None = None) -> str:
    """OVERSIGHT_TOKEN as is, else an access token of the client-credentials grant, cached until near its expiry."""
    global _cached_token
    if direct := os.environ.get("OVERSIGHT_TOKEN"):
        return direct
    now = time.time() if now is None else now
    if _cached_token and _cached_token[1] - EXPIRY_MARGIN_SECONDS > now:
        return _cached_token[0]
    client = f"{os.environ['OVERSIGHT_CLIENT_ID']}:{os.environ['OVERSIGHT_CLIENT_SECRET']}"
    answer = _send(
        os.environ["OVERSIGHT_TOKEN_URL"],
        urllib.parse.urlencode({"grant_type": "client_credentials", "scope": SCOPE}).encode(),
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "Basic " + base64.b64encode(client.encode()).decode(),
        },
    )
    _cached_token = (answer["access_token"], now + float(answer.get("expires_in", 3600)))
    return _cached_token[0]


def _send(url: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """POST, retrying what is worth it; the answer's JSON, or OversightRequestFailed."""
    for delay in (*RETRY_DELAYS, None):
        # S310: the URL is the configured endpoint, never the event's.
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            failure = _failure(error)
            retry_after = error.headers.get("Retry-After", "")
            retryable = error.code == 503 or (error.code == 409 and failure.code == "conflict")
        except (urllib.error.URLError, TimeoutError) as error:
            failure = OversightRequestFailed(0, "unreachable", f"{url}: {getattr(error, 'reason', error)}")
            retry_after, retryable = "", True
        if not retryable or delay is None:
            raise failure
        time.sleep(max(delay, int(retry_after)) if retry_after.isdigit() else delay)
    raise AssertionError("the last attempt raises or returns")


def _failure(error: urllib.error.HTTPError) -> OversightRequestFailed:
    """The API's error body `{"code", "message", "details"?}` (or OAuth's `{"error"}`) as an exception."""
    raw = error.read()
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return OversightRequestFailed(error.code, "http_error", raw.decode(errors="replace")[:500] or str(error.reason))
    code = str(body.get("code") or body.get("error") or "http_error")
    message = str(body.get("message") or body.get("error_description") or error.reason)
    details = body.get("details")
    return OversightRequestFailed(error.code, code, message, details if isinstance(details, list) else None)


def _detail(entry: Any) -> str:
    """`context.size: ...` from a 422's `{"loc": [...], "msg": ...}`."""
    if not isinstance(entry, dict):
        return str(entry)
    location = ".".join(str(part) for part in entry.get("loc", []) if part != "body")
    return f"{location}: {entry.get('msg', '')}" if location else str(entry.get("msg", entry))
