"""The event bus (EventBridge): where each change of a record is published."""

from __future__ import annotations

from functools import cache
from typing import Any

from oversight.config import settings
from oversight.store.faults import new_client


class EventsNotPublished(RuntimeError):
    """Some entries were not taken: the batch is delivered again."""


@cache
def _events() -> Any:
    return new_client("events")


def put_events(entries: list[dict[str, Any]]) -> None:
    """Publish the entries (at most 10) on the stack's bus, each with
    `EventBusName` set; EventsNotPublished when any was not taken (EventBridge
    answers 200 with failed entries), so the stream delivers them again."""
    bus = settings().event_bus_name
    answer = _events().put_events(Entries=[{**entry, "EventBusName": bus} for entry in entries])
    if answer.get("FailedEntryCount"):
        failed = [e for e in answer.get("Entries", []) if e.get("ErrorCode")]
        reason = failed[0].get("ErrorCode") if failed else "unknown"
        raise EventsNotPublished(f"{len(failed)} of {len(entries)} events were not published ({reason})")
