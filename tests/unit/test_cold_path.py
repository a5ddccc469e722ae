"""What a function's cold start loads: the API functions never make a
Tracer (the X-Ray SDK and its patching of botocore, ~30 ms in Lambda and
~100 ms outside it) nor import boto3, the asynchronous ones make one; the layer's build turns
Powertools' re-exporting packages lazy without changing what they export."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

from bench.cold_start import lambda_environment
from local_runtime.environment import function_environments
from local_runtime.handlers import LAYER_PATH
from local_runtime.template import Template

sys.path.insert(0, str(LAYER_PATH))  # the build script sits beside the package
import lazy_exports  # noqa: E402

TEMPLATE = Template()
# The console's function (console/) is the standard library alone, without the layer.
API = sorted(spec.name for spec in TEMPLATE.functions() if spec.routes and spec.name != "console")
ASYNCHRONOUS = ["run_job", "sweep", "publish_events", "deliver_webhooks"]
PROBE = """
import json, sys
sys.path[0:0] = [sys.argv[1], sys.argv[2]]
import app
print(json.dumps(sorted(name for name in sys.modules if name.startswith(('aws_', 'boto3')))))
"""


def loaded_modules(name: str) -> list[str]:
    spec = next(spec for spec in TEMPLATE.functions() if spec.name == name)
    region = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}
    environments, _ = function_environments([spec], {}, region)  # its settings: its import checks them
    environment = lambda_environment(environments[spec.logical_id])
    finished = subprocess.run(
        [sys.executable, "-c", PROBE, str(spec.code_uri), str(LAYER_PATH)],
        env=environment,
        capture_output=True,
        text=True,
        cwd=spec.code_uri,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return json.loads(finished.stdout.splitlines()[-1])


def test_the_lists_name_every_function() -> None:
    assert set(API) | set(ASYNCHRONOUS) == {spec.name for spec in TEMPLATE.functions()} - {"console"}


@pytest.mark.parametrize("name", API)
def test_an_api_function_starts_without_the_xray_sdk_or_boto3(name: str) -> None:
    """boto3 (~14 ms) only for S3's managed upload: the clients are botocore's."""
    assert [module for module in loaded_modules(name) if module.startswith(("aws_xray_sdk", "boto3"))] == []


@pytest.mark.parametrize("name", ASYNCHRONOUS)
def test_an_asynchronous_function_is_traced_by_the_sdk(name: str) -> None:
    assert "aws_xray_sdk.core" in loaded_modules(name)


SAMPLE = '''"""Resolvers."""
from __future__ import annotations
from pkg.one import A, B as C
from .two import D
__all__ = ["A", "C", "D"]
'''


def test_the_lazy_form_keeps_the_names_and_imports_nothing_until_used() -> None:
    source = lazy_exports.lazy_source(SAMPLE, "pkg")
    module = types.ModuleType("pkg")
    exec(compile(source, "pkg/__init__.py", "exec"), module.__dict__)  # noqa: S102  # the generated module
    assert module.__all__ == ["A", "C", "D"]
    assert {"A", "C", "D"} <= set(dir(module))
    assert module._EXPORTS == {"A": ("pkg.one", "A"), "C": ("pkg.one", "B"), "D": ("pkg.two", "D")}
    with pytest.raises(AttributeError, match="no attribute 'E'"):
        module.E  # noqa: B018


@pytest.mark.parametrize(
    "statement",
    [
        "import os",
        "from os import path",
        "x.y = 1",
        "if True:\n    pass",
        "def f():\n    pass",
        "from pkg.one import *",
    ],
)
def test_anything_but_exports_fails_the_build(statement: str) -> None:
    with pytest.raises(lazy_exports.NotOnlyExports):
        lazy_exports.lazy_source(SAMPLE + statement + "\n", "pkg")


@pytest.mark.parametrize(
    "package", ["aws_lambda_powertools.event_handler", "aws_lambda_powertools.utilities.data_classes"]
)
def test_the_powertools_packages_export_the_same_objects_lazily(package: str) -> None:
    eager = importlib.import_module(package)
    source = Path(eager.__file__).read_text()
    lazy = types.ModuleType(package)
    exec(compile(lazy_exports.lazy_source(source, package), eager.__file__, "exec"), lazy.__dict__)  # noqa: S102
    assert lazy.__all__ == eager.__all__
    for name in eager.__all__:
        assert getattr(lazy, name) is getattr(eager, name), name


def test_an_api_function_reseeds_random_after_a_snapstart_restore(monkeypatch: pytest.MonkeyPatch) -> None:
    import random

    import oversight.api  # noqa: F401  # imports the hook's module
    import oversight.restore

    registered = []
    runtime = types.ModuleType("snapshot_restore_py")
    runtime.register_after_restore = registered.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", runtime)
    importlib.reload(oversight.restore)
    assert registered == [random.seed]
    monkeypatch.delitem(sys.modules, "snapshot_restore_py")
    importlib.reload(oversight.restore)  # outside Lambda's runtime: nothing to register
    assert registered == [random.seed]
