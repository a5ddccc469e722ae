"""Functions invoked as Lambda invokes them: each execution environment a
process of its own, serving one invocation at a time, with the function's
own variables and module state."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_runtime.invocation import FunctionError, FunctionTimeout, LocalFunction
from local_runtime.template import FunctionSpec
from tests.unit.conftest import bare_environment

# Keeps the request it serves in module state, as a resolver does; a request
# asking to wait holds its environment until a file appears.
HANDLER = """
import os
import sys
import time
from pathlib import Path

import helper  # a sibling module: the code folder is on sys.path, as /var/task is

current = None


def handler(event, context):
    global current
    current = event["request"]
    if event.get("exit"):
        os._exit(3)
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("wait"):
        Path(event["wait"] + ".entered").touch()
        while not Path(event["wait"]).exists():
            time.sleep(0.01)
    if event.get("raise"):
        raise ValueError("asked to")
    return {
        "served": current,
        "pid": os.getpid(),
        "remaining_ms": context.get_remaining_time_in_millis(),
        "variables": {name: os.environ.get(name) for name in event.get("variables", [])},
        "helper": helper.NAME,
        "runtime_loaded": any(name.startswith("local_runtime") or name == "moto" for name in sys.modules),
    }
"""


@pytest.fixture
def make_function(tmp_path: Path) -> Iterator[Any]:
    started: list[LocalFunction] = []

    def make(timeout: int = 3, code: str = HANDLER, **variables: str) -> LocalFunction:
        folder = tmp_path / f"stateful_{uuid.uuid4().hex[:8]}"
        folder.mkdir()
        (folder / "app.py").write_text(code)
        (folder / "helper.py").write_text(f"NAME = {folder.name!r}\n")
        spec = FunctionSpec("StatefulFunction", folder, "app.handler", dict(variables), timeout=timeout)
        function = LocalFunction(spec, *bare_environment(**variables))
        started.append(function)
        return function

    yield make
    for function in started:
        function.stop()


def test_sequential_invocations_reuse_the_warm_environment(make_function: Any) -> None:
    function = make_function()
    function.warm()

    first = function.invoke({"request": 1})
    second = function.invoke({"request": 2})

    assert first["pid"] == second["pid"] and function.environments == 1
    assert 0 < second["remaining_ms"] <= 3000
    assert first["helper"].startswith("stateful_")
    assert first["runtime_loaded"] is False  # nothing of the runtime (or moto) is in the function's process


def test_concurrent_invocations_never_share_module_state(make_function: Any, tmp_path: Path) -> None:
    function = make_function()
    function.warm()
    gate = str(tmp_path / "gate")
    results: dict[str, dict[str, Any]] = {}
    slow = threading.Thread(target=lambda: results.update(slow=function.invoke({"request": "slow", "wait": gate})))
    slow.start()
    for _ in range(500):
        if Path(gate + ".entered").exists():
            break
        time.sleep(0.01)

    results["fast"] = function.invoke({"request": "fast"})  # while the warm environment is busy
    Path(gate).touch()
    slow.join(5)

    assert results["fast"]["pid"] != results["slow"]["pid"]  # a cold start: another process
    assert results["slow"]["served"] == "slow"  # the slow request still sees its own state
    assert function.environments == 2


def test_each_function_sees_its_own_variables_only(make_function: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME_OF_THE_TEST_RUNNER", "the runtime's own variable")
    first = make_function(SHARED_NAME="first", ONLY_FIRST="1")
    second = make_function(SHARED_NAME="second")
    names = ["SHARED_NAME", "ONLY_FIRST", "HOME_OF_THE_TEST_RUNNER"]

    assert first.invoke({"request": 1, "variables": names})["variables"] == {
        "SHARED_NAME": "first",
        "ONLY_FIRST": "1",
        "HOME_OF_THE_TEST_RUNNER": None,
    }
    assert second.invoke({"request": 1, "variables": names})["variables"]["SHARED_NAME"] == "second"
    assert second.invoke({"request": 1, "variables": names})["variables"]["ONLY_FIRST"] is None


def test_an_invocation_over_its_timeout_is_stopped_and_the_environment_replaced(make_function: Any) -> None:
    function = make_function(timeout=1)
    before = function.invoke({"request": 1})["pid"]

    with pytest.raises(FunctionTimeout, match="timed out after 1 s"):
        function.invoke({"request": 2, "sleep": 30})

    after = function.invoke({"request": 3})
    assert after["pid"] != before and function.environments == 1


def test_a_handler_that_raises_keeps_its_environment_and_reports_its_traceback(make_function: Any) -> None:
    function = make_function()
    pid = function.invoke({"request": 1})["pid"]

    with pytest.raises(FunctionError, match="ValueError: asked to") as raised:
        function.invoke({"request": 2, "raise": True})

    assert "Traceback" in str(raised.value)
    assert function.invoke({"request": 3})["pid"] == pid


def test_an_environment_whose_process_dies_is_replaced(make_function: Any) -> None:
    function = make_function()
    pid = function.invoke({"request": 1})["pid"]

    with pytest.raises(FunctionError, match=r"exited \(3\)"):
        function.invoke({"request": 2, "exit": True})

    assert function.invoke({"request": 3})["pid"] != pid
    assert function.environments == 1


def test_the_function_s_output_reaches_the_runtime_line_by_line(tmp_path: Path) -> None:
    folder = tmp_path / "printer"
    folder.mkdir()
    (folder / "app.py").write_text(
        "import sys\n"
        "def handler(event, context):\n"
        '    print(\'{"level": "INFO", "message": "hello"}\')\n'
        "    print('to stderr', file=sys.stderr)\n"
        "    return 1\n"
    )
    variables, _ = bare_environment()
    lines: list[tuple[str, str]] = []
    function = LocalFunction(
        FunctionSpec("PrintingFunction", folder, "app.handler", {}, timeout=3),
        variables,
        lambda *line: lines.append(line),
    )
    try:
        assert function.invoke({}) == 1
        for _ in range(200):
            if len(lines) == 2:
                break
            time.sleep(0.01)
    finally:
        function.stop()
    assert sorted(lines) == [
        ("PrintingFunction", "to stderr"),
        ("PrintingFunction", '{"level": "INFO", "message": "hello"}'),
    ]


def test_a_function_that_cannot_import_fails_its_start_with_the_traceback(make_function: Any) -> None:
    function = make_function(code="import not_a_module_anywhere\n")

    with pytest.raises(FunctionError, match="could not start(.|\n)*ModuleNotFoundError"):
        function.warm()
    assert function.environments == 0
