"""Pre-computed statistics: what each write adds to the counters, and how
the counters become the figures of GET /stats. Pure: no I/O.

Counters live in a few sharded items per tenant (see docs/data-model.md):
every write adds to the shard of its intervention, a stats read sums the
shards. Resolution times go into a log-spaced histogram, so the
percentiles cost the same whatever the number of records.

Every figure's name is defined here, once: the writes (`on_*`) and the
reads (`*_stats`, `daily_figures`) use the same names, and recompute_stats
rebuilds the figures `is_intervention_figure` selects. A delta names
logical figures: `r:<user>` (decisions of a user) is stored in that user's
responder item, not in the shard (store/keys.py, figure_items)."""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import TypeVar

from oversight.auth import SYSTEM_ACTOR
from oversight.models import (
    DailyFigures,
    Intervention,
    InterventionStats,
    InterventionType,
    Job,
    JobStats,
    JobStatus,
    Priority,
    ResponderCount,
    Status,
    ToolCount,
)

# Resolution-time histogram: bucket 0 holds 0 s; bucket k >= 1 holds
# [MIN * GROWTH**(k-1), MIN * GROWTH**k), from 1 ms to the 30-day maximum
# (values under 1 ms join bucket 1, the last bucket is open-ended). Every
# value of a bucket is within GROWTH of every other, so a percentile read
# from its bucket is within GROWTH - 1 (4 %) of the exact one.
RESOLUTION_GROWTH = 1.04
RESOLUTION_MIN_SECONDS = 0.001
RESOLUTION_MAX_SECONDS = 2_592_000
# Lower bounds of buckets 1..K, computed once: a value's bucket is found by
# comparing it with them, so it always lies within its bucket's bounds.
RESOLUTION_BUCKET_FLOORS: tuple[float, ...] = tuple(
    RESOLUTION_MIN_SECONDS * RESOLUTION_GROWTH**k
    for k in range(math.ceil(math.log(RESOLUTION_MAX_SECONDS / RESOLUTION_MIN_SECONDS, RESOLUTION_GROWTH)))
)
RESOLUTION_BUCKET_COUNT = len(RESOLUTION_BUCKET_FLOORS) + 1
TOP_RESPONDERS = 10
# The monotonic count of the writes that changed a shard's intervention
# figures (on its TOTAL item): recompute_stats conditions its corrections on
# it. Not a figure: never shown, never rebuilt.
INTERVENTION_WRITES = "i_writes"

# The all-time figures (TOTAL items, besides the histogram's and the
# per-status, type, priority and tool ones named by the functions below).
INTERVENTIONS_TOTAL = "i_total"
RESOLVED_COUNT = "i_res_count"
RESOLVED_SECONDS = "i_res_sum"
JOBS_TOTAL = "j_total"
JOB_RUNS = "j_duration_count"
JOB_RUN_SECONDS = "j_duration_sum"
# The daily figures (DAY items), each a field of DailyFigures.
CREATED = "created"
JOBS_COMPLETED = "jobs_completed"
JOBS_FAILED = "jobs_failed"
# Closing statuses that count a resolution time, and the daily figure of each.
_RESOLVED = {
    Status.APPROVED: "approved",
    Status.REJECTED: "rejected",
    Status.EXPIRED: "expired",
    Status.CANCELLED: "cancelled",
}
_RESPONDER_PREFIX = "r:"
# Bounded: submission accepts only registered tools, so a tenant's items hold
# at most one `t:` attribute per tool of the registry.
_TOOL_PREFIX = "t:"
TOP_TOOLS = 10
_INTERVENTION_PREFIXES = ("i_", _RESPONDER_PREFIX)
_INTERVENTION_DAILY_FIGURES = frozenset({CREATED, *_RESOLVED.values()})


def status_figure(status: Status) -> str:
    return f"i_status_{status.value}"


def type_figure(kind: InterventionType) -> str:
    return f"i_type_{kind.value}"


def priority_figure(priority: Priority) -> str:
    return f"i_priority_{priority.value}"


def job_status_figure(status: JobStatus) -> str:
    return f"j_status_{status.value}"


def bucket_of(seconds: float) -> int:
    if seconds <= 0:
        return 0
    return max(1, bisect.bisect_right(RESOLUTION_BUCKET_FLOORS, seconds))


def histogram_bucket(name: str) -> int | None:
    """The bucket a histogram figure (`i_res_h<k>_n` / `_s`) counts, None
    for any other figure."""
    if name.startswith("i_res_h") and name.endswith(("_n", "_s")) and name[7:-2].isdigit():
        return int(name[7:-2])
    return None


def bucket_count_attribute(bucket: int) -> str:
    return f"i_res_h{bucket}_n"


def bucket_sum_attribute(bucket: int) -> str:
    return f"i_res_h{bucket}_s"


def is_intervention_figure(name: str) -> bool:
    """Figures the intervention writes own (job figures share the items:
    `j_*`, `t:*`, `jobs_completed`, `jobs_failed`)."""
    if name == INTERVENTION_WRITES:
        return False
    return name.startswith(_INTERVENTION_PREFIXES) or name in _INTERVENTION_DAILY_FIGURES


