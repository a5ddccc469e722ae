"""Jobs through the local runtime: the queue poller runs the worker, the
output file is downloaded through its presigned URL from the emulated S3."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import pytest
import requests

from tests.e2e.runtime_process import RunningRuntime, bearer

pytestmark = pytest.mark.e2e

REQUESTER = bearer("agent-7", "requester")
OPERATOR = bearer("pilot-ana", "operator")


def wait_for(runtime: RunningRuntime, job_id: str, status: str, seconds: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        job = requests.get(f"{runtime.url}/jobs/{job_id}", headers=REQUESTER, timeout=10).json()
        if job["status"] == status or time.monotonic() > deadline:
            assert job["status"] == status, (job, runtime.log[-3000:])
            return job
        time.sleep(0.2)


def test_an_export_job_runs_and_its_file_downloads(runtime: RunningRuntime) -> None:
    ids = set()
    for n in range(3):
        reply = requests.post(
            f"{runtime.url}/interventions",
            headers=REQUESTER,
            timeout=10,
            json={"uow_id": f"e2e-{n}", "type": "approval", "title": f"#{n}"},
        )
        ids.add(reply.json()["id"])
    submitted = requests.post(
        f"{runtime.url}/jobs",
        headers=REQUESTER,
        timeout=10,
        json={"tool": "export_interventions", "parameters": {"format": "csv"}},
    )
    assert submitted.status_code == 202, submitted.text
    job = wait_for(runtime, submitted.json()["id"], "COMPLETED")
    (output,) = job["result"]["outputs"]
    download = requests.get(output["url"], timeout=10)
    assert download.status_code == 200 and len(download.content) == output["size_bytes"]
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert ids <= {row["id"] for row in rows}
    logs = requests.get(f"{runtime.url}/jobs/{job['id']}/logs", headers=REQUESTER, timeout=10).json()["items"]
    assert logs and all({"at", "level", "message"} == set(line) for line in logs)


def test_a_gated_job_waits_for_its_approval_then_runs(runtime: RunningRuntime) -> None:
    submitted = requests.post(
        f"{runtime.url}/jobs",
        headers=REQUESTER,
        timeout=10,
        json={"tool": "export_interventions", "parameters": {"format": "jsonl"}, "requires_approval": True},
    ).json()
    assert submitted["status"] == "AWAITING_APPROVAL"
    time.sleep(1)
    assert requests.get(f"{runtime.url}/jobs/{submitted['id']}", headers=REQUESTER, timeout=10).json()["status"] == (
        "AWAITING_APPROVAL"
    )
    approved = requests.post(
        f"{runtime.url}/interventions/{submitted['intervention_id']}/approve",
        headers=OPERATOR,
        json={"reason": "go"},
        timeout=10,
    )
    assert approved.status_code == 200, approved.text
    wait_for(runtime, submitted["id"], "COMPLETED")
