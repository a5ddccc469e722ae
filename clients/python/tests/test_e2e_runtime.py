"""The client against the real local runtime (`python -m local_runtime serve`) over HTTP.

A script in a subprocess calls `request_decision(...)` (or a decorated
function) and blocks; the test decides through the API; the script must
return within 3 s of the decision, having polled no more than once a second.
Each script talks to the runtime through a counting proxy of this test, which
records every request it forwards (and can drop an answer, to simulate a
connection lost after the server acted).
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import free_port, running_runtime
from oversight_client import Client, Intervention, Status

REPO = Path(__file__).resolve().parents[3]
SOURCE = REPO / "clients" / "python" / "src"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
process = pytest.importorskip("local_runtime.process", reason="the local runtime lives in the Oversight repository")
tokens = pytest.importorskip("local_runtime.tokens")

pytestmark = pytest.mark.e2e

SECRET = "client-e2e-secret-that-is-long-enough-for-hs256"
STARTUP_SECONDS = 60
DECISION_SECONDS = 3.0  # the script returns within this of a decision
MIN_GAP_SECONDS = 0.95  # 1 s between polls, less what the proxy's own timing may shave off
EXPIRY_SECONDS = 60  # the API's shortest expiry


def token(sub: str, *roles: str) -> str:
    return str(tokens.issue_token(sub, list(roles), "acme", SECRET))


REQUESTER = token("agent-7", "requester")
OPERATOR = token("pilot-ana", "operator")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from running_runtime(tmp_path_factory, "client-e2e", SECRET, free_port())


# ------------------------------------------------------------------ the counting proxy


@dataclass
class Forwarded:
    at: float
    method: str
    path: str
    status: int | None  # None: the answer was dropped
    request_headers: dict[str, str]
    response_headers: dict[str, str]


class CountingProxy:
    """Forwards every request to `upstream` and records it; `drop_first` names a (method, path) whose
    first answer is read from upstream and then not passed on (the connection is closed instead)."""

    def __init__(self, upstream: str, drop_first: tuple[str, str] | None = None) -> None:
        self.forwarded: list[Forwarded] = []
        self._drop = drop_first
        self._lock = threading.Lock()
        target = urlsplit(upstream)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                pass

            def _forward(self) -> None:
                at = time.monotonic()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {name: value for name, value in self.headers.items() if name.lower() != "host"}
                connection = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=30)
                try:
                    connection.request(self.command, self.path, body=body, headers=headers)
                    answer = connection.getresponse()
                    payload = answer.read()
                    answer_headers = {name.lower(): value for name, value in answer.getheaders()}
                finally:
                    connection.close()
                drop = proxy._should_drop(self.command, urlsplit(self.path).path)
                record = Forwarded(
                    at,
                    self.command,
                    urlsplit(self.path).path,
                    None if drop else answer.status,
                    {name.lower(): value for name, value in headers.items()},
                    answer_headers,
                )
                with proxy._lock:
                    proxy.forwarded.append(record)
                if drop:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("connection", "transfer-encoding", "server", "date"):
                        self.send_header(name, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = do_HEAD = _forward  # noqa: N815 - http.server's naming

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def _should_drop(self, method: str, path: str) -> bool:
        with self._lock:
            if self._drop == (method, path):
                self._drop = None
                return True
        return False

    def polls(self, path_prefix: str = "/interventions/") -> list[Forwarded]:
        """The GETs of one record (not of lists)."""
        with self._lock:
            return [
                f
                for f in self.forwarded
                if f.method == "GET" and f.path.startswith(path_prefix) and f.path.count("/") == 2
            ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(api: str) -> Iterator[CountingProxy]:
    counting = CountingProxy(api)
    yield counting
    counting.close()


# ------------------------------------------------------------------ the script

SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    from oversight_client import Client, DecisionError, require_approval

    mode, uow_id, marker = sys.argv[1], sys.argv[2], sys.argv[3]
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4] != "-" else None
    expires = int(sys.argv[5]) if len(sys.argv) > 5 else 3600
    client = Client.from_env()
    outcome = {}
    try:
        if mode == "decision":
            decided = client.request_decision(
                uow_id=uow_id, title="Ship release 4.2?", timeout=timeout, expires_in_seconds=expires
            )
            outcome = {"outcome": "returned", "status": decided.status, "id": decided.id}
        else:
            @require_approval(client, uow_id=uow_id, title="Delete the staging database?", timeout=timeout)
            def act(path, times):
                with open(path, "a") as out:
                    out.write(f"ran {times}\\n")
                return times

            outcome = {"outcome": "returned", "result": act(marker, 3)}
    except DecisionError as error:
        found = error.intervention
        outcome = {"outcome": type(error).__name__, "status": found.status if found else None}
    outcome["ended"] = time.time()
    print(json.dumps(outcome), flush=True)
    """
)


