"""Fidelity and speed fixes for the moto emulation of DynamoDB.

1. Atomicity. DynamoDB applies each write (and each transaction) as one
   step. moto's in-memory backend checks a condition, then writes, and rolls
   a failed transaction back by restoring a copy of the whole table; under
   concurrent requests two conditional writes can both win, or a rollback
   can erase another request's write. Serialising moto's writes restores
   the service's guarantees, on which our concurrency control rests.
2. Cost of a transaction. That whole-table copy makes every transaction
   O(table size): seconds per write at 100,000 items. The rollback here
   snapshots only the items the transaction touches (same semantics).
3. Cost of an item. moto re-measures the whole item on every attribute it
   sets (quadratic in attributes); a running total gives the same 400 KB
   check in linear time.
4. Cost of a read. moto serialises each response by walking the operation's
   output shape (~3 ms per returned item); a read's result is already
   DynamoDB's JSON wire format, so it is dumped as it is (same bytes
   parsed, 3-5x faster for reads of thousands of items).
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_LOCK = threading.RLock()
_WRITES = ("put_item", "update_item", "delete_item", "batch_write_item")
_READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})


def make_dynamodb_writes_atomic() -> None:
    """Apply all four fixes (idempotent)."""
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend, "_oversight_patched", False):
        return
    for name in _WRITES:
        setattr(DynamoDBBackend, name, _serialised(getattr(DynamoDBBackend, name)))
    DynamoDBBackend.transact_write_items = _transaction_with_item_rollback(DynamoDBBackend.transact_write_items)
    _linear_item_size_check()
    _reads_dumped_as_they_are()
    DynamoDBBackend._oversight_patched = True


def _serialised(method: Any) -> Any:
    @functools.wraps(method)
    def serialised(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(self, *args, **kwargs)

    return serialised


class _NoTableCopy:
    """Stands in for `copy` inside moto's models module: tables are not
    copied (the item snapshot below replaces that), anything else is."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _transaction_with_item_rollback(method: Any) -> Any:
    import moto.dynamodb.models as models

    models.copy = _NoTableCopy  # type: ignore[assignment]

    @functools.wraps(method)
    def transact(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        with _LOCK:
            snapshot = []
            for entry in transact_items:
                _, op = next(iter(entry.items()))
                table = self.tables.get(op.get("TableName"))
                if table is None:
                    continue
                key = op.get("Key") or {
                    name: op["Item"][name] for name in (table.hash_key_attr, table.range_key_attr) if name
                }
                hash_value, range_value = _key_values(table, key)
                snapshot.append((table, hash_value, range_value, copy.deepcopy(_lookup(table, hash_value, range_value))))
            try:
                return method(self, transact_items)
            except Exception:
                for table, hash_value, range_value, item in snapshot:
                    _restore(table, hash_value, range_value, item)
                raise

    return transact


def _key_values(table: Any, key: dict[str, Any]) -> tuple[Any, Any]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    hash_value = DynamoType(key[table.hash_key_attr]) if table.hash_key_attr in key else None
    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr and table.range_key_attr in key else None
    return hash_value, range_value


def _lookup(table: Any, hash_value: Any, range_value: Any) -> Any:
    if hash_value is None or hash_value not in table.items:
        return None
    stored = table.items[hash_value]
    return stored.get(range_value) if table.range_key_attr else stored


def _restore(table: Any, hash_value: Any, range_value: Any, item: Any) -> None:
    if hash_value is None:
        return
    if table.range_key_attr:
        partition = table.items[hash_value]
        if item is None:
            partition.pop(range_value, None)
            if not partition:
                table.items.pop(hash_value, None)
        else:
            partition[range_value] = item
    elif item is None:
        table.items.pop(hash_value, None)
    else:
        table.items[hash_value] = item


def _linear_item_size_check() -> None:
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    def measure(value: Any) -> int:
        return value.size() if type(value) is DynamoType else bytesize(str(value))

    def setitem(self: Any, key: str, value: Any) -> None:
        sizes = self.__dict__.setdefault("_sizes", {})
        if len(sizes) != len(self):  # changed behind our back (del, pop, update): re-measure
            sizes.clear()
            sizes.update({k: bytesize(k) + measure(v) for k, v in self.items()})
        new_size = bytesize(key) + measure(value)
        total = sum(sizes.values()) - sizes.get(key, 0) + new_size
        if total > 405000:  # moto's stand-in for the 400 KB item limit
            raise ItemSizeTooLarge
        sizes[key] = new_size
        dict.__setitem__(self, key, value)

    LimitedSizeDict.__setitem__ = setitem  # type: ignore[method-assign]


@contextmanager
def dynamodb_writes_paused() -> Iterator[None]:
    """Hold every DynamoDB write back, e.g. while a consistent copy of the
    tables is taken."""
    with _LOCK:
        yield


def _reads_dumped_as_they_are() -> None:
    from moto.dynamodb.models.utilities import dynamo_json_dump
    from moto.dynamodb.responses import DynamoHandler

    shaped = DynamoHandler.serialized

    def serialized(self: Any, action_result: Any) -> Any:
        if self._get_action() not in _READS or isinstance(action_result.result, Exception):
            return shaped(self, action_result)
        headers = {"Content-Type": "application/x-amz-json-1.0", **self.response_headers}
        return 200, headers, dynamo_json_dump(action_result.result)

    DynamoHandler.serialized = serialized  # type: ignore[method-assign]
