"""Domain events from record changes (oversight.events): names, ids,
what a detail holds, what a Step Functions task is told."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from oversight import events
from oversight.models import EVENT_TYPES, Approval, Intervention, InterventionEvent, Job, JobStatus, Status
from oversight.store.changes import INTERVENTION, JOB, RecordChange

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def an_intervention(**changes) -> Intervention:
    fields = dict(
        id="0b8a4c1e-6f2d-4e3a-9b5c-7d8e9f0a1b2c",
        uow_id="u",
        type="approval",
        status=Status.PENDING,
        priority="normal",
        title="t",
        description="",
        context={},
        required_role="operator",
        created_by="agent-7",
        created_at=NOW,
        updated_at=NOW,
        expires_at=NOW + timedelta(hours=1),
        version=1,
    )
    return Intervention(**{**fields, **changes})


def a_job(**changes) -> Job:
    fields = dict(id="5b1c0f4e-2a3d-4c5e-8f9a-0b1c2d3e4f50", tool="t", parameters={}, status=JobStatus.PENDING)
    return Job(**{**fields, "submitted_by": "agent-7", "created_at": NOW, **changes})


def audit(action: str, to: Status = Status.PENDING, actor: str = "pilot-ana") -> InterventionEvent:
    return InterventionEvent(at=NOW, actor=actor, action=action, from_status=None, to_status=to)


def changed(before, after, event=None) -> events.DomainEvent | None:
    kind = INTERVENTION if isinstance(after, Intervention) else JOB
    return events.event_of(RecordChange(kind, "acme", before, after, event))


def test_every_event_type_is_named_and_names_an_audit_action_or_job_status():
    assert set(events.INTERVENTION_EVENTS.values()) | {n for _, n in events.JOB_EVENTS.values()} == set(EVENT_TYPES)
    assert len(EVENT_TYPES) == 18


def test_a_change_of_an_intervention_is_its_audit_action_with_the_record():
    before, after = an_intervention(), an_intervention(status=Status.IN_PROGRESS, assigned_to="pilot-ana", version=2)
    event = changed(before, after, audit("claim", Status.IN_PROGRESS))
    assert event.detail_type == "Intervention Claimed"
    detail = event.detail
    assert (detail["tenant"], detail["action"], detail["actor"], detail["version"]) == ("acme", "claim", "pilot-ana", 2)
    assert detail["intervention"] == after.model_dump(mode="json")
    assert detail["at"] == "2026-11-23T09:00:00.000Z"
    entry = event.entry("bus")
    assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == ("oversight", "Intervention Claimed", "bus")
    assert json.loads(entry["Detail"]) == detail


def test_the_same_change_always_has_the_same_id_and_another_version_another():
    a = changed(None, an_intervention(), audit("create"))
    b = changed(None, an_intervention(), audit("create"))
    c = changed(an_intervention(), an_intervention(version=2), audit("comment"))
    assert a.event_id == b.event_id != c.event_id
    assert events.event_id("acme", "intervention", "x", 1) != events.event_id("globex", "intervention", "x", 1)


def test_a_rewrite_of_the_same_version_is_no_event():
    assert changed(an_intervention(version=2), an_intervention(version=2), audit("claim")) is None


@pytest.mark.parametrize(
    "before, after, expected",
    [
        (None, JobStatus.PENDING, ("submit", "Job Submitted")),
        (None, JobStatus.AWAITING_APPROVAL, ("submit", "Job Submitted")),
        (None, JobStatus.COMPLETED, ("complete", "Job Completed")),  # answered from the cache
        (JobStatus.AWAITING_APPROVAL, JobStatus.PENDING, ("queue", "Job Queued")),
        (JobStatus.PENDING, JobStatus.RUNNING, ("start", "Job Started")),
        (JobStatus.RUNNING, JobStatus.PENDING, ("queue", "Job Queued")),
        (JobStatus.RUNNING, JobStatus.FAILED, ("fail", "Job Failed")),
        (JobStatus.PENDING, JobStatus.CANCELLED, ("cancel", "Job Cancelled")),
        (JobStatus.AWAITING_APPROVAL, JobStatus.REJECTED, ("reject", "Job Rejected")),
    ],
)
def test_a_job_event_is_named_by_the_status_it_moved_to(before, after, expected):
    old = a_job(status=before) if before else None
    event = changed(old, a_job(status=after, version=2 if before else 1, started_at=NOW, finished_at=NOW))
    assert (event.detail["action"], event.detail_type) == expected
    assert event.detail["job"]["status"] == after.value


def test_a_job_write_that_moves_no_status_is_no_event():
    assert changed(a_job(status=JobStatus.PENDING), a_job(status=JobStatus.PENDING)) is None  # a re-queue
    running = a_job(status=JobStatus.RUNNING, version=2)
    assert changed(running, running.model_copy(update={"cancel_requested": True, "version": 3})) is None


def test_an_event_too_big_for_the_bus_keeps_the_record_without_its_large_fields():
    # The largest a request can be: every free-form field at its limit.
    approvals = [Approval(user=f"u{n}", at=NOW, reason="r" * 2000, response="y" * 16_380) for n in range(10)]
    big = an_intervention(
        context={"blob": "x" * 16_370},
        description="d" * 4000,
        response="r" * 16_380,
        response_schema={"description": "s" * 8000},
        approvals=approvals,
        version=2,
    )
    event = changed(an_intervention(), big, audit("approve"))
    assert event.detail["truncated"] is True
    assert len(json.dumps(event.detail)) < events.MAX_DETAIL_BYTES
    shown = event.detail["intervention"]
    assert (
        "context" not in shown and shown["id"] == big.id and [a["user"] for a in shown["approvals"]][:2] == ["u0", "u1"]
    )
    small = changed(None, an_intervention(), audit("create"))
    assert "truncated" not in small.detail


@pytest.mark.parametrize(
    "action, status, expected",
    [
        ("approve", Status.APPROVED, None),
        ("reject", Status.REJECTED, "Oversight.Rejected"),
        ("expire", Status.EXPIRED, "Oversight.Expired"),
        ("expire", Status.APPROVED, None),  # a default approval at expiry
        ("expire", Status.REJECTED, "Oversight.Rejected"),
        ("cancel", Status.CANCELLED, "Oversight.Cancelled"),
    ],
)
def test_a_deciding_event_tells_the_task_its_outcome(action, status, expected):
    iv = an_intervention(status=status, decided_by="pilot-ana", decision_reason="why", version=2)
    outcome = events.task_outcome(changed(an_intervention(), iv, audit(action, status)).detail)
    assert outcome is not None
    error, output = outcome
    assert error == expected
    assert output == {
        "id": iv.id,
        "status": status.value,
        "decided_by": "pilot-ana",
        "decision_reason": "why",
        "response": None,
        "approvals": [],
    }


@pytest.mark.parametrize(
    "action, status",
    [
        ("approve", Status.PENDING),
        ("claim", Status.IN_PROGRESS),
        ("comment", Status.APPROVED),
        ("complete", Status.COMPLETED),
    ],
)
def test_an_event_that_decides_nothing_tells_the_task_nothing(action, status):
    iv = an_intervention(status=status, version=2)
    assert events.task_outcome(changed(an_intervention(), iv, audit(action, status)).detail) is None
