"""ETag and If-None-Match over real HTTP (the local runtime): a current
tag is 304 with no body, a change gives a new tag; HEAD answers the same."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest
import requests

from tests.e2e.runtime_process import RunningRuntime, bearer

pytestmark = pytest.mark.e2e

REQUESTER = bearer("agent-7", "requester")
OPERATOR = bearer("pilot-ana", "operator")


def raw(runtime: RunningRuntime, method: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """The answer as sent on the wire (requests would hide a body a 304 must not have)."""
    parts = urlsplit(runtime.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request(method, path, headers=headers)
        answer = connection.getresponse()
        body = answer.read()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, body
    finally:
        connection.close()


def test_a_current_etag_is_304_without_a_body_and_a_change_gives_a_new_one(runtime: RunningRuntime) -> None:
    created = requests.post(
        f"{runtime.url}/interventions",
        headers=REQUESTER,
        json={"uow_id": "e2e-etag", "type": "approval", "title": "t"},
        timeout=10,
    ).json()
    path = f"/interventions/{created['id']}"
    status, headers, body = raw(runtime, "GET", path, OPERATOR)
    assert status == 200 and headers["etag"] == '"1"' and body
    for method in ("GET", "HEAD"):
        status, headers, body = raw(runtime, method, path, {**OPERATOR, "If-None-Match": '"1"'})
        assert (status, headers["etag"], body) == (304, '"1"', b"")
    requests.post(f"{runtime.url}{path}/claim", headers=OPERATOR, timeout=10).raise_for_status()
    status, headers, body = raw(runtime, "GET", path, {**OPERATOR, "If-None-Match": '"1"'})
    assert status == 200 and headers["etag"] == '"2"' and b"IN_PROGRESS" in body
