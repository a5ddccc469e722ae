"""Authorization matrix: every route x every kind of caller x own / other
tenant, generated from ONE table (MATRIX below, one row per cell).

The expectations come from the product spec (Identity, roles, tenants;
Interventions; Jobs; Stats; Errors) and, where the spec is silent, from
docs/decisions.md ("Behaviour where the spec is silent"):

- every route but GET /health (and GET /openapi.json, public in the
  template) needs a token (401 `unauthorized`) carrying a tenant (403
  `forbidden`); reads need a role of any name (403 without one);
- order of checks: 404 (not found in the caller's tenant) -> 403 (who the
  caller is) -> 409 (state) -> 403 (claimed by someone else). So a record of
  another tenant is 404 for every caller with a tenant, never 403, and lists
  and stats of another tenant never show it;
- claim: holder of `required_role` or admin, never the creator (decisions);
  release: assignee or admin; approve/reject: holder of `required_role` or
  admin, never the creator, only the assignee or admin once IN_PROGRESS;
  cancel/complete: creator or admin; job cancel: submitter or admin;
  POST /interventions and POST /jobs: requester or admin; assign: admin or
  the current assignee; comments: any role of the tenant, in any state;
  webhook subscriptions: admins only, the role checked before the lookup
  (so a non-admin gets 403 whatever the tenant: it learns nothing of which
  ids exist), an admin of another tenant gets 404 on acme's and an empty
  list of its own.
  (Escalation and quorums change who may claim and approve: those cells are
  in test_authorization_beyond_one.py, on fixtures this table does not build.)

Each case builds one fresh fixture record in the state the route acts on
(see `ROUTES`, `Caller` and `Case.build`), in tenant `acme`. The `own`
column calls with the caller's claims in `acme`; the `other` column calls
with the very same claims (same `sub`, same roles) in tenant `globex`, so
what is tested is the tenant alone. Every 4xx, and every read, must leave
the stored data exactly as it was (every item of the main table: records,
events, counters; and the job queue for POST /jobs). A 2xx must show its
effect and nothing of the other tenant (see `check_success`).

`test_the_matrix_covers_every_route_caller_and_tenant` fails when a route of
template.yaml, or a (route, caller, tenant) cell, has no row in MATRIX.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from local_runtime.openapi import api_functions
from tests.conftest import ROOT, TEMPLATE
from tests.support import ApiClient, user

HOME, FOREIGN = "acme", "globex"
TENANTS = {"own": HOME, "other": FOREIGN}


# --------------------------------------------------------------------- callers
@dataclass(frozen=True)
class Caller:
    """A caller and how it relates to the fixture record.

    owns:          created the intervention / submitted the job;
    assigned:      "self" / "other": the intervention is IN_PROGRESS, claimed by
                   the caller / by another operator (intervention routes only);
    required_role: the intervention's `required_role` (default operator).
    """

    name: str
    sub: str | None  # None: no token at all
    roles: tuple[str, ...] = ()
    has_tenant: bool = True
    owns: bool = False
    assigned: str | None = None
    required_role: str = "operator"

    def claims(self, tenant: str) -> dict[str, Any] | None:
        if self.sub is None:
            return None
        return user(self.sub, *self.roles, tenant=tenant if self.has_tenant else None)


CALLERS = {
    c.name: c
    for c in [
        Caller("anonymous", None),
        Caller("no_tenant", "drifter-1", ("admin",), has_tenant=False),
        Caller("no_role", "nobody-1"),
        Caller("viewer", "watcher-di", ("viewer",)),
        Caller("requester", "agent-8", ("requester",)),  # a requester, not the creator
        Caller("operator", "pilot-ana", ("operator",)),
        Caller("admin", "root-cy", ("admin",)),
        Caller("legal", "lex-1", ("legal",)),  # a custom role the record does not require
        Caller("legal_holder", "lex-1", ("legal",), required_role="legal"),
        Caller("operator_not_holder", "pilot-ana", ("operator",), required_role="legal"),
        Caller("creator", "agent-7", ("requester", "operator"), owns=True),  # holds the required role too
        Caller("admin_creator", "root-cy", ("admin",), owns=True),
        Caller("assignee", "pilot-ana", ("operator",), assigned="self"),
        Caller("other_operator", "pilot-ana", ("operator",), assigned="other"),
        Caller("admin_not_assignee", "root-cy", ("admin",), assigned="other"),
    ]
}

# Who makes the fixture records when the caller does not.
OWNER = user("owner-1", "requester", tenant=HOME)
CLAIMANT = user("pilot-bo", "operator", "legal", tenant=HOME)  # holds any required_role used here


def admin_of(tenant: str) -> dict[str, Any]:
    return user("auditor-1", "admin", tenant=tenant)


# ---------------------------------------------------------------------- table
# One row per cell: route, caller (see CALLERS), tenant (own: the caller is
# in the record's tenant; other: the same claims in another tenant),
# expected status and, for an error, the spec's error code.
MATRIX = """
# GET /health: public: no token needed, tenant irrelevant
GET /health                        anonymous            own    200
GET /health                        anonymous            other  200
GET /health                        no_tenant            own    200
GET /health                        no_tenant            other  200
GET /health                        no_role              own    200
GET /health                        no_role              other  200
GET /health                        viewer               own    200
GET /health                        viewer               other  200
GET /health                        requester            own    200
GET /health                        requester            other  200
GET /health                        operator             own    200
GET /health                        operator             other  200
GET /health                        admin                own    200
GET /health                        admin                other  200
GET /health                        legal                own    200
GET /health                        legal                other  200
GET /health                        legal_holder         own    200
GET /health                        legal_holder         other  200
GET /health                        operator_not_holder  own    200
GET /health                        operator_not_holder  other  200
GET /health                        creator              own    200
GET /health                        creator              other  200
GET /health                        admin_creator        own    200
GET /health                        admin_creator        other  200
GET /health                        assignee             own    200
GET /health                        assignee             other  200
GET /health                        other_operator       own    200
GET /health                        other_operator       other  200
GET /health                        admin_not_assignee   own    200
GET /health                        admin_not_assignee   other  200

# GET /openapi.json: public in template.yaml (the spec is silent): as GET /health
GET /openapi.json                  anonymous            own    200
GET /openapi.json                  anonymous            other  200
GET /openapi.json                  no_tenant            own    200
GET /openapi.json                  no_tenant            other  200
GET /openapi.json                  no_role              own    200
GET /openapi.json                  no_role              other  200
GET /openapi.json                  viewer               own    200
GET /openapi.json                  viewer               other  200
GET /openapi.json                  requester            own    200
GET /openapi.json                  requester            other  200
GET /openapi.json                  operator             own    200
GET /openapi.json                  operator             other  200
GET /openapi.json                  admin                own    200
GET /openapi.json                  admin                other  200
GET /openapi.json                  legal                own    200
GET /openapi.json                  legal                other  200
GET /openapi.json                  legal_holder         own    200
GET /openapi.json                  legal_holder         other  200
GET /openapi.json                  operator_not_holder  own    200
GET /openapi.json                  operator_not_holder  other  200
GET /openapi.json                  creator              own    200
GET /openapi.json                  creator              other  200
GET /openapi.json                  admin_creator        own    200
GET /openapi.json                  admin_creator        other  200
GET /openapi.json                  assignee             own    200
GET /openapi.json                  assignee             other  200
GET /openapi.json                  other_operator       own    200
GET /openapi.json                  other_operator       other  200
GET /openapi.json                  admin_not_assignee   own    200
GET /openapi.json                  admin_not_assignee   other  200

# POST /interventions: requester, admin; created in the caller's own tenant
POST /interventions                anonymous            own    401 unauthorized
POST /interventions                anonymous            other  401 unauthorized
POST /interventions                no_tenant            own    403 forbidden
POST /interventions                no_tenant            other  403 forbidden
POST /interventions                no_role              own    403 forbidden
POST /interventions                no_role              other  403 forbidden
POST /interventions                viewer               own    403 forbidden
POST /interventions                viewer               other  403 forbidden
POST /interventions                requester            own    201
POST /interventions                requester            other  201
POST /interventions                operator             own    403 forbidden
POST /interventions                operator             other  403 forbidden
POST /interventions                admin                own    201
POST /interventions                admin                other  201
POST /interventions                legal                own    403 forbidden
POST /interventions                legal                other  403 forbidden
POST /interventions                legal_holder         own    403 forbidden
POST /interventions                legal_holder         other  403 forbidden
POST /interventions                operator_not_holder  own    403 forbidden
POST /interventions                operator_not_holder  other  403 forbidden
POST /interventions                creator              own    201
POST /interventions                creator              other  201
POST /interventions                admin_creator        own    201
POST /interventions                admin_creator        other  201
POST /interventions                assignee             own    403 forbidden
POST /interventions                assignee             other  403 forbidden
POST /interventions                other_operator       own    403 forbidden
POST /interventions                other_operator       other  403 forbidden
POST /interventions                admin_not_assignee   own    201
POST /interventions                admin_not_assignee   other  201

