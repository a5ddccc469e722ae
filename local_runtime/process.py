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
from pathlib import Path

from local_runtime.template import ROOT

_BANNER = re.compile(r"Oversight local runtime: (http://\S+)")


class RuntimeNotHealthy(RuntimeError):
    """The runtime exited, or did not answer /health in time (the message carries its log)."""


class RuntimeProcess:
    def __init__(self, state_dir: Path, log_path: Path, jwt_secret: str, template: Path | None = None) -> None:
        command = [sys.executable, "-m", "local_runtime", "serve", "--port", "0", "--state-dir", str(state_dir)]
        if template is not None:
            command += ["--template", str(template)]
        environment = {**os.environ, "OVERSIGHT_LOCAL_JWT_SECRET": jwt_secret}
        environment.pop("PORT", None)
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
