"""Local stand-in for the HTTP API JWT authorizer: HS256 tokens signed with
a shared secret instead of Cognito's keys, and the claims passed on to the
function in the form API Gateway gives them."""

from __future__ import annotations

import json
import math
import os
import re
import time
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import jwt
from jwt.warnings import InsecureKeyLengthWarning

T = TypeVar("T")

SECRET_ENV = "OVERSIGHT_LOCAL_JWT_SECRET"
DEFAULT_SECRET = "local-dev-secret"
LIFETIME_SECONDS = 12 * 3600
# RFC 7519 NumericDate claims. PyJWT accepts `"exp": "9999999999"` (it calls
# int() on it) and `true` as 1; API Gateway refuses any non-number.
_NUMERIC_DATE_CLAIMS = ("exp", "nbf", "iat")
_JSON_TYPES = {str: "a string", bool: "a boolean", list: "an array", dict: "an object", type(None): "null"}

# The default secret is short, and public on purpose: local tokens guard
# nothing but a developer's emulated data.
warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)


# The roles and the tenant rule of the product (layers/oversight/oversight/auth.py), repeated here because
# `make token` runs without the layer on sys.path; tests/unit/test_local_tokens.py checks that they agree.
KNOWN_ROLES = ("admin", "operator", "requester", "viewer")
_TENANT = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_ROLE = re.compile(r"[A-Za-z0-9_-]{1,128}")
_YES = ("1", "true", "yes")
_NO = ("0", "false", "no")
# An expired token's exp: far enough in the past for any clock skew between two local processes.
EXPIRED_AGO_SECONDS = 60


class InvalidToken(Exception):
    """The request would be refused by the authorizer (401)."""


class BadTokenRequest(ValueError):
    """What `make token` was asked for makes no usable token (the message says why)."""


def parse_sub(text: str) -> str:
    if not text.strip():
        raise BadTokenRequest("is empty: name the user, e.g. SUB=alice")
    return text


def parse_roles(text: str) -> list[str]:
    """Comma- or space-separated role names. An empty list is refused: a
    token without a role reads nothing (403), so `ROLES=` is a mistake. A
    role beyond the product's four (a request's `required_role` may be any
    name, e.g. `finance`) is a Cognito group name of letters, digits, `-`
    and `_`; one that differs from a known role only in case is a typo that
    would only fail later with a 403 that does not say why, so it is refused."""
    roles = list(dict.fromkeys(role for role in re.split(r"[\s,]+", text) if role))
    known = ", ".join(KNOWN_ROLES)
    if not roles:
        raise BadTokenRequest(f"is empty: name at least one role of {known}, e.g. ROLES=operator")
    for role in roles:
        if not _ROLE.fullmatch(role):
            raise BadTokenRequest(
                f"names {role!r}, which is not a role name (letters, digits, '-', '_'; the roles are {known})"
            )
        if role not in KNOWN_ROLES and role.lower() in KNOWN_ROLES:
            raise BadTokenRequest(
                f"names {role!r}: roles are lower case, did you mean {role.lower()!r}? (the roles are {known})"
            )
    return roles


def parse_tenant(text: str) -> str:
    if not text:
        raise BadTokenRequest("is empty: name the tenant, e.g. TENANT=acme")
    if not _TENANT.fullmatch(text):
        raise BadTokenRequest(f"{text!r} is not a tenant id the API accepts (1-64 letters, digits, '_', '.', '-')")
    return text


def parse_ttl(text: str) -> int:
    """Seconds, written as a positive integer (no units, no sign, no fraction)."""
    if not re.fullmatch(r"[0-9]+", text) or int(text) == 0:
        raise BadTokenRequest(f"{text!r} is not a lifetime: give whole seconds above 0, e.g. TTL=3600")
    return int(text)


def parse_expired(text: str) -> bool:
    value = text.strip().lower()
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise BadTokenRequest(f"{text!r} is not a yes or no: EXPIRED=1 makes an expired token")


