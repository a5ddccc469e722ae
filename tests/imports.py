"""Reading import statements: the module a `from ... import` names."""

from __future__ import annotations

import ast


def imported_module(node: ast.ImportFrom, package: str) -> str:
    """The absolute name of the module `node` imports from, `package` being
    the package of the importing module (the module itself for an
    `__init__.py`): `from . import x` in `a.b`'s `__init__` is `a.b`, in
    `a/b/c.py` (package `a.b`) also `a.b`."""
    base = node.module or ""
    if not node.level:
        return base
    parts = package.split(".")
    parent = parts[: len(parts) - node.level + 1]
    return ".".join([*parent, base] if base else parent)
