"""The functions' Step Functions calls, shown in the runtime's log: which
call, the end of its task token, the output or the error and cause (cut at
500 characters), and the answer (its status, and the error AWS would name:
InvalidToken for a token no execution waits on, TaskTimedOut,
TaskDoesNotExist). moto runs the executions (local_runtime/aws.py), so an
execution created in the emulator with a `.waitForTaskToken` step resumes
on the function's call."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from io import BytesIO
from typing import Any

from local_runtime.s3_gateway import WsgiApp

log = logging.getLogger("local_runtime.stepfunctions")

_PREFIX = "AWSStepFunctions."
LOGGED = ("SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat")
_SHOWN_CHARACTERS = 500


class TaskCallLog:
    """WSGI middleware on the emulator: logs every call in LOGGED."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        operation = target[len(_PREFIX) :] if target.startswith(_PREFIX) else ""
        if operation not in LOGGED:
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = BytesIO(body)
        status: list[str] = []

        def record_status(code: str, headers: Any, *rest: Any) -> Any:
            status.append(code)
            return start_response(code, headers, *rest)

        answer: list[bytes] = []
        try:
            answer = list(self.app(environ, record_status))
            return answer
        finally:
            log.info("%s", describe(operation, body, status[0] if status else "no answer", b"".join(answer)))


def describe(operation: str, body: bytes, status: str, answer: bytes = b"") -> str:
    """One log line for a call: `Step Functions SendTaskFailure (token
    ...abcd1234) error Oversight.Rejected cause {...} -> 200 OK`, or with
    the error AWS answers (`-> 400 BAD REQUEST InvalidToken`)."""
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        request = {}
    token = str(request.get("taskToken", ""))
    parts = [f"Step Functions {operation} (token ...{token[-8:]})"]
    if "output" in request:
        parts.append(f"output {_cut(request['output'])}")
    if "error" in request:
        parts.append(f"error {_cut(request['error'])}")
    if "cause" in request:
        parts.append(f"cause {_cut(request['cause'])}")
    parts.append(f"-> {status}")
    if not status.startswith("2"):
        parts.append(_error_code(answer))
    return " ".join(parts)


def _error_code(answer: bytes) -> str:
    """The error a JSON-protocol answer names (`__type`, without its namespace)."""
    try:
        found = json.loads(answer or b"{}")
    except ValueError:
        return ""
    code = found.get("__type", "") if isinstance(found, dict) else ""
    return str(code).rpartition("#")[2]


def _cut(value: Any) -> str:
    text = str(value)
    return text if len(text) <= _SHOWN_CHARACTERS else text[:_SHOWN_CHARACTERS] + f"... ({len(text)} characters)"