# GET /interventions: any role; another tenant's list never shows the record
GET /interventions                 anonymous            own    401 unauthorized
GET /interventions                 anonymous            other  401 unauthorized
GET /interventions                 no_tenant            own    403 forbidden
GET /interventions                 no_tenant            other  403 forbidden
GET /interventions                 no_role              own    403 forbidden
GET /interventions                 no_role              other  403 forbidden
GET /interventions                 viewer               own    200
GET /interventions                 viewer               other  200
GET /interventions                 requester            own    200
GET /interventions                 requester            other  200
GET /interventions                 operator             own    200
GET /interventions                 operator             other  200
GET /interventions                 admin                own    200
GET /interventions                 admin                other  200
GET /interventions                 legal                own    200
GET /interventions                 legal                other  200
GET /interventions                 legal_holder         own    200
GET /interventions                 legal_holder         other  200
GET /interventions                 operator_not_holder  own    200
GET /interventions                 operator_not_holder  other  200
GET /interventions                 creator              own    200
GET /interventions                 creator              other  200
GET /interventions                 admin_creator        own    200
GET /interventions                 admin_creator        other  200
GET /interventions                 assignee             own    200
GET /interventions                 assignee             other  200
GET /interventions                 other_operator       own    200
GET /interventions                 other_operator       other  200
GET /interventions                 admin_not_assignee   own    200
GET /interventions                 admin_not_assignee   other  200

# GET /interventions/{id}: any role; another tenant's record is 404, never 403
GET /interventions/{id}            anonymous            own    401 unauthorized
GET /interventions/{id}            anonymous            other  401 unauthorized
GET /interventions/{id}            no_tenant            own    403 forbidden
GET /interventions/{id}            no_tenant            other  403 forbidden
GET /interventions/{id}            no_role              own    403 forbidden
GET /interventions/{id}            no_role              other  404 not_found
GET /interventions/{id}            viewer               own    200
GET /interventions/{id}            viewer               other  404 not_found
GET /interventions/{id}            requester            own    200
GET /interventions/{id}            requester            other  404 not_found
GET /interventions/{id}            operator             own    200
GET /interventions/{id}            operator             other  404 not_found
GET /interventions/{id}            admin                own    200
GET /interventions/{id}            admin                other  404 not_found
GET /interventions/{id}            legal                own    200
GET /interventions/{id}            legal                other  404 not_found
GET /interventions/{id}            legal_holder         own    200
GET /interventions/{id}            legal_holder         other  404 not_found
GET /interventions/{id}            operator_not_holder  own    200
GET /interventions/{id}            operator_not_holder  other  404 not_found
GET /interventions/{id}            creator              own    200
GET /interventions/{id}            creator              other  404 not_found
GET /interventions/{id}            admin_creator        own    200
GET /interventions/{id}            admin_creator        other  404 not_found
GET /interventions/{id}            assignee             own    200
GET /interventions/{id}            assignee             other  404 not_found
GET /interventions/{id}            other_operator       own    200
GET /interventions/{id}            other_operator       other  404 not_found
GET /interventions/{id}            admin_not_assignee   own    200
GET /interventions/{id}            admin_not_assignee   other  404 not_found

# GET /interventions/{id}/events: any role; another tenant's record is 404
GET /interventions/{id}/events     anonymous            own    401 unauthorized
GET /interventions/{id}/events     anonymous            other  401 unauthorized
GET /interventions/{id}/events     no_tenant            own    403 forbidden
GET /interventions/{id}/events     no_tenant            other  403 forbidden
GET /interventions/{id}/events     no_role              own    403 forbidden
GET /interventions/{id}/events     no_role              other  404 not_found
GET /interventions/{id}/events     viewer               own    200
GET /interventions/{id}/events     viewer               other  404 not_found
GET /interventions/{id}/events     requester            own    200
GET /interventions/{id}/events     requester            other  404 not_found
GET /interventions/{id}/events     operator             own    200
GET /interventions/{id}/events     operator             other  404 not_found
GET /interventions/{id}/events     admin                own    200
GET /interventions/{id}/events     admin                other  404 not_found
GET /interventions/{id}/events     legal                own    200
GET /interventions/{id}/events     legal                other  404 not_found
GET /interventions/{id}/events     legal_holder         own    200
GET /interventions/{id}/events     legal_holder         other  404 not_found
GET /interventions/{id}/events     operator_not_holder  own    200
GET /interventions/{id}/events     operator_not_holder  other  404 not_found
GET /interventions/{id}/events     creator              own    200
GET /interventions/{id}/events     creator              other  404 not_found
GET /interventions/{id}/events     admin_creator        own    200
GET /interventions/{id}/events     admin_creator        other  404 not_found
GET /interventions/{id}/events     assignee             own    200
GET /interventions/{id}/events     assignee             other  404 not_found
GET /interventions/{id}/events     other_operator       own    200
GET /interventions/{id}/events     other_operator       other  404 not_found
GET /interventions/{id}/events     admin_not_assignee   own    200
GET /interventions/{id}/events     admin_not_assignee   other  404 not_found

# POST /interventions/{id}/claim: holder of required_role, admin, never the creator; already IN_PROGRESS -> 409
POST /interventions/{id}/claim     anonymous            own    401 unauthorized
POST /interventions/{id}/claim     anonymous            other  401 unauthorized
POST /interventions/{id}/claim     no_tenant            own    403 forbidden
POST /interventions/{id}/claim     no_tenant            other  403 forbidden
POST /interventions/{id}/claim     no_role              own    403 forbidden
POST /interventions/{id}/claim     no_role              other  404 not_found
POST /interventions/{id}/claim     viewer               own    403 forbidden
POST /interventions/{id}/claim     viewer               other  404 not_found
POST /interventions/{id}/claim     requester            own    403 forbidden
POST /interventions/{id}/claim     requester            other  404 not_found
POST /interventions/{id}/claim     operator             own    200
POST /interventions/{id}/claim     operator             other  404 not_found
POST /interventions/{id}/claim     admin                own    200
POST /interventions/{id}/claim     admin                other  404 not_found
POST /interventions/{id}/claim     legal                own    403 forbidden
POST /interventions/{id}/claim     legal                other  404 not_found
POST /interventions/{id}/claim     legal_holder         own    200
POST /interventions/{id}/claim     legal_holder         other  404 not_found
POST /interventions/{id}/claim     operator_not_holder  own    403 forbidden
POST /interventions/{id}/claim     operator_not_holder  other  404 not_found
POST /interventions/{id}/claim     creator              own    403 forbidden
POST /interventions/{id}/claim     creator              other  404 not_found
POST /interventions/{id}/claim     admin_creator        own    403 forbidden
POST /interventions/{id}/claim     admin_creator        other  404 not_found
POST /interventions/{id}/claim     assignee             own    409 invalid_transition
POST /interventions/{id}/claim     assignee             other  404 not_found
POST /interventions/{id}/claim     other_operator       own    409 invalid_transition
POST /interventions/{id}/claim     other_operator       other  404 not_found
POST /interventions/{id}/claim     admin_not_assignee   own    409 invalid_transition
POST /interventions/{id}/claim     admin_not_assignee   other  404 not_found

