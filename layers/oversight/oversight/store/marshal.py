"""Plain Python values <-> DynamoDB attribute values, for the flat items we
store (nested JSON is stored as a JSON string). Cheaper than TypeSerializer
and free of Decimal."""

from __future__ import annotations

from typing import Any


def to_attribute(value: Any) -> dict[str, Any]:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float)):
        return {"N": repr(value)}
    if isinstance(value, str):
        return {"S": value}
    raise TypeError(f"unsupported attribute value {type(value).__name__}")


def from_attribute(attribute: dict[str, Any]) -> Any:
    ((kind, value),) = attribute.items()
    if kind == "S":
        return value
    if kind == "N":
        return int(value) if value.lstrip("-").isdigit() else float(value)
    if kind == "NULL":
        return None
    if kind == "BOOL":
        return value
    raise TypeError(f"unsupported attribute type {kind}")


def dump_item(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: to_attribute(value) for name, value in values.items()}


def load_item(item: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {name: from_attribute(attribute) for name, attribute in item.items()}
