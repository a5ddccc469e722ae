"""Each function's app.py declares the settings its code reads
(`REQUIRED = require_settings(...)`, checked at its cold start), and the
declaration is exact: over the IAM test's run of every function's main
paths, a function reads only settings of sections it declared (so a
missing variable fails a cold start, never a request), and every section
it declares is read. Every variable without a default that a function
requires is set in its template environment."""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

import tests.jobtools as jobtools
import tests.support as support
from local_runtime.handlers import load_module
from oversight import config
from tests.conftest import ROOT, TEMPLATE
from tests.integration.test_iam_calls import recording  # noqa: F401  (the fixture that runs the paths)
from tests.support import REQUESTER, VIEWER, ApiClient, Clock

FUNCTIONS = [spec for spec in TEMPLATE.functions() if (spec.code_uri / "app.py").exists()]


def declared(spec: Any) -> set[type]:
    requirement = load_module(spec).REQUIRED
    assert requirement.function == spec.name
    return set(requirement.sections)


def built_from_settings() -> list[Callable[..., Any]]:
    """The layer's cached objects built from settings (a store keeps its
    table's name): each invocation builds its own, so the function that
    reads a setting is the one recorded, not the first one that needed it."""
    return [
        value
        for name, module in list(sys.modules.items())
        if name.startswith("oversight.")
        for value in vars(module).values()
        if hasattr(value, "cache_clear")
        and "settings" in getattr(getattr(value, "__wrapped__", None), "__code__", len).co_names
    ]


@pytest.fixture(scope="module")
def settings_reads() -> Iterator[dict[str, set[type]]]:
    """{function name: the settings sections its handler read}, from here on."""
    read: dict[str, set[type]] = defaultdict(set)
    current: list[str] = []
    original_section = config.Settings.section
    original_load = support.load_handler

    def recording_section(self: config.Settings, section: Any) -> Any:
        if current:
            read[current[-1]].add(section)
        return original_section(self, section)

    def load_recording(spec: Any, instance: int = 0) -> Any:
        handler = original_load(spec, instance)

        def run(event: Any, context: Any) -> Any:
            for cached in built_from_settings():
                cached.cache_clear()
            current.append(spec.name)
            try:
                return handler(event, context)
            finally:
                current.pop()

        return run

    with pytest.MonkeyPatch.context() as monkeypatch:
        # A fresh settings object: each section is parsed again (and read
        # through `section`) whatever earlier tests patched on the old one.
        config.settings.cache_clear()
        monkeypatch.setattr(config.Settings, "section", recording_section)
        monkeypatch.setattr(support, "load_handler", load_recording)
        try:
            yield read
        finally:
            config.settings.cache_clear()


@pytest.fixture(scope="module")
def sections_read(settings_reads: dict[str, set[type]], request: pytest.FixtureRequest) -> dict[str, set[type]]:
    """The IAM test's paths, then a second page of each list (a cursor
    signed, then checked), all recorded."""
    request.getfixturevalue("recording")
    from oversight import clock as clock_module

    api = ApiClient(TEMPLATE, ROOT / "events")
    with pytest.MonkeyPatch.context() as monkeypatch, jobtools.registered():
        monkeypatch.setattr(clock_module, "now", Clock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC)).now)
        for _ in range(2):
            api.create(uow_id="uow-pages")
            assert api.post("/jobs", REQUESTER, {"tool": "test_echo", "parameters": {"text": "p"}}).status == 202
        for path in ("/interventions?uow_id=uow-pages", "/jobs?status=PENDING&tool=test_echo"):
            first = api.get(f"{path}&limit=1", VIEWER).body
            assert first["next_cursor"], path
            assert api.get(f"{path}&limit=1&cursor={first['next_cursor']}", VIEWER).status == 200
    return dict(settings_reads)


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_a_function_reads_only_the_settings_its_cold_start_checked(sections_read, spec):
    undeclared = sorted(section.__name__ for section in sections_read.get(spec.name, set()) - declared(spec))
    assert not undeclared, f"{spec.name} reads {undeclared} but its app.py does not require them"


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_every_section_a_function_requires_is_read(sections_read, spec):
    unused = sorted(section.__name__ for section in declared(spec) - sections_read.get(spec.name, set()))
    assert not unused, f"{spec.name} requires {unused} but no path read them"


@pytest.mark.parametrize("spec", FUNCTIONS, ids=lambda spec: spec.name)
def test_every_variable_without_a_default_is_in_the_functions_template_environment(spec):
    required = {
        str(field.validation_alias)
        for section in declared(spec)
        for field in section.model_fields.values()
        if field.is_required()
    }
    missing = sorted(required - set(spec.environment))
    assert not missing, f"{spec.name} requires {missing}, which template.yaml does not set"
