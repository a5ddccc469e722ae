"""Shared fixtures: one moto mock for the whole session (client creation
inside the mock is slow), reset between tests; tables built from
template.yaml; handlers invoked with the sample events from events/."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from local_runtime.handlers import ensure_layer_on_path  # noqa: E402
from local_runtime.template import (  # noqa: E402
    Template,
    create_buckets,
    create_event_resources,
    create_keys,
    create_queues,
    create_tables,
)

ensure_layer_on_path()
TEMPLATE = Template()

from tests.support import ApiClient, Clock, RequestCounter, configure_environment  # noqa: E402

configure_environment(TEMPLATE)


@pytest.fixture(scope="session")
def aws() -> Iterator[Any]:
    from moto import mock_aws

    from local_runtime.emulation import install_moto_patches

    install_moto_patches()
    # Step Functions with executions that run (and task tokens that exist): an unknown token is InvalidToken.
    mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
    mock.start()
    import boto3

    from oversight.store import dynamodb_client
    from oversight.store.outputs import _s3
    from oversight.store.queue import _sqs

    _STARTED_MOCKS.append(mock)
    yield mock, dynamodb_client(), _sqs(), _s3(), boto3.client("events"), boto3.client("kms")
    _STARTED_MOCKS.remove(mock)
    mock.stop()


# The session's mock once a test has started it. Under pytest-xdist each worker is a session of its own and runs
# whichever files it is given, so a worker may have started it for an integration test before an end-to-end one.
_STARTED_MOCKS: list[Any] = []


@pytest.fixture(scope="module")
def without_the_session_mock() -> Iterator[None]:
    """No moto mock in this process for the module's tests, as when they run
    before any test started one: a mock_aws() they open (bench.load seeds its
    records in one) is then the only one, so its account starts empty. moto
    resets nothing for a nested mock. The session's mock is back afterwards,
    its backends reset (the `dynamodb` fixture resets them for each test anyway)."""
    paused = list(_STARTED_MOCKS)
    for mock in paused:
        mock.stop()
    yield
    for mock in paused:
        mock.start()


@pytest.fixture
def dynamodb(aws: Any) -> Iterator[Any]:
    """A fresh account with the template's tables, queues and buckets, for each test."""
    from moto.core.base_backend import BackendDict

    _, client, sqs, s3, events, kms = aws
    # Backends only: mock.reset() would also drop moto's interception of
    # plain HTTP (presigned URLs fetched with requests).
    BackendDict.reset()
    create_tables(client, TEMPLATE)
    create_queues(sqs, TEMPLATE)
    create_buckets(s3, TEMPLATE)
    create_event_resources(events, TEMPLATE)
    create_keys(kms, TEMPLATE)
    yield client


@pytest.fixture
def sqs(aws: Any, dynamodb: Any) -> Any:
    return aws[2]


@pytest.fixture
def s3(aws: Any, dynamodb: Any) -> Any:
    return aws[3]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    from oversight import clock as clock_module

    controlled = Clock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    monkeypatch.setattr(clock_module, "now", controlled.now)
    return controlled


@pytest.fixture
def api(dynamodb: Any, clock: Clock) -> ApiClient:
    return ApiClient(TEMPLATE, ROOT / "events")


@pytest.fixture
def requests_made(dynamodb: Any) -> Iterator[RequestCounter]:
    counter = RequestCounter(dynamodb)
    yield counter
    counter.detach()
