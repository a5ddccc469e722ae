"""The retry budget of our AWS clients, and what is left after it: the one
place that decides which botocore failure is a dependency fault (throttled
or unavailable, worth retrying later) and turns it into the domain's
ServiceUnavailable. The API answers that with 503 + Retry-After; the worker
lets SQS deliver the message again."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from functools import cache, partial
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError, DataNotFoundError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from botocore.loaders import Loader

from oversight.errors import ServiceUnavailable

# Three attempts in botocore's standard mode (jittered backoff of at most
# 1 s, then 2 s, for throttling), a short connect and read timeout: a call
# gives up within a few seconds, well inside the API functions' 10 s timeout
# (API Gateway's is 30 s), so the caller gets our 503 and not a gateway error.
# TransactWriteItems retries reuse one ClientRequestToken: a retried
# transaction is not applied twice.
_ATTEMPTS = 3
# Batch requests whose items come back unprocessed are sent this many times
# in all (see unprocessed_rounds), then give up.
_UNPROCESSED_ATTEMPTS = 5


def client_config(**options: Any) -> Config:
    settings: dict[str, Any] = {
        "retries": {"mode": "standard", "total_max_attempts": _ATTEMPTS},
        "connect_timeout": 1,
        "read_timeout": 3,
        **options,
    }
    return Config(**settings)


class _ServicesWithData:
    """The services that have `type_name` data, as botocore's loader asks
    before loading one service's model (and again for its endpoint rules):
    "is this one of them?". Its own answer lists each of the ~450 folders
    of its data, 15-25 ms of each cold start (docs/decisions.md); this one
    reads the asked-for service's folder alone. Only an unknown service's
    error lists them all."""

    def __init__(self, loader: Loader, type_name: str) -> None:
        self._loader, self._type_name = loader, type_name

    def __contains__(self, service: object) -> bool:
        try:
            return isinstance(service, str) and bool(self._loader.list_api_versions(service, self._type_name))
        except DataNotFoundError:
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(Loader.list_available_services(self._loader, self._type_name))


@cache
def _session() -> botocore.session.Session:
    """One botocore session for the process: its loader (botocore's own,
    AWS_DATA_PATH and all) keeps each service's model once, however many
    clients are made from it, and checks a service exists as above."""
    session = botocore.session.get_session()
    loader = session.get_component("data_loader")
    loader.list_available_services = partial(_ServicesWithData, loader)
    return session


def new_client(service: str, **options: Any) -> Any:
    """A client for `service` with the retry and timeout policy above. From
    botocore, not boto3: boto3's import (its resources layer, s3transfer,
    multiprocessing) is ~14 ms of a cold start that only S3's managed
    upload needs (store/outputs.py; docs/decisions.md)."""
    return _session().create_client(service, config=client_config(**options))


RETRY_AFTER_SECONDS = 1

_THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "SlowDown",
        # Contention, not failure: another transaction holds an item (or
        # this one is still being applied); the same request succeeds later.
        "TransactionInProgressException",
        "TransactionConflictException",
    }
)
_UNAVAILABLE_CODES = frozenset(
    {
        "InternalServerError",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
# Cancellation reasons of a transaction that the same transaction may pass
# later. Any other reason (a failed condition, a validation error) is an answer.
_RETRYABLE_CANCELLATIONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded", "TransactionConflict"})


def dependency_fault(error: BaseException) -> ServiceUnavailable | None:
    """The ServiceUnavailable that `error` amounts to, or None when it is
    not a dependency fault (a bug, a refused request, a failed condition).
    Follows explicit wrapping (`raise ... from`), as Powertools idempotency
    does with its persistence layer's errors."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ServiceUnavailable):
            return current
        fault = _classify(current)
        if fault is not None:
            return fault
        current = current.__cause__
    return None


def _classify(error: BaseException) -> ServiceUnavailable | None:
    if isinstance(error, (BotocoreConnectionError, HTTPClientError)):
        return _unavailable(throttled=False, operation="", code=type(error).__name__)
    if not isinstance(error, ClientError):
        return None
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    if code == "TransactionCanceledException":
        cancellations = error.response.get("CancellationReasons") or []
        reasons = {reason for r in cancellations if (reason := r.get("Code")) is not None and reason != "None"}
        if reasons and reasons <= _RETRYABLE_CANCELLATIONS:
            detail = ",".join(sorted(reasons))
            return _unavailable(throttled=True, operation=error.operation_name, code=f"{code}:{detail}")
        return None
    if code in _THROTTLING_CODES or status == 429:
        return _unavailable(throttled=True, operation=error.operation_name, code=code)
    if code in _UNAVAILABLE_CODES or status >= 500:
        return _unavailable(throttled=False, operation=error.operation_name, code=code)
    return None


def _unavailable(*, throttled: bool, operation: str, code: str) -> ServiceUnavailable:
    what = "busy" if throttled else "unavailable"
    return ServiceUnavailable(
        f"A service this request depends on is {what}; retry in {RETRY_AFTER_SECONDS} s",
        throttled=throttled,
        retry_after_seconds=RETRY_AFTER_SECONDS,
        operation=operation,
        error_code=code,
    )


def unprocessed_fault(operation: str, left: int) -> ServiceUnavailable:
    """A batch request whose items stayed unprocessed (throttled) after
    every resend: the same fault as a throttled single request."""
    return _unavailable(throttled=True, operation=operation, code=f"Unprocessed:{left}")


def unprocessed_rounds() -> Iterator[int]:
    """The sends of a batch request whose items may come back unprocessed
    (throttled): the first at once, each resend after a backoff, as DynamoDB
    advises: jittered, doubling from 100 ms (at most 1.5 s over four
    resends). The caller stops when nothing is left, or raises
    `unprocessed_fault` once the rounds are spent."""
    for attempt in range(_UNPROCESSED_ATTEMPTS):
        if attempt:
            time.sleep(random.random() * 0.05 * 2**attempt)
        yield attempt
