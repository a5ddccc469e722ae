"""The console as `make run` serves it, over real HTTP: the page and its
headers, every asset it names, caching and conditional requests, HEAD, the
redirects, paths outside the folder, and the local sign-in that gives the
page its token (`POST /_local/token`). Nothing of the page's own content is
relied on but index.html referencing assets/*.js and assets/*.css."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import re
from typing import Any

import pytest
import requests

from tests.e2e.runtime_process import RunningRuntime, RuntimeLauncher, bearer

pytestmark = pytest.mark.e2e

SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}


def raw_get(runtime: RunningRuntime, path: str) -> http.client.HTTPResponse:
    """A GET of the path exactly as written (requests would normalise `..`)."""
    host, port = runtime.url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def the_page(runtime: RunningRuntime) -> requests.Response:
    response = requests.get(f"{runtime.url}/console/", timeout=10)
    assert response.status_code == 200, response.text
    return response


def import_map(html: str) -> dict[str, str]:
    (text,) = re.findall(r'<script type="importmap">(.*?)</script>', html, re.S)
    return json.loads(text)["imports"]


def test_the_page_comes_with_the_security_headers_and_is_never_stored(runtime: RunningRuntime) -> None:
    response = the_page(runtime)

    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Encoding"] == "gzip"  # requests asks for it
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    policy = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    (text,) = re.findall(r'<script type="importmap">(.*?)</script>', response.text, re.S)
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    assert f"script-src 'self' 'sha256-{digest}';" in policy


def test_every_asset_the_page_loads_answers_and_is_cached_for_a_year(runtime: RunningRuntime) -> None:
    html = the_page(runtime).text
    named = set(re.findall(r'(?:src|href)="(?:\./)?(assets/[^"?#]+)"', html))
    urls = named | {url.removeprefix("./") for url in import_map(html).values()}

    assert {url.rsplit(".", 1)[-1] for url in named} >= {"js", "css"}
    for url in urls:
        assert re.search(r"\.[0-9a-f]{10}\.\w+$", url), url
        response = requests.get(f"{runtime.url}/console/{url}", timeout=10)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        kind = "text/javascript" if url.endswith(".js") else "text/css" if url.endswith(".css") else None
        if kind:
            assert response.headers["Content-Type"] == f"{kind}; charset=utf-8", url


def test_a_plain_asset_url_is_revalidated_with_its_etag(runtime: RunningRuntime) -> None:
    plain = next(iter(import_map(the_page(runtime).text))).removeprefix("./")
    first = requests.get(f"{runtime.url}/console/{plain}", timeout=10)

    again = requests.get(f"{runtime.url}/console/{plain}", headers={"If-None-Match": first.headers["ETag"]}, timeout=10)

    assert (first.status_code, first.headers["Cache-Control"]) == (200, "no-cache")
    assert (again.status_code, again.content) == (304, b"")
    assert again.headers["ETag"] == first.headers["ETag"]


def test_head_answers_the_page_without_a_body(runtime: RunningRuntime) -> None:
    get = the_page(runtime)
    head = requests.head(f"{runtime.url}/console/", timeout=10)

    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["Content-Length"] == get.headers["Content-Length"]
    assert head.headers["Content-Security-Policy"] == get.headers["Content-Security-Policy"]


def test_the_root_and_the_bare_console_path_lead_to_the_console(runtime: RunningRuntime) -> None:
    root = requests.get(f"{runtime.url}/", allow_redirects=False, timeout=10)
    root_head = requests.head(f"{runtime.url}/", allow_redirects=False, timeout=10)
    bare = requests.get(f"{runtime.url}/console", allow_redirects=False, timeout=10)

    assert (root.status_code, root.headers["Location"]) == (302, "/console/")
    assert (root_head.status_code, root_head.headers["Location"]) == (302, "/console/")
    assert (bare.status_code, bare.headers["Location"]) == (301, "/console/")
    assert requests.get(f"{runtime.url}/console", timeout=10).url == f"{runtime.url}/console/"


@pytest.mark.parametrize(
    "path",
    [
        "/console/server.py",
        "/console/../template.yaml",
        "/console/%2e%2e/template.yaml",
        "/console/assets/%2e%2e/server.py",
        "/console//etc/passwd",
        "/console/inbox",
    ],
)
def test_nothing_outside_the_console_folder_is_served(runtime: RunningRuntime, path: str) -> None:
    response = raw_get(runtime, path)

    assert response.status == 404, path
    assert response.getheader("X-Content-Type-Options") == "nosniff"


def test_locally_the_page_signs_in_with_the_runtimes_form(runtime: RunningRuntime) -> None:
    config = requests.get(f"{runtime.url}/console/config.json", timeout=10)

    assert config.json() == {"sign_in": "local", "api": ""}
    assert config.headers["Cache-Control"] == "no-store"


def test_the_local_sign_in_gives_a_token_the_api_accepts(runtime: RunningRuntime) -> None:
    body = {"user": "pilot-ana", "roles": ["operator"], "tenant": "acme"}
    response = requests.post(f"{runtime.url}/_local/token", json=body, timeout=10)

    assert response.status_code == 200, response.text
    token = response.json()["token"]
    listed = requests.get(f"{runtime.url}/interventions", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert listed.status_code == 200, listed.text
    other = requests.get(f"{runtime.url}/interventions", headers=bearer("pilot-ana", "operator"), timeout=10)
    assert listed.json() == other.json()  # the same user as `make token` would make


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"user": "pilot-ana", "roles": ["superuser!"], "tenant": "acme"}, "roles"),
        ({"user": "", "roles": ["operator"], "tenant": "acme"}, "user"),
        ({"user": "pilot-ana", "roles": "operator", "tenant": ""}, "tenant"),
    ],
)
def test_the_local_sign_in_refuses_bad_input_naming_the_field(
    runtime: RunningRuntime, body: dict[str, Any], field: str
) -> None:
    response = requests.post(f"{runtime.url}/_local/token", json=body, timeout=10)

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert [detail["loc"] for detail in response.json()["details"]] == [["body", field]]


def test_the_local_sign_in_is_only_a_post(runtime: RunningRuntime) -> None:
    assert requests.get(f"{runtime.url}/_local/token", timeout=10).status_code == 405
    assert requests.post(f"{runtime.url}/_local/token", data="not json", timeout=10).status_code == 422


def test_the_shell_can_point_the_console_at_a_real_user_pool(launch: RuntimeLauncher, tmp_path: Any) -> None:
    """`CONSOLE_SIGN_IN=cognito COGNITO_DOMAIN=... make run`: the local
    default gives way, as any variable a function declares does."""
    domain = "https://oversight-test.auth.eu-west-1.amazoncognito.com"
    shell = {"CONSOLE_SIGN_IN": "cognito", "COGNITO_DOMAIN": domain, "COGNITO_CLIENT_ID": "abc123"}
    runtime = launch.start(tmp_path / "state", environment=shell)

    config = requests.get(f"{runtime.url}/console/config.json", timeout=10)

    assert config.json()["cognito"]["domain"] == domain
    assert f"connect-src 'self' {domain};" in config.headers["Content-Security-Policy"]
