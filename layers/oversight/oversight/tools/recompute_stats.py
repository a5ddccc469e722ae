"""Tool `recompute_stats`: rebuild the tenant's intervention counters from
its records, for repair (after a bug or a manual edit left them wrong).

Each record is replayed through the same functions the live writes use
(counters.on_created / on_transition), so the rebuilt figures are exactly
what the live path would have produced.

Safe against concurrent writes. Every live write that changes a shard's
intervention figures also counts itself on the shard's TOTAL item
(`i_writes`, in the same transaction). A round reads the write counts, the
shards' figures and the responder items, replays the records, and corrects
a shard only if its count has not moved: then nothing of that shard moved
meanwhile, and wanted - read is the exact correction. It is applied as ADDs
conditional on the count, which it also increments (two runs at once cannot
both apply theirs). A shard that moved is read again in the next round; a
tenant that never goes quiet ends the run with an error naming what was left
unchanged. Responder items count decisions of every shard, so they are
corrected only in a round where no shard moved."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise

from oversight.auth import ADMIN
from oversight.counters import (
    CounterDelta,
    figure_changes,
    is_intervention_figure,
    item_changes,
    on_created,
    on_transition,
    responder_of,
)
from oversight.models import Intervention, Status
from oversight.store import get_intervention_store, get_stats_store
from oversight.store.base import CountersMoved, FigureChanges
from oversight.store.keys import COUNTER_SHARDS, TOTALS_SK, counter_shard, day_sk, totals_sk
from oversight.tools.registry import JobCancelled, NoParameters, RunContext, ToolError, tool

__all__ = ["is_intervention_figure", "recompute_stats", "replay"]

RECORDS_PER_CANCEL_CHECK = 500
MAX_ROUNDS = 5
# Pause before a round after one in which counters moved, doubled each time
# up to the longest.
ROUND_PAUSE_SECONDS = 1.0
LONGEST_ROUND_PAUSE_SECONDS = 8.0
# Records are read from indexes, which follow the table by a fraction of a
# second: a write counted before the round's first read must be visible there.
INDEX_SETTLE_SECONDS = 1.0
# No round starts past this (the tool's timeout is 240 s).
ROUNDS_DEADLINE_SECONDS = 180.0
FIGURES_LOGGED_PER_ITEM = 20


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


@dataclass
class Expected:
    """The counters the records explain: per shard, sort key -> figures;
    and decisions per responder (all shards)."""

    records: int
    shards: list[dict[str, Counter[str]]]
    responders: Counter[str]


def expected_counters(ctx: RunContext, on_cancel: str) -> Expected:
    shards: list[dict[str, Counter[str]]] = [{TOTALS_SK: Counter()} for _ in range(COUNTER_SHARDS)]
    responders: Counter[str] = Counter()
    count = 0
    for iv in get_intervention_store().iter_interventions(ctx.tenant, None, None, None):
        if count % RECORDS_PER_CANCEL_CHECK == 0 and ctx.cancelled():
            raise JobCancelled(f"recompute cancelled after reading {count} records; {on_cancel}")
        items = shards[counter_shard(iv.id)]
        for delta in replay(iv):
            for name, amount in delta.totals.items():
                user = responder_of(name)
                if user is not None:
                    responders[user] += _exact(amount)
                else:
                    items.setdefault(totals_sk(name), Counter())[name] += _exact(amount)
            for day, counts in delta.daily.items():
                for name, amount in counts.items():
                    items.setdefault(day_sk(day), Counter())[name] += _exact(amount)
        count += 1
    return Expected(records=count, shards=shards, responders=responders)


class _Corrections:
    """What the run corrected, for its log: one line per item changed."""

    def __init__(self, ctx: RunContext) -> None:
        self._ctx = ctx
        self.items: list[str] = []
        self.touched_shards: set[int] = set()

    def record(self, label: str, changes: FigureChanges) -> None:
        figures = list(changes.items())
        shown = [f"{name} {stored} -> {wanted}" for name, (stored, wanted) in figures[:FIGURES_LOGGED_PER_ITEM]]
        more = f" (and {len(figures) - len(shown)} more)" if len(figures) > len(shown) else ""
        if label not in self.items:
            self.items.append(label)
        self._ctx.log("INFO", f"corrected {label}: {', '.join(shown)}{more}")

    def record_shard(self, shard: int, changes: dict[str, FigureChanges], applied: list[str]) -> None:
        for sort_key in applied:
            self.touched_shards.add(shard)
            self.record(f"shard {shard} {sort_key}", changes[sort_key])


@tool(
    name="recompute_stats",
    description="Repair: rebuild the tenant's intervention counters (GET /stats, /stats/daily) from its "
    "retained records. Safe while the tenant is being written to: a shard is corrected only if no write "
    "reached it meanwhile, else read again.",
    parameters=NoParameters,
    timeout_seconds=240,
    cacheable=False,
    # It rewrites the tenant's figures: a repair for an administrator.
    required_role=ADMIN,
)
def recompute_stats(params: NoParameters, ctx: RunContext) -> dict[str, int]:
    store = get_stats_store()
    pending = set(range(COUNTER_SHARDS))
    responders_pending = True
    corrections = _Corrections(ctx)
    records = 0
    started = time.monotonic()
    rounds = 0
    while rounds < MAX_ROUNDS and (pending or responders_pending):
        if rounds:
            if time.monotonic() - started > ROUNDS_DEADLINE_SECONDS:
                break
            time.sleep(min(ROUND_PAUSE_SECONDS * 2 ** (rounds - 1), LONGEST_ROUND_PAUSE_SECONDS))
        rounds += 1
        on_cancel = _left(pending, responders_pending, corrections) if corrections.items else "counters unchanged"
        # Write counts first: whatever is read after them is what they
        # count, or a later write moves them and the correction is refused.
        writes = store.write_counts(ctx.tenant)
        read = {shard: store.read_shard(ctx.tenant, shard) for shard in sorted(pending)}
        time.sleep(INDEX_SETTLE_SECONDS)
        expected = expected_counters(ctx, on_cancel)
        records = expected.records
        stored_responders = store.read_responders(ctx.tenant, expected.responders) if responders_pending else {}
        moved = {shard for shard, count in store.write_counts(ctx.tenant).items() if count != writes[shard]}
        for shard, current in read.items():
            if shard in moved:
                continue
            changes = item_changes(current.items, expected.shards[shard], is_intervention_figure)
            try:
                writes[shard] = store.correct_shard(ctx.tenant, shard, current.writes, changes)
            except CountersMoved as race:
                corrections.record_shard(shard, changes, race.applied)
                moved.add(shard)
                continue
            corrections.record_shard(shard, changes, list(changes))
            pending.discard(shard)
        if responders_pending and not moved:
            changes = figure_changes(stored_responders, expected.responders, lambda _: True)
            try:
                if changes:
                    store.correct_responders(ctx.tenant, writes, changes)
                applied = list(changes)
                responders_pending = False
            except CountersMoved as race:
                applied = race.applied
            for user in applied:
                corrections.record(f"responder {user}", {"decisions": changes[user]})
    if pending or responders_pending:
        raise ToolError(
            f"the tenant's counters kept changing over {rounds} rounds of reading its {records} interventions: "
            f"{_left(pending, responders_pending, corrections)}; run it again when the tenant is quieter"
        )
    corrected = len(corrections.items)
    ctx.log("INFO", f"recomputed the counters of {records} interventions; {corrected} counter items corrected")
    return {"interventions": records}


def _left(pending: set[int], responders_pending: bool, corrections: _Corrections) -> str:
    """What the run has not corrected (what it did was exact)."""
    untouched = sorted(pending - corrections.touched_shards)
    partly = sorted(pending & corrections.touched_shards)
    parts = []
    if untouched:
        parts.append(f"counter shards {', '.join(map(str, untouched))} left unchanged")
    if partly:
        parts.append(f"shards {', '.join(map(str, partly))} partly corrected")
    if responders_pending:
        parts.append("the responder counts left uncorrected")
    done = f"{len(corrections.items)} counter items corrected"
    return f"{'; '.join(parts)} ({done}, each exactly)" if parts else done
