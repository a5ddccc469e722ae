"""Quiet by default: of the functions' own output, errors and anything
that is not a JSON log line; every line with --verbose; metric (EMF) lines
only when metrics are turned on."""

from __future__ import annotations

import io
import json

import pytest

from local_runtime.function_logs import FunctionOutput

INFO = json.dumps({"level": "INFO", "message": "request handled"})
ERROR = json.dumps({"level": "ERROR", "message": "boom"})
EMF = json.dumps({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "Oversight"}]}, "ColdStart": [1.0]})
TRACEBACK = "Traceback (most recent call last):"


@pytest.mark.parametrize(
    "verbose, metrics, shown",
    [
        (False, False, [ERROR, TRACEBACK]),
        (True, False, [INFO, ERROR, TRACEBACK]),
        (False, True, [ERROR, EMF, TRACEBACK]),
        (True, True, [INFO, ERROR, EMF, TRACEBACK]),
    ],
)
def test_what_is_printed_of_a_function_s_output(verbose: bool, metrics: bool, shown: list[str]) -> None:
    stream = io.StringIO()
    output = FunctionOutput(verbose=verbose, metrics=metrics, stream=stream)

    for line in (INFO, ERROR, EMF, TRACEBACK, "   "):
        output("ReadStatsFunction", line)

    assert stream.getvalue().splitlines() == [f"ReadStatsFunction {line}" for line in shown]
