"""The shared layer as `sam build` builds it: `make build-SharedLayer` in
layers/oversight with ARTIFACTS_DIR in the environment, from a PATH whose
`python3` is not the runtime's 3.13 and without PYTHON313, so that the
Makefile must find 3.13 itself. Two builds, side by side: one for Lambda
(arm64), one for this machine, which it can import.

- Every module is compiled once, by CPython 3.13, as unchecked hash-based
  bytecode (PEP 552) of the very source shipped beside it, naming it where
  Lambda mounts the layer: the bytes do not depend on the build's folder.
- What the Makefile's UNUSED list names was installed and is gone, and no
  module left in the layer imports it, not even inside a function.
- Every function imports from its folder, the layer and the SDK alone, in
  an interpreter started as Lambda starts one (`python -S -E`) with its
  settings: nothing of the virtualenv can be imported there.
- bench/layer_size.py's table adds up to the layer.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bench.cold_start import copy_sdk, host_platform, lambda_environment
from local_runtime.aws import FAKE_CREDENTIALS
from local_runtime.environment import function_environments
from local_runtime.handlers import LAYER_PATH
from local_runtime.template import FunctionSpec, Template
from tests.imports import imported_module

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_PLATFORM = "manylinux2014_aarch64"
RUNTIME = (3, 13)
# PEP 552: bit 0 of the flags word = hash-based, bit 1 = check the source's hash on import.
UNCHECKED_HASH = 0b01
# Importable here (the virtualenv's), never in Lambda: the proof that an import ran without them.
FOREIGN = ("moto", "pytest", "yaml")
# Entries of UNUSED that are no module: what reads each, which nothing of ours may call.
READERS = {
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui-bundle.min.js": "enable_swagger",
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/swagger-ui.min.css": "enable_swagger",
    "wrapt/_wrappers.c": None,  # the C source of the compiled extension shipped beside it
    "wrapt-stubs": None,  # type stubs, for type checkers
}
# Imports of a removed module left in the layer that cannot run, each with the reason and the test holding it.
UNREACHABLE = {
    "pydantic._internal._generate_schema imports pydantic.v1": (
        "only for a type with pydantic v1's `__get_validators__` hook: test_no_type_has_pydantic_v1s_hook"
    ),
}


def _pip_python() -> str | None:
    """A CPython 3.11 or 3.12 with pip, to be the build's `python3`: on PATH,
    or among pyenv's versions (PYENV_ROOT, default ~/.pyenv)."""
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates = [
        shutil.which("python3.12"),
        shutil.which("python3.11"),
        shutil.which("python3"),
        *map(str, sorted(pyenv.glob("versions/3.1[12]*/bin/python3"))),
    ]
    probe = "import sys, pip; print(sys.version_info[:2] in ((3, 11), (3, 12)), sys.executable)"
    for candidate in filter(None, candidates):
        found = subprocess.run([candidate, "-c", probe], capture_output=True, text=True)
        answer, _, executable = found.stdout.strip().partition(" ")
        if found.returncode == 0 and answer == "True":
            return executable
    return None


@pytest.fixture(scope="module")
def make_environment(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """sam build's environment as the tests make it: `python3` first on PATH
    is a 3.11 or 3.12 (a wrapper, so that it stays that interpreter
    whatever it is), and no variable of the Makefile's is set."""
    python = _pip_python()
    if python is None:
        pytest.skip("no Python 3.11 or 3.12 with pip found on PATH or in pyenv: the build's python3 must not be 3.13")
    folder = tmp_path_factory.mktemp("bin")
    wrapper = folder / "python3"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(python)} "$@"\n')
    wrapper.chmod(0o755)
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PYTHON", "PYTHON313", "LAYER_PLATFORM", "ARTIFACTS_DIR", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")
    }
    environment["PATH"] = f"{folder}{os.pathsep}{environment.get('PATH', '')}"
    first = subprocess.run(["python3", "-c", "import sys; print(sys.version_info[:2])"], env=environment,
                           capture_output=True, text=True, check=True)  # fmt: skip
    assert first.stdout.strip() != str(RUNTIME), first.stdout
    return environment


