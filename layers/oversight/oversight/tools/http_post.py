"""Tool `http_post`: POST a JSON body to an allow-listed host.

The allow-list is the environment variable HTTP_POST_ALLOWED_HOSTS:
comma-separated `host` (the scheme's default port only) or `host:port`
entries; empty allows nothing. It is checked when the job is submitted (a
validation error on `url`) and again right before sending, since the
setting may have changed in between. Redirects are reported, not followed:
following one could leave the allow-list."""

from __future__ import annotations

import codecs
import http.client
import json
import os
import re
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import SplitResult, urlsplit

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, JsonValue, field_validator

from oversight.tools.registry import RunContext, ToolError, tool

ALLOWED_HOSTS_VARIABLE = "HTTP_POST_ALLOWED_HOSTS"
BODY_CAP_BYTES = 64 * 1024
MAX_HEADERS = 20
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Set by the request itself; letting a caller set them could aim the request
# at another virtual host or desynchronise the body framing.
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$")  # an RFC 9110 token
_HEADER_VALUE_MAX = 8192


def allowed_hosts() -> set[tuple[str, int | None]]:
    """(host, port) pairs of the allow-list; port None means the scheme's
    default port. Read on every call, never cached: the check at run time
    must see the setting in force then."""
    entries = (entry.strip() for entry in os.environ.get(ALLOWED_HOSTS_VARIABLE, "").split(","))
    return {_host_and_port(entry) for entry in entries if entry}


def _host_and_port(entry: str) -> tuple[str, int | None]:
    malformed = ToolError(f"{ALLOWED_HOSTS_VARIABLE} entry {entry!r} is not `host` or `host:port`")
    parts = urlsplit(f"//{entry}")
    try:
        port = parts.port
    except ValueError as error:  # not a number, or out of range
        raise malformed from error
    if not parts.hostname or parts.path or parts.query or parts.fragment or parts.username is not None:
        raise malformed
    return parts.hostname, port


def refusal(url: str) -> str | None:
    """Why `url` may not be posted to, or None when its host is allowed."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or _DEFAULT_PORTS[parts.scheme]
    allowed = allowed_hosts()
    if (host, port) in allowed or (port == _DEFAULT_PORTS[parts.scheme] and (host, None) in allowed):
        return None
    return f"host {_netloc(parts)} is not in {ALLOWED_HOSTS_VARIABLE}"


def _netloc(parts: SplitResult) -> str:
    """host:port, without any user info (it may be a secret)."""
    return parts.netloc.rpartition("@")[2]


class HttpPostParameters(BaseModel):
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
        return value


class _ReportRedirects(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: the 3xx becomes the result."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


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


def _failure(where: str, error: Exception, timeout_seconds: int) -> ToolError:
    # urllib wraps connection errors (a connect timeout too) in URLError.
    cause = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(cause, TimeoutError):
        return ToolError(f"POST to {where} timed out after {timeout_seconds} s")
    return ToolError(f"POST to {where} failed: {cause}")


@tool(
    name="http_post",
    description=f"POST a JSON body to a URL whose host is allowed by {ALLOWED_HOSTS_VARIABLE}. "
    "Redirects are not followed. Result: the status and the response body (at most 64 KiB).",
    parameters=HttpPostParameters,
    timeout_seconds=60,
    cacheable=False,
)
def http_post(params: HttpPostParameters, ctx: RunContext) -> dict[str, Any]:
    url = str(params.url)
    where = _netloc(urlsplit(url))
    reason = refusal(url)
    if reason:
        raise ToolError(f"{reason}; no request sent")

    body = json.dumps(params.payload, separators=(",", ":"), ensure_ascii=False).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    for name, value in params.headers.items():  # after the default: a caller's Content-Type wins
        request.add_header(name, value)
    # No proxy: the connection goes to the allow-listed host itself.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _ReportRedirects())
    try:
        with opener.open(request, timeout=params.timeout_seconds) as response:
            status = response.status
            text, truncated = _read_capped(response)
    except urllib.error.HTTPError as answer:  # 3xx, 4xx, 5xx: the host answered
        with answer:
            status = answer.code
            text, truncated = _read_capped(answer)
    except (OSError, http.client.HTTPException) as error:  # URLError and timeouts are OSErrors
        raise _failure(where, error, params.timeout_seconds) from error
    ctx.log("INFO", f"POST to {where} answered {status}")
    return {"status": status, "body": text, "truncated": truncated}

