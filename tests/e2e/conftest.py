"""End-to-end fixtures: the local runtime as a subprocess, its state in a
pytest tmp dir, never the developer's .oversight/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.runtime_process import RunningRuntime, RuntimeLauncher


@pytest.fixture(scope="module", autouse=True)
def _no_moto_mock_in_process(without_the_session_mock: None) -> None:
    """End-to-end tests talk to runtimes in subprocesses: a moto mock left running in
    this process (by an integration test on the same xdist worker) is paused."""


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[RuntimeLauncher]:
    launcher = RuntimeLauncher(tmp_path)
    yield launcher
    launcher.stop_all()


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRuntime]:
    """One runtime shared by a module's tests that need no state of their own."""
    launcher = RuntimeLauncher(tmp_path_factory.mktemp("logs"))
    yield launcher.start(tmp_path_factory.mktemp("state"))
    launcher.stop_all()
