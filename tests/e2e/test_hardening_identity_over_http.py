"""Over real HTTP through the local runtime: replays of keyed writes are
marked `Idempotent-Replayed: true` (first answers are not), and the local
authorizer refuses time claims that are not numbers, as API Gateway does."""

from __future__ import annotations

import jwt
import pytest
import requests

from tests.e2e.runtime_process import JWT_SECRET, RunningRuntime, bearer

pytestmark = pytest.mark.e2e

REQUESTER = bearer("agent-7", "requester")


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/interventions", {"uow_id": "e2e-replay", "type": "approval", "title": "Replayed"}, 201),
        ("/jobs", {"tool": "export_interventions", "parameters": {"format": "csv"}, "use_cache": False}, 202),
    ],
)
def test_a_replay_over_http_carries_idempotent_replayed(runtime: RunningRuntime, path, body, status) -> None:
    headers = {**REQUESTER, "Idempotency-Key": f"e2e{path.replace('/', '-')}"}
    first = requests.post(f"{runtime.url}{path}", headers=headers, json=body, timeout=10)
    again = requests.post(f"{runtime.url}{path}", headers=headers, json=body, timeout=10)
    assert (first.status_code, again.status_code) == (status, status), (first.text, again.text)
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]


def test_a_token_whose_exp_is_a_string_is_401(runtime: RunningRuntime) -> None:
    token = jwt.encode(
        {"sub": "agent-7", "custom:tenant": "acme", "cognito:groups": ["viewer"], "exp": "9999999999"},
        JWT_SECRET,
        algorithm="HS256",
    )
    reply = requests.get(f"{runtime.url}/interventions", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert reply.status_code == 401
    assert reply.json()["code"] == "unauthorized" and "exp claim must be a number" in reply.json()["message"]
