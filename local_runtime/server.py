"""The HTTP API in front of the functions: route matching, the JWT
authorizer, payload-v2 events, and the mapping of a function's result to an
HTTP response, as API Gateway does them."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from local_runtime.invocation import InvalidResult, LocalFunction
from local_runtime.routing import Router, build_http_event
from local_runtime.tokens import InvalidToken, authorizer_claims, authorizer_scopes, verify_bearer

log = logging.getLogger(__name__)

# API Gateway's own limit; the handlers enforce the API's smaller one.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
_READ_CHUNK = 1024 * 1024
JSON = "application/json"


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps({"code": code, "message": message})
    return Response(body, status=status, content_type=JSON, headers=headers)


class PayloadTooLarge(Exception):
    pass


class HttpApi:
    """A WSGI application serving the template's HttpApi routes."""

    def __init__(self, router: Router, functions: Mapping[str, LocalFunction], jwt_secret: str) -> None:
        self.router = router
        self.functions = functions
        self.jwt_secret = jwt_secret
        self._in_flight = 0
        self._idle = threading.Condition()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        started = time.perf_counter()
        with self._idle:
            self._in_flight += 1
        try:
            response = self.respond(request)
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
        try:
            body = _read_body(request)
        except PayloadTooLarge:
            return error_response(413, "payload_too_large", f"The request body exceeds {MAX_PAYLOAD_BYTES} bytes")

        match = self.router.match(request.method, request.path)
        if match is None:
            return error_response(404, "not_found", f"No route for {request.method} {request.path}")

        claims = scopes = None
        if not match.public:
            try:
                verified = verify_bearer(request.headers.get("Authorization"), self.jwt_secret)
            except InvalidToken as error:
                # API Gateway says why in this header, as RFC 6750 has it.
                challenge = f'Bearer error="invalid_token", error_description="{error}"'
                return error_response(401, "unauthorized", str(error), {"WWW-Authenticate": challenge})
            claims, scopes = authorizer_claims(verified), authorizer_scopes(verified)

        event = build_http_event(
            match,
            request.method,
            request.path,
            query=list(request.args.items(multi=True)),
            headers=_joined_headers(request),
            body=body,
            claims=claims,
            scopes=scopes,
        )
        function = self.functions[match.function.logical_id]
        try:
            result = function.invoke(event)
        except InvalidResult as error:
            # The handler succeeded but Lambda could not return its result:
            # a function error to API Gateway, like an exception.
            log.error("%s", error)
            return error_response(500, "internal_error", f"{function.name} failed; see the local runtime's log")
        except Exception:
            log.exception("%s raised", function.name)
            return error_response(500, "internal_error", f"{function.name} raised; see the local runtime's log")
        return lambda_response(result)


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
