"""A `{{resolve:secretsmanager:...}}` value in a function's environment
(resolved by CloudFormation at deploy time) gets a local value here, never
the reference text itself: the local runtime and the tests sign cursors with
a key of their own, which an environment variable overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_runtime.template import Template

TEMPLATE = """
Globals:
  Function:
    Environment:
      Variables:
        SIGNING_KEY: !Sub "{{resolve:secretsmanager:${SigningSecret}:SecretString}}"
Resources:
  SigningSecret:
    Type: AWS::SecretsManager::Secret
    Properties:
      GenerateSecretString: {PasswordLength: 64, ExcludePunctuation: true}
  AppFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: app/
      Handler: app.handler
      Environment:
        Variables:
          PLAIN: "{{resolve:secretsmanager:SigningSecret:SecretString}}"
"""


def environment(tmp_path: Path, text: str = TEMPLATE) -> dict[str, str]:
    (tmp_path / "template.yaml").write_text(text)
    return Template(tmp_path / "template.yaml").function("AppFunction").environment


def test_a_secret_reference_becomes_a_local_value_not_the_reference(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("OVERSIGHT_LOCAL_SIGNING_SECRET", raising=False)
    env = environment(tmp_path)
    assert "{{resolve" not in env["SIGNING_KEY"] and env["SIGNING_KEY"]
    assert env["PLAIN"] == env["SIGNING_KEY"], "the same secret, the same value, with or without !Sub"
    assert environment(tmp_path)["SIGNING_KEY"] == env["SIGNING_KEY"], "stable across starts"


def test_an_environment_variable_overrides_the_local_value(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OVERSIGHT_LOCAL_SIGNING_SECRET", "my-own-key")
    assert environment(tmp_path)["SIGNING_KEY"] == "my-own-key"


def test_a_reference_the_runtime_cannot_resolve_is_refused_not_passed_on(tmp_path: Path) -> None:
    text = TEMPLATE.replace("{{resolve:secretsmanager:SigningSecret:SecretString}}", "{{resolve:ssm:/app/key}}")
    with pytest.raises(ValueError, match="cannot resolve"):
        environment(tmp_path, text)


def test_the_project_template_gives_every_function_a_local_cursor_key() -> None:
    keys = {spec.name: spec.environment.get("CURSOR_SIGNING_KEY") for spec in Template().functions()}
    assert all(key and "{{" not in key for key in keys.values()), keys
