"""Invoke a template function in-process with Lambda's concurrency model."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from decimal import Decimal
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
        per_thread_router_state()
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
        """The handler's result, or an exception where Lambda would report a
        function error (the handler raised, or its result is one Lambda
        refuses: InvalidResult)."""
        handler = self._acquire()
        context = LocalLambdaContext(self.spec.logical_id, self.spec.timeout)
        started = time.monotonic()
        try:
            result = handler(event, context)
            check_result(self.name, result)
            return result
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


# Lambda refuses a larger result: "Exceeded maximum allowed payload size
# (6291556 bytes)", 6 MiB + 100; API Gateway then answers 500.
MAX_RESULT_BYTES = 6 * 1024 * 1024 + 100


class InvalidResult(Exception):
    """A result the Lambda runtime could not return: not JSON, or too large."""


def result_size(result: Any) -> int:
    """The result's bytes as the Python runtime (3.12+) serialises it:
    json.dumps with its default separators, Unicode unescaped, Decimal as a
    number."""

    def decimal(value: Any) -> Any:
        if isinstance(value, Decimal):
            return float(value) if value % 1 else int(value)
        raise TypeError(f"{type(value).__name__} is not JSON serializable")

    return len(json.dumps(result, ensure_ascii=False, default=decimal).encode())


def check_result(function: str, result: Any) -> None:
    try:
        size = result_size(result)
    except (TypeError, ValueError) as error:
        raise InvalidResult(f"{function} returned a result Lambda cannot serialise: {error}") from error
    if size > MAX_RESULT_BYTES:
        raise InvalidResult(
            f"{function} returned {size} bytes, over Lambda's {MAX_RESULT_BYTES}-byte response limit: "
            "Lambda would have failed the invocation"
        )


class _PerThread:
    """A data descriptor whose value is per thread."""

    _values = threading.local()

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        try:
            return getattr(self._values, self.name)
        except AttributeError:
            raise AttributeError(self.name) from None

    def __set__(self, instance: Any, value: Any) -> None:
        setattr(self._values, self.name, value)


_ROUTER_STATE = ("current_event", "lambda_context")


def per_thread_router_state() -> None:
    """Powertools' event handler keeps the event being handled, and its
    context, in class attributes of `BaseRouter`, shared by every resolver
    of the process: right in Lambda (one invocation per process at a time),
    wrong here, where concurrent invocations run in threads of one process
    and each would read the body, query and headers of whichever request
    started last. Made per thread (an invocation runs on one thread), both
    for reads and writes through the class and through a resolver."""
    try:
        from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
    except ImportError:  # a function that does not use the event handler
        return
    metaclass = type(BaseRouter)
    if getattr(metaclass, "_oversight_per_thread", False):
        return
    # Instances (app.current_event, self.current_event = ...) meet this one...
    for name in _ROUTER_STATE:
        setattr(BaseRouter, name, _PerThread(name))
    # ...and `BaseRouter.current_event = ...` this one, on the metaclass.
    per_thread = type(
        f"PerThread{metaclass.__name__}",
        (metaclass,),
        {"_oversight_per_thread": True, **{name: _PerThread(name) for name in _ROUTER_STATE}},
    )
    BaseRouter.__class__ = per_thread
