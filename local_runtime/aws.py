"""Emulated AWS: moto's server in this process, with the template's tables,
queues and buckets, and every AWS SDK call of the process pointed at it."""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from local_runtime.template import REGION, Template, create_buckets, create_queues, create_tables

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Operations that cannot change state; everything else counts as a write.
_READ_OPERATION = re.compile(r"^(Get|BatchGet|TransactGet|Describe|List|Query|Scan)")
_READ_METHODS = ("GET", "HEAD", "OPTIONS")

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


class WriteTracker:
    """WSGI middleware: notes when a request that may have changed the
    emulated state completes, so that a snapshot is only taken when needed."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self._changed = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            return self.app(environ, start_response)
        finally:
            if _may_write(environ):
                self._changed.set()

    def take_changes(self) -> bool:
        """Whether anything was written since the last call. A write that
        completes after this returns is reported by the next call."""
        if not self._changed.is_set():
            return False
        self._changed.clear()
        return True


def _may_write(environ: dict[str, Any]) -> bool:
    if environ.get("REQUEST_METHOD", "GET") in _READ_METHODS:
        return False
    # JSON protocols (DynamoDB, SQS) name the operation in this header; S3 is
    # REST (any PUT, POST or DELETE writes).
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    return not (target and _READ_OPERATION.match(target.rpartition(".")[2]))


class EmulatedAws:
    def __init__(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.writes: WriteTracker | None = None
        self.endpoint = ""

    def start(self) -> None:
        # moto's server and ours both log every request through werkzeug.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        # ThreadedMotoServer has no hook for middleware; its werkzeug server
        # looks the WSGI app up on each request, so wrapping it now (before
        # any request) sees them all.
        wsgi_server = self._server._server
        assert wsgi_server is not None
        self.writes = WriteTracker(wsgi_server.app)
        wsgi_server.app = self.writes

    def stop(self) -> None:
        self._server.stop()

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION, **_lowercase(FAKE_CREDENTIALS))

    def provision(self, template: Template) -> None:
        """Create the template's tables, queues and buckets; record the
        queues' URLs in `template` so that `!Ref Queue` resolves to them."""
        create_tables(self.client("dynamodb"), template)
        template.queue_urls.update(create_queues(self.client("sqs"), template))
        create_buckets(self.client("s3"), template)

    def sdk_environment(self) -> dict[str, str]:
        """What makes boto3 anywhere in the process talk to the emulator
        with a fake account, never to AWS."""
        return {
            **FAKE_CREDENTIALS,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
        }


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
