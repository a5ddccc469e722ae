"""Route an HTTP request to a template function and build the API Gateway
HTTP API (payload v2) event Lambda would receive; the HttpApi's CORS
configuration, read from the template."""

from __future__ import annotations

import base64
import copy
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from local_runtime.template import ACCOUNT, FunctionSpec, Route, Template

HTTP_API = "AWS::Serverless::HttpApi"
# The template parameter that lists the allowed origins, and the variable
# that overrides it locally (the product's spec names both).
CORS_PARAMETER = "CorsAllowedOrigins"
CORS_ORIGINS_VARIABLE = "OVERSIGHT_LOCAL_CORS_ORIGINS"
CONSOLE_PATH = "/console/"


@dataclass(frozen=True)
class Match:
    function: FunctionSpec
    route: Route
    path_parameters: dict[str, str]

    @property
    def public(self) -> bool:
        return self.route.route_key in self.function.public_routes


class Router:
    def __init__(self, template: Template, environ: Mapping[str, str] = os.environ) -> None:
        self.functions = template.functions()
        # The most specific route wins, as in API Gateway: literal segments
        # over {params}, and any of them over a greedy {proxy+}.
        entries = [(fn, route) for fn in self.functions for route in fn.routes]
        self._entries = sorted(entries, key=lambda e: (e[1].greedy, e[1].path.count("{"), -len(e[1].path)))
        self.cors = cors_policy(template, environ)
        # `GET /` leads to the console once the template serves one.
        self.serves_console = any(route.path.startswith(CONSOLE_PATH) for _, route in entries)

    def match(self, method: str, path: str) -> Match | None:
        """The route API Gateway would pick. A HEAD with no HEAD or ANY route
        is answered by the path's GET route (the API's contract: HEAD for
        every GET route), the function invoked as for a GET. A path ending
        in `/` that no route matches is matched without it: API Gateway
        refuses route paths ending in `/` and routes `/console/` to `GET
        /console` (the function still sees `/console/` in `rawPath`)."""
        method = method.upper()
        candidates = [path, path[:-1]] if len(path) > 1 and path.endswith("/") else [path]
        for candidate in candidates:
            found = self._match(method, candidate)
            if found is None and method == "HEAD":
                found = self._match("GET", candidate)
            if found is not None:
                return found
        return None

    def _match(self, method: str, path: str) -> Match | None:
        for function, route in self._entries:
            if route.method not in (method, "ANY"):
                continue
            found = route.pattern.match(path)
            if found:
                return Match(function, route, found.groupdict())
        return None


@dataclass(frozen=True)
class CorsPolicy:
    """An HttpApi's CorsConfiguration, applied as API Gateway applies it: it
    answers preflights itself, adds the headers to the responses of allowed
    origins, and drops any CORS header a function returns."""

    allow_origins: tuple[str, ...]
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False

    def allows(self, origin: str | None) -> bool:
        if not origin:
            return False
        return "*" in self.allow_origins or origin.lower() in (allowed.lower() for allowed in self.allow_origins)

    def _origin_headers(self, origin: str) -> dict[str, str]:
        headers = {"Access-Control-Allow-Origin": "*" if "*" in self.allow_origins else origin}
        if self.allow_credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
        return headers

    def preflight_headers(self, origin: str | None) -> dict[str, str]:
        """A preflight's headers: none for an origin not allowed (API Gateway
        still answers 204; the browser then refuses the request)."""
        if not self.allows(origin):
            return {}
        assert origin is not None
        headers = self._origin_headers(origin)
        if self.allow_methods:
            headers["Access-Control-Allow-Methods"] = ",".join(self.allow_methods)
        if self.allow_headers:
            headers["Access-Control-Allow-Headers"] = ",".join(self.allow_headers)
        if self.max_age is not None:
            headers["Access-Control-Max-Age"] = str(self.max_age)
        return headers

    def response_headers(self, origin: str | None) -> dict[str, str]:
        """What an actual request's response carries for its origin."""
        if not self.allows(origin):
            return {}
        assert origin is not None
        headers = self._origin_headers(origin)
        if self.expose_headers:
            headers["Access-Control-Expose-Headers"] = ",".join(self.expose_headers)
        return headers


def cors_policy(template: Template, environ: Mapping[str, str] = os.environ) -> CorsPolicy | None:
    """The CorsConfiguration of the template's HttpApi with its conditions
    and intrinsic functions evaluated (the parameters' values as the
    template resolves them, `OVERSIGHT_LOCAL_CORS_ORIGINS` replacing
    `CorsAllowedOrigins` when set); None when it configures no CORS."""
    parameters = dict(template.parameters)
    if CORS_ORIGINS_VARIABLE in environ:
        parameters[CORS_PARAMETER] = environ[CORS_ORIGINS_VARIABLE]
    evaluate = _Intrinsics(template, parameters)
    apis = [resource.get("Properties") or {} for resource in template.of_type(HTTP_API).values()]
    apis.append(template.doc.get("Globals", {}).get("HttpApi") or {})
    for properties in apis:
        if "CorsConfiguration" not in properties:
            continue
        config = evaluate.value(properties["CorsConfiguration"])
        if config is True:
            return CorsPolicy(allow_origins=("*",))
        if not isinstance(config, dict):
            return None  # false, or AWS::NoValue: no CORS
        max_age = config.get("MaxAge")
        return CorsPolicy(
            allow_origins=_strings(config.get("AllowOrigins")),
            allow_methods=_strings(config.get("AllowMethods")),
            allow_headers=_strings(config.get("AllowHeaders")),
            expose_headers=_strings(config.get("ExposeHeaders")),
            max_age=int(max_age) if max_age is not None else None,
            allow_credentials=str(config.get("AllowCredentials", False)).lower() == "true",
        )
    return None


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    return tuple(str(item) for item in items if str(item) != "")


