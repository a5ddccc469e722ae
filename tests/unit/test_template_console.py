"""template.yaml for the operator console: its function (public routes, no
layer, no permission), the Cognito hosted UI it signs in with, and the
outputs a deployer needs (docs/console.md)."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import TEMPLATE

RESOURCES = TEMPLATE.resources
CONSOLE = RESOURCES["ConsoleFunction"]["Properties"]
CLIENT = RESOURCES["UserPoolClient"]["Properties"]


def referenced(node: Any) -> set[str]:
    """Every resource or parameter a node names (Ref, GetAtt, ${...} in Sub)."""
    text = json.dumps(node)
    names = set()
    for name in list(RESOURCES) + list(TEMPLATE.doc["Parameters"]):
        if f'"Ref": "{name}"' in text or f'["{name}",' in text or f"${{{name}}}" in text or f"${{{name}." in text:
            names.add(name)
    return names


def test_the_console_function_serves_the_folder_without_the_layer() -> None:
    assert (CONSOLE["CodeUri"], CONSOLE["Handler"]) == ("console/", "server.handler")
    assert "Layers" not in CONSOLE
    # SAM adds a function's layers to the global ones: the global list must be empty for the console to have none.
    assert "Layers" not in TEMPLATE.doc["Globals"]["Function"]
    for spec in TEMPLATE.functions():
        if spec.logical_id != "ConsoleFunction":
            assert RESOURCES[spec.logical_id]["Properties"]["Layers"] == [{"Ref": "SharedLayer"}], spec.logical_id


def test_the_console_holds_no_permission_but_the_log_group_deny() -> None:
    (policy,) = CONSOLE["Policies"]
    (statement,) = policy["Statement"]
    assert (statement["Effect"], statement["Action"]) == ("Deny", ["logs:CreateLogGroup"])
    assert CONSOLE["Tracing"] == "Disabled"  # SAM attaches AWSXrayWriteOnlyAccess for any other value


def test_the_console_routes_are_public_and_none_ends_in_a_slash() -> None:
    """API Gateway refuses a route path ending in `/` (SAM passes it on and
    no route is made): /console/ reaches `GET /console`."""
    spec = TEMPLATE.function("ConsoleFunction")
    routes = {route.route_key for route in spec.routes}
    assert routes == {"GET /", "GET /console", "GET /console/{path+}"}
    assert spec.public_routes == routes
    every_path = [route.path for fn in TEMPLATE.functions() for route in fn.routes]
    assert [path for path in every_path if path != "/" and path.endswith("/")] == []


def test_the_console_signs_in_with_cognito_or_the_issuer_of_jwt_issuer() -> None:
    variables = CONSOLE["Environment"]["Variables"]
    assert variables["CONSOLE_SIGN_IN"] == {"Fn::If": ["UseCognito", "cognito", "oidc"]}
    condition, domain, otherwise = variables["COGNITO_DOMAIN"]["Fn::If"]
    assert (condition, otherwise) == ("UseCognito", "")
    assert domain == {"Fn::Sub": "https://${UserPoolDomain}.auth.${AWS::Region}.amazoncognito.com"}
    assert variables["COGNITO_CLIENT_ID"] == {"Fn::If": ["UseCognito", {"Ref": "UserPoolClient"}, ""]}
    assert variables["OIDC_ISSUER"] == {"Ref": "JwtIssuer"}
    assert variables["OIDC_CLIENT_ID"] == {"Fn::Select": [0, {"Ref": "JwtAudience"}]}


def test_the_app_client_runs_the_code_flow_back_to_the_console_once_its_url_is_given() -> None:
    """A public client (PKCE, no secret), the hosted UI of the pool, the
    scopes whose ID token carries cognito:groups and custom:tenant."""
    assert CLIENT["GenerateSecret"] is False
    assert CLIENT["SupportedIdentityProviders"] == ["COGNITO"]
    when = "HasConsoleCallbackUrl"
    assert CLIENT["AllowedOAuthFlowsUserPoolClient"] == {"Fn::If": [when, True, False]}
    assert CLIENT["AllowedOAuthFlows"] == {"Fn::If": [when, ["code"], {"Ref": "AWS::NoValue"}]}
    assert CLIENT["AllowedOAuthScopes"] == {"Fn::If": [when, ["openid", "email", "profile"], {"Ref": "AWS::NoValue"}]}
    for urls in ("CallbackURLs", "LogoutURLs"):
        assert CLIENT[urls] == {"Fn::If": [when, [{"Ref": "ConsoleCallbackUrl"}], {"Ref": "AWS::NoValue"}]}
    assert TEMPLATE.doc["Conditions"][when] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "ConsoleCallbackUrl"}, ""]}]}
    assert "custom:tenant" in CLIENT["ReadAttributes"]


def test_the_client_does_not_name_the_api_whose_authorizer_names_it() -> None:
    """The JWT authorizer's audience is the client; a client naming the
    HttpApi (its URL as callback) would make a circular dependency."""
    audience = RESOURCES["HttpApi"]["Properties"]["Auth"]["Authorizers"]["OversightJwt"]["JwtConfiguration"]["audience"]
    assert "UserPoolClient" in referenced(audience)
    assert "HttpApi" not in referenced(CLIENT)
    assert "HttpApi" not in referenced(RESOURCES["UserPoolDomain"])


def test_the_hosted_ui_domain_is_the_parameter_or_derived_from_the_stack() -> None:
    domain = RESOURCES["UserPoolDomain"]
    assert (domain["Type"], domain["Condition"]) == ("AWS::Cognito::UserPoolDomain", "UseCognito")
    assert domain["Properties"]["UserPoolId"] == {"Ref": "UserPool"}
    condition, given, derived = domain["Properties"]["Domain"]["Fn::If"]
    assert (condition, given) == ("HasCognitoDomainPrefix", {"Ref": "CognitoDomainPrefix"})
    assert {"Ref": "AWS::StackName"} in derived["Fn::Join"][1] and "AWS::StackId" in json.dumps(derived)
    assert TEMPLATE.doc["Parameters"]["CognitoDomainPrefix"]["Default"] == ""


def test_with_another_identity_provider_no_cognito_resource_exists() -> None:
    cognito = {lid: res for lid, res in RESOURCES.items() if res["Type"].startswith("AWS::Cognito::")}
    assert {"UserPool", "UserPoolClient", "UserPoolDomain"} <= set(cognito)
    assert {res.get("Condition") for res in cognito.values()} == {"UseCognito"}
    outputs = TEMPLATE.doc["Outputs"]
    for name, output in outputs.items():
        if referenced(output) & set(cognito):
            assert output.get("Condition") == "UseCognito" or "Fn::If" in json.dumps(output), name


def test_the_outputs_give_the_console_url_and_what_its_sign_in_needs() -> None:
    outputs = TEMPLATE.doc["Outputs"]
    assert outputs["ConsoleUrl"]["Value"] == {
        "Fn::Sub": "https://${HttpApi}.execute-api.${AWS::Region}.amazonaws.com/console/"
    }
    assert outputs["CognitoHostedUiUrl"]["Condition"] == "UseCognito"
    # Until the callback URL is set, the output says what to deploy with.
    cognito, _ = outputs["ConsoleSignIn"]["Value"]["Fn::If"][1:]
    condition, ready, not_yet = cognito["Fn::If"]
    assert condition == "HasConsoleCallbackUrl"
    assert "ConsoleCallbackUrl=https://${HttpApi}" in not_yet["Fn::Sub"] and "${ConsoleCallbackUrl}" in ready["Fn::Sub"]


def test_the_console_has_its_log_group_alarms_and_dashboard_lines() -> None:
    groups = [r["Properties"] for r in TEMPLATE.of_type("AWS::Logs::LogGroup").values()]
    assert {"Fn::Sub": "/aws/lambda/${ConsoleFunction}"} in [g["LogGroupName"] for g in groups]
    alarms = [a["Properties"] for a in TEMPLATE.of_type("AWS::CloudWatch::Alarm").values()]
    on_console = [
        a["MetricName"]
        for a in alarms
        if {"Name": "FunctionName", "Value": {"Ref": "ConsoleFunction"}} in a.get("Dimensions", [])
    ]
    assert sorted(on_console) == ["Errors", "Throttles"]
