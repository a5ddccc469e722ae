"""Fixtures for the local runtime's own tests."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from local_runtime.aws import EmulatedAws


@pytest.fixture(scope="session")
def emulated_aws() -> Iterator[EmulatedAws]:
    """One moto server (as `make run` starts it) for these tests."""
    emulated = EmulatedAws()
    emulated.start()
    yield emulated
    emulated.stop()


def bare_environment(**variables: str) -> tuple[dict[str, str], Callable[[str, str], None]]:
    """A function's environment for these tests (PATH and `variables`, no
    AWS), and an output sink that keeps each function's lines."""
    lines: list[tuple[str, str]] = []
    return {"PATH": os.environ.get("PATH", ""), **variables}, lambda function, line: lines.append((function, line))
