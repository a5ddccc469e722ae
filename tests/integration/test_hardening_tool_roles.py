"""A tool may require a role: submitting it takes that role (admin holds
every role) on top of the right to submit jobs; otherwise 403 `forbidden`
and nothing is stored. GET /tools shows the role."""

from __future__ import annotations

import pytest

from oversight.tools import NoParameters
from oversight.tools.registry import DEFAULT_REGISTRY, Tool
from tests.support import ADMIN, REQUESTER, VIEWER, user


def _run(params, ctx) -> str:
    return "ran"


@pytest.fixture(autouse=True)
def legal_only_tool():
    DEFAULT_REGISTRY.register(
        Tool("test_legal_only", "Needs the legal role (tests)", NoParameters, 5, False, _run, required_role="legal")
    )
    yield
    DEFAULT_REGISTRY.unregister("test_legal_only")


def submit(api, claims, parameters=None):
    return api.post("/jobs", claims, {"tool": "test_legal_only", "parameters": parameters or {}})


def test_a_tool_that_requires_a_role_is_403_for_a_requester_without_it(api):
    refused = submit(api, REQUESTER)
    assert refused.status == 403 and refused.body["code"] == "forbidden"
    assert "legal" in refused.body["message"]
    # Refused before the parameters are read: no hint about them either.
    assert submit(api, REQUESTER, {"unknown": 1}).status == 403
    assert api.get("/jobs", VIEWER).body["items"] == []


def test_a_holder_of_the_role_and_an_admin_may_submit_it(api):
    assert submit(api, user("agent-9", "requester", "legal")).status == 202
    assert submit(api, ADMIN).status == 202
    assert len(api.get("/jobs", VIEWER).body["items"]) == 2


def test_the_role_alone_does_not_give_the_right_to_submit_jobs(api):
    assert submit(api, user("counsel-1", "legal")).status == 403


def test_get_tools_shows_the_required_role(api):
    items = {t["name"]: t for t in api.get("/tools", VIEWER).body["items"]}
    assert items["test_legal_only"]["required_role"] == "legal"
    assert items["http_post"]["required_role"] is None


def test_recompute_stats_is_for_admins_only(api):
    """It rewrites the tenant's counters: a requester may not run it."""
    refused = api.post("/jobs", REQUESTER, {"tool": "recompute_stats", "parameters": {}})
    assert refused.status == 403 and refused.body["code"] == "forbidden"
    assert api.get("/jobs", VIEWER).body["items"] == []
    assert api.post("/jobs", ADMIN, {"tool": "recompute_stats", "parameters": {}}).status == 202
    tools = {t["name"]: t for t in api.get("/tools", VIEWER).body["items"]}
    assert tools["recompute_stats"]["required_role"] == "admin"
