"""The partition index, which lets a Query start from its partition rather
than from every item of the table (local_runtime/emulation/patches.py,
`answer_queries_from_their_partition`).

Per table, kept in `table.__dict__` and built on first use: for each GSI
hash-key attribute, value -> the items holding it; and for each GSI, its
partitions' items in the order moto's Query sorts them in (by the plain
values of its sort attributes). Every write files the items it touched anew
(`refile`). `query_window` is what a Query then looks at: the table's own
partition, or the GSI partition asked for, cut after the item at which
moto's Query loop stops when it has a Limit."""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass
from typing import Any

from moto.dynamodb.models.dynamo_type import DynamoType

from local_runtime.emulation.tables import every_item, lookup, own_partition
from local_runtime.emulation.writes import WRITE_LOCK

# Indexes are changed only with WRITE_LOCK held (every write holds it) and
# _INDEX_LOCK, which a Query takes just long enough to copy what it reads.
_INDEX_LOCK = threading.Lock()
_INDEX_ATTRIBUTE = "_oversight_partition_index"
# Switch for the tests that compare results with moto's own Query.
INDEXED_QUERIES = True

# What a Query looks at: its candidate items, and the sort attributes they
# are already in order of (None: moto sorts them).
Window = tuple[list[Any], tuple[str, ...] | None]
_Placement = tuple[str, Any, tuple[Any, ...] | None]


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
        self._placed: dict[tuple[Any, Any], list[_Placement]] = {}
        for item in every_item(table):
            self.place((item.hash_key, item.range_key), item)

    def place(self, key: tuple[Any, Any], item: Any) -> None:
        """File `item` (None: deleted) under its current index values."""
        self._unplace(key)
        if item is None:
            return
        placed = [*self._place_in_buckets(key, item), *self._place_in_order(key, item)]
        if placed:
            self._placed[key] = placed

    def _unplace(self, key: tuple[Any, Any]) -> None:
        """Take the item out of wherever it was filed."""
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

    def _place_in_buckets(self, key: tuple[Any, Any], item: Any) -> list[_Placement]:
        placed: list[_Placement] = []
        for name in self.attributes:
            value = item.attrs.get(name)
            if value is not None:
                value = DynamoType(value)  # a copy: the item's own may change in place
                self.buckets[name].setdefault(value, {})[key] = item
                placed.append((name, value, None))
        return placed

    def _place_in_order(self, key: tuple[Any, Any], item: Any) -> list[_Placement]:
        placed: list[_Placement] = []
        attrs = item.attrs
        for index_name, gsi in self.gsis.items():
            if gsi.hash_name not in attrs or not all(name in attrs for name in gsi.sort_names):
                continue
            value = DynamoType(attrs[gsi.hash_name])
            order_key = tuple(plain_value(attrs[name]) for name in gsi.sort_names)
            self.ordered[index_name].setdefault(value, _Ordered()).add(order_key, item)
            placed.append((index_name, value, order_key))
        return placed

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
    with WRITE_LOCK:
        index = table.__dict__.get(_INDEX_ATTRIBUTE)
        if index is None or index.gsis != wanted:
            index = PartitionIndex(table, wanted)
            table.__dict__[_INDEX_ATTRIBUTE] = index
    return index


def is_indexed(table: Any) -> bool:
    return table.__dict__.get(_INDEX_ATTRIBUTE) is not None


def forget(table: Any) -> None:
    """Drop the table's index: it is rebuilt on next use."""
    table.__dict__.pop(_INDEX_ATTRIBUTE, None)


def refile(table: Any, hash_value: Any, range_value: Any) -> None:
    """After a write to one item: file it anew (if the table is indexed)."""
    index = table.__dict__.get(_INDEX_ATTRIBUTE)
    if index is None:
        return
    with _INDEX_LOCK:
        index.place((hash_value, range_value), lookup(table, hash_value, range_value))


def plain_value(value: Any) -> Any:
    """What moto's DynamoType comparisons compare."""
    return value.value if value.type == "S" else value.cast_value


def _start_key(gsi: _Gsi, start: dict[str, Any] | None) -> tuple[Any, ...] | None:
    if start is None or not all(name in start for name in gsi.sort_names):
        raise LookupError  # moto compares missing attributes its own way
    return tuple(plain_value(DynamoType(start[name])) for name in gsi.sort_names)