def jwt_secret() -> str:
    return os.environ.get(SECRET_ENV) or DEFAULT_SECRET


def issue_token(
    sub: str,
    roles: list[str],
    tenant: str | None,
    secret: str,
    lifetime_seconds: int = LIFETIME_SECONDS,
    now: float | None = None,
) -> str:
    """A token shaped like a Cognito ID token of this user pool."""
    issued_at = int(time.time() if now is None else now)
    claims: dict[str, Any] = {"sub": sub, "token_use": "id", "iat": issued_at, "exp": issued_at + lifetime_seconds}
    if roles:
        claims["cognito:groups"] = list(roles)
    if tenant:
        claims["custom:tenant"] = tenant
    return jwt.encode(claims, secret, algorithm="HS256")


def verify_bearer(authorization: str | None, secret: str) -> dict[str, Any]:
    """The verified claims of an `Authorization` header value. Like API
    Gateway, the `Bearer ` prefix is optional. Issuer and audience are not
    checked: local tokens have no identity provider behind them."""
    token = (authorization or "").strip()
    scheme, _, rest = token.partition(" ")
    if scheme.lower() == "bearer":
        token = rest.strip()
    if not token:
        raise InvalidToken("A bearer token is required")
    try:
        # Signature first, the time claims' types next, their values last.
        unchecked_times = {"verify_exp": False, "verify_nbf": False, "verify_iat": False}
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], options={"require": ["exp"], "verify_aud": False, **unchecked_times}
        )
        _require_numeric_dates(claims)
        return jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp"], "verify_aud": False})
    except jwt.ExpiredSignatureError as error:
        raise InvalidToken("The token has expired") from error
    except jwt.InvalidSignatureError as error:
        raise InvalidToken("The token's signature is invalid") from error
    except jwt.PyJWTError as error:
        raise InvalidToken(f"The token is invalid: {error}") from error


def _require_numeric_dates(claims: dict[str, Any]) -> None:
    for name in _NUMERIC_DATE_CLAIMS:
        if name not in claims:
            continue
        value = claims[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            # The JSON type, not the value: the message goes into a response header.
            kind = _JSON_TYPES.get(type(value), "a non-finite number")
            raise InvalidToken(f"The token's {name} claim must be a number (seconds since the epoch), not {kind}")


def _claim_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_claim_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def authorizer_claims(claims: dict[str, Any]) -> dict[str, str]:
    """API Gateway passes every claim as a string: arrays as `"[a b]"`,
    numbers as their digits."""
    return {name: _claim_text(value) for name, value in claims.items()}


def authorizer_scopes(claims: dict[str, Any]) -> list[str] | None:
    """The `scope` claim split into the event's `scopes` list (null without one)."""
    scope = claims.get("scope")
    if isinstance(scope, list):
        return [str(item) for item in scope]
    if isinstance(scope, str) and scope.strip():
        return scope.split()
    return None


def mint_token(
    *,
    sub: str,
    roles: str,
    tenant: str,
    ttl: str | None,
    expired: str,
    secret: str,
    now: float | None = None,
) -> str:
    """`make token`: each argument as typed, checked, and named in the error by
    its make variable and its option, so that a mistake is not a token that
    fails later for a reason nobody sees."""
    lifetime = _checked("ttl", parse_ttl, ttl) if ttl is not None else LIFETIME_SECONDS
    issued_at = time.time() if now is None else now
    if _checked("expired", parse_expired, expired):
        issued_at -= lifetime + EXPIRED_AGO_SECONDS
    return issue_token(
        _checked("sub", parse_sub, sub),
        _checked("roles", parse_roles, roles),
        _checked("tenant", parse_tenant, tenant),
        secret,
        lifetime_seconds=lifetime,
        now=issued_at,
    )


def _checked(name: str, parse: Callable[[str], T], text: str) -> T:
    try:
        return parse(text)
    except BadTokenRequest as error:
        raise BadTokenRequest(f"{name.upper()} (--{name}) {error}") from None