# POST /interventions/{id}/release: assignee, admin (the record is IN_PROGRESS, claimed by pilot-bo unless `assignee`)
POST /interventions/{id}/release   anonymous            own    401 unauthorized
POST /interventions/{id}/release   anonymous            other  401 unauthorized
POST /interventions/{id}/release   no_tenant            own    403 forbidden
POST /interventions/{id}/release   no_tenant            other  403 forbidden
POST /interventions/{id}/release   no_role              own    403 forbidden
POST /interventions/{id}/release   no_role              other  404 not_found
POST /interventions/{id}/release   viewer               own    403 forbidden
POST /interventions/{id}/release   viewer               other  404 not_found
POST /interventions/{id}/release   requester            own    403 forbidden
POST /interventions/{id}/release   requester            other  404 not_found
POST /interventions/{id}/release   operator             own    403 forbidden
POST /interventions/{id}/release   operator             other  404 not_found
POST /interventions/{id}/release   admin                own    200
POST /interventions/{id}/release   admin                other  404 not_found
POST /interventions/{id}/release   legal                own    403 forbidden
POST /interventions/{id}/release   legal                other  404 not_found
POST /interventions/{id}/release   legal_holder         own    403 forbidden
POST /interventions/{id}/release   legal_holder         other  404 not_found
POST /interventions/{id}/release   operator_not_holder  own    403 forbidden
POST /interventions/{id}/release   operator_not_holder  other  404 not_found
POST /interventions/{id}/release   creator              own    403 forbidden
POST /interventions/{id}/release   creator              other  404 not_found
POST /interventions/{id}/release   admin_creator        own    200
POST /interventions/{id}/release   admin_creator        other  404 not_found
POST /interventions/{id}/release   assignee             own    200
POST /interventions/{id}/release   assignee             other  404 not_found
POST /interventions/{id}/release   other_operator       own    403 forbidden
POST /interventions/{id}/release   other_operator       other  404 not_found
POST /interventions/{id}/release   admin_not_assignee   own    200
POST /interventions/{id}/release   admin_not_assignee   other  404 not_found

# POST /interventions/{id}/approve: required_role holder, admin; never the creator; IN_PROGRESS: assignee or admin
POST /interventions/{id}/approve   anonymous            own    401 unauthorized
POST /interventions/{id}/approve   anonymous            other  401 unauthorized
POST /interventions/{id}/approve   no_tenant            own    403 forbidden
POST /interventions/{id}/approve   no_tenant            other  403 forbidden
POST /interventions/{id}/approve   no_role              own    403 forbidden
POST /interventions/{id}/approve   no_role              other  404 not_found
POST /interventions/{id}/approve   viewer               own    403 forbidden
POST /interventions/{id}/approve   viewer               other  404 not_found
POST /interventions/{id}/approve   requester            own    403 forbidden
POST /interventions/{id}/approve   requester            other  404 not_found
POST /interventions/{id}/approve   operator             own    200
POST /interventions/{id}/approve   operator             other  404 not_found
POST /interventions/{id}/approve   admin                own    200
POST /interventions/{id}/approve   admin                other  404 not_found
POST /interventions/{id}/approve   legal                own    403 forbidden
POST /interventions/{id}/approve   legal                other  404 not_found
POST /interventions/{id}/approve   legal_holder         own    200
POST /interventions/{id}/approve   legal_holder         other  404 not_found
POST /interventions/{id}/approve   operator_not_holder  own    403 forbidden
POST /interventions/{id}/approve   operator_not_holder  other  404 not_found
POST /interventions/{id}/approve   creator              own    403 forbidden
POST /interventions/{id}/approve   creator              other  404 not_found
POST /interventions/{id}/approve   admin_creator        own    403 forbidden
POST /interventions/{id}/approve   admin_creator        other  404 not_found
POST /interventions/{id}/approve   assignee             own    200
POST /interventions/{id}/approve   assignee             other  404 not_found
POST /interventions/{id}/approve   other_operator       own    403 forbidden
POST /interventions/{id}/approve   other_operator       other  404 not_found
POST /interventions/{id}/approve   admin_not_assignee   own    200
POST /interventions/{id}/approve   admin_not_assignee   other  404 not_found

# POST /interventions/{id}/reject: as approve
POST /interventions/{id}/reject    anonymous            own    401 unauthorized
POST /interventions/{id}/reject    anonymous            other  401 unauthorized
POST /interventions/{id}/reject    no_tenant            own    403 forbidden
POST /interventions/{id}/reject    no_tenant            other  403 forbidden
POST /interventions/{id}/reject    no_role              own    403 forbidden
POST /interventions/{id}/reject    no_role              other  404 not_found
POST /interventions/{id}/reject    viewer               own    403 forbidden
POST /interventions/{id}/reject    viewer               other  404 not_found
POST /interventions/{id}/reject    requester            own    403 forbidden
POST /interventions/{id}/reject    requester            other  404 not_found
POST /interventions/{id}/reject    operator             own    200
POST /interventions/{id}/reject    operator             other  404 not_found
POST /interventions/{id}/reject    admin                own    200
POST /interventions/{id}/reject    admin                other  404 not_found
POST /interventions/{id}/reject    legal                own    403 forbidden
POST /interventions/{id}/reject    legal                other  404 not_found
POST /interventions/{id}/reject    legal_holder         own    200
POST /interventions/{id}/reject    legal_holder         other  404 not_found
POST /interventions/{id}/reject    operator_not_holder  own    403 forbidden
POST /interventions/{id}/reject    operator_not_holder  other  404 not_found
POST /interventions/{id}/reject    creator              own    403 forbidden
POST /interventions/{id}/reject    creator              other  404 not_found
POST /interventions/{id}/reject    admin_creator        own    403 forbidden
POST /interventions/{id}/reject    admin_creator        other  404 not_found
POST /interventions/{id}/reject    assignee             own    200
POST /interventions/{id}/reject    assignee             other  404 not_found
POST /interventions/{id}/reject    other_operator       own    403 forbidden
POST /interventions/{id}/reject    other_operator       other  404 not_found
POST /interventions/{id}/reject    admin_not_assignee   own    200
POST /interventions/{id}/reject    admin_not_assignee   other  404 not_found

# POST /interventions/{id}/cancel: creator, admin
POST /interventions/{id}/cancel    anonymous            own    401 unauthorized
POST /interventions/{id}/cancel    anonymous            other  401 unauthorized
POST /interventions/{id}/cancel    no_tenant            own    403 forbidden
POST /interventions/{id}/cancel    no_tenant            other  403 forbidden
POST /interventions/{id}/cancel    no_role              own    403 forbidden
POST /interventions/{id}/cancel    no_role              other  404 not_found
POST /interventions/{id}/cancel    viewer               own    403 forbidden
POST /interventions/{id}/cancel    viewer               other  404 not_found
POST /interventions/{id}/cancel    requester            own    403 forbidden
POST /interventions/{id}/cancel    requester            other  404 not_found
POST /interventions/{id}/cancel    operator             own    403 forbidden
POST /interventions/{id}/cancel    operator             other  404 not_found
POST /interventions/{id}/cancel    admin                own    200
POST /interventions/{id}/cancel    admin                other  404 not_found
POST /interventions/{id}/cancel    legal                own    403 forbidden
POST /interventions/{id}/cancel    legal                other  404 not_found
POST /interventions/{id}/cancel    legal_holder         own    403 forbidden
POST /interventions/{id}/cancel    legal_holder         other  404 not_found
POST /interventions/{id}/cancel    operator_not_holder  own    403 forbidden
POST /interventions/{id}/cancel    operator_not_holder  other  404 not_found
POST /interventions/{id}/cancel    creator              own    200
POST /interventions/{id}/cancel    creator              other  404 not_found
POST /interventions/{id}/cancel    admin_creator        own    200
POST /interventions/{id}/cancel    admin_creator        other  404 not_found
POST /interventions/{id}/cancel    assignee             own    403 forbidden
POST /interventions/{id}/cancel    assignee             other  404 not_found
POST /interventions/{id}/cancel    other_operator       own    403 forbidden
POST /interventions/{id}/cancel    other_operator       other  404 not_found
POST /interventions/{id}/cancel    admin_not_assignee   own    200
POST /interventions/{id}/cancel    admin_not_assignee   other  404 not_found

