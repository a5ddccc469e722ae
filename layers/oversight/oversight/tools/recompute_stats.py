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
from collections.abc import Mapping
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
)
from oversight.models import Intervention, Status
from oversight.store import get_intervention_store, get_stats_store
from oversight.store.base import CountersMoved, FigureChanges, ShardCounters
from oversight.store.keys import COUNTER_SHARDS, TOTALS_SK, counter_shard, figure_items
from oversight.tools.registry import JobCancelled, NoParameters, RunContext, ToolError, tool

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
    approval that counted the decision (resolution, responder, day); each
    approval kept on the record counted for its user."""
    created = iv.model_copy(update={"status": Status.PENDING, "approvals": []})
    path = [created]
    if iv.status is Status.COMPLETED:
        path.append(iv.model_copy(update={"status": Status.APPROVED}))
    if iv.status is not Status.PENDING or iv.approvals:
        path.append(iv)
    return [on_created(created), *(on_transition(before, after) for before, after in pairwise(path))]


def _add_exactly(figures: dict[str, Decimal], amounts: Mapping[str, float]) -> None:
    # DynamoDB adds the live path's amounts (sent as repr) as exact decimals;
    # summing floats here could differ in the last digit.
    for name, amount in amounts.items():
        figures[name] = figures.get(name, Decimal(0)) + Decimal(repr(amount))


@dataclass
class Expected:
    """The counters the records explain: per shard, sort key -> figures;
    and decisions per responder (all shards)."""

    records: int
    shards: list[dict[str, dict[str, Decimal]]]
    responders: dict[str, Decimal]


def expected_counters(ctx: RunContext, on_cancel: str) -> Expected:
    """Each record's replay, stored where the live writes store it
    (keys.figure_items)."""
    shards: list[dict[str, dict[str, Decimal]]] = [{TOTALS_SK: {}} for _ in range(COUNTER_SHARDS)]
    responders: dict[str, Decimal] = {}
    count = 0
    for iv in get_intervention_store().iter_interventions(ctx.tenant, None, None, None):
        if count % RECORDS_PER_CANCEL_CHECK == 0 and ctx.cancelled():
            raise JobCancelled(f"recompute cancelled after reading {count} records; {on_cancel}")
        items = shards[counter_shard(iv.id)]
        for delta in replay(iv):
            by_item, decisions = figure_items(delta)
            for sort_key, figures in by_item.items():
                _add_exactly(items.setdefault(sort_key, {}), figures)
            _add_exactly(responders, decisions)
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

    def record_shard(self, shard: int, changes: Mapping[str, FigureChanges], applied: list[str]) -> None:
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
    run = _Run(ctx)
    started = time.monotonic()
    rounds = 0
    while rounds < MAX_ROUNDS and run.unfinished:
        if rounds:
            if time.monotonic() - started > ROUNDS_DEADLINE_SECONDS:
                break
            time.sleep(min(ROUND_PAUSE_SECONDS * 2 ** (rounds - 1), LONGEST_ROUND_PAUSE_SECONDS))
        rounds += 1
        run.round()
    if run.unfinished:
        raise ToolError(
            f"the tenant's counters kept changing over {rounds} rounds of reading its {run.records} interventions: "
            f"{_left(run.pending, run.responders_pending, run.corrections)}; run it again when the tenant is quieter"
        )
    corrected = len(run.corrections.items)
    ctx.log("INFO", f"recomputed the counters of {run.records} interventions; {corrected} counter items corrected")
    return {"interventions": run.records}


class _Run:
    """One recompute: the shards (and whether the responder items) still to
    correct, and what was corrected so far."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.store = get_stats_store()
        self.pending = set(range(COUNTER_SHARDS))
        self.responders_pending = True
        self.corrections = _Corrections(ctx)
        self.records = 0

    @property
    def unfinished(self) -> bool:
        return bool(self.pending) or self.responders_pending

    def round(self) -> None:
        """Read, replay, and correct what did not move meanwhile."""
        tenant = self.ctx.tenant
        if self.corrections.items:
            on_cancel = _left(self.pending, self.responders_pending, self.corrections)
        else:
            on_cancel = "counters unchanged"
        # Write counts first: whatever is read after them is what they
        # count, or a later write moves them and the correction is refused.
        writes = self.store.write_counts(tenant)
        read = {shard: self.store.read_shard(tenant, shard) for shard in sorted(self.pending)}
        time.sleep(INDEX_SETTLE_SECONDS)
        expected = expected_counters(self.ctx, on_cancel)
        self.records = expected.records
        stored = self.store.read_responders(tenant, expected.responders) if self.responders_pending else {}
        moved = {shard for shard, count in self.store.write_counts(tenant).items() if count != writes[shard]}
        for shard, current in read.items():
            if shard not in moved and not self._correct_shard(shard, current, expected, writes):
                moved.add(shard)
        if self.responders_pending and not moved:
            self._correct_responders(writes, stored, expected)

    def _correct_shard(
        self, shard: int, current: ShardCounters, expected: Expected, writes: dict[int, int | None]
    ) -> bool:
        """Correct one shard as read; False when a write reached it first."""
        changes = item_changes(current.items, expected.shards[shard], is_intervention_figure)
        try:
            writes[shard] = self.store.correct_shard(self.ctx.tenant, shard, current.writes, changes)
        except CountersMoved as race:
            self.corrections.record_shard(shard, changes, race.applied)
            return False
        self.corrections.record_shard(shard, changes, list(changes))
        self.pending.discard(shard)
        return True

    def _correct_responders(
        self, writes: dict[int, int | None], stored: dict[str, Decimal], expected: Expected
    ) -> None:
        decisions = figure_changes(stored, expected.responders, lambda _: True)
        try:
            if decisions:
                self.store.correct_responders(self.ctx.tenant, writes, decisions)
            applied = list(decisions)
            self.responders_pending = False
        except CountersMoved as race:
            applied = race.applied
        for user in applied:
            self.corrections.record(f"responder {user}", {"decisions": decisions[user]})


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
