"""Domain events: what each change of a record is called and says, as the
bus, the webhooks, the callbacks and the Step Functions tasks receive it
(docs/integrations.md). Built from the table's stream (store/changes.py),
never from the handlers: a change is published because it was written.

An event's id is derived from the tenant, the record and its version, so a
stream batch delivered again yields the same ids, and receivers dedupe on
them. The record in an event is the one the API returns (a job's secret
parameters redacted, no presigned URLs); one too big for the bus loses its
large fields and says `truncated`."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from oversight import clock
from oversight.clock import iso
from oversight.jobs import redacted_job
from oversight.models import Intervention, Job, JobStatus, Status
from oversight.models.webhook import EVENT_TYPES
from oversight.store.changes import INTERVENTION, JOB, RecordChange

SOURCE = "oversight"
SYSTEM = "system"
# EventBridge takes at most 256 KB per entry; the deliveries' SQS messages
# wrap the detail, and must stay within SQS's 256 KiB too.
MAX_DETAIL_BYTES = 200_000
_NAMESPACE = uuid.UUID("6f0b5a2e-3c1d-5e7a-9b8c-0d4e2f6a1b3c")

# An intervention's event is named by its audit action.
INTERVENTION_EVENTS = {
    "create": "Intervention Created",
    "claim": "Intervention Claimed",
    "release": "Intervention Released",
    "assign": "Intervention Assigned",
    "approve": "Intervention Approved",
    "reject": "Intervention Rejected",
    "cancel": "Intervention Cancelled",
    "complete": "Intervention Completed",
    "expire": "Intervention Expired",
    "escalate": "Intervention Escalated",
    "comment": "Intervention Commented",
}
# A job's by the status it moved to (a new job: "submit", or "complete" when
# it was answered from the cache).
JOB_EVENTS: dict[JobStatus, tuple[str, str]] = {
    JobStatus.AWAITING_APPROVAL: ("submit", "Job Submitted"),
    JobStatus.PENDING: ("queue", "Job Queued"),
    JobStatus.RUNNING: ("start", "Job Started"),
    JobStatus.COMPLETED: ("complete", "Job Completed"),
    JobStatus.FAILED: ("fail", "Job Failed"),
    JobStatus.CANCELLED: ("cancel", "Job Cancelled"),
    JobStatus.REJECTED: ("reject", "Job Rejected"),
}
_SUBMITTED = ("submit", "Job Submitted")
assert set(INTERVENTION_EVENTS.values()) | {name for _, name in JOB_EVENTS.values()} == set(EVENT_TYPES)

# The outcomes a waiting Step Functions task is told, and its error for each but approval.
TASK_ERRORS = {
    Status.REJECTED: "Oversight.Rejected",
    Status.EXPIRED: "Oversight.Expired",
    Status.CANCELLED: "Oversight.Cancelled",
}
_DECIDING_ACTIONS = frozenset({"approve", "reject", "cancel", "expire"})


@dataclass(frozen=True)
class DomainEvent:
    detail_type: str
    detail: dict[str, Any]
    at: datetime

    @property
    def event_id(self) -> str:
        return str(self.detail["event_id"])

    def entry(self, bus: str) -> dict[str, Any]:
        """The PutEvents entry that publishes it on `bus`."""
        return {
            "Source": SOURCE,
            "DetailType": self.detail_type,
            "Detail": json.dumps(self.detail, separators=(",", ":"), ensure_ascii=False),
            "EventBusName": bus,
            "Time": self.at,
        }


def event_id(tenant: str, kind: str, record_id: str, version: int) -> str:
    """The same change always has the same id: a redelivered stream record
    yields the event it yielded before."""
    return str(uuid.uuid5(_NAMESPACE, f"{tenant}/{kind}/{record_id}/{version}"))


def event_of(change: RecordChange) -> DomainEvent | None:
    """The event a record change is, or None for a write that changed
    nothing a reader sees (the same version written again, a job's re-queue)."""
    if change.kind == INTERVENTION:
        assert isinstance(change.after, Intervention)
        return _intervention_event(change)
    if change.kind == JOB:
        assert isinstance(change.after, Job)
        return _job_event(change)
    return None


def _intervention_event(change: RecordChange) -> DomainEvent | None:
    after = change.after
    assert isinstance(after, Intervention)
    if change.before is not None and change.before.version >= after.version:
        return None
    audit = change.event
    if audit is None or audit.action not in INTERVENTION_EVENTS:
        return None
    record = after.model_dump(mode="json")
    return _event(change.tenant, INTERVENTION, after.id, after.version, audit.action, audit.actor, audit.at, record)


def _job_event(change: RecordChange) -> DomainEvent | None:
    after, before = change.after, change.before
    assert isinstance(after, Job)
    if before is None:
        action, name = JOB_EVENTS[after.status] if after.status is JobStatus.COMPLETED else _SUBMITTED
        actor, at = after.submitted_by, after.created_at
    elif isinstance(before, Job) and before.status is not after.status:
        action, name = JOB_EVENTS[after.status]
        actor, at = SYSTEM, _job_time(after, change.seen_at)
    else:
        return None
    shown = redacted_job(after)
    if shown.result is not None:  # no presigned URL: it would outlive its use in a receiver's log
        shown = shown.model_copy(
            update={
                "result": shown.result.model_copy(
                    update={"outputs": [o.model_copy(update={"url": None}) for o in shown.result.outputs]}
                )
            }
        )
    return _event(change.tenant, JOB, after.id, after.version, action, actor, at, shown.model_dump(mode="json"), name)


def _job_time(job: Job, seen_at: datetime | None) -> datetime:
    if job.status is JobStatus.RUNNING and job.started_at is not None:
        return job.started_at
    if job.finished_at is not None:
        return job.finished_at
    # A re-queue or an approval has no time of its own: when the stream saw it (the same on a redelivery).
    return seen_at or clock.now()


def _event(
    tenant: str,
    kind: str,
    record_id: str,
    version: int,
    action: str,
    actor: str,
    at: datetime,
    record: dict[str, Any],
    name: str | None = None,
) -> DomainEvent:
    detail: dict[str, Any] = {
        "event_id": event_id(tenant, kind, record_id, version),
        "tenant": tenant,
        "at": iso(at),
        "action": action,
        "actor": actor,
        "version": version,
        kind: record,
    }
    if _size(detail) > MAX_DETAIL_BYTES:
        detail[kind] = _slim(kind, record)
        detail["truncated"] = True
    return DomainEvent(name or INTERVENTION_EVENTS[action], detail, at)


def _size(detail: dict[str, Any]) -> int:
    return len(json.dumps(detail, separators=(",", ":"), ensure_ascii=False).encode())


# What a record keeps in an event too big for the bus: everything but its
# free-form fields (a receiver reads the record for them).
_LARGE_FIELDS = {
    INTERVENTION: ("context", "description", "response", "response_schema", "approvals"),
    JOB: ("parameters", "result"),
}


def _slim(kind: str, record: dict[str, Any]) -> dict[str, Any]:
    slim = {name: value for name, value in record.items() if name not in _LARGE_FIELDS[kind]}
    if kind == INTERVENTION:
        slim["approvals"] = [{"user": a["user"], "at": a["at"]} for a in record.get("approvals", [])]
    elif record.get("result"):
        slim["result"] = {"error": (record["result"].get("error") or "")[:2000] or None, "truncated": True}
    return slim


# ---------------------------------------------------------------- Step Functions
def task_outcome(detail: dict[str, Any]) -> tuple[str | None, dict[str, Any]] | None:
    """What a task waiting on this intervention is told, if this event
    decided it: (None, output) for success, (error name, cause) for failure;
    None when the event decides nothing (a quorum's approval, a claim, a
    comment on a closed request)."""
    record = detail.get(INTERVENTION)
    if record is None or detail.get("action") not in _DECIDING_ACTIONS:
        return None
    status = Status(record["status"])
    if status is not Status.APPROVED and status not in TASK_ERRORS:
        return None
    output = {
        "id": record["id"],
        "status": status.value,
        "decided_by": record.get("decided_by"),
        "decision_reason": record.get("decision_reason"),
        "response": record.get("response"),
        "approvals": record.get("approvals", []),
    }
    if detail.get("truncated"):
        output["truncated"] = True
    return (None if status is Status.APPROVED else TASK_ERRORS[status]), output
