"""The local HTTP API in front of the functions: routing, the authorizer,
the payload-v2 event and the mapping of a function's result."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from local_runtime.routing import Router
from local_runtime.server import MAX_PAYLOAD_BYTES, HttpApi
from local_runtime.template import Template
from local_runtime.tokens import issue_token

SECRET = "unit-test-secret-long-enough-for-hs256"

TEMPLATE = """
Resources:
  ItemsFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: items/
      Handler: app.handler
      Events:
        Get: {Type: HttpApi, Properties: {Method: GET, Path: "/items/{id}"}}
        Put: {Type: HttpApi, Properties: {Method: PUT, Path: "/items/{id}"}}
  PingFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ping/
      Handler: app.handler
      Events:
        Ping: {Type: HttpApi, Properties: {Method: GET, Path: /ping, Auth: {Authorizer: NONE}}}
"""


class RecordingFunction:
    """Stands in for a LocalFunction: records events, returns a set result."""

    def __init__(self, name: str, result: Any) -> None:
        self.name = name
        self.result = result
        self.events: list[dict[str, Any]] = []

    def invoke(self, event: dict[str, Any]) -> Any:
        self.events.append(event)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


@pytest.fixture
def router(tmp_path: Path) -> Router:
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    return Router(Template(tmp_path / "template.yaml"))


def serve(router: Router, items_result: Any = None) -> tuple[Client, RecordingFunction]:
    items = RecordingFunction("ItemsFunction", items_result or {"statusCode": 200, "body": "{}"})
    ping = RecordingFunction("PingFunction", {"statusCode": 200, "body": '{"pong":true}'})
    api = HttpApi(router, {"ItemsFunction": items, "PingFunction": ping}, SECRET)  # type: ignore[dict-item]
    return Client(api, use_cookies=False), items


def auth(*roles: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token('alice', list(roles), 'acme', SECRET)}"}


def test_the_function_gets_a_payload_v2_event_with_the_verified_claims(router: Router) -> None:
    client, items = serve(router)

    client.put(
        "/items/it-1?tag=a&tag=b&q=x%20y",
        data=b"\xff\x00binary",
        headers={**auth("operator", "viewer"), "Cookie": "a=1; b=2", "X-Trace": "t1"},
    )

    (event,) = items.events
    assert event["routeKey"] == "PUT /items/{id}"
    assert event["pathParameters"] == {"id": "it-1"}
    assert event["queryStringParameters"] == {"tag": "a,b", "q": "x y"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["headers"]["x-trace"] == "t1"
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\x00binary"
    claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    assert claims["sub"] == "alice"
    assert claims["cognito:groups"] == "[operator viewer]"
    assert claims["exp"].isdigit()


def test_a_public_route_needs_no_token(router: Router) -> None:
    client, _ = serve(router)

    response = client.get("/ping")

    assert (response.status_code, response.json) == (200, {"pong": True})


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}])
def test_a_protected_route_without_a_valid_token_is_401(router: Router, headers: dict[str, str]) -> None:
    client, items = serve(router)

    response = client.get("/items/it-1", headers=headers)

    assert response.status_code == 401
    assert response.json["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert items.events == []


@pytest.mark.parametrize(("method", "path"), [("GET", "/nothing"), ("DELETE", "/items/it-1")])
def test_an_unknown_route_is_404(router: Router, method: str, path: str) -> None:
    client, _ = serve(router)

    response = client.open(path, method=method, headers=auth("viewer"))

    assert response.status_code == 404
    assert response.json == {"code": "not_found", "message": f"No route for {method} {path}"}


def test_a_body_over_api_gateways_limit_is_413(router: Router) -> None:
    client, items = serve(router)

    response = client.put("/items/it-1", data=b"x" * (MAX_PAYLOAD_BYTES + 1), headers=auth("operator"))

    assert response.status_code == 413
    assert response.json["code"] == "payload_too_large"
    assert items.events == []


def test_the_result_maps_to_status_headers_cookies_and_a_base64_body(router: Router) -> None:
    result = {
        "statusCode": 201,
        "headers": {"Content-Type": "application/octet-stream", "X-Request": "r1"},
        "cookies": ["s=1; HttpOnly", "t=2"],
        "body": base64.b64encode(b"\x00\x01").decode(),
        "isBase64Encoded": True,
    }
    client, _ = serve(router, result)

    response = client.get("/items/it-1", headers=auth("viewer"))

    assert response.status_code == 201
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["X-Request"] == "r1"
    assert response.headers.getlist("Set-Cookie") == ["s=1; HttpOnly", "t=2"]
    assert response.data == b"\x00\x01"


def test_a_result_without_a_status_code_is_a_200_json_body(router: Router) -> None:
    client, _ = serve(router, {"id": "it-1"})

    response = client.get("/items/it-1", headers=auth("viewer"))

    assert (response.status_code, response.content_type) == (200, "application/json")
    assert json.loads(response.data) == {"id": "it-1"}


def test_a_function_that_raises_is_a_500_in_the_error_shape(router: Router) -> None:
    client, _ = serve(router, RuntimeError("boom"))

    response = client.get("/items/it-1", headers=auth("viewer"))

    assert response.status_code == 500
    assert response.json["code"] == "internal_error"
