"""Bulk seeding of intervention records (with consistent counters) for
benchmarks and cost tests: written with BatchWriteItem, not through the API,
so large tables are quick to build."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from local_runtime.template import ACCOUNT, REGION
from oversight.auth import Principal
from oversight.counters import CounterDelta, on_created, on_transition
from oversight.lifecycle import Action, apply
from oversight.models import Intervention, InterventionType, Priority, Status
from oversight.store import keys
from oversight.store.dynamodb import _counter_updates, _intervention_item

START = datetime(2026, 11, 1, tzinfo=UTC)
SPREAD_DAYS = 20
_OPERATORS = [Principal(f"pilot-{n}", "", frozenset({"operator"})) for n in range(12)]


def _record(rng: random.Random, n: int) -> tuple[Intervention, list[Intervention]]:
    # Spread over the same SPREAD_DAYS whatever the count, as real traffic
    # would be; created before noon so its decision (< 2 h) is the same day.
    created = START + timedelta(days=n % SPREAD_DAYS, seconds=rng.randint(0, 43_200))
    iv = Intervention(
        id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        uow_id=f"uow-{n % 500}",
        type=rng.choice(list(InterventionType)),
        status=Status.PENDING,
        priority=rng.choice(list(Priority)),
        title=f"Seeded #{n}",
        description="",
        context={"n": n},
        required_role="operator",
        created_by="seeder",
        created_at=created,
        updated_at=created,
        expires_at=created + timedelta(days=30),
        version=1,
    )
    states = [iv]
    roll = rng.random()
    actor = rng.choice(_OPERATORS)
    at = created + timedelta(seconds=rng.randint(5, 7200))
    if roll < 0.15:
        states.append(apply(Action.CLAIM, iv, actor, at)[0])
    elif roll < 0.70:
        action = Action.APPROVE if roll < 0.55 else Action.REJECT
        states.append(apply(action, iv, actor, at, reason="seeded")[0])
    return states[-1], states


def seed_interventions(client: Any, tenant: str, count: int, table: str = "OversightTable", seed: int = 1) -> None:
    """`count` interventions in mixed states (about 30% pending, 15% claimed,
    40% approved, 15% rejected), each with its counters."""
    rng = random.Random(seed)
    totals: dict[int, Counter[str]] = {}
    daily: dict[tuple[int, str], Counter[str]] = {}
    batch: list[dict[str, Any]] = []

    # Straight into the emulated table: the wire format's validation and
    # parsing would take most of the time, and seeding is not what we measure.
    from moto.dynamodb.models import dynamodb_backends

    emulated = dynamodb_backends[ACCOUNT][REGION].get_table(table)

    def flush() -> None:
        for item in batch:
            emulated.put_item(item)
        batch.clear()

    for n in range(count):
        final, states = _record(rng, n)
        shard = keys.counter_shard(final.id)
        deltas = [on_created(states[0])] + [on_transition(a, b) for a, b in zip(states, states[1:], strict=False)]
        for delta in deltas:
            totals.setdefault(shard, Counter()).update(delta.totals)
            for day, counts in delta.daily.items():
                daily.setdefault((shard, day), Counter()).update(counts)
        batch.append(_intervention_item(tenant, final))
        if len(batch) >= 1000:
            flush()
    flush()
    for shard, counts in totals.items():
        for update in _counter_updates(table, tenant, shard, CounterDelta(totals=counts)):
            client.update_item(**update["Update"])
    for (shard, day), counts in daily.items():
        for update in _counter_updates(table, tenant, shard, CounterDelta(daily={day: counts})):
            client.update_item(**update["Update"])
