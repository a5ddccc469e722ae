"""Functions invoked in-process with Lambda's concurrency model."""

from __future__ import annotations

import sys
import threading
import uuid
from pathlib import Path
from typing import Any

from local_runtime.invocation import LocalFunction
from local_runtime.template import FunctionSpec

# Keeps the request it serves in module state, as a resolver does; a request
# asking to wait holds its environment until the test releases it.
HANDLER = '''
import threading

current = None
entered = threading.Event()
release = threading.Event()


def handler(event, context):
    global current
    current = event["request"]
    if event.get("wait"):
        entered.set()
        release.wait(5)
    return {"served": current, "module": __name__, "remaining_ms": context.get_remaining_time_in_millis()}
'''


def warm_function(tmp_path: Path) -> tuple[LocalFunction, Any]:
    """The function, and the module of its first (warm) environment."""
    folder = tmp_path / f"stateful_{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    (folder / "app.py").write_text(HANDLER)
    function = LocalFunction(FunctionSpec("StatefulFunction", folder, "app.handler", {}, timeout=3))
    function.warm()
    return function, sys.modules[f"oversight_function_{folder.name}"]


def test_sequential_invocations_reuse_the_warm_environment(tmp_path: Path) -> None:
    function, warm = warm_function(tmp_path)

    first = function.invoke({"request": 1})
    second = function.invoke({"request": 2})

    assert first["module"] == second["module"] == warm.__name__
    assert 0 < second["remaining_ms"] <= 3000


def test_concurrent_invocations_never_share_module_state(tmp_path: Path) -> None:
    function, warm = warm_function(tmp_path)
    results: dict[str, dict[str, Any]] = {}
    slow = threading.Thread(target=lambda: results.update(slow=function.invoke({"request": "slow", "wait": True})))
    slow.start()
    assert warm.entered.wait(5)

    results["fast"] = function.invoke({"request": "fast"})  # while the warm environment is busy
    warm.release.set()
    slow.join(5)

    assert results["fast"]["module"] != warm.__name__  # a cold start: another copy of the module
    # the slow request still sees its own state, not the fast one's
    assert (results["slow"]["served"], results["slow"]["module"]) == ("slow", warm.__name__)
