"""`make token` as a developer types it: the token alone on stdout, the
defaults when a variable is unset, a refusal naming the variable when one is
set to nonsense, and what the local authorizer makes of the result. Every
form of nonsense is in tests/unit/test_local_tokens.py; here, one of each
kind goes through make."""

from __future__ import annotations

import os
import subprocess
import time

import jwt
import pytest
import requests

from local_runtime.template import ROOT
from tests.e2e.runtime_process import JWT_SECRET, RunningRuntime

pytestmark = pytest.mark.e2e

_TOKEN_VARIABLES = ("SUB", "ROLES", "TENANT", "TTL", "EXPIRED")


def make_token(*assignments: str, **environment: str) -> subprocess.CompletedProcess[str]:
    """`make -s token NAME=value ...` in this checkout, with the e2e runtime's
    secret and none of the token variables inherited from the shell."""
    inherited = {name: value for name, value in os.environ.items() if name not in _TOKEN_VARIABLES}
    return subprocess.run(
        ["make", "-s", "token", *assignments],
        cwd=ROOT,
        env={**inherited, "OVERSIGHT_LOCAL_JWT_SECRET": JWT_SECRET, **environment},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def claims_of(result: subprocess.CompletedProcess[str]) -> dict:
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1, result.stdout  # the token and its newline, nothing else
    return jwt.decode(result.stdout.strip(), JWT_SECRET, algorithms=["HS256"], options={"verify_exp": False})


def test_unset_variables_keep_their_defaults_and_stdout_holds_only_the_token(runtime: RunningRuntime) -> None:
    result = make_token()

    claims = claims_of(result)
    assert (claims["sub"], claims["cognito:groups"], claims["custom:tenant"]) == ("alice", ["admin"], "acme")
    assert claims["exp"] - claims["iat"] == 12 * 3600
    listed = requests.get(
        f"{runtime.url}/interventions", headers={"Authorization": f"Bearer {result.stdout.strip()}"}, timeout=10
    )
    assert listed.status_code == 200, listed.text


def test_the_roles_asked_for_are_the_roles_the_api_sees(runtime: RunningRuntime) -> None:
    viewer = make_token("SUB=vera", "ROLES=viewer", "TENANT=acme").stdout.strip()
    headers = {"Authorization": f"Bearer {viewer}"}

    assert requests.get(f"{runtime.url}/interventions", headers=headers, timeout=10).status_code == 200
    created = requests.post(
        f"{runtime.url}/interventions",
        json={"uow_id": "uow-1", "type": "approval", "title": "Not for a viewer"},
        headers=headers,
        timeout=10,
    )
    assert created.status_code == 403, created.text


@pytest.mark.parametrize(
    ("assignments", "environment", "variable", "says"),
    [
        (["ROLES="], {}, "ROLES", "empty"),
        ([], {"ROLES": ""}, "ROLES", "empty"),
        (["TENANT="], {}, "TENANT", "empty"),
        (["SUB="], {}, "SUB", "empty"),
        (["ROLES=operator,Viewer"], {}, "ROLES", "did you mean 'viewer'?"),
        (["TTL=0"], {}, "TTL", "not a lifetime"),
        (["EXPIRED=maybe"], {}, "EXPIRED", "EXPIRED=1"),
    ],
    ids=[
        "empty ROLES",
        "empty ROLES in the environment",
        "empty TENANT",
        "empty SUB",
        "mistyped role",
        "zero TTL",
        "EXPIRED neither yes nor no",
    ],
)
def test_nonsense_is_refused_naming_the_variable(
    assignments: list[str], environment: dict[str, str], variable: str, says: str
) -> None:
    result = make_token(*assignments, **environment)

    assert result.returncode != 0
    assert result.stdout == ""
    assert f"{variable} (--{variable.lower()})" in result.stderr
    assert says in result.stderr


def test_ttl_sets_the_lifetime_in_seconds() -> None:
    claims = claims_of(make_token("TTL=120"))

    assert claims["exp"] - claims["iat"] == 120


def test_an_expired_token_is_refused_by_the_authorizer_as_expired(runtime: RunningRuntime) -> None:
    result = make_token("EXPIRED=1", "ROLES=operator")

    claims = claims_of(result)
    assert claims["exp"] < time.time()
    answer = requests.get(
        f"{runtime.url}/interventions", headers={"Authorization": f"Bearer {result.stdout.strip()}"}, timeout=10
    )
    assert answer.status_code == 401, answer.text
    assert "expired" in answer.json()["message"]
