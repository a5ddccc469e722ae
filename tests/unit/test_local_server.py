"""The local HTTP API in front of the functions: routing, the authorizer,
the payload-v2 event and the mapping of a function's result."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from botocore.config import Config
from werkzeug.test import Client

from local_runtime.aws import FAKE_CREDENTIALS, EmulatedAws
from local_runtime.invocation import FunctionError
from local_runtime.routing import CORS_ORIGINS_VARIABLE, Router, cors_policy
from local_runtime.s3_gateway import S3_PATH, S3Gateway
from local_runtime.server import MAX_PAYLOAD_BYTES, ApiServer, HttpApi
from local_runtime.template import TEMPLATE as TEMPLATE_PATH
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
    client, _ = serve(router, FunctionError("Traceback ...\nRuntimeError: boom"))

    response = client.get("/items/it-1", headers=auth("viewer"))

    assert response.status_code == 500
    assert response.json["code"] == "internal_error"


# ---------------------------------------------------------------- HEAD, GET /


def test_a_head_is_answered_by_the_get_route_with_its_headers_and_no_body(router: Router) -> None:
    # Given a GET route whose function answers with a body and a header of its own
    result = {"statusCode": 200, "headers": {"X-Request": "r1"}, "body": '{"id":"it-1"}'}
    client, items = serve(router, result)

    # When it is asked with HEAD
    response = client.head("/items/it-1", headers=auth("viewer"))

    # Then the answer is the GET's status and headers, its length included, without the body
    assert response.status_code == 200
    assert response.headers["X-Request"] == "r1"
    assert response.headers["Content-Length"] == str(len('{"id":"it-1"}'))
    assert response.data == b""
    # ... the function ran its GET route, and the authorizer still applied
    (event,) = items.events
    assert (event["routeKey"], event["requestContext"]["http"]["method"]) == ("GET /items/{id}", "GET")
    assert client.head("/items/it-1").status_code == 401


def test_a_head_without_a_get_route_is_404(tmp_path: Path) -> None:
    # Given a path with a PUT route only
    get_route = '        Get: {Type: HttpApi, Properties: {Method: GET, Path: "/items/{id}"}}\n'
    (tmp_path / "template.yaml").write_text(TEMPLATE.replace(get_route, ""))
    client, items = serve(Router(Template(tmp_path / "template.yaml")))

    response = client.head("/items/it-1", headers=auth("viewer"))

    assert response.status_code == 404
    assert items.events == []


CONSOLE_ROUTE = """
  ConsoleFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: console/
      Handler: app.handler
      Events:
        Assets: {Type: HttpApi, Properties: {Method: GET, Path: "/console/{proxy+}", Auth: {Authorizer: NONE}}}
"""


@pytest.mark.parametrize("with_console", [True, False])
def test_the_root_leads_to_the_console_once_the_template_serves_one(tmp_path: Path, with_console: bool) -> None:
    (tmp_path / "template.yaml").write_text(TEMPLATE + (CONSOLE_ROUTE if with_console else ""))
    client, _ = serve(Router(Template(tmp_path / "template.yaml")))

    response = client.get("/")

    if with_console:
        assert (response.status_code, response.headers["Location"]) == (302, "/console/")
    else:
        assert response.status_code == 404


# ---------------------------------------------------------------- CORS

CORS_TEMPLATE = (
    """
Parameters:
  CorsAllowedOrigins: {Type: String, Default: "%s"}
Conditions:
  HasCorsOrigins: !Not [!Equals [!Ref CorsAllowedOrigins, ""]]
"""
    + TEMPLATE
    + """
  HttpApi:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration: !If
        - HasCorsOrigins
        - AllowOrigins: !Split [",", !Ref CorsAllowedOrigins]
          AllowMethods: [GET, PUT]
          AllowHeaders: [authorization, content-type]
          ExposeHeaders: [retry-after]
          MaxAge: 600
        - !Ref AWS::NoValue
