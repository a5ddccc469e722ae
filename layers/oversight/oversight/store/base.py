"""The stores the domain codes against: abstract bases (the DynamoDB ones
implement them) and the values they pass."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from oversight.counters import CounterDelta, item_changes
from oversight.models import Intervention, InterventionEvent, Job, JobLogLine, JobStatus, ListInterventionsQuery, Status
from oversight.store import keys


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
    def create(
        self, tenant: str, intervention: Intervention, event: InterventionEvent, sealed: Mapping[str, bytes] = {}
    ) -> None:
        """Store a new intervention with its first event and its sealed
        fields (encrypted callback secret, task token), atomically."""

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
    def events(
        self, tenant: str, intervention_id: str, limit: int = 100, cursor: str | None = None
    ) -> tuple[list[InterventionEvent], str | None] | None:
        """A page of the audit trail, oldest first, and the cursor of the
        next page (None after the last), or None when there is no such
        intervention."""

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

    # Last in the class: below it, `list` would name this method in annotations.
    @abstractmethod
    def list(self, tenant: str, query: ListInterventionsQuery) -> Page: ...


class JobStore(ABC):
    """Persistence of jobs, their log lines and the result cache. Every
    change of a job is conditional on the job as it was read."""

    @abstractmethod
    def create(self, tenant: str, job: Job) -> None:
        """Store a new job; RecordExists when it is already stored (a keyed
        submission run again)."""

    @abstractmethod
    def create_gated(self, tenant: str, job: Job, intervention: Intervention, event: InterventionEvent) -> None:
        """The job and the approval intervention that gates it (with its
        first event), atomically; RecordExists when already stored."""

    @abstractmethod
    def linked_transition(self, tenant: str, before: Job, after: Job, run_deadline: str | None = None) -> LinkedWrite:
        """The write that moves `before` to `after` if nobody else did, to
        commit alone (transition) or with another record's change. A
        cancellation requested since `before` was read makes it fail."""

    @abstractmethod
    def transition(self, tenant: str, before: Job, after: Job, run_deadline: str | None = None) -> None:
        """Commit linked_transition alone; VersionConflict when the job moved."""

    @abstractmethod
    def request_cancel(self, tenant: str, job_id: str) -> bool:
        """Flag a RUNNING job for cooperative cancellation; False when it is
        not RUNNING."""

    @abstractmethod
    def append_logs(self, tenant: str, job_id: str, attempt: int, lines: list[tuple[int, JobLogLine]]) -> None:
        """Store (line number, line) of one attempt's log."""

    @abstractmethod
    def put_cache(self, tenant: str, tool: str, digest: str, job_id: str, ttl_seconds: int) -> None:
        """Remember `job_id` as the result of `tool` run with parameters
        hashing to `digest`, for `ttl_seconds`."""

    @abstractmethod
    def get(self, tenant: str, job_id: str) -> Job | None: ...

    @abstractmethod
    def cached_job_id(self, tenant: str, tool: str, digest: str) -> str | None:
        """The job whose result is cached for `tool` and `digest`, while the
        entry lasts."""

    @abstractmethod
    def overdue_runs(self, shard: int, now: datetime, limit: int) -> list[tuple[str, str]]:
        """(tenant, job id) of RUNNING jobs whose run deadline has passed."""

    @abstractmethod
    def stale_pending(self, shard: int, now: datetime, limit: int) -> list[tuple[str, str]]:
        """(tenant, job id) of PENDING jobs whose re-queue time has passed."""

    @abstractmethod
    def requeued(self, tenant: str, job: Job) -> bool:
        """Push a PENDING job's re-queue time forward (it was just queued
        again); False when it was started or cancelled meanwhile."""

    @abstractmethod
    def past_retention(self, shard: int, now: datetime, limit: int) -> list[tuple[str, str]]:
        """(tenant, job id) of finished jobs whose retention ended."""

    @abstractmethod
    def purge(self, tenant: str, job_id: str, now: datetime) -> None:
        """Delete a finished job past retention with its log lines."""

    @abstractmethod
    def logs(self, tenant: str, job_id: str, limit: int, cursor: str | None) -> tuple[list[JobLogLine], str | None]:
        """A page of the job's log, oldest first, and the cursor of the next
        page (None after the last)."""

    # Last in the class: below it, `list` would name this method in annotations.
    @abstractmethod
    def list(
        self, tenant: str, status: JobStatus | None, tool: str | None, limit: int, cursor: str | None
    ) -> tuple[list[Job], str | None]:
        """A page of the tenant's jobs, newest first (in `status` and of
        `tool` when given), and the cursor of the next page."""