def _make_value(variable: str, environment: dict[str, str]) -> str:
    """A variable of layers/oversight/Makefile as the build sees it."""
    shown = subprocess.run(
        ["make", "-s", "-C", str(LAYER_PATH), "--eval", f"show: ; @echo $({variable})", "show"],
        env=environment, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return shown.stdout.strip()


@pytest.fixture(scope="module")
def python313(make_environment: dict[str, str]) -> str:
    """The CPython 3.13 that the Makefile found by itself."""
    found = _make_value("PYTHON313", make_environment)
    assert found, "the Makefile found no CPython 3.13"
    return found


@pytest.fixture(scope="module")
def unused(make_environment: dict[str, str]) -> list[str]:
    return _make_value("UNUSED", make_environment).split()


@pytest.fixture(scope="module")
def layers(make_environment: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each platform's built layer (its `python` folder), built side by side."""
    scratch = tmp_path_factory.mktemp("layers")
    builds = {}
    for platform in dict.fromkeys((LAMBDA_PLATFORM, host_platform())):
        builds[platform] = subprocess.Popen(
            ["make", "-s", "-C", str(LAYER_PATH), "build-SharedLayer", f"LAYER_PLATFORM={platform}"],
            env={**make_environment, "ARTIFACTS_DIR": str(scratch / platform)},  # sam sets it so
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
    for platform, build in builds.items():
        _, errors = build.communicate(timeout=600)
        assert build.returncode == 0, f"the {platform} build failed:\n{errors[-4000:]}"
    return {platform: scratch / platform / "python" for platform in builds}


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_sdk(tmp_path_factory.mktemp("sdk"))


def _run_313(python313: str, code: str, *arguments: str) -> Any:
    """`code`'s JSON answer, run by the Makefile's 3.13 (whatever runs the tests)."""
    finished = subprocess.run([python313, "-S", "-E", "-c", code, *arguments], capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr[-4000:]
    return json.loads(finished.stdout)


HASHES = """
import importlib.util, json, marshal, pathlib, sys
root = pathlib.Path(sys.argv[1])
hashes = {
    str(path.relative_to(root)): importlib.util.source_hash(path.read_bytes()).hex() for path in root.rglob("*.py")
}
names = {
    str(path.relative_to(root)): marshal.loads(path.read_bytes()[16:]).co_filename for path in root.rglob("*.pyc")
}
print(json.dumps({"magic": importlib.util.MAGIC_NUMBER.hex(), "hashes": hashes, "names": names}))
"""
MOUNT = Path("/opt/python")  # where Lambda mounts a layer's python folder


@pytest.mark.parametrize("platform", [LAMBDA_PLATFORM, "host"])
def test_every_module_is_compiled_once_by_313_as_unchecked_hash(
    platform: str, layers: dict[str, Path], python313: str
) -> None:
    layer = layers[host_platform() if platform == "host" else platform]
    tag = f"cpython-{RUNTIME[0]}{RUNTIME[1]}"
    sources = sorted(path for path in layer.rglob("*.py") if "__pycache__" not in path.parts)
    expected = {source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc": source for source in sources}
    found = set(layer.rglob("*.pyc"))
    assert sorted(map(str, set(expected) - found)) == [], "modules without 3.13 bytecode"
    assert sorted(map(str, found - set(expected))) == [], "bytecode of another tag, level or of no module"
    runtime = _run_313(python313, HASHES, str(layer))
    wrong = []
    for compiled, source in expected.items():
        header = compiled.read_bytes()[:16]
        flags = int.from_bytes(header[4:8], "little")
        if header[:4].hex() != runtime["magic"] or flags != UNCHECKED_HASH:
            wrong.append(f"{compiled.relative_to(layer)}: magic {header[:4].hex()}, flags {flags:#04b}")
        elif header[8:16].hex() != runtime["hashes"][str(source.relative_to(layer))]:
            wrong.append(f"{compiled.relative_to(layer)}: compiled from another source than the one shipped")
        elif runtime["names"][str(compiled.relative_to(layer))] != str(MOUNT / source.relative_to(layer)):
            wrong.append(f"{compiled.relative_to(layer)}: names {runtime['names'][str(compiled.relative_to(layer))]}")
    assert wrong == []
    # The walk saw the dependencies, not only our package.
    assert {"oversight", "aws_lambda_powertools", "pydantic", "pydantic_core", "aws_xray_sdk", "wrapt"} <= {
        source.relative_to(layer).parts[0] for source in sources
    }


def test_the_bytecode_does_not_depend_on_where_the_layer_was_built(layers: dict[str, Path]) -> None:
    """The two builds ran in folders of their own: a module both ship has
    the same bytecode in both (the same sources make the same layer)."""
    if len(layers) < 2:
        pytest.skip("one build only: this machine is Lambda's platform")
    first, second = layers.values()
    common = {path.relative_to(first) for path in first.rglob("*.pyc")} & {
        path.relative_to(second) for path in second.rglob("*.pyc")
    }
    assert len(common) > 400
    assert sorted(str(path) for path in common if (first / path).read_bytes() != (second / path).read_bytes()) == []


def _installed(layer: Path) -> set[str]:
    """Every path that pip installed (the RECORD files), removed or not."""
    return {
        line.split(",", 1)[0] for record in layer.glob("*.dist-info/RECORD") for line in record.read_text().splitlines()
    }


def test_what_unused_names_was_installed_and_is_gone(unused: list[str], layers: dict[str, Path]) -> None:
    assert unused, "the Makefile's UNUSED list is empty or unreadable"
    for layer in layers.values():
        installed = _installed(layer)
        for entry in unused:
            assert any(path == entry or path.startswith(f"{entry}/") for path in installed), (
                f"{entry}: no release installed it (renamed or gone: the entry removes nothing)"
            )
            assert not (layer / entry).exists(), f"{entry} is in the layer"


def _module(layer: Path, path: Path) -> str:
    parts = path.relative_to(layer).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _text(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _lazy_exports(package: str, tree: ast.Module) -> dict[str, str]:
    """name -> submodule, for a package that imports its names on first use:
    the layer's rewritten `_EXPORTS`, pydantic's `_dynamic_imports`, the
    parser's `_MODEL_MODULES`."""
    found: dict[str, str] = {}
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        value = getattr(node, "value", None)
        if not isinstance(target, ast.Name) or not isinstance(value, ast.Dict):
            continue
        for key, item in zip(map(_text, value.keys), value.values, strict=True):
            parts = item.elts if isinstance(item, ast.Tuple) else []
            if key is None:
                continue
            if target.id == "_EXPORTS" and parts and (module := _text(parts[0])):
                found[key] = module
            elif target.id == "_dynamic_imports" and len(parts) > 1 and (relative := _text(parts[1])):
                if relative.startswith("."):
                    found[key] = package + relative
            elif target.id == "_MODEL_MODULES" and (submodule := _text(item)):
                found[key] = f"{package}.{submodule}"
    return found


def _imports(layer: Path) -> dict[str, set[str]]:
    """What each module of the layer imports, wherever the statement is
    (top level, a function, a TYPE_CHECKING block): a module, a name of a
    package (maybe its submodule) or, through a lazy package, the
    submodule that the name comes from."""
    paths = {_module(layer, path): path for path in layer.rglob("*.py") if "__pycache__" not in path.parts}
    trees = {name: ast.parse(path.read_bytes(), str(path)) for name, path in paths.items()}
    lazy = {name: _lazy_exports(name, trees[name]) for name, path in paths.items() if path.name == "__init__.py"}
    imported: dict[str, set[str]] = {}
    for name, tree in trees.items():
        package = name if paths[name].name == "__init__.py" else name.rpartition(".")[0]
        targets = imported.setdefault(name, set())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = imported_module(node, package)
                targets.add(base)
                for alias in node.names:
                    targets.add(f"{base}.{alias.name}")
                    targets.add(lazy.get(base, {}).get(alias.name, base))
    return imported


@pytest.fixture(scope="module")
def shipped_imports(layers: dict[str, Path]) -> dict[str, set[str]]:
    return _imports(layers[LAMBDA_PLATFORM])


def _removed_module(entry: str) -> str | None:
    if entry in READERS:
        return None
    return entry.removesuffix(".py").replace("/", ".")


def test_nothing_left_in_the_layer_imports_what_the_build_removed(
    unused: list[str], shipped_imports: dict[str, set[str]]
) -> None:
    removed = [module for module in map(_removed_module, unused) if module]
    reaching = {
        f"{importer} imports {module}"
        for importer, targets in shipped_imports.items()
        for target in targets
        for module in removed
        if target == module or target.startswith(f"{module}.")
    }
    assert sorted(reaching - set(UNREACHABLE)) == []
    assert sorted(set(UNREACHABLE) - reaching) == [], "no longer imported: drop it from UNREACHABLE"


def test_no_type_has_pydantic_v1s_hook(layers: dict[str, Path], sdk: Path) -> None:
    """pydantic imports pydantic.v1 (removed) when it builds the schema of a
    type that has `__get_validators__` and no v2 hook: a type of neither
    the layer nor the SDK has one, so no model of ours can reach it."""
    hooks = sorted(
        str(path.relative_to(folder))
        for folder in (layers[LAMBDA_PLATFORM], sdk)
        for path in folder.rglob("*.py")
        if "__get_validators__" in path.read_text(errors="replace")
    )
    assert hooks == ["pydantic/_internal/_generate_schema.py"]  # where pydantic looks for it


def test_the_scan_sees_lazy_imports_and_lazy_exports(shipped_imports: dict[str, set[str]]) -> None:
    """The scan above reads imports inside functions and names that a lazy
    package resolves on first use."""
    imports = shipped_imports
    # Inside a method (enable_swagger).
    assert (
        "aws_lambda_powertools.event_handler.openapi.swagger_ui"
        in imports["aws_lambda_powertools.event_handler.api_gateway"]
    )
    # `from aws_lambda_powertools.event_handler import Response` through the rewritten `_EXPORTS`.
    assert "aws_lambda_powertools.event_handler.api_gateway" in imports["oversight.api"]
    # `from pydantic import BaseModel` through pydantic's `_dynamic_imports`.
    assert "pydantic.main" in imports["oversight.models.common"]


def test_files_removed_are_read_only_by_what_we_never_call(unused: list[str]) -> None:
    assert set(READERS) <= set(unused)
    ours = [*ROOT.glob("functions/*/*.py"), *(LAYER_PATH / "oversight").rglob("*.py")]
    calls = sorted(
        f"{path.relative_to(ROOT)} calls {reader}"
        for path in ours
        for reader in filter(None, READERS.values())
        if reader in path.read_text()
    )
    assert calls == []


FUNCTIONS = [spec for spec in Template().functions() if spec.code_uri.parent == ROOT / "functions"]

IMPORT = """
import importlib.util, json, sys, sysconfig
paths, module, handler = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
sys.path[0:1] = paths
started = set(sys.modules)
entry = getattr(__import__(module), handler)
places = [place.rstrip("/") + "/" for place in (*paths, sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib"))]
outside = sorted(
    name for name, loaded in sys.modules.items()
    if getattr(loaded, "__file__", None) and not any(loaded.__file__.startswith(place) for place in places)
)
print(json.dumps({
    "callable": callable(entry),
    "foreign": [name for name in sys.argv[4:] if importlib.util.find_spec(name) is not None],
    "outside": outside,
    "packages": sorted({name.partition(".")[0] for name in set(sys.modules) - started} - set(sys.stdlib_module_names)),
}))
"""


@pytest.fixture(scope="module")
def imported(layers: dict[str, Path], sdk: Path, python313: str) -> dict[str, dict[str, Any]]:
    """Each function's import, in its own Lambda-like interpreter (all at
    once), with the settings the template gives it (no AWS call is made:
    the endpoint is a closed port)."""
    sdk_variables = {**FAKE_CREDENTIALS, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
                     "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}  # fmt: skip
    environments, _ = function_environments(FUNCTIONS, {}, sdk_variables)
    layer = layers[host_platform()]
    started = {}
    for spec in FUNCTIONS:
        environment = lambda_environment(environments[spec.logical_id])
        module, _, handler = spec.handler.rpartition(".")
        paths = json.dumps([str(spec.code_uri), str(layer), str(sdk)])
        started[spec.name] = subprocess.Popen(
            [python313, "-S", "-E", "-c", IMPORT, paths, module, handler, *FOREIGN],
            env=environment, cwd=spec.code_uri, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
    answers = {}
    for name, child in started.items():
        out, errors = child.communicate(timeout=120)
        answers[name] = json.loads(out) if child.returncode == 0 else {"error": errors[-4000:]}
    return answers


def test_every_function_folder_is_checked() -> None:
    assert sorted(spec.name for spec in FUNCTIONS) == sorted(
        path.parent.name for path in ROOT.glob("functions/*/app.py")
    )


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_the_function_imports_from_the_layer_and_the_sdk_alone(
    spec: FunctionSpec, imported: dict[str, dict[str, Any]]
) -> None:
    answer = imported[spec.name]
    assert "error" not in answer, answer.get("error")
    assert answer["callable"], f"{spec.handler} is not callable"
    assert answer["foreign"] == [], "the virtualenv's packages are importable: the check proves nothing"
    assert answer["outside"] == [], "modules loaded from outside the function, the layer, the SDK and Python"
    assert {"oversight", "aws_lambda_powertools", "pydantic"} <= set(answer["packages"])


def test_the_tests_own_interpreter_sees_what_the_functions_must_not() -> None:
    """The FOREIGN packages exist here: their absence above is the `-S -E`
    interpreter's doing."""
    assert all(importlib.util.find_spec(name) is not None for name in FOREIGN)


def test_the_size_table_counts_every_file_once_under_its_distribution(layers: dict[str, Path]) -> None:
    """bench/layer_size.py's shares: one per pinned distribution, plus ours
    (the `oversight` package alone), adding up to the layer."""
    from bench.layer_size import PROJECT, layer_sizes

    layer = layers[LAMBDA_PLATFORM]
    shares, total = layer_sizes(layer)

    def normalized(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    pinned = {
        normalized(line.split("==")[0].strip())
        for line in (LAYER_PATH / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    names = [share.name for share in shares]
    assert PROJECT in names
    assert {normalized(name.rsplit(" ", 1)[0]) for name in names if name != PROJECT} == pinned
    files = [path for path in layer.rglob("*") if path.is_file()]
    assert sum(share.files for share in shares) == total.files == len(files)
    assert sum(share.unzipped for share in shares) == total.unzipped == sum(path.stat().st_size for path in files)
    assert sum(share.zipped for share in shares) + 22 == total.zipped  # + the zip's end record
    ours = next(share for share in shares if share.name == PROJECT)
    assert ours.files == len([path for path in files if path.relative_to(layer).parts[0] == "oversight"])
