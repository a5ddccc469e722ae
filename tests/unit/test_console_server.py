"""console/server.py, the console's Lambda handler, on a folder of its own
(not the real console's files): only the folder's files by exact path,
fingerprinted assets with an import map allowed by the CSP's hash, caching
and ETags, config.json from the environment, the security headers. Then
how the local runtime routes to it: greedy `{path+}`, `/console/` without
a route of its own, the local sign-in (`POST /_local/token`) and the local
`CONSOLE_SIGN_IN` default."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import jwt
import pytest
from werkzeug.test import Client

from local_runtime.environment import function_environments
from local_runtime.handlers import load_module
from local_runtime.routing import Router, build_http_event
from local_runtime.server import HttpApi
from local_runtime.template import Template
from tests.conftest import TEMPLATE

server = load_module(TEMPLATE.function("ConsoleFunction"))
Console = server.Console

INDEX = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Console</title>
  <link rel="stylesheet" href="assets/site.css">
  <link rel="stylesheet" href="./assets/site.css?v=2#x">
  <script type="module" src="assets/main.js"></script>
</head>
<body><img src="assets/logo.png" alt=""><a href="https://example.com/assets/main.js">not ours</a></body>
</html>
"""
MAIN_JS = 'import { helper } from "./helper.js";\nhelper();\n' + "// padding\n" * 200  # over the gzip threshold
HELPER_JS = "export function helper() { return 1; }\n"
CSS = "body { margin: 0; }\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
LOCAL = {"CONSOLE_SIGN_IN": "local"}
COGNITO = {
    "CONSOLE_SIGN_IN": "cognito",
    "COGNITO_DOMAIN": "https://oversight-1a2b3c4d.auth.eu-west-1.amazoncognito.com",
    "COGNITO_CLIENT_ID": "4tq3example5client",
}
OIDC = {"CONSOLE_SIGN_IN": "oidc", "OIDC_ISSUER": "https://login.example.org/realms/ops", "OIDC_CLIENT_ID": "console"}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "console"
    (root / "assets" / "icons").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / "assets" / "main.js").write_text(MAIN_JS)
    (root / "assets" / "helper.js").write_text(HELPER_JS)
    (root / "assets" / "site.css").write_text(CSS)
    (root / "assets" / "logo.png").write_bytes(PNG)
    (root / "assets" / "icons" / "check.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (root / "server.py").write_text("SECRET = 'the handler itself'\n")
    (root / "notes.md").write_text("not a console file type")
    (root / ".hidden.js").write_text("hidden")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.js").write_text("outside the folder")
    (root / "assets" / "linked.js").symlink_to(outside / "secret.js")
    (root / "linked").symlink_to(outside, target_is_directory=True)
    return root


def load(folder: Path, environ: dict[str, str] | None = None) -> Any:
    return Console.load(folder, LOCAL if environ is None else environ)


def get(console: Any, path: str, method: str = "GET", **headers: str) -> dict[str, Any]:
    """What API Gateway passes: rawPath percent-encoded as sent."""
    event = {
        "rawPath": path,
        "rawQueryString": "",
        "headers": {name.replace("_", "-"): value for name, value in headers.items()},
        "requestContext": {"http": {"method": method, "path": path}},
    }
    return console.respond(event)


def body_bytes(response: dict[str, Any]) -> bytes:
    if response["isBase64Encoded"]:
        return base64.b64decode(response["body"])
    return response["body"].encode()


def page(console: Any) -> str:
    return get(console, "/console/")["body"]


def import_map_text(html: str) -> str:
    (text,) = re.findall(r'<script type="importmap">(.*?)</script>', html, re.S)
    return text


# ---------------------------------------------------------------- fingerprints, import map, CSP
def test_index_references_fingerprinted_assets_and_the_import_map_maps_every_module(folder: Path) -> None:
    console = load(folder)
    html = page(console)

    css = re.findall(r'href="(\./)?assets/(site\.[0-9a-f]{10}\.css)([^"]*)"', html)
    assert [(prefix, rest) for prefix, _, rest in css] == [("", ""), ("./", "?v=2#x")]
    (main,) = re.findall(r'src="assets/(main\.[0-9a-f]{10}\.js)"', html)
    assert re.search(r'src="assets/logo\.[0-9a-f]{10}\.png"', html)
    assert 'href="https://example.com/assets/main.js"' in html  # another site's URL is left alone
    imports = json.loads(import_map_text(html))["imports"]
    assert set(imports) == {"./assets/main.js", "./assets/helper.js"}  # modules only, even one index never names
    assert imports["./assets/main.js"] == f"./assets/{main}"
    # The import map comes before the first script: a module may only load after it.
    assert html.index('type="importmap"') < html.index('type="module"')


def test_the_csp_allows_the_import_map_by_the_hash_of_its_exact_text_and_no_other_inline_script(folder: Path) -> None:
    console = load(folder)
    response = get(console, "/console/")

    digest = base64.b64encode(hashlib.sha256(import_map_text(response["body"]).encode()).digest()).decode()
    policy = dict(part.strip().split(" ", 1) for part in response["headers"]["Content-Security-Policy"].split(";"))
    assert policy["script-src"] == f"'self' 'sha256-{digest}'"
    assert "unsafe-inline" not in response["headers"]["Content-Security-Policy"]
    assert policy["style-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
    assert policy["default-src"] == "'self'" and policy["base-uri"] == "'none'" and policy["img-src"] == "'self' data:"
    assert len(re.findall(r"<script\b(?![^>]*\bsrc=)", response["body"])) == 1  # the import map alone


def test_every_fingerprinted_url_resolves_to_its_file_and_is_immutable(folder: Path) -> None:
    console = load(folder)
    html = page(console)
    urls = re.findall(r'(?:src|href)="(?:\./)?(assets/[^"?#]+)', html)
    urls += [url.removeprefix("./") for url in json.loads(import_map_text(html))["imports"].values()]

    for url in set(urls):
        plain = re.sub(r"\.[0-9a-f]{10}(\.\w+)$", r"\1", url)
        hashed, original = get(console, f"/console/{url}"), get(console, f"/console/{plain}")
        assert (hashed["statusCode"], original["statusCode"]) == (200, 200), url
        assert body_bytes(hashed) == body_bytes(original) == (folder / plain).read_bytes()
        assert url.split(".")[-2] == hashlib.sha256((folder / plain).read_bytes()).hexdigest()[:10]
        assert hashed["headers"]["Cache-Control"] == "public, max-age=31536000, immutable"
        assert original["headers"]["Cache-Control"] == "no-cache"


def test_a_changed_asset_gets_a_new_url(folder: Path) -> None:
    before = load(folder)
    (folder / "assets" / "helper.js").write_text(HELPER_JS + "// changed\n")
    after = load(folder)

    old, new = (json.loads(import_map_text(page(c)))["imports"]["./assets/helper.js"] for c in (before, after))
    assert old != new
    assert get(after, f"/console/{old.removeprefix('./')}")["statusCode"] == 404


@pytest.mark.parametrize(
    ("path", "content_type", "binary"),
    [
        ("/console/assets/main.js", "text/javascript; charset=utf-8", False),
        ("/console/assets/site.css", "text/css; charset=utf-8", False),
        ("/console/assets/logo.png", "image/png", True),
        ("/console/assets/icons/check.svg", "image/svg+xml", False),
        ("/console/", "text/html; charset=utf-8", False),
        ("/console/index.html", "text/html; charset=utf-8", False),
        ("/console/config.json", "application/json", False),
    ],
)
def test_content_types_and_binary_bodies_in_base64(folder: Path, path: str, content_type: str, binary: bool) -> None:
    response = get(load(folder), path)

    assert (response["statusCode"], response["headers"]["Content-Type"]) == (200, content_type)
    assert response["isBase64Encoded"] is binary
    if path.endswith(".png"):
        assert body_bytes(response) == PNG


# ---------------------------------------------------------------- only the folder's files
@pytest.mark.parametrize(
    "path",
    [
        "/console/server.py",
        "/console/../console/server.py",
        "/console/assets/../server.py",
        "/console/%2e%2e/console/server.py",
        "/console/%2E%2E%2Fconsole%2Fserver.py",
        "/console/assets/%2e%2e/%2e%2e/outside/secret.js",
        "/console/./index.html",
        "/console//etc/passwd",
        "/console/%2Fetc%2Fpasswd",
        "/console/assets%5cmain.js",
        "/console/assets/main.js%00.png",
        "/console/assets/main.js/",
        "/console/notes.md",
        "/console/.hidden.js",
        "/console/assets/linked.js",
        "/console/linked/secret.js",
        "/console/inbox",
        "/console/requests/123",
        "/elsewhere/index.html",
    ],
)
def test_nothing_but_the_folders_files_is_served(folder: Path, path: str) -> None:
    response = get(load(folder), path)

    assert response["statusCode"] == 404
    assert json.loads(response["body"]) == {"code": "not_found", "message": "No console file at that path"}
    assert response["headers"]["Cache-Control"] == "no-store"
    assert response["headers"]["X-Content-Type-Options"] == "nosniff"


def test_the_console_root_and_the_site_root_redirect_to_the_console(folder: Path) -> None:
    console = load(folder)

    moved = console.respond({"rawPath": "/console", "rawQueryString": "code=abc&state=xyz", "headers": {}})
    found = get(console, "/")

    assert (moved["statusCode"], moved["headers"]["Location"]) == (301, "/console/?code=abc&state=xyz")
    assert (found["statusCode"], found["headers"]["Location"]) == (302, "/console/")


def test_only_get_and_head_are_answered(folder: Path) -> None:
    response = get(load(folder), "/console/", method="POST")

    assert (response["statusCode"], response["headers"]["Allow"]) == (405, "GET, HEAD")


# ---------------------------------------------------------------- caching
def test_index_and_config_are_never_stored(folder: Path) -> None:
    console = load(folder)

    for path in ("/console/", "/console/index.html", "/console/config.json"):
        assert get(console, path)["headers"]["Cache-Control"] == "no-store", path


@pytest.mark.parametrize("form", ["{tag}", "W/{tag}", '"other", {tag}', "*"])
def test_if_none_match_with_the_etag_is_a_304_without_a_body(folder: Path, form: str) -> None:
    console = load(folder)
    first = get(console, "/console/assets/site.css")
    tag = first["headers"]["ETag"]

    again = get(console, "/console/assets/site.css", if_none_match=form.format(tag=tag))

    assert (again["statusCode"], again["body"]) == (304, "")
    assert again["headers"]["ETag"] == tag and again["headers"]["Cache-Control"] == "no-cache"
    assert "Content-Security-Policy" in again["headers"]


def test_another_etag_gets_the_file(folder: Path) -> None:
    console = load(folder)
    response = get(console, "/console/assets/site.css", if_none_match='"0123456789abcdef0123"')

    assert (response["statusCode"], response["body"]) == (200, CSS)
    assert re.fullmatch(r'"[0-9a-f]{20}"', response["headers"]["ETag"])


def test_gzip_when_accepted_with_its_own_etag(folder: Path) -> None:
    console = load(folder)

    packed = get(console, "/console/assets/main.js", accept_encoding="br, gzip")
    plain = get(console, "/console/assets/main.js", accept_encoding="gzip;q=0, identity")
    small = get(console, "/console/assets/helper.js", accept_encoding="gzip")

    assert packed["headers"]["Content-Encoding"] == "gzip" and packed["isBase64Encoded"] is True
    assert gzip.decompress(body_bytes(packed)).decode() == MAIN_JS == plain["body"]
    assert len(body_bytes(packed)) < len(MAIN_JS) / 4
    assert packed["headers"]["Vary"] == plain["headers"]["Vary"] == "Accept-Encoding"
    assert "Content-Encoding" not in plain["headers"] and packed["headers"]["ETag"] != plain["headers"]["ETag"]
    assert "Content-Encoding" not in small["headers"]  # too small to be worth it
    tag = packed["headers"]["ETag"]
    assert get(console, "/console/assets/main.js", accept_encoding="gzip", if_none_match=tag)["statusCode"] == 304
    assert get(console, "/console/assets/main.js", if_none_match=tag)["statusCode"] == 200


def test_head_has_the_headers_of_get_and_no_body(folder: Path) -> None:
    console = load(folder)
    full = get(console, "/console/assets/site.css")
    head = get(console, "/console/assets/site.css", method="HEAD")

    assert (head["statusCode"], head["body"]) == (200, "")
    assert head["headers"]["Content-Length"] == str(len(body_bytes(full)))
    assert {k: v for k, v in head["headers"].items() if k != "Content-Length"} == full["headers"]


# ---------------------------------------------------------------- security headers, config.json
@pytest.mark.parametrize(
    ("path", "method", "status"),
    [
        ("/console/", "GET", 200),
        ("/console/assets/logo.png", "GET", 200),
        ("/console/nope", "GET", 404),
        ("/console", "GET", 301),
        ("/", "GET", 302),
        ("/console/", "DELETE", 405),
    ],
)
def test_every_response_carries_the_security_headers(folder: Path, path: str, method: str, status: int) -> None:
    response = get(load(folder), path, method=method)

    assert response["statusCode"] == status
    headers = response["headers"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("environ", "expected", "idp"),
    [
        (LOCAL, {"sign_in": "local", "api": ""}, None),
        (
            COGNITO,
            {
                "sign_in": "cognito",
                "api": "",
                "cognito": {
                    "domain": COGNITO["COGNITO_DOMAIN"],
                    "client_id": COGNITO["COGNITO_CLIENT_ID"],
                    "scopes": ["openid", "email", "profile"],
                },
            },
            COGNITO["COGNITO_DOMAIN"],
        ),
        (
            {**OIDC, "OIDC_ISSUER": OIDC["OIDC_ISSUER"] + "/"},
            {
                "sign_in": "oidc",
                "api": "",
                "oidc": {
                    "issuer": OIDC["OIDC_ISSUER"],
                    "client_id": "console",
                    "scopes": ["openid", "email", "profile"],
                },
            },
            "https://login.example.org",
        ),
    ],
)
def test_config_json_by_sign_in_mode_and_the_provider_in_the_csp(
    folder: Path, environ: dict[str, str], expected: dict[str, Any], idp: str | None
) -> None:
    response = get(load(folder, environ), "/console/config.json")

    assert json.loads(response["body"]) == expected
    policy = dict(part.strip().split(" ", 1) for part in response["headers"]["Content-Security-Policy"].split(";"))
    allowed = "'self'" + (f" {idp}" if idp else "")
    assert (policy["connect-src"], policy["form-action"]) == (allowed, allowed)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({}, "CONSOLE_SIGN_IN"),
        ({"CONSOLE_SIGN_IN": "{'Fn::If': ['UseCognito', 'cognito', 'oidc']}"}, "CONSOLE_SIGN_IN"),
        ({**COGNITO, "COGNITO_CLIENT_ID": ""}, "COGNITO_CLIENT_ID"),
        ({**COGNITO, "COGNITO_DOMAIN": "http://oversight.auth.eu-west-1.amazoncognito.com"}, "COGNITO_DOMAIN"),
        ({**OIDC, "OIDC_CLIENT_ID": ""}, "OIDC_CLIENT_ID"),
        ({**OIDC, "OIDC_ISSUER": "login.example.org"}, "OIDC_ISSUER"),
    ],
)
def test_a_sign_in_it_cannot_configure_is_a_500_naming_the_variable(
    folder: Path, environ: dict[str, str], named: str
) -> None:
    """The files are still served; the page shows the config's error."""
    console = load(folder, environ)
    response = get(console, "/console/config.json")

    assert response["statusCode"] == 500
    body = json.loads(response["body"])
    assert body["code"] == "internal_error" and named in body["message"]
    assert get(console, "/console/")["statusCode"] == 200


