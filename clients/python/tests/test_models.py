"""The generated models: up to date with docs/openapi.json, one for every schema the API answers with,
and tolerant of what a newer server adds."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest
from conftest import intervention, job
from oversight_client import models

PACKAGE = Path(__file__).resolve().parents[1]
REPO = PACKAGE.parents[1]
DOCUMENT = REPO / "docs" / "openapi.json"
MODELS = PACKAGE / "src" / "oversight_client" / "models.py"
GENERATOR = PACKAGE / "scripts" / "generate_models.py"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_models", GENERATOR)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_models"] = module
    spec.loader.exec_module(module)
    return module


def document() -> dict[str, object]:
    return json.loads(DOCUMENT.read_text(encoding="utf-8"))


def test_regenerating_from_the_openapi_document_gives_the_checked_in_file() -> None:
    regenerated = generator().render(document())

    assert regenerated == MODELS.read_text(encoding="utf-8"), (
        "models.py differs from what docs/openapi.json generates: run "
        "`python clients/python/scripts/generate_models.py` and commit the result"
    )


def test_the_check_mode_fails_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "models.py"
    stale.write_text(MODELS.read_text(encoding="utf-8").replace("CRITICAL", "URGENT"), encoding="utf-8")
    command = [sys.executable, str(GENERATOR), "--check", "--output", str(stale)]

    assert subprocess.run(command, capture_output=True, check=False).returncode == 1
    assert subprocess.run([*command[:-1], str(MODELS)], capture_output=True, check=False).returncode == 0


def test_every_schema_the_api_answers_with_has_a_model() -> None:
    answered = generator().Generator(document()).answered()

    assert {"Intervention", "Job", "Stats", "ErrorBody", "Webhook", "CreatedWebhook"} <= answered
    missing = sorted(name for name in answered if not hasattr(models, name))
    assert missing == []
    for name in answered - {"JsonValue"}:
        model = getattr(models, name)
        assert dataclasses.is_dataclass(model) or issubclass(model, models.OpenEnum), name


def test_models_are_frozen_slotted_dataclasses() -> None:
    record = models.Intervention.from_dict(intervention())

    with pytest.raises(dataclasses.FrozenInstanceError):
        record.status = models.Status.APPROVED  # type: ignore[misc]
    assert not hasattr(record, "__dict__")


def test_unknown_fields_are_kept_in_extra_and_written_back() -> None:
    data = intervention(
        sla_minutes=30,
        approvals=[{"user": "a", "at": "2026-01-31T09:30:00.000Z", "reason": "r", "response": None, "x": 1}],
    )

    record = models.Intervention.from_dict(data)

    assert record.extra == {"sla_minutes": 30}
    assert record.approvals[0].extra == {"x": 1}
    assert record.to_dict() == data


def test_an_unknown_enum_value_is_accepted() -> None:
    record = models.Intervention.from_dict(intervention(status="ARCHIVED", priority="urgent"))

    assert record.status == "ARCHIVED" and isinstance(record.status, models.Status)
    assert record.priority == "urgent"
    assert models.Status("APPROVED") is models.Status.APPROVED
    assert record.to_dict()["status"] == "ARCHIVED"


def test_times_are_aware_datetimes_and_written_back_with_z() -> None:
    record = models.Job.from_dict(job(started_at="2026-01-31T09:30:01.250+01:00"))

    assert record.created_at == datetime(2026, 1, 31, 9, 30, tzinfo=UTC)
    assert record.started_at == datetime(2026, 1, 31, 8, 30, 1, 250000, tzinfo=UTC)
    assert record.to_dict()["started_at"] == "2026-01-31T08:30:01.250Z"
    assert record.finished_at is None and record.result is None and record.attempts == 0


def test_defaults_of_the_schema_fill_absent_fields() -> None:
    data = intervention()
    for name in ("required_approvals", "approvals", "on_expiry", "response_schema"):
        del data[name]

    record = models.Intervention.from_dict(data)

    assert record.required_approvals == 1 and record.approvals == () and record.on_expiry == models.OnExpiry.EXPIRE
    assert record.response_schema is None
