"""Emulated AWS: moto's server in this process, with the template's tables,
queues, buckets, keys, event buses and rules, and every AWS SDK call of the
process pointed at it."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable
from io import BytesIO
from typing import Any, Protocol
from urllib.parse import urlsplit

import boto3
import botocore.handlers
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from moto.core.config import default_user_config
from moto.server import ThreadedMotoServer
from werkzeug.datastructures import Headers
from werkzeug.test import EnvironBuilder, run_wsgi_app

from local_runtime.s3_gateway import SignedRequestsOnly, WsgiApp
from local_runtime.task_calls import TaskCallLog
from local_runtime.template import (
    REGION,
    Template,
    create_buckets,
    create_event_resources,
    create_keys,
    create_queues,
    create_tables,
)

log = logging.getLogger(__name__)

# Operations that cannot change state; everything else counts as a write.
_READ_OPERATION = re.compile(r"^(Get|BatchGet|TransactGet|Describe|List|Query|Scan)")
_READ_METHODS = ("GET", "HEAD", "OPTIONS")
# Methods http.client sends no Content-Length for when they have no body.
_NO_BODY_METHODS = ("GET", "HEAD", "DELETE", "OPTIONS")
_SERVER_ERROR = b"Internal Server Error"

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


class Commit(Protocol):
    """What a write is answered after (local_runtime.journal.Recorder)."""

    def commit(self, environ: dict[str, Any]) -> None: ...


class WriteTracker:
    """WSGI middleware on moto's application, which every request to the
    emulator passes (over HTTP or in process): with a journal attached, a
    request that may have changed the emulated state is answered only once
    what it wrote is on disk. The application has returned but nothing is
    sent yet (werkzeug sends the status line with the first body chunk), so
    a write answered is a write kept."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.journal: Commit | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            return self.app(environ, start_response)
        finally:
            journal = self.journal
            if journal is not None and _may_write(environ):
                journal.commit(environ)  # raises (a 500) if it cannot be kept


def _may_write(environ: dict[str, Any]) -> bool:
    if environ.get("REQUEST_METHOD", "GET") in _READ_METHODS:
        return False
    # JSON protocols (DynamoDB, SQS) name the operation in this header; S3 is
    # REST (any PUT, POST or DELETE writes).
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    return not (target and _READ_OPERATION.match(target.rpartition(".")[2]))


class _Body(BytesIO):
    """A response body as botocore reads one off the socket."""

    def stream(self, **_: Any) -> Iterable[bytes]:
        chunk = self.read()
        while chunk:
            yield chunk
            chunk = self.read()


class InProcessTransport:
    """Hands the process's own SDK calls to the emulator's WSGI application
    on the calling thread, as the emulator's HTTP server would after reading
    them off a socket: the same request (method, path, query, headers,
    body bytes) and the same response, without a TCP connection, a server
    thread and HTTP parsing per call. werkzeug's server closes every
    connection after one response, so each call would otherwise pay for a
    new connection and a new thread. Anything else (a presigned URL opened
    by curl, another process) still goes to the server over HTTP."""

    def __init__(self, endpoint: str, app: WsgiApp) -> None:
        self.endpoint = endpoint
        self._prefix = endpoint + "/"
        self._app = app

    def __call__(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
        url = request.url or ""
        if url != self.endpoint and not url.startswith(self._prefix):
            return None  # not the emulator's: botocore sends it as usual
        return self.send(request)

    def send(self, request: AWSPreparedRequest) -> AWSResponse:
        environ = self._environ(request, _body_bytes(request.body))
        try:
            chunks, status, headers = run_wsgi_app(self._app, environ, buffered=True)
            body = b"".join(chunks)
        except Exception:  # what werkzeug's server answers when the application raises
            log.exception("the emulator raised on %s %s", request.method, request.url)
            status, headers, body = "500 INTERNAL SERVER ERROR", Headers({"Content-Type": "text/plain"}), _SERVER_ERROR
        received = HTTPHeaders()
        for name, value in headers.items():
            received[name] = value
        return AWSResponse(request.url, int(status.split(" ", 1)[0]), received, _Body(body))  # type: ignore[arg-type]

    def _environ(self, request: AWSPreparedRequest, data: bytes) -> dict[str, Any]:
        """What werkzeug's server (serving.py, make_environ) would pass for
        the request http.client sends."""
        url = urlsplit(request.url)
        sent_length = request.headers.get("Content-Length")
        return EnvironBuilder(
            path=url.path + (f"?{url.query}" if url.query else ""),
            base_url=self.endpoint,
            method=request.method,
            headers=_headers_passed_on(request),
            # http.client sends the length of any body, and for any method
            # but these even of none; else the length botocore set, if any.
            input_stream=BytesIO(data) if data or request.method not in _NO_BODY_METHODS else None,
            content_length=int(sent_length) if sent_length is not None else None,
            multithread=True,
            environ_base={"REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": 0},
        ).get_environ()


def _body_bytes(body: Any) -> bytes:
    """The bytes of a request body as botocore holds it."""
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytearray):
        return bytes(body)
    data = body.read()  # a file-like body (streaming upload)
    return data.encode("utf-8") if isinstance(data, str) else data


