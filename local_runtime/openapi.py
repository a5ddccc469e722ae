"""The API's OpenAPI 3.1 document, generated from the routes and pydantic
models of every function in template.yaml and merged into one
(`make openapi`). Two copies are written: docs/openapi.json for readers and
the layer's compact copy that GET /openapi.json serves; a test fails when
either is stale."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from local_runtime.environment import LOCAL_VALUES
from local_runtime.handlers import load_module
from local_runtime.template import ROOT, FunctionSpec, Template

DOCS_COPY = ROOT / "docs" / "openapi.json"
LAYER_COPY = ROOT / "layers" / "oversight" / "oversight" / "openapi.json"
VERSION_FILE = ROOT / "pyproject.toml"

DESCRIPTION = """Human-in-the-loop service: automated workflows raise intervention requests,
people work a priority queue and approve or reject them, overdue requests
expire, and jobs (named tools) run asynchronously, optionally behind an
approval.

Every route but `GET /health` and `GET /openapi.json` needs a bearer JWT
(roles from `cognito:groups` or `oversight/<role>` scopes, tenant from
`custom:tenant`). Errors share one body: `{"code", "message", "details"?}`."""

SECURITY_SCHEME = {"jwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}

# Follow-up calls a client (or a stateful fuzzer) can make with a new
# record's id: OpenAPI links from the operation that returns the record.
LINKS = {
    "createIntervention": (
        "201",
        "getIntervention",
        "listInterventionEvents",
        "claimIntervention",
        "approveIntervention",
        "rejectIntervention",
        "cancelIntervention",
    ),
    "claimIntervention": ("200", "releaseIntervention", "approveIntervention", "rejectIntervention"),
    "approveIntervention": ("200", "completeIntervention", "getIntervention"),
    "submitJob": ("202", "getJob", "listJobLogs", "cancelJob"),
}


def _version() -> str:
    found = re.search(r'^version\s*=\s*"([^"]+)"', VERSION_FILE.read_text(), re.MULTILINE)
    return found.group(1) if found else "0.0.0"


@contextmanager
def _environment_of(spec: FunctionSpec) -> Iterator[None]:
    """The function's variables as the local runtime sets them, where the process has none of its own."""
    added = {name: LOCAL_VALUES.get(name, value) for name, value in spec.environment.items() if name not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def build_document(template: Template | None = None) -> dict[str, Any]:
    """One document for every function with HTTP routes."""
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge

    template = template or Template()
    merge = OpenAPIMerge(
        title="Oversight API",
        version=_version(),
        openapi_version="3.1.0",
        description=DESCRIPTION,
        security=[{"jwt": []}],
        on_conflict="error",
    )
    public: set[str] = set()
    for spec in api_functions(template):
        resolver = load_module(spec).app  # loaded by api_functions, in its environment
        merge.add_schema(resolver.get_openapi_schema(openapi_version="3.1.0"))
        public |= spec.public_routes
    document = json.loads(merge.get_openapi_json_schema())  # validated by the OpenAPI model
    document["servers"] = [{"url": "/", "description": "the API that serves this document"}]
    document.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEME
    _check_routes_match(document, template)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if f"{method.upper()} {path}" in public:
                operation["security"] = []
            operation["responses"] = {
                status: response
                for status, response in sorted(operation["responses"].items())
                if "HTTPValidationError" not in json.dumps(response)  # powertools' default 422: routes without input
            }
    _add_links(document)
    _name_the_tools(document)
    _drop_unused_schemas(document)
    return document


def _name_the_tools(document: dict[str, Any]) -> None:
    """`tool` is one of the registered tools (their parameters' schemas are
    served by GET /tools)."""
    from oversight.tools.registry import all_tools

    names = sorted(tool.name for tool in all_tools())
    tool = document["components"]["schemas"]["SubmitJobRequest"]["properties"]["tool"]
    tool["enum"] = names
    tool["description"] = "A registered tool; GET /tools lists each with its parameters' JSON Schema."


def api_functions(template: Template) -> list[FunctionSpec]:
    """The functions that serve the JSON API: every routed function with a
    Powertools resolver (`app`). The console's function serves files (its
    routes are in docs/console.md, not in the API's contract); it must stay
    public, so that no protected route can leave the contract unnoticed."""
    found = []
    for spec in template.functions():
        if not spec.routes:
            continue
        with _environment_of(spec):  # each function checks its settings when imported
            module = load_module(spec)
        if hasattr(module, "app"):
            found.append(spec)
        elif {route.route_key for route in spec.routes} - spec.public_routes:
            raise SystemExit(f"{spec.logical_id} has protected routes but no resolver to document them")
    return found


def _check_routes_match(document: dict[str, Any], template: Template) -> None:
    documented = {f"{method.upper()} {path}" for path, ops in document["paths"].items() for method in ops}
    routed = {route.route_key for spec in api_functions(template) for route in spec.routes}
    if documented != routed:
        raise SystemExit(
            f"template.yaml and the handlers disagree: only routed {sorted(routed - documented)},"
            f" only in handlers {sorted(documented - routed)}"
        )


def _operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {op["operationId"]: op for ops in document["paths"].values() for op in ops.values()}


def _add_links(document: dict[str, Any]) -> None:
    operations = _operations(document)
    for source, (status, *targets) in LINKS.items():
        response = operations[source]["responses"][status]
        response["links"] = {
            target: {"operationId": target, "parameters": {"id": "$response.body#/id"}} for target in targets
        }


def _drop_unused_schemas(document: dict[str, Any]) -> None:
    """Powertools adds its own validation-error schemas; the API answers
    with its ErrorBody instead, so keep only what is referenced."""
    schemas = document["components"]["schemas"]
    while True:
        text = json.dumps(document)
        unused = [name for name in schemas if f'"#/components/schemas/{name}"' not in text]
        if not unused:
            return
        for name in unused:
            del schemas[name]


def render(document: dict[str, Any]) -> tuple[str, str]:
    """(docs copy: indented, layer copy: compact)."""
    return (
        json.dumps(document, indent=2, ensure_ascii=False) + "\n",
        json.dumps(document, separators=(",", ":"), ensure_ascii=False),
    )


def stale_copies(document: dict[str, Any] | None = None) -> list[Path]:
    expected = render(document or build_document())
    return [
        path
        for path, text in zip((DOCS_COPY, LAYER_COPY), expected, strict=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]


def write() -> list[Path]:
    texts = render(build_document())
    for path, text in zip((DOCS_COPY, LAYER_COPY), texts, strict=True):
        path.write_text(text, encoding="utf-8")
    return [DOCS_COPY, LAYER_COPY]


def main(check: bool = False) -> int:
    if check:
        stale = stale_copies()
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)} (run `make openapi`)", file=sys.stderr)
        return 1 if stale else 0
    for path in write():
        print(f"wrote {path.relative_to(ROOT)}")
    return 0
