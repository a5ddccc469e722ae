"""Opaque list cursors: the position of the last item returned plus a
fingerprint of the filters. A cursor that does not decode, that points into
another partition or tenant, or that belongs to other filters is refused
with 422, never passed to DynamoDB."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from oversight.errors import ValidationFailed


def _fingerprint(filters: dict[str, str]) -> str:
    canonical = json.dumps(filters, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_cursor(position: dict[str, str], filters: dict[str, str]) -> str:
    raw = json.dumps({"p": position, "f": _fingerprint(filters)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _invalid(msg: str) -> ValidationFailed:
    return ValidationFailed.field(["query", "cursor"], msg, "cursor_invalid")


def decode_cursor(
    cursor: str,
    filters: dict[str, str],
    expected: dict[str, str],
    required: tuple[str, ...],
    pk_prefix: str,
) -> dict[str, str]:
    """Return the position, checked against the expected partition values
    (`expected`), the attributes a position must have (`required`) and the
    tenant's key prefix."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded: Any = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeError) as exc:
        raise _invalid("The cursor is not one this API issued") from exc
    if not isinstance(decoded, dict) or not isinstance(decoded.get("p"), dict):
        raise _invalid("The cursor is not one this API issued")
    position = decoded["p"]
    if decoded.get("f") != _fingerprint(filters):
        raise _invalid("The cursor belongs to a list with other filters")
    if set(position) != set(required) or not all(isinstance(v, str) for v in position.values()):
        raise _invalid("The cursor is not one this API issued")
    if any(position.get(name) != value for name, value in expected.items()):
        raise _invalid("The cursor belongs to another list")
    if not position["pk"].startswith(pk_prefix):
        raise _invalid("The cursor belongs to another list")
    return position
