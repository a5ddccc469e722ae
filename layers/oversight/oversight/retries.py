"""Optimistic concurrency: read a record, decide its change, save it only if
nobody changed it meanwhile; on a lost race, read it again and decide again."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from oversight.errors import Conflict, VersionConflict

T = TypeVar("T")

# A conditional write that loses a race is re-evaluated against the fresh
# record this many times before the caller gets 409 conflict.
ATTEMPTS = 3


def until_saved(
    attempt: Callable[[], T],
    conflict_message: str,
    retry_on: tuple[type[Exception], ...] = (VersionConflict,),
    attempts: int = ATTEMPTS,
) -> T:
    """Run `attempt` (read → apply → save) again each time it raises one of
    `retry_on` (the save lost a race, or what was read no longer allows the
    change); after `attempts` runs, raise Conflict (409 `conflict`)."""
    for _ in range(attempts):
        try:
            return attempt()
        except retry_on:
            continue
    raise Conflict(conflict_message)