# POST /interventions/{id}/complete: creator, admin (the record is APPROVED)
POST /interventions/{id}/complete  anonymous            own    401 unauthorized
POST /interventions/{id}/complete  anonymous            other  401 unauthorized
POST /interventions/{id}/complete  no_tenant            own    403 forbidden
POST /interventions/{id}/complete  no_tenant            other  403 forbidden
POST /interventions/{id}/complete  no_role              own    403 forbidden
POST /interventions/{id}/complete  no_role              other  404 not_found
POST /interventions/{id}/complete  viewer               own    403 forbidden
POST /interventions/{id}/complete  viewer               other  404 not_found
POST /interventions/{id}/complete  requester            own    403 forbidden
POST /interventions/{id}/complete  requester            other  404 not_found
POST /interventions/{id}/complete  operator             own    403 forbidden
POST /interventions/{id}/complete  operator             other  404 not_found
POST /interventions/{id}/complete  admin                own    200
POST /interventions/{id}/complete  admin                other  404 not_found
POST /interventions/{id}/complete  legal                own    403 forbidden
POST /interventions/{id}/complete  legal                other  404 not_found
POST /interventions/{id}/complete  legal_holder         own    403 forbidden
POST /interventions/{id}/complete  legal_holder         other  404 not_found
POST /interventions/{id}/complete  operator_not_holder  own    403 forbidden
POST /interventions/{id}/complete  operator_not_holder  other  404 not_found
POST /interventions/{id}/complete  creator              own    200
POST /interventions/{id}/complete  creator              other  404 not_found
POST /interventions/{id}/complete  admin_creator        own    200
POST /interventions/{id}/complete  admin_creator        other  404 not_found
POST /interventions/{id}/complete  assignee             own    403 forbidden
POST /interventions/{id}/complete  assignee             other  404 not_found
POST /interventions/{id}/complete  other_operator       own    403 forbidden
POST /interventions/{id}/complete  other_operator       other  404 not_found
POST /interventions/{id}/complete  admin_not_assignee   own    200
POST /interventions/{id}/complete  admin_not_assignee   other  404 not_found

# POST /interventions/{id}/assign: admin (the creator too, when an admin: assigning is not deciding), or the current
# assignee handing it on; the body names someone who is never the creator
POST /interventions/{id}/assign    anonymous            own    401 unauthorized
POST /interventions/{id}/assign    anonymous            other  401 unauthorized
POST /interventions/{id}/assign    no_tenant            own    403 forbidden
POST /interventions/{id}/assign    no_tenant            other  403 forbidden
POST /interventions/{id}/assign    no_role              own    403 forbidden
POST /interventions/{id}/assign    no_role              other  404 not_found
POST /interventions/{id}/assign    viewer               own    403 forbidden
POST /interventions/{id}/assign    viewer               other  404 not_found
POST /interventions/{id}/assign    requester            own    403 forbidden
POST /interventions/{id}/assign    requester            other  404 not_found
POST /interventions/{id}/assign    operator             own    403 forbidden
POST /interventions/{id}/assign    operator             other  404 not_found
POST /interventions/{id}/assign    admin                own    200
POST /interventions/{id}/assign    admin                other  404 not_found
POST /interventions/{id}/assign    legal                own    403 forbidden
POST /interventions/{id}/assign    legal                other  404 not_found
POST /interventions/{id}/assign    legal_holder         own    403 forbidden
POST /interventions/{id}/assign    legal_holder         other  404 not_found
POST /interventions/{id}/assign    operator_not_holder  own    403 forbidden
POST /interventions/{id}/assign    operator_not_holder  other  404 not_found
POST /interventions/{id}/assign    creator              own    403 forbidden
POST /interventions/{id}/assign    creator              other  404 not_found
POST /interventions/{id}/assign    admin_creator        own    200
POST /interventions/{id}/assign    admin_creator        other  404 not_found
POST /interventions/{id}/assign    assignee             own    200
POST /interventions/{id}/assign    assignee             other  404 not_found
POST /interventions/{id}/assign    other_operator       own    403 forbidden
POST /interventions/{id}/assign    other_operator       other  404 not_found
POST /interventions/{id}/assign    admin_not_assignee   own    200
POST /interventions/{id}/assign    admin_not_assignee   other  404 not_found

# POST /interventions/{id}/comments: any role of the tenant, the creator too, in any state
POST /interventions/{id}/comments  anonymous            own    401 unauthorized
POST /interventions/{id}/comments  anonymous            other  401 unauthorized
POST /interventions/{id}/comments  no_tenant            own    403 forbidden
POST /interventions/{id}/comments  no_tenant            other  403 forbidden
POST /interventions/{id}/comments  no_role              own    403 forbidden
POST /interventions/{id}/comments  no_role              other  404 not_found
POST /interventions/{id}/comments  viewer               own    201
POST /interventions/{id}/comments  viewer               other  404 not_found
POST /interventions/{id}/comments  requester            own    201
POST /interventions/{id}/comments  requester            other  404 not_found
POST /interventions/{id}/comments  operator             own    201
POST /interventions/{id}/comments  operator             other  404 not_found
POST /interventions/{id}/comments  admin                own    201
POST /interventions/{id}/comments  admin                other  404 not_found
POST /interventions/{id}/comments  legal                own    201
POST /interventions/{id}/comments  legal                other  404 not_found
POST /interventions/{id}/comments  legal_holder         own    201
POST /interventions/{id}/comments  legal_holder         other  404 not_found
POST /interventions/{id}/comments  operator_not_holder  own    201
POST /interventions/{id}/comments  operator_not_holder  other  404 not_found
POST /interventions/{id}/comments  creator              own    201
POST /interventions/{id}/comments  creator              other  404 not_found
POST /interventions/{id}/comments  admin_creator        own    201
POST /interventions/{id}/comments  admin_creator        other  404 not_found
POST /interventions/{id}/comments  assignee             own    201
POST /interventions/{id}/comments  assignee             other  404 not_found
POST /interventions/{id}/comments  other_operator       own    201
POST /interventions/{id}/comments  other_operator       other  404 not_found
POST /interventions/{id}/comments  admin_not_assignee   own    201
POST /interventions/{id}/comments  admin_not_assignee   other  404 not_found

# GET /tools: any role; no tenant data
GET /tools                         anonymous            own    401 unauthorized
GET /tools                         anonymous            other  401 unauthorized
GET /tools                         no_tenant            own    403 forbidden
GET /tools                         no_tenant            other  403 forbidden
GET /tools                         no_role              own    403 forbidden
GET /tools                         no_role              other  403 forbidden
GET /tools                         viewer               own    200
GET /tools                         viewer               other  200
GET /tools                         requester            own    200
GET /tools                         requester            other  200
GET /tools                         operator             own    200
GET /tools                         operator             other  200
GET /tools                         admin                own    200
GET /tools                         admin                other  200
GET /tools                         legal                own    200
GET /tools                         legal                other  200
GET /tools                         legal_holder         own    200
GET /tools                         legal_holder         other  200
GET /tools                         operator_not_holder  own    200
GET /tools                         operator_not_holder  other  200
GET /tools                         creator              own    200
GET /tools                         creator              other  200
GET /tools                         admin_creator        own    200
GET /tools                         admin_creator        other  200
GET /tools                         assignee             own    200
GET /tools                         assignee             other  200
GET /tools                         other_operator       own    200
GET /tools                         other_operator       other  200
GET /tools                         admin_not_assignee   own    200
GET /tools                         admin_not_assignee   other  200

# POST /jobs: requester, admin; submitted in the caller's own tenant
POST /jobs                         anonymous            own    401 unauthorized
POST /jobs                         anonymous            other  401 unauthorized
POST /jobs                         no_tenant            own    403 forbidden
POST /jobs                         no_tenant            other  403 forbidden
POST /jobs                         no_role              own    403 forbidden
POST /jobs                         no_role              other  403 forbidden
POST /jobs                         viewer               own    403 forbidden
POST /jobs                         viewer               other  403 forbidden
POST /jobs                         requester            own    202
POST /jobs                         requester            other  202
POST /jobs                         operator             own    403 forbidden
POST /jobs                         operator             other  403 forbidden
POST /jobs                         admin                own    202
POST /jobs                         admin                other  202
POST /jobs                         legal                own    403 forbidden
POST /jobs                         legal                other  403 forbidden
POST /jobs                         legal_holder         own    403 forbidden
POST /jobs                         legal_holder         other  403 forbidden
POST /jobs                         operator_not_holder  own    403 forbidden
POST /jobs                         operator_not_holder  other  403 forbidden
POST /jobs                         creator              own    202
POST /jobs                         creator              other  202
POST /jobs                         admin_creator        own    202
POST /jobs                         admin_creator        other  202
POST /jobs                         assignee             own    403 forbidden
POST /jobs                         assignee             other  403 forbidden
POST /jobs                         other_operator       own    403 forbidden
POST /jobs                         other_operator       other  403 forbidden
POST /jobs                         admin_not_assignee   own    202
POST /jobs                         admin_not_assignee   other  202

