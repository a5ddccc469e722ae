"""Bulk seeding of intervention records (with consistent counters) for
benchmarks and cost tests: written with BatchWriteItem, not through the API,
so large tables are quick to build."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from local_runtime.template import ACCOUNT, REGION
from oversight.auth import Principal
from oversight.counters import CounterDelta, on_created, on_job_created, on_job_transition, on_transition
from oversight.lifecycle import Action, apply
from oversight.models import Intervention, InterventionEvent, InterventionType, Job, JobLogLine, Priority, Status
from oversight.store._dynamodb import event_item, intervention_item, merged_counter_updates
from oversight.store.jobs import DynamoJobStore, job_item

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


def write_counters(client: Any, table: str, tenant: str, counted: list[tuple[str, CounterDelta]]) -> int:
    """The counters of every (record id, delta) a seeder wrote, through
    UpdateItem ADD, as the live writes would have left them (merged per
    item: a few requests, whatever the number of records). Returns the
    number of requests."""
    updates = merged_counter_updates(table, tenant, counted)
    for update in updates:
        client.update_item(**update["Update"])
    return len(updates)


class TableSeeder:
    """Writes records of one tenant straight into the emulated table (the
    wire format's validation and parsing would take most of the time, and
    seeding is not what is measured), each with the counter changes its
    history made; `finish()` writes the counters as the live writes would
    have left them. Used by the cost tests and by `make load`."""

    def __init__(self, client: Any, table: str, tenant: str) -> None:
        # Imported here: moto's backends are only there once the tests or the load run import moto.
        from moto.dynamodb.models import dynamodb_backends

        self._client, self._table, self._tenant = client, table, tenant
        self._emulated = dynamodb_backends[ACCOUNT][REGION].get_table(table)
        self._counted: list[tuple[str, CounterDelta]] = []
        self._jobs = DynamoJobStore(table, self)  # its log writes come back to batch_write_item
        self.items = 0

    def put(self, item: dict[str, Any]) -> None:
        self._emulated.put_item(item)
        self.items += 1

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:  # noqa: N803
        """The one call the job store's log writes make, put in place."""
        for request in RequestItems[self._table]:
            self.put(request["PutRequest"]["Item"])
        return {}

    def intervention(self, states: list[Intervention], events: list[InterventionEvent] | None = None) -> Intervention:
        """The last of `states` (its history, oldest first), with `events` as its audit trail."""
        final = states[-1]
        deltas = [on_created(states[0])] + [on_transition(a, b) for a, b in pairwise(states)]
        self._counted += [(final.id, delta) for delta in deltas]
        self.put(intervention_item(self._tenant, final, (events or [None])[-1]))
        for version, event in enumerate(events or [], start=1):
            self.put(event_item(self._tenant, final.id, version, event))
        return final

    def job(self, states: list[Job], log_lines: list[tuple[int, JobLogLine]] | None = None) -> Job:
        """The last of `states` (its history, oldest first), with `log_lines` (sequence, line)."""
        final = states[-1]
        deltas = [on_job_created(states[0])] + [on_job_transition(a, b) for a, b in pairwise(states)]
        self._counted += [(final.id, delta) for delta in deltas]
        self.put(job_item(self._tenant, final))
        if log_lines:
            self._jobs.append_logs(self._tenant, final.id, final.attempts, log_lines)
        return final

    def finish(self) -> int:
        """Write the counters of everything seeded; returns the number of requests."""
        requests = write_counters(self._client, self._table, self._tenant, self._counted)
        self._counted.clear()
        return requests


def seed_interventions(client: Any, tenant: str, count: int, table: str = "OversightTable", seed: int = 1) -> None:
    """`count` interventions in mixed states (about 30% pending, 15% claimed,
    40% approved, 15% rejected), each with its counters."""
    rng = random.Random(seed)
    seeder = TableSeeder(client, table, tenant)
    for n in range(count):
        seeder.intervention(_record(rng, n)[1])
    seeder.finish()
