"""Idempotency-Key support (Powertools idempotency on its own table).

The key is scoped to tenant and caller, so two callers can never see each
other's responses; the request body is the payload that must match on a
retry (otherwise 422 idempotency_key_reused). Records live 24 h. An answer
taken from the record is marked as a replay (oversight.replays)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from functools import cache, wraps
from typing import Any, TypeVar

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from pydantic import BaseModel, JsonValue

from oversight.config import settings
from oversight.errors import Conflict, IdempotencyKeyReused
from oversight.models.common import Model
from oversight.observability import logger
from oversight.replays import mark_replayed
from oversight.store import dynamodb_client

IDEMPOTENCY_TTL_SECONDS = 24 * 3600
# The namespace of the ids keyed creates give their records (keyed_id).
_KEYED_IDS = uuid.UUID("5b1c4f0e-8f1d-4e7a-9a57-0c3c7d2e6a41")

Result = TypeVar("Result", bound=BaseModel)


class IdempotentCommand(Model):
    tenant: str
    caller: str
    key: str
    body: dict[str, JsonValue]

    def record_id(self, record: str) -> str:
        """The id of the `record` this command creates (keyed_id)."""
        return keyed_id(self, record)


@cache
def _persistence() -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(table_name=settings().idempotency_table_name, boto3_client=dynamodb_client())


@cache
def idempotency_config() -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath="[tenant, caller, key]",
        payload_validation_jmespath="body",
        expires_after_seconds=IDEMPOTENCY_TTL_SECONDS,
        raise_on_no_idempotency_key=True,
    )


def keyed_id(command: IdempotentCommand, record: str) -> str:
    """The id of the `record` ("intervention", "job", ...) a keyed command
    creates: the same on every run of the command. A run whose process died
    after its write but before its idempotency record was COMPLETED leaves
    that record IN_PROGRESS; once it expires, a retry runs the command
    again, and its create, conditional on the id being new, finds the first
    run's record instead of making a second (RecordExists)."""
    return str(uuid.uuid5(_KEYED_IDS, json.dumps([command.tenant, command.caller, command.key, record])))


def run_idempotent(
    function: Callable[[IdempotentCommand], Result],
    command: IdempotentCommand,
    result_model: type[Result],
    lambda_context: Any = None,
) -> Result:
    """Run `function(command)` once per (tenant, caller, key); replay its result
    (and mark the request replayed). `function` must be module-level: its
    qualified name is part of the key."""
    config = idempotency_config()
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)
    produced: list[Result] = []

    @wraps(function)  # same module and qualified name: same key
    def recorded(command: IdempotentCommand) -> Result:
        result = function(command)
        produced.append(result)
        return result

    wrapped = idempotent_function(
        data_keyword_argument="command",
        config=config,
        persistence_store=_persistence(),
        output_serializer=PydanticSerializer(model=result_model),
    )(recorded)
    try:
        result = wrapped(command=command)
    except IdempotencyPersistenceLayerError:
        if not produced:
            raise  # nothing done (oversight.api answers a throttled record store with 503)
        # The work is committed; only marking its record COMPLETED failed. Answer
        # it: a 503 would invite a retry, which the record (still IN_PROGRESS)
        # refuses with 409 and, once that expires, runs a second time.
        logger.warning("idempotency record not completed; answering the committed result")
        return produced[0]
    except IdempotencyValidationError as exc:
        raise IdempotencyKeyReused("This Idempotency-Key was already used with a different request body") from exc
    except IdempotencyAlreadyInProgressError as exc:
        raise Conflict("A request with this Idempotency-Key is still in progress; retry shortly") from exc
    if not produced:  # the function did not run: the stored result answered
        mark_replayed()
    return result
