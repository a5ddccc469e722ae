"""`python -m local_runtime serve` as a child process on a port of its
choosing: for the end-to-end tests and `make load`, which drive a runtime
over real HTTP."""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from local_runtime.template import ROOT, TEMPLATE, Template

_BANNER = re.compile(r"Oversight local runtime: (http://\S+)")


class RuntimeNotHealthy(RuntimeError):
    """The runtime exited, or did not answer /health in time (the message carries its log)."""


class RuntimeProcess:
    def __init__(
        self,
        state_dir: Path,
        log_path: Path,
        jwt_secret: str,
        template: Path | None = None,
        environment: Mapping[str, str] | None = None,
        port: int = 0,
        arguments: Sequence[str] = (),
    ) -> None:
        """`environment`: variables set in the runtime's shell (overrides of
        the functions' settings, as `X=... make run` sets them)."""
        command = [sys.executable, "-m", "local_runtime", "serve", "--port", str(port), "--state-dir", str(state_dir)]
        if template is not None:
            command += ["--template", str(template)]
        command += list(arguments)
        # This process's variables, but none a function declares: the caller
        # (a test process that set the template's values for its own
        # in-process handlers) would otherwise override the functions' settings.
        declared = {name for spec in Template(template or TEMPLATE).functions() for name in spec.environment}
        inherited = {name: value for name, value in os.environ.items() if name not in declared}
        inherited.pop("PORT", None)
        environment = {**inherited, **(environment or {}), "OVERSIGHT_LOCAL_JWT_SECRET": jwt_secret}
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
        self.url = ""

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until_healthy(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeNotHealthy(f"the local runtime exited with {self.process.returncode}:\n{self.log}")
            found = _BANNER.search(self.log)
            if found:
                self.url = found.group(1)
                if self._health() == 200:
                    return
            time.sleep(0.05)
        raise RuntimeNotHealthy(f"the local runtime did not answer /health within {seconds:g} s:\n{self.log}")

    def _health(self) -> int | None:
        host, port = self.url.removeprefix("http://").rsplit(":", 1)
        connection = http.client.HTTPConnection(host, int(port), timeout=2)
        try:
            connection.request("GET", "/health")
            return connection.getresponse().status
        except OSError:
            return None
        finally:
            connection.close()

    def stop(self) -> int:
        """Ctrl-C, as a developer would; the runtime saves its state and exits."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode
