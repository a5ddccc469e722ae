"""The OpenAPI document: generated from the handlers, current in both
copies, served without auth, and true to what the handlers answer."""

from __future__ import annotations

import json

import pytest

from local_runtime.openapi import DOCS_COPY, LAYER_COPY, api_functions, build_document, render, stale_copies
from tests.conftest import TEMPLATE
from tests.support import ADMIN, REQUESTER, VIEWER


@pytest.fixture(scope="module")
def document():
    return build_document(TEMPLATE)


def operations(document):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def test_both_copies_are_current(document):
    """Fails when a route or model changed without `make openapi`."""
    assert stale_copies(document) == [], "run `make openapi` and commit docs/openapi.json"
    assert json.loads(LAYER_COPY.read_text()) == json.loads(DOCS_COPY.read_text())
    assert render(document)[0] == DOCS_COPY.read_text()


def test_every_route_of_the_template_is_documented_once(document):
    # The console's function serves files, not the JSON API (docs/console.md).
    routed = {route.route_key for spec in api_functions(TEMPLATE) for route in spec.routes}
    assert {spec.logical_id for spec in TEMPLATE.functions() if spec.routes} - {
        spec.logical_id for spec in api_functions(TEMPLATE)
    } == {"ConsoleFunction"}
    documented = [key for key, _ in operations(document)]
    assert sorted(documented) == sorted(routed)
    assert document["openapi"] == "3.1.0"
    ids = [operation["operationId"] for _, operation in operations(document)]
    assert len(ids) == len(set(ids))


def test_errors_are_documented_with_the_error_body(document):
    public = {key for spec in TEMPLATE.functions() for key in spec.public_routes}
    for key, operation in operations(document):
        responses = operation["responses"]
        if key in public:
            assert operation["security"] == []
            continue
        assert "security" not in operation  # the document-wide bearer JWT applies
        expected = {"401", "403", "422", "500", "503"} | ({"404"} if "{id}" in key else set())
        assert expected <= set(responses), key
        for status in expected:
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (key, status)
        assert "Retry-After" in responses["503"]["headers"]
    assert document["components"]["securitySchemes"]["jwt"]["scheme"] == "bearer"
    assert document["security"] == [{"jwt": []}]


def test_success_statuses_follow_the_spec(document):
    ops = dict(operations(document))
    assert "201" in ops["POST /interventions"]["responses"]
    assert "202" in ops["POST /jobs"]["responses"]
    schema = ops["GET /interventions/{id}"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Intervention"}
    created_at = document["components"]["schemas"]["Intervention"]["properties"]["created_at"]
    assert created_at["format"] == "date-time"
    unreferenced = [name for name in document["components"]["schemas"] if "HTTPValidationError" in name]
    assert unreferenced == []


def test_the_document_is_served_without_a_token(api):
    reply = api.get("/openapi.json", None)
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.body == json.loads(DOCS_COPY.read_text())


def test_an_unknown_query_parameter_is_named_not_ignored(api):
    reply = api.get("/interventions?stauts=APPROVED&limit=5", VIEWER)
    assert reply.status == 422
    assert reply.body["code"] == "validation_error"
    assert reply.body["details"] == [
        {"loc": ["query", "stauts"], "msg": "Unknown query parameter", "type": "extra_forbidden"}
    ]
    assert api.get("/interventions?status=APPROVED&limit=5", VIEWER).status == 200


@pytest.mark.parametrize(
    "raw", [b"D\x0e#\xff", b"\xc3\x28", '{"reason": "\\ud800"}'], ids=["bytes", "bad-utf8", "surrogate"]
)
def test_a_body_that_is_not_utf8_json_is_a_validation_error(api, raw):
    iv = api.create()
    reply = api.post(f"/interventions/{iv['id']}/cancel", REQUESTER, raw_body=raw)
    assert reply.status == 422
    assert reply.body["code"] == "validation_error"
    assert api.get(f"/interventions/{iv['id']}", ADMIN).body["status"] == "PENDING"
