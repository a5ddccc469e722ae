"""The HTTP API in front of the functions: route matching, the JWT
authorizer, payload-v2 events, and the mapping of a function's result to an
HTTP response, as API Gateway does them."""

from __future__ import annotations

import base64
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from local_runtime.invocation import FunctionError, InvalidResult, LocalFunction
from local_runtime.routing import CONSOLE_PATH, Match, Router, build_http_event
from local_runtime.s3_gateway import S3_PATH, WsgiApp, is_s3_path
from local_runtime.tokens import (
    BadTokenRequest,
    InvalidToken,
    authorizer_claims,
    authorizer_scopes,
    issue_token,
    parse_roles,
    parse_sub,
    parse_tenant,
    verify_bearer,
)

log = logging.getLogger(__name__)

# API Gateway's own limit; the handlers enforce the API's smaller one.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
_READ_CHUNK = 1024 * 1024
JSON = "application/json"
# The console's sign-in form locally (no identity provider here): a path no
# template route uses, served by the runtime itself, never deployed.
LOCAL_SIGN_IN_PATH = "/_local/token"
_LOCAL_TOKEN_MAX_BYTES = 64 * 1024
_MAX_USER_LENGTH = 128


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps({"code": code, "message": message})
    return Response(body, status=status, content_type=JSON, headers=headers)


class PayloadTooLarge(Exception):
    pass


class HttpApi:
    """A WSGI application serving the template's HttpApi routes, and the
    emulated S3 under `S3_PATH` when given it (`s3_gateway.S3Gateway`)."""

    def __init__(
        self, router: Router, functions: Mapping[str, LocalFunction], jwt_secret: str, s3: WsgiApp | None = None
    ) -> None:
        self.router = router
        self.functions = functions
        self.jwt_secret = jwt_secret
        self.s3 = s3
        self._in_flight = 0
        self._idle = threading.Condition()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self._idle:
            self._in_flight += 1
        try:
            if self.s3 is not None and is_s3_path(environ.get("PATH_INFO", "")):
                # S3's own protocol, as moto answers it: no route, no
                # authorizer, no body limit, no log line per request.
                return self.s3(environ, start_response)
            request = Request(environ)
            started = time.perf_counter()
            response = self.with_cors(request, self.respond(request))
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()
        elapsed_ms = (time.perf_counter() - started) * 1000
        log.info("%s %s %d %.0f ms", request.method, request.path, response.status_code, elapsed_ms)
        return response(environ, start_response)

    def wait_idle(self, timeout: float) -> bool:
        """Wait for the requests being handled; False if some still are."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    def respond(self, request: Request) -> Response:
        """The response before CORS (`with_cors`). A HEAD gets its GET's
        status and headers: werkzeug sends no body for a HEAD."""
        cors = self.router.cors
        if cors is not None and _is_preflight(request):
            # API Gateway answers preflights itself, before any route or authorizer.
            return Response(status=204, headers=cors.preflight_headers(request.headers.get("Origin")))
        try:
            body = _read_body(request)
        except PayloadTooLarge:
            return error_response(413, "payload_too_large", f"The request body exceeds {MAX_PAYLOAD_BYTES} bytes")

        if request.path == LOCAL_SIGN_IN_PATH:
            return self.local_token(request.method, body)
        match = self.router.match(request.method, request.path)
        if match is None:
            if request.path == "/" and request.method in ("GET", "HEAD") and self.router.serves_console:
                return Response(status=302, headers={"Location": CONSOLE_PATH})
            return error_response(404, "not_found", f"No route for {request.method} {request.path}")
        try:
            claims, scopes = self._authorized(match, request)
        except InvalidToken as error:
            # API Gateway says why in this header, as RFC 6750 has it.
            challenge = f'Bearer error="invalid_token", error_description="{error}"'
            return error_response(401, "unauthorized", str(error), {"WWW-Authenticate": challenge})
        event = build_http_event(
            match,
            request.method if match.route.method == "ANY" else match.route.method,  # a HEAD runs its GET route
            request.path,
            query=list(request.args.items(multi=True)),
            headers=_joined_headers(request),
            body=body,
            claims=claims,
            scopes=scopes,
        )
        return self._invoke(self.functions[match.function.logical_id], event)

    def _authorized(self, match: Match, request: Request) -> tuple[dict[str, str] | None, list[str] | None]:
        """The JWT authorizer's claims and scopes (none for a public route);
        raises InvalidToken for a request it refuses."""
        if match.public:
            return None, None
        verified = verify_bearer(request.headers.get("Authorization"), self.jwt_secret)
        return authorizer_claims(verified), authorizer_scopes(verified)

    def _invoke(self, function: LocalFunction, event: dict[str, Any]) -> Response:
        try:
            result = function.invoke(event)
        except InvalidResult as error:
            # The handler succeeded but Lambda could not return its result:
            # a function error to API Gateway, like an exception.
            log.error("%s", error)
            return error_response(500, "internal_error", f"{function.name} failed; see the local runtime's log")
        except FunctionError as error:  # raised, timed out or died: the traceback is the function's
            log.error("%s raised:\n%s", function.name, error)
            return error_response(500, "internal_error", f"{function.name} raised; see the local runtime's log")
        return lambda_response(result)

    def local_token(self, method: str, body: bytes) -> Response:
        """`POST /_local/token {"user", "roles", "tenant"}` -> `{"token"}`: the
        token `make token` prints for the same user, roles and tenant (the
        local secret, 12 h), for the console's local sign-in form. A field it
        refuses is a 422 naming it, in the API's error shape."""
        if method != "POST":
            allow = {"Allow": "POST"}
            return error_response(405, "method_not_allowed", f"POST {LOCAL_SIGN_IN_PATH} with a JSON body", allow)
        if len(body) > _LOCAL_TOKEN_MAX_BYTES:
            return error_response(413, "payload_too_large", f"The body exceeds {_LOCAL_TOKEN_MAX_BYTES} bytes")
        try:
            sub, roles, tenant = parse_token_request(body)
        except TokenRequestInvalid as error:
            document = {"code": "validation_error", "message": str(error), "details": error.details}
            return Response(json.dumps(document), status=422, content_type=JSON)
        token = issue_token(sub, roles, tenant, self.jwt_secret)
        no_store = {"Cache-Control": "no-store"}
        return Response(json.dumps({"token": token}), status=200, content_type=JSON, headers=no_store)

    def with_cors(self, request: Request, response: Response) -> Response:
        """With CORS configured, API Gateway drops the CORS headers a function
        returns and adds its own for an allowed origin."""
        cors = self.router.cors
        if cors is None or _is_preflight(request):  # a preflight's answer is API Gateway's own
            return response
        for name in [name for name, _ in response.headers.items() if name.lower().startswith("access-control-")]:
            del response.headers[name]
        for name, value in cors.response_headers(request.headers.get("Origin")).items():
            response.headers[name] = value
        return response


