"""What the runtime prints of the functions' own output (their stdout and
stderr, which Lambda sends to CloudWatch Logs).

Quiet by default: the runtime's one line per request, batch and scheduled
run says what happened; of the functions' JSON logs only errors are shown,
with anything that is not JSON (a traceback, a print). `--verbose` (or
`LOG_LEVEL` in the shell) shows every line. Metric lines (CloudWatch EMF)
are shown only when metrics were turned on
(`POWERTOOLS_METRICS_DISABLED=false`): there is no CloudWatch here to read
them."""

from __future__ import annotations

import json
import sys
import threading
from typing import Any, TextIO

_SHOWN_WHEN_QUIET = {"ERROR", "CRITICAL", "FATAL"}


def is_metric_line(record: Any) -> bool:
    return isinstance(record, dict) and isinstance(record.get("_aws"), dict) and "CloudWatchMetrics" in record["_aws"]


class FunctionOutput:
    def __init__(self, verbose: bool, metrics: bool, stream: TextIO | None = None) -> None:
        self.verbose = verbose
        self.metrics = metrics
        self._stream = stream
        self._lock = threading.Lock()

    def __call__(self, function: str, line: str) -> None:
        if not line.strip():
            return
        if self.shown(line):
            with self._lock:
                stream = self._stream or sys.stdout
                stream.write(f"{function} {line}\n")
                stream.flush()

    def shown(self, line: str) -> bool:
        try:
            record = json.loads(line)
        except ValueError:
            return True  # a traceback or a print: never hidden
        if is_metric_line(record):
            return self.metrics
        if self.verbose:
            return True
        level = str(record.get("level", "")).upper() if isinstance(record, dict) else ""
        return level in _SHOWN_WHEN_QUIET
