"""Tool `http_post`: POST a JSON body to an allow-listed host.

The allow-list is the environment variable HTTP_POST_ALLOWED_HOSTS:
comma-separated `host` (the scheme's default port only) or `host:port`
entries; empty allows nothing. It is checked when the job is submitted (a
validation error on `url`) and again right before sending, since the
setting may have changed in between, with the addresses the host resolves
to then (oversight.outbound: a private, loopback or link-local address only
if it is itself allow-listed). Redirects are reported, not followed:
following one could leave the allow-list.

Header values that look like credentials are redacted wherever the job is
shown (`redacted_parameters`); only the run sends them. A cancelled job stops
waiting for the host at once (the host may still have received the request)."""

from __future__ import annotations

import codecs
import contextlib
import http.client
import json
import re
import socket
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import ConfigDict, Field, HttpUrl, JsonValue, field_validator

from oversight import outbound
from oversight.models.common import Model
from oversight.outbound import HostRefused
from oversight.tools.registry import JobCancelled, RunContext, ToolError, tool

ALLOWED_HOSTS_VARIABLE = "HTTP_POST_ALLOWED_HOSTS"
BODY_CAP_BYTES = 64 * 1024
MAX_HEADERS = 20
# Set by the request itself; letting a caller set them could aim the request
# at another virtual host or desynchronise the body framing.
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$")  # an RFC 9110 token
_HEADER_VALUE_MAX = 8192
# What HTTP can carry in a field value (RFC 9110: visible characters, space,
# tab, obs-text): latin-1 text without control characters.
_HEADER_VALUE = re.compile(r"^[\t\x20-\x7e\x80-\xff]*$")
# Header values readers of a job never see: credentials by name or by a part
# of their name (X-Api-Key, X-Auth-Token, X-Hub-Signature, ...).
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
_SECRET_NAME_PARTS = ("token", "key", "secret", "password", "auth", "session", "signature", "credential")
REDACTED = "[redacted]"
# How often the tool asks whether the job was cancelled while the host is
# slow to answer (the worker's context decides how often that reads the store).
_CANCEL_POLL_SECONDS = 0.05


def allowed_hosts() -> set[tuple[str, int | None]]:
    """(host, port) pairs of the allow-list (oversight.outbound): read on
    every call, so the check at run time sees the setting in force then."""
    try:
        return outbound.allowed_hosts(ALLOWED_HOSTS_VARIABLE)
    except HostRefused as error:
        raise ToolError(str(error)) from None


def refusal(url: str) -> str | None:
    """Why `url` may not be posted to, or None when its host is allowed."""
    try:
        return outbound.refusal(url, ALLOWED_HOSTS_VARIABLE)
    except HostRefused as error:
        raise ToolError(str(error)) from None


_netloc = outbound.netloc


def is_secret_header(name: str) -> bool:
    lowered = name.lower()
    return lowered in _SECRET_HEADERS or any(part in lowered for part in _SECRET_NAME_PARTS)


def redacted_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """The stored parameters as readers of the job see them: the value of
    every header named like a credential replaced by REDACTED."""
    headers = parameters.get("headers")
    if not isinstance(headers, dict) or not any(is_secret_header(name) for name in headers):
        return parameters
    shown = {name: REDACTED if is_secret_header(name) else value for name, value in headers.items()}
    return {**parameters, "headers": shown}


