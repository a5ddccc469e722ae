"""The write lock every emulated DynamoDB write holds, and the log of what
the writes changed.

Every write path the patches wrap (local_runtime/emulation/patches.py) runs
inside `writing()`, which holds one lock for the whole write (a transaction
holds puts and updates: the lock is re-entrant) and notes the keys the write
touched (`note_touched`). When the outermost write ends, still under the
lock, so that the log's order is the order in which writes applied, their
current images (None for a deleted item) go to the sink installed with
`record_writes` (the journal, local_runtime/journal.py). Post-images, not
requests: replaying one twice, or over a state that already holds it,
changes nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from local_runtime.emulation.tables import lookup

WRITE_LOCK = threading.RLock()

# The sink of the writes' post-images: [(table, hash value, range value, item or None)].
WriteSink = Callable[[list[tuple[Any, Any, Any, Any]]], None]
# The sink, what the write in progress has touched so far, and how deeply
# writes are nested; used only with WRITE_LOCK held.
_SINK: WriteSink | None = None
_TOUCHED: dict[tuple[int, Any, Any], tuple[Any, Any, Any]] = {}
_DEPTH = 0


def record_writes(sink: WriteSink | None) -> None:
    """From now on, after every DynamoDB write, call `sink` with [(table,
    hash value, range value, item or None)] for each item it touched, with
    the write lock held; None stops it."""
    global _SINK
    with WRITE_LOCK:
        _SINK = sink
        _TOUCHED.clear()


def recording() -> bool:
    """Whether a sink is installed (else touched keys need not be noted)."""
    return _SINK is not None


@contextmanager
def writing() -> Iterator[None]:
    """A DynamoDB write: under the write lock; the outermost one hands what
    it touched to the sink."""
    global _DEPTH
    with WRITE_LOCK:
        _DEPTH += 1
        try:
            yield
        finally:
            _DEPTH -= 1
            if _DEPTH == 0 and _TOUCHED:
                touched = list(_TOUCHED.values())
                _TOUCHED.clear()
                if _SINK is not None:
                    # Whether the write succeeded or not: a failed condition
                    # hands over the unchanged item, which is harmless.
                    _SINK([(table, h, r, lookup(table, h, r)) for table, h, r in touched])


def note_touched(table: Any, hash_value: Any, range_value: Any) -> None:
    """The write in progress changed (or may have changed) this item."""
    if _SINK is not None:
        _TOUCHED[(id(table), hash_value, range_value)] = (table, hash_value, range_value)


@contextmanager
def dynamodb_writes_paused() -> Iterator[None]:
    """Hold every DynamoDB write back, e.g. while a consistent copy of the
    tables is taken."""
    with WRITE_LOCK:
        yield