def test_the_module_is_loaded_once_and_answers_through_its_handler() -> None:
    """The handler Lambda calls answers from what the cold start computed."""
    response = server.handler({"rawPath": "/", "headers": {}}, None)

    assert (response["statusCode"], response["headers"]["Location"]) == (302, "/console/")
    assert server.handler({"rawPath": "/console/server.py", "headers": {}}, None)["statusCode"] == 404


# ---------------------------------------------------------------- the local runtime's routing
ROUTES_TEMPLATE = """
Resources:
  ConsoleFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: console/
      Handler: server.handler
      Environment: {Variables: {CONSOLE_SIGN_IN: cognito}}
      Events:
        Root: {Type: HttpApi, Properties: {Method: GET, Path: /, Auth: {Authorizer: NONE}}}
        Console: {Type: HttpApi, Properties: {Method: GET, Path: /console, Auth: {Authorizer: NONE}}}
        Files: {Type: HttpApi, Properties: {Method: GET, Path: "/console/{path+}", Auth: {Authorizer: NONE}}}
  OtherFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: other/
      Handler: app.handler
      Events:
        Literal: {Type: HttpApi, Properties: {Method: GET, Path: /console/status.json, Auth: {Authorizer: NONE}}}
        Two: {Type: HttpApi, Properties: {Method: GET, Path: "/console/{name}/{part}", Auth: {Authorizer: NONE}}}
"""


