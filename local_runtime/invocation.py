"""Invoke a template function in-process with Lambda's concurrency model."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from local_runtime.context import LocalLambdaContext
from local_runtime.handlers import load_handler
from local_runtime.template import FunctionSpec

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]


class LocalFunction:
    """One function of the template. As in Lambda, an execution environment
    serves one invocation at a time, and a new one starts (a cold start) only
    when every environment is busy. Here an environment is a copy of the
    handler module: module-level state such as a resolver's current event is
    never shared by two concurrent requests."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        self._idle: list[Handler] = []
        self._started = 0
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.spec.logical_id

    def warm(self) -> None:
        """Start one environment now: import errors show at startup, and the
        first request does not pay for the import."""
        handler = self._acquire()
        self._release(handler)

    def invoke(self, event: dict[str, Any]) -> Any:
        handler = self._acquire()
        context = LocalLambdaContext(self.spec.logical_id, self.spec.timeout)
        started = time.monotonic()
        try:
            return handler(event, context)
        finally:
            self._release(handler)
            elapsed = time.monotonic() - started
            if elapsed > self.spec.timeout:
                # Threads cannot be stopped; Lambda would have ended this one.
                log.warning(
                    "%s ran %.1f s, over its %d s timeout: Lambda would have stopped it",
                    self.name,
                    elapsed,
                    self.spec.timeout,
                )

    def _acquire(self) -> Handler:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            instance = self._started
            self._started += 1
        return load_handler(self.spec, instance)

    def _release(self, handler: Handler) -> None:
        with self._lock:
            self._idle.append(handler)
