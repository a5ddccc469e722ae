from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from oversight.models import Intervention, InterventionEvent, ListInterventionsQuery


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
        self, tenant: str, before: Intervention, after: Intervention, event: InterventionEvent
    ) -> None:
        """Write `after` and its event atomically, only if the stored version is
        still `before.version`; raise VersionConflict otherwise."""

    @abstractmethod
    def list(self, tenant: str, query: ListInterventionsQuery) -> Page: ...

    @abstractmethod
    def events(self, tenant: str, intervention_id: str) -> list[InterventionEvent] | None:
        """The audit trail oldest first, or None when there is no such intervention."""
