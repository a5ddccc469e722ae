"""A change of the table as its stream reports it (a record of a Lambda
DynamoDB Streams event): which record, of which tenant, before and after.
Only records are changes (an intervention's or a job's #META item):
counters, log lines, audit items and sealed fields are not."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from oversight.models import Intervention, InterventionEvent, Job
from oversight.store import keys
from oversight.store._dynamodb import intervention_from_item
from oversight.store.jobs import job_from_item

INTERVENTION = "intervention"
JOB = "job"


@dataclass(frozen=True)
class RecordChange:
    kind: str  # INTERVENTION or JOB
    tenant: str
    before: Intervention | Job | None
    after: Intervention | Job
    # An intervention's audit event of this version (its #META item carries it).
    event: InterventionEvent | None = None
    # When the stream saw the change (to the second): the same on every redelivery.
    seen_at: datetime | None = None


def change_of(record: Mapping[str, Any]) -> RecordChange | None:
    """The record change a stream record reports, or None when it reports
    none (a removal, another kind of item)."""
    if record.get("eventName") not in ("INSERT", "MODIFY"):
        return None
    images = record.get("dynamodb") or {}
    new, old = images.get("NewImage"), images.get("OldImage")
    if not new or new.get("sk", {}).get("S") != keys.META_SK:
        return None
    entity = new.get("entity", {}).get("S")
    tenant = keys.tenant_of(new["pk"]["S"])
    created = images.get("ApproximateCreationDateTime")
    seen_at = datetime.fromtimestamp(float(created), UTC) if created is not None else None
    if entity == INTERVENTION:
        after = intervention_from_item(new)
        before = intervention_from_item(old) if old else None
        last = new.get("last_event", {}).get("S")
        event = InterventionEvent.model_validate_json(last) if last else None
        return RecordChange(INTERVENTION, tenant, before, after, event, seen_at)
    if entity == JOB:
        return RecordChange(JOB, tenant, job_from_item(old) if old else None, job_from_item(new), None, seen_at)
    return None
