"""Pre-computed statistics: what each write adds to the counters, and how
the counters become the figures of GET /stats. Pure: no I/O.

Counters live in a few sharded items per tenant (see docs/data-model.md):
every write adds to the shard of its intervention, a stats read sums the
shards. Resolution times go into a fixed-bucket histogram, so the
percentiles cost the same whatever the number of records."""

from __future__ import annotations

import bisect
from enum import StrEnum
from collections import Counter
from dataclasses import dataclass, field

from oversight.models import (
    DailyFigures,
    Intervention,
    Job,
    InterventionStats,
    InterventionType,
    JobStats,
    JobStatus,
    Priority,
    ResponderCount,
    Status,
    ToolCount,
)

# Upper bounds (seconds) of the resolution-time buckets; one more bucket
# holds everything above the last bound.
RESOLUTION_BUCKETS: tuple[int, ...] = (
    10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 43200,
    86400, 172800, 345600, 604800, 1209600, 2592000,
)  # fmt: skip
TOP_RESPONDERS = 10

# Closing statuses that count a resolution time, and the daily figure of each.
_RESOLVED = {
    Status.APPROVED: "approved",
    Status.REJECTED: "rejected",
    Status.EXPIRED: "expired",
    Status.CANCELLED: "cancelled",
}
_RESPONDER_PREFIX = "r:"
_TOOL_PREFIX = "t:"
TOP_TOOLS = 10


def bucket_of(seconds: float) -> int:
    return bisect.bisect_left(RESOLUTION_BUCKETS, seconds)


@dataclass
class CounterDelta:
    """Increments for the tenant's totals and for its per-day figures."""

    totals: Counter[str] = field(default_factory=Counter)
    daily: dict[str, Counter[str]] = field(default_factory=dict)

    def add_daily(self, day: str, name: str, amount: int = 1) -> None:
        self.daily.setdefault(day, Counter())[name] += amount

    def merge(self, other: CounterDelta) -> CounterDelta:
        """Both deltas in one (a transaction may touch a counter item once)."""
        merged = CounterDelta(totals=Counter(self.totals))
        merged.totals.update(other.totals)
        for delta in (self, other):
            for day, counts in delta.daily.items():
                merged.daily.setdefault(day, Counter()).update(counts)
        return merged


def on_created(iv: Intervention) -> CounterDelta:
    delta = CounterDelta()
    delta.totals.update(
        {"i_total": 1, f"i_status_{iv.status.value}": 1, f"i_type_{iv.type.value}": 1,
         f"i_priority_{iv.priority.value}": 1}
    )  # fmt: skip
    delta.add_daily(iv.created_at.date().isoformat(), "created")
    return delta


def _status_moved(prefix: str, before: StrEnum, after: StrEnum) -> CounterDelta:
    """One count moved from the old status to the new one (none if unchanged)."""
    delta = CounterDelta()
    if before is not after:
        delta.totals[f"{prefix}_status_{before.value}"] -= 1
        delta.totals[f"{prefix}_status_{after.value}"] += 1
    return delta


def on_transition(before: Intervention, after: Intervention) -> CounterDelta:
    delta = _status_moved("i", before.status, after.status)
    if before.status is after.status:
        return delta
    daily_name = _RESOLVED.get(after.status)
    if daily_name and after.resolution_seconds is not None and after.decided_at is not None:
        delta.totals["i_res_count"] += 1
        delta.totals["i_res_sum"] += after.resolution_seconds  # type: ignore[assignment]
        delta.totals[f"i_res_b{bucket_of(after.resolution_seconds)}"] += 1
        delta.add_daily(after.decided_at.date().isoformat(), daily_name)
    if after.status in (Status.APPROVED, Status.REJECTED) and after.decided_by:
        delta.totals[responder_attribute(after.decided_by)] += 1
    return delta


def on_job_created(job: Job) -> CounterDelta:
    delta = CounterDelta()
    delta.totals.update({"j_total": 1, f"j_status_{job.status.value}": 1, tool_attribute(job.tool): 1})
    if job.status is JobStatus.COMPLETED and job.finished_at is not None:  # answered from the cache
        delta.add_daily(job.finished_at.date().isoformat(), "jobs_completed")
    return delta


