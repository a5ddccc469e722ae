"""`make reset` and a second `make run` against a state dir a running
runtime holds: both refuse and say what to do, and the data stays served.
`OVERSIGHT_LOCAL_STATE_DIR` points both at a pytest tmp dir, never at the
developer's .oversight/."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from local_runtime.process import RuntimeNotHealthy, RuntimeProcess
from local_runtime.template import ROOT
from tests.e2e.runtime_process import JWT_SECRET, RunningRuntime, RuntimeLauncher, bearer

pytestmark = pytest.mark.e2e

REQUESTER = bearer("agent-7", "requester")
OPERATOR = bearer("pilot-ana", "operator")


def make_reset(state_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-s", "reset"],
        cwd=ROOT,
        env={**os.environ, "OVERSIGHT_LOCAL_STATE_DIR": str(state_dir)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def raise_request(runtime: RunningRuntime) -> str:
    created = requests.post(
        f"{runtime.url}/interventions",
        json={"uow_id": "uow-7", "type": "approval", "title": "Keep me"},
        headers=REQUESTER,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    return created.json()["id"]


def status_of(runtime: RunningRuntime, intervention_id: str) -> int:
    return requests.get(f"{runtime.url}/interventions/{intervention_id}", headers=OPERATOR, timeout=10).status_code


def test_reset_refuses_while_the_runtime_runs_and_works_once_it_is_stopped(
    launch: RuntimeLauncher, tmp_path: Path
) -> None:
    # Given a runtime serving one intervention
    state_dir = tmp_path / "state"
    runtime = launch.start(state_dir)
    intervention_id = raise_request(runtime)

    # When `make reset` runs meanwhile
    refused = make_reset(state_dir)

    # Then it refuses, naming the runtime and saying to stop it, and removes nothing
    assert refused.returncode != 0
    assert f"pid {runtime.process.pid}" in refused.stderr
    assert "Stop it first" in refused.stderr and "Nothing was removed." in refused.stderr
    assert state_dir.is_dir()
    assert status_of(runtime, intervention_id) == 200

    # When the runtime is stopped, `make reset` removes the data
    assert runtime.stop() == 0, runtime.log
    reset = make_reset(state_dir)
    assert reset.returncode == 0, reset.stderr
    assert f"removed {state_dir}" in reset.stdout
    assert not state_dir.exists()
    assert status_of(launch.start(state_dir), intervention_id) == 404


def test_a_second_runtime_on_the_same_state_dir_refuses_to_start_until_the_first_is_gone(
    launch: RuntimeLauncher, tmp_path: Path
) -> None:
    # Given a runtime serving one intervention from a state dir
    state_dir = tmp_path / "state"
    first = launch.start(state_dir)
    intervention_id = raise_request(first)

    # When a second one starts on the same state dir
    second = RuntimeProcess(state_dir, tmp_path / "second.log", JWT_SECRET)
    with pytest.raises(RuntimeNotHealthy):
        second.wait_until_healthy(30)

    # Then it exits 1 saying which runtime holds the dir and what to do instead
    assert second.process.wait(timeout=30) == 1
    assert f"in use by a running local runtime (pid {first.process.pid})" in second.log
    assert "--state-dir" in second.log
    # ... and the first one still serves its data
    assert status_of(first, intervention_id) == 200

    # When the first one is killed (SIGKILL: no chance to clean up)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait()

    # Then the kernel has released its lock: `make reset` works, no stale lock to clear by hand
    reset = make_reset(state_dir)
    assert reset.returncode == 0, reset.stderr
    assert not state_dir.exists()


def test_reset_refuses_a_dir_the_runtime_never_used(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")

    refused = make_reset(tmp_path)

    assert refused.returncode != 0
    assert "does not look like a local runtime state dir" in refused.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine"