# GET /jobs: any role; another tenant's list never shows the job
GET /jobs                          anonymous            own    401 unauthorized
GET /jobs                          anonymous            other  401 unauthorized
GET /jobs                          no_tenant            own    403 forbidden
GET /jobs                          no_tenant            other  403 forbidden
GET /jobs                          no_role              own    403 forbidden
GET /jobs                          no_role              other  403 forbidden
GET /jobs                          viewer               own    200
GET /jobs                          viewer               other  200
GET /jobs                          requester            own    200
GET /jobs                          requester            other  200
GET /jobs                          operator             own    200
GET /jobs                          operator             other  200
GET /jobs                          admin                own    200
GET /jobs                          admin                other  200
GET /jobs                          legal                own    200
GET /jobs                          legal                other  200
GET /jobs                          legal_holder         own    200
GET /jobs                          legal_holder         other  200
GET /jobs                          operator_not_holder  own    200
GET /jobs                          operator_not_holder  other  200
GET /jobs                          creator              own    200
GET /jobs                          creator              other  200
GET /jobs                          admin_creator        own    200
GET /jobs                          admin_creator        other  200
GET /jobs                          assignee             own    200
GET /jobs                          assignee             other  200
GET /jobs                          other_operator       own    200
GET /jobs                          other_operator       other  200
GET /jobs                          admin_not_assignee   own    200
GET /jobs                          admin_not_assignee   other  200

# GET /jobs/{id}: any role; another tenant's job is 404
GET /jobs/{id}                     anonymous            own    401 unauthorized
GET /jobs/{id}                     anonymous            other  401 unauthorized
GET /jobs/{id}                     no_tenant            own    403 forbidden
GET /jobs/{id}                     no_tenant            other  403 forbidden
GET /jobs/{id}                     no_role              own    403 forbidden
GET /jobs/{id}                     no_role              other  404 not_found
GET /jobs/{id}                     viewer               own    200
GET /jobs/{id}                     viewer               other  404 not_found
GET /jobs/{id}                     requester            own    200
GET /jobs/{id}                     requester            other  404 not_found
GET /jobs/{id}                     operator             own    200
GET /jobs/{id}                     operator             other  404 not_found
GET /jobs/{id}                     admin                own    200
GET /jobs/{id}                     admin                other  404 not_found
GET /jobs/{id}                     legal                own    200
GET /jobs/{id}                     legal                other  404 not_found
GET /jobs/{id}                     legal_holder         own    200
GET /jobs/{id}                     legal_holder         other  404 not_found
GET /jobs/{id}                     operator_not_holder  own    200
GET /jobs/{id}                     operator_not_holder  other  404 not_found
GET /jobs/{id}                     creator              own    200
GET /jobs/{id}                     creator              other  404 not_found
GET /jobs/{id}                     admin_creator        own    200
GET /jobs/{id}                     admin_creator        other  404 not_found
GET /jobs/{id}                     assignee             own    200
GET /jobs/{id}                     assignee             other  404 not_found
GET /jobs/{id}                     other_operator       own    200
GET /jobs/{id}                     other_operator       other  404 not_found
GET /jobs/{id}                     admin_not_assignee   own    200
GET /jobs/{id}                     admin_not_assignee   other  404 not_found

# GET /jobs/{id}/logs: any role; another tenant's job is 404
GET /jobs/{id}/logs                anonymous            own    401 unauthorized
GET /jobs/{id}/logs                anonymous            other  401 unauthorized
GET /jobs/{id}/logs                no_tenant            own    403 forbidden
GET /jobs/{id}/logs                no_tenant            other  403 forbidden
GET /jobs/{id}/logs                no_role              own    403 forbidden
GET /jobs/{id}/logs                no_role              other  404 not_found
GET /jobs/{id}/logs                viewer               own    200
GET /jobs/{id}/logs                viewer               other  404 not_found
GET /jobs/{id}/logs                requester            own    200
GET /jobs/{id}/logs                requester            other  404 not_found
GET /jobs/{id}/logs                operator             own    200
GET /jobs/{id}/logs                operator             other  404 not_found
GET /jobs/{id}/logs                admin                own    200
GET /jobs/{id}/logs                admin                other  404 not_found
GET /jobs/{id}/logs                legal                own    200
GET /jobs/{id}/logs                legal                other  404 not_found
GET /jobs/{id}/logs                legal_holder         own    200
GET /jobs/{id}/logs                legal_holder         other  404 not_found
GET /jobs/{id}/logs                operator_not_holder  own    200
GET /jobs/{id}/logs                operator_not_holder  other  404 not_found
GET /jobs/{id}/logs                creator              own    200
GET /jobs/{id}/logs                creator              other  404 not_found
GET /jobs/{id}/logs                admin_creator        own    200
GET /jobs/{id}/logs                admin_creator        other  404 not_found
GET /jobs/{id}/logs                assignee             own    200
GET /jobs/{id}/logs                assignee             other  404 not_found
GET /jobs/{id}/logs                other_operator       own    200
GET /jobs/{id}/logs                other_operator       other  404 not_found
GET /jobs/{id}/logs                admin_not_assignee   own    200
GET /jobs/{id}/logs                admin_not_assignee   other  404 not_found

# POST /jobs/{id}/cancel: submitter, admin (the job is AWAITING_APPROVAL, gated)
POST /jobs/{id}/cancel             anonymous            own    401 unauthorized
POST /jobs/{id}/cancel             anonymous            other  401 unauthorized
POST /jobs/{id}/cancel             no_tenant            own    403 forbidden
POST /jobs/{id}/cancel             no_tenant            other  403 forbidden
POST /jobs/{id}/cancel             no_role              own    403 forbidden
POST /jobs/{id}/cancel             no_role              other  404 not_found
POST /jobs/{id}/cancel             viewer               own    403 forbidden
POST /jobs/{id}/cancel             viewer               other  404 not_found
POST /jobs/{id}/cancel             requester            own    403 forbidden
POST /jobs/{id}/cancel             requester            other  404 not_found
POST /jobs/{id}/cancel             operator             own    403 forbidden
POST /jobs/{id}/cancel             operator             other  404 not_found
POST /jobs/{id}/cancel             admin                own    200
POST /jobs/{id}/cancel             admin                other  404 not_found
POST /jobs/{id}/cancel             legal                own    403 forbidden
POST /jobs/{id}/cancel             legal                other  404 not_found
POST /jobs/{id}/cancel             legal_holder         own    403 forbidden
POST /jobs/{id}/cancel             legal_holder         other  404 not_found
POST /jobs/{id}/cancel             operator_not_holder  own    403 forbidden
POST /jobs/{id}/cancel             operator_not_holder  other  404 not_found
POST /jobs/{id}/cancel             creator              own    200
POST /jobs/{id}/cancel             creator              other  404 not_found
POST /jobs/{id}/cancel             admin_creator        own    200
POST /jobs/{id}/cancel             admin_creator        other  404 not_found
POST /jobs/{id}/cancel             assignee             own    403 forbidden
POST /jobs/{id}/cancel             assignee             other  404 not_found
POST /jobs/{id}/cancel             other_operator       own    403 forbidden
POST /jobs/{id}/cancel             other_operator       other  404 not_found
POST /jobs/{id}/cancel             admin_not_assignee   own    200
POST /jobs/{id}/cancel             admin_not_assignee   other  404 not_found

# GET /stats: any role; another tenant's figures are all zero
GET /stats                         anonymous            own    401 unauthorized
GET /stats                         anonymous            other  401 unauthorized
GET /stats                         no_tenant            own    403 forbidden
GET /stats                         no_tenant            other  403 forbidden
GET /stats                         no_role              own    403 forbidden
GET /stats                         no_role              other  403 forbidden
GET /stats                         viewer               own    200
GET /stats                         viewer               other  200
GET /stats                         requester            own    200
GET /stats                         requester            other  200
GET /stats                         operator             own    200
GET /stats                         operator             other  200
GET /stats                         admin                own    200
GET /stats                         admin                other  200
GET /stats                         legal                own    200
GET /stats                         legal                other  200
GET /stats                         legal_holder         own    200
GET /stats                         legal_holder         other  200
GET /stats                         operator_not_holder  own    200
GET /stats                         operator_not_holder  other  200
GET /stats                         creator              own    200
GET /stats                         creator              other  200
GET /stats                         admin_creator        own    200
GET /stats                         admin_creator        other  200
GET /stats                         assignee             own    200
GET /stats                         assignee             other  200
GET /stats                         other_operator       own    200
GET /stats                         other_operator       other  200
GET /stats                         admin_not_assignee   own    200
GET /stats                         admin_not_assignee   other  200

