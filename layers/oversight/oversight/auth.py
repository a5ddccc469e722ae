"""Who is calling: built from the JWT claims the HTTP API authorizer verified.

Handlers never read identity from headers. Roles come from `cognito:groups`
(a list, a JSON list, or the string `"[a b]"` API Gateway makes of an array
claim) and from scopes `oversight/<role>`; the tenant from `custom:tenant` (or
`tenant`). A list's elements are taken whole: a group called `viewer,admin`
or `Team admin` is that role, never `admin`. A claim that is one string is
split on whitespace only (API Gateway's `"[a b]"`, or a space-separated
list), so there a name with a space reads as two (docs/decisions.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from oversight.errors import Forbidden, Unauthorized

ADMIN = "admin"
OPERATOR = "operator"
REQUESTER = "requester"
VIEWER = "viewer"
SCOPE_PREFIX = "oversight/"
SYSTEM_ACTOR = "system"

# Tenants are part of every key; a separator inside one could alias keys.
# Matched whole (fullmatch): `$` would let a trailing newline through.
_TENANT = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True)
class Principal:
    sub: str
    tenant: str
    roles: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    def holds(self, role: str) -> bool:
        """Holds `role` itself, or is admin (who may do everything)."""
        return role in self.roles or self.is_admin

    def require_any(self, *roles: str) -> None:
        if not any(self.holds(role) for role in roles):
            raise Forbidden(f"Requires one of the roles: {', '.join(roles + (ADMIN,))}")

    def require_member(self) -> None:
        """Any role at all grants read access within the tenant."""
        if not self.roles:
            raise Forbidden("The caller holds no role")


def _list_claim(value: Any) -> list[str]:
    """The elements of an array claim, each taken whole. Only API Gateway's
    string form `"[a b]"` is split, on whitespace (its only separator; a
    comma is part of a group name): a name containing whitespace cannot be
    told from two names there (docs/decisions.md)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            return [str(v) for v in parsed]
        text = text[1:-1]
    return text.split()


def _scope_claim(value: Any) -> list[str]:
    """OAuth's `scope` is one space-separated string (RFC 6749 §3.3)."""
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return str(value).split() if value is not None else []


def roles_from_claims(claims: Mapping[str, Any], scopes: Iterable[str] = ()) -> frozenset[str]:
    roles = set(_list_claim(claims.get("cognito:groups")))
    for scope in [*_scope_claim(claims.get("scope")), *scopes]:
        if scope.startswith(SCOPE_PREFIX) and len(scope) > len(SCOPE_PREFIX):
            roles.add(scope[len(SCOPE_PREFIX) :])
    return frozenset(roles)


def principal_from_claims(claims: Mapping[str, Any] | None, scopes: Iterable[str] | None = None) -> Principal:
    if not claims or not claims.get("sub"):
        raise Unauthorized("A valid bearer token is required")
    tenant = claims.get("custom:tenant") or claims.get("tenant")
    if not tenant:
        raise Forbidden("The token carries no tenant")
    tenant = str(tenant)
    if not _TENANT.fullmatch(tenant):
        raise Forbidden("The token's tenant is not a valid tenant id")
    return Principal(sub=str(claims["sub"]), tenant=tenant, roles=roles_from_claims(claims, scopes or ()))
