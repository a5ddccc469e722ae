"""Tool `export_interventions`: the tenant's interventions as one JSON Lines
or CSV file. Streamed: records are read from the store page by page and
written out in chunks, so memory does not grow with the number of records."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import islice
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, ConfigDict, Field, ValidationInfo, field_validator

from oversight.models import Intervention, Status
from oversight.models.common import Model
from oversight.store import get_intervention_store
from oversight.tools.registry import JobCancelled, RunContext, tool

# Records per chunk handed to the output; cancellation is checked between chunks.
RECORDS_PER_CHUNK = 500
CSV_COLUMNS = tuple(Intervention.model_fields)
# Free-form and structured fields: one CSV cell each, as JSON text.
JSON_FIELDS = frozenset({"context", "response", "approvals", "response_schema", "escalation"})


def _in_utc(moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        # 9999-12-31T23:59:59-23:59 is well-formed, but its UTC moment is past
        # what a datetime holds; a ValueError makes it a field error, not a 500.
        raise ValueError("The moment in UTC is outside years 1 to 9999") from None


# Held in UTC, so equivalent submissions dump to the same parameters (the
# job cache compares them).
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_in_utc)]


class ExportParameters(Model):
    model_config = ConfigDict(extra="forbid")

    format: Literal["jsonl", "csv"] = Field("jsonl", description="jsonl: one JSON object per line; csv: header + rows")
    status: Status | None = Field(None, description="Only interventions in this status (default: every status)")
    created_from: UtcDatetime | None = Field(None, description="Only those created at or after (ISO 8601, with offset)")
    created_to: UtcDatetime | None = Field(None, description="Only those created at or before (ISO 8601, with offset)")

    @field_validator("created_to")
    @classmethod
    def _not_before_created_from(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("created_from")
        if value is not None and start is not None and value < start:
            raise ValueError("created_to must not be before created_from")
        return value


def _jsonl(batch: list[Intervention]) -> bytes:
    return b"".join(iv.model_dump_json().encode() + b"\n" for iv in batch)


def _csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


def _csv_row(iv: Intervention) -> list[str]:
    values = iv.model_dump(mode="json")
    return [_csv_cell(name, values[name]) for name in CSV_COLUMNS]


def _csv_cell(name: str, value: Any) -> str:
    if name in JSON_FIELDS:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return "" if value is None else str(value)


@tool(
    name="export_interventions",
    description="Export the tenant's interventions (optionally one status, a created_at range) "
    "to one output file: interventions.jsonl or interventions.csv, one record per line/row.",
    parameters=ExportParameters,
    timeout_seconds=240,
    cacheable=True,
)
def export_interventions(params: ExportParameters, ctx: RunContext) -> dict[str, Any]:
    records = get_intervention_store().iter_interventions(
        ctx.tenant, params.status, params.created_from, params.created_to
    )
    exported = 0

    def chunks() -> Iterator[bytes]:
        nonlocal exported
        if params.format == "csv":
            yield _csv([list(CSV_COLUMNS)])
        while True:
            if ctx.cancelled():
                raise JobCancelled(f"export cancelled after {exported} records")
            batch = list(islice(records, RECORDS_PER_CHUNK))
            if not batch:
                return
            exported += len(batch)
            yield _jsonl(batch) if params.format == "jsonl" else _csv([_csv_row(iv) for iv in batch])

    content_type = "application/x-ndjson" if params.format == "jsonl" else "text/csv; charset=utf-8"
    output = ctx.write_output(f"interventions.{params.format}", chunks(), content_type)
    ctx.log("INFO", f"exported {exported} interventions to {output.name} ({output.size_bytes} bytes)")
    return {"count": exported, "file": output.name}
