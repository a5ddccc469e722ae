"""A moto table's items by key, as moto stores them: `table.items[hash]` is
the item, or for a table with a range key a dict {range value: item}."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from moto.dynamodb.models.dynamo_type import DynamoType


def every_item(table: Any) -> Iterator[Any]:
    """Every item of a moto table, in storage order (moto's `all_items()`
    sorts them)."""
    for stored in table.items.values():
        if table.range_key_attr:
            yield from stored.values()
        else:
            yield stored


def own_partition(table: Any, hash_value: Any) -> list[Any]:
    """The items of the table's own partition `hash_value`."""
    stored = table.items.get(hash_value)
    if stored is None:
        return []
    return list(stored.values()) if table.range_key_attr else [stored]


def key_values(table: Any, key: dict[str, Any]) -> tuple[Any, Any]:
    """The (hash, range) DynamoType values of a key in the wire format; None
    for a part the key lacks (or the table does not have)."""
    hash_value = DynamoType(key[table.hash_key_attr]) if table.hash_key_attr in key else None
    range_value = (
        DynamoType(key[table.range_key_attr]) if table.range_key_attr and table.range_key_attr in key else None
    )
    return hash_value, range_value


def lookup(table: Any, hash_value: Any, range_value: Any) -> Any:
    """The item stored under the key, or None."""
    if hash_value is None or hash_value not in table.items:
        return None
    stored = table.items[hash_value]
    return stored.get(range_value) if table.range_key_attr else stored


def restore(table: Any, hash_value: Any, range_value: Any, item: Any) -> None:
    """Store `item` under the key again, or remove the key for None."""
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
