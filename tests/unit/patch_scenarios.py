"""Running an emulation patch's scenario without the patch: in a process
of its own (the patches are installed process-wide)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable, Iterator

from tests.conftest import ROOT


def scenario_runs(module: str, names: Iterable[str]) -> Iterator[dict[str, subprocess.Popen[str]]]:
    """Every scenario of `module` in a process of its own without its
    patch (`python -m <module> <name>`), all started at once; stopped after."""
    runs = {
        name: subprocess.Popen(
            [sys.executable, "-m", module, name], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for name in names
    }
    yield runs
    for run in runs.values():
        if run.poll() is None:
            run.kill()
        run.communicate()