@dataclass
class Script:
    process: subprocess.Popen[str]
    uow_id: str
    marker: Path

    def result(self, within: float) -> dict[str, Any]:
        out, err = self.process.communicate(timeout=within)
        assert self.process.returncode == 0, f"the script failed:\n{err}"
        lines = [line for line in out.splitlines() if line.strip()]
        assert lines, f"the script printed nothing:\n{err}"
        return dict(json.loads(lines[-1]))


def start_script(
    tmp_path: Path, proxy: CountingProxy, mode: str, timeout: float | None = None, expires: int = 3600
) -> Script:
    path = tmp_path / "waiter.py"
    path.write_text(SCRIPT, encoding="utf-8")
    uow_id = f"e2e-{uuid.uuid4()}"
    marker = tmp_path / f"{uow_id}.ran"
    env = {name: value for name, value in os.environ.items() if not name.startswith("OVERSIGHT_")}
    env |= {"OVERSIGHT_URL": proxy.url, "OVERSIGHT_TOKEN": REQUESTER, "PYTHONPATH": str(SOURCE)}
    arguments = [mode, uow_id, str(marker), "-" if timeout is None else str(timeout), str(expires)]
    command = [sys.executable, str(path), *arguments]
    started = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return Script(started, uow_id, marker)


def created_by(script: Script, api: str, within: float = 20.0) -> Intervention:
    """The intervention the script raised, as soon as it exists."""
    operator = Client(api, OPERATOR)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = list(operator.interventions(uow_id=script.uow_id, limit=5))
        if found:
            return found[0]
        assert script.process.poll() is None, f"the script ended early: {script.process.communicate()}"
        time.sleep(0.05)
    raise AssertionError(f"no intervention for {script.uow_id} within {within} s")


def assert_polled_at_most_once_a_second(proxy: CountingProxy, identifier: str) -> list[Forwarded]:
    polls = [f for f in proxy.polls() if f.path == f"/interventions/{identifier}"]
    gaps = [later.at - earlier.at for earlier, later in zip(polls, polls[1:], strict=False)]
    assert polls, "the script never polled"
    assert all(gap >= MIN_GAP_SECONDS for gap in gaps), f"polls closer than a second apart: {gaps}"
    return polls


def decide_and_time(api: str, script: Script, action: str) -> tuple[Intervention, dict[str, Any], float]:
    record = created_by(script, api)
    operator = Client(api, OPERATOR)
    decided = getattr(operator, action)(record.id, f"{action}d by the end-to-end test")
    at = time.time()
    outcome = script.result(within=30)
    return decided, outcome, outcome["ended"] - at


# ------------------------------------------------------------------ the tests


@pytest.fixture(scope="module")
def expiring(api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Script, CountingProxy]]:
    """A script waiting on a request that expires after 60 s, started early so that it runs beside the others."""
    counting = CountingProxy(api)
    script = start_script(tmp_path_factory.mktemp("expiring"), counting, "decision", expires=EXPIRY_SECONDS)
    yield script, counting
    if script.process.poll() is None:
        script.process.kill()
        script.process.communicate()
    counting.close()


def test_a_waiting_script_returns_within_3_s_of_the_approval(
    api: str, proxy: CountingProxy, tmp_path: Path, expiring: tuple[Script, CountingProxy]
) -> None:
    script = start_script(tmp_path, proxy, "decision")
    time.sleep(2.5)  # let it wait a while first: a few polls, growing apart

    decided, outcome, lag = decide_and_time(api, script, "approve")

    assert decided.status == Status.APPROVED
    assert outcome == {"outcome": "returned", "status": "APPROVED", "id": decided.id, "ended": outcome["ended"]}
    assert lag < DECISION_SECONDS
    polls = assert_polled_at_most_once_a_second(proxy, decided.id)
    assert len(polls) >= 2


def test_a_waiting_script_raises_rejected_within_3_s_of_the_rejection(
    api: str, proxy: CountingProxy, tmp_path: Path
) -> None:
    script = start_script(tmp_path, proxy, "decision")

    decided, outcome, lag = decide_and_time(api, script, "reject")

    assert outcome["outcome"] == "Rejected" and outcome["status"] == "REJECTED"
    assert lag < DECISION_SECONDS
    assert_polled_at_most_once_a_second(proxy, decided.id)


