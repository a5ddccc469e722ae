"""The console function as Lambda runs it: its handler, loaded from the
template's CodeUri and Handler in an environment of its own (a cold start
per test), invoked with the sample event of events/console.json, on the
real console/ folder. Only what any console has is relied on: an
index.html that references assets/*.js and assets/*.css."""

from __future__ import annotations

import base64
import copy
import gzip
import hashlib
import itertools
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from local_runtime.context import LocalLambdaContext
from local_runtime.function_host import RESULT, serialise_result
from local_runtime.handlers import load_module
from tests.conftest import ROOT, TEMPLATE

SPEC = TEMPLATE.function("ConsoleFunction")
SAMPLE = json.loads((ROOT / "events" / "console.json").read_text())
# What CloudFormation makes of the template's variables with the default parameters (the Cognito user pool).
IN_AWS = {
    "CONSOLE_SIGN_IN": "cognito",
    "COGNITO_DOMAIN": "https://oversight-51af3dc0.auth.us-east-1.amazoncognito.com",
    "COGNITO_CLIENT_ID": "1example23456789abcdefghij",
    "OIDC_ISSUER": "",
    "OIDC_CLIENT_ID": "",
}
_environments = itertools.count(1000)

Handler = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture
def cold_start(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], Handler]:
    """A new execution environment of the function with these variables."""

    def start(variables: dict[str, str]) -> Handler:
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        handler = getattr(load_module(SPEC, next(_environments)), SPEC.handler.rpartition(".")[2])
        return lambda event: handler(event, LocalLambdaContext(SPEC.logical_id, SPEC.timeout))

    return start


def request(path: str, **headers: str) -> dict[str, Any]:
    """The sample event for another path (and more headers)."""
    event = copy.deepcopy(SAMPLE)
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["routeKey"] = event["requestContext"]["routeKey"] = (
        "GET /" if path == "/" else "GET /console" if path in ("/console", "/console/") else "GET /console/{path+}"
    )
    if event["routeKey"].endswith("{path+}"):
        event["pathParameters"] = {"path": path.removeprefix("/console/")}
    event["headers"].update({name.replace("_", "-"): value for name, value in headers.items()})
    return event


def body_of(response: dict[str, Any]) -> bytes:
    data = base64.b64decode(response["body"]) if response["isBase64Encoded"] else response["body"].encode()
    return gzip.decompress(data) if response["headers"].get("Content-Encoding") == "gzip" else data


def test_the_sample_event_gets_the_console_page_with_its_assets_fingerprinted(cold_start) -> None:
    handler = cold_start(IN_AWS)

    response = handler(SAMPLE)  # GET /console/, as a browser asks for it (gzip accepted)

    assert response["statusCode"] == 200
    headers = response["headers"]
    assert (headers["Content-Type"], headers["Cache-Control"]) == ("text/html; charset=utf-8", "no-store")
    assert headers["Content-Encoding"] == "gzip"
    html = body_of(response).decode()
    assert re.search(r'src="(\./)?assets/[\w-]+\.[0-9a-f]{10}\.js"', html)
    assert re.search(r'href="(\./)?assets/[\w-]+\.[0-9a-f]{10}\.css"', html)
    (import_map,) = re.findall(r'<script type="importmap">(.*?)</script>', html, re.S)
    digest = base64.b64encode(hashlib.sha256(import_map.encode()).digest()).decode()
    assert f"script-src 'self' 'sha256-{digest}';" in headers["Content-Security-Policy"]
    assert (
        "connect-src 'self' https://oversight-51af3dc0.auth.us-east-1.amazoncognito.com;"
        in (headers["Content-Security-Policy"])
    )


def test_every_asset_the_page_names_loads_and_is_cached_for_a_year(cold_start) -> None:
    handler = cold_start(IN_AWS)
    html = body_of(handler(SAMPLE)).decode()
    named = set(re.findall(r'(?:src|href)="(?:\./)?(assets/[^"?#]+)"', html))
    (import_map,) = re.findall(r'<script type="importmap">(.*?)</script>', html, re.S)
    mapped = {url.removeprefix("./") for url in json.loads(import_map)["imports"].values()}

    assert any(url.endswith(".js") for url in named) and any(url.endswith(".css") for url in named)
    assert mapped >= {url for url in named if url.endswith(".js")}
    for url in named | mapped:
        response = handler(request(f"/console/{url}"))
        assert response["statusCode"] == 200, url
        assert response["headers"]["Cache-Control"] == "public, max-age=31536000, immutable"
        plain = (ROOT / "console" / re.sub(r"\.[0-9a-f]{10}(\.\w+)$", r"\1", url)).read_bytes()
        assert body_of(response) == plain
        # Lambda returns it: JSON under its 6 MB response limit.
        assert serialise_result(SPEC.logical_id, response)[0] == RESULT


def test_config_json_says_how_to_sign_in_in_aws(cold_start) -> None:
    response = cold_start(IN_AWS)(request("/console/config.json"))

    assert response["statusCode"] == 200
    assert json.loads(body_of(response)) == {
        "sign_in": "cognito",
        "api": "",
        "cognito": {
            "domain": IN_AWS["COGNITO_DOMAIN"],
            "client_id": IN_AWS["COGNITO_CLIENT_ID"],
            "scopes": ["openid", "email", "profile"],
        },
    }


def test_with_another_identity_provider_the_console_uses_its_issuer(cold_start) -> None:
    issuer = "https://example.okta.com/oauth2/default"
    handler = cold_start(
        {
            **IN_AWS,
            "CONSOLE_SIGN_IN": "oidc",
            "COGNITO_DOMAIN": "",
            "COGNITO_CLIENT_ID": "",
            "OIDC_ISSUER": issuer,
            "OIDC_CLIENT_ID": "0oa1console",
        }
    )

    response = handler(request("/console/config.json"))

    config = json.loads(body_of(response))
    assert (config["sign_in"], config["oidc"]["issuer"], config["oidc"]["client_id"]) == ("oidc", issuer, "0oa1console")
    assert "connect-src 'self' https://example.okta.com;" in response["headers"]["Content-Security-Policy"]


def test_the_site_root_and_the_console_root_redirect(cold_start) -> None:
    handler = cold_start(IN_AWS)

    assert (handler(request("/"))["statusCode"], handler(request("/"))["headers"]["Location"]) == (302, "/console/")
    moved = handler(request("/console"))
    assert (moved["statusCode"], moved["headers"]["Location"]) == (301, "/console/")


@pytest.mark.parametrize(
    "path", ["/console/server.py", "/console/%2e%2e/template.yaml", "/console/assets/../server.py", "/console/inbox"]
)
def test_the_handler_and_anything_outside_the_folder_are_404(cold_start, path: str) -> None:
    response = cold_start(IN_AWS)(request(path))

    assert response["statusCode"] == 404
    assert json.loads(body_of(response))["code"] == "not_found"


def test_the_local_runtimes_environment_signs_in_with_the_local_form(cold_start) -> None:
    """The variables the runtime gives the function (CONSOLE_SIGN_IN=local,
    the template's other values unresolved, which the local mode ignores)."""
    variables = {**SPEC.environment, "CONSOLE_SIGN_IN": "local"}

    response = cold_start(variables)(request("/console/config.json"))

    assert json.loads(body_of(response)) == {"sign_in": "local", "api": ""}
    assert "connect-src 'self';" in response["headers"]["Content-Security-Policy"]
