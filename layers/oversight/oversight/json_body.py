"""The one reader of request bodies: JSON as RFC 8259 defines it, and only
what every strict client can read back. Python's json module accepts more —
NaN and ±Infinity, numbers that overflow to infinity (1e400), integers too
long to convert (a ValueError, not a decode error), lone UTF-16 surrogates
(which cannot be stored or encoded as UTF-8) and nesting deep enough to
exhaust the stack. What it accepted we would store and echo, making a
tenant's list invalid JSON for strict clients, or fail later with a 500.
Here each such value is a 422 naming its path, before any model sees it."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from oversight.errors import ValidationFailed

# Containers within containers, the body itself being depth 1. Far above what
# any context or parameters need, far below what pydantic (about 250) or the
# stack can take.
MAX_DEPTH = 64
# Numbers must fit a double (RFC 8259 §6: the range JSON parsers agree on);
# an integer written out in full is held to the same bound as 1e400.
_LARGEST = sys.float_info.max
_MAX_INT_CHARS = len(str(int(_LARGEST))) + 1  # its digits and a sign
# Enough to name the fields; a body of 10,000 NaNs need not be listed in full.
_MAX_REPORTED = 20


class _Refused:
    """Stands in, while parsing, for a value the body may not hold."""

    __slots__ = ("msg", "type")

    def __init__(self, msg: str, type_: str) -> None:
        self.msg, self.type = msg, type_


_NON_FINITE = _Refused("NaN and Infinity are not JSON numbers", "finite_number")
_TOO_LARGE = _Refused(f"The number is beyond the range of a double (±{_LARGEST:.3g})", "number_too_large")
_TOO_DEEP = f"JSON nested more than {MAX_DEPTH} levels deep"
_LONE_SURROGATE = "holds a lone UTF-16 surrogate: not Unicode text"


def _constant(_: str) -> _Refused:
    return _NON_FINITE


def _float(text: str) -> float | _Refused:
    value = float(text)
    return _TOO_LARGE if math.isinf(value) else value  # 1e400 overflows to infinity


def _int(text: str) -> int | _Refused:
    if len(text) > _MAX_INT_CHARS:  # before int(): it refuses over 4,300 digits, and is quadratic
        return _TOO_LARGE
    value = int(text)
    return _TOO_LARGE if abs(value) > _LARGEST else value


def has_lone_surrogate(text: str) -> bool:
    """True for a string holding a lone UTF-16 surrogate (JSON's escape of
    one decodes): it cannot be encoded, so it can be neither stored nor signed."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def parse_json_body(text: str) -> Any:
    """The body's JSON value, or ValidationFailed listing every refused
    value by its path (`["body", "context", "a", "b"]`). A decode error is
    left as json.JSONDecodeError: the router reports it as malformed JSON."""
    try:
        value = json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except RecursionError:
        raise ValidationFailed.field(["body"], _TOO_DEEP, "json_too_deep") from None
    details = _refusals(value)
    if details:
        fields = ", ".join(".".join(str(part) for part in d["loc"]) for d in details)
        raise ValidationFailed(f"Invalid request: {fields}", details)
    return value


def _refusals(root: Any) -> list[dict[str, Any]]:
    """Every refused value, in document order. Iterative, not recursive: the
    walk itself must not run out of stack on the deepest body json accepts.
    Stacked are only containers and refused scalars, as (value, key, parent
    entry, depth); a path is built only for what is reported."""
    found: list[dict[str, Any]] = []
    stack: list[tuple[Any, Any, Any, int]] = [(root, None, None, 1)]
    while stack and len(found) < _MAX_REPORTED:
        entry = stack.pop()
        value, _, _, depth = entry
        if isinstance(value, _Refused):
            found.append(_detail(entry, value.msg, value.type))
        elif isinstance(value, str):
            if has_lone_surrogate(value):
                found.append(_detail(entry, f"The string {_LONE_SURROGATE}", "string_unicode"))
        elif isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                found.append(_detail(entry, _TOO_DEEP, "json_too_deep"))
                continue
            pairs = value.items() if isinstance(value, dict) else enumerate(value)
            # Numbers and ASCII strings (most of a body) are fine as read: not stacked.
            pending = [
                (child, key, entry, depth + 1)
                for key, child in pairs
                if isinstance(child, (dict, list, _Refused)) or (isinstance(child, str) and not child.isascii())
            ]
            if isinstance(value, dict) and not all(key.isascii() for key in value):
                bad_keys = {key for key in value if has_lone_surrogate(key)}
                if bad_keys:
                    # Named by its object: the key itself could not be encoded in the answer.
                    found.append(_detail(entry, f"A key {_LONE_SURROGATE}", "string_unicode"))
                    pending = [pended for pended in pending if pended[1] not in bad_keys]
            stack.extend(reversed(pending))
    return found


def _detail(entry: tuple[Any, Any, Any, int], msg: str, type_: str) -> dict[str, Any]:
    loc: list[Any] = []
    while entry[2] is not None:
        loc.append(entry[1])
        entry = entry[2]
    return {"loc": ["body", *reversed(loc)], "msg": msg, "type": type_}
