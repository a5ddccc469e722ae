"""Local stand-in for the HTTP API JWT authorizer: HS256 tokens signed with
a shared secret instead of Cognito's keys, and the claims passed on to the
function in the form API Gateway gives them."""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from typing import Any

import jwt
from jwt.warnings import InsecureKeyLengthWarning

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


class InvalidToken(Exception):
    """The request would be refused by the authorizer (401)."""


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
        return jwt.decode(
            token, secret, algorithms=["HS256"], options={"require": ["exp"], "verify_aud": False}
        )
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
