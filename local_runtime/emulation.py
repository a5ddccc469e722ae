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
5. Cost of a Query. moto answers every Query by sorting every item of the
   table (DynamoType comparisons in Python), then keeping the partition
   asked for: ~1 s per Query at 30,000 items. Here a Query starts from its
   partition only: the table's own partition (`table.items[hash]`), or for
   a GSI a bucket of the items holding that hash-key value, kept up to date
   by every write. moto's own code then does everything else (key and
   filter conditions, order, Limit, ExclusiveStartKey, LastEvaluatedKey,
   projection) on those items, and sorts them on the attributes' plain
   values rather than on DynamoType objects (same order).
6. Cost of dispatch. For every request moto lists its own package folder
   (to tell a service name from a host name) and walks the response class's
   members with `inspect` (to find the action's method); neither changes
   while the process runs, so each is computed once.
7. A log of the writes. Every write path above ends by filing the items it
   touched anew (`_reindex`); the same spot notes them, and when the
   outermost write ends (still under the write lock, so the log's order is
   the order in which writes applied) their current images, or None for a
   deleted item, go to the sink installed with `record_writes` (the
   journal, local_runtime/journal.py). Post-images, not requests: replaying
   one twice, or over a state that already holds it, changes nothing.

All of this reaches into moto's internals, so it is tied to the moto
versions it was tested with (TESTED_MOTO_VERSIONS; tests/unit/
test_local_emulation.py proves each fix still takes effect).
"""

from __future__ import annotations

import bisect
import copy
import functools
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

_LOCK = threading.RLock()
_WRITES = ("put_item", "update_item", "delete_item", "batch_write_item")
_READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})

# The moto releases these fixes were tested with (requirements-dev.txt pins
# the first). Another one may have moved what they patch: a write would then
# silently stop being atomic, or stop reaching the journal.
TESTED_MOTO_VERSIONS = ("5.2.5",)
# Set to 1 to start anyway (with a warning), e.g. to run the tests against
# a moto upgrade before adding it above.
ALLOW_UNTESTED_MOTO = "OVERSIGHT_LOCAL_ALLOW_UNTESTED_MOTO"


class UntestedMoto(RuntimeError):
    """The installed moto is not one the emulation's fixes were tested with."""


def check_moto_version(installed: str | None = None) -> None:
    """Refuse a moto the fixes were not tested with, rather than run with
    some of them silently gone (see TESTED_MOTO_VERSIONS)."""
    if installed is None:
        from importlib.metadata import version

        installed = version("moto")
    if installed in TESTED_MOTO_VERSIONS:
        return
    message = (
        f"moto {installed} is installed, but the local runtime's emulation is tested with moto "
        f"{' or '.join(TESTED_MOTO_VERSIONS)} only: `.venv/bin/pip install -r requirements-dev.txt` installs it. "
        f"To try this version anyway, set {ALLOW_UNTESTED_MOTO}=1 and run tests/unit/test_local_emulation.py "
        "and tests/unit/test_local_journal.py."
    )
    if os.environ.get(ALLOW_UNTESTED_MOTO) == "1":
        log.warning("%s", message)
        return
    raise UntestedMoto(message)


def make_dynamodb_writes_atomic() -> None:
    """Apply all the fixes above (idempotent). Raises UntestedMoto on a moto
    release they were not tested with."""
    from moto.dynamodb.models import DynamoDBBackend

    if getattr(DynamoDBBackend, "_oversight_patched", False):
        return
    check_moto_version()
    for name in _WRITES:
        setattr(DynamoDBBackend, name, _serialised(getattr(DynamoDBBackend, name)))
    DynamoDBBackend.transact_write_items = _transaction_with_item_rollback(DynamoDBBackend.transact_write_items)
    _linear_item_size_check()
    _reads_dumped_as_they_are()
    _queries_from_their_partition()
    _dispatch_lookups_cached()
    DynamoDBBackend._oversight_patched = True


def _serialised(method: Any) -> Any:
    @functools.wraps(method)
    def serialised(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _writing():
            return method(self, *args, **kwargs)

    return serialised


# ---------------------------------------------------------------- 7. write log
# The sink of the writes' post-images, and what the write in progress has
# touched so far; both used only with _LOCK held.
WriteSink = Callable[[list[tuple[Any, Any, Any, Any]]], None]
_SINK: WriteSink | None = None
_TOUCHED: dict[tuple[int, Any, Any], tuple[Any, Any, Any]] = {}
_DEPTH = 0


def record_writes(sink: WriteSink | None) -> None:
    """From now on, after every DynamoDB write, call `sink` with [(table,
    hash value, range value, item or None)] for each item it touched, with
    the write lock held; None stops it."""
    global _SINK
    with _LOCK:
        _SINK = sink
        _TOUCHED.clear()


@contextmanager
def _writing() -> Iterator[None]:
    """A DynamoDB write: under the write lock; the outermost one (a
    transaction holds puts and updates) hands what it touched to the sink."""
    global _DEPTH
    with _LOCK:
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
                    _SINK([(table, h, r, _lookup(table, h, r)) for table, h, r in touched])


def _touched(table: Any, hash_value: Any, range_value: Any) -> None:
    if _SINK is not None:
        _TOUCHED[(id(table), hash_value, range_value)] = (table, hash_value, range_value)


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
        with _writing():
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
                snapshot.append(
                    (table, hash_value, range_value, copy.deepcopy(_lookup(table, hash_value, range_value)))
                )
            try:
                return method(self, transact_items)
            except Exception:
                for table, hash_value, range_value, item in snapshot:
                    _restore(table, hash_value, range_value, item)
                    _reindex(table, hash_value, range_value)
                raise

    return transact


def _key_values(table: Any, key: dict[str, Any]) -> tuple[Any, Any]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    hash_value = DynamoType(key[table.hash_key_attr]) if table.hash_key_attr in key else None
    range_value = (
        DynamoType(key[table.range_key_attr]) if table.range_key_attr and table.range_key_attr in key else None
    )
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

    @functools.wraps(shaped)  # __wrapped__: moto's own, which the tests compare with
    def serialized(self: Any, action_result: Any) -> Any:
        if self._get_action() not in _READS or isinstance(action_result.result, Exception):
            return shaped(self, action_result)
        headers = {"Content-Type": "application/x-amz-json-1.0", **self.response_headers}
        return 200, headers, dynamo_json_dump(action_result.result)

    DynamoHandler.serialized = serialized  # type: ignore[method-assign]


# ---------------------------------------------------------------- 6. dispatch
def _dispatch_lookups_cached() -> None:
    import moto.backends
    import moto.core.responses

    modules = tuple(moto.backends.list_of_moto_modules())
    moto.backends.list_of_moto_modules = lambda: iter(modules)  # type: ignore[assignment]

    method_names = moto.core.responses.method_names_from_class
    known: dict[type, list[str]] = {}

    def cached_method_names(clazz: Any) -> list[str]:
        names = known.get(clazz)
        if names is None:
            names = known[clazz] = method_names(clazz)
        return list(names)

    moto.core.responses.method_names_from_class = cached_method_names  # type: ignore[assignment]


# ---------------------------------------------------------------- 5. queries
# Partition indexes are changed only with _LOCK held (every write holds it)
# and _INDEX_LOCK, which a Query takes just long enough to copy what it reads.
_INDEX_LOCK = threading.Lock()
_INDEX_ATTRIBUTE = "_oversight_partition_index"
# The Query in progress on this thread: (table, its candidates, the sort
# attributes they are already in order of, or None).
_ACTIVE = threading.local()
# Switch for the tests that compare results with moto's own Query.
INDEXED_QUERIES = True


@dataclass(frozen=True)
class _Gsi:
    """A GSI with one hash key, and the attributes moto sorts its Query by."""

    hash_name: str
    range_names: tuple[str, ...]
    sort_names: tuple[str, ...]


class _Ordered:
    """The items of one GSI partition in moto's order for that GSI: by the
    plain values of its sort attributes (unique: they end with the table's
    own key). `broken` when values of mixed types cannot be ordered: such a
    partition is then sorted by moto on each Query, as it would be."""

    __slots__ = ("keys", "items", "broken")

    def __init__(self) -> None:
        self.keys: list[tuple[Any, ...]] = []
        self.items: list[Any] = []
        self.broken = False

    def add(self, key: tuple[Any, ...], item: Any) -> None:
        if self.broken:
            return
        try:
            at = bisect.bisect_left(self.keys, key)
        except TypeError:
            self.broken = True
            return
        self.keys.insert(at, key)
        self.items.insert(at, item)

    def remove(self, key: tuple[Any, ...]) -> None:
        if self.broken:
            return
        at = bisect.bisect_left(self.keys, key)
        if at < len(self.keys) and self.keys[at] == key:
            del self.keys[at]
            del self.items[at]


class PartitionIndex:
    """Per table: for each GSI hash-key attribute, value -> {primary key:
    item} for every item holding it; and for each GSI, its partitions'
    items in moto's Query order."""

    def __init__(self, table: Any, gsis: dict[str, _Gsi]) -> None:
        self.gsis = gsis
        self.attributes = tuple(sorted({gsi.hash_name for gsi in gsis.values()}))
        self.buckets: dict[str, dict[Any, dict[tuple[Any, Any], Any]]] = {name: {} for name in self.attributes}
        self.ordered: dict[str, dict[Any, _Ordered]] = {name: {} for name in gsis}
        self._placed: dict[tuple[Any, Any], list[tuple[str, Any, tuple[Any, ...] | None]]] = {}
        for item in every_item(table):
            self.place((item.hash_key, item.range_key), item)

    def place(self, key: tuple[Any, Any], item: Any) -> None:
        """File `item` (None: deleted) under its current index values."""
        from moto.dynamodb.models.dynamo_type import DynamoType

        for name, value, order_key in self._placed.pop(key, ()):
            if order_key is None:
                bucket = self.buckets[name].get(value)
                if bucket is not None:
                    bucket.pop(key, None)
                    if not bucket:
                        del self.buckets[name][value]
            else:
                ordered = self.ordered[name].get(value)
                if ordered is not None:
                    ordered.remove(order_key)
                    if not ordered.items and not ordered.broken:
                        del self.ordered[name][value]
        if item is None:
            return
        placed: list[tuple[str, Any, tuple[Any, ...] | None]] = []
        for name in self.attributes:
            value = item.attrs.get(name)
            if value is not None:
                value = DynamoType(value)  # a copy: the item's own may change in place
                self.buckets[name].setdefault(value, {})[key] = item
                placed.append((name, value, None))
        for index_name, gsi in self.gsis.items():
            attrs = item.attrs
            if gsi.hash_name not in attrs or not all(name in attrs for name in gsi.sort_names):
                continue
            value = DynamoType(attrs[gsi.hash_name])
            order_key = tuple(_plain(attrs[name]) for name in gsi.sort_names)
            self.ordered[index_name].setdefault(value, _Ordered()).add(order_key, item)
            placed.append((index_name, value, order_key))
        if placed:
            self._placed[key] = placed

    def bucket(self, name: str, value: Any) -> list[Any]:
        with _INDEX_LOCK:
            return list(self.buckets[name].get(value, {}).values())

    def in_order(self, index_name: str, value: Any, start: tuple[Any, ...] | None, forward: bool) -> list[Any] | None:
        """The partition's items in ascending order, without those a Query
        from ExclusiveStartKey `start` skips; None if not kept in order."""
        with _INDEX_LOCK:
            ordered = self.ordered[index_name].get(value)
            if ordered is None:
                return []
            if ordered.broken:
                return None
            if start is None:
                return list(ordered.items)
            try:
                if forward:  # moto skips the items up to and including the start key
                    return ordered.items[bisect.bisect_right(ordered.keys, start) :]
                return ordered.items[: bisect.bisect_left(ordered.keys, start)]
            except TypeError:  # a start key of another type: moto says what
                return None


def every_item(table: Any) -> Iterator[Any]:
    """Every item of a moto table, in storage order."""
    for stored in table.items.values():
        if table.range_key_attr:
            yield from stored.values()
        else:
            yield stored


def _gsis(table: Any) -> dict[str, _Gsi]:
    """The table's GSIs with one hash key (other than the table's own), and
    the sort attributes moto's Query derives for each (table.py, query)."""
    gsis = {}
    for index in table.global_indexes or []:
        hash_names = [key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH"]
        range_names = [key["AttributeName"] for key in index.schema if key["KeyType"] == "RANGE"]
        if len(hash_names) != 1 or hash_names[0] == table.hash_key_attr:
            continue
        if range_names:
            range_attrs = [*range_names, table.range_key_attr]
        else:
            range_attrs = [table.range_key_attr or table.hash_key_attr, table.range_key_attr]
        sort_names = table._generate_attr_to_sort_by([hash_names[0], table.hash_key_attr], range_attrs)
        gsis[index.name] = _Gsi(hash_names[0], tuple(range_names), tuple(sort_names))
    return gsis


def partition_index(table: Any) -> PartitionIndex:
    """The table's index, built on first use (and again if its GSIs changed)."""
    wanted = _gsis(table)
    index = table.__dict__.get(_INDEX_ATTRIBUTE)
    if index is not None and index.gsis == wanted:
        return index
    with _LOCK:
        index = table.__dict__.get(_INDEX_ATTRIBUTE)
        if index is None or index.gsis != wanted:
            index = PartitionIndex(table, wanted)
            table.__dict__[_INDEX_ATTRIBUTE] = index
    return index


def _reindex(table: Any, hash_value: Any, range_value: Any) -> None:
    """After a write to one item: note it for the write log, and file it
    anew (if the table is indexed)."""
    if hash_value is None or (table.range_key_attr and range_value is None):
        # Which item is unknown: rebuild the index on next use. (moto refuses
        # such a write before it changes anything: nothing to log.)
        table.__dict__.pop(_INDEX_ATTRIBUTE, None)
        return
    range_value = range_value if table.range_key_attr else None
    _touched(table, hash_value, range_value)
    index = table.__dict__.get(_INDEX_ATTRIBUTE)
    if index is None:
        return
    with _INDEX_LOCK:
        index.place((hash_value, range_value), _lookup(table, hash_value, range_value))


def _reindex_key(table: Any, key: Any) -> None:
    if table.__dict__.get(_INDEX_ATTRIBUTE) is None and _SINK is None:
        return
    try:
        hash_value, range_value = _key_values(table, key) if isinstance(key, dict) else (None, None)
    except Exception:
        hash_value = range_value = None
    _reindex(table, hash_value, range_value)


def _plain(value: Any) -> Any:
    """What moto's DynamoType comparisons compare."""
    return value.value if value.type == "S" else value.cast_value


def _start_key(gsi: _Gsi, start: dict[str, Any] | None) -> tuple[Any, ...] | None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    if start is None or not all(name in start for name in gsi.sort_names):
        raise LookupError  # moto compares missing attributes its own way
    return tuple(_plain(DynamoType(start[name])) for name in gsi.sort_names)


def _own_partition(table: Any, hash_value: Any) -> list[Any]:
    """The items of the table's own partition `hash_value`."""
    stored = table.items.get(hash_value)
    if stored is None:
        return []
    return list(stored.values()) if table.range_key_attr else [stored]


def _query_window(table: Any, arguments: dict[str, Any]) -> tuple[list[Any], tuple[str, ...] | None] | None:
    """The items a Query has to look at, and the sort attributes they are
    already in order of (None: moto sorts them). None: no shortcut, moto
    looks at every item of the table."""
    index_name = arguments.get("index_name")
    if not index_name:
        value = arguments.get("hash_key")
        return None if value is None else (_own_partition(table, value), None)
    index = next((each for each in table.all_indexes() if each.name == index_name), None)
    if index is None:
        return None
    hash_names = [key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH"]
    if len(hash_names) != 1:
        return None
    conditions = arguments.get("hash_key_conditions") or []
    value = dict(conditions).get(hash_names[0])
    if value is None:
        return None
    if hash_names[0] == table.hash_key_attr:  # a local index: the table's own partition
        return _own_partition(table, value), None
    partitions = partition_index(table)
    gsi = partitions.gsis.get(index_name)
    if gsi is None:
        return partitions.bucket(hash_names[0], value), None
    forward = arguments.get("scan_index_forward", True) is not False
    start = arguments.get("exclusive_start_key")
    try:
        start_key = _start_key(gsi, start) if start is not None else None
    except (LookupError, TypeError, ValueError, ArithmeticError):
        return partitions.bucket(hash_names[0], value), None
    ordered = partitions.in_order(index_name, value, start_key, forward)
    if ordered is None:
        return partitions.bucket(hash_names[0], value), None
    return _up_to_the_limit(ordered, gsi, arguments, forward), gsi.sort_names


def _up_to_the_limit(ordered: list[Any], gsi: _Gsi, arguments: dict[str, Any], forward: bool) -> list[Any]:
    """`ordered` (ascending) cut after the item at which moto's Query loop
    stops: the first one met once `limit` items matched the key conditions.
    The test is moto's own (table.py, query), item by item."""
    limit = arguments.get("limit")
    if limit is None or arguments.get("filter_kwargs"):
        return ordered
    hash_conditions = dict(arguments.get("hash_key_conditions") or [])
    range_conditions = arguments.get("range_key_conditions") or []
    range_equalities = {name: values[0] for name, _, values in range_conditions[:-1]}
    comparison = arguments.get("range_comparison")
    compared = range_conditions[-1][0] if range_conditions else (gsi.range_names[0] if gsi.range_names else None)
    range_objs = arguments.get("range_objs")

    def candidate(item: Any) -> bool:  # kept before the loop
        attrs = item.attrs
        for conditions in (hash_conditions, range_equalities):
            for name, expected in conditions.items():
                found = attrs.get(name)
                if not found or found != expected:
                    return False
        return not gsi.range_names or all(attrs.get(name) for name in gsi.range_names)

    def in_range(item: Any) -> bool:  # counted in the loop
        if not comparison:
            return True
        found = item.attrs.get(compared) if compared else None
        return bool(found) and bool(found.compare(comparison, range_objs))

    met = 0
    walk = ordered if forward else reversed(ordered)
    for position, item in enumerate(walk):
        if not candidate(item):
            continue
        if met == limit:
            return ordered[: position + 1] if forward else ordered[len(ordered) - position - 1 :]
        if in_range(item):
            met += 1
    return ordered


def _queries_from_their_partition() -> None:
    import inspect

    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    query, all_items, sorted_items = Table.query, Table.all_items, Table.sorted_items
    put_item, delete_item, update_item = Table.put_item, Table.delete_item, DynamoDBBackend.update_item
    signature = inspect.signature(query)

    def indexed_query(self: Any, *args: Any, **kwargs: Any) -> Any:
        window = None
        if INDEXED_QUERIES:
            arguments = signature.bind(self, *args, **kwargs).arguments
            window = _query_window(self, arguments)
        if window is None:
            return query(self, *args, **kwargs)
        _ACTIVE.query = (self, *window)
        try:
            return query(self, *args, **kwargs)
        finally:
            _ACTIVE.query = None

    def partition_items(self: Any) -> Any:
        active = getattr(_ACTIVE, "query", None)
        if active is not None and active[0] is self:
            return active[1]  # any order but moto's own is sorted next, on unique keys
        return all_items(self)

    def plainly_sorted_items(self: Any, hash_key_attrs: Any, range_key_attrs: Any, items: list[Any]) -> Any:
        active = getattr(_ACTIVE, "query", None)
        if active is None or active[0] is not self:
            return sorted_items(self, hash_key_attrs, range_key_attrs, items)
        names = tuple(self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs))
        if active[2] == names:
            return items  # kept in this order (a subsequence of it: still sorted)
        try:
            items.sort(key=lambda item: tuple(_plain(item.attrs[name]) for name in names))
        except Exception:  # mixed types, a missing key: moto's own sort says what
            return sorted_items(self, hash_key_attrs, range_key_attrs, items)
        return items

    def indexed_put_item(self: Any, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        with _writing():
            try:
                return put_item(self, item_attrs, *args, **kwargs)
            finally:
                _reindex_key(self, item_attrs)

    def indexed_delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
        with _writing():
            try:
                return delete_item(self, hash_key, range_key)
            finally:
                _reindex(self, hash_key, range_key)

    def indexed_update_item(self: Any, table_name: str, key: Any, *args: Any, **kwargs: Any) -> Any:
        # Updates change an item in place, behind the table's back.
        with _writing():
            try:
                return update_item(self, table_name, key, *args, **kwargs)
            finally:
                try:
                    table = self.get_table(table_name)
                except Exception:
                    table = None
                if table is not None:
                    _reindex_key(table, key)

    Table.query = functools.wraps(query)(indexed_query)  # type: ignore[method-assign]
    Table.all_items = functools.wraps(all_items)(partition_items)  # type: ignore[method-assign]
    Table.sorted_items = functools.wraps(sorted_items)(plainly_sorted_items)  # type: ignore[method-assign]
    Table.put_item = functools.wraps(put_item)(indexed_put_item)  # type: ignore[method-assign]
    Table.delete_item = functools.wraps(delete_item)(indexed_delete_item)  # type: ignore[method-assign]
    DynamoDBBackend.update_item = functools.wraps(update_item)(indexed_update_item)  # type: ignore[method-assign]
