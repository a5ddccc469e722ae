"""A function whose environment lacks a setting it needs, or holds a
malformed one, fails its cold start with the variable (and the function)
named, as Lambda reports an init error; with the template's environment it
starts. Each start is a real execution environment of the local runtime: a
process of its own with exactly the given variables."""

from __future__ import annotations

import os

import pytest

from local_runtime.invocation import Environment, FunctionError
from tests.conftest import TEMPLATE


def start(function: str, **changes: str | None) -> None:
    """Start `function` with its template environment changed by `changes`
    (None removes a variable); stop it at once."""
    spec = TEMPLATE.function(function)
    variables = {"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "us-east-1", **spec.environment}
    for name, value in changes.items():
        if value is None:
            variables.pop(name, None)
        else:
            variables[name] = value
    Environment(spec, variables, lambda function, line: None).close()


@pytest.mark.parametrize("function", ["submit_job", "read_jobs", "run_job", "sweep"])
def test_the_template_environment_starts_the_function(function):
    start(function)


@pytest.mark.parametrize(
    ("function", "variable"),
    [
        ("submit_job", "JOB_QUEUE_URL"),
        ("decide_intervention", "JOB_QUEUE_URL"),
        ("create_intervention", "IDEMPOTENCY_TABLE_NAME"),
        ("read_jobs", "OUTPUT_BUCKET"),
        ("read_interventions", "CURSOR_SIGNING_KEY"),
        ("read_stats", "TABLE_NAME"),
        ("sweep", "TABLE_NAME"),
    ],
)
def test_a_missing_variable_fails_the_cold_start_naming_it(function, variable):
    with pytest.raises(FunctionError) as failed:
        start(function, **{variable: None})
    assert f"OversightConfigError: {variable} is required by {function}" in str(failed.value)


def test_an_empty_variable_is_a_missing_one():
    with pytest.raises(FunctionError, match="OversightConfigError: JOB_QUEUE_URL is required by submit_job"):
        start("submit_job", JOB_QUEUE_URL="")


@pytest.mark.parametrize(
    ("function", "variable", "value", "message"),
    [
        ("read_stats", "RETENTION_DAYS", "ninety", "RETENTION_DAYS: Input should be a valid integer"),
        ("run_job", "JOB_MAX_RECEIVES", "0", "JOB_MAX_RECEIVES: Input should be greater than or equal to 1"),
        ("run_job", "JOB_CACHE_TTL_SECONDS", "1h", "JOB_CACHE_TTL_SECONDS: Input should be a valid integer"),
    ],
)
def test_a_malformed_variable_fails_the_cold_start_naming_it(function, variable, value, message):
    with pytest.raises(FunctionError) as failed:
        start(function, **{variable: value})
    assert f"OversightConfigError: {message}" in str(failed.value)
    assert repr(value) in str(failed.value)


def test_every_problem_is_named_at_once():
    with pytest.raises(FunctionError) as failed:
        start("submit_job", TABLE_NAME=None, RETENTION_DAYS="-1", JOB_QUEUE_URL=None)
    message = str(failed.value)
    for part in (
        "TABLE_NAME is required by submit_job",
        "RETENTION_DAYS: Input should be",
        "JOB_QUEUE_URL is required",
    ):
        assert part in message


def test_the_health_function_needs_no_setting():
    start("health", TABLE_NAME=None, JOB_QUEUE_URL=None, CURSOR_SIGNING_KEY=None)
