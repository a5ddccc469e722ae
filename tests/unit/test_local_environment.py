"""Each function's variables: Lambda's, the emulator's credentials, the
template's for that function, and the overrides of an env.json and of the
shell (the shell winning), for declared names only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local_runtime.environment import (
    SHELL,
    EnvFileInvalid,
    function_environments,
    read_env_file,
    unknown_env_file_scopes,
)
from local_runtime.template import FunctionSpec

SDK = {"AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ACCESS_KEY_ID": "testing"}


def spec(logical_id: str, **variables: str) -> FunctionSpec:
    return FunctionSpec(logical_id, Path(f"/code/{logical_id}"), "app.handler", variables, timeout=3)


SPECS = [
    spec("Api", HTTP_POST_ALLOWED_HOSTS="", POWERTOOLS_SERVICE_NAME="api", TABLE_NAME="t"),
    spec("Worker", HTTP_POST_ALLOWED_HOSTS="", POWERTOOLS_SERVICE_NAME="worker"),
    spec("Health", POWERTOOLS_SERVICE_NAME="health"),
]


def test_each_function_gets_its_own_template_values_and_nothing_else_of_the_shell() -> None:
    shell = {"PATH": "/bin", "SECRET_OF_MY_SHELL": "x", "AWS_PROFILE": "prod"}

    environments, overrides = function_environments(SPECS, shell, SDK)

    assert environments["Api"]["POWERTOOLS_SERVICE_NAME"] == "api"
    assert environments["Worker"]["POWERTOOLS_SERVICE_NAME"] == "worker"
    assert "TABLE_NAME" not in environments["Worker"]  # declared by Api only
    for variables in environments.values():
        assert variables["PATH"] == "/bin" and variables["AWS_ENDPOINT_URL"] == SDK["AWS_ENDPOINT_URL"]
        assert "SECRET_OF_MY_SHELL" not in variables and "AWS_PROFILE" not in variables
    assert environments["Health"]["AWS_LAMBDA_FUNCTION_NAME"] == "Health"
    assert environments["Health"]["POWERTOOLS_METRICS_DISABLED"] == "true"
    assert overrides == []


def test_a_shell_variable_overrides_every_function_that_declares_it() -> None:
    shell = {"HTTP_POST_ALLOWED_HOSTS": "127.0.0.1", "POWERTOOLS_METRICS_DISABLED": "false"}

    environments, overrides = function_environments(SPECS, shell, SDK)

    assert environments["Api"]["HTTP_POST_ALLOWED_HOSTS"] == "127.0.0.1"
    assert environments["Worker"]["HTTP_POST_ALLOWED_HOSTS"] == "127.0.0.1"
    assert "HTTP_POST_ALLOWED_HOSTS" not in environments["Health"]  # not declared: not added
    assert all(variables["POWERTOOLS_METRICS_DISABLED"] == "false" for variables in environments.values())
    by_name = {override.name: override for override in overrides}
    assert by_name["HTTP_POST_ALLOWED_HOSTS"].functions == ["Api", "Worker"]
    assert by_name["HTTP_POST_ALLOWED_HOSTS"].source == SHELL


def test_an_env_file_applies_to_all_or_to_one_function_and_the_shell_wins(tmp_path: Path) -> None:
    path = tmp_path / "env.json"
    path.write_text(
        json.dumps(
            {
                "Parameters": {"POWERTOOLS_SERVICE_NAME": "everyone", "TABLE_NAME": "from-file"},
                "Worker": {"POWERTOOLS_SERVICE_NAME": "just-the-worker", "NOT_DECLARED": "x"},
            }
        )
    )
    shell = {"TABLE_NAME": "from-shell"}

    environments, overrides = function_environments(SPECS, shell, SDK, (path, read_env_file(path)))

    assert environments["Api"]["POWERTOOLS_SERVICE_NAME"] == "everyone"
    assert environments["Health"]["POWERTOOLS_SERVICE_NAME"] == "everyone"
    assert environments["Worker"]["POWERTOOLS_SERVICE_NAME"] == "just-the-worker"
    assert "NOT_DECLARED" not in environments["Worker"]
    assert environments["Api"]["TABLE_NAME"] == "from-shell"
    assert {(override.name, override.value, override.source) for override in overrides} >= {
        ("POWERTOOLS_SERVICE_NAME", "everyone", str(path)),
        ("TABLE_NAME", "from-shell", SHELL),
    }


def test_log_level_in_the_shell_sets_every_function_s_powertools_level() -> None:
    declared = [spec("Api", POWERTOOLS_LOG_LEVEL="INFO")]

    environments, overrides = function_environments(declared, {"LOG_LEVEL": "DEBUG"}, SDK)

    assert environments["Api"]["POWERTOOLS_LOG_LEVEL"] == "DEBUG"
    assert [override.name for override in overrides] == ["POWERTOOLS_LOG_LEVEL"]


@pytest.mark.parametrize(
    "content, message",
    [
        ("not json", "cannot read"),
        ("[1, 2]", "expected an object"),
        ('{"Parameters": "x"}', "must be an object"),
        ('{"Parameters": {"A": {"nested": 1}}}', "must be a string"),
    ],
)
def test_an_env_file_not_in_the_sam_format_is_refused_with_the_reason(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "env.json"
    path.write_text(content)
    with pytest.raises(EnvFileInvalid, match=message):
        read_env_file(path)


def test_numbers_and_booleans_become_strings_and_unknown_scopes_are_named(tmp_path: Path) -> None:
    path = tmp_path / "env.json"
    path.write_text('{"Parameters": {"A": 3, "B": true}, "Typo": {"A": "1"}}')
    scopes = read_env_file(path)
    assert scopes["Parameters"] == {"A": "3", "B": "true"}
    assert unknown_env_file_scopes(scopes, SPECS) == ["Typo"]
