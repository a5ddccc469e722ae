"""Who is calling: built from the JWT claims the HTTP API authorizer verified.

Handlers never read identity from headers. Roles come from `cognito:groups`
(a JSON list, or the string `"[a b]"` API Gateway makes of an array claim) and
from scopes `oversight/<role>`; the tenant from `custom:tenant` (or `tenant`).
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
_TENANT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


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


def _split_list_claim(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            return [str(v) for v in parsed]
        text = text[1:-1] if text.endswith("]") else text[1:]
    return [part for part in re.split(r"[\s,]+", text) if part]


def roles_from_claims(claims: Mapping[str, Any], scopes: Iterable[str] = ()) -> frozenset[str]:
    roles = set(_split_list_claim(claims.get("cognito:groups")))
    for scope in [*_split_list_claim(claims.get("scope")), *scopes]:
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
    if not _TENANT.match(tenant):
        raise Forbidden("The token's tenant is not a valid tenant id")
    return Principal(sub=str(claims["sub"]), tenant=tenant, roles=roles_from_claims(claims, scopes or ()))
