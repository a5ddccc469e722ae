"""The store's layout, read from its source: the DynamoDB helpers stay
private to the store package, each DynamoDB store implements its abstract
base (and offers nothing the base does not declare), and every key shape is
written in keys.py."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from oversight.store.base import InterventionStore, JobStore, StatsStore
from oversight.store.interventions import DynamoInterventionStore
from oversight.store.jobs import DynamoJobStore
from oversight.store.stats import DynamoStatsStore
from tests.imports import imported_module

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "oversight" / "oversight"
STORE = PACKAGE / "store"
HELPERS = "oversight.store._dynamodb"
STORES = [(InterventionStore, DynamoInterventionStore), (JobStore, DynamoJobStore), (StatsStore, DynamoStatsStore)]


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(tree: ast.Module, path: Path) -> set[str]:
    """Every module an import statement anywhere in `tree` (the module at
    `path`) names, with the `from package import module` form read as the
    module."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = imported_module(node, package)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def test_only_the_store_package_imports_the_dynamodb_helpers() -> None:
    outside = [
        _module_name(path)
        for path in sorted(PACKAGE.rglob("*.py"))
        if not _module_name(path).startswith("oversight.store")
        and HELPERS in _imported_modules(ast.parse(path.read_text()), path)
    ]
    assert outside == []


def test_the_import_walk_sees_the_helpers_where_they_are_used() -> None:
    """The check above reads real imports: the stores' own are found."""
    path = STORE / "jobs.py"
    assert HELPERS in _imported_modules(ast.parse(path.read_text()), path)


@pytest.mark.parametrize(("base", "store"), STORES, ids=lambda c: c.__name__)
def test_each_dynamodb_store_implements_every_method_of_its_base(base: type, store: type) -> None:
    assert issubclass(store, base)
    assert base.__abstractmethods__, f"{base.__name__} declares no abstract method"
    assert store.__abstractmethods__ == frozenset()
    for name in base.__abstractmethods__:
        wanted = list(inspect.signature(getattr(base, name)).parameters)
        assert list(inspect.signature(getattr(store, name)).parameters) == wanted, name


@pytest.mark.parametrize(("base", "store"), STORES, ids=lambda c: c.__name__)
def test_a_dynamodb_store_offers_only_what_its_base_declares(base: type, store: type) -> None:
    """The domain codes against the base: a public method the base lacks
    would be one the domain could call only on the DynamoDB store."""
    public = {name for name, _ in inspect.getmembers(store, inspect.isfunction) if not name.startswith("_")}
    assert public - {name for name, _ in inspect.getmembers(base, inspect.isfunction)} == set()


# A key starts with a tag (`T#`, `JOBRUN#`, `LOG#`, ...) or joins values with `#`.
_TAG = re.compile(r"^[A-Z]+#")


def _key_shapes(tree: ast.Module) -> list[str]:
    """The f-strings and literals in `tree` that spell a key: a tag first, or
    a `#` after a formatted value (`f"{when}#{tenant}"`)."""
    shapes = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            parts = node.values
            text = [part.value for part in parts if isinstance(part, ast.Constant) and isinstance(part.value, str)]
            starts_with_tag = bool(parts) and isinstance(parts[0], ast.Constant) and _TAG.match(str(parts[0].value))
            joins = any(
                isinstance(part, ast.Constant) and "#" in str(part.value)
                for before, part in zip(parts, parts[1:], strict=False)
                if isinstance(before, ast.FormattedValue)
            )
            if starts_with_tag or joins:
                shapes.append(f"line {node.lineno}: f{'{}'.join(text)!r}")
        elif (
            isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"T#.*|[A-Z]+#", node.value)
        ):
            shapes.append(f"line {node.lineno}: {node.value!r}")
    return shapes


def test_every_key_shape_is_in_keys_py() -> None:
    found = {
        path.name: shapes
        for path in sorted(STORE.glob("*.py"))
        if path.name != "keys.py" and (shapes := _key_shapes(ast.parse(path.read_text())))
    }
    assert found == {}


@pytest.mark.parametrize(
    "source",
    [
        'pk = f"T#{tenant}#JOB#{job_id}"',
        'partition = f"JOBRUN#{shard}"',
        'sort_key = f"{when}#{tenant}#{record_id}"',
        'prefix = f"{rank}#"',
        'prefix = "LOG#"',
    ],
)
def test_the_key_walk_finds_a_key_shape(source: str) -> None:
    assert _key_shapes(ast.parse(source))


@pytest.mark.parametrize(
    "source", ['names = {f"#c{n}": name}', 'clause = f"#f{n} = :f{n}"', 'scope = f"jobs:{tenant}"']
)
def test_the_key_walk_passes_expressions(source: str) -> None:
    assert _key_shapes(ast.parse(source)) == []
