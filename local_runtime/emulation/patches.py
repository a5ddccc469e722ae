"""The patches the local runtime applies to moto's DynamoDB and dispatch.

Each patch is a function whose docstring says what AWS does that moto does
not (or what moto's way costs), and how the patch closes the gap; PATCHES
lists them in the order `install_moto_patches()` applies them. None changes
a result moto gives, except where moto's differs from DynamoDB's (two
racing conditional writes that both win). tests/unit/test_local_emulation.py
proves each one still takes effect on the moto installed: a scenario whose
outcome differs with every patch applied and with all but that one (run in
a subprocess), and docs/local-runtime.md lists them with their tests.

All of this reaches into moto's internals, so it is tied to the moto
versions it was tested with (local_runtime.emulation.TESTED_MOTO_VERSIONS).
"""

from __future__ import annotations

import copy
import functools
import inspect
import threading
from collections.abc import Callable
from typing import Any

import moto.backends
import moto.core.responses
import moto.dynamodb.models as models
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
from moto.dynamodb.models.table import Table
from moto.dynamodb.models.utilities import bytesize, dynamo_json_dump
from moto.dynamodb.responses import DynamoHandler

from local_runtime.emulation import partitions, writes
from local_runtime.emulation.tables import key_values, lookup, restore

Patch = Callable[[], None]

_BACKEND_WRITES = ("put_item", "update_item", "delete_item", "batch_write_item")
_READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})
_MOTO_MAX_ITEM_BYTES = 405000  # moto's stand-in for DynamoDB's 400 KB item limit


def _wrap(owner: Any, name: str, wrapper_of: Callable[[Any], Any]) -> None:
    """Replace `owner.name` by `wrapper_of(the original)`, which keeps the
    original's name and signature (and `__wrapped__`)."""
    original = getattr(owner, name)
    setattr(owner, name, functools.wraps(original)(wrapper_of(original)))


# ---------------------------------------------------------------- atomic writes
def serialise_writes() -> None:
    """Atomicity. DynamoDB applies each write as one step. moto's in-memory
    backend checks a write's condition, then writes: under concurrent
    requests two conditional writes (a put, an update, a delete) can both
    win. Every write of the backend runs under one lock instead (which also
    marks where a write ends, for the write log); our concurrency control
    rests on that guarantee."""
    for name in _BACKEND_WRITES:
        _wrap(DynamoDBBackend, name, _serialised)


def _serialised(method: Any) -> Any:
    def serialised(self: Any, *args: Any, **kwargs: Any) -> Any:
        with writes.writing():
            return method(self, *args, **kwargs)

    return serialised


# ---------------------------------------------------------------- transactions
def roll_back_transactions_by_item() -> None:
    """A transaction's atomicity, and its cost. To roll back a failed
    transaction, moto deep-copies every table it names beforehand and puts
    the copies back: under concurrent requests that erases another request's
    write, and it makes every transaction O(table size) (seconds per write
    at 100,000 items). Here a transaction runs under the write lock, and
    its rollback restores only the items it touches (the same semantics)."""
    models.copy = _NoTableCopy  # type: ignore[assignment]
    _wrap(DynamoDBBackend, "transact_write_items", _with_item_rollback)