@dataclass
class CounterDelta:
    """Increments for the tenant's totals and for its per-day figures."""

    totals: Counter[str] = field(default_factory=Counter)
    daily: dict[str, Counter[str]] = field(default_factory=dict)

    def add_daily(self, day: str, name: str, amount: int = 1) -> None:
        self.daily.setdefault(day, Counter())[name] += amount

    def add(self, other: CounterDelta) -> None:
        """Add `other`'s increments to this delta's (merged deltas: a
        transaction may touch a counter item once)."""
        self.totals.update(other.totals)
        for day, counts in other.daily.items():
            self.daily.setdefault(day, Counter()).update(counts)


def on_created(iv: Intervention) -> CounterDelta:
    delta = CounterDelta()
    delta.totals.update(
        {
            INTERVENTIONS_TOTAL: 1,
            status_figure(iv.status): 1,
            type_figure(iv.type): 1,
            priority_figure(iv.priority): 1,
        }
    )
    delta.add_daily(iv.created_at.date().isoformat(), CREATED)
    return delta


StatusT = TypeVar("StatusT", bound=StrEnum)


def _status_moved(figure: Callable[[StatusT], str], before: StatusT, after: StatusT) -> CounterDelta:
    """One count moved from the old status to the new one (none if unchanged)."""
    delta = CounterDelta()
    if before is not after:
        delta.totals[figure(before)] -= 1
        delta.totals[figure(after)] += 1
    return delta


def on_transition(before: Intervention, after: Intervention) -> CounterDelta:
    delta = _status_moved(status_figure, before.status, after.status)
    if before.priority is not after.priority:  # an escalation raised it: the record counts under its priority
        delta.totals[priority_figure(before.priority)] -= 1
        delta.totals[priority_figure(after.priority)] += 1
    for user in _new_responders(before, after):
        delta.totals[responder_attribute(user)] += 1
    if before.status is after.status:
        return delta
    daily_name = _RESOLVED.get(after.status)
    if daily_name and after.resolution_seconds is not None and after.decided_at is not None:
        delta.totals[RESOLVED_COUNT] += 1
        delta.totals[RESOLVED_SECONDS] += after.resolution_seconds  # type: ignore[assignment]
        bucket = bucket_of(after.resolution_seconds)
        delta.totals[bucket_count_attribute(bucket)] += 1
        delta.totals[bucket_sum_attribute(bucket)] += after.resolution_seconds  # type: ignore[assignment]
        delta.add_daily(after.decided_at.date().isoformat(), daily_name)
    return delta


def _new_responders(before: Intervention, after: Intervention) -> list[str]:
    """The users whose decision this change records: each new approval
    (every approval of a quorum counts for its user), and the rejecting
    user. A default decided by the system at expiry counts for nobody; a
    record approved before approvals were kept counts its decider."""
    known = {approval.user for approval in before.approvals}
    users = [approval.user for approval in after.approvals if approval.user not in known]
    decider = after.decided_by if before.status is not after.status else None
    if decider is None or decider == SYSTEM_ACTOR:
        return users
    if after.status is Status.REJECTED or (after.status is Status.APPROVED and not after.approvals):
        users.append(decider)
    return users


def on_job_created(job: Job) -> CounterDelta:
    delta = CounterDelta()
    delta.totals.update({JOBS_TOTAL: 1, job_status_figure(job.status): 1, tool_attribute(job.tool): 1})
    if job.status is JobStatus.COMPLETED and job.finished_at is not None:  # answered from the cache
        delta.add_daily(job.finished_at.date().isoformat(), JOBS_COMPLETED)
    return delta


def on_job_transition(before: Job, after: Job) -> CounterDelta:
    delta = _status_moved(job_status_figure, before.status, after.status)
    if before.status is after.status:
        return delta
    if after.status in (JobStatus.COMPLETED, JobStatus.FAILED) and after.finished_at is not None:
        daily_name = JOBS_COMPLETED if after.status is JobStatus.COMPLETED else JOBS_FAILED
        delta.add_daily(after.finished_at.date().isoformat(), daily_name)
        if after.duration_seconds is not None and not after.cached:
            delta.totals[JOB_RUNS] += 1
            delta.totals[JOB_RUN_SECONDS] += after.duration_seconds  # type: ignore[assignment]
    return delta


def tool_attribute(tool: str) -> str:
    return f"{_TOOL_PREFIX}{tool}"


def responder_attribute(user: str) -> str:
    return f"{_RESPONDER_PREFIX}{user}"


def responder_of(name: str) -> str | None:
    """The user a `r:<user>` figure counts, None for any other figure."""
    return name[len(_RESPONDER_PREFIX) :] if name.startswith(_RESPONDER_PREFIX) else None


def nearest_rank(q: float, count: int) -> int:
    """The 1-based rank of the q-quantile among `count` sorted values: the
    smallest value with at least q of the values at or below it."""
    return max(1, int((Decimal(str(q)) * count).to_integral_value(rounding=ROUND_CEILING)))


