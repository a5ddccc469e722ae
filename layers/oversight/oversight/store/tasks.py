"""Step Functions: the result of a task waiting on a request (its token)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from botocore.exceptions import ClientError

from oversight.store.faults import new_client

# Errors after which the token can never be answered: the task is gone.
FINAL_ERRORS = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})
MAX_CAUSE_CHARS = 32_768


class TaskGone(Exception):
    """The task no longer waits (timed out, unknown, or its token is invalid)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@cache
def _states() -> Any:
    return new_client("stepfunctions")


def _answered(call: Any) -> None:
    try:
        call()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in FINAL_ERRORS:
            raise TaskGone(code) from None
        raise


def send_success(token: str, output: dict[str, Any]) -> None:
    body = json.dumps(output, separators=(",", ":"), ensure_ascii=False)
    _answered(lambda: _states().send_task_success(taskToken=token, output=body))


def send_failure(token: str, error: str, cause: str) -> None:
    _answered(lambda: _states().send_task_failure(taskToken=token, error=error, cause=cause))
