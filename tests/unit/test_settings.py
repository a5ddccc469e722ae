"""oversight.config: sections parsed from the environment with each problem
named by its variable, defaults where the service has one, and the layer's
`settings()` view of every field."""

from __future__ import annotations

import pytest
from pydantic import Field

from oversight import config
from oversight.config import (
    CursorSettings,
    JobQueueSettings,
    JobRunSettings,
    OversightConfigError,
    TableSettings,
    parse,
    require_settings,
    settings,
)


@pytest.fixture
def fresh_settings():
    settings.cache_clear()
    yield
    settings.cache_clear()


def test_a_section_reads_its_variables_and_keeps_its_defaults():
    table = parse(TableSettings, "read_stats", {"TABLE_NAME": "Oversight", "OTHER": "ignored"})
    assert (table.table_name, table.retention_days) == ("Oversight", 90)
    run = parse(JobRunSettings, "run_job", {"JOB_MAX_RECEIVES": "5"})
    assert (run.job_max_receives, run.job_cache_ttl_seconds) == (5, 3600)


def test_a_missing_variable_is_named_with_the_function_that_needs_it():
    with pytest.raises(OversightConfigError, match="^JOB_QUEUE_URL is required by submit_job$"):
        parse(JobQueueSettings, "submit_job", {})


def test_an_empty_variable_counts_as_unset():
    with pytest.raises(OversightConfigError, match="^TABLE_NAME is required by read_stats$"):
        parse(TableSettings, "read_stats", {"TABLE_NAME": ""})
    assert parse(TableSettings, "read_stats", {"TABLE_NAME": "t", "RETENTION_DAYS": ""}).retention_days == 90


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "ninety",
            "RETENTION_DAYS: Input should be a valid integer, unable to parse string as an integer (got 'ninety')",
        ),
        ("0", "RETENTION_DAYS: Input should be greater than or equal to 1 (got '0')"),
        ("1.5", "RETENTION_DAYS: Input should be a valid integer"),
    ],
)
def test_a_malformed_variable_is_named_with_the_value_and_the_rule(value, message):
    with pytest.raises(OversightConfigError) as failed:
        parse(TableSettings, "read_stats", {"TABLE_NAME": "t", "RETENTION_DAYS": value})
    assert str(failed.value).startswith(message)


def test_every_problem_of_a_section_is_named_at_once():
    with pytest.raises(OversightConfigError) as failed:
        parse(TableSettings, "sweep", {"RETENTION_DAYS": "x"})
    assert "TABLE_NAME is required by sweep" in str(failed.value)
    assert "RETENTION_DAYS: Input should be a valid integer" in str(failed.value)


def test_a_secret_is_never_echoed():
    class Secret(config.TableSettings):
        pin: int = Field(validation_alias="A_PIN", repr=False)

    with pytest.raises(OversightConfigError) as failed:
        parse(Secret, "f", {"TABLE_NAME": "t", "A_PIN": "s3cr3t"})
    assert str(failed.value) == "A_PIN: Input should be a valid integer, unable to parse string as an integer"
    assert "s3cr3t" not in repr(parse(CursorSettings, "f", {"CURSOR_SIGNING_KEY": "s3cr3t"}))


def test_settings_reads_each_field_from_its_section_and_again_after_cache_clear(monkeypatch, fresh_settings):
    monkeypatch.setenv("RETENTION_DAYS", "7")
    assert settings().retention_days == 7 and settings().table_name == "OversightTable"
    assert settings().section(TableSettings) is settings().section(TableSettings)  # parsed once
    monkeypatch.setenv("RETENTION_DAYS", "8")
    assert settings().retention_days == 7
    settings.cache_clear()
    assert settings().retention_days == 8
    with pytest.raises(AttributeError):
        settings().no_such_setting  # noqa: B018


def test_a_setting_read_at_run_time_is_validated_too(monkeypatch, fresh_settings):
    monkeypatch.setenv("JOB_MAX_RECEIVES", "three")
    with pytest.raises(OversightConfigError, match="JOB_MAX_RECEIVES: Input should be a valid integer"):
        settings().job_max_receives  # noqa: B018


def test_require_settings_parses_every_section_now_and_names_the_function(monkeypatch, fresh_settings):
    monkeypatch.delenv("JOB_QUEUE_URL")
    monkeypatch.setenv("RETENTION_DAYS", "-1")
    with pytest.raises(OversightConfigError) as failed:
        require_settings("submit_job", TableSettings, JobQueueSettings)
    assert str(failed.value) == (
        "RETENTION_DAYS: Input should be greater than or equal to 1 (got '-1'); JOB_QUEUE_URL is required by submit_job"
    )


def test_require_settings_says_what_was_required(fresh_settings):
    requirement = require_settings("read_stats", TableSettings)
    assert requirement == config.Requirement("read_stats", (TableSettings,))
    assert require_settings("health").sections == ()


def test_no_two_sections_define_the_same_field_or_variable():
    fields = [name for section in config.SECTIONS for name in section.model_fields]
    variables = [name for section in config.SECTIONS for name in config.variables(section)]
    assert len(fields) == len(set(fields)) and len(variables) == len(set(variables))
