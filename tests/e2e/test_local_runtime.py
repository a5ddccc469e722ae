"""The local runtime over real HTTP: the intervention lifecycle, data kept
across a restart, the authorizer, and routes read from the template."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from local_runtime.template import TEMPLATE, load_template
from tests.e2e.runtime_process import RunningRuntime, RuntimeLauncher, bearer

pytestmark = pytest.mark.e2e

REQUESTER = bearer("agent-7", "requester")
OPERATOR = bearer("pilot-ana", "operator")


def test_an_intervention_is_decided_and_survives_a_restart(launch: RuntimeLauncher, tmp_path: Path) -> None:
    # Given a runtime keeping its state in a directory of its own
    state_dir = tmp_path / "state"
    first = launch.start(state_dir)

    # When a requester raises an intervention and an operator claims and approves it
    created = requests.post(
        f"{first.url}/interventions",
        json={"uow_id": "uow-42", "type": "approval", "title": "Ship the release", "priority": "high"},
        headers=REQUESTER,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    intervention_id = created.json()["id"]

    listed = requests.get(f"{first.url}/interventions", headers=OPERATOR, timeout=10)
    assert listed.status_code == 200, listed.text
    assert [item["id"] for item in listed.json()["items"]] == [intervention_id]

    claimed = requests.post(f"{first.url}/interventions/{intervention_id}/claim", headers=OPERATOR, timeout=10)
    assert claimed.status_code == 200, claimed.text
    assert (claimed.json()["status"], claimed.json()["assigned_to"]) == ("IN_PROGRESS", "pilot-ana")

    approved = requests.post(
        f"{first.url}/interventions/{intervention_id}/approve",
        json={"reason": "Checks are green"},
        headers=OPERATOR,
        timeout=10,
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "APPROVED"

    # ... and the runtime is stopped, then started again on the same state
    assert first.stop() == 0, first.log
    second = launch.start(state_dir)

    # Then the intervention and its audit trail are still there
    fetched = requests.get(f"{second.url}/interventions/{intervention_id}", headers=OPERATOR, timeout=10)
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["status"] == "APPROVED"
    assert fetched.json()["decision_reason"] == "Checks are green"

    events = requests.get(f"{second.url}/interventions/{intervention_id}/events", headers=OPERATOR, timeout=10)
    assert events.status_code == 200, events.text
    assert [(e["from_status"], e["to_status"]) for e in events.json()["items"]] == [
        (None, "PENDING"),
        ("PENDING", "IN_PROGRESS"),
        ("IN_PROGRESS", "APPROVED"),
    ]


def test_data_written_a_moment_before_a_crash_survives_it(launch: RuntimeLauncher, tmp_path: Path) -> None:
    # Given an intervention created on a runtime that then dies without warning
    state_dir = tmp_path / "state"
    first = launch.start(state_dir)
    created = requests.post(
        f"{first.url}/interventions",
        json={"uow_id": "uow-7", "type": "kill_switch", "title": "Stop the agent"},
        headers=REQUESTER,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    intervention_id = created.json()["id"]
    _wait_for_snapshot_with(state_dir, intervention_id)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait()

    # When it starts again
    second = launch.start(state_dir)

    # Then the intervention is there
    fetched = requests.get(f"{second.url}/interventions/{intervention_id}", headers=OPERATOR, timeout=10)
    assert fetched.status_code == 200, fetched.text


def _wait_for_snapshot_with(state_dir: Path, text: str, seconds: float = 10) -> None:
    """The runtime snapshots changed data about once a second."""
    deadline = time.monotonic() + seconds
    snapshot = state_dir / "snapshot.json"
    while time.monotonic() < deadline:
        if snapshot.exists() and text in snapshot.read_text():
            return
        time.sleep(0.05)
    pytest.fail(f"no snapshot holding {text} within {seconds} s")


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no token"),
        pytest.param({"Authorization": "Bearer not-a-jwt"}, id="malformed"),
        pytest.param(
            bearer("pilot-ana", "operator", secret="some-other-secret-of-32-bytes-or-more"), id="wrong signature"
        ),
        pytest.param(bearer("pilot-ana", "operator", now=time.time() - 13 * 3600), id="expired"),
    ],
)
def test_a_request_without_a_valid_token_is_refused(runtime: RunningRuntime, headers: dict[str, str]) -> None:
    response = requests.get(f"{runtime.url}/interventions", headers=headers, timeout=10)

    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "unauthorized"
    assert body["message"]


def test_a_valid_token_reaches_the_function(runtime: RunningRuntime) -> None:
    response = requests.get(f"{runtime.url}/interventions", headers=bearer("watcher", "viewer"), timeout=10)

    assert response.status_code == 200, response.text


def test_health_needs_no_token(runtime: RunningRuntime) -> None:
    response = requests.get(f"{runtime.url}/health", timeout=10)

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_an_unknown_route_is_404(runtime: RunningRuntime) -> None:
    response = requests.get(f"{runtime.url}/no/such/route", headers=OPERATOR, timeout=10)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_body_over_api_gateways_limit_is_413(runtime: RunningRuntime) -> None:
    response = requests.post(
        f"{runtime.url}/interventions", data=b"x" * (10 * 1024 * 1024 + 1), headers=REQUESTER, timeout=30
    )

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def _template_copy(folder: Path, with_events_route: bool) -> Path:
    """A copy of template.yaml (CodeUri made absolute, as the copy lives
    elsewhere), with or without ReadInterventionsFunction's
    GET /interventions/{id}/events route."""
    doc: dict[str, Any] = load_template(TEMPLATE)
    for resource in doc["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = str((TEMPLATE.parent / resource["Properties"]["CodeUri"]).resolve())
    if not with_events_route:
        del doc["Resources"]["ReadInterventionsFunction"]["Properties"]["Events"]["Events"]
    path = folder / "template.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_a_route_added_to_the_template_is_served(launch: RuntimeLauncher, tmp_path: Path) -> None:
    # Given a runtime serving a template without the audit-trail route
    state = tmp_path / "state"
    before = launch.start(state, template=_template_copy(tmp_path, with_events_route=False))
    created = requests.post(
        f"{before.url}/interventions",
        json={"uow_id": "u", "type": "resume", "title": "t"},
        headers=REQUESTER,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    events_url = f"{before.url}/interventions/{created.json()['id']}/events"
    missing = requests.get(events_url, headers=OPERATOR, timeout=10)
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    assert missing.json()["message"].startswith("No route for GET")
    assert before.stop() == 0, before.log

    # When the route is added to the template (the runtime's code untouched)
    after = launch.start(state, template=_template_copy(tmp_path, with_events_route=True))

    # Then it is served by the existing handler
    served = requests.get(f"{after.url}/interventions/{created.json()['id']}/events", headers=OPERATOR, timeout=10)
    assert served.status_code == 200, served.text
    assert [event["action"] for event in served.json()["items"]] == ["create"]
    assert requests.get(f"{after.url}/v3/health", timeout=10).json() == {
        "code": "not_found",
        "message": "No route for GET /v3/health",
    }