class _NoTableCopy:
    """Stands in for `copy` inside moto's models module: tables are not
    copied (the item snapshot of `_with_item_rollback` replaces that),
    anything else is."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _with_item_rollback(method: Any) -> Any:
    def transact(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        with writes.writing():
            snapshot = _items_before(self, transact_items)
            try:
                return method(self, transact_items)
            except Exception:
                for table, hash_value, range_value, item in snapshot:
                    restore(table, hash_value, range_value, item)
                    _item_written(table, hash_value, range_value)
                raise

    return transact


def _items_before(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, Any]]:
    """(table, hash value, range value, a copy of the item or None) for each
    item the transaction names."""
    snapshot = []
    for entry in transact_items:
        _, op = next(iter(entry.items()))
        table = backend.tables.get(op.get("TableName"))
        if table is None:
            continue
        key = op.get("Key") or {name: op["Item"][name] for name in (table.hash_key_attr, table.range_key_attr) if name}
        hash_value, range_value = key_values(table, key)
        snapshot.append((table, hash_value, range_value, copy.deepcopy(lookup(table, hash_value, range_value))))
    return snapshot


# ---------------------------------------------------------------- item size
def check_item_size_in_linear_time() -> None:
    """Cost of an item. DynamoDB refuses an item over 400 KB; moto checks
    by re-measuring the whole item on every attribute it sets (quadratic in
    the attributes). A running total of the attributes' sizes gives the same
    check in linear time."""
    LimitedSizeDict.__setitem__ = _set_with_running_total  # type: ignore[method-assign]


def _measured(value: Any) -> int:
    return value.size() if type(value) is DynamoType else bytesize(str(value))


def _set_with_running_total(self: Any, key: str, value: Any) -> None:
    sizes = self.__dict__.setdefault("_sizes", {})
    if len(sizes) != len(self):  # changed behind our back (del, pop, update): re-measure
        sizes.clear()
        sizes.update({k: bytesize(k) + _measured(v) for k, v in self.items()})
    new_size = bytesize(key) + _measured(value)
    total = sum(sizes.values()) - sizes.get(key, 0) + new_size
    if total > _MOTO_MAX_ITEM_BYTES:
        raise ItemSizeTooLarge
    sizes[key] = new_size
    dict.__setitem__(self, key, value)


# ---------------------------------------------------------------- reads
def dump_reads_as_they_are() -> None:
    """Cost of a read. moto serialises each response by walking the
    operation's output shape (~3 ms per returned item), but a read's result
    (GetItem, BatchGetItem, Query, Scan) is already DynamoDB's JSON wire
    format: it is dumped as it is (the same bytes parsed, 3-5x faster for
    reads of thousands of items)."""
    _wrap(DynamoHandler, "serialized", _dumped_if_a_read)  # __wrapped__: moto's own, which the tests compare with


def _dumped_if_a_read(shaped: Any) -> Any:
    def serialized(self: Any, action_result: Any) -> Any:
        if self._get_action() not in _READS or isinstance(action_result.result, Exception):
            return shaped(self, action_result)
        headers = {"Content-Type": "application/x-amz-json-1.0", **self.response_headers}
        return 200, headers, dynamo_json_dump(action_result.result)

    return serialized


# ---------------------------------------------------------------- a change log
def note_item_writes() -> None:
    """A log of the changes, which moto's DynamoDB keeps only per table and
    only when its stream is on (AWS has DynamoDB Streams): every write that
    changes an item ends by noting it, for the write log
    (`writes.record_writes`, which the journal rests on) and to file it anew
    in the partition index (which `answer_queries_from_their_partition`
    rests on). moto's writes reach a table's items through `Table.put_item`
    and `Table.delete_item`, as the journal's replay and the snapshot's
    restore do, except an update, which changes the item in place."""
    _wrap(Table, "put_item", _noting_put)
    _wrap(Table, "delete_item", _noting_delete)
    _wrap(DynamoDBBackend, "update_item", _noting_update)


def _noting_put(put_item: Any) -> Any:
    def indexed_put_item(self: Any, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        with writes.writing():
            try:
                return put_item(self, item_attrs, *args, **kwargs)
            finally:
                _key_written(self, item_attrs)

    return indexed_put_item


def _noting_delete(delete_item: Any) -> Any:
    def indexed_delete_item(self: Any, hash_key: Any, range_key: Any) -> Any:
        with writes.writing():
            try:
                return delete_item(self, hash_key, range_key)
            finally:
                _item_written(self, hash_key, range_key)

    return indexed_delete_item


def _noting_update(update_item: Any) -> Any:
    def indexed_update_item(self: Any, table_name: str, key: Any, *args: Any, **kwargs: Any) -> Any:
        # Updates change an item in place, behind the table's back.
        with writes.writing():
            try:
                return update_item(self, table_name, key, *args, **kwargs)
            finally:
                try:
                    table = self.get_table(table_name)
                except Exception:
                    table = None
                if table is not None:
                    _key_written(table, key)

    return indexed_update_item


def _item_written(table: Any, hash_value: Any, range_value: Any) -> None:
    """After a write to one item: note it for the write log, and file it
    anew (if the table is indexed)."""
    if hash_value is None or (table.range_key_attr and range_value is None):
        # Which item is unknown: rebuild the index on next use. (moto refuses
        # such a write before it changes anything: nothing to log.)
        partitions.forget(table)
        return
    range_value = range_value if table.range_key_attr else None
    writes.note_touched(table, hash_value, range_value)
    partitions.refile(table, hash_value, range_value)


def _key_written(table: Any, key: Any) -> None:
    """`_item_written` for a key (or an item) in the wire format."""
    if not partitions.is_indexed(table) and not writes.recording():
        return
    try:
        hash_value, range_value = key_values(table, key) if isinstance(key, dict) else (None, None)
    except Exception:
        hash_value = range_value = None
    _item_written(table, hash_value, range_value)


# ---------------------------------------------------------------- queries
# The Query in progress on this thread: (table, its candidates, the sort
# attributes they are already in order of, or None).
_ACTIVE = threading.local()


def answer_queries_from_their_partition() -> None:
    """Cost of a Query. DynamoDB reads only the partition a Query names;
    moto sorts every item of the table (DynamoType comparisons in Python),
    then keeps that partition: ~1 s per Query at 30,000 items. Here a Query
    starts from its partition only (`partitions.query_window`): the table's
    own partition, or for a GSI the partition index's items holding that
    hash-key value, kept current by `note_item_writes`. moto's own code then
    does everything else (key and filter conditions, order, Limit,
    ExclusiveStartKey, LastEvaluatedKey, projection) on those items, sorted
    on the attributes' plain values rather than on DynamoType objects (the
    same order)."""
    _wrap(Table, "query", _from_the_window)
    _wrap(Table, "all_items", _window_items)
    _wrap(Table, "sorted_items", _plainly_sorted)


def _active_query(table: Any) -> tuple[Any, ...] | None:
    active = getattr(_ACTIVE, "query", None)
    return active if active is not None and active[0] is table else None


def _from_the_window(query: Any) -> Any:
    signature = inspect.signature(query)

    def indexed_query(self: Any, *args: Any, **kwargs: Any) -> Any:
        window = None
        if partitions.INDEXED_QUERIES:
            arguments = signature.bind(self, *args, **kwargs).arguments
            window = partitions.query_window(self, arguments)
        if window is None:
            return query(self, *args, **kwargs)
        _ACTIVE.query = (self, *window)
        try:
            return query(self, *args, **kwargs)
        finally:
            _ACTIVE.query = None

    return indexed_query


def _window_items(all_items: Any) -> Any:
    def partition_items(self: Any) -> Any:
        active = _active_query(self)
        if active is not None:
            return active[1]  # any order but moto's own is sorted next, on unique keys
        return all_items(self)

    return partition_items


def _plainly_sorted(sorted_items: Any) -> Any:
    def plainly_sorted_items(self: Any, hash_key_attrs: Any, range_key_attrs: Any, items: list[Any]) -> Any:
        active = _active_query(self)
        if active is None:
            return sorted_items(self, hash_key_attrs, range_key_attrs, items)
        names = tuple(self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs))
        if active[2] == names:
            return items  # kept in this order (a subsequence of it: still sorted)
        try:
            items.sort(key=lambda item: tuple(partitions.plain_value(item.attrs[name]) for name in names))
        except Exception:  # mixed types, a missing key: moto's own sort says what
            return sorted_items(self, hash_key_attrs, range_key_attrs, items)
        return items

    return plainly_sorted_items


# ---------------------------------------------------------------- dispatch
def look_up_dispatch_once() -> None:
    """Cost of dispatch. For every request moto lists its own package
    folder (to tell a service name from a host name) and walks the response
    class's members with `inspect` (to find the action's method); neither
    changes while the process runs, so each is computed once."""
    modules = tuple(moto.backends.list_of_moto_modules())
    moto.backends.list_of_moto_modules = lambda: iter(modules)  # type: ignore[assignment]
    responses = moto.core.responses
    responses.method_names_from_class = _computed_once(responses.method_names_from_class)  # type: ignore[assignment]


def _computed_once(method_names: Callable[[Any], list[str]]) -> Callable[[Any], list[str]]:
    known: dict[type, list[str]] = {}

    def cached_method_names(clazz: Any) -> list[str]:
        names = known.get(clazz)
        if names is None:
            names = known[clazz] = method_names(clazz)
        return list(names)

    return cached_method_names


PATCHES: tuple[Patch, ...] = (
    serialise_writes,
    roll_back_transactions_by_item,
    check_item_size_in_linear_time,
    dump_reads_as_they_are,
    note_item_writes,  # before the queries patch, which rests on it
    answer_queries_from_their_partition,
    look_up_dispatch_once,
)
_APPLIED: set[str] = set()


def apply(patch: Patch) -> None:
    """Apply one of PATCHES unless it already is: a patch wraps what it
    finds, so applying it twice would wrap twice."""
    if patch.__name__ not in _APPLIED:
        patch()
        _APPLIED.add(patch.__name__)
