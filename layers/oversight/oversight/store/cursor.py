"""Opaque list cursors: the position of the last item returned, signed with
a key (HMAC-SHA256) over the list, the tenant and the filters. A cursor that
does not decode, whose signature does not match, that belongs to other
filters, or whose position lies outside the query's partition and sort-key
range is refused with 422, never passed to DynamoDB (which would answer a
start key outside the query, or over its key size limits, with a
ValidationException: a 500)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from oversight.config import settings
from oversight.errors import ValidationFailed
from oversight.json_body import has_lone_surrogate

# DynamoDB's limit for a sort key (a partition key may take 2,048): every
# position attribute is held to the smaller one.
MAX_KEY_BYTES = 1024


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _fingerprint(filters: Mapping[str, str]) -> str:
    """Not a secret: it only lets the message say "other filters"."""
    return hashlib.sha256(_canonical(filters)).hexdigest()[:16]


def _signing_key() -> bytes:
    key = settings().cursor_signing_key
    if not key:
        # A missing key is a deployment fault, never something to sign with.
        raise RuntimeError("CURSOR_SIGNING_KEY is not set")
    return key.encode()


def _signature(scope: str, filters: Mapping[str, str], position: Mapping[str, str]) -> str:
    digest = hmac.new(_signing_key(), _canonical([scope, filters, position]), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def encode_cursor(position: dict[str, str], filters: Mapping[str, str], *, scope: str = "") -> str:
    payload = {"p": position, "f": _fingerprint(filters), "s": _signature(scope, filters, position)}
    # UTF-8 rather than \u escapes: a 256-character uow id stays under the
    # API's 2,048-character cursor limit.
    return base64.urlsafe_b64encode(_canonical(payload)).decode().rstrip("=")


def _invalid(msg: str) -> ValidationFailed:
    return ValidationFailed.field(["query", "cursor"], msg, "cursor_invalid")


def decode_cursor(
    cursor: str,
    filters: Mapping[str, str],
    expected: Mapping[str, str],
    required: tuple[str, ...],
    pk_prefix: str,
    *,
    scope: str = "",
    prefixes: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Return the position, checked against its signature, the exact values
    some attributes must have (`expected`: the partition), the attributes a
    position must have (`required`), the tenant's key prefix and the prefix
    other attributes must start with (`prefixes`: the sort-key range)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded: Any = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeError) as exc:
        raise _invalid("The cursor is not one this API issued") from exc
    if not isinstance(decoded, dict) or not isinstance(decoded.get("p"), dict) or not isinstance(decoded.get("s"), str):
        raise _invalid("The cursor is not one this API issued")
    position = decoded["p"]
    if decoded.get("f") != _fingerprint(filters):
        raise _invalid("The cursor belongs to a list with other filters")
    texts = [*position, *position.values(), decoded["s"]]
    if not all(isinstance(v, str) and not has_lone_surrogate(v) for v in texts):
        raise _invalid("The cursor is not one this API issued")
    if not hmac.compare_digest(decoded["s"].encode(), _signature(scope, filters, position).encode()):
        raise _invalid("The cursor is not one this API issued")
    # Defence in depth, should the key leak: nothing DynamoDB would refuse.
    if set(position) != set(required):
        raise _invalid("The cursor is not one this API issued")
    if any(not value or len(value.encode()) > MAX_KEY_BYTES for value in position.values()):
        raise _invalid("The cursor is not one this API issued")
    if any(position.get(name) != value for name, value in expected.items()):
        raise _invalid("The cursor belongs to another list")
    bounds = [("pk", pk_prefix), *(prefixes or {}).items()]
    if any(not position.get(name, "").startswith(prefix) for name, prefix in bounds):
        raise _invalid("The cursor belongs to another list")
    return position


@dataclass(frozen=True)
class ListCursor:
    """What the cursors of one list query are bound to and checked against:
    the list and tenant (`scope`), its filters, the attributes of a position,
    the values some must have (the partition) and the prefixes others must
    start with (the tenant's keys, the sort-key range)."""

    scope: str
    filters: Mapping[str, str]
    attributes: tuple[str, ...]
    expected: Mapping[str, str] = field(default_factory=dict)
    prefixes: Mapping[str, str] = field(default_factory=dict)

    def encode(self, position: dict[str, str]) -> str:
        return encode_cursor(position, self.filters, scope=self.scope)

    def start_key(self, cursor: str) -> dict[str, dict[str, str]]:
        """The ExclusiveStartKey a cursor stands for, once checked."""
        position = decode_cursor(
            cursor,
            self.filters,
            self.expected,
            self.attributes,
            self.prefixes.get("pk", ""),
            scope=self.scope,
            prefixes=self.prefixes,
        )
        return {name: {"S": value} for name, value in position.items()}
