from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from oversight.counters import (
    RESOLUTION_BUCKETS,
    bucket_of,
    intervention_stats,
    on_created,
    on_transition,
    percentile,
)
from oversight.models import Intervention, Status

T0 = datetime(2026, 11, 23, 23, 59, tzinfo=timezone.utc)


def make(**changes):
    fields = dict(
        id="0b0c56a4-1c56-4b39-9a53-6b7b0b2f1f10", uow_id="u", type="resume", status=Status.PENDING,
        priority="high", title="t", description="", context={}, required_role="operator", created_by="c",
        created_at=T0, updated_at=T0, expires_at=T0 + timedelta(hours=1), version=1,
    )  # fmt: skip
    return Intervention(**{**fields, **changes})


def test_created_counts_total_status_type_priority_and_day():
    delta = on_created(make())
    assert delta.totals == Counter(i_total=1, i_status_PENDING=1, i_type_resume=1, i_priority_high=1)
    assert delta.daily == {"2026-11-23": Counter(created=1)}


def test_decision_moves_one_count_and_records_resolution_on_the_decision_day():
    before = make()
    after = make(status=Status.APPROVED, decided_by="ana", decided_at=T0 + timedelta(minutes=2),
                 resolution_seconds=120.0, version=2)  # fmt: skip
    delta = on_transition(before, after)
    assert delta.totals == Counter(
        {"i_status_PENDING": -1, "i_status_APPROVED": 1, "i_res_count": 1, "i_res_sum": 120.0,
         f"i_res_b{bucket_of(120)}": 1, "r:ana": 1}
    )  # fmt: skip
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


@pytest.mark.parametrize(("seconds", "bucket"), [(0, 0), (10, 0), (10.001, 1), (2_592_000, 18), (3_000_000, 19)])
def test_buckets(seconds, bucket):
    assert bucket_of(seconds) == bucket and len(RESOLUTION_BUCKETS) == 19


def test_percentiles_interpolate_within_the_bucket():
    histogram = [0] * 20
    histogram[bucket_of(45)] = 10  # ten values in (30, 60]
    assert percentile(histogram, 0.5) == 45.0
    assert percentile(histogram, 0.95) == 58.5
    assert percentile([0] * 20, 0.5) is None
    overflow = [0] * 19 + [4]
    assert percentile(overflow, 0.5) == float(RESOLUTION_BUCKETS[-1])


def test_stats_list_every_enum_value_and_rank_responders():
    totals = Counter({"i_total": 3, "i_status_PENDING": 1, "i_status_APPROVED": 2, "r:bo": 1, "r:ana": 2, "r:cy": 1})
    stats = intervention_stats(totals)
    assert set(stats.by_status) == {s.value for s in Status} and stats.by_status["REJECTED"] == 0
    assert len(stats.by_type) == 6 and len(stats.by_priority) == 4 and stats.open == 1
    assert [(r.user, r.count) for r in stats.top_responders] == [("ana", 2), ("bo", 1), ("cy", 1)]
    assert stats.avg_resolution_seconds is None
