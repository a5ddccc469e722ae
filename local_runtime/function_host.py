"""One Lambda execution environment: a process of its own that imports one
function's handler and serves its invocations one at a time.

`python local_runtime/function_host.py SPEC_JSON RESPONSE_FD`, started by
`local_runtime.invocation`. Invocations arrive on stdin, one JSON line each
(`{"event": ..., "deadline": <epoch s>}`); each answer is one JSON line on
the file descriptor RESPONSE_FD. stdout and stderr stay the function's own,
as they are in Lambda (its logs).

It runs as a script and imports only the standard library: nothing of the
runtime (moto, the HTTP server, its modules) is in the function's process,
whose `sys.path` is Lambda's: the function's code folder (`/var/task`), then
the layer's (`/opt/python`), then the interpreter's own.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
import uuid
import warnings
from decimal import Decimal
from typing import Any

# Lambda refuses a larger result: "Exceeded maximum allowed payload size
# (6291556 bytes)", 6 MiB + 100; API Gateway then answers 500.
MAX_RESULT_BYTES = 6 * 1024 * 1024 + 100

READY = "ready"
RESULT = "result"
ERROR = "error"
INVALID_RESULT = "invalid_result"


class HostContext:
    """The Lambda context object, its remaining time counting down to the
    deadline the runtime set when the invocation started."""

    def __init__(self, function_name: str, memory_mb: int, deadline: float) -> None:
        region = os.environ.get("AWS_REGION", "us-east-1")
        account = "123456789012"  # the emulated account (template.ACCOUNT; this script imports nothing of ours)
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def _decimal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if value % 1 else int(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def serialise_result(function: str, result: Any) -> tuple[str, str]:
    """(kind, payload): the result as the Python runtime (3.12+) would return
    it (json.dumps with its default separators, Unicode unescaped, Decimal as
    a number), or why Lambda could not return it."""
    try:
        text = json.dumps(result, ensure_ascii=False, default=_decimal)
    except (TypeError, ValueError) as error:
        return INVALID_RESULT, f"{function} returned a result Lambda cannot serialise: {error}"
    size = len(text.encode())
    if size > MAX_RESULT_BYTES:
        return INVALID_RESULT, (
            f"{function} returned {size} bytes, over Lambda's {MAX_RESULT_BYTES}-byte response limit: "
            "Lambda would have failed the invocation"
        )
    return RESULT, text


def serve(spec: dict[str, Any], responses: Any) -> None:
    def answer(kind: str, payload: str) -> None:
        responses.write(json.dumps({"kind": kind, "payload": payload}, ensure_ascii=False).encode() + b"\n")
        responses.flush()

    try:
        module_name, _, function_name = spec["handler"].rpartition(".")
        handler = getattr(importlib.import_module(module_name), function_name)
    except BaseException:  # an import error: the runtime reports it at startup
        answer(ERROR, traceback.format_exc())
        return
    answer(READY, "")
    requests = os.fdopen(os.dup(0), "rb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # the function's own stdin is empty, as in Lambda
    for line in requests:
        request = json.loads(line)
        context = HostContext(spec["name"], spec["memory_mb"], request["deadline"])
        try:
            result = handler(request["event"], context)
        except Exception:
            answer(ERROR, traceback.format_exc())
            continue
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        answer(*serialise_result(spec["name"], result))


def main() -> None:
    spec = json.loads(sys.argv[1])
    # Not this script's folder (the runtime's own modules) but Lambda's path.
    sys.path[0:1] = [spec["code_uri"], spec["layer_path"]]
    responses = os.fdopen(int(sys.argv[2]), "wb")
    # Powertools warns after each invocation that emitted no metric.
    warnings.filterwarnings("ignore", "No application metrics to publish")
    serve(spec, responses)


if __name__ == "__main__":
    main()
