"""Tool `recompute_stats`: rebuild the tenant's intervention counters from
its records, for repair (after a bug or a manual edit left them wrong).

Each record is replayed through the same functions the live writes use
(counters.on_created / on_transition), so the rebuilt figures are exactly
what the live path would have produced. It is not atomic against concurrent
writes (see docs/tools.md): run it when the tenant is quiet."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from itertools import pairwise

from oversight.counters import CounterDelta, on_created, on_transition, responder_attribute
from oversight.models import Intervention, Status
from oversight.store import get_intervention_store, get_stats_store
from oversight.store.keys import COUNTER_SHARDS, counter_shard
from oversight.tools.registry import JobCancelled, NoParameters, RunContext, tool

RECORDS_PER_CANCEL_CHECK = 500
# The intervention figures of the counter items (docs/data-model.md). Job
# figures share the items (j_*, t:*, jobs_completed, jobs_failed) and are
# never touched.
_TOTALS_PREFIXES = ("i_", responder_attribute(""))
_DAILY_FIGURES = frozenset({"created", "approved", "rejected", "expired", "cancelled"})


def is_intervention_figure(name: str) -> bool:
    return name.startswith(_TOTALS_PREFIXES) or name in _DAILY_FIGURES


def replay(iv: Intervention) -> list[CounterDelta]:
    """What the live writes added to the counters for this record: its
    creation, then the transitions to its current state. Only the states
    matter: a claim and a release cancel out, and a completion follows the
    approval that counted the decision (resolution, responder, day)."""
    created = iv.model_copy(update={"status": Status.PENDING})
    path = [created]
    if iv.status is Status.COMPLETED:
        path.append(iv.model_copy(update={"status": Status.APPROVED}))
    if iv.status is not Status.PENDING:
        path.append(iv)
    return [on_created(created), *(on_transition(before, after) for before, after in pairwise(path))]


def _exact(amount: float) -> Decimal:
    # DynamoDB adds the live path's amounts (sent as repr) as exact decimals;
    # summing floats here could differ in the last digit.
    return Decimal(repr(amount))


def _add(into: CounterDelta, delta: CounterDelta) -> None:
    for name, amount in delta.totals.items():
        into.totals[name] += _exact(amount)
    for day, counts in delta.daily.items():
        for name, amount in counts.items():
            into.daily.setdefault(day, Counter())[name] += _exact(amount)


@tool(
    name="recompute_stats",
    description="Repair: rebuild the tenant's intervention counters (GET /stats, /stats/daily) from its "
    "retained records. Not atomic against concurrent writes: run it when the tenant is quiet.",
    parameters=NoParameters,
    timeout_seconds=240,
    cacheable=False,
)
def recompute_stats(params: NoParameters, ctx: RunContext) -> dict[str, int]:
    shards = [CounterDelta() for _ in range(COUNTER_SHARDS)]
    count = 0
    # Cancelling is only offered while reading: nothing is written yet.
    for iv in get_intervention_store().iter_interventions(ctx.tenant, None, None, None):
        if count % RECORDS_PER_CANCEL_CHECK == 0 and ctx.cancelled():
            raise JobCancelled(f"recompute cancelled after reading {count} records; counters unchanged")
        for delta in replay(iv):
            _add(shards[counter_shard(iv.id)], delta)
        count += 1

    stats_store = get_stats_store()
    changed = sum(
        stats_store.replace_figures(ctx.tenant, shard, figures.totals, figures.daily, is_intervention_figure)
        for shard, figures in enumerate(shards)
    )
    ctx.log("INFO", f"recomputed the counters of {count} interventions; {changed} counter items corrected")
    return {"interventions": count}
