"""Each function in execution environments of its own, as in Lambda: two
functions never share state (idempotency keys, Powertools objects,
environment variables), and a setting from the shell reaches the functions
that declare it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.runtime_process import RunningRuntime, RuntimeLauncher, bearer

pytestmark = pytest.mark.e2e

REQUESTER = bearer("agent-7", "requester")
KEYS = 60  # per route


def create(runtime: RunningRuntime, route: str, key: str) -> tuple[str, str, bool]:
    body: dict[str, Any]
    if route == "interventions":
        body = {"uow_id": f"uow-{key}", "type": "approval", "title": key}
    else:
        body = {"tool": "export_interventions", "parameters": {"format": "csv"}}
    headers = {**REQUESTER, "Idempotency-Key": key}
    reply = requests.post(f"{runtime.url}/{route}", headers=headers, json=body, timeout=30)
    assert reply.status_code in (201, 202), reply.text
    return route, reply.json()["id"], reply.headers.get("Idempotent-Replayed") == "true"


def test_concurrent_keyed_creates_on_two_functions_then_retries_create_nothing_twice(
    runtime: RunningRuntime,
) -> None:
    # The same keys on both routes, interleaved, from several clients at once:
    # each function's idempotency records are its own.
    work = [(route, f"key-{n}") for n in range(KEYS) for route in ("interventions", "jobs")]
    with ThreadPoolExecutor(max_workers=8) as pool:
        first = list(pool.map(lambda item: create(runtime, *item), work))
        retried = list(pool.map(lambda item: create(runtime, *item), work))

    assert not any(replayed for _, _, replayed in first)
    assert all(replayed for _, _, replayed in retried), [item for item in retried if not item[2]][:5]
    assert [identifier for _, identifier, _ in retried] == [identifier for _, identifier, _ in first]
    assert len({identifier for _, identifier, _ in first}) == len(work)  # no record made twice
    interventions = requests.get(f"{runtime.url}/interventions?limit=100", headers=REQUESTER, timeout=30).json()
    titles = [item["title"] for item in interventions["items"] if item["title"].startswith("key-")]
    assert len(titles) == len(set(titles)) == KEYS


class _Receiver(BaseHTTPRequestHandler):
    received: list[Any] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("Content-Length") or 0)
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"ok": true}')

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[Any]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}", _Receiver.received
    server.shutdown()
    server.server_close()


def test_a_setting_from_the_shell_reaches_the_functions(
    launch: RuntimeLauncher, tmp_path: Path, receiver: tuple[str, list[Any]]
) -> None:
    host, received = receiver
    runtime = launch.start(tmp_path / "state", environment={"HTTP_POST_ALLOWED_HOSTS": host})
    assert f"HTTP_POST_ALLOWED_HOSTS={host}  (from shell; " in runtime.log  # the banner says so

    submitted = requests.post(
        f"{runtime.url}/jobs",
        headers=REQUESTER,
        timeout=30,
        json={"tool": "http_post", "parameters": {"url": f"http://{host}/hook", "json": {"hello": "world"}}},
    )
    assert submitted.status_code == 202, submitted.text  # SubmitJobFunction read the override

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = requests.get(f"{runtime.url}/jobs/{submitted.json()['id']}", headers=REQUESTER, timeout=10).json()
        if job["status"] in ("COMPLETED", "FAILED"):
            break
        time.sleep(0.2)
    assert job["status"] == "COMPLETED", (job, runtime.log[-3000:])  # and RunJobFunction too
    assert received == [{"hello": "world"}]


def test_without_the_setting_the_host_is_refused(runtime: RunningRuntime, receiver: tuple[str, list[Any]]) -> None:
    host, received = receiver
    submitted = requests.post(
        f"{runtime.url}/jobs",
        headers=REQUESTER,
        timeout=30,
        json={"tool": "http_post", "parameters": {"url": f"http://{host}/hook", "json": {}}},
    )
    assert submitted.status_code == 422 and "HTTP_POST_ALLOWED_HOSTS" in submitted.text
    assert received == []


def test_an_env_file_in_the_sam_format_overrides_too(
    launch: RuntimeLauncher, tmp_path: Path, receiver: tuple[str, list[Any]]
) -> None:
    host, _ = receiver
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps({"SubmitJobFunction": {"HTTP_POST_ALLOWED_HOSTS": host}}))
    runtime = launch.start(tmp_path / "state", arguments=["--env-vars", str(env_file)])

    assert f"(from {env_file}; SubmitJobFunction)" in runtime.log
    submitted = requests.post(
        f"{runtime.url}/jobs",
        headers=REQUESTER,
        timeout=30,
        json={"tool": "http_post", "parameters": {"url": f"http://{host}/hook", "json": {}}},
    )
    assert submitted.status_code == 202, submitted.text
