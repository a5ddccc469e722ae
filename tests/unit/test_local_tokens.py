"""The local JWT authorizer: what it accepts, and the claims it passes on."""

from __future__ import annotations

import time

import jwt
import pytest

from local_runtime.tokens import (
    KNOWN_ROLES,
    BadTokenRequest,
    InvalidToken,
    authorizer_claims,
    authorizer_scopes,
    issue_token,
    mint_token,
    parse_tenant,
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


def mint(**arguments: str | None) -> dict:
    """`make token`'s arguments as typed (the defaults unless given), decoded."""
    typed = {"sub": "alice", "roles": "admin", "tenant": "acme", "ttl": None, "expired": "0", **arguments}
    token = mint_token(**typed, secret=SECRET, now=1_700_000_000)  # type: ignore[arg-type]
    return jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False})


def test_the_roles_make_token_accepts_are_the_products_roles() -> None:
    from oversight import auth

    assert set(KNOWN_ROLES) == {auth.ADMIN, auth.OPERATOR, auth.REQUESTER, auth.VIEWER}


@pytest.mark.parametrize(
    "tenant", ["acme", "a", "A-b_c.9", "x" * 64, "x" * 65, "acme/other", "acme#1", "acme\n", " acme", "äcme", "a b"]
)
def test_the_tenants_make_token_accepts_are_those_the_api_accepts(tenant: str) -> None:
    """The API's rule (oversight.auth) decides; make token must not mint a token it would refuse."""
    from oversight.auth import principal_from_claims
    from oversight.errors import Forbidden

    try:
        principal_from_claims({"sub": "alice", "custom:tenant": tenant})
        api_accepts = True
    except Forbidden:
        api_accepts = False
    try:
        parse_tenant(tenant)
        make_token_accepts = True
    except BadTokenRequest:
        make_token_accepts = False
    assert make_token_accepts == api_accepts


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ("operator", ["operator"]),
        ("operator,requester", ["operator", "requester"]),
        ("operator requester", ["operator", "requester"]),
        (" viewer ,, admin ", ["viewer", "admin"]),
        ("operator,operator", ["operator"]),
        ("operator,finance", ["operator", "finance"]),  # a request's required_role may be any group
    ],
)
def test_roles_are_comma_or_space_separated(roles: str, expected: list[str]) -> None:
    assert mint(roles=roles)["cognito:groups"] == expected


@pytest.mark.parametrize(
    ("arguments", "named", "says"),
    [
        ({"roles": ""}, "ROLES (--roles)", "is empty"),
        ({"roles": " , "}, "ROLES (--roles)", "is empty"),
        ({"roles": "operator,super user!"}, "ROLES (--roles)", "'user!', which is not a role name"),
        (
            {"roles": "Admin"},
            "ROLES (--roles)",
            "did you mean 'admin'? (the roles are admin, operator, requester, viewer)",
        ),
        ({"tenant": ""}, "TENANT (--tenant)", "is empty"),
        ({"tenant": "acme/other"}, "TENANT (--tenant)", "not a tenant id"),
        ({"sub": ""}, "SUB (--sub)", "is empty"),
        ({"sub": "  "}, "SUB (--sub)", "is empty"),
        ({"ttl": ""}, "TTL (--ttl)", "not a lifetime"),
        ({"ttl": "0"}, "TTL (--ttl)", "not a lifetime"),
        ({"ttl": "-60"}, "TTL (--ttl)", "not a lifetime"),
        ({"ttl": "+60"}, "TTL (--ttl)", "not a lifetime"),
        ({"ttl": "1.5"}, "TTL (--ttl)", "not a lifetime"),
        ({"ttl": "1h"}, "TTL (--ttl)", "not a lifetime"),
        ({"ttl": "\u0663"}, "TTL (--ttl)", "not a lifetime"),  # a digit to str.isdigit, not to a person
        ({"expired": ""}, "EXPIRED (--expired)", "not a yes or no"),
        ({"expired": "maybe"}, "EXPIRED (--expired)", "not a yes or no"),
    ],
)
def test_nonsense_is_refused_naming_the_variable_and_the_option(arguments: dict, named: str, says: str) -> None:
    with pytest.raises(BadTokenRequest) as refused:
        mint(**arguments)

    assert str(refused.value).startswith(named)
    assert says in str(refused.value)


def test_ttl_is_the_lifetime_in_seconds() -> None:
    claims = mint(ttl="120")

    assert (claims["iat"], claims["exp"]) == (1_700_000_000, 1_700_000_120)


@pytest.mark.parametrize("expired", ["1", "true", "YES"])
def test_an_expired_token_expired_a_minute_ago_and_the_authorizer_says_so(expired: str) -> None:
    claims = mint(expired=expired, ttl="3600")
    assert (claims["iat"], claims["exp"]) == (1_700_000_000 - 3600 - 60, 1_700_000_000 - 60)

    token = mint_token(sub="alice", roles="admin", tenant="acme", ttl=None, expired=expired, secret=SECRET)
    with pytest.raises(InvalidToken, match="expired"):
        verify_bearer(token, SECRET)


@pytest.mark.parametrize("expired", ["0", "false", "no"])
def test_expired_no_is_a_valid_token(expired: str) -> None:
    token = mint_token(sub="alice", roles="admin", tenant="acme", ttl=None, expired=expired, secret=SECRET)

    assert verify_bearer(token, SECRET)["sub"] == "alice"