def test_a_waiting_script_raises_wait_timeout_at_its_timeout(api: str, proxy: CountingProxy, tmp_path: Path) -> None:
    started = time.time()
    script = start_script(tmp_path, proxy, "decision", timeout=4)

    record = created_by(script, api)
    outcome = script.result(within=30)

    assert outcome["outcome"] == "WaitTimeout" and outcome["status"] == "PENDING"
    assert 4 <= outcome["ended"] - started < 4 + DECISION_SECONDS
    polls = assert_polled_at_most_once_a_second(proxy, record.id)
    assert len(polls) <= 5


def test_the_decorated_function_runs_once_on_approval(api: str, proxy: CountingProxy, tmp_path: Path) -> None:
    script = start_script(tmp_path, proxy, "decorator")
    record = created_by(script, api)
    assert not script.marker.exists()  # not before the decision

    decided, outcome, lag = decide_and_time(api, script, "approve")

    assert outcome["outcome"] == "returned" and outcome["result"] == 3
    assert script.marker.read_text() == "ran 3\n"
    assert lag < DECISION_SECONDS
    assert record.context["function"] == "act" and record.context["arguments"] == {
        "path": str(script.marker),
        "times": 3,
    }
    assert_polled_at_most_once_a_second(proxy, decided.id)


def test_the_decorated_function_never_runs_on_rejection(api: str, proxy: CountingProxy, tmp_path: Path) -> None:
    script = start_script(tmp_path, proxy, "decorator")

    _, outcome, lag = decide_and_time(api, script, "reject")

    assert outcome["outcome"] == "Rejected"
    assert not script.marker.exists()
    assert lag < DECISION_SECONDS


def test_a_create_retried_after_a_lost_answer_creates_one_record(api: str) -> None:
    dropping = CountingProxy(api, drop_first=("POST", "/interventions"))
    try:
        uow_id = f"e2e-retry-{uuid.uuid4()}"
        created = Client(dropping.url, REQUESTER).create_intervention(uow_id=uow_id, type="approval", title="Once")
    finally:
        dropping.close()

    posts = [f for f in dropping.forwarded if f.method == "POST"]
    assert [p.status for p in posts] == [None, 201]  # the first answer lost, the retry answered
    assert posts[0].request_headers["idempotency-key"] == posts[1].request_headers["idempotency-key"]
    assert posts[1].response_headers.get("idempotent-replayed") == "true"
    records = list(Client(api, OPERATOR).interventions(uow_id=uow_id))
    assert [r.id for r in records] == [created.id]


def test_waiting_sees_a_304_when_the_api_sends_etags(api: str, proxy: CountingProxy, tmp_path: Path) -> None:
    created = Client(api, REQUESTER).create_intervention(uow_id=f"e2e-{uuid.uuid4()}", type="approval", title="E")
    head = http.client.HTTPConnection(urlsplit(api).hostname or "", urlsplit(api).port, timeout=10)
    try:
        head.request("HEAD", f"/interventions/{created.id}", headers={"Authorization": f"Bearer {OPERATOR}"})
        etag = head.getresponse().getheader("ETag")
    finally:
        head.close()
    if not etag:
        pytest.skip("GET /interventions/{id} sends no ETag yet: wait() polls with plain GETs until it does")

    waiter = Client(proxy.url, REQUESTER)
    with pytest.raises(Exception) as raised:
        waiter.wait(created.id, timeout=3.5)

    assert type(raised.value).__name__ == "WaitTimeout"
    polls = proxy.polls()
    assert polls[0].status == 200 and "if-none-match" not in polls[0].request_headers
    assert [p.status for p in polls[1:]] and all(p.status == 304 for p in polls[1:])
    assert all(p.request_headers.get("if-none-match") == etag for p in polls[1:])


def test_a_waiting_script_raises_expired_within_3_s_of_the_expiry(
    api: str, expiring: tuple[Script, CountingProxy]
) -> None:
    script, counting = expiring
    record = created_by(script, api)

    outcome = script.result(within=EXPIRY_SECONDS + 30)

    assert outcome["outcome"] == "Expired" and outcome["status"] == "EXPIRED"
    expired = Client(api, OPERATOR).get_intervention(record.id)
    assert expired.status == Status.EXPIRED and expired.decided_at is not None
    # Within 3 s of the sweep marking it EXPIRED (the sweep runs every second here).
    assert outcome["ended"] - expired.decided_at.timestamp() < DECISION_SECONDS
    polls = assert_polled_at_most_once_a_second(counting, record.id)
    assert len(polls) <= EXPIRY_SECONDS // 2
