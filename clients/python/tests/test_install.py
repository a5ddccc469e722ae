"""`pip install ./clients/python` into a fresh virtualenv of the oldest Python supported (3.11): the package
installs, imports with nothing but the standard library, and its `oversight` command starts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1]


def _oldest_python() -> str | None:
    """A Python 3.11 to install into: OVERSIGHT_CLIENT_PYTHON311 if set, else the first 3.11 found on PATH or
    among pyenv's versions (PYENV_ROOT, default ~/.pyenv)."""
    if os.environ.get("OVERSIGHT_CLIENT_PYTHON311"):
        return os.environ["OVERSIGHT_CLIENT_PYTHON311"]
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates = [
        shutil.which("python3.11"),
        shutil.which("python3"),
        *map(str, sorted(pyenv.glob("versions/3.11*/bin/python"))),
    ]
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 11))"], capture_output=True, text=True
        )
        if probe.stdout.strip() == "True":
            return candidate
    return None


OLDEST = _oldest_python()

pytestmark = pytest.mark.slow

# Imports everything, then lists the modules that import loaded that are neither the standard library nor the
# package (what the interpreter loaded before, such as setuptools' own .pth hook, is not the package's doing).
CHECK = """
import json, sys
before = set(sys.modules)
import oversight_client, oversight_client.cli, oversight_client.client, oversight_client.models
import oversight_client.approval, oversight_client.errors, oversight_client.retries, oversight_client.transport
foreign = sorted(
    name for name in set(sys.modules) - before
    if name.split(".")[0] not in sys.stdlib_module_names and name.split(".")[0] != "oversight_client"
)
print(json.dumps({"version": oversight_client.__version__, "foreign": foreign, "python": sys.version_info[:2]}))
"""


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if OLDEST is None or not Path(OLDEST).exists():
        pytest.skip("no Python 3.11 found on PATH or in pyenv (set OVERSIGHT_CLIENT_PYTHON311)")
    root = tmp_path_factory.mktemp("venv311")
    subprocess.run([OLDEST, "-m", "venv", str(root)], check=True, capture_output=True)
    # A copy of the package: the build must not leave build/ or *.egg-info in the source tree.
    source = root / "src-copy"
    shutil.copytree(PACKAGE, source, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info", "__pycache__"))
    python = root / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", str(source)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    if installed.returncode != 0:
        output = installed.stdout + installed.stderr
        if "Could not find a version" in output or "NewConnectionError" in output or "Network is unreachable" in output:
            pytest.skip(f"the build backend (setuptools) cannot be downloaded here:\n{output[-800:]}")
        pytest.fail(f"pip install failed:\n{output}")
    return root


def test_the_package_installs_and_imports_with_the_standard_library_only(venv: Path) -> None:
    python = venv / "bin" / "python"

    checked = subprocess.run([str(python), "-I", "-c", CHECK], capture_output=True, text=True, check=False, cwd="/")

    assert checked.returncode == 0, checked.stderr
    report = json.loads(checked.stdout)
    assert report["python"] == [3, 11]
    assert report["foreign"] == []
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    )
    names = {entry["name"].lower() for entry in json.loads(listed.stdout)}
    assert names - {"pip", "setuptools"} == {"oversight-client"}


def test_the_installed_package_is_typed_and_has_the_command(venv: Path) -> None:
    site = next((venv / "lib").glob("python3.11/site-packages/oversight_client"))
    assert (site / "py.typed").exists()

    helped = subprocess.run(
        [str(venv / "bin" / "oversight"), "--help"], capture_output=True, text=True, check=False, cwd="/"
    )

    assert helped.returncode == 0, helped.stderr
    assert "oversight" in helped.stdout
