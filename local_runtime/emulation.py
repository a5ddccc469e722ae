"""Fidelity fixes for the moto emulation.

DynamoDB applies each write (and each transaction) atomically: a condition
is checked and the write made as one step. moto's in-memory backend does
not: it checks, then writes, and rolls a failed transaction back by
restoring a copy of the whole table, so under concurrent requests two
conditional writes can both win, or a rollback can erase another request's
write. Serialising moto's write operations restores the real semantics that
the service's concurrency guarantees rest on."""

from __future__ import annotations

import functools
import threading

_LOCK = threading.RLock()
_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")


def make_dynamodb_writes_atomic() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    for name in _WRITES:
        original = getattr(DynamoDBBackend, name)
        if getattr(original, "_oversight_atomic", False):
            continue

        @functools.wraps(original)
        def atomic(self, *args, __original=original, **kwargs):
            with _LOCK:
                return __original(self, *args, **kwargs)

        atomic._oversight_atomic = True  # type: ignore[attr-defined]
        setattr(DynamoDBBackend, name, atomic)
