"""The README's "Try it" block, as a newcomer pastes it into a fresh clone.

The block is read from README.md itself, so the README cannot drift from
what works. "Fresh" means the files a clone would have plus the work not yet
committed (`git ls-files -co --exclude-standard`), without `.venv` or
`.oversight`: the copy bootstraps its own virtualenv, with `make run &` and
`make -s token` starting that bootstrap at the same moment, as they do on a
newcomer's first paste.

`curl` is wrapped by a shell function that records each call's status and
body in files, so every step can be checked while the block runs unchanged.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from local_runtime.template import ROOT

pytestmark = pytest.mark.e2e

# A fresh bootstrap is a pip install (~40 s on the 2-core dev box, pip's cache warm); the bound is for slow CI.
BLOCK_SECONDS = 420
STOP_SECONDS = 30
_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# Sourced before the block: records every curl call (status, body file, arguments) in $TRACE/calls.
_CURL_RECORDER = r"""
curl() {
  local body status code
  body=$(mktemp "$TRACE/body.XXXXXX")
  status=$(command curl -o "$body" -w '%{http_code}' "$@")
  code=$?
  printf '%s\t%s\t%s\n' "$status" "$body" "$(printf '%q ' "$@")" >> "$TRACE/calls"
  cat "$body"
  return $code
}
"""
_TRAILER = r"""
printf '%s\0' "ID=$ID" "REQ=$REQ" "OPS=$OPS" > "$TRACE/variables"
"""


@dataclass(frozen=True)
class Call:
    status: int
    body: str
    arguments: list[str]

    @property
    def method(self) -> str:
        if "-X" in self.arguments:
            return self.arguments[self.arguments.index("-X") + 1]
        return "GET"

    @property
    def path(self) -> str:
        url = next(argument for argument in self.arguments if argument.startswith("http"))
        return "/" + url.split("/", 3)[3]

    def json(self) -> object:
        return json.loads(self.body)


def readme_block() -> str:
    """The first fenced bash block under the "## Try it" heading."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Try it\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"^```bash\n(.*?)^```", section, flags=re.S | re.M)
    assert found, "README.md has no ```bash block under ## Try it"
    return found.group(1)


