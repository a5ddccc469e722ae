"""Shared test doubles for the client: a stub HTTP server that answers from a
script and records what it was sent, and a fake clock whose `sleep` only
moves time forward (so no test waits for real)."""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

#: The ports the client's tests may listen on.
PORTS = range(8100, 8200)


def free_port(taken: set[int] | None = None) -> int:
    for port in PORTS:
        if taken and port in taken:
            continue
        with socket.socket() as probe:
            # As a server binds (SO_REUSEADDR): ports in TIME_WAIT are free, ports being listened on are not.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8100-8199")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


#: Read the request, then close the connection without answering.
DROP = "drop"

Answer = Reply | str | Callable[[Recorded], "Reply | str"]


class StubServer:
    """Answers each (method, path pattern) from a list of replies, in order; the last one repeats."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], list[Answer]]] = []
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                parts = urlsplit(self.path)
                recorded = Recorded(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {name.lower(): value for name, value in self.headers.items()},
                    body,
                )
                answer = stub._answer(recorded)
                if answer == DROP:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                assert isinstance(answer, Reply)
                payload = b"" if answer.body is None else json.dumps(answer.body).encode()
                if isinstance(answer.body, str) and answer.headers.get("Content-Type") == "text/plain":
                    payload = answer.body.encode()
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                if payload and "Content-Type" not in answer.headers:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = do_HEAD = _serve  # noqa: N815 - http.server's naming

        self.server = _bind(Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def on(self, method: str, path: str, *answers: Answer) -> StubServer:
        """Answer `method` on paths matching `path` (a regular expression, anchored)."""
        self.routes.insert(0, (method, re.compile(path + "$"), list(answers)))
        return self

    def _answer(self, request: Recorded) -> Reply | str:
        with self._lock:
            self.requests.append(request)
            for method, pattern, answers in self.routes:
                if method == request.method and pattern.match(request.path):
                    answer = answers.pop(0) if len(answers) > 1 else answers[0]
                    break
            else:
                return Reply(404, {"code": "not_found", "message": f"no stub for {request.method} {request.path}"})
        return answer(request) if callable(answer) else answer

    def sent(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        return [
            r
            for r in self.requests
            if (method is None or r.method == method) and (path is None or re.match(path + "$", r.path))
        ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _bind(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    for _ in range(20):  # another process may take the free port between the probe and the bind
        try:
            return ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
        except OSError:
            continue
    raise RuntimeError("could not listen on a port in 8100-8199")


WALL_START = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)


class FakeClock:
    """`clock()` for the client; `sleep(s)` records the pause and moves the clock on."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def wall(self) -> datetime:
        """The time of day, moving with `now` (at 1000 it is 2026-01-31 09:30:00 UTC)."""
        return WALL_START + timedelta(seconds=self.now - 1000.0)

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0, f"a negative pause: {seconds}"
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        import asyncio

        self.sleep(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer()
    yield server
    server.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def intervention(status: str = "PENDING", **fields: Any) -> dict[str, Any]:
    """An intervention as the API answers it."""
    record: dict[str, Any] = {
        "id": "iv-1",
        "uow_id": "order-42",
        "type": "approval",
        "status": status,
        "priority": "normal",
        "title": "Refund?",
        "description": "",
        "context": {},
        "required_role": "operator",
        "assigned_to": None,
        "created_by": "agent-7",
        "created_at": "2026-01-31T09:30:00.000Z",
        "updated_at": "2026-01-31T09:30:00.000Z",
        "expires_at": "2026-01-31T10:30:00.000Z",
        "decided_by": None if status in ("PENDING", "IN_PROGRESS") else "pilot-ana",
        "decided_at": None if status in ("PENDING", "IN_PROGRESS") else "2026-01-31T09:31:00.000Z",
        "decision_reason": None if status in ("PENDING", "IN_PROGRESS") else "looks fine",
        "response": None,
        "resolution_seconds": None,
        "job_id": None,
        "required_approvals": 1,
        "approvals": [],
        "on_expiry": "expire",
        "response_schema": None,
        "escalation": None,
        "escalated_at": None,
        "callback_url": None,
        "version": 1,
        "approvals_needed": 1 if status in ("PENDING", "IN_PROGRESS") else 0,
    }
    record.update(fields)
    return record


def job(status: str = "PENDING", **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": "job-1",
        "tool": "recompute_stats",
        "parameters": {},
        "status": status,
        "submitted_by": "root",
        "created_at": "2026-01-31T09:30:00.000Z",
    }
    record.update(fields)
    return record


def running_runtime(tmp_path_factory: pytest.TempPathFactory, name: str, secret: str, port: int) -> Iterator[str]:
    """The repository's local runtime (`make run`) on `port`, the sweep every
    second, tokens signed with `secret`: its URL while the fixture lasts."""
    repo = Path(__file__).resolve().parents[3]
    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    process = pytest.importorskip("local_runtime.process", reason="the local runtime lives in the Oversight repository")
    state = tmp_path_factory.mktemp(f"{name}-state")
    runtime = process.RuntimeProcess(
        state,
        state.parent / f"{name}-runtime.log",
        secret,
        environment={"OVERSIGHT_LOCAL_SCHEDULE_SECONDS": "1"},
        port=port,
    )
    try:
        runtime.wait_until_healthy(60)
        yield runtime.url
    finally:
        runtime.stop()
