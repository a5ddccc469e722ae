"""The `oversight` command, as a subprocess, against the local runtime (`python -m local_runtime serve`) over
real HTTP: every command once, the exit codes of `request --wait`, `--json` parsed back, 80 columns."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import running_runtime

REPO = Path(__file__).resolve().parents[3]
SOURCE = REPO / "clients" / "python" / "src"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
process = pytest.importorskip("local_runtime.process", reason="the local runtime lives in the Oversight repository")
tokens = pytest.importorskip("local_runtime.tokens")

pytestmark = pytest.mark.e2e

SECRET = "cli-e2e-secret-that-is-long-enough-for-hs256"
PORTS = range(8200, 8300)
COMMAND_SECONDS = 60
EXPIRY_SECONDS = 60  # the API's shortest expiry


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8200-8299")


def token(sub: str, *roles: str, secret: str = SECRET) -> str:
    return str(tokens.issue_token(sub, list(roles), "acme", secret))


REQUESTER = token("deploy-bot", "requester")
OPERATOR = token("pilot-ana", "operator")
ADMIN = token("root", "admin")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from running_runtime(tmp_path_factory, "cli-e2e", SECRET, free_port())


def command_line() -> list[str]:
    """The installed console script when there is one beside this Python, else the module."""
    script = Path(sys.executable).with_name("oversight")
    return [str(script)] if script.exists() else [sys.executable, "-m", "oversight_client.cli"]


def environment(api: str, bearer: str | None) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("OVERSIGHT_")}
    env.update({"OVERSIGHT_URL": api, "COLUMNS": "80", "PYTHONPATH": str(SOURCE)})
    env.pop("NO_COLOR", None)
    if bearer is not None:
        env["OVERSIGHT_TOKEN"] = bearer
    return env


def oversight(api: str, *argv: str, bearer: str | None = OPERATOR) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command_line(), *argv],
        env=environment(api, bearer),
        capture_output=True,
        text=True,
        timeout=COMMAND_SECONDS,
        check=False,
    )


def start(api: str, *argv: str, bearer: str = REQUESTER) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*command_line(), *argv],
        env=environment(api, bearer),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def waiting_on(running: subprocess.Popen[str]) -> str:
    """The ID `request --wait` announces on stderr before it waits."""
    assert running.stderr is not None
    line = running.stderr.readline()
    assert line.startswith("Created "), line
    return line.split()[1].rstrip(";")


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return result


def call(api: str, method: str, path: str, bearer: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(api + path, data=data, method=method)  # noqa: S310 - the runtime's http URL
    request.add_header("Authorization", f"Bearer {bearer}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - as above
        return json.loads(response.read() or b"null")


def create(api: str, title: str, **fields: Any) -> str:
    body = {"uow_id": "cli-e2e", "type": "approval", "title": title, **fields}
    return str(call(api, "POST", "/interventions", REQUESTER, body)["id"])


@pytest.fixture(scope="module")
def expiring(api: str) -> Iterator[subprocess.Popen[str]]:
    """`request --wait` on a request that nobody answers, started first: its minute runs beside the other tests."""
    running = start(
        api,
        "request",
        "--uow-id",
        "cli-e2e",
        "--type",
        "approval",
        "--title",
        "Nobody answers",
        "--expires-in",
        "60",
        "--wait",
    )
    yield running
    if running.poll() is None:
        running.kill()
        running.wait()


def test_request_then_queue_show_and_the_decisions(api: str, expiring: subprocess.Popen[str]) -> None:
    long_title = "Promote release 4.2 of the payments service to production in every region after the canary"
    created = ok(
        oversight(
            api,
            "request",
            "--uow-id",
            "deploy-42",
            "--type",
            "approval",
            "--title",
            long_title,
            "--priority",
            "critical",
            "--context",
            '{"pr": 42}',
            "--description",
            "Canary is green.",
            "--json",
            bearer=REQUESTER,
        )
    )
    record = json.loads(created.stdout)
    identifier = record["id"]
    assert record["status"] == "PENDING" and record["context"] == {"pr": 42} and record["priority"] == "critical"
    human = ok(
        oversight(api, "request", "--uow-id", "u", "--type", "clarification", "--title", "Which?", bearer=REQUESTER)
    )
    assert human.stdout.startswith("Created ") and "expires in" in human.stdout

    queue = ok(oversight(api, "queue"))
    lines = queue.stdout.splitlines()
    assert lines[0].startswith("ID") and "TITLE" in lines[0]
    assert max(len(line) for line in lines) <= 80, queue.stdout
    row = next(line for line in lines if line.startswith(identifier[:8]))
    assert "CRIT" in row and row.endswith("…") and "\x1b" not in queue.stdout
    listed = json.loads(ok(oversight(api, "queue", "--json")).stdout)["items"]
    assert listed[0]["id"] == identifier  # critical first
    assert {item["status"] for item in listed} == {"PENDING"}

    shown = ok(oversight(api, "show", identifier[:8]))
    assert long_title in shown.stdout and "Audit trail:" in shown.stdout and '"pr": 42' in shown.stdout
    assert "by deploy-bot" in shown.stdout

    claimed = ok(oversight(api, "claim", identifier[:8]))
    assert claimed.stdout == f"Claimed {identifier[:8]}: IN_PROGRESS, assigned to pilot-ana.\n"
    in_progress = json.loads(ok(oversight(api, "queue", "--json")).stdout)["items"]
    assert next(item for item in in_progress if item["id"] == identifier)["status"] == "IN_PROGRESS"
    ok(oversight(api, "release", identifier))
    ok(oversight(api, "claim", identifier))
    assert "Comment added" in ok(oversight(api, "comment", identifier, "Checking the canary")).stdout
    approved = ok(
        oversight(api, "approve", identifier, "--reason", "Canary is healthy", "--response", '{"rollout": 1}')
    )
    assert approved.stdout.startswith(f"Approved {identifier[:8]}: APPROVED by pilot-ana")
    completed = json.loads(
        ok(oversight(api, "complete", identifier, "--reason", "Done", "--json", bearer=REQUESTER)).stdout
    )
    assert completed["status"] == "COMPLETED"

    trail = json.loads(ok(oversight(api, "show", identifier, "--json")).stdout)
    assert trail["status"] == "COMPLETED" and trail["response"] == {"rollout": 1}
    actions = [event["action"] for event in trail["events"]]
    assert actions[0] == "create" and "comment" in actions and actions[-2:] == ["approve", "complete"]
    assert "Checking the canary" in ok(oversight(api, "show", identifier)).stdout

    rejected = create(api, "To reject")
    assert "REJECTED" in ok(oversight(api, "reject", rejected, "--reason", "Error rate is up")).stdout
    cancelled = create(api, "To cancel")
    assert "CANCELLED" in ok(oversight(api, "cancel", cancelled, "--reason", "Not needed", bearer=REQUESTER)).stdout


def test_request_wait_exits_0_when_approved_and_1_when_rejected(api: str) -> None:
    approved = start(api, "request", "--uow-id", "w", "--type", "approval", "--title", "Approve me", "--wait", "--json")
    rejected = start(api, "request", "--uow-id", "w", "--type", "approval", "--title", "Reject me", "--wait")
    approve_id, reject_id = waiting_on(approved), waiting_on(rejected)
    call(api, "POST", f"/interventions/{approve_id}/approve", OPERATOR, {"reason": "fine", "response": {"n": 1}})
    call(api, "POST", f"/interventions/{reject_id}/reject", OPERATOR, {"reason": "not now"})
    out, err = approved.communicate(timeout=COMMAND_SECONDS)
    assert approved.returncode == 0, err
    final = json.loads(out)
    assert final["id"] == approve_id and final["status"] == "APPROVED" and final["response"] == {"n": 1}
    out, err = rejected.communicate(timeout=COMMAND_SECONDS)
    assert rejected.returncode == 1, err
    assert out.startswith("REJECTED by pilot-ana: not now")


def test_request_wait_exits_2_when_cancelled_and_3_on_timeout(api: str) -> None:
    cancelled = start(api, "request", "--uow-id", "w", "--type", "approval", "--title", "Withdrawn", "--wait")
    call(api, "POST", f"/interventions/{waiting_on(cancelled)}/cancel", REQUESTER, {"reason": "withdrawn"})
    out, err = cancelled.communicate(timeout=COMMAND_SECONDS)
    assert cancelled.returncode == 2, err
    assert out.startswith("CANCELLED")
    began = time.monotonic()
    timed_out = oversight(
        api,
        "request",
        "--uow-id",
        "w",
        "--type",
        "approval",
        "--title",
        "Too slow",
        "--wait",
        "--timeout",
        "2",
        "--json",
        bearer=REQUESTER,
    )
    assert timed_out.returncode == 3, timed_out.stderr
    assert json.loads(timed_out.stdout)["status"] == "PENDING"
    assert time.monotonic() - began < 20


def test_a_bad_token_exits_4_with_one_line_saying_how_to_get_one(api: str) -> None:
    forged = token("mallory", "admin", secret="not-the-runtime-secret-but-long-enough-for-hs256")
    for argv in (
        ["queue"],
        ["request", "--uow-id", "u", "--type", "approval", "--title", "x", "--wait"],
        ["stats", "--json"],
    ):
        result = oversight(api, *argv, bearer=forged)
        assert result.returncode == 4, result
        assert result.stdout == ""
        assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
        assert "signature" in result.stderr and "make -s token" in result.stderr
    missing = oversight(api, "queue", bearer=None)
    assert missing.returncode == 4 and "OVERSIGHT_TOKEN" in missing.stderr
    unknown = oversight(api, "show", "00000000-0000-4000-8000-000000000000")
    assert unknown.returncode == 4 and "404" in unknown.stderr and len(unknown.stderr.splitlines()) == 1


def test_jobs_and_stats(api: str) -> None:
    tools = ok(oversight(api, "jobs", "tools", "--json"))
    assert "recompute_stats" in {tool["name"] for tool in json.loads(tools.stdout)["items"]}
    run = ok(oversight(api, "jobs", "run", "recompute_stats", "--wait", "--json", bearer=ADMIN))
    job = json.loads(run.stdout)
    assert job["status"] == "COMPLETED" and job["tool"] == "recompute_stats"
    assert "COMPLETED" in ok(oversight(api, "jobs", "show", job["id"])).stdout
    exported = ok(oversight(api, "jobs", "run", "export_interventions", "format=csv", "--wait", bearer=REQUESTER))
    assert "COMPLETED" in exported.stdout and "Output files:" in exported.stdout
    submitted = ok(oversight(api, "jobs", "run", "export_interventions", "format=jsonl", "--json", bearer=REQUESTER))
    assert json.loads(submitted.stdout)["parameters"]["format"] == "jsonl"
    logs = ok(oversight(api, "jobs", "logs", job["id"]))
    lines = json.loads(ok(oversight(api, "jobs", "logs", job["id"], "--json")).stdout)["items"]
    assert lines and all(line["message"] in logs.stdout for line in lines)
    bad = oversight(api, "jobs", "run", "export_interventions", "format=xml", bearer=REQUESTER)
    assert bad.returncode == 4 and "format" in bad.stderr and len(bad.stderr.splitlines()) == 1

    stats = ok(oversight(api, "stats"))
    assert "Requests:" in stats.stdout and "Jobs:" in stats.stdout
    assert max(len(line) for line in stats.stdout.splitlines()) <= 80
    figures = json.loads(ok(oversight(api, "stats", "--json")).stdout)
    assert figures["interventions"]["total"] >= 1 and figures["jobs"]["by_status"]["COMPLETED"] >= 1


def test_request_wait_exits_2_when_expired(expiring: subprocess.Popen[str]) -> None:
    out, err = expiring.communicate(timeout=EXPIRY_SECONDS + 60)
    assert expiring.returncode == 2, f"{out}\n{err}"
    assert out.startswith("EXPIRED")
