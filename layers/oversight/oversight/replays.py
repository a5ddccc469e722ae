"""Whether a keyed request was answered from its idempotency record (a
replay), for the `Idempotent-Replayed: true` response header.

Kept apart from oversight.idempotency so that a handler can watch for
replays without importing the idempotency machinery, which only keyed
requests load."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

REPLAYED_HEADER = "Idempotent-Replayed"


@dataclass
class ReplayWatch:
    replayed: bool = False

    @property
    def headers(self) -> dict[str, str]:
        """The response headers that say so (none on a first answer)."""
        return {REPLAYED_HEADER: "true"} if self.replayed else {}


# One watch per request: a context variable is per thread (the local
# runtime serves requests on threads), and the watch ends with the request.
_current: ContextVar[ReplayWatch | None] = ContextVar("replay_watch", default=None)


@contextmanager
def watch_replays() -> Iterator[ReplayWatch]:
    watch = ReplayWatch()
    token = _current.set(watch)
    try:
        yield watch
    finally:
        _current.reset(token)


def mark_replayed() -> None:
    watch = _current.get()
    if watch is not None:
        watch.replayed = True
