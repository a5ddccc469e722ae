"""No acknowledged write is lost to a kill -9, and a retry after it creates
nothing twice: clients stream keyed creates, the runtime is killed at a
random moment (after a random number of 201s, while other creates are in
flight), restarted on the same state dir; every intervention answered 201 is
there, a retry of its key replays the same id, and no uow_id holds two
records.

A create killed between its record's write and its idempotency record's
COMPLETE update leaves that record IN_PROGRESS until its in-progress expiry
(the function's remaining time, as in AWS): a retry meanwhile gets 409, and
after it the create runs again, under the id its key gives it, so it finds
the first run's record instead of making another. The retries here go on
past that expiry (the real template's 10 s), so that window is crossed."""

from __future__ import annotations

import random
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.runtime_process import RuntimeLauncher, bearer

pytestmark = pytest.mark.e2e

REQUESTER = bearer("agent-crash", "requester")
OPERATOR = bearer("pilot-crash", "operator")
CLIENTS = 4
RUNS = 5
# Past the create's in-progress expiry (its Timeout, 10 s) with room to spare.
IN_PROGRESS_RETRY_SECONDS = 40


class KeyedCreates:
    """CLIENTS threads, each POSTing creates with keys of its own until the
    server stops answering; notes every key sent and every 201."""

    def __init__(self, url: str, run: int) -> None:
        self.url = url
        self.run = run
        self.sent: dict[str, dict[str, Any]] = {}
        self.acknowledged: dict[str, str] = {}
        self.unexpected: list[str] = []
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, args=(n,)) for n in range(CLIENTS)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self) -> None:
        for thread in self._threads:
            thread.join()

    def _client(self, client: int) -> None:
        session = requests.Session()
        for n in range(100_000):
            key = f"run{self.run}-c{client}-{n}"
            body = {"uow_id": f"uow-{key}", "type": "approval", "title": f"create {n} of client {client}"}
            with self._lock:
                self.sent[key] = body
            try:
                reply = session.post(
                    f"{self.url}/interventions", json=body, headers={**REQUESTER, "Idempotency-Key": key}, timeout=20
                )
            except requests.RequestException:
                return  # the server is gone
            with self._lock:
                if reply.status_code == 201:
                    self.acknowledged[key] = reply.json()["id"]
                else:
                    self.unexpected.append(f"{key}: {reply.status_code} {reply.text}")


def _retry(url: str, key: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{url}/interventions", json=body, headers={**REQUESTER, "Idempotency-Key": key}, timeout=20)


def _all_records(url: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"status": "PENDING", "limit": 100}  # every record here is pending
        if cursor:
            params["cursor"] = cursor
        page = requests.get(f"{url}/interventions", params=params, headers=OPERATOR, timeout=20)
        assert page.status_code == 200, page.text
        records += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if not cursor:
            return records


@pytest.mark.parametrize("run", range(RUNS))
def test_every_acknowledged_create_survives_a_sigkill(launch: RuntimeLauncher, tmp_path: Path, run: int) -> None:
    rng = random.Random(run)
    state_dir = tmp_path / "state"
    first = launch.start(state_dir)

    # Given clients streaming keyed creates
    creates = KeyedCreates(first.url, run)
    creates.start()
    # When the runtime is killed at a random moment
    kill_after = rng.randint(50, 300)
    while len(creates.acknowledged) < kill_after and first.process.poll() is None:
        time.sleep(0.002)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait()
    creates.join()
    assert creates.unexpected == []
    acknowledged = dict(creates.acknowledged)

    # ... and started again on the same state dir
    restarted_at = time.monotonic()
    second = launch.start(state_dir)
    print(
        f"run {run}: {len(creates.sent)} creates sent, {len(acknowledged)} acknowledged before the kill, "
        f"restart {time.monotonic() - restarted_at:.1f} s"
    )

    # Then a retry of any key sent creates nothing twice (the keys in flight
    # at the kill first: they may hold a record IN_PROGRESS, see above)
    outcomes: Counter[str] = Counter()
    for key in sorted(creates.sent, key=lambda key: key in acknowledged):
        again = _retry(second.url, key, creates.sent[key])
        replayed = again.headers.get("Idempotent-Replayed") == "true"
        if key in acknowledged:
            assert (again.status_code, replayed) == (201, True), again.text
            assert again.json()["id"] == acknowledged[key]
        else:
            outcomes[f"{again.status_code}{' replayed' if replayed else ''}"] += 1
            deadline = time.monotonic() + IN_PROGRESS_RETRY_SECONDS
            while again.status_code == 409 and time.monotonic() < deadline:  # in progress: retry, as a client would
                time.sleep(1)
                again = _retry(second.url, key, creates.sent[key])
            assert again.status_code == 201, again.text
    print(f"run {run}: retries of the creates not acknowledged: {dict(outcomes)}")

    # ... every acknowledged record is there
    for key, intervention_id in acknowledged.items():
        fetched = requests.get(f"{second.url}/interventions/{intervention_id}", headers=OPERATOR, timeout=20)
        assert fetched.status_code == 200, (key, fetched.text)
        assert fetched.json()["uow_id"] == creates.sent[key]["uow_id"]

    # ... and no unit of work holds two
    per_uow = Counter(record["uow_id"] for record in _all_records(second.url))
    assert max(per_uow.values()) == 1
    assert {creates.sent[key]["uow_id"] for key in acknowledged} <= set(per_uow)


def test_a_finished_job_and_its_output_file_survive_a_sigkill(launch: RuntimeLauncher, tmp_path: Path) -> None:
    """Queue message, worker's writes and the S3 object, killed as soon as
    the job is seen finished (before the snapshot a pause in the writes
    brings, usually: the banner says how many journaled writes came back)."""
    state_dir = tmp_path / "state"
    first = launch.start(state_dir)
    created = requests.post(
        f"{first.url}/interventions",
        json={"uow_id": "uow-job", "type": "approval", "title": "t"},
        headers=REQUESTER,
        timeout=20,
    )
    assert created.status_code == 201, created.text
    submitted = requests.post(
        f"{first.url}/jobs",
        json={"tool": "export_interventions", "parameters": {"format": "csv"}},
        headers=REQUESTER,
        timeout=20,
    )
    assert submitted.status_code == 202, submitted.text
    job_url = f"{first.url}/jobs/{submitted.json()['id']}"
    for _ in range(600):
        job = requests.get(job_url, headers=REQUESTER, timeout=20).json()
        if job["status"] in ("COMPLETED", "FAILED"):
            break
        time.sleep(0.05)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait()
    assert job["status"] == "COMPLETED", job

    second = launch.start(state_dir)
    print(next(line for line in second.log.splitlines() if "journaled writes" in line).strip())
    again = requests.get(f"{second.url}/jobs/{job['id']}", headers=REQUESTER, timeout=20).json()
    assert again["status"] == "COMPLETED"
    (output,) = again["result"]["outputs"]
    download = requests.get(output["url"], timeout=20)
    assert download.status_code == 200, download.text
    assert len(download.content) == output["size_bytes"] and created.json()["id"] in download.text