@pytest.fixture
def router(tmp_path: Path) -> Router:
    (tmp_path / "template.yaml").write_text(ROUTES_TEMPLATE)
    return Router(Template(tmp_path / "template.yaml"))


@pytest.mark.parametrize(
    ("path", "route", "parameters"),
    [
        ("/console/index.html", "GET /console/{path+}", {"path": "index.html"}),
        ("/console/assets/icons/check.svg", "GET /console/{path+}", {"path": "assets/icons/check.svg"}),
        ("/console/status.json", "GET /console/status.json", {}),  # a literal route wins
        ("/console/x/y", "GET /console/{name}/{part}", {"name": "x", "part": "y"}),  # {params} win over greedy
        ("/console/x/y/z", "GET /console/{path+}", {"path": "x/y/z"}),
        ("/console", "GET /console", {}),
        ("/console/", "GET /console", {}),  # no route ends in `/`: API Gateway matches it without
        ("/", "GET /", {}),
    ],
)
def test_greedy_path_parameters_match_one_or_more_segments_and_lose_to_specific_routes(
    router: Router, path: str, route: str, parameters: dict[str, str]
) -> None:
    match = router.match("GET", path)

    assert match is not None and match.route.route_key == route
    assert match.path_parameters == parameters
    event = build_http_event(match, "GET", path)
    assert event["rawPath"] == path and event.get("pathParameters", {}) == parameters


