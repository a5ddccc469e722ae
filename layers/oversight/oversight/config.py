"""The environment, parsed into typed, validated settings.

Settings come in sections, one per resource or concern (the table, the
idempotency table, the job queue, ...), each a pydantic model whose fields
name their variable. Each function declares the sections its code reads at
the top of its app.py (`REQUIRED = require_settings("submit_job",
TableSettings, ...)`), which parses them at module import: a missing or
malformed variable fails the cold start with the variable named
(`OversightConfigError: JOB_QUEUE_URL is required by submit_job`), not the
first request that needs it.

The layer reads a setting as `settings().table_name`, without naming its
section: the field of the section that defines it, parsed once on first
use (at the cold start, for a section the function declared).
`settings.cache_clear()` makes the next read parse the environment again.
docs/configuration.md lists the variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails


class OversightConfigError(RuntimeError):
    """A deployment fault: the environment lacks a setting or holds a
    malformed one. Never an answer to a caller: at a cold start the
    function fails to start; at run time it is an internal error."""


class _Section(BaseModel):
    # Fields are read by their variable's name only; other variables are not ours.
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=False)


class TableSettings(_Section):
    """The main table, and how long it keeps closed records."""

    table_name: str = Field(validation_alias="TABLE_NAME", min_length=1)
    retention_days: int = Field(90, validation_alias="RETENTION_DAYS", ge=1)


class IdempotencySettings(_Section):
    """The table of Powertools' idempotency records (keyed requests)."""

    idempotency_table_name: str = Field(validation_alias="IDEMPOTENCY_TABLE_NAME", min_length=1)


class JobQueueSettings(_Section):
    """The queue the worker takes jobs from."""

    job_queue_url: str = Field(validation_alias="JOB_QUEUE_URL", min_length=1)


class OutputBucketSettings(_Section):
    """The bucket of job output files."""

    output_bucket: str = Field(validation_alias="OUTPUT_BUCKET", min_length=1)


class JobRunSettings(_Section):
    """How jobs run: the retry budget (the queue's maxReceiveCount, from the
    same template parameter) and how long a result answers equal submissions."""

    job_max_receives: int = Field(3, validation_alias="JOB_MAX_RECEIVES", ge=1)
    job_cache_ttl_seconds: int = Field(3600, validation_alias="JOB_CACHE_TTL_SECONDS", ge=0)


class CursorSettings(_Section):
    """The key that signs list cursors (store/cursor.py); in AWS a generated secret."""

    cursor_signing_key: str = Field(validation_alias="CURSOR_SIGNING_KEY", min_length=1, repr=False)


class EventBusSettings(_Section):
    """The bus every change of a record is published to."""

    event_bus_name: str = Field(validation_alias="EVENT_BUS_NAME", min_length=1)


class SecretsKeySettings(_Section):
    """The KMS key that seals webhook secrets, callback secrets and task tokens."""

    webhook_key_id: str = Field(validation_alias="WEBHOOK_KEY_ID", min_length=1)


class DeliverySettings(_Section):
    """Webhook, callback and task deliveries: their queue, how many attempts
    (the queue's maxReceiveCount) and a factor on every retry delay (1 in
    AWS; the local runtime sets it from OVERSIGHT_LOCAL_RETRY_SCALE)."""

    delivery_queue_url: str = Field(validation_alias="DELIVERY_QUEUE_URL", min_length=1)
    delivery_max_attempts: int = Field(8, validation_alias="DELIVERY_MAX_ATTEMPTS", ge=1, le=100)
    delivery_retry_scale: float = Field(1.0, validation_alias="DELIVERY_RETRY_SCALE", gt=0, le=10)


SECTIONS: tuple[type[_Section], ...] = (
    TableSettings,
    IdempotencySettings,
    JobQueueSettings,
    OutputBucketSettings,
    JobRunSettings,
    CursorSettings,
    EventBusSettings,
    SecretsKeySettings,
    DeliverySettings,
)
# Which section defines each setting, for `settings().<name>`.
_SECTION_OF: dict[str, type[_Section]] = {name: section for section in SECTIONS for name in section.model_fields}

SectionT = TypeVar("SectionT", bound=_Section)


def variables(section: type[_Section]) -> list[str]:
    """The environment variables a section reads."""
    return [str(field.validation_alias) for field in section.model_fields.values()]


def parse(section: type[SectionT], reader: str, environ: dict[str, str] | None = None) -> SectionT:
    """`section` from the environment (`environ`, else the process's). An
    empty variable counts as unset. Every problem is named in one
    OversightConfigError, on behalf of `reader` (a function's name)."""
    source = os.environ if environ is None else environ
    values = {name: source[name] for name in variables(section) if source.get(name)}
    try:
        return section.model_validate(values)
    except ValidationError as error:
        raise OversightConfigError("; ".join(_problem(section, reader, p) for p in error.errors())) from None


def _problem(section: type[_Section], reader: str, error: ErrorDetails) -> str:
    (variable,) = error["loc"]
    if error["type"] == "missing":
        return f"{variable} is required by {reader}"
    secret = any(field.validation_alias == variable and not field.repr for field in section.model_fields.values())
    return f"{variable}: {error['msg']}" + ("" if secret else f" (got {error['input']!r})")


class Settings:
    """Every setting, as an attribute named after its field
    (`settings().retention_days`), each section parsed on first use and kept."""

    def __init__(self) -> None:
        self.reader = "this function"
        self._sections: dict[type[_Section], _Section] = {}

    def section(self, section: type[SectionT]) -> SectionT:
        found = self._sections.get(section)
        if found is None:
            found = self._sections[section] = parse(section, self.reader)
        assert isinstance(found, section)
        return found

    def __getattr__(self, name: str) -> Any:
        section = _SECTION_OF.get(name)
        if section is None:
            raise AttributeError(f"no setting {name!r}")
        return getattr(self.section(section), name)


@cache
def settings() -> Settings:
    return Settings()


@dataclass(frozen=True)
class Requirement:
    """The settings a function's code reads, as its app.py declares them."""

    function: str
    sections: tuple[type[_Section], ...]


def require_settings(function: str, *sections: type[_Section]) -> Requirement:
    """Parse, now, the sections `function`'s code reads: called at the top
    of its app.py, so a missing or malformed variable fails the cold start
    with the variable and the function named. Every problem of every
    section is named at once."""
    current = settings()
    current.reader = function
    problems = []
    for section in sections:
        try:
            current.section(section)
        except OversightConfigError as error:
            problems.append(str(error))
    if problems:
        raise OversightConfigError("; ".join(problems))
    return Requirement(function, sections)
