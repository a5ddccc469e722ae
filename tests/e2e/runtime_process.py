"""The local runtime as a subprocess (`python -m local_runtime serve`), on a
port of its choosing, and tokens it accepts."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from local_runtime.tokens import issue_token

ROOT = Path(__file__).resolve().parents[2]
JWT_SECRET = "e2e-secret-that-is-long-enough-for-hs256"
STARTUP_SECONDS = 30
_BANNER = re.compile(r"Oversight local runtime: (http://\S+)")


class RunningRuntime:
    def __init__(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.process = process
        self.log_path = log_path
        self.url = ""

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the local runtime exited with {self.process.returncode}:\n{self.log}")
            found = _BANNER.search(self.log)
            if found:
                self.url = found.group(1)
                try:
                    if requests.get(f"{self.url}/health", timeout=2).status_code == 200:
                        return
                except requests.ConnectionError:
                    pass
            time.sleep(0.05)
        pytest.fail(f"the local runtime did not answer /health within {STARTUP_SECONDS} s:\n{self.log}")

    def stop(self) -> int:
        """Ctrl-C, as a developer would; the runtime saves its state and exits."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


class RuntimeLauncher:
    def __init__(self, logs_dir: Path) -> None:
        self.logs_dir = logs_dir
        self.started: list[RunningRuntime] = []

    def start(self, state_dir: Path, template: Path | None = None) -> RunningRuntime:
        command = [sys.executable, "-m", "local_runtime", "serve", "--port", "0", "--state-dir", str(state_dir)]
        if template is not None:
            command += ["--template", str(template)]
        env = {**os.environ, "OVERSIGHT_LOCAL_JWT_SECRET": JWT_SECRET}
        env.pop("PORT", None)
        log_path = self.logs_dir / f"runtime-{len(self.started)}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        runtime = RunningRuntime(process, log_path)
        self.started.append(runtime)
        runtime.wait_until_healthy()
        return runtime

    def stop_all(self) -> None:
        for runtime in self.started:
            runtime.stop()


def bearer(sub: str, *roles: str, tenant: str = "acme", secret: str = JWT_SECRET, **token: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(sub, list(roles), tenant, secret, **token)}"}
