"""Given JWT claims as the HTTP API authorizer passes them, when a principal
is built, then roles, tenant and failures follow the spec."""

import pytest

from oversight.auth import principal_from_claims, roles_from_claims
from oversight.errors import Forbidden, Unauthorized


@pytest.mark.parametrize(
    "groups",
    [["operator", "viewer"], "[operator viewer]", '["operator","viewer"]', "operator viewer", "[operator\tviewer]"],
)
def test_groups_claim_in_every_form(groups):
    assert roles_from_claims({"cognito:groups": groups}) == {"operator", "viewer"}


def test_scopes_grant_roles_and_other_scopes_do_not():
    claims = {"scope": "openid oversight/requester other/admin oversight/"}
    assert roles_from_claims(claims, ["oversight/viewer"]) == {"requester", "viewer"}


def test_tenant_from_custom_claim_then_fallback():
    assert principal_from_claims({"sub": "u", "custom:tenant": "acme", "tenant": "x"}).tenant == "acme"
    assert principal_from_claims({"sub": "u", "tenant": "globex"}).tenant == "globex"


def test_no_claims_or_no_sub_is_unauthorized():
    with pytest.raises(Unauthorized):
        principal_from_claims(None)
    with pytest.raises(Unauthorized):
        principal_from_claims({"custom:tenant": "acme"})


@pytest.mark.parametrize("claims", [{"sub": "u"}, {"sub": "u", "custom:tenant": "a#INT#b"}, {"sub": "u", "tenant": ""}])
def test_missing_or_unsafe_tenant_is_forbidden(claims):
    with pytest.raises(Forbidden):
        principal_from_claims(claims)


def test_admin_holds_every_role_and_members_need_a_role():
    admin = principal_from_claims({"sub": "a", "custom:tenant": "t", "cognito:groups": "[admin]"})
    assert admin.holds("finance") and admin.holds("operator")
    nobody = principal_from_claims({"sub": "n", "custom:tenant": "t"})
    with pytest.raises(Forbidden):
        nobody.require_member()
    with pytest.raises(Forbidden):
        nobody.require_any("requester")


@pytest.mark.parametrize(
    ("groups", "roles"),
    [
        (["viewer,admin"], {"viewer,admin"}),
        (["Team admin"], {"Team admin"}),
        ([" admin"], {" admin"}),
        ('["Team admin", "viewer"]', {"Team admin", "viewer"}),
        ("[viewer,admin]", {"viewer,admin"}),  # API Gateway's form of the one group `viewer,admin`
        ("[viewer,admin operator]", {"viewer,admin", "operator"}),
        ("viewer,admin", {"viewer,admin"}),
    ],
    ids=[
        "comma in a list",
        "space in a list",
        "leading space in a list",
        "space in a JSON list",
        "comma in the string form",
        "comma then another group",
        "comma in a plain string",
    ],
)
def test_a_group_name_is_one_role_whatever_its_commas_or_spaces(groups, roles):
    assert roles_from_claims({"cognito:groups": groups}) == roles
    assert not principal_from_claims({"sub": "u", "custom:tenant": "t", "cognito:groups": groups}).is_admin


def test_commas_never_separate_groups_in_the_string_form():
    """Only whitespace separates API Gateway's `"[a b]"`: `[operator, viewer]`
    is the groups `operator,` and `viewer`, so it grants no operator role."""
    assert roles_from_claims({"cognito:groups": "[operator, viewer]"}) == {"operator,", "viewer"}


def test_scope_is_split_on_whitespace_only():
    claims = {"scope": "oversight/viewer,oversight/admin openid"}
    assert roles_from_claims(claims) == {"viewer,oversight/admin"}
    assert roles_from_claims({"scope": "oversight/viewer\toversight/operator"}) == {"viewer", "operator"}
    assert roles_from_claims({"scope": "[oversight/admin]"}) == frozenset()  # no list form: one odd scope


@pytest.mark.parametrize("tenant", ["acme\n", "acme\r\n", "\nacme", "ac me", "a" * 65])
def test_a_tenant_is_matched_whole(tenant):
    with pytest.raises(Forbidden):
        principal_from_claims({"sub": "u", "custom:tenant": tenant})