_NO_VALUE = object()


class _Intrinsics:
    """The intrinsic functions and conditions a CORS configuration may use:
    Ref (parameters, AWS::NoValue), Fn::If, Fn::Split, Fn::Join, and the
    condition functions; the rest as the template resolves them."""

    def __init__(self, template: Template, parameters: Mapping[str, Any]) -> None:
        self.template = template
        self.parameters = parameters
        self.conditions: dict[str, Any] = template.doc.get("Conditions") or {}
        declared = template.doc.get("Parameters") or {}
        self._types = {name: spec.get("Type", "String") for name, spec in declared.items()}

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in (self.value(entry) for entry in node) if item is not _NO_VALUE]
        if isinstance(node, dict) and len(node) == 1:
            ((function, argument),) = node.items()
            if function == "Ref":
                return self._ref(argument)
            if function == "Fn::If":
                condition, when_true, when_false = argument
                return self.value(when_true if self.condition(condition) else when_false)
            if function == "Fn::Split":
                delimiter, source = argument
                return str(self.value(source)).split(delimiter)
            if function == "Fn::Join":
                delimiter, items = argument
                return delimiter.join(str(item) for item in self.value(items))
            if function.startswith("Fn::"):
                return self.template.resolve(node)
        if isinstance(node, dict):
            evaluated = {key: self.value(entry) for key, entry in node.items()}
            return {key: entry for key, entry in evaluated.items() if entry is not _NO_VALUE}
        return node

    def condition(self, node: Any) -> bool:
        if isinstance(node, str):
            return self.condition(self.conditions[node])
        ((function, argument),) = node.items()
        if function == "Fn::Equals":
            left, right = (self.value(side) for side in argument)
            return _text(left) == _text(right)
        if function == "Fn::Not":
            return not self.condition(argument[0])
        if function == "Fn::And":
            return all(self.condition(entry) for entry in argument)
        if function == "Fn::Or":
            return any(self.condition(entry) for entry in argument)
        if function == "Condition":
            return self.condition(argument)
        raise ValueError(f"the local runtime cannot evaluate the condition {node}")

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.parameters:
            value = str(self.parameters[name])
            # A list parameter is a list wherever it is referenced.
            return value.split(",") if self._types.get(name) == "CommaDelimitedList" else value
        return self.template.resolve({"Ref": name})


def _text(value: Any) -> str:
    return ",".join(str(item) for item in value) if isinstance(value, list) else str(value)


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
    _set_request(event, match.route.route_key, method, path)
    _set_headers(event, headers)
    _set_query(event, query)
    if match.path_parameters:
        event["pathParameters"] = dict(match.path_parameters)
    else:
        event.pop("pathParameters", None)
    _set_body(event, body)
    context = event["requestContext"]
    if claims is None or match.public:
        context.pop("authorizer", None)
    else:
        context["authorizer"] = {"jwt": {"claims": claims, "scopes": scopes}}
    return event


def _set_request(event: dict[str, Any], route_key: str, method: str, path: str) -> None:
    """The route, the request line, and the request's id and time."""
    context = event.setdefault("requestContext", {})
    http = context.setdefault("http", {})
    now = time.time()
    event["routeKey"] = context["routeKey"] = route_key
    event["rawPath"] = http["path"] = path
    http["method"] = method.upper()
    context["requestId"] = str(uuid.uuid4())
    context["timeEpoch"] = int(now * 1000)
    context["time"] = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))


def _set_headers(event: dict[str, Any], headers: dict[str, str] | None) -> None:
    """Header names in lower case, as API Gateway gives them; the cookies
    apart, as payload v2 has them."""
    merged_headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    if headers is not None:
        # The request's own headers replace the sample's (keeping none of its auth).
        merged_headers = {k.lower(): v for k, v in headers.items()}
    event["headers"] = merged_headers
    event["requestContext"]["http"]["userAgent"] = merged_headers.get("user-agent", "")
    if "cookie" in merged_headers:
        event["cookies"] = [c.strip() for c in merged_headers.pop("cookie").split(";") if c.strip()]
    else:
        event.pop("cookies", None)


def _set_query(event: dict[str, Any], query: list[tuple[str, str]] | None) -> None:
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


def _set_body(event: dict[str, Any], body: bytes | str | None) -> None:
    """A body that is not UTF-8 text goes in base64, as API Gateway sends it."""
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