# GET /stats/daily: any role; another tenant's figures are all zero
GET /stats/daily                   anonymous            own    401 unauthorized
GET /stats/daily                   anonymous            other  401 unauthorized
GET /stats/daily                   no_tenant            own    403 forbidden
GET /stats/daily                   no_tenant            other  403 forbidden
GET /stats/daily                   no_role              own    403 forbidden
GET /stats/daily                   no_role              other  403 forbidden
GET /stats/daily                   viewer               own    200
GET /stats/daily                   viewer               other  200
GET /stats/daily                   requester            own    200
GET /stats/daily                   requester            other  200
GET /stats/daily                   operator             own    200
GET /stats/daily                   operator             other  200
GET /stats/daily                   admin                own    200
GET /stats/daily                   admin                other  200
GET /stats/daily                   legal                own    200
GET /stats/daily                   legal                other  200
GET /stats/daily                   legal_holder         own    200
GET /stats/daily                   legal_holder         other  200
GET /stats/daily                   operator_not_holder  own    200
GET /stats/daily                   operator_not_holder  other  200
GET /stats/daily                   creator              own    200
GET /stats/daily                   creator              other  200
GET /stats/daily                   admin_creator        own    200
GET /stats/daily                   admin_creator        other  200
GET /stats/daily                   assignee             own    200
GET /stats/daily                   assignee             other  200
GET /stats/daily                   other_operator       own    200
GET /stats/daily                   other_operator       other  200
GET /stats/daily                   admin_not_assignee   own    200
GET /stats/daily                   admin_not_assignee   other  200
# POST /webhooks: admin only; subscribed in the caller's own tenant (acme's subscription stays acme's)
POST /webhooks                     anonymous            own    401 unauthorized
POST /webhooks                     anonymous            other  401 unauthorized
POST /webhooks                     no_tenant            own    403 forbidden
POST /webhooks                     no_tenant            other  403 forbidden
POST /webhooks                     no_role              own    403 forbidden
POST /webhooks                     no_role              other  403 forbidden
POST /webhooks                     viewer               own    403 forbidden
POST /webhooks                     viewer               other  403 forbidden
POST /webhooks                     requester            own    403 forbidden
POST /webhooks                     requester            other  403 forbidden
POST /webhooks                     operator             own    403 forbidden
POST /webhooks                     operator             other  403 forbidden
POST /webhooks                     admin                own    201
POST /webhooks                     admin                other  201
POST /webhooks                     legal                own    403 forbidden
POST /webhooks                     legal                other  403 forbidden
POST /webhooks                     legal_holder         own    403 forbidden
POST /webhooks                     legal_holder         other  403 forbidden
POST /webhooks                     operator_not_holder  own    403 forbidden
POST /webhooks                     operator_not_holder  other  403 forbidden
POST /webhooks                     creator              own    403 forbidden
POST /webhooks                     creator              other  403 forbidden
POST /webhooks                     admin_creator        own    201
POST /webhooks                     admin_creator        other  201
POST /webhooks                     assignee             own    403 forbidden
POST /webhooks                     assignee             other  403 forbidden
POST /webhooks                     other_operator       own    403 forbidden
POST /webhooks                     other_operator       other  403 forbidden
POST /webhooks                     admin_not_assignee   own    201
POST /webhooks                     admin_not_assignee   other  201

# GET /webhooks: admin only; the caller's own tenant's subscriptions, never another's, never a secret
GET /webhooks                      anonymous            own    401 unauthorized
GET /webhooks                      anonymous            other  401 unauthorized
GET /webhooks                      no_tenant            own    403 forbidden
GET /webhooks                      no_tenant            other  403 forbidden
GET /webhooks                      no_role              own    403 forbidden
GET /webhooks                      no_role              other  403 forbidden
GET /webhooks                      viewer               own    403 forbidden
GET /webhooks                      viewer               other  403 forbidden
GET /webhooks                      requester            own    403 forbidden
GET /webhooks                      requester            other  403 forbidden
GET /webhooks                      operator             own    403 forbidden
GET /webhooks                      operator             other  403 forbidden
GET /webhooks                      admin                own    200
GET /webhooks                      admin                other  200
GET /webhooks                      legal                own    403 forbidden
GET /webhooks                      legal                other  403 forbidden
GET /webhooks                      legal_holder         own    403 forbidden
GET /webhooks                      legal_holder         other  403 forbidden
GET /webhooks                      operator_not_holder  own    403 forbidden
GET /webhooks                      operator_not_holder  other  403 forbidden
GET /webhooks                      creator              own    403 forbidden
GET /webhooks                      creator              other  403 forbidden
GET /webhooks                      admin_creator        own    200
GET /webhooks                      admin_creator        other  200
GET /webhooks                      assignee             own    403 forbidden
GET /webhooks                      assignee             other  403 forbidden
GET /webhooks                      other_operator       own    403 forbidden
GET /webhooks                      other_operator       other  403 forbidden
GET /webhooks                      admin_not_assignee   own    200
GET /webhooks                      admin_not_assignee   other  200

