"""Load each function's handler as its own module, as Lambda would."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from local_runtime.template import ROOT, FunctionSpec

LAYER_PATH = ROOT / "layers" / "oversight"


def ensure_layer_on_path() -> None:
    """/opt/python in Lambda; the layer's source folder here."""
    if str(LAYER_PATH) not in sys.path:
        sys.path.insert(0, str(LAYER_PATH))


def load_module(spec: FunctionSpec, instance: int = 0) -> ModuleType:
    """The module of `spec`'s handler, loaded once per `instance`. Like a
    Lambda execution environment, one instance serves one request at a time
    (the resolver keeps per-request state); concurrency needs more instances."""
    ensure_layer_on_path()
    module_file = spec.handler.rpartition(".")[0]
    path = spec.code_uri / f"{module_file.replace('.', '/')}.py"
    module_name = f"oversight_function_{spec.name}" + (f"_{instance}" if instance else "")
    module = sys.modules.get(module_name)
    if module is None:
        module_spec = importlib.util.spec_from_file_location(module_name, path)
        assert module_spec and module_spec.loader, f"cannot load {path}"
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_name] = module
        module_spec.loader.exec_module(module)
    return module


def load_handler(spec: FunctionSpec, instance: int = 0) -> Callable[[dict[str, Any], Any], Any]:
    """The handler of `spec` in execution environment `instance`."""
    return getattr(load_module(spec, instance), spec.handler.rpartition(".")[2])
