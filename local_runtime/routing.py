"""Route an HTTP request to a template function and build the API Gateway
HTTP API (payload v2) event Lambda would receive."""

from __future__ import annotations

import base64
import copy
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from local_runtime.template import ACCOUNT, FunctionSpec, Route, Template


@dataclass(frozen=True)
class Match:
    function: FunctionSpec
    route: Route
    path_parameters: dict[str, str]

    @property
    def public(self) -> bool:
        return self.route.route_key in self.function.public_routes


class Router:
    def __init__(self, template: Template) -> None:
        self.functions = template.functions()
        # Literal segments win over {params}, as in API Gateway.
        entries = [(fn, route) for fn in self.functions for route in fn.routes]
        self._entries = sorted(entries, key=lambda e: (e[1].path.count("{"), -len(e[1].path)))

    def match(self, method: str, path: str) -> Match | None:
        for function, route in self._entries:
            if route.method not in (method.upper(), "ANY"):
                continue
            found = route.pattern.match(path)
            if found:
                return Match(function, route, found.groupdict())
        return None



MINIMAL_BASE: dict[str, Any] = {
    "version": "2.0",
    "headers": {},
    "requestContext": {
        "accountId": ACCOUNT,
        "apiId": "local",
        "domainName": "localhost",
        "domainPrefix": "localhost",
        "http": {"protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": ""},
        "stage": "$default",
    },
    "isBase64Encoded": False,
}


def build_http_event(
    match: Match,
    method: str,
    path: str,
    query: list[tuple[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | str | None = None,
    claims: dict[str, Any] | None = None,
    base: dict[str, Any] | None = None,
    scopes: list[str] | None = None,
) -> dict[str, Any]:
    """An HTTP API payload-v2 event. `base` (e.g. a file from events/) gives
    the fields this request does not set."""
    event = copy.deepcopy(base if base is not None else MINIMAL_BASE)
    context = event.setdefault("requestContext", {})
    http = context.setdefault("http", {})
    route_key = match.route.route_key
    now = time.time()
    event["routeKey"] = context["routeKey"] = route_key
    event["rawPath"] = http["path"] = path
    http["method"] = method.upper()
    context["requestId"] = str(uuid.uuid4())
    context["timeEpoch"] = int(now * 1000)
    context["time"] = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))

    merged_headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    if headers is not None:
        # The request's own headers replace the sample's (keeping none of its auth).
        merged_headers = {k.lower(): v for k, v in headers.items()}
    event["headers"] = merged_headers
    http["userAgent"] = merged_headers.get("user-agent", "")
    if "cookie" in merged_headers:
        event["cookies"] = [c.strip() for c in merged_headers.pop("cookie").split(";") if c.strip()]
    else:
        event.pop("cookies", None)

    if query:
        event["rawQueryString"] = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query)
        params: dict[str, str] = {}
        for key, value in query:
            # API Gateway joins repeated parameters with commas.
            params[key] = f"{params[key]},{value}" if key in params else value
        event["queryStringParameters"] = params
    else:
        event["rawQueryString"] = ""
        event.pop("queryStringParameters", None)

    if match.path_parameters:
        event["pathParameters"] = dict(match.path_parameters)
    else:
        event.pop("pathParameters", None)

    if body is None or body == b"" or body == "":
        event.pop("body", None)
        event["isBase64Encoded"] = False
    elif isinstance(body, bytes):
        try:
            event["body"] = body.decode("utf-8")
            event["isBase64Encoded"] = False
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    else:
        event["body"] = body
        event["isBase64Encoded"] = False

    if claims is None or match.public:
        context.pop("authorizer", None)
    else:
        context["authorizer"] = {"jwt": {"claims": claims, "scopes": scopes}}
    return event
