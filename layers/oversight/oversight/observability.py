"""Process-wide Powertools Logger, Tracer and Metrics (one set per Lambda),
and the one way a Lambda entry point is wrapped with them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()

Handler = Callable[[dict[str, Any], Any], Any]


def entry_point(
    handler: Handler, *, correlation_id_path: str | None = None, cold_start_metric: bool = False
) -> Handler:
    """`handler` as Lambda calls it: each invocation logs with a fresh state
    (and the event's correlation id, at `correlation_id_path`), is traced,
    and flushes its metrics (with a ColdStart metric on the first one when
    `cold_start_metric`); the event itself is never logged. The logger is outermost, so its context (and the
    state it clears) spans the whole invocation, trace and flush included."""
    measured = metrics.log_metrics(handler, capture_cold_start_metric=cold_start_metric)
    traced = tracer.capture_lambda_handler(measured)
    # Never the incoming event, whatever POWERTOOLS_LOGGER_LOG_EVENT says: it can hold a callback secret,
    # a task token or a caller's credentials in a tool's parameters.
    return logger.inject_lambda_context(
        traced, correlation_id_path=correlation_id_path, clear_state=True, log_event=False
    )
