"""Decisions beyond one approver over real HTTP against the local runtime,
with the sweep on a one-second schedule: a default at expiry (a gated job
following it) and escalation, in real time. Every record is made at the
start and checked once its minute has passed, so the module waits once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.runtime_process import RunningRuntime, RuntimeLauncher, bearer

pytestmark = pytest.mark.e2e

REQUESTER = bearer("agent-7", "requester")
ADMIN = bearer("root-cy", "admin")
OPERATOR = bearer("pilot-ana", "operator")
ONCALL = bearer("pager-1", "oncall")
VIEWER = bearer("watcher-di", "viewer")
# The shortest expiry and escalation delay the API takes.
MINUTE = 60


def call(runtime: RunningRuntime, method: str, path: str, who: dict[str, str], body: Any = None) -> requests.Response:
    return requests.request(method, f"{runtime.url}{path}", headers=who, json=body, timeout=10)


def create(runtime: RunningRuntime, **fields: Any) -> dict[str, Any]:
    body = {"uow_id": "e2e-decisions", "type": "approval", "title": "Decide it", **fields}
    reply = call(runtime, "POST", "/interventions", REQUESTER, body)
    assert reply.status_code == 201, reply.text
    return reply.json()


@dataclass
class Scene:
    runtime: RunningRuntime
    started: float
    records: dict[str, dict[str, Any]] = field(default_factory=dict)

    def wait_past(self, seconds: float) -> None:
        time.sleep(max(0.0, self.started + seconds - time.monotonic()))

    def get(self, name: str) -> dict[str, Any]:
        reply = call(self.runtime, "GET", f"/interventions/{self.records[name]['id']}", VIEWER)
        assert reply.status_code == 200
        return reply.json()

    def until(self, name: str, done: Any, seconds: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while True:
            record = self.get(name)
            if done(record) or time.monotonic() > deadline:
                return record
            time.sleep(0.25)


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    launcher = RuntimeLauncher(tmp_path_factory.mktemp("logs"))
    runtime = launcher.start(
        Path(tmp_path_factory.mktemp("state")), environment={"OVERSIGHT_LOCAL_SCHEDULE_SECONDS": "1"}
    )
    started = time.monotonic()
    scene = Scene(runtime, started)
    scene.records["rejects"] = create(runtime, on_expiry="reject", expires_in_seconds=MINUTE)
    gated = call(
        runtime,
        "POST",
        "/jobs",
        ADMIN,
        {
            "tool": "export_interventions",
            "requires_approval": True,
            "approval": {"on_expiry": "approve", "expires_in_seconds": MINUTE},
        },
    )
    assert gated.status_code == 202, gated.text
    scene.records["job"] = gated.json()
    scene.records["gate"] = {"id": gated.json()["intervention_id"]}
    scene.records["escalates"] = create(
        runtime,
        priority="low",
        escalation={"after_seconds": MINUTE, "to_role": "oncall", "priority": "critical"},
    )
    scene.records["ahead"] = create(runtime, priority="high")
    scene.records["claimed"] = create(runtime, escalation={"after_seconds": MINUTE, "priority": "critical"})
    yield scene
    launcher.stop_all()


def test_a_claim_just_before_the_escalation_wins(scene: Scene) -> None:
    scene.wait_past(MINUTE - 8)
    claimed = call(scene.runtime, "POST", f"/interventions/{scene.records['claimed']['id']}/claim", OPERATOR)
    assert claimed.status_code == 200
    scene.wait_past(MINUTE + 3)
    record = scene.get("claimed")
    assert (record["status"], record["priority"], record["escalated_at"]) == ("IN_PROGRESS", "normal", None)


def test_after_the_delay_the_escalation_role_acts_and_the_queue_follows_the_new_priority(scene: Scene) -> None:
    scene.wait_past(MINUTE)
    record = scene.until("escalates", lambda r: r["escalated_at"] is not None)
    assert (record["priority"], record["status"]) == ("critical", "PENDING"), record
    queue = call(scene.runtime, "GET", "/interventions?status=PENDING", VIEWER).json()["items"]
    order = [item["id"] for item in queue]
    assert order.index(scene.records["escalates"]["id"]) < order.index(scene.records["ahead"]["id"])
    trail = call(scene.runtime, "GET", f"/interventions/{record['id']}/events", VIEWER).json()["items"]
    assert [(e["action"], e["actor"]) for e in trail][-1] == ("escalate", "system")
    assert call(scene.runtime, "POST", f"/interventions/{record['id']}/claim", ONCALL).status_code == 200
    approved = call(scene.runtime, "POST", f"/interventions/{record['id']}/approve", ONCALL, {"reason": "paged"})
    assert approved.status_code == 200 and approved.json()["status"] == "APPROVED"


def test_the_sweep_rejects_by_default(scene: Scene) -> None:
    scene.wait_past(MINUTE)
    record = scene.until("rejects", lambda r: r["status"] != "PENDING")
    assert (record["status"], record["decided_by"]) == ("REJECTED", "system"), record
    trail = call(scene.runtime, "GET", f"/interventions/{record['id']}/events", VIEWER).json()["items"]
    assert (trail[-1]["action"], trail[-1]["actor"], trail[-1]["to_status"]) == ("expire", "system", "REJECTED")
    late = call(scene.runtime, "POST", f"/interventions/{record['id']}/approve", OPERATOR, {"reason": "late"})
    assert (late.status_code, late.json()["code"]) == (409, "invalid_transition")


def test_a_gate_that_approves_by_default_runs_its_job(scene: Scene) -> None:
    scene.wait_past(MINUTE)
    gate = scene.until("gate", lambda r: r["status"] != "PENDING")
    assert (gate["status"], gate["decided_by"]) == ("APPROVED", "system"), gate
    deadline = time.monotonic() + 30
    while True:
        job = call(scene.runtime, "GET", f"/jobs/{scene.records['job']['id']}", VIEWER).json()
        if job["status"] == "COMPLETED" or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert job["status"] == "COMPLETED", (job, scene.runtime.log[-3000:])
