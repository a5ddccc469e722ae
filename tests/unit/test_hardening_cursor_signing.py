"""Cursors cannot be forged: signed with a key, bound to the list, the
tenant and the filters, and held to the query's key range and DynamoDB's
key size limits even when the signature is good."""

import base64
import hashlib
import json

import pytest

from oversight.config import settings
from oversight.errors import ValidationFailed
from oversight.store.cursor import decode_cursor, encode_cursor

POSITION = {
    "pk": "T#acme#INT#1",
    "sk": "#META",
    "gsi1pk": "T#acme#INT#S#PENDING",
    "gsi1sk": "2#2026-11-23T09:00:00.000Z#1",
}
FILTERS = {"priority": "high", "status": "PENDING"}
ARGS = dict(expected={"gsi1pk": "T#acme#INT#S#PENDING"}, required=tuple(POSITION), pk_prefix="T#acme#INT#")


def unsigned(position: dict, filters: dict) -> str:
    """A cursor as anyone can build one: position and filter fingerprint, no key."""
    canonical = json.dumps(filters, sort_keys=True, separators=(",", ":"))
    payload = {"p": position, "f": hashlib.sha256(canonical.encode()).hexdigest()[:16]}
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def refused(cursor: str, **kwargs) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        decode_cursor(cursor, FILTERS, **{**ARGS, **kwargs})
    assert caught.value.details[0]["loc"] == ["query", "cursor"]
    return caught.value


def test_a_cursor_built_without_the_key_is_refused():
    refused(unsigned(POSITION, FILTERS))


def test_a_cursor_whose_position_was_altered_is_refused():
    raw = json.loads(base64.urlsafe_b64decode(encode_cursor(POSITION, FILTERS) + "=="))
    raw["p"]["gsi1sk"] = "2#2026-11-23T09:00:00.000Z#2"
    refused(base64.urlsafe_b64encode(json.dumps(raw).encode()).decode())


def test_a_cursor_signed_with_another_key_is_refused(monkeypatch):
    cursor = encode_cursor(POSITION, FILTERS)
    monkeypatch.setattr(settings(), "cursor_signing_key", "another-key")
    refused(cursor)


def test_a_cursor_of_another_list_or_tenant_is_refused():
    cursor = encode_cursor(POSITION, FILTERS, scope="jobs:acme")
    refused(cursor, scope="interventions:acme")
    refused(encode_cursor(POSITION, FILTERS, scope="interventions:globex"), scope="interventions:acme")
    assert decode_cursor(cursor, FILTERS, **ARGS, scope="jobs:acme") == POSITION


@pytest.mark.parametrize(
    "change",
    [
        {"gsi1sk": "1#2026-11-23T09:00:00.000Z#1"},  # another priority's rank: outside begins_with("2#")
        {"gsi1sk": "2#" + "x" * 1023},  # over DynamoDB's 1,024-byte sort key
        {"pk": "T#acme#INT#" + "é" * 507},  # 1,025 bytes, 518 characters
        {"sk": ""},  # DynamoDB refuses an empty key
    ],
)
def test_a_signed_position_outside_the_query_range_or_key_limits_is_refused(change):
    # Signed with the key (as if it had leaked): the bounds still hold.
    cursor = encode_cursor({**POSITION, **change}, FILTERS)
    refused(cursor, prefixes={"gsi1sk": "2#"})


def test_a_position_at_the_limits_is_accepted():
    position = {**POSITION, "gsi1sk": "2#" + "x" * 1022}
    assert decode_cursor(encode_cursor(position, FILTERS), FILTERS, **ARGS, prefixes={"gsi1sk": "2#"}) == position


def test_no_key_configured_is_a_deployment_fault_not_a_weak_signature(monkeypatch):
    monkeypatch.setattr(settings(), "cursor_signing_key", "")
    with pytest.raises(RuntimeError, match="CURSOR_SIGNING_KEY"):
        encode_cursor(POSITION, FILTERS)


def test_the_signature_is_compared_in_constant_time(monkeypatch):
    import hmac

    compared = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real(a, b))
    cursor = encode_cursor(POSITION, FILTERS)
    assert decode_cursor(cursor, FILTERS, **ARGS) == POSITION
    assert compared, "the signature check goes through hmac.compare_digest"


@pytest.mark.parametrize("where", ["value", "key", "signature"])
def test_a_cursor_holding_a_lone_surrogate_is_refused_not_a_crash(where):
    """`\\ud800` decodes from JSON but cannot be encoded: it must be a 422
    before anything tries to sign or measure it."""
    position = dict(POSITION)
    payload = {
        "p": position,
        "f": json.loads(base64.urlsafe_b64decode(encode_cursor(POSITION, FILTERS) + "==="))["f"],
        "s": "x",
    }
    if where == "value":
        position["sk"] = "\ud800"
    elif where == "key":
        position["\ud800"] = position.pop("sk")
    else:
        payload["s"] = "\ud800"
    raw = json.dumps(payload, separators=(",", ":"))  # ensure_ascii: the surrogate travels as \ud800
    refused(base64.urlsafe_b64encode(raw.encode()).decode().rstrip("="))
