"""Process-wide Powertools Logger, Metrics and (where it pays) Tracer, one
set per Lambda, and the one way a Lambda entry point is wrapped with them.

The Tracer is made only for the functions that ask for it: making one loads
the X-Ray SDK and patches botocore and the HTTP clients, ~100 ms of a cold
start (docs/decisions.md). The API functions do without it: Lambda's active
tracing still records each invocation (and a cold start's initialisation)
in X-Ray, and every log line names the trace (`xray_trace_id`)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
metrics = Metrics()


@cache
def tracer() -> Tracer:
    """The process's Tracer, made on first use."""
    return Tracer()


Handler = Callable[[dict[str, Any], Any], Any]


def entry_point(
    handler: Handler,
    *,
    correlation_id_path: str | None = None,
    cold_start_metric: bool = False,
    traced: bool = True,
) -> Handler:
    """`handler` as Lambda calls it: each invocation logs with a fresh state
    (and the event's correlation id, at `correlation_id_path`), flushes its
    metrics (with a ColdStart metric on the first one when
    `cold_start_metric`) and, when `traced`, runs in a Tracer subsegment with
    every AWS and HTTP call it makes as a subsegment of its own; the event
    itself is never logged. The logger is outermost, so its context (and the
    state it clears) spans the whole invocation, trace and flush included."""
    measured = metrics.log_metrics(handler, capture_cold_start_metric=cold_start_metric)
    traced_handler = tracer().capture_lambda_handler(measured) if traced else measured
    # Never the incoming event, whatever POWERTOOLS_LOGGER_LOG_EVENT says: it can hold a callback secret,
    # a task token or a caller's credentials in a tool's parameters.
    return logger.inject_lambda_context(
        traced_handler, correlation_id_path=correlation_id_path, clear_state=True, log_event=False
    )