class TokenRequestInvalid(ValueError):
    def __init__(self, details: list[dict[str, Any]]) -> None:
        fields = ", ".join(".".join(str(part) for part in detail["loc"]) for detail in details)
        super().__init__(f"Invalid request: {fields}")
        self.details = details


def parse_token_request(body: bytes) -> tuple[str, list[str], str]:
    """(sub, roles, tenant) from the sign-in form's body, checked as `make
    token` checks its variables (one parser for both), every refused field
    named: `{"user": "ana", "roles": ["operator"] | "operator,viewer",
    "tenant": "acme"}`."""
    try:
        document = json.loads(body or b"null")
    except (ValueError, RecursionError):
        document = None
    if not isinstance(document, dict):
        expected = 'Expected a JSON object: {"user": "ana", "roles": ["operator"], "tenant": "acme"}'
        raise TokenRequestInvalid([{"loc": ["body"], "msg": expected, "type": "json_invalid"}])
    details: list[dict[str, Any]] = [
        {"loc": ["body", name], "msg": "Unknown field (the fields are user, roles, tenant)", "type": "extra_forbidden"}
        for name in document
        if name not in ("user", "roles", "tenant")
    ]
    parsed: dict[str, Any] = {}
    for name in ("user", "roles", "tenant"):
        try:
            parsed[name] = _token_field(name, document)
        except BadTokenRequest as error:
            details.append({"loc": ["body", name], "msg": _form_message(name, str(error)), "type": "value_error"})
    if details:
        raise TokenRequestInvalid(details)
    return parsed["user"], parsed["roles"], parsed["tenant"]