"""
)
ALLOWED = "https://console.example"
PREFLIGHT = {
    "Origin": ALLOWED,
    "Access-Control-Request-Method": "PUT",
    "Access-Control-Request-Headers": "authorization",
}


def cors_router(tmp_path: Path, origins: str, environ: dict[str, str] | None = None) -> Router:
    (tmp_path / "template.yaml").write_text(CORS_TEMPLATE % origins)
    return Router(Template(tmp_path / "template.yaml"), environ or {})


def test_a_preflight_from_an_allowed_origin_is_answered_before_any_route_or_authorizer(tmp_path: Path) -> None:
    client, items = serve(cors_router(tmp_path, f"https://other.example,{ALLOWED}"))

    response = client.options("/items/it-1", headers=PREFLIGHT)

    assert (response.status_code, response.data) == (204, b"")
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert response.headers["Access-Control-Allow-Methods"] == "GET,PUT"
    assert response.headers["Access-Control-Allow-Headers"] == "authorization,content-type"
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert items.events == []


def test_a_preflight_from_another_origin_is_204_without_cors_headers(tmp_path: Path) -> None:
    client, _ = serve(cors_router(tmp_path, ALLOWED))

    response = client.options("/items/it-1", headers={**PREFLIGHT, "Origin": "https://evil.example"})

    assert response.status_code == 204
    assert not [name for name, _ in response.headers.items() if name.lower().startswith("access-control-")]


def test_a_response_carries_cors_headers_for_an_allowed_origin_only(tmp_path: Path) -> None:
    # Given a function that sets a CORS header of its own, which API Gateway ignores
    client, _ = serve(
        cors_router(tmp_path, ALLOWED), {"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "*"}}
    )

    allowed = client.get("/items/it-1", headers={**auth("viewer"), "Origin": ALLOWED})
    other = client.get("/items/it-1", headers={**auth("viewer"), "Origin": "https://evil.example"})
    refused = client.get("/items/it-1", headers={"Origin": ALLOWED})

    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert allowed.headers["Access-Control-Expose-Headers"] == "retry-after"
    assert "Access-Control-Allow-Origin" not in other.headers
    # ... gateway answers (a 401 here) too, so that the page can read them
    assert (refused.status_code, refused.headers["Access-Control-Allow-Origin"]) == (401, ALLOWED)


def test_without_origins_there_is_no_cors(tmp_path: Path) -> None:
    client, _ = serve(cors_router(tmp_path, ""), {"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "*"}})

    preflight = client.options("/items/it-1", headers=PREFLIGHT)
    response = client.get("/items/it-1", headers={**auth("viewer"), "Origin": ALLOWED})

    assert preflight.status_code == 404  # no OPTIONS route, and nothing answers preflights
    assert response.headers["Access-Control-Allow-Origin"] == "*"  # the function's own, passed as is


def test_the_origins_variable_replaces_the_parameter(tmp_path: Path) -> None:
    router = cors_router(tmp_path, "", {CORS_ORIGINS_VARIABLE: ALLOWED})

    assert router.cors is not None and router.cors.allow_origins == (ALLOWED,)


@pytest.mark.parametrize(("origins", "expected"), [("", None), ("https://a.example,https://b.example", 2)])
def test_the_template_configures_cors_from_its_parameter(origins: str, expected: int | None) -> None:
    # The real template.yaml: its HttpApi's CorsConfiguration and condition, evaluated
    policy = cors_policy(Template(TEMPLATE_PATH), {CORS_ORIGINS_VARIABLE: origins})

    if expected is None:
        assert policy is None
    else:
        assert policy is not None
        assert policy.allow_origins == ("https://a.example", "https://b.example")
        assert {"GET", "HEAD", "POST"} <= set(policy.allow_methods)
        assert {"authorization", "content-type", "idempotency-key"} <= set(policy.allow_headers)
        assert policy.allows("https://b.example") and not policy.allows("https://c.example")


# ---------------------------------------------------------------- S3 at the API's address


class RecordingApp:
    """Stands in for moto's WSGI application."""

    def __init__(self) -> None:
        self.environs: list[dict[str, Any]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.environs.append(environ)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"object bytes"]


API = "http://127.0.0.1:3000"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def s3_client(signature_version: str = "s3v4") -> Any:
    """A client of the API's S3 address; "s3v4" as the layer's, "s3" (SigV2)
    as boto3's default for a client without a signature version."""
    return boto3.client(
        "s3",
        endpoint_url=f"{API}{S3_PATH}",
        region_name="us-east-1",
        config=Config(signature_version=signature_version),
        **{name.lower(): value for name, value in FAKE_CREDENTIALS.items()},
    )


def presigned(key: str, expires: int = 3600, signature_version: str = "s3v4") -> str:
    params = {"Bucket": "outputbucket", "Key": key}
    return str(s3_client(signature_version).generate_presigned_url("get_object", Params=params, ExpiresIn=expires))


def s3_api(router: Router) -> tuple[Client, RecordingApp, Clock]:
    moto, clock = RecordingApp(), Clock()
    api = HttpApi(router, {}, SECRET, s3=S3Gateway(moto, FAKE_CREDENTIALS, clock))
    return Client(api, use_cookies=False), moto, clock


def fetch(client: Client, url: str, **kwargs: Any) -> Any:
    parts = urlsplit(url)
    return client.get(parts.path, query_string=parts.query, base_url=f"{parts.scheme}://{parts.netloc}", **kwargs)