def test_a_greedy_parameter_needs_a_segment(router: Router) -> None:
    (files,) = [route for route in router.functions[0].routes if route.greedy]
    assert files.pattern.match("/console/") is None and files.pattern.match("/console/a") is not None
    assert router.match("GET", "/consoles/x") is None


def test_the_console_function_signs_in_locally_unless_the_shell_says_otherwise(router: Router) -> None:
    specs = router.functions
    default, _ = function_environments(specs, {}, {})
    shell, overrides = function_environments(specs, {"CONSOLE_SIGN_IN": "cognito"}, {})

    assert default["ConsoleFunction"]["CONSOLE_SIGN_IN"] == "local"  # the template says cognito
    assert "CONSOLE_SIGN_IN" not in default["OtherFunction"]  # only where it is declared
    assert shell["ConsoleFunction"]["CONSOLE_SIGN_IN"] == "cognito"
    assert [(o.name, o.value, o.functions) for o in overrides] == [("CONSOLE_SIGN_IN", "cognito", ["ConsoleFunction"])]


SECRET = "unit-test-secret-long-enough-for-hs256"  # noqa: S105 - a test's own


@pytest.fixture
def local_api(router: Router) -> Client:
    return Client(HttpApi(router, {}, SECRET), use_cookies=False)


@pytest.mark.parametrize("roles", [["operator", "viewer"], "operator,viewer", "operator viewer"])
def test_the_local_sign_in_issues_the_token_make_token_would(local_api: Client, roles: Any) -> None:
    response = local_api.post("/_local/token", json={"user": "pilot-ana", "roles": roles, "tenant": "acme"})

    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    claims = jwt.decode(response.json["token"], SECRET, algorithms=["HS256"])
    assert (claims["sub"], claims["custom:tenant"], claims["token_use"]) == ("pilot-ana", "acme", "id")
    assert claims["cognito:groups"] == ["operator", "viewer"]
    assert claims["exp"] - claims["iat"] == 12 * 3600


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"user": "", "roles": ["operator"], "tenant": "acme"}, ["user"]),
        ({"user": "ana", "roles": [], "tenant": "acme"}, ["roles"]),
        ({"user": "ana", "roles": "", "tenant": "acme"}, ["roles"]),
        ({"user": "ana", "roles": ["Operator"], "tenant": "acme"}, ["roles"]),
        ({"user": "ana", "roles": ["operator", 7], "tenant": "acme"}, ["roles"]),
        ({"user": "ana", "roles": ["operator"], "tenant": "a cme"}, ["tenant"]),
        ({"user": "ana", "roles": ["operator"]}, ["tenant"]),
        ({"user": "a\nna", "roles": ["operator"], "tenant": "acme"}, ["user"]),
        ({"user": "x" * 129, "roles": ["operator"], "tenant": "acme"}, ["user"]),
        ({"user": 1, "roles": "operator", "tenant": ["acme"], "admin": True}, ["admin", "user", "tenant"]),
    ],
)
def test_the_local_sign_in_refuses_a_bad_field_naming_it(local_api: Client, body: Any, fields: list[str]) -> None:
    response = local_api.post("/_local/token", json=body)

    assert response.status_code == 422
    assert response.json["code"] == "validation_error"
    assert [detail["loc"] for detail in response.json["details"]] == [["body", field] for field in fields]
    assert all(detail["msg"] for detail in response.json["details"])
    assert "token" not in response.json


@pytest.mark.parametrize("data", [b"", b"not json", b"[1]", b"[" * 60000])
def test_the_local_sign_in_refuses_a_body_that_is_not_an_object(local_api: Client, data: bytes) -> None:
    response = local_api.post("/_local/token", data=data)

    assert response.status_code == 422
    assert response.json["details"][0]["loc"] == ["body"]


def test_the_local_sign_in_is_a_post_of_a_small_body(local_api: Client) -> None:
    response = local_api.get("/_local/token")
    large = local_api.post("/_local/token", data=b" " * (64 * 1024 + 1))

    assert (response.status_code, response.headers["Allow"]) == (405, "POST")
    assert large.status_code == 413