def _token_field(name: str, document: dict[str, Any]) -> Any:
    if name not in document:
        raise BadTokenRequest("is required")
    value = document[name]
    if name == "roles" and isinstance(value, list):
        if not all(isinstance(role, str) for role in value):
            raise BadTokenRequest("must be a list of role names, or one string of them separated by commas")
        value = ",".join(value)
    if not isinstance(value, str):
        raise BadTokenRequest("must be a string")
    if name == "user":
        if len(value) > _MAX_USER_LENGTH or not value.isprintable():
            raise BadTokenRequest(f"must be 1-{_MAX_USER_LENGTH} printable characters")
        return parse_sub(value)
    if name == "roles":
        return parse_roles(value)
    return parse_tenant(value)


def _form_message(name: str, message: str) -> str:
    """`make token`'s message, worded for a form: its examples name make
    variables (`e.g. ROLES=operator`)."""
    message = re.sub(r",? e\.g\. [A-Z]+=\S+", "", message)
    return f"{name.capitalize()} {message}"


def _is_preflight(request: Request) -> bool:
    headers = request.headers
    return request.method == "OPTIONS" and "Origin" in headers and "Access-Control-Request-Method" in headers


def _read_body(request: Request) -> bytes:
    length = request.content_length
    if length is not None and length > MAX_PAYLOAD_BYTES:
        _discard(request, length)
        raise PayloadTooLarge
    body = request.stream.read(MAX_PAYLOAD_BYTES + 1)
    if len(body) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge
    return body


def _discard(request: Request, length: int) -> None:
    """Read the refused body, so that the client, still sending it, gets the
    413 rather than a reset connection."""
    while length > 0:
        chunk = request.stream.read(min(_READ_CHUNK, length))
        if not chunk:
            return
        length -= len(chunk)


def _joined_headers(request: Request) -> dict[str, str]:
    """One value per name, repeated headers joined by commas, as in the event."""
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    return headers


def lambda_response(result: Any) -> Response:
    """An HTTP response from a payload-v2 function result."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # HTTP API's inference: any other result is a 200 JSON body.
        body = result if isinstance(result, str) else json.dumps(result)
        return Response(body, status=200, content_type=JSON)
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    response = Response(data, status=int(result["statusCode"]), content_type=JSON)
    for name, value in (result.get("headers") or {}).items():
        response.headers[name] = str(value)
    for cookie in result.get("cookies") or []:
        response.headers.add("Set-Cookie", cookie)
    return response


class PortUnavailable(Exception):
    pass


class ApiServer:
    """Serves the API on a thread per connection until stopped. The port is
    taken at construction, so that a busy one fails before anything else."""

    def __init__(self, host: str, port: int) -> None:
        # Bound here rather than by werkzeug, which exits the process when
        # the port is taken.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            listener = socket.create_server((host, port), family=family)
        except OSError as error:
            raise PortUnavailable(f"cannot serve on {host}:{port}: {error.strerror or error}") from error
        with listener:  # the server works on its own duplicate of the socket
            self._server: BaseWSGIServer = make_server(host, port, _not_started, threaded=True, fd=listener.fileno())
        # Closing would otherwise join every connection's thread, including
        # idle keep-alive ones that a client may hold open indefinitely;
        # stop() waits for the requests in progress instead.
        self._server.block_on_close = False  # type: ignore[attr-defined]
        # The loop notices shutdown() once per poll: keep stopping quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="http", daemon=True
        )
        self._app: HttpApi | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def s3_endpoint(self) -> str:
        """The emulated S3 at this server's address (`HttpApi(s3=...)`), for
        the functions' AWS_ENDPOINT_URL_S3: presigned URLs point here, and stay
        valid across restarts on the same port. An IP address, so that
        botocore addresses buckets path-style; the loopback for a wildcard
        bind (0.0.0.0 is no address to send a URL to)."""
        host, port = self._server.server_address[:2]
        if host in ("0.0.0.0", ""):  # noqa: S104 - recognising a wildcard bind, not making one
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        return f"http://{f'[{host}]' if ':' in host else host}:{port}{S3_PATH}"

    def start(self, app: HttpApi) -> None:
        self._app = self._server.app = app
        self._thread.start()

    def stop(self, timeout: float) -> None:
        if self._thread.is_alive():  # shutdown() would wait forever for a loop never started
            self._server.shutdown()
            self._thread.join()
        if self._app is not None and not self._app.wait_idle(timeout):
            log.warning("stopping with requests still in progress")
        self._server.server_close()


def _not_started(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    raise RuntimeError("the API server was not started")