def fresh_copy(destination: Path) -> Path:
    """What a clone of the working tree would hold: tracked and untracked
    files that are not ignored (so no .venv, no .oversight)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is listed too
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def newcomer_environment(port: int, trace: Path) -> dict[str, str]:
    """The environment pytest was started with (/proc/self/environ: the test
    fixtures have since set the functions' variables in os.environ), minus
    whatever would make the copy less fresh: this checkout's virtualenv on
    PATH, and any setting of the runtime or of `make token`."""
    started_with = dict(
        entry.split("=", 1) for entry in Path("/proc/self/environ").read_text().split("\0") if "=" in entry
    )
    environment = {
        name: value
        for name, value in started_with.items()
        if not name.startswith("OVERSIGHT_LOCAL_")
        and name not in {"VIRTUAL_ENV", "PORT", "API", "SUB", "ROLES", "TENANT", "TTL", "EXPIRED"}
        and name not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}  # under `make test`: the block is not a sub-make
    }
    venv_bin = str(ROOT / ".venv" / "bin")
    environment["PATH"] = os.pathsep.join(p for p in environment.get("PATH", "").split(os.pathsep) if p != venv_bin)
    environment.update({"PORT": str(port), "TRACE": str(trace), "CI": "true"})
    return environment


def living_members(group: int) -> list[int]:
    """Processes of the group that are not zombies (a container's pid 1 may
    never reap the orphans), read from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, _parent, process_group = stat.rsplit(")", 1)[1].split()[:3]
        if int(process_group) == group and state != "Z":
            members.append(int(entry.name))
    return members


def stop_group(group: int) -> list[int]:
    """SIGTERM, as a stop of `make run` would be; then SIGKILL for anything
    left. Returns what still lives (nothing, unless a process is stuck)."""
    for stop_signal, seconds in ((signal.SIGTERM, STOP_SECONDS), (signal.SIGKILL, 5)):
        try:
            os.killpg(group, stop_signal)
        except ProcessLookupError:
            return []
        deadline = time.monotonic() + seconds
        while living_members(group) and time.monotonic() < deadline:
            time.sleep(0.2)
    return living_members(group)


def require_tools() -> None:
    """A developer's machine may lack one of these (skip); CI must not (fail)."""
    missing = [tool for tool in ("git", "curl", "bash") if not shutil.which(tool)]
    places = {"a git checkout": ROOT / ".git", "/proc": Path("/proc")}
    missing += [what for what, path in places.items() if not path.exists()]
    if missing:
        (pytest.fail if os.environ.get("CI") else pytest.skip)(f"the README check needs {', '.join(missing)}")


def test_the_readme_try_it_block_works_on_a_fresh_clone(tmp_path: Path) -> None:
    require_tools()
    # Given a fresh copy of the repository, no virtualenv and no data, and a free port
    clone = fresh_copy(tmp_path / "clone")
    assert not (clone / ".venv").exists() and not (clone / ".oversight").exists()
    trace = tmp_path / "trace"
    trace.mkdir()
    port = free_port()
    log_path = tmp_path / "block.log"

    # When the README's block runs there, as pasted into bash
    script = _CURL_RECORDER + readme_block() + _TRAILER
    with open(log_path, "wb") as log:
        shell = subprocess.Popen(
            ["bash", "-c", script],
            cwd=clone,
            env=newcomer_environment(port, trace),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: `make run &` and the functions go with it
        )
    try:
        returncode = shell.wait(timeout=BLOCK_SECONDS)
        output = log_path.read_text(errors="replace")
        assert returncode == 0, output

        # Then the tokens came back alone on stdout, though the first one waited for the bootstrap
        variables = dict(entry.split("=", 1) for entry in (trace / "variables").read_text().split("\0") if entry)
        assert _JWT.fullmatch(variables["REQ"]), output
        assert _JWT.fullmatch(variables["OPS"]), output
        # ... and `make run &` and `make token` bootstrapped .venv once between them, the other one waiting
        assert output.count("bootstrapping .venv with") == 1, output
        assert "waiting for another make target to finish bootstrapping .venv" in output, output

        calls = [
            Call(int(status), Path(body).read_text(), shlex.split(arguments))
            for status, body, arguments in (line.split("\t") for line in (trace / "calls").read_text().splitlines())
        ]
        health = [call for call in calls if call.path == "/health"]
        steps = [call for call in calls if call.path != "/health"]
        # ... the block waited for the server (its last health check answered, no message printed)
        assert health and health[-1].status == 200, output
        assert "no answer on" not in output

        # ... the request was raised and an id came back
        intervention_id = variables["ID"]
        assert _UUID.fullmatch(intervention_id), output
        assert [(call.method, call.path.split("?")[0], call.status) for call in steps] == [
            ("POST", "/interventions", 201),
            ("GET", "/interventions", 200),
            ("POST", f"/interventions/{intervention_id}/claim", 200),
            ("POST", f"/interventions/{intervention_id}/approve", 200),
            ("GET", f"/interventions/{intervention_id}/events", 200),
        ], output
        created, queue, claimed, approved, events = (call.json() for call in steps)
        assert created["id"] == intervention_id
        # ... the operator saw it in the queue, claimed and approved it
        assert [item["id"] for item in queue["items"]] == [intervention_id]
        assert (claimed["status"], claimed["assigned_to"]) == ("IN_PROGRESS", "pilot-ana")
        assert (approved["status"], approved["decided_by"]) == ("APPROVED", "pilot-ana")
        # ... and the audit trail has the three events, by whom they were made
        assert [(event["actor"], event["to_status"]) for event in events["items"]] == [
            ("agent-7", "PENDING"),
            ("pilot-ana", "IN_PROGRESS"),
            ("pilot-ana", "APPROVED"),
        ]
    finally:
        # the server `make run &` left running, and anything else the block started
        left = stop_group(shell.pid)
        if shell.poll() is None:
            shell.kill()
            shell.wait()
    assert left == [], log_path.read_text(errors="replace")