class HttpPostParameters(Model):
    # `json` would shadow BaseModel.json: the field is `payload`, spelled
    # `json` in the parameters, the schema and the dumped parameters.
    model_config = ConfigDict(extra="forbid", serialize_by_alias=True)

    url: HttpUrl = Field(description=f"http(s) URL whose host is allowed by {ALLOWED_HOSTS_VARIABLE}")
    payload: JsonValue = Field(alias="json", description="The request body, any JSON")
    headers: dict[str, str] = Field(
        default_factory=dict,
        max_length=MAX_HEADERS,
        description="Extra request headers (not Host, Content-Length, Transfer-Encoding, Connection)",
    )
    timeout_seconds: int = Field(10, ge=1, le=30, description="Connect and read timeout")

    @field_validator("url")
    @classmethod
    def _host_allowed(cls, value: HttpUrl) -> HttpUrl:
        # The URL is shown to every reader of the job: no credentials in it.
        if value.username is not None or value.password is not None:
            raise ValueError("the URL must not carry a user name or password; send credentials in a header")
        try:
            reason = refusal(str(value))
        except ToolError as error:  # a malformed setting refuses everything
            raise ValueError(str(error)) from None
        if reason:
            raise ValueError(reason)
        return value

    @field_validator("headers")
    @classmethod
    def _headers_safe(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not a valid header name")
            if name.lower() in _RESERVED_HEADERS:
                raise ValueError(f"the {name} header is set by the request itself")
            if len(text) > _HEADER_VALUE_MAX or any(c in text for c in "\r\n\0"):
                raise ValueError(f"the value of {name} must be one line of at most {_HEADER_VALUE_MAX} characters")
            # Refused now rather than failing every attempt of the run.
            if not _HEADER_VALUE.fullmatch(text):
                raise ValueError(f"the value of {name} cannot be sent: only latin-1 text without control characters")
        seen: set[str] = set()
        for name in value:
            if name.lower() in seen:
                raise ValueError(f"the {name} header is given twice (names are case-insensitive)")
            seen.add(name.lower())
        return value


def _read_capped(response: Any) -> tuple[str, bool]:
    """At most BODY_CAP_BYTES of the body, decoded; True when there was more."""
    raw = response.read(BODY_CAP_BYTES + 1)
    charset = response.headers.get_content_charset() or "utf-8"
    try:
        decoder = codecs.getincrementaldecoder(charset)(errors="replace")
    except LookupError:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    # Not final: a character cut in two by the cap is dropped, not garbled.
    return decoder.decode(raw[:BODY_CAP_BYTES]), len(raw) > BODY_CAP_BYTES


def _failure(where: str, error: BaseException, timeout_seconds: int) -> ToolError:
    if isinstance(error, TimeoutError):
        return ToolError(f"POST to {where} timed out after {timeout_seconds} s")
    if isinstance(error, (OSError, http.client.HTTPException)):
        return ToolError(f"POST to {where} failed: {error}")
    # Anything else (an encoding error) may quote a header value: not echoed.
    return ToolError(f"POST to {where} failed: the request could not be sent ({type(error).__name__})")


class _Exchange:
    """One POST on a thread of its own, so the tool can stop waiting for a
    slow host when the job is cancelled. http.client, not urllib: it follows
    no redirect and uses no proxy by itself, and its socket can be shut from
    the waiting thread."""

    def __init__(self, url: str, body: bytes, headers: dict[str, str], timeout_seconds: int) -> None:
        parts = urlsplit(url)
        connection = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self._connection = connection(parts.hostname or "", parts.port, timeout=timeout_seconds)
        self._target = urlunsplit(("", "", parts.path or "/", parts.query, ""))
        self._body, self._headers = body, headers
        self.done = threading.Event()
        self._abandoned = threading.Event()
        self.answer: tuple[int, str, bool] | None = None
        self.error: BaseException | None = None
        threading.Thread(target=self._run, name="http_post", daemon=True).start()

    def _run(self) -> None:
        try:
            self._connection.connect()
            if self._abandoned.is_set():  # cancelled while connecting: send nothing
                return
            self._connection.request("POST", self._target, body=self._body, headers=self._headers)
            with self._connection.getresponse() as response:  # any status is an answer
                self.answer = (response.status, *_read_capped(response))
        except Exception as error:  # reported by the waiting thread
            self.error = error
        finally:
            self._connection.close()
            self.done.set()

    def abandon(self) -> None:
        """Stop the exchange: a blocked send or read fails at once, and a
        connection still being made sends nothing once it is made."""
        self._abandoned.set()
        sock = self._connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)


@tool(
    name="http_post",
    description=f"POST a JSON body to a URL whose host is allowed by {ALLOWED_HOSTS_VARIABLE}. "
    "Redirects are not followed. Result: the status and the response body (at most 64 KiB).",
    parameters=HttpPostParameters,
    timeout_seconds=60,
    cacheable=False,
    redact=redacted_parameters,
    reaches_outside=True,
)
def http_post(params: HttpPostParameters, ctx: RunContext) -> dict[str, Any]:
    url = str(params.url)
    where = _netloc(urlsplit(url))
    try:  # the allow-list, then the addresses the host resolves to now (oversight.outbound)
        outbound.checked(url, ALLOWED_HOSTS_VARIABLE)
    except HostRefused as refused:
        raise ToolError(f"{refused}; no request sent") from None
    if ctx.cancelled():
        raise JobCancelled(f"POST to {where} cancelled; no request sent")

    body = json.dumps(params.payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = dict(params.headers)
    if not any(name.lower() == "content-type" for name in headers):  # a caller's Content-Type wins
        headers["Content-Type"] = "application/json"
    exchange = _Exchange(url, body, headers, params.timeout_seconds)
    while not exchange.done.wait(_CANCEL_POLL_SECONDS):
        if ctx.cancelled():
            exchange.abandon()
            ctx.log("WARNING", f"POST to {where} abandoned on cancellation; the host may have received it")
            raise JobCancelled(f"POST to {where} cancelled while waiting for the answer")
    if exchange.answer is None:
        error = exchange.error or RuntimeError("no answer")
        raise _failure(where, error, params.timeout_seconds) from error
    status, text, truncated = exchange.answer
    ctx.log("INFO", f"POST to {where} answered {status}")
    return {"status": status, "body": text, "truncated": truncated}
