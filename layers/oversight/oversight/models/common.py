from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer, WithJsonSchema

from oversight.clock import iso

# Datetimes leave the API as ISO 8601 UTC with `Z`.
Timestamp = Annotated[
    datetime,
    PlainSerializer(iso, return_type=str),
    WithJsonSchema(
        {"type": "string", "format": "date-time", "examples": ["2026-01-31T09:30:00Z"]}, mode="serialization"
    ),
]


class Model(BaseModel):
    """The base of every API and domain shape. Its validators and
    serialisers are built when first used rather than when the class is
    defined: a function imports every shape (the package, the contract) but
    uses a few, and building them all was 10-16 ms of each cold start
    (docs/decisions.md)."""

    model_config = ConfigDict(defer_build=True)


class ErrorBody(Model):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


def canonical_json(value: Any) -> Any:
    """Objects with sorted keys: one stored form for equal values, so a
    replayed idempotent response (stored with sorted keys) is byte-identical
    to the first."""
    return json.loads(json.dumps(value, sort_keys=True))