def test_a_presigned_url_at_the_api_address_reaches_the_emulator_without_the_prefix(router: Router) -> None:
    client, moto, _ = s3_api(router)
    url = presigned("acme/jobs/j 1/out+put.csv")
    assert url.startswith(f"{API}{S3_PATH}/outputbucket/acme/jobs/j%201/out%2Bput.csv?")

    response = fetch(client, url)

    assert (response.status_code, response.data) == (200, b"object bytes")
    (environ,) = moto.environs
    assert environ["PATH_INFO"] == "/outputbucket/acme/jobs/j 1/out+put.csv"
    assert environ["RAW_URI"] == "/outputbucket/acme/jobs/j%201/out%2Bput.csv"


@pytest.mark.parametrize("signature_version", ["s3v4", "s3"])
def test_another_key_in_a_presigned_url_is_refused(router: Router, signature_version: str) -> None:
    # Given acme's URL (SigV4 as the layer signs, or SigV2), and the same URL with another tenant's key
    client, moto, _ = s3_api(router)
    url = presigned("acme/jobs/j1/out.csv", signature_version=signature_version)
    assert fetch(client, url).status_code == 200

    response = fetch(client, url.replace("/acme/jobs/j1/", "/globex/jobs/j9/"))

    assert response.status_code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in response.data
    assert len(moto.environs) == 1


@pytest.mark.parametrize(
    ("tamper", "status", "code"),
    [
        (lambda url: url.replace("X-Amz-Expires=60", "X-Amz-Expires=86400"), 403, "SignatureDoesNotMatch"),
        (lambda url: url.replace("Credential=testing", "Credential=someone"), 403, "InvalidAccessKeyId"),
        (lambda url: url.replace("X-Amz-Expires=60&", ""), 400, "AuthorizationQueryParametersError"),
        (lambda url: url.split("?")[0], 403, "AccessDenied"),
    ],
)
def test_a_tampered_or_unsigned_request_is_refused_as_s3_refuses_it(
    router: Router, tamper: Any, status: int, code: str
) -> None:
    client, moto, _ = s3_api(router)

    response = fetch(client, tamper(presigned("acme/out.csv", expires=60)))

    assert response.status_code == status
    assert response.content_type == "application/xml"
    assert f"<Code>{code}</Code>".encode() in response.data
    assert moto.environs == []


@pytest.mark.parametrize("signature_version", ["s3v4", "s3"])
def test_a_presigned_url_is_refused_once_expired(router: Router, signature_version: str) -> None:
    client, moto, clock = s3_api(router)
    url = presigned("acme/out.csv", expires=60, signature_version=signature_version)
    assert fetch(client, url).status_code == 200

    clock.now += 61
    response = fetch(client, url)

    assert response.status_code == 403
    assert b"<Message>Request has expired</Message>" in response.data
    assert len(moto.environs) == 1


def test_an_sdk_call_signed_in_its_header_passes_and_an_anonymous_listing_does_not(router: Router) -> None:
    client, moto, _ = s3_api(router)
    signed: dict[str, Any] = {}

    def capture(request: Any, **_: Any) -> Any:
        signed.update(
            url=request.url, headers={k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        )
        raise _Captured

    sdk = s3_client()
    sdk.meta.events.register("before-send", capture)
    with pytest.raises(_Captured):
        sdk.list_objects_v2(Bucket="outputbucket")

    assert fetch(client, signed["url"], headers=signed["headers"]).status_code == 200
    anonymous = fetch(client, f"{API}{S3_PATH}/outputbucket?list-type=2")
    assert (anonymous.status_code, b"<Code>AccessDenied</Code>" in anonymous.data) == (403, True)
    assert len(moto.environs) == 1


class _Captured(Exception):
    pass


def test_the_emulators_own_port_refuses_anonymous_requests(emulated_aws: EmulatedAws) -> None:
    # moto's port, as a presigned URL or curl would reach it: an unsigned listing
    anonymous = requests.get(f"{emulated_aws.endpoint}/", timeout=10)
    # ... while the SDK's signed calls go through
    emulated_aws.client("s3").list_buckets()

    assert anonymous.status_code == 403
    assert b"<Code>AccessDenied</Code>" in anonymous.content


def test_the_stable_s3_address_is_the_api_port_on_an_ip_address() -> None:
    server = ApiServer("127.0.0.1", 0)
    try:
        assert server.s3_endpoint == f"{server.url}{S3_PATH}"
    finally:
        server.stop(0)
    wildcard = ApiServer("0.0.0.0", 0)  # noqa: S104 - what --host 0.0.0.0 binds
    try:
        assert wildcard.s3_endpoint.startswith("http://127.0.0.1:")
    finally:
        wildcard.stop(0)
