"""HTTP details over real HTTP: HEAD for every GET route, CORS from the
template's CorsAllowedOrigins as API Gateway applies it, and `GET /` leading
to the console."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from local_runtime.template import TEMPLATE, load_template
from tests.e2e.runtime_process import RunningRuntime, RuntimeLauncher, bearer

pytestmark = pytest.mark.e2e

VIEWER = bearer("pilot-ana", "viewer")
ALLOWED = "https://console.example"
OTHER = "https://evil.example"


def raw_exchange(runtime: RunningRuntime, request: str) -> tuple[bytes, bytes]:
    """The response's head and everything after it, read to the end of the
    connection (the server closes it after one response): what was sent."""
    host, port = runtime.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request.encode())
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    return head, rest


def test_head_answers_as_get_without_a_body(runtime: RunningRuntime) -> None:
    get = requests.get(f"{runtime.url}/health", timeout=10)
    head, rest = raw_exchange(runtime, f"HEAD /health HTTP/1.1\r\nHost: {runtime.url[7:]}\r\n\r\n")

    assert head.startswith(b"HTTP/1.1 200"), head
    assert rest == b""  # no body on the wire
    headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
    assert headers["Content-Type"] == get.headers["Content-Type"]
    assert headers["Content-Length"] == str(len(get.content))


def test_head_of_a_protected_route_passes_the_authorizer(runtime: RunningRuntime) -> None:
    assert requests.head(f"{runtime.url}/interventions", timeout=10).status_code == 401
    answered = requests.head(f"{runtime.url}/interventions", headers=VIEWER, timeout=10)
    assert (answered.status_code, answered.content) == (200, b"")
    assert requests.head(f"{runtime.url}/interventions/{'x' * 8}/claim", headers=VIEWER, timeout=10).status_code == 404


def test_without_cors_origins_there_is_no_cors_and_the_root_leads_to_the_console(runtime: RunningRuntime) -> None:
    preflight = requests.options(
        f"{runtime.url}/interventions", timeout=10, headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"}
    )
    simple = requests.get(f"{runtime.url}/health", headers={"Origin": ALLOWED}, timeout=10)

    assert preflight.status_code == 404
    assert "Access-Control-Allow-Origin" not in simple.headers
    root = requests.get(f"{runtime.url}/", allow_redirects=False, timeout=10)
    assert (root.status_code, root.headers["Location"]) == (302, "/console/")


def template_with_cors(folder: Path) -> Path:
    """template.yaml with CorsAllowedOrigins defaulting to ALLOWED (CodeUri
    made absolute, as the copy lives elsewhere)."""
    doc: dict[str, Any] = load_template(TEMPLATE)
    doc["Parameters"]["CorsAllowedOrigins"]["Default"] = f"https://other.example,{ALLOWED}"
    for resource in doc["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = str((TEMPLATE.parent / resource["Properties"]["CodeUri"]).resolve())
    path = folder / "template.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def cors_runtime(tmp_path_factory: pytest.TempPathFactory) -> Any:
    launcher = RuntimeLauncher(tmp_path_factory.mktemp("logs"))
    template = template_with_cors(tmp_path_factory.mktemp("template"))
    yield launcher.start(tmp_path_factory.mktemp("state"), template=template)
    launcher.stop_all()


def test_a_preflight_is_answered_for_an_allowed_origin_only(cors_runtime: RunningRuntime) -> None:
    request = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}

    allowed = requests.options(f"{cors_runtime.url}/interventions", headers={**request, "Origin": ALLOWED}, timeout=10)
    other = requests.options(f"{cors_runtime.url}/interventions", headers={**request, "Origin": OTHER}, timeout=10)

    assert (allowed.status_code, allowed.content) == (204, b"")
    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"].split(",")
    assert {"authorization", "content-type"} <= set(allowed.headers["Access-Control-Allow-Headers"].split(","))
    assert other.status_code == 204
    assert not [name for name in other.headers if name.lower().startswith("access-control-")]


def test_a_response_names_an_allowed_origin_only(cors_runtime: RunningRuntime) -> None:
    allowed = requests.get(f"{cors_runtime.url}/interventions", headers={**VIEWER, "Origin": ALLOWED}, timeout=10)
    other = requests.get(f"{cors_runtime.url}/interventions", headers={**VIEWER, "Origin": OTHER}, timeout=10)
    unauthorized = requests.get(f"{cors_runtime.url}/interventions", headers={"Origin": ALLOWED}, timeout=10)

    assert allowed.status_code == 200, allowed.text
    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "retry-after" in allowed.headers["Access-Control-Expose-Headers"].split(",")
    assert other.status_code == 200 and "Access-Control-Allow-Origin" not in other.headers
    assert (unauthorized.status_code, unauthorized.headers["Access-Control-Allow-Origin"]) == (401, ALLOWED)


def test_the_root_leads_to_the_console(cors_runtime: RunningRuntime) -> None:
    response = requests.get(f"{cors_runtime.url}/", allow_redirects=False, timeout=10)

    assert (response.status_code, response.headers["Location"]) == (302, "/console/")