# DELETE /webhooks/{id}: admin only, checked before the lookup (a non-admin learns nothing of which ids
# exist); another tenant's subscription is 404 and stays
DELETE /webhooks/{id}              anonymous            own    401 unauthorized
DELETE /webhooks/{id}              anonymous            other  401 unauthorized
DELETE /webhooks/{id}              no_tenant            own    403 forbidden
DELETE /webhooks/{id}              no_tenant            other  403 forbidden
DELETE /webhooks/{id}              no_role              own    403 forbidden
DELETE /webhooks/{id}              no_role              other  403 forbidden
DELETE /webhooks/{id}              viewer               own    403 forbidden
DELETE /webhooks/{id}              viewer               other  403 forbidden
DELETE /webhooks/{id}              requester            own    403 forbidden
DELETE /webhooks/{id}              requester            other  403 forbidden
DELETE /webhooks/{id}              operator             own    403 forbidden
DELETE /webhooks/{id}              operator             other  403 forbidden
DELETE /webhooks/{id}              admin                own    204
DELETE /webhooks/{id}              admin                other  404 not_found
DELETE /webhooks/{id}              legal                own    403 forbidden
DELETE /webhooks/{id}              legal                other  403 forbidden
DELETE /webhooks/{id}              legal_holder         own    403 forbidden
DELETE /webhooks/{id}              legal_holder         other  403 forbidden
DELETE /webhooks/{id}              operator_not_holder  own    403 forbidden
DELETE /webhooks/{id}              operator_not_holder  other  403 forbidden
DELETE /webhooks/{id}              creator              own    403 forbidden
DELETE /webhooks/{id}              creator              other  403 forbidden
DELETE /webhooks/{id}              admin_creator        own    204
DELETE /webhooks/{id}              admin_creator        other  404 not_found
DELETE /webhooks/{id}              assignee             own    403 forbidden
DELETE /webhooks/{id}              assignee             other  403 forbidden
DELETE /webhooks/{id}              other_operator       own    403 forbidden
DELETE /webhooks/{id}              other_operator       other  403 forbidden
DELETE /webhooks/{id}              admin_not_assignee   own    204
DELETE /webhooks/{id}              admin_not_assignee   other  404 not_found
"""


def parse_matrix(text: str) -> dict[tuple[str, str, str], tuple[int, str | None]]:
    table: dict[tuple[str, str, str], tuple[int, str | None]] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        method, path, caller, tenant, status, *code = line.split()
        key = (f"{method} {path}", caller, tenant)
        assert key not in table, f"duplicate row {key}"
        table[key] = (int(status), code[0] if code else None)
    return table


EXPECTED = parse_matrix(MATRIX)


# --------------------------------------------------------------------- routes
@dataclass(frozen=True)
class Route:
    """What a route needs: `fixture` names the record built first; `action`
    the transition a POST performs."""

    # None | "open" | "in_progress" | "approved" | "job" | "gated_job" | "both" | "hook"
    fixture: str | None = None
    action: str | None = None


ROUTES = {
    "GET /health": Route(),
    "GET /openapi.json": Route(),
    "POST /interventions": Route(),
    "GET /interventions": Route("open"),
    "GET /interventions/{id}": Route("open"),
    "GET /interventions/{id}/events": Route("open"),
    "POST /interventions/{id}/claim": Route("open", "claim"),
    "POST /interventions/{id}/release": Route("in_progress", "release"),
    "POST /interventions/{id}/approve": Route("open", "approve"),
    "POST /interventions/{id}/reject": Route("open", "reject"),
    "POST /interventions/{id}/cancel": Route("open", "cancel"),
    "POST /interventions/{id}/complete": Route("approved", "complete"),
    "POST /interventions/{id}/assign": Route("open", "assign"),
    "POST /interventions/{id}/comments": Route("open", "comment"),
    "GET /tools": Route(),
    "POST /jobs": Route(),
    "GET /jobs": Route("job"),
    "GET /jobs/{id}": Route("job"),
    "GET /jobs/{id}/logs": Route("job"),
    "POST /jobs/{id}/cancel": Route("gated_job", "cancel"),
    "GET /stats": Route("both"),
    "GET /stats/daily": Route("both"),
    # A subscription of acme's exists first: what another tenant's admin does never shows or touches it.
    "POST /webhooks": Route("hook"),
    "GET /webhooks": Route("hook"),
    "DELETE /webhooks/{id}": Route("hook"),
}

TARGET_STATUS = {
    "claim": "IN_PROGRESS",
    "release": "PENDING",
    "approve": "APPROVED",
    "reject": "REJECTED",
    "cancel": "CANCELLED",
    "complete": "COMPLETED",
    "assign": "IN_PROGRESS",
}
BODIES = {
    "POST /interventions": {"uow_id": "uow-matrix", "type": "approval", "title": "Created by the matrix"},
    "POST /interventions/{id}/approve": {"reason": "Looks right", "response": {"ok": True}},
    "POST /interventions/{id}/reject": {"reason": "Not this one"},
    "POST /interventions/{id}/cancel": {"reason": "Not needed"},
    "POST /interventions/{id}/complete": {"reason": "Done"},
    # Nobody's record in this table is created by pilot-dee (the creator may never be assigned: 422).
    "POST /interventions/{id}/assign": {"user": "pilot-dee"},
    "POST /interventions/{id}/comments": {"text": "Who owns this one?"},
    "POST /jobs": {"tool": "export_interventions", "parameters": {}, "use_cache": False},
    "POST /webhooks": {"url": "http://127.0.0.1:9/matrix", "events": ["Intervention Approved"], "description": "x"},
}
JOB = {"tool": "export_interventions", "parameters": {}, "use_cache": False}
# acme's subscription (the "hook" fixture); no delivery is ever attempted here.
HOOK = {"url": "http://127.0.0.1:9/acme", "events": ["*"], "description": "acme's"}
HOOK_HOSTS = "127.0.0.1:9"  # WEBHOOK_ALLOWED_HOSTS: the address itself is listed, so loopback is allowed


def template_routes() -> set[str]:
    """The API's routes; the console's (public files) are tested in test_console_*."""
    return {route.route_key for spec in api_functions(TEMPLATE) for route in spec.routes}


def implemented(route: str) -> bool:
    """GET /openapi.json is in the template before every checkout serves it."""
    if route != "GET /openapi.json":
        return True
    (spec,) = [s for s in TEMPLATE.functions() if route in {r.route_key for r in s.routes}]
    return "/openapi.json" in (spec.code_uri / "app.py").read_text()


# ---------------------------------------------------------------------- cases
@dataclass
class Case:
    route: str
    caller: Caller
    tenant: str
    api: Any
    intervention: dict[str, Any] | None = None
    job: dict[str, Any] | None = None
    webhook: dict[str, Any] | None = None

    def _ok(self, reply: Any, what: str) -> dict[str, Any]:
        assert reply.status in (200, 201, 202), f"fixture step {what}: {reply.status} {reply.body}"
        return reply.body

    def build(self) -> None:
        kind = ROUTES[self.route].fixture
        own = self.caller.claims(HOME) if self.caller.owns else OWNER
        if kind in ("open", "in_progress", "approved", "both"):
            iv = self.api.create(own, required_role=self.caller.required_role)
            claimant = self.caller.claims(HOME) if self.caller.assigned == "self" else CLAIMANT
            if self.caller.assigned or kind == "in_progress":
                iv = self._ok(self.api.post(f"/interventions/{iv['id']}/claim", claimant), "claim")
            if kind == "approved":
                decider = claimant if self.caller.assigned else CLAIMANT
                iv = self._ok(self.api.post(f"/interventions/{iv['id']}/approve", decider, {"reason": "ok"}), "approve")
            self.intervention = iv
        if kind in ("job", "gated_job", "both"):
            body = {**JOB, "requires_approval": kind == "gated_job"}
            self.job = self._ok(self.api.post("/jobs", own, body), "submit")
        if kind == "hook":
            self.webhook = self._ok(self.api.post("/webhooks", admin_of(HOME), HOOK), "subscribe")

    def url(self) -> str:
        path = self.route.split(" ", 1)[1]
        if "{id}" in path:
            record = {"jobs": self.job, "webhooks": self.webhook}.get(path.split("/")[1], self.intervention)
            path = path.replace("{id}", record["id"])
        if self.route == "GET /interventions":
            path += f"?status={self.intervention['status']}"
        elif self.route == "GET /stats/daily":
            path += "?days=3"
        return path

    def call(self) -> Any:
        method = self.route.split(" ", 1)[0]
        claims = self.caller.claims(self.tenant)
        if method == "GET":
            return self.api.get(self.url(), claims)
        if method == "DELETE":
            return self.api.request("DELETE", self.url(), claims)
        return self.api.post(self.url(), claims, BODIES.get(self.route))


class Storage:
    """The emulated account, set up once for the module (creating the tables
    for each of these hundreds of cases would dominate their run time) and
    emptied before each case, so every case starts from nothing."""

    TABLE = TEMPLATE.physical_name("OversightTable")

    def __init__(self, dynamodb: Any, sqs: Any, s3: Any, events: Any, kms: Any) -> None:
        self.dynamodb, self.sqs, self.s3, self.events, self.kms = dynamodb, sqs, s3, events, kms
        self.queue_url = ""

    def reset(self) -> None:
        from moto.core.base_backend import BackendDict

        from local_runtime.template import (
            create_buckets,
            create_event_resources,
            create_keys,
            create_queues,
            create_tables,
        )

        BackendDict.reset()
        create_tables(self.dynamodb, TEMPLATE)
        create_queues(self.sqs, TEMPLATE)
        create_buckets(self.s3, TEMPLATE)
        create_event_resources(self.events, TEMPLATE)
        create_keys(self.kms, TEMPLATE)  # subscriptions seal their secret
        self.queue_url = self.sqs.get_queue_url(QueueName=TEMPLATE.physical_name("JobQueue"))["QueueUrl"]

    def items(self) -> list[dict[str, Any]]:
        rows, request = [], {"TableName": self.TABLE}
        while True:
            page = self.dynamodb.scan(**request)
            rows += page["Items"]
            if "LastEvaluatedKey" not in page:
                return sorted(rows, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def empty(self) -> None:
        """Delete every item; set the account up again if another module's
        test reset it in between (the table is gone then)."""
        try:
            keys = [{"pk": item["pk"], "sk": item["sk"]} for item in self.items()]
        except self.dynamodb.exceptions.ResourceNotFoundException:
            self.reset()
            return
        for start in range(0, len(keys), 25):
            self.dynamodb.batch_write_item(
                RequestItems={self.TABLE: [{"DeleteRequest": {"Key": key}} for key in keys[start : start + 25]]}
            )

    def queued(self) -> str:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return attributes["Attributes"]["ApproximateNumberOfMessages"]

    def snapshot(self, route: str) -> Any:
        """Everything the case could change: every item of the table (records,
        events, logs, counters, cache entries) and, for a submission, the queue."""
        return self.items(), self.queued() if route == "POST /jobs" else None


@pytest.fixture(scope="module")
def storage(aws: Any) -> Storage:
    _, dynamodb, sqs, s3, events, kms = aws
    storage = Storage(dynamodb, sqs, s3, events, kms)
    storage.reset()
    return storage


@pytest.fixture(scope="module")
def client() -> ApiClient:
    return ApiClient(TEMPLATE, ROOT / "events")


@pytest.fixture
def matrix_api(storage: Storage, client: ApiClient, clock: Any, monkeypatch: pytest.MonkeyPatch) -> ApiClient:
    monkeypatch.setenv("WEBHOOK_ALLOWED_HOSTS", HOOK_HOSTS)
    storage.empty()
    return client


def check_success(case: Case, reply: Any) -> None:
    """What a 2xx must show: the effect, and nothing of the other tenant."""
    api, route, sub, own = case.api, case.route, case.caller.sub, case.tenant == HOME
    body = reply.body
    if route == "GET /health":
        assert body == {"status": "ok"}
    elif route == "GET /openapi.json":
        assert body["openapi"] and body["paths"]
    elif route == "GET /tools":
        assert {"export_interventions", "recompute_stats", "http_post"} <= {t["name"] for t in body["items"]}
    elif route == "GET /interventions":
        assert [iv["id"] for iv in body["items"]] == ([case.intervention["id"]] if own else [])
    elif route == "GET /interventions/{id}":
        assert body == case.intervention
    elif route == "GET /interventions/{id}/events":
        assert body["items"][0]["action"] == "create"
        assert len(body["items"]) == case.intervention["version"]
    elif route == "GET /jobs":
        assert [job["id"] for job in body["items"]] == ([case.job["id"]] if own else [])
    elif route == "GET /jobs/{id}":
        assert (body["id"], body["status"]) == (case.job["id"], case.job["status"])
    elif route == "GET /jobs/{id}/logs":
        assert isinstance(body["items"], list)
    elif route == "GET /stats":
        expected = 1 if own else 0
        assert (body["interventions"]["total"], body["jobs"]["total"]) == (expected, expected)
    elif route == "GET /stats/daily":
        assert sum(day["created"] for day in body["days"]) == (1 if own else 0)
    elif route in ("POST /interventions", "POST /jobs"):
        # Created in the caller's tenant, and only there.
        owner_field = "created_by" if route == "POST /interventions" else "submitted_by"
        assert body[owner_field] == sub
        read = f"/interventions/{body['id']}" if route == "POST /interventions" else f"/jobs/{body['id']}"
        here, there = case.tenant, FOREIGN if own else HOME
        assert api.get(read, admin_of(here)).status == 200
        assert api.get(read, admin_of(there)).status == 404
    elif route == "POST /interventions/{id}/comments":
        # On the trail, as the caller, in the record's current status; the record itself stays as it was.
        text = BODIES[route]["text"]
        assert (body["actor"], body["text"]) == (sub, text)
        last = api.get(f"/interventions/{case.intervention['id']}/events", admin_of(HOME)).body["items"][-1]
        status = case.intervention["status"]
        assert last == {
            "at": body["at"],
            "actor": sub,
            "action": "comment",
            "from_status": status,
            "to_status": status,
            "reason": text,
        }
        stored = api.get(f"/interventions/{case.intervention['id']}", admin_of(HOME)).body
        assert {**stored, "version": None} == {**case.intervention, "version": None}
        assert stored["version"] == case.intervention["version"] + 1  # the version numbers the trail's events
    elif route == "POST /webhooks":
        # Subscribed in the caller's tenant, as sent, by the caller; the secret shown here only.
        sent = BODIES[route]
        assert (body["url"], body["events"], body["description"]) == (sent["url"], sent["events"], sent["description"])
        assert (body["created_by"], body["enabled"], body["last_delivery"]) == (sub, True, None)
        assert len(body["secret"]) == 43
        # (The clock stands still here: the order of two subscriptions made at once is not the point.)
        listed = api.get("/webhooks", admin_of(case.tenant)).body["items"]
        mine = {case.webhook["id"], body["id"]} if own else {body["id"]}
        assert {hook["id"] for hook in listed} == mine and len(listed) == len(mine)
        assert all("secret" not in hook for hook in listed)
        # acme's subscription is acme's alone, whoever subscribed.
        acme = api.get("/webhooks", admin_of(HOME)).body["items"]
        assert {hook["id"] for hook in acme} == (mine if own else {case.webhook["id"]})
    elif route == "GET /webhooks":
        assert body["next_cursor"] is None
        assert [hook["id"] for hook in body["items"]] == ([case.webhook["id"]] if own else [])
        if own:
            (shown,) = body["items"]
            assert shown == {k: v for k, v in case.webhook.items() if k != "secret"}
    elif route == "DELETE /webhooks/{id}":
        assert reply.status == 204 and body is None
        assert api.get("/webhooks", admin_of(HOME)).body["items"] == []
        again = api.request("DELETE", f"/webhooks/{case.webhook['id']}", admin_of(HOME))
        assert (again.status, again.body["code"]) == (404, "not_found")
    elif route == "POST /jobs/{id}/cancel":
        assert body["status"] == "CANCELLED"
        gate = api.get(f"/interventions/{case.job['intervention_id']}", admin_of(HOME)).body
        assert gate["status"] == "CANCELLED"
    else:  # an intervention transition
        action = ROUTES[route].action
        assert body["status"] == TARGET_STATUS[action]
        assert body["version"] == case.intervention["version"] + 1
        if action == "claim":
            assert body["assigned_to"] == sub
        if action == "assign":
            assert body["assigned_to"] == BODIES[route]["user"]
        if action in ("approve", "reject"):
            assert body["decided_by"] == sub
        stored = api.get(f"/interventions/{case.intervention['id']}", admin_of(HOME)).body
        assert stored == body


def case_params() -> list[Any]:
    return [
        pytest.param(route, caller, tenant, id=f"{route}-{caller}-{tenant}") for (route, caller, tenant) in EXPECTED
    ]


@pytest.mark.parametrize(("route", "caller", "tenant"), case_params())
def test_authorization(matrix_api, storage, route, caller, tenant):
    if not implemented(route):
        pytest.skip(f"{route} is not served by this checkout yet")
    status, code = EXPECTED[(route, caller, tenant)]
    case = Case(route, CALLERS[caller], TENANTS[tenant], matrix_api)
    case.build()
    unchanged = status >= 400 or route.startswith("GET ")
    before = storage.snapshot(route) if unchanged else None

    reply = case.call()

    assert reply.status == status, f"expected {status} {code or ''}, got {reply.status} {reply.body}"
    if status >= 400:
        assert reply.body["code"] == code, reply.body
    else:
        check_success(case, reply)
    if unchanged:
        assert storage.snapshot(route) == before, "a refused request or a read changed stored data"


# ------------------------------------------------------------------ completeness
def test_the_matrix_covers_every_route_caller_and_tenant():
    routes = template_routes()
    assert set(ROUTES) == routes, (
        f"ROUTES vs template.yaml: missing {routes - set(ROUTES)}, extra {set(ROUTES) - routes}"
    )
    rows = {route for route, _, _ in EXPECTED}
    assert not routes - rows, f"routes of template.yaml with no row in MATRIX: {sorted(routes - rows)}"
    assert not rows - routes, f"rows in MATRIX for routes not in template.yaml: {sorted(rows - routes)}"
    unknown = {caller for _, caller, _ in EXPECTED} - set(CALLERS)
    assert not unknown, f"rows in MATRIX for unknown callers: {sorted(unknown)}"
    missing = [
        f"{route} | {caller} | {tenant}"
        for route in sorted(routes)
        for caller in CALLERS
        for tenant in TENANTS
        if (route, caller, tenant) not in EXPECTED
    ]
    assert not missing, "cells with no row in MATRIX:\n" + "\n".join(missing)
    assert {tenant for _, _, tenant in EXPECTED} <= set(TENANTS)


def test_every_error_row_names_the_spec_code_for_its_status():
    codes = {
        401: {"unauthorized"},
        403: {"forbidden"},
        404: {"not_found"},
        409: {"invalid_transition", "expired", "conflict"},
    }
    for key, (status, code) in EXPECTED.items():
        if status >= 400:
            assert code in codes[status], (key, status, code)
        else:
            assert code is None, key
