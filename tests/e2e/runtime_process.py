"""The local runtime as a subprocess (`python -m local_runtime serve`), on a
port of its choosing, and tokens it accepts."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from local_runtime.process import RuntimeNotHealthy, RuntimeProcess
from local_runtime.tokens import issue_token

JWT_SECRET = "e2e-secret-that-is-long-enough-for-hs256"
STARTUP_SECONDS = 30


class RunningRuntime(RuntimeProcess):
    def wait_until_healthy(self, seconds: float = STARTUP_SECONDS) -> None:
        try:
            super().wait_until_healthy(seconds)
        except RuntimeNotHealthy as error:
            pytest.fail(str(error))


class RuntimeLauncher:
    def __init__(self, logs_dir: Path) -> None:
        self.logs_dir = logs_dir
        self.started: list[RunningRuntime] = []

    def start(
        self,
        state_dir: Path,
        template: Path | None = None,
        environment: Mapping[str, str] | None = None,
        port: int = 0,
        arguments: Sequence[str] = (),
    ) -> RunningRuntime:
        log_path = self.logs_dir / f"runtime-{len(self.started)}.log"
        runtime = RunningRuntime(state_dir, log_path, JWT_SECRET, template, environment, port, arguments)
        self.started.append(runtime)
        runtime.wait_until_healthy()
        return runtime

    def stop_all(self) -> None:
        for runtime in self.started:
            runtime.stop()


def bearer(sub: str, *roles: str, tenant: str = "acme", secret: str = JWT_SECRET, **token: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(sub, list(roles), tenant, secret, **token)}"}


_EMULATOR = re.compile(r"emulated by moto at\s+(http://\S+?):? no AWS account")


def emulator_endpoint(runtime: RuntimeProcess) -> str:
    """The endpoint of the runtime's emulated AWS (its banner names it)."""
    found = _EMULATOR.search(" ".join(runtime.log.split()))
    assert found, f"no emulator endpoint in the banner:\n{runtime.log}"
    return found.group(1)
