"""Fixtures for the local runtime's own tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local_runtime.aws import EmulatedAws


@pytest.fixture(scope="session")
def emulated_aws() -> Iterator[EmulatedAws]:
    """One moto server (as `make run` starts it) for these tests."""
    emulated = EmulatedAws()
    emulated.start()
    yield emulated
    emulated.stop()
