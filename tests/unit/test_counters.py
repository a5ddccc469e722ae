from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from oversight.counters import (
    RESOLUTION_BUCKET_COUNT,
    RESOLUTION_BUCKET_FLOORS,
    bucket_of,
    intervention_stats,
    on_created,
    on_transition,
    percentile,
)
from oversight.models import Intervention, Status

T0 = datetime(2026, 11, 23, 23, 59, tzinfo=UTC)


def make(**changes):
    fields = dict(
        id="0b0c56a4-1c56-4b39-9a53-6b7b0b2f1f10",
        uow_id="u",
        type="resume",
        status=Status.PENDING,
        priority="high",
        title="t",
        description="",
        context={},
        required_role="operator",
        created_by="c",
        created_at=T0,
        updated_at=T0,
        expires_at=T0 + timedelta(hours=1),
        version=1,
    )
    return Intervention(**{**fields, **changes})


def test_created_counts_total_status_type_priority_and_day():
    delta = on_created(make())
    assert delta.totals == Counter(i_total=1, i_status_PENDING=1, i_type_resume=1, i_priority_high=1)
    assert delta.daily == {"2026-11-23": Counter(created=1)}


def test_decision_moves_one_count_and_records_resolution_on_the_decision_day():
    before = make()
    after = make(
        status=Status.APPROVED,
        decided_by="ana",
        decided_at=T0 + timedelta(minutes=2),
        resolution_seconds=120.0,
        version=2,
    )
    delta = on_transition(before, after)
    assert delta.totals == Counter(
        {
            "i_status_PENDING": -1,
            "i_status_APPROVED": 1,
            "i_res_count": 1,
            "i_res_sum": 120.0,
            f"i_res_h{bucket_of(120)}_n": 1,
            f"i_res_h{bucket_of(120)}_s": 120.0,
            "r:ana": 1,
        }
    )
    assert delta.daily == {"2026-11-24": Counter(approved=1)}


def test_claim_and_complete_move_status_only():
    claimed = make(status=Status.IN_PROGRESS, assigned_to="ana", version=2)
    assert on_transition(make(), claimed).totals == Counter(i_status_PENDING=-1, i_status_IN_PROGRESS=1)
    approved = make(status=Status.APPROVED, decided_by="ana", decided_at=T0, resolution_seconds=1.0)
    completed = approved.model_copy(update={"status": Status.COMPLETED})
    delta = on_transition(approved, completed)
    assert delta.totals == Counter(i_status_APPROVED=-1, i_status_COMPLETED=1) and not delta.daily


def test_expiry_counts_no_responder():
    expired = make(status=Status.EXPIRED, decided_by="system", decided_at=T0, resolution_seconds=3600.0)
    assert not any(name.startswith("r:") for name in on_transition(make(), expired).totals)


@pytest.mark.parametrize(
    ("seconds", "bucket"), [(0, 0), (0.0004, 1), (0.001, 1), (0.00105, 2), (2_592_000, 553), (3_000_000, 553)]
)
def test_buckets(seconds, bucket):
    assert bucket_of(seconds) == bucket and RESOLUTION_BUCKET_COUNT == 554


def test_every_bucket_spans_at_most_four_percent():
    floors = RESOLUTION_BUCKET_FLOORS
    assert floors[0] == 0.001 and floors[-1] < 2_592_000 <= floors[-1] * 1.04
    assert max(upper / lower for lower, upper in zip(floors, floors[1:], strict=False)) <= 1.04 + 1e-12


def test_percentile_is_the_mean_of_the_bucket_holding_the_rank():
    # Ten values in one bucket [45.0, 46.8): the rank's bucket answers its mean.
    values = [45.0 + n * 0.1 for n in range(10)]
    totals = Counter()
    for seconds in values:
        totals[f"i_res_h{bucket_of(seconds)}_n"] += 1
        totals[f"i_res_h{bucket_of(seconds)}_s"] += seconds
    assert len({bucket_of(v) for v in values}) == 1
    assert percentile(totals, 0.5) == percentile(totals, 0.95) == round(sum(values) / 10, 3)
    assert percentile(Counter(), 0.5) is None


def test_stats_list_every_enum_value_and_rank_responders():
    totals = Counter({"i_total": 3, "i_status_PENDING": 1, "i_status_APPROVED": 2, "r:bo": 1, "r:ana": 2, "r:cy": 1})
    stats = intervention_stats(totals)
    assert set(stats.by_status) == {s.value for s in Status} and stats.by_status["REJECTED"] == 0
    assert len(stats.by_type) == 6 and len(stats.by_priority) == 4 and stats.open == 1
    assert [(r.user, r.count) for r in stats.top_responders] == [("ana", 2), ("bo", 1), ("cy", 1)]
    assert stats.avg_resolution_seconds is None


# ---------------------------------------------------------------- decisions beyond one approver
def approval(user):
    from oversight.models import Approval

    return Approval(user=user, at=T0, reason="ok")


def test_every_approval_of_a_quorum_counts_for_its_user_and_only_the_last_resolves():
    first = make(required_approvals=2, approvals=[approval("ana")], version=2)
    partial = on_transition(make(required_approvals=2), first)
    assert partial.totals == Counter({"r:ana": 1}) and not partial.daily
    done = first.model_copy(
        update={
            "status": Status.APPROVED,
            "approvals": [approval("ana"), approval("bo")],
            "decided_by": "bo",
            "decided_at": T0,
            "resolution_seconds": 5.0,
        }
    )
    final = on_transition(first, done)
    assert final.totals["r:bo"] == 1 and "r:ana" not in final.totals
    assert final.totals["i_status_APPROVED"] == 1 and final.totals["i_res_count"] == 1


@pytest.mark.parametrize("status", [Status.APPROVED, Status.REJECTED])
def test_a_default_decided_by_the_system_counts_for_nobody(status):
    defaulted = make(status=status, decided_by="system", decided_at=T0, resolution_seconds=3600.0)
    assert not [name for name in on_transition(make(), defaulted).totals if name.startswith("r:")]


def test_an_escalation_moves_the_priority_count():
    escalated = make(priority="critical", escalated_at=T0, version=2)
    assert on_transition(make(), escalated).totals == Counter(i_priority_high=-1, i_priority_critical=1)


def test_a_comment_moves_no_counter():
    assert not on_transition(make(), make(version=2)).totals