def on_job_transition(before: Job, after: Job) -> CounterDelta:
    delta = _status_moved("j", before.status, after.status)
    if before.status is after.status:
        return delta
    if after.status in (JobStatus.COMPLETED, JobStatus.FAILED) and after.finished_at is not None:
        daily_name = "jobs_completed" if after.status is JobStatus.COMPLETED else "jobs_failed"
        delta.add_daily(after.finished_at.date().isoformat(), daily_name)
        if after.duration_seconds is not None and not after.cached:
            delta.totals["j_duration_count"] += 1
            delta.totals["j_duration_sum"] += after.duration_seconds  # type: ignore[assignment]
    return delta


def tool_attribute(tool: str) -> str:
    return f"{_TOOL_PREFIX}{tool}"


def responder_attribute(user: str) -> str:
    return f"{_RESPONDER_PREFIX}{user}"


def percentile(histogram: list[int], q: float) -> float | None:
    """The q-quantile estimated from the histogram: linear within the bucket
    that holds it (the overflow bucket answers its lower bound)."""
    count = sum(histogram)
    if count == 0:
        return None
    rank = q * count
    seen = 0
    for index, in_bucket in enumerate(histogram):
        if in_bucket and seen + in_bucket >= rank:
            lower = RESOLUTION_BUCKETS[index - 1] if index > 0 else 0
            if index >= len(RESOLUTION_BUCKETS):
                return float(lower)
            upper = RESOLUTION_BUCKETS[index]
            return round(lower + (upper - lower) * (rank - seen) / in_bucket, 3)
        seen += in_bucket
    return float(RESOLUTION_BUCKETS[-1])


def sum_shards(shards: list[dict[str, float]]) -> Counter[str]:
    total: Counter[str] = Counter()
    for shard in shards:
        total.update(shard)
    return total


def intervention_stats(totals: Counter[str]) -> InterventionStats:
    by_status = {s.value: int(totals[f"i_status_{s.value}"]) for s in Status}
    histogram = [int(totals[f"i_res_b{i}"]) for i in range(len(RESOLUTION_BUCKETS) + 1)]
    resolved = int(totals["i_res_count"])
    responders = [
        ResponderCount(user=name[len(_RESPONDER_PREFIX) :], count=int(count))
        for name, count in totals.items()
        if name.startswith(_RESPONDER_PREFIX) and count > 0
    ]
    responders.sort(key=lambda r: (-r.count, r.user))
    return InterventionStats(
        total=int(totals["i_total"]),
        open=by_status[Status.PENDING.value] + by_status[Status.IN_PROGRESS.value],
        by_status=by_status,
        by_type={t.value: int(totals[f"i_type_{t.value}"]) for t in InterventionType},
        by_priority={p.value: int(totals[f"i_priority_{p.value}"]) for p in Priority},
        avg_resolution_seconds=round(totals["i_res_sum"] / resolved, 3) if resolved else None,
        resolution_seconds_p50=percentile(histogram, 0.50),
        resolution_seconds_p95=percentile(histogram, 0.95),
        top_responders=responders[:TOP_RESPONDERS],
    )


def job_stats(totals: Counter[str]) -> JobStats:
    by_status = {s.value: int(totals[f"j_status_{s.value}"]) for s in JobStatus}
    finished = by_status[JobStatus.COMPLETED.value] + by_status[JobStatus.FAILED.value]
    runs = int(totals["j_duration_count"])
    tools = [
        ToolCount(tool=name[len(_TOOL_PREFIX) :], count=int(count))
        for name, count in totals.items()
        if name.startswith(_TOOL_PREFIX) and count > 0
    ]
    tools.sort(key=lambda t: (-t.count, t.tool))
    return JobStats(
        total=int(totals["j_total"]),
        by_status=by_status,
        success_rate=round(by_status[JobStatus.COMPLETED.value] / finished, 4) if finished else None,
        top_tools=tools[:TOP_TOOLS],
        avg_duration_seconds=round(totals["j_duration_sum"] / runs, 3) if runs else None,
    )


def daily_figures(day: str, counts: Counter[str]) -> DailyFigures:
    return DailyFigures(date=day, **{name: int(counts[name]) for name in DailyFigures.model_fields if name != "date"})
