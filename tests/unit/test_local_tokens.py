"""The local JWT authorizer: what it accepts, and the claims it passes on."""

from __future__ import annotations

import time

import jwt
import pytest

from local_runtime.tokens import (
    InvalidToken,
    authorizer_claims,
    authorizer_scopes,
    issue_token,
    verify_bearer,
)

SECRET = "unit-test-secret-" + "long-enough-for-hs512-" * 3


def test_an_issued_token_carries_the_cognito_id_token_claims() -> None:
    token = issue_token("alice", ["operator", "requester"], "acme", SECRET, now=1_700_000_000)

    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})

    assert claims == {
        "sub": "alice",
        "cognito:groups": ["operator", "requester"],
        "custom:tenant": "acme",
        "token_use": "id",
        "iat": 1_700_000_000,
        "exp": 1_700_000_000 + 12 * 3600,
    }


@pytest.mark.parametrize("prefix", ["Bearer ", "bearer ", ""])
def test_a_valid_token_is_accepted_with_or_without_the_bearer_prefix(prefix: str) -> None:
    token = issue_token("alice", ["viewer"], "acme", SECRET)

    assert verify_bearer(prefix + token, SECRET)["sub"] == "alice"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "required"),
        ("Bearer ", "required"),
        ("Bearer not.a.jwt", "invalid"),
        (f"Bearer {issue_token('alice', [], 'acme', 'another-secret-long-enough-for-hs256')}", "signature"),
        (f"Bearer {issue_token('alice', [], 'acme', SECRET, now=time.time() - 12 * 3600 - 1)}", "expired"),
        (f"Bearer {jwt.encode({'sub': 'alice'}, SECRET, algorithm='HS256')}", "exp"),
        (f"Bearer {jwt.encode({'sub': 'alice', 'exp': 2**40}, SECRET, algorithm='HS512')}", "invalid"),
    ],
    ids=["missing", "empty", "malformed", "wrong signature", "expired", "no expiry", "other algorithm"],
)
def test_anything_else_is_refused_with_a_reason(header: str | None, message: str) -> None:
    with pytest.raises(InvalidToken, match=message):
        verify_bearer(header, SECRET)


def test_claims_reach_the_function_as_api_gateway_passes_them() -> None:
    claims = {
        "sub": "alice",
        "cognito:groups": ["operator", "requester"],
        "iat": 1_700_000_000,
        "email_verified": True,
        "custom:tenant": "acme",
    }

    assert authorizer_claims(claims) == {
        "sub": "alice",
        "cognito:groups": "[operator requester]",
        "iat": "1700000000",
        "email_verified": "true",
        "custom:tenant": "acme",
    }


def test_the_scope_claim_becomes_the_scopes_list() -> None:
    assert authorizer_scopes({"scope": "oversight/admin oversight/viewer"}) == ["oversight/admin", "oversight/viewer"]
    assert authorizer_scopes({"sub": "alice"}) is None


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"exp": "9999999999"}, "exp claim must be a number"),
        ({"exp": True}, "exp claim must be a number"),
        ({"exp": 2**40, "nbf": "0"}, "nbf claim must be a number"),
        ({"exp": 2**40, "iat": "1700000000"}, "iat claim must be a number"),
        ({"exp": 2**40, "iat": False}, "iat claim must be a number"),
        ({"exp": [2**40]}, "exp claim must be a number"),
    ],
    ids=["string exp", "boolean exp", "string nbf", "string iat", "boolean iat", "array exp"],
)
def test_time_claims_that_are_not_numbers_are_refused(claims: dict, message: str) -> None:
    """PyJWT takes `"exp": "9999999999"` for a number; API Gateway does not.
    The same claims as numbers, fractional ones included, are accepted."""
    token = jwt.encode({"sub": "alice", **claims}, SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken, match=message):
        verify_bearer(f"Bearer {token}", SECRET)
    numbers = {name: time.time() + (60.5 if name == "exp" else -0.5) for name in claims}
    assert verify_bearer(jwt.encode({"sub": "alice", **numbers}, SECRET, algorithm="HS256"), SECRET)["sub"] == "alice"
