from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from oversight.counters import CounterDelta
from decimal import Decimal

from oversight.models import Intervention, InterventionEvent, ListInterventionsQuery, Status


@dataclass(frozen=True)
class LinkedWrite:
    """Writes of another record to commit with a transition: its transaction
    items (without counters) and its counter changes as (record id, delta)."""

    items: list[dict[str, Any]]
    counters: list[tuple[str, CounterDelta]]


@dataclass(frozen=True)
class Page:
    items: list[Intervention]
    next_cursor: str | None


class InterventionStore(ABC):
    """Persistence of interventions and their audit trail."""

    @abstractmethod
    def create(self, tenant: str, intervention: Intervention, event: InterventionEvent) -> None:
        """Store a new intervention with its first event, atomically."""

    @abstractmethod
    def get(self, tenant: str, intervention_id: str) -> Intervention | None: ...

    @abstractmethod
    def save_transition(
        self,
        tenant: str,
        before: Intervention,
        after: Intervention,
        event: InterventionEvent,
        linked: LinkedWrite | None = None,
    ) -> None:
        """Write `after` and its event atomically, only if the stored version is
        still `before.version`; raise VersionConflict otherwise. `linked`
        (another record's change, e.g. the job an approval gates) is part of
        the same transaction."""

    @abstractmethod
    def list(self, tenant: str, query: ListInterventionsQuery) -> Page: ...

    @abstractmethod
    def events(self, tenant: str, intervention_id: str) -> list[InterventionEvent] | None:
        """The audit trail oldest first, or None when there is no such intervention."""

    @abstractmethod
    def due_for_expiry(self, shard: int, now: datetime, limit: int) -> list[tuple[str, str]]:
        """(tenant, id) of open interventions with expires_at <= now, oldest first."""

    @abstractmethod
    def past_retention(self, shard: int, now: datetime, limit: int) -> list[tuple[str, str]]:
        """(tenant, id) of closed interventions whose retention ended."""

    @abstractmethod
    def purge(self, tenant: str, intervention_id: str, now: datetime) -> int:
        """Delete the record and its events; return the number of items deleted."""

    @abstractmethod
    def iter_interventions(
        self, tenant: str, status: Status | None, created_from: datetime | None, created_to: datetime | None
    ) -> Iterator[Intervention]:
        """Every record of the tenant still within retention, in `status`
        (every status when None), created within [created_from, created_to]
        (aware datetimes; either bound optional). Read lazily, page by page,
        status by status in index order: the pending queue's order, every
        other status oldest first."""


class StatsStore(ABC):
    """The pre-computed counters of a tenant, as sharded items."""

    @abstractmethod
    def totals(self, tenant: str) -> list[dict[str, float]]: ...

    @abstractmethod
    def daily(self, tenant: str, days: list[str]) -> dict[str, list[dict[str, float]]]: ...

    @abstractmethod
    def replace_figures(
        self,
        tenant: str,
        shard: int,
        totals: Mapping[str, Decimal],
        daily: Mapping[str, Mapping[str, Decimal]],
        owns: Callable[[str], bool],
    ) -> int:
        """Overwrite the figures that `owns` selects in one counter shard:
        the TOTAL item gets `totals`, each DAY item `daily[day]`, and every
        other owned figure is removed (on DAY items absent from `daily` too);
        figures not owned are left as they are. Not atomic against concurrent
        counter writes. Return the number of items changed."""
