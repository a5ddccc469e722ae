"""Invoke a template function as Lambda does: in execution environments of
its own, each a separate process (local_runtime/function_host.py) that
serves one invocation at a time.

Each environment has the function's own environment variables, its own
module state (the handler's and the layer's: Powertools objects, caches,
clients) and its own interpreter, exactly as two Lambda functions never
share anything but the data they reach over AWS APIs. A new environment
starts (a cold start) only when every one is busy; one that exceeds the
function's timeout is stopped, as Lambda stops it."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from local_runtime import function_host
from local_runtime.handlers import LAYER_PATH
from local_runtime.template import FunctionSpec

log = logging.getLogger(__name__)

HOST_SCRIPT = Path(function_host.__file__)
MEMORY_MB = 512
# Lambda gives an environment 10 s to start (its init phase) before the
# first invocation; an import that takes longer is a failed start.
INIT_SECONDS = 10.0
# More environments than this per function only queue for the same two
# cores; Lambda would keep scaling (to the account's concurrency).
DEFAULT_MAX_ENVIRONMENTS = 8

# What the function's output lines are handed to: (function, line).
OutputSink = Callable[[str, str], None]


class FunctionError(Exception):
    """The handler raised (the message is its traceback, from its process),
    or its environment died or timed out: what Lambda reports as a function
    error."""


class InvalidResult(FunctionError):
    """A result the Lambda runtime could not return: not JSON, or too large."""


class FunctionTimeout(FunctionError):
    pass


class Environment:
    """One execution environment: a process running function_host."""

    def __init__(self, spec: FunctionSpec, variables: Mapping[str, str], output: OutputSink) -> None:
        self.spec = spec
        host_spec = {
            "name": spec.logical_id,
            "code_uri": str(spec.code_uri),
            "layer_path": str(LAYER_PATH),
            "handler": spec.handler,
            "memory_mb": MEMORY_MB,
        }
        read_fd, write_fd = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, str(HOST_SCRIPT), json.dumps(host_spec), str(write_fd)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=dict(variables),
                cwd=spec.code_uri,
                pass_fds=(write_fd,),
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        self._responses = read_fd
        self._buffer = b""
        assert self.process.stdout is not None
        self._output = threading.Thread(
            target=_forward_output,
            args=(self.process.stdout, spec.logical_id, output),
            name=f"{spec.logical_id}-output",
            daemon=True,
        )
        self._output.start()
        kind, payload = self._answer(INIT_SECONDS, "start")
        if kind != function_host.READY:
            self.close()
            raise FunctionError(f"{spec.logical_id} could not start:\n{payload}")

    def invoke(self, event: dict[str, Any]) -> Any:
        deadline = time.time() + self.spec.timeout
        request = json.dumps({"event": event, "deadline": deadline}, ensure_ascii=False).encode() + b"\n"
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(request)
            self.process.stdin.flush()
        except OSError as error:
            raise FunctionError(f"{self.spec.logical_id}'s environment is gone: {error}") from error
        kind, payload = self._answer(self.spec.timeout, "run")
        if kind == function_host.RESULT:
            return json.loads(payload)
        if kind == function_host.INVALID_RESULT:
            raise InvalidResult(payload)
        raise FunctionError(payload)

    def _answer(self, seconds: float, phase: str) -> tuple[str, str]:
        deadline = time.monotonic() + seconds
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            readable = select.select([self._responses], [], [], max(0.0, remaining))[0] if remaining > 0 else []
            if not readable:
                self.close()
                raise FunctionTimeout(
                    f"{self.spec.logical_id} timed out after {seconds:g} s ({phase}): Lambda stops it there"
                )
            chunk = os.read(self._responses, 1 << 20)
            if not chunk:
                code = self.close()
                raise FunctionError(f"{self.spec.logical_id}'s process exited ({code}) during its {phase}")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        answer = json.loads(line)
        return answer["kind"], answer["payload"]

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> int | None:
        """Stop the process (Lambda ends an environment the same way: no
        shutdown hook runs)."""
        if self.process.poll() is None:
            self.process.kill()
        code = self.process.wait()
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):  # a broken pipe: the process is gone anyway
                self.process.stdin.close()
        if self._responses >= 0:
            os.close(self._responses)
            self._responses = -1
        return code


def _forward_output(stream: IO[bytes], function: str, output: OutputSink) -> None:
    for raw in stream:
        output(function, raw.decode("utf-8", "replace").rstrip("\n"))


class LocalFunction:
    """One function of the template and its pool of execution environments."""

    def __init__(
        self,
        spec: FunctionSpec,
        variables: Mapping[str, str],
        output: OutputSink,
        max_environments: int = DEFAULT_MAX_ENVIRONMENTS,
    ) -> None:
        self.spec = spec
        self.variables = dict(variables)
        self._output = output
        self._idle: list[Environment] = []
        self._all: list[Environment] = []
        self._starting = 0
        self._max = max_environments
        self._available = threading.Condition()
        self._closed = False

    @property
    def name(self) -> str:
        return self.spec.logical_id

    @property
    def environments(self) -> int:
        return len(self._all)

    def warm(self) -> None:
        """Start one environment now: import errors show at startup, and the
        first request does not pay for the import."""
        self._release(self._acquire())

    def invoke(self, event: dict[str, Any]) -> Any:
        """The handler's result; a FunctionError where Lambda would report a
        function error (the handler raised, timed out, or returned a result
        Lambda refuses: InvalidResult)."""
        environment = self._acquire()
        try:
            result = environment.invoke(event)
        except FunctionError:
            if not environment.alive:
                self._discard(environment)
                raise
            self._release(environment)
            raise
        self._release(environment)
        return result

    def _acquire(self) -> Environment:
        with self._available:
            while True:
                if self._closed:
                    raise FunctionError(f"{self.name} is stopping")
                if self._idle:
                    return self._idle.pop()
                if len(self._all) + self._starting < self._max:
                    self._starting += 1
                    break
                self._available.wait()
        try:
            environment = Environment(self.spec, self.variables, self._output)  # a cold start
        finally:
            with self._available:
                self._starting -= 1
                self._available.notify_all()
        with self._available:
            self._all.append(environment)
        return environment

    def _release(self, environment: Environment) -> None:
        with self._available:
            if self._closed:
                environment.close()
                return
            self._idle.append(environment)
            self._available.notify_all()

    def _discard(self, environment: Environment) -> None:
        environment.close()
        with self._available:
            if environment in self._all:
                self._all.remove(environment)
            self._available.notify_all()

    def stop(self) -> None:
        """End every environment; one still running is stopped where it is."""
        with self._available:
            self._closed = True
            environments, self._idle = list(self._all), []
            self._available.notify_all()
        for environment in environments:
            environment.close()
