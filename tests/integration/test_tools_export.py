"""export_interventions against the emulated table: complete and exact
files in both formats, filters, retention, tenancy, streaming, cancellation."""

import csv
import io
import json
from datetime import timedelta

import pytest
from moto.dynamodb.models import dynamodb_backends

from local_runtime.template import ACCOUNT, REGION
from oversight.models import Intervention
from oversight.store._dynamodb import intervention_from_item
from oversight.tools import JobCancelled, get_tool
from oversight.tools.export_interventions import JSON_FIELDS
from oversight.tools.recording import RecordingRunContext
from tests.seeding import seed_interventions
from tests.support import OPERATOR, user

export = get_tool("export_interventions")


def stored(tenant):
    """The tenant's records, read straight from the emulated table (tests only:
    through the API's wire format, 5,000 records take seconds)."""
    table = dynamodb_backends[ACCOUNT][REGION].get_table("OversightTable")
    items = (item.to_json()["Attributes"] for item in table.all_items())
    return {
        iv.id: iv
        for iv in (
            intervention_from_item(item)
            for item in items
            if item["pk"]["S"].startswith(f"T#{tenant}#INT#") and item["sk"]["S"] == "#META"
        )
    }


def run_export(parameters, tenant="acme"):
    ctx = RecordingRunContext(tenant=tenant)
    result = export.run(export.parameters.model_validate(parameters), ctx)
    return result, ctx


def jsonl_records(data: bytes) -> list[Intervention]:
    assert data.endswith(b"\n") or not data  # every line ends, the last one too
    return [Intervention.model_validate_json(line) for line in data.decode().splitlines()]


def csv_records(data: bytes) -> tuple[list[str], list[Intervention]]:
    """Rows back to records: context, response and the structured fields are JSON text; an empty cell
    is null where the field may be null (CSV cannot tell "" from null)."""
    reader = csv.DictReader(io.StringIO(data.decode(), newline=""))
    records = []
    for row in reader:
        values = {}
        for name, cell in row.items():
            if name in JSON_FIELDS:
                values[name] = json.loads(cell)
            else:
                values[name] = None if cell == "" and not Intervention.model_fields[name].is_required() else cell
        records.append(Intervention.model_validate(values))
    return list(reader.fieldnames), records


def test_export_of_5000_records_in_both_formats_and_with_filters(dynamodb, clock, requests_made):
    """One seeding for every read of 5,000 records: reading them back
    through the emulator is what costs time here."""
    seed_interventions(dynamodb, "acme", 5_000, seed=11)  # mixed states, created 2026-11-01..20
    seed_interventions(dynamodb, "globex", 30, seed=12)  # another tenant: never exported
    records = stored("acme")

    requests_made.reset()
    result, ctx = run_export({})
    assert result == {"count": 5_000, "file": "interventions.jsonl"}
    data = ctx.outputs["interventions.jsonl"]
    assert {iv.id: iv for iv in jsonl_records(data)} == records and data.count(b"\n") == 5_000
    assert ctx.content_types["interventions.jsonl"] == "application/x-ndjson"
    assert ctx.chunk_counts["interventions.jsonl"] > 1  # streamed chunk by chunk, not one blob
    assert ctx.cancel_checks == 11  # before each page of 500 records, and before finding no more
    assert set(requests_made.calls) == {"Query"}  # through the status index, never a Scan
    assert ctx.logs == [("INFO", f"exported 5000 interventions to interventions.jsonl ({len(data)} bytes)")]

    result, ctx = run_export({"format": "csv"})
    assert result == {"count": 5_000, "file": "interventions.csv"}
    header, exported = csv_records(ctx.outputs["interventions.csv"])
    assert header == list(Intervention.model_fields)
    assert len(exported) == 5_000 and {iv.id: iv for iv in exported} == records
    assert ctx.content_types["interventions.csv"] == "text/csv; charset=utf-8"
    assert ctx.chunk_counts["interventions.csv"] > 1

    by_creation = sorted(records.values(), key=lambda iv: iv.created_at)
    # Bounds on real records, to show they are inclusive to the microsecond.
    start, end = by_creation[1_000].created_at, by_creation[1_250].created_at
    early, late = by_creation[200].created_at, by_creation[4_800].created_at
    cases = [
        {"status": "REJECTED"},
        {"status": "EXPIRED"},  # none seeded
        {"created_from": start, "created_to": end},
        {"created_from": start + timedelta(microseconds=1), "created_to": end - timedelta(microseconds=1)},
        {"created_from": late},
        {"created_to": early},
        {"status": "PENDING", "created_from": start, "created_to": end},  # by priority first: a filter there
        {"status": "APPROVED", "created_from": start, "created_to": end},
    ]
    for case in cases:
        expected = {iv.id for iv in records.values() if matches(iv, case)}
        parameters = {name: value.isoformat() if name.startswith("created") else value for name, value in case.items()}
        result, ctx = run_export(parameters)
        exported = [iv.id for iv in jsonl_records(ctx.outputs["interventions.jsonl"])]
        assert set(exported) == expected and result["count"] == len(exported) == len(expected), case
        assert expected or case == {"status": "EXPIRED"}


def matches(iv, case):
    return (
        ("status" not in case or iv.status.value == case["status"])
        and ("created_from" not in case or iv.created_at >= case["created_from"])
        and ("created_to" not in case or iv.created_at <= case["created_to"])
    )


def test_records_past_retention_and_other_tenants_are_not_exported(api, clock):
    kept = [api.create()["id"] for _ in range(2)]
    closed = api.create()["id"]
    assert api.post(f"/interventions/{closed}/reject", OPERATOR, {"reason": "no"}).status == 200
    api.create(user("a", "requester", tenant="globex"))
    assert run_export({})[0]["count"] == 3

    clock.advance(days=91)  # the rejected one is past RETENTION_DAYS; open ones are kept however old
    result, ctx = run_export({})
    assert result["count"] == 2
    assert sorted(iv.id for iv in jsonl_records(ctx.outputs["interventions.jsonl"])) == sorted(kept)


def test_an_empty_export_is_an_empty_file_or_just_the_header(dynamodb, clock):
    assert run_export({})[1].outputs == {"interventions.jsonl": b""}
    result, ctx = run_export({"format": "csv"})
    assert result == {"count": 0, "file": "interventions.csv"}
    assert csv_records(ctx.outputs["interventions.csv"]) == (list(Intervention.model_fields), [])


def test_a_cancelled_export_stops_between_pages_and_leaves_no_file(dynamodb, clock):
    seed_interventions(dynamodb, "acme", 700, seed=13)

    requested_before = RecordingRunContext(tenant="acme")
    requested_before.cancel()
    with pytest.raises(JobCancelled, match="after 0 records"):
        export.run(export.parameters.model_validate({}), requested_before)
    assert requested_before.outputs == {}

    part_way = RecordingRunContext(tenant="acme", cancel_after=1)  # the first page goes through
    with pytest.raises(JobCancelled, match="after 500 records"):
        export.run(export.parameters.model_validate({"format": "csv"}), part_way)
    assert part_way.outputs == {} and part_way.cancel_checks == 2