def _headers_passed_on(request: AWSPreparedRequest) -> list[tuple[str, str]]:
    """The request's headers as werkzeug's server passes them on: none whose
    name holds `_` (it drops them, as most servers do), no Transfer-Encoding
    (the body is whole here), values without line breaks."""
    passed = []
    for name, value in request.headers.items():
        if "_" in name or name.lower() == "transfer-encoding":
            continue
        text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        passed.append((name, text.replace("\r\n", "")))
    return passed


class EmulatedAws:
    def __init__(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.writes: WriteTracker | None = None
        self.endpoint = ""
        self.transport: InProcessTransport | None = None

    def start(self) -> None:
        # moto's server and ours both log every request through werkzeug.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # Step Functions executions run (moto's interpreter): a task token
        # names a waiting execution, an unknown one is InvalidToken, as in AWS.
        default_user_config["stepfunctions"]["execute_state_machine"] = True
        # Its interpreter logs a failed task (SendTaskFailure) as an error with
        # its whole parse tree; the runtime logs the call itself (task_calls.py).
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        # Where moto's Step Functions interpreter sends a state's service
        # call (an `sqs:sendMessage.waitForTaskToken` step): this emulator.
        os.environ["MOTO_PORT"] = str(port)
        # ThreadedMotoServer has no hook for middleware; its werkzeug server
        # looks the WSGI app up on each request, so wrapping it now (before
        # any request) sees them all.
        wsgi_server = self._server._server
        assert wsgi_server is not None
        self.writes = WriteTracker(TaskCallLog(wsgi_server.app))  # Step Functions calls in the log
        wsgi_server.app = self.writes
        wsgi_server.app = SignedRequestsOnly(wsgi_server.app, FAKE_CREDENTIALS)  # refused as S3 refuses them
        # Every botocore session made from now on (boto3's default one
        # included) sends the calls to the endpoint in process.
        self.transport = InProcessTransport(self.endpoint, self.writes)
        botocore.handlers.BUILTIN_HANDLERS.append(("before-send", self.transport))
        if boto3.DEFAULT_SESSION is not None:
            boto3.DEFAULT_SESSION._session.register("before-send", self.transport)

    def stop(self) -> None:
        if self.transport is not None:
            entry = ("before-send", self.transport)
            if entry in botocore.handlers.BUILTIN_HANDLERS:
                botocore.handlers.BUILTIN_HANDLERS.remove(entry)
            if boto3.DEFAULT_SESSION is not None:
                boto3.DEFAULT_SESSION._session.unregister("before-send", self.transport)
        if self.endpoint:  # started
            self._server.stop()

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION, **_lowercase(FAKE_CREDENTIALS))

    def provision(self, template: Template) -> None:
        """Create the template's tables (with their streams), queues,
        buckets, KMS keys, event buses and rules; record in `template` what
        `!Ref`/`!GetAtt` resolve to (the queues' URLs, the streams' ARNs,
        the keys' ids)."""
        create_tables(self.client("dynamodb"), template)
        template.queue_urls.update(create_queues(self.client("sqs"), template))
        create_buckets(self.client("s3"), template)
        create_keys(self.client("kms"), template)
        create_event_resources(self.client("events"), template)  # after the queues its targets name

    def sdk_environment(self, s3_endpoint: str | None = None) -> dict[str, str]:
        """What makes boto3 talk to the emulator with a fake account, never
        to AWS. `s3_endpoint` (`ApiServer.s3_endpoint`) is where S3 is
        reached instead of moto's port, which changes on every start:
        presigned URLs point at it, so they must outlive a restart."""
        environment = {
            **FAKE_CREDENTIALS,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
        }
        if s3_endpoint:
            environment["AWS_ENDPOINT_URL_S3"] = s3_endpoint
        return environment


def _lowercase(credentials: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in credentials.items()}


def point_sdk_at(environment: dict[str, str]) -> None:
    """Apply `EmulatedAws.sdk_environment()` to this process, dropping the
    settings that would send a call elsewhere (a profile, per-service
    endpoints, a config file's endpoints)."""
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL_") or name in ("AWS_PROFILE", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
            del os.environ[name]
    os.environ.update(environment)
