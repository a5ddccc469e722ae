"""The delivery settings of the functions in the local runtime:
WEBHOOK_ALLOWED_HOSTS from the shell reaches the functions that declare it
(as any declared variable does), OVERSIGHT_LOCAL_RETRY_SCALE reaches every
function as DELIVERY_RETRY_SCALE, and a malformed scale stops the start."""

from __future__ import annotations

from pathlib import Path

import pytest

from local_runtime.environment import SettingInvalid, function_environments, retry_scale
from local_runtime.runtime import LocalRuntime, RuntimeConfig, StartFailed
from local_runtime.template import Template

TEMPLATE = """
Parameters:
  WebhookAllowedHosts: {Type: String, Default: ""}
Resources:
  DeliverFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: deliver/
      Handler: app.handler
      Environment:
        Variables:
          WEBHOOK_ALLOWED_HOSTS: !Ref WebhookAllowedHosts
  OtherFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: other/
      Handler: app.handler
"""


@pytest.fixture
def template(tmp_path: Path) -> Template:
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    return Template(tmp_path / "template.yaml")


def test_webhook_allowed_hosts_from_the_shell_reach_the_functions_that_declare_it(template: Template) -> None:
    shell = {"WEBHOOK_ALLOWED_HOSTS": "127.0.0.1:9000,hooks.example.com"}

    environments, overrides = function_environments(template.functions(), shell, {})

    assert environments["DeliverFunction"]["WEBHOOK_ALLOWED_HOSTS"] == "127.0.0.1:9000,hooks.example.com"
    assert "WEBHOOK_ALLOWED_HOSTS" not in environments["OtherFunction"]
    (override,) = [entry for entry in overrides if entry.name == "WEBHOOK_ALLOWED_HOSTS"]
    assert override.functions == ["DeliverFunction"]
    # Unset: the template's parameter default (empty: no host).
    assert function_environments(template.functions(), {}, {})[0]["DeliverFunction"]["WEBHOOK_ALLOWED_HOSTS"] == ""


def test_the_retry_scale_reaches_every_function(template: Template) -> None:
    environments, overrides = function_environments(template.functions(), {"OVERSIGHT_LOCAL_RETRY_SCALE": "0.01"}, {})

    assert {name: env["DELIVERY_RETRY_SCALE"] for name, env in environments.items()} == {
        "DeliverFunction": "0.01",
        "OtherFunction": "0.01",
    }
    (override,) = [entry for entry in overrides if entry.name == "DELIVERY_RETRY_SCALE"]
    assert override.source == "shell" and len(override.functions) == 2
    defaults = function_environments(template.functions(), {}, {})[0]
    assert {env["DELIVERY_RETRY_SCALE"] for env in defaults.values()} == {"1"}


@pytest.mark.parametrize("value", ["0", "-1", "fast", "", "nan", "inf", "1e400"])
def test_a_malformed_retry_scale_is_refused(value: str) -> None:
    with pytest.raises(SettingInvalid, match="OVERSIGHT_LOCAL_RETRY_SCALE=.*expected a positive number"):
        retry_scale({"OVERSIGHT_LOCAL_RETRY_SCALE": value})


def test_a_malformed_retry_scale_stops_the_start(
    template: Template, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVERSIGHT_LOCAL_RETRY_SCALE", "soon")
    config = RuntimeConfig(template.path, tmp_path / "state", "127.0.0.1", 0, "secret")
    runtime = LocalRuntime(config)

    with pytest.raises(StartFailed, match="OVERSIGHT_LOCAL_RETRY_SCALE='soon'"):
        runtime.start()
    runtime.stop()
