"""The layer's imports, read from its source: they run one way (no cycle;
the domain above the store), sit at the top of files (a lazy import only
where a measured cold-start saving is written next to it), and never reach
for another module's private names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "oversight" / "oversight"

# Who may import whom, by rank: a module imports only modules of its rank or
# lower. Unlisted modules are rank 0 (models, errors, clock, auth, counters,
# config, observability, ...): they import nothing that is ranked.
RANKS = {
    "oversight.lifecycle": 1,
    "oversight.job_lifecycle": 1,
    "oversight.store": 2,
    "oversight.api": 3,
    "oversight.contract": 3,
    "oversight.idempotency": 3,
    "oversight.dispatch": 3,
    "oversight.tools": 3,
    "oversight.stats": 4,
    "oversight.interventions": 4,
    "oversight.webhooks": 4,
    "oversight.gates": 5,
    "oversight.jobs": 6,
    "oversight.worker": 7,
    "oversight.events": 7,
    "oversight.sweep": 8,
    "oversight.publishing": 8,
    "oversight.delivery": 8,
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, ast.Module]:
    return {_module_name(p): ast.parse(p.read_text(), str(p)) for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imported(node: ast.Import | ast.ImportFrom, module: str) -> list[tuple[str, list[str]]]:
    """(module imported, names taken from it) for one import statement."""
    if isinstance(node, ast.Import):
        return [(alias.name, []) for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".")[: -node.level] if not module.endswith("__init__") else module.split(".")
        base = ".".join([*package, base] if base else package)
    found = [(base, [alias.name for alias in node.names])]
    # `from oversight import clock` imports the module oversight.clock.
    found += [(f"{base}.{alias.name}", []) for alias in node.names if f"{base}.{alias.name}" in MODULES]
    return found


def _top_level_imports(tree: ast.Module, module: str) -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import | ast.ImportFrom):
                found.extend(_imported(node, module))
            elif isinstance(node, ast.If) and not _is_type_checking(node):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)

    visit(tree.body)
    return found


def _internal(name: str) -> str | None:
    """The layer module `name` refers to (a module, or the package holding it)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, tree in MODULES.items():
        targets = {_internal(name) for name, _ in _top_level_imports(tree, module)}
        # A module importing its own package (`from oversight.store import keys` in oversight.store.base) finds
        # it initialising already: not an edge of the design.
        graph[module] = {t for t in targets if t and t != module and not module.startswith(t + ".")}
    return graph


def _rank(module: str) -> int:
    while module:
        if module in RANKS:
            return RANKS[module]
        module = module.rpartition(".")[0]
    return 0


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each import cycle found by a depth-first walk, as the path that closes it."""
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def walk(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                walk(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            walk(module, [module])
    return cycles


def test_the_cycle_walk_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c", "a"]]


def test_the_layer_has_no_import_cycle() -> None:
    assert _cycles(_graph()) == []


def test_imports_run_from_the_use_cases_down_to_the_store() -> None:
    upward = [
        f"{module} imports {target}"
        for module, targets in _graph().items()
        for target in targets
        if _rank(target) > _rank(module)
    ]
    assert upward == []


def _function_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    found = []
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            found += [n for n in ast.walk(function) if isinstance(n, ast.Import | ast.ImportFrom)]
    return found


def test_an_import_inside_a_function_states_the_measured_saving() -> None:
    unexplained = []
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = path.read_text().splitlines()
        for node in _function_imports(ast.parse("\n".join(lines))):
            comment = " ".join(lines[max(0, node.lineno - 4) : node.lineno])
            if not ("lazy:" in comment and " ms" in comment):
                unexplained.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert unexplained == []


def test_no_module_imports_another_modules_private_names() -> None:
    private = []
    for module, tree in MODULES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                for source, names in _imported(node, module):
                    if _internal(source) == source and source != module:
                        private += [f"{module} imports {source}.{n}" for n in names if n.startswith("_")]
    assert private == []


@pytest.mark.parametrize("module", ["oversight.interventions", "oversight.gates", "oversight.jobs", "oversight.sweep"])
def test_the_walk_sees_the_imports_it_checks(module: str) -> None:
    """The checks above read real edges: each use case reaches the store."""
    seen, todo = set(), [module]
    graph = _graph()
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(graph.get(current, ()))
    assert "oversight.store" in seen