def percentile(totals: Mapping[str, float], q: float) -> float | None:
    """The q-quantile of the resolution times: the mean of the values in the
    bucket that holds its rank. It lies within that bucket (so within 4 % of
    the exact value) and between the smallest and largest values of the
    bucket. Resolution times are whole milliseconds, so their sum is too and
    the mean, rounded to the millisecond, stays between them; computed from
    the sum in whole milliseconds, it does not depend on the order in which
    the shards' float sums were added."""
    counts = [int(totals.get(bucket_count_attribute(b), 0)) for b in range(RESOLUTION_BUCKET_COUNT)]
    count = sum(c for c in counts if c > 0)
    if count == 0:
        return None
    rank, seen = nearest_rank(q, count), 0
    for bucket, in_bucket in enumerate(counts):
        if in_bucket <= 0:
            continue
        seen += in_bucket
        if seen >= rank:
            sum_ms = round(totals[bucket_sum_attribute(bucket)] * 1000)
            return int((Decimal(sum_ms) / in_bucket).to_integral_value(rounding=ROUND_HALF_EVEN)) / 1000
    raise AssertionError("unreachable: the rank is at most the count")


def figure_changes(
    stored: Mapping[str, Decimal], wanted: Mapping[str, Decimal], owns: Callable[[str], bool]
) -> dict[str, tuple[Decimal, Decimal]]:
    """name -> (stored, wanted) of the owned figures whose value differs.
    Absent means 0, as to the stats reads: a 0 against no attribute is no
    change. Figures not owned are no concern of the caller."""
    foreign = [name for name in wanted if not owns(name)]
    if foreign:
        raise ValueError(f"not figures this replacement owns: {foreign}")
    names = sorted({name for name in stored if owns(name)} | set(wanted))
    zero = Decimal(0)
    return {
        name: (stored.get(name, zero), wanted.get(name, zero))
        for name in names
        if stored.get(name, zero) != wanted.get(name, zero)
    }


def item_changes(
    stored: Mapping[str, Mapping[str, Decimal]],
    wanted: Mapping[str, Mapping[str, Decimal]],
    owns: Callable[[str], bool],
) -> dict[str, dict[str, tuple[Decimal, Decimal]]]:
    """figure_changes for each item (by sort key) of either side; items
    without a change left out."""
    keys = stored.keys() | wanted.keys()
    changes = {key: figure_changes(stored.get(key, {}), wanted.get(key, {}), owns) for key in keys}
    return {key: figures for key, figures in sorted(changes.items()) if figures}


def sum_shards(shards: list[dict[str, float]]) -> Counter[str]:
    total: Counter[str] = Counter()
    for shard in shards:
        total.update(shard)
    return total


def top(totals: Mapping[str, float], prefix: str, limit: int) -> list[tuple[str, int]]:
    """(name, count) of the `limit` highest positive figures named
    `<prefix><name>`, by count then name: the top responders (`r:`), the
    top tools (`t:`)."""
    counts = [
        (name[len(prefix) :], int(count)) for name, count in totals.items() if name.startswith(prefix) and count > 0
    ]
    return sorted(counts, key=lambda entry: (-entry[1], entry[0]))[:limit]


def intervention_stats(totals: Counter[str]) -> InterventionStats:
    by_status = {s.value: int(totals[status_figure(s)]) for s in Status}
    resolved = int(totals[RESOLVED_COUNT])
    return InterventionStats(
        total=int(totals[INTERVENTIONS_TOTAL]),
        open=by_status[Status.PENDING.value] + by_status[Status.IN_PROGRESS.value],
        by_status=by_status,
        by_type={t.value: int(totals[type_figure(t)]) for t in InterventionType},
        by_priority={p.value: int(totals[priority_figure(p)]) for p in Priority},
        avg_resolution_seconds=round(totals[RESOLVED_SECONDS] / resolved, 3) if resolved else None,
        resolution_seconds_p50=percentile(totals, 0.50),
        resolution_seconds_p95=percentile(totals, 0.95),
        top_responders=[
            ResponderCount(user=user, count=count) for user, count in top(totals, _RESPONDER_PREFIX, TOP_RESPONDERS)
        ],
    )


def job_stats(totals: Counter[str]) -> JobStats:
    by_status = {s.value: int(totals[job_status_figure(s)]) for s in JobStatus}
    finished = by_status[JobStatus.COMPLETED.value] + by_status[JobStatus.FAILED.value]
    runs = int(totals[JOB_RUNS])
    return JobStats(
        total=int(totals[JOBS_TOTAL]),
        by_status=by_status,
        success_rate=round(by_status[JobStatus.COMPLETED.value] / finished, 4) if finished else None,
        top_tools=[ToolCount(tool=tool, count=count) for tool, count in top(totals, _TOOL_PREFIX, TOP_TOOLS)],
        avg_duration_seconds=round(totals[JOB_RUN_SECONDS] / runs, 3) if runs else None,
    )


def daily_figures(day: str, counts: Counter[str]) -> DailyFigures:
    return DailyFigures(date=day, **{name: int(counts[name]) for name in DailyFigures.model_fields if name != "date"})