# name -> (stored, wanted) of the figures a correction changes.
FigureChanges = Mapping[str, tuple[Decimal, Decimal]]


@dataclass(frozen=True)
class ShardCounters:
    """One counter shard as read for a correction: the write count of its
    TOTAL item (None while it has none), read before the items' figures
    (sort key -> numeric attributes, TOTAL and every DAY item)."""

    writes: int | None
    items: dict[str, dict[str, Decimal]]


class CountersMoved(Exception):
    """A write reached the counters after they were read, so a correction
    was refused. The transactions committed before it were exact (each saw
    the counters as read): `applied` names the items they corrected (sort
    keys of a shard, or users)."""

    def __init__(self, applied: list[str]) -> None:
        super().__init__(f"counters moved since they were read ({len(applied)} items already corrected)")
        self.applied = applied


class StatsStore(ABC):
    """The pre-computed counters of a tenant: sharded TOTAL and DAY items,
    and one responder item per user."""

    @abstractmethod
    def totals(self, tenant: str) -> list[dict[str, float]]: ...

    @abstractmethod
    def daily(self, tenant: str, days: list[str]) -> dict[str, list[dict[str, float]]]: ...

    @abstractmethod
    def top_responders(self, tenant: str, limit: int) -> list[tuple[str, float]]:
        """(user, decisions) of the `limit` users with the most decisions,
        highest first; among equal counts, in the index's order."""

    @abstractmethod
    def write_counts(self, tenant: str) -> dict[int, int | None]:
        """Each shard's write count, read consistently (None: none yet)."""

    @abstractmethod
    def read_shard(self, tenant: str, shard: int) -> ShardCounters:
        """The shard's write count, then its items, read consistently."""

    @abstractmethod
    def read_responders(self, tenant: str, users: Iterable[str]) -> dict[str, Decimal]:
        """Decisions per user, read consistently, of `users` and of every
        user the responder index lists (absent users left out)."""

    @abstractmethod
    def correct_shard(
        self, tenant: str, shard: int, writes: int | None, changes: Mapping[str, FigureChanges]
    ) -> int | None:
        """Apply `changes` (sort key -> figure changes) to the shard as ADDs
        of wanted - stored (a figure wanted 0 is removed), each transaction
        conditional on the shard's write count being `writes` and counting
        one more. Return the write count after them (`writes` when there
        is nothing to change); raise CountersMoved if a write came first."""

    @abstractmethod
    def correct_responders(
        self, tenant: str, writes: Mapping[int, int | None], changes: FigureChanges
    ) -> dict[int, int]:
        """Apply `changes` (user -> (stored, wanted)) to the responder items,
        conditional on every shard's write count being `writes` (a user's
        decisions are counted in every shard). Return the write counts after
        them; raise CountersMoved if a write came first."""

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
        figures not owned are left as they are. Raise CountersMoved if a
        write reached the shard meanwhile. Return the number of items changed."""
        wanted = {keys.TOTALS_SK: totals, **{keys.day_sk(day): figures for day, figures in daily.items()}}
        current = self.read_shard(tenant, shard)
        changes = item_changes(current.items, wanted, owns)
        if changes:
            self.correct_shard(tenant, shard, current.writes, changes)
        return len(changes)