def query_window(table: Any, arguments: dict[str, Any]) -> Window | None:
    """The items a Query (moto's `Table.query`, its `arguments` by name) has
    to look at, and the sort attributes they are already in order of (None:
    moto sorts them). None: no shortcut, moto looks at every item of the
    table."""
    index_name = arguments.get("index_name")
    if not index_name:
        value = arguments.get("hash_key")
        return None if value is None else (own_partition(table, value), None)
    hash_name = _single_hash_name(table, index_name)
    if hash_name is None:
        return None
    value = dict(arguments.get("hash_key_conditions") or []).get(hash_name)
    if value is None:
        return None
    if hash_name == table.hash_key_attr:  # a local index: the table's own partition
        return own_partition(table, value), None
    return _gsi_window(partition_index(table), index_name, hash_name, value, arguments)


def _single_hash_name(table: Any, index_name: str) -> str | None:
    """The hash-key attribute of the table's index `index_name`, if it has
    exactly one."""
    index = next((each for each in table.all_indexes() if each.name == index_name), None)
    if index is None:
        return None
    hash_names = [key["AttributeName"] for key in index.schema if key["KeyType"] == "HASH"]
    return hash_names[0] if len(hash_names) == 1 else None


def _gsi_window(
    partitions: PartitionIndex, index_name: str, hash_name: str, value: Any, arguments: dict[str, Any]
) -> Window:
    """A GSI partition: in moto's order from the start key when the index
    keeps it so, else the partition's items for moto to sort."""
    gsi = partitions.gsis.get(index_name)
    if gsi is None:
        return partitions.bucket(hash_name, value), None
    forward = arguments.get("scan_index_forward", True) is not False
    start = arguments.get("exclusive_start_key")
    try:
        start_key = _start_key(gsi, start) if start is not None else None
    except (LookupError, TypeError, ValueError, ArithmeticError):
        return partitions.bucket(hash_name, value), None
    ordered = partitions.in_order(index_name, value, start_key, forward)
    if ordered is None:
        return partitions.bucket(hash_name, value), None
    return _up_to_the_limit(ordered, gsi, arguments, forward), gsi.sort_names


def _up_to_the_limit(ordered: list[Any], gsi: _Gsi, arguments: dict[str, Any], forward: bool) -> list[Any]:
    """`ordered` (ascending) cut after the item at which moto's Query loop
    stops: the first one met once `limit` items matched the key conditions."""
    limit = arguments.get("limit")
    if limit is None or arguments.get("filter_kwargs"):
        return ordered
    loop = _MotosQueryLoop(gsi, arguments)
    met = 0
    walk = ordered if forward else reversed(ordered)
    for position, item in enumerate(walk):
        if not loop.candidate(item):
            continue
        if met == limit:
            return ordered[: position + 1] if forward else ordered[len(ordered) - position - 1 :]
        if loop.in_range(item):
            met += 1
    return ordered


class _MotosQueryLoop:
    """The tests moto's Query loop makes of each item (table.py, query),
    item by item: which it keeps before the loop, which it counts in it."""

    def __init__(self, gsi: _Gsi, arguments: dict[str, Any]) -> None:
        self.gsi = gsi
        self.hash_conditions = dict(arguments.get("hash_key_conditions") or [])
        range_conditions = arguments.get("range_key_conditions") or []
        self.range_equalities = {name: values[0] for name, _, values in range_conditions[:-1]}
        self.comparison = arguments.get("range_comparison")
        self.compared = (
            range_conditions[-1][0] if range_conditions else (gsi.range_names[0] if gsi.range_names else None)
        )
        self.range_objs = arguments.get("range_objs")

    def candidate(self, item: Any) -> bool:
        """Kept before the loop."""
        attrs = item.attrs
        for conditions in (self.hash_conditions, self.range_equalities):
            for name, expected in conditions.items():
                found = attrs.get(name)
                if not found or found != expected:
                    return False
        return not self.gsi.range_names or all(attrs.get(name) for name in self.gsi.range_names)

    def in_range(self, item: Any) -> bool:
        """Counted in the loop."""
        if not self.comparison:
            return True
        found = item.attrs.get(self.compared) if self.compared else None
        return bool(found) and bool(found.compare(self.comparison, self.range_objs))
