"""Each function's environment variables, as Lambda would give them, with
the developer's overrides.

A function sees what Lambda sets (AWS_LAMBDA_FUNCTION_NAME, _HANDLER, ...),
credentials and endpoints that reach the emulator only, the template's
variables for that function (Globals included), and nothing else of the
shell it was started from but PATH, HOME, the locale and the temporary
folder. Overrides, as `sam local --env-vars` applies them, replace the
value of a variable the function declares; a name it does not declare is
not added. Two sources, the later winning:

1. an env.json in the `sam local` format (`--env-vars FILE`):
   `{"Parameters": {NAME: value}}` for every function, `{"<LogicalId>":
   {NAME: value}}` for one (winning over Parameters);
2. the shell that started the runtime: `HTTP_POST_ALLOWED_HOSTS=... make
   run` (or `WEBHOOK_ALLOWED_HOSTS=...`) sets it for every function that
   declares it.

One local setting reaches every function under another name:
`OVERSIGHT_LOCAL_RETRY_SCALE` (a positive number, default 1) is each
function's `DELIVERY_RETRY_SCALE`, the factor of every retry delay (a
webhook retried in 0.3 s rather than 30 s with 0.01).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_runtime.template import FunctionSpec

# Local settings a function does not declare, each overridable from the
# shell: no X-Ray daemon here; no CloudWatch to read metric (EMF) lines.
LOCAL_DEFAULTS = {
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "true",
}
# Local values of variables a function declares, in place of the
# template's for the functions that declare them; the env file and the shell
# still override them. The console signs in with the runtime's own form
# (`POST /_local/token`): there is no user pool here.
LOCAL_VALUES = {
    "CONSOLE_SIGN_IN": "local",
}
# Taken from the shell as they are: what any process needs to run.
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "SYSTEMROOT")
# `LOG_LEVEL=DEBUG make run` sets this for every function (and shows their logs).
LOG_LEVEL_VARIABLE = "POWERTOOLS_LOG_LEVEL"
SHELL = "shell"
ENV_FILE = "env.json"
RETRY_SCALE_SETTING = "OVERSIGHT_LOCAL_RETRY_SCALE"
RETRY_SCALE_VARIABLE = "DELIVERY_RETRY_SCALE"


class SettingInvalid(ValueError):
    """A local setting whose value cannot be used (the message says which and why)."""


def retry_scale(shell: Mapping[str, str]) -> float:
    """OVERSIGHT_LOCAL_RETRY_SCALE: a positive, finite number; 1 when unset."""
    text = shell.get(RETRY_SCALE_SETTING)
    if text is None:
        return 1.0
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (0 < value < float("inf")):
        raise SettingInvalid(
            f"{RETRY_SCALE_SETTING}={text!r}: expected a positive number, the factor of every retry delay "
            "(e.g. 0.01: a 30 s delay becomes 0.3 s)"
        )
    return value


class EnvFileInvalid(ValueError):
    """An env.json that is not in the `sam local --env-vars` format."""


@dataclass
class Override:
    """A variable whose value does not come from the template."""

    name: str
    value: str
    source: str  # SHELL, or the env file's path
    functions: list[str] = field(default_factory=list)


def read_env_file(path: Path) -> dict[str, dict[str, str]]:
    """`{"Parameters" | "<LogicalId>": {NAME: value}}`; values that are
    numbers or booleans become strings, as `sam local` makes them."""
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise EnvFileInvalid(f"cannot read {path}: {error}") from error
    if not isinstance(document, dict):
        raise EnvFileInvalid(f'{path}: expected an object like {{"Parameters": {{"NAME": "value"}}}}')
    parsed: dict[str, dict[str, str]] = {}
    for scope, variables in document.items():
        if not isinstance(variables, dict):
            raise EnvFileInvalid(f"{path}: {scope!r} must be an object of variables")
        parsed[scope] = {}
        for name, value in variables.items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, int | float):
                value = str(value)
            if not isinstance(value, str):
                raise EnvFileInvalid(f"{path}: {scope}.{name} must be a string, number or boolean")
            parsed[scope][name] = value
    return parsed


def lambda_variables(spec: FunctionSpec, memory_mb: int) -> dict[str, str]:
    """What Lambda sets in every environment of the function."""
    return {
        "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.logical_id}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "LAMBDA_TASK_ROOT": str(spec.code_uri),
        "_HANDLER": spec.handler,
        "TZ": ":UTC",
        "PYTHONUNBUFFERED": "1",  # log lines arrive as they are written
    }


def function_environments(
    specs: list[FunctionSpec],
    shell: Mapping[str, str],
    sdk: Mapping[str, str],
    env_file: tuple[Path, dict[str, dict[str, str]]] | None = None,
    memory_mb: int = 512,
) -> tuple[dict[str, dict[str, str]], list[Override]]:
    """Each function's variables by logical id, and the overrides in force.
    Raises SettingInvalid for a malformed OVERSIGHT_LOCAL_RETRY_SCALE."""
    scale = retry_scale(shell)
    overrides: dict[tuple[str, str, str], Override] = {}

    def override(name: str, value: str, source: str, function: str) -> str:
        entry = overrides.setdefault((name, value, source), Override(name, value, source))
        entry.functions.append(function)
        return value

    if "LOG_LEVEL" in shell:
        shell = {**shell, LOG_LEVEL_VARIABLE: shell.get(LOG_LEVEL_VARIABLE, shell["LOG_LEVEL"])}
    environments = {}
    for spec in specs:
        variables = {name: shell[name] for name in PASSED_THROUGH if name in shell}
        variables.update(lambda_variables(spec, memory_mb))
        variables.update(sdk)
        for name, value in LOCAL_DEFAULTS.items():
            variables[name] = override(name, shell[name], SHELL, spec.logical_id) if name in shell else value
        for name, value in spec.environment.items():
            value = LOCAL_VALUES.get(name, value)
            if env_file is not None:
                path, scopes = env_file
                scoped = scopes.get(spec.logical_id, {})
                found = scoped.get(name, scopes.get("Parameters", {}).get(name))
                if found is not None and found != value:
                    value = override(name, found, str(path), spec.logical_id)
            if name in shell and shell[name] != value:
                value = override(name, shell[name], SHELL, spec.logical_id)
            variables[name] = value
        if RETRY_SCALE_SETTING in shell:
            variables[RETRY_SCALE_VARIABLE] = override(RETRY_SCALE_VARIABLE, repr(scale), SHELL, spec.logical_id)
        else:
            variables.setdefault(RETRY_SCALE_VARIABLE, "1")
        environments[spec.logical_id] = variables
    return environments, list(overrides.values())


def unknown_env_file_scopes(scopes: Mapping[str, Any], specs: list[FunctionSpec]) -> list[str]:
    """Scopes of an env.json that name no function (a typo would otherwise
    apply nothing, silently)."""
    known = {spec.logical_id for spec in specs} | {"Parameters"}
    return sorted(set(scopes) - known)
