"""template.yaml: least privilege and the settings the service relies on."""

import pytest

from tests.conftest import TEMPLATE

API_FUNCTIONS = [spec for spec in TEMPLATE.functions() if spec.routes]


def statements(logical_id):
    props = TEMPLATE.resources[logical_id]["Properties"]
    for policy in props.get("Policies", []):
        assert isinstance(policy, dict) and "Statement" in policy, f"{logical_id}: only inline statements, no managed templates"
        yield from policy["Statement"]


@pytest.mark.parametrize("spec", API_FUNCTIONS, ids=lambda s: s.logical_id)
def test_api_functions_hold_no_scan_no_wildcard_no_crud_policy(spec):
    for statement in statements(spec.logical_id):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert "dynamodb:Scan" not in actions
        assert not any("*" in action for action in actions), actions
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        assert "*" not in resources


def test_only_functions_that_delete_hold_delete_item():
    holders = {
        spec.logical_id
        for spec in API_FUNCTIONS
        for statement in statements(spec.logical_id)
        if "dynamodb:DeleteItem" in statement["Action"]
    }
    # Powertools idempotency deletes its record when the first attempt fails
    # (the two functions that honour Idempotency-Key).
    assert holders == {"CreateInterventionFunction", "SubmitJobFunction"}


def test_tables_are_on_demand_with_pitr_deletion_protection_and_ttl():
    for logical_id, table in TEMPLATE.of_type("AWS::DynamoDB::Table").items():
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST", logical_id
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert props["DeletionProtectionEnabled"] is True
        assert props["TimeToLiveSpecification"]["Enabled"] is True


def test_runtime_and_every_route_but_health_and_openapi_behind_the_jwt_authorizer():
    globals_ = TEMPLATE.doc["Globals"]["Function"]
    assert (globals_["Runtime"], globals_["Architectures"]) == ("python3.13", ["arm64"])
    api = TEMPLATE.resources["HttpApi"]["Properties"]["Auth"]
    assert api["DefaultAuthorizer"] == "OversightJwt"
    public = {route for spec in TEMPLATE.functions() for route in spec.public_routes}
    assert public == {"GET /health", "GET /openapi.json"}


def test_sweep_runs_every_minute_alone_and_only_the_sweep_may_delete_records():
    sweep = TEMPLATE.resources["SweepFunction"]["Properties"]
    assert sweep["ReservedConcurrentExecutions"] == 1
    (event,) = sweep["Events"].values()
    assert (event["Type"], event["Properties"]["Schedule"]) == ("Schedule", "rate(1 minute)")
    main_table_deleters = {
        spec.logical_id
        for spec in TEMPLATE.functions()
        for statement in statements(spec.logical_id)
        if "dynamodb:DeleteItem" in statement["Action"] and "IdempotencyTable" not in str(statement["Resource"])
    }
    assert main_table_deleters == {"SweepFunction"}


def test_stats_function_reads_only_counters():
    (statement,) = statements("ReadStatsFunction")
    assert statement["Action"] == ["dynamodb:BatchGetItem"]
