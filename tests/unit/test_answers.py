"""Answer forms on their own (oversight.answers): which response_schemas are
accepted and which refused (and why, by path), answers checked against them
with the exact failing paths, the bounds on the work of one check, the cache of
compiled schemas, and agreement with the jsonschema package (a development
dependency only) on what is valid.

Measured (`python -m bench.validators`, 2 shared cores under load; docs/decisions.md
has the table), written down, not asserted: importing it after pydantic and
Powertools costs ~3 ms from bytecode and ~26 ms from source (the layer ships our
package as sources; fastjsonschema ~2 ms and jsonschema ~61 ms from pip's
bytecode); compiling the refund form ~0.2-0.3 ms with the metaschema check
(fastjsonschema ~3 ms, jsonschema ~0.6 ms); checking an answer ~15-25 µs
(jsonschema ~80 µs); it adds 44 KiB of source and no dependency to the layer
(fastjsonschema 214 KiB, jsonschema and its dependencies 2.7 MiB).
"""

import ast
import json
import socket
import sys
import time
import urllib.request
from pathlib import Path

import jsonschema
import jsonschema_specifications
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from oversight import answers
from oversight.answers import (
    DRAFT_07,
    MAX_REPORTED,
    MAX_SCHEMA_BYTES,
    SCHEMA_CACHE_SIZE,
    cached_schema,
    canonical_json,
    check_answer,
    check_schema,
)
from oversight.errors import ValidationFailed

FORM = {
    "type": "object",
    "properties": {
        "amount": {"type": "number", "title": "Refund amount", "minimum": 0, "maximum": 180},
        "method": {"enum": ["original payment", "voucher"], "title": "Refund method"},
        "note": {"type": "string", "maxLength": 200},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"name": {"type": "string", "minLength": 1}},
                "required": ["name"],
            },
        },
    },
    "required": ["amount", "method"],
    "additionalProperties": False,
}


def refused(schema):
    """check_schema's message for a schema it refuses."""
    with pytest.raises(ValueError) as raised:
        check_schema(schema)
    return str(raised.value)


def failures(schema, response):
    """(loc, msg) of each detail check_answer gives, after the error's own checks."""
    check_schema(schema)
    with pytest.raises(ValidationFailed) as raised:
        check_answer(schema, response)
    error = raised.value
    assert (error.status, error.code) == (422, "validation_error")
    assert all(d["type"] == "response_schema" and d["loc"][:2] == ["body", "response"] for d in error.details)
    fields = sorted({".".join(str(part) for part in d["loc"]) for d in error.details})
    assert error.message == f"Invalid request: {', '.join(fields)}"
    return [(d["loc"][2:], d["msg"]) for d in error.details]


def paths(schema, response):
    return [loc for loc, _ in failures(schema, response)]


# ---------------------------------------------------------------- schemas accepted
class Address(BaseModel):
    street: str = Field(max_length=100)
    country: str = Field("FR", min_length=2, max_length=2)


class Refund(BaseModel):
    amount: float = Field(ge=0, le=1000, multiple_of=0.01)
    approved: bool
    address: Address | None = None
    tags: list[str] = Field(default_factory=list, max_length=5)


@pytest.mark.parametrize(
    "schema",
    [
        FORM,
        {},
        {"type": ["string", "null"]},
        {"$schema": DRAFT_07, "$id": "https://example.com/answer.json", "type": "boolean"},
        {"$schema": "http://json-schema.org/draft-07/schema", "const": {"nested": [1, 2.5, None, True]}},
        {"type": "array", "items": {"$ref": "#"}},  # recursion that moves into the items ends
        {"$ref": "#/definitions/a", "title": "beside $ref: annotations only", "definitions": {"a": {"type": "string"}}},
        {"$ref": "#/$defs/a%20b", "$defs": {"a b": {"type": "integer"}}},  # a pointer is percent-decoded
        {"$ref": "#/definitions/x~1y~0z", "definitions": {"x/y~z": True}},  # and ~1, ~0 unescaped
        {"properties": {"a": False, "b": True}, "x-widget": {"anything": ["goes"]}},
        {"format": "date-time", "readOnly": False, "writeOnly": True, "deprecated": False, "$comment": "ok"},
        {"if": {"properties": {"kind": {"const": "other"}}}, "then": {"required": ["detail"]}, "else": {}},
        {"dependencies": {"a": ["b"], "c": {"required": ["d"]}}, "propertyNames": {"maxLength": 8}},
        {"items": [{"type": "string"}, {"type": "number"}], "additionalItems": False, "contains": {"const": 1}},
        {"enum": []},  # draft-07 allows it: no answer fits, the request can only be rejected
    ],
    ids=lambda schema: canonical_json(schema)[:40],
)
def test_a_draft_07_schema_is_accepted(schema):
    check_schema(schema)


def test_a_pydantic_generated_schema_is_accepted_and_checks_like_the_model():
    schema = Refund.model_json_schema()  # $defs, $ref, anyOf with null, defaults, titles
    check_schema(schema)
    check_answer(schema, {"amount": 19.99, "approved": True, "address": {"street": "Rue Haute"}, "tags": ["x"]})
    assert failures(schema, {"amount": 19.999, "approved": "yes", "address": {"street": 5}}) == [
        (["amount"], "Should be a multiple of 0.01"),
        (["approved"], "Should be a boolean"),
        (["address", "street"], "Should be a string"),  # the anyOf branch the value's type fits, not `null`
    ]


@pytest.mark.parametrize("padding", [0, 1])
def test_a_schema_may_be_8_kib_as_compact_json_and_no_more(padding):
    schema = {"description": ""}
    schema["description"] = "x" * (MAX_SCHEMA_BYTES - len(json.dumps(schema, separators=(",", ":"))) + padding)
    if padding:
        assert refused(schema) == "response_schema: 8193 bytes as compact JSON; at most 8192 allowed"
    else:
        check_schema(schema)


def test_the_size_counts_utf8_bytes_not_characters():
    schema = {"description": "é" * 4090}  # 4,090 characters, 8,180 bytes + 18 of the rest
    assert refused(schema) == "response_schema: 8198 bytes as compact JSON; at most 8192 allowed"


def test_the_metaschema_is_draft_07_s_own_with_defs_added():
    published = jsonschema_specifications.REGISTRY.contents("http://json-schema.org/draft-07/schema#")
    ours = json.loads(answers.METASCHEMA_JSON)
    assert ours["properties"].pop("$defs") == published["properties"]["definitions"]
    assert ours == published


# ---------------------------------------------------------------- schemas refused
@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ([], "response_schema: should be a JSON object (a schema), not an array"),
        ("string", "response_schema: should be a JSON object (a schema), not a string"),
        (True, "response_schema: should be a JSON object (a schema), not a boolean"),
        (None, "response_schema: should be a JSON object (a schema), not null"),
        ({"properties": {1: {}}}, "response_schema: not JSON (an object's keys are strings)"),
        ({"enum": [{1, 2}]}, "response_schema: not JSON (Object of type set is not JSON serializable)"),
        ({"minimum": float("nan")}, "response_schema: not JSON (Out of range float values are not JSON compliant"),
        (
            {"type": "nubmer"},
            "response_schema.type: 'nubmer' should be one of 'array', 'boolean', 'integer', 'null', 'number', 'object',"
            " 'string'",
        ),
        (
            {"properties": {"amount": {"type": "nubmer"}}},
            "response_schema.properties.amount.type: 'nubmer' should be one of 'array', 'boolean', 'integer', 'null',"
            " 'number', 'object', 'string'",
        ),
        ({"type": ["string", "strin"]}, "response_schema.type.1: 'strin' should be one of 'array', 'boolean',"),
        ({"type": ["string", "string"]}, 'response_schema.type: ["string", "string"] should have unique items'),
        ({"minimum": "5"}, "response_schema.minimum: '5' should be a number"),
        ({"maxLength": -1}, "response_schema.maxLength: -1 should be greater than or equal to 0"),
        ({"maxLength": 2.5}, "response_schema.maxLength: 2.5 should be an integer"),
        ({"multipleOf": 0}, "response_schema.multipleOf: 0 should be greater than 0"),
        ({"required": "amount"}, "response_schema.required: 'amount' should be an array"),
        ({"required": ["a", "a"]}, 'response_schema.required: ["a", "a"] should have unique items'),
        ({"properties": {"a": 5}}, "response_schema.properties.a: 5 should be an object or a boolean"),
        ({"allOf": []}, "response_schema.allOf: [] should have at least 1 item"),
        ({"items": {"anyOf": [{"type": "string"}, {"minItems": "1"}]}}, "response_schema.items.anyOf.1.minItems:"),
    ],
    ids=lambda value: str(value)[:40],
)
def test_a_schema_the_metaschema_refuses_is_named_by_its_path(schema, message):
    assert refused(schema).startswith(message)


@pytest.mark.parametrize(
    "ref",
    [
        "http://169.254.169.254/latest/meta-data/",
        "https://example.com/schema.json#/definitions/a",
        "file:///etc/passwd",
        "//evil.example/schema.json",
        "other.json#/definitions/a",
        "urn:uuid:deadbeef-1234-ffff-ffff-4321feebdaed",
        "http://json-schema.org/draft-07/schema#",
    ],
)
def test_a_remote_ref_is_refused_without_reaching_anything(ref, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the network was reached")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    message = refused({"properties": {"a": {"$ref": ref}}})
    assert message.startswith(f"response_schema.properties.a.$ref: {ref!r}"[:60])
    assert "is not local: only '#' and '#/json/pointer' refs are followed" in message


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"$ref": "#foo", "definitions": {"a": {"$id": "#foo"}}}, "response_schema.$ref: '#foo' is not a JSON pointer"),
        ({"$ref": "#/definitions/missing"}, "response_schema.$ref: '#/definitions/missing' is not a schema of this"),
        (
            {"properties": {}, "not": {"$ref": "#/properties"}},
            "response_schema.not.$ref: '#/properties' is not a schema",
        ),
        (
            {"enum": [{"type": "x"}], "not": {"$ref": "#/enum/0"}},
            "response_schema.not.$ref: '#/enum/0' is not a schema",
        ),
        ({"const": {}, "not": {"$ref": "#/const"}}, "response_schema.not.$ref: '#/const' is not a schema of this"),
    ],
)
def test_a_local_ref_must_point_at_a_subschema_of_the_document(schema, message):
    assert refused(schema).startswith(message)


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#"},
        {"allOf": [{"$ref": "#"}]},
        {"definitions": {"a": {"not": {"$ref": "#/definitions/b"}}, "b": {"anyOf": [{"$ref": "#/definitions/a"}]}}},
        {"if": {"$ref": "#/definitions/a"}, "definitions": {"a": {"dependencies": {"x": {"$ref": "#"}}}}},
    ],
)
def test_a_ref_loop_that_never_moves_into_the_answer_is_refused(schema):
    assert "without moving into a member or item of the answer: the check would never end" in refused(schema)


def test_a_chain_of_refs_longer_than_32_is_refused():
    chain = {
        "definitions": {f"d{n}": {"$ref": f"#/definitions/d{n + 1}"} for n in range(32)},
        "$ref": "#/definitions/d0",
    }
    chain["definitions"]["d32"] = {"type": "string"}
    assert "a chain of more than 32 $ref/allOf/anyOf/oneOf/not/if applied to one value" in refused(chain)
    del chain["definitions"]["d0"], chain["definitions"]["d1"]
    chain["$ref"] = "#/definitions/d2"  # 31 refs and the string: accepted
    check_schema(chain)


def test_a_schema_nested_deeper_than_a_body_may_be_is_refused():
    schema: dict = {}
    for _ in range(32):
        schema = {"properties": {"a": schema}}
    assert refused(schema) == "response_schema: JSON nested more than 64 levels deep"
    check_schema(schema["properties"]["a"])


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (
            {"$ref": "#/definitions/a", "maximum": 3, "definitions": {"a": {}}},
            "response_schema: maximum beside $ref would be ignored (draft-07); put both in an allOf",
        ),
        (
            {"$schema": "https://json-schema.org/draft/2020-12/schema"},
            "response_schema.$schema: only 'http://json-schema.org/draft-07/schema#', at the top, is read here",
        ),
        ({"items": {"$schema": DRAFT_07}}, "response_schema.items.$schema: only"),
        ({"properties": {"a": {"$id": "#a"}}}, "response_schema.properties.a.$id: only the top schema may carry $id"),
        ({"prefixItems": [{}]}, "response_schema.prefixItems: a keyword of a later draft (2019-09/2020-12)"),
        ({"items": {"unevaluatedProperties": False}}, "response_schema.items.unevaluatedProperties: a keyword of"),
        ({"dependentRequired": {"a": ["b"]}}, "response_schema.dependentRequired: a keyword of a later draft"),
        (
            {"properties": {"name": {"type": "string", "maxLenght": 3}}},
            "response_schema.properties.name: unknown keyword 'maxLenght': it would check nothing",
        ),
        (
            {"format": "uuid"},
            "response_schema.format: 'uuid' is not checked here (date-time, date, time, email, hostname, ipv4, ipv6,"
            " uri)",
        ),
    ],
)
def test_what_draft_07_would_silently_ignore_is_refused(schema, message):
    assert refused(schema).startswith(message)


HOSTILE_PATTERNS = ["(a+)+$", "^(a|a)*$", "(x+x+)+y", "\\d+\\d+x", "a*b", "^[A-Z]{3}-[0-9]+$", "(?=a)", ".{0,99999}"]


@pytest.mark.parametrize("pattern", HOSTILE_PATTERNS)
@pytest.mark.parametrize(
    ("place", "where"),
    [
        (lambda p: {"pattern": p}, "response_schema.pattern"),
        (
            lambda p: {"properties": {"code": {"type": "string", "pattern": p}}},
            "response_schema.properties.code.pattern",
        ),
        (lambda p: {"patternProperties": {p: {}}}, "response_schema.patternProperties"),
        (lambda p: {"propertyNames": {"pattern": p}}, "response_schema.propertyNames.pattern"),
        (lambda p: {"definitions": {"unused": {"pattern": p}}}, "response_schema.definitions.unused.pattern"),
    ],
)
def test_every_regular_expression_is_refused_however_harmless_it_looks(pattern, place, where):
    # Refused, not bounded: Python's backtracking re is quadratic on "a*b" and cubic on "\d+\d+x" over a 16 KiB
    # answer (bench/validators.py measures it), so neither a length limit nor a nesting rule makes a pattern safe.
    assert refused(place(pattern)) == f"{where}: {answers.REGEX_REFUSED}"


def test_a_regex_format_is_refused_too():
    # Checking it would compile (and so parse) operator-written text as a regular expression.
    assert refused({"format": "regex"}) == f"response_schema.format: {answers.REGEX_REFUSED}"


# ---------------------------------------------------------------- hostile names and values
HOSTILE = [
    "'] or __import__('os').system('touch {marker}') or ['",
    '"] or __import__("os").system("touch {marker}") or ["',
    '{{__import__}}\\"+__import__("os").system("touch {marker}")+"',
    "a\nimport os; os.system('touch {marker}')  #",
    "${{__import__('os').system('touch {marker}')}}",
]


@pytest.mark.parametrize("template", HOSTILE)
def test_hostile_names_and_values_are_data_never_code(template, tmp_path):
    marker = tmp_path / "pwned"
    name = template.format(marker=marker)
    schema = {
        "$comment": name,
        "title": name,
        "description": name,
        "type": "object",
        "properties": {name: {"type": "string", "enum": [name, "b"], "default": name, "x-hint": name}},
        "required": [name],
        "dependencies": {name: [name + "2"]},
        "propertyNames": {"not": {"const": name + "3"}},
        "definitions": {name: {"const": name}},
        "additionalProperties": {"$ref": f"#/definitions/{name.replace('~', '~0').replace('/', '~1')}"},
    }
    check_schema(schema)
    check_answer(schema, {name: name, name + "2": name})
    assert failures(schema, {name: 5, "other": "x"}) == [
        ([name], "Should be a string"),
        ([name], f"Should be one of {answers.shown(name)}, 'b'"),
        (["other"], f"Should be {answers.shown(name)}"),
        ([name + "2"], f"Field required when {answers.shown(name)} is given"),
    ]
    assert failures(schema, {name + "3": name, name: name, name + "2": 1}) == [
        ([name + "2"], f"Should be {answers.shown(name)}"),
        ([name + "3"], "Property name: Should not match the schema under 'not'"),
    ]
    assert "not checked here" in refused({"format": name})  # a format by that name is refused, not run
    assert not marker.exists()


def test_the_module_never_runs_text_and_never_reaches_the_network():
    """What the interpreter could use to run a schema or fetch one: none of it is there."""
    tree = ast.parse(Path(answers.__file__).read_text())
    called = {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert not called & {"exec", "eval", "compile", "__import__", "open", "getattr", "setattr"}
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert imported == {
        "__future__",
        "collections.abc",
        "datetime",
        "decimal",
        "fractions",
        "functools",
        "ipaddress",
        "json",
        "oversight.errors",
        "re",
        "typing",
        "urllib.parse",
    }
    # urllib.parse only splits and unquotes; re compiles only the module's own format expressions, at import.
    compiled = [node for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr == "compile"]
    assert all(isinstance(node.value, ast.Name) and node.value.id == "re" for node in compiled)
    assert not {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)} & {
        "search",
        "match",
        "urlopen",
        "system",
        "popen",
    }


# ---------------------------------------------------------------- answers
def test_a_fitting_answer_passes():
    check_answer(FORM, {"amount": 12.5, "method": "voucher", "items": [{"name": "a"}]})
    check_answer(FORM, {"amount": 0, "method": "original payment", "note": ""})


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (None, [([], "Should be an object")]),
        ([], [([], "Should be an object")]),
        ({"method": "voucher"}, [(["amount"], "Field required")]),
        ({}, [(["amount"], "Field required"), (["method"], "Field required")]),
        ({"amount": -1, "method": "voucher"}, [(["amount"], "Should be greater than or equal to 0")]),
        ({"amount": 180.5, "method": "voucher"}, [(["amount"], "Should be less than or equal to 180")]),
        ({"amount": "12", "method": "voucher"}, [(["amount"], "Should be a number")]),
        ({"amount": True, "method": "voucher"}, [(["amount"], "Should be a number")]),
        ({"amount": 1, "method": "cash"}, [(["method"], "Should be one of 'original payment', 'voucher'")]),
        ({"amount": 1, "method": "voucher", "tip": 2}, [(["tip"], "Extra inputs are not permitted")]),
        ({"amount": 1, "method": "voucher", "note": "x" * 201}, [(["note"], "Should have at most 200 characters")]),
        (
            {"amount": 1, "method": "voucher", "items": [{"name": "a"}, {"name": "b"}, {"name": ""}, {}]},
            [(["items", 2, "name"], "Should have at least 1 character"), (["items", 3, "name"], "Field required")],
        ),
        ({"amount": 1, "method": "voucher", "items": [{"name": 7}]}, [(["items", 0, "name"], "Should be a string")]),
    ],
)
def test_an_answer_that_does_not_fit_names_each_failing_path(response, expected):
    assert failures(FORM, response) == expected


def test_the_message_names_every_failing_path():
    with pytest.raises(ValidationFailed) as raised:
        check_answer(FORM, {"amount": -1, "items": [{}]})
    assert raised.value.message == (
        "Invalid request: body.response.amount, body.response.items.0.name, body.response.method"
    )
    assert raised.value.details == [
        {"loc": ["body", "response", "method"], "msg": "Field required", "type": "response_schema"},
        {
            "loc": ["body", "response", "amount"],
            "msg": "Should be greater than or equal to 0",
            "type": "response_schema",
        },
        {"loc": ["body", "response", "items", 0, "name"], "msg": "Field required", "type": "response_schema"},
    ]


def test_at_most_20_failures_are_listed():
    schema = {"type": "array", "items": {"type": "integer"}}
    assert paths(schema, ["x"] * 500) == [[n] for n in range(MAX_REPORTED)]


def test_a_nullable_field_reports_the_branch_its_type_fits():
    schema = {"properties": {"n": {"anyOf": [{"type": "number", "minimum": 0}, {"type": "null"}]}}}
    check_answer(schema, {"n": None})
    assert failures(schema, {"n": -1}) == [(["n"], "Should be greater than or equal to 0")]
    assert failures(schema, {"n": "x"}) == [(["n"], "Should be a number or null")]
    both = {"anyOf": [{"type": "string", "maxLength": 1}, {"type": "string", "minLength": 5}]}
    assert failures(both, "abc") == [([], "Should match at least one of the schemas in anyOf")]


def test_one_of_wants_exactly_one():
    schema = {"oneOf": [{"type": "integer"}, {"type": "number", "minimum": 2}]}
    check_answer(schema, 1)
    check_answer(schema, 2.5)
    assert failures(schema, 3) == [([], "Should match exactly one of the schemas in oneOf, not 2")]
    assert failures(schema, "x") == [([], "Should be a number or an integer")]
    assert failures(schema, 0.5) == [([], "Should be greater than or equal to 2")]


@pytest.mark.parametrize(
    ("schema", "valid", "invalid"),
    [
        ({"enum": [1, "a", None, [1, {"b": 2}]]}, [1.0, "a", None, [1, {"b": 2.0}]], [True, "A", [True, {"b": 2}], 2]),
        ({"const": {"a": [1, 2], "b": False}}, [{"b": False, "a": [1.0, 2]}], [{"a": [1, 2], "b": 0}, {"a": [2, 1]}]),
        ({"const": 0}, [0, 0.0, -0.0], [False, None, ""]),
        (
            {"uniqueItems": True},
            [[1, True], [0, False], [{"a": 1}, {"a": 2}], []],
            [[1, 1.0], [{"a": 1, "b": 2}, {"b": 2, "a": 1}]],
        ),
        ({"type": "integer"}, [1, 1.0, -0.0, 10**300], [1.5, True, "1"]),
        ({"multipleOf": 0.01}, [19.99, 0.07, 1e300, 100], [19.999, 0.001]),
        ({"type": "integer", "multipleOf": 0.123456789}, [], [1e308]),
        ({"multipleOf": 3}, [9, -3, 0, 9.0], [10, 9.5]),
        ({"exclusiveMinimum": 0, "exclusiveMaximum": 1}, [0.5, "not a number"], [0, 1]),
        ({"minProperties": 1, "maxProperties": 2}, [{"a": 1}, [], "x"], [{}, {"a": 1, "b": 2, "c": 3}]),
        ({"minItems": 1, "maxItems": 2}, [[1], [1, 2], {}], [[], [1, 2, 3]]),
        ({"minLength": 2, "maxLength": 3}, ["ab", "\U0001f600\U0001f600", 5], ["a", "abcd"]),  # code points, not bytes
        ({"items": [{"type": "string"}], "additionalItems": False}, [[], ["a"]], [[1], ["a", "b"]]),
        ({"contains": {"type": "string"}}, [[1, "a"], {}], [[], [1, 2]]),
        ({"propertyNames": {"maxLength": 2}}, [{"ab": 1}], [{"abc": 1}]),
        ({"dependencies": {"a": ["b"], "c": {"required": ["d"]}}}, [{"a": 1, "b": 2}, {"b": 1}], [{"a": 1}, {"c": 1}]),
        ({"if": {"const": 1}, "then": {"type": "integer"}, "else": {"type": "string"}}, [1, "x"], [2]),
        ({"not": {"type": "null"}}, [0, ""], [None]),
        ({"allOf": [{"minimum": 1}, {"maximum": 2}]}, [1, 2], [0, 3]),
        (False, [], [None, 0, {}]),
    ],
    ids=lambda value: canonical_json(value)[:50] if isinstance(value, dict) else None,
)
def test_keywords_follow_json_equality_and_draft_07(schema, valid, invalid):
    schema = {"allOf": [schema]} if isinstance(schema, bool) else schema
    for answer in valid:
        check_answer(schema, answer)
    for answer in invalid:
        with pytest.raises(ValidationFailed):
            check_answer(schema, answer)


@pytest.mark.parametrize(
    ("fmt", "valid", "invalid"),
    [
        (
            "date-time",
            [
                "2026-01-31T09:30:00Z",
                "2026-01-31t09:30:00.123+05:30",
                "2016-12-31T23:59:60Z",
                "1990-12-31T15:59:60-08:00",
            ],
            [
                "2026-01-31 09:30:00Z",
                "2026-02-30T09:30:00Z",
                "2026-01-31T09:30:00",
                "2026-01-31T12:59:60Z",
                "٢٠٢٦-01-31T09:30:00Z",
            ],
        ),
        ("date", ["2024-02-29"], ["2023-02-29", "2026-1-31", "20260131"]),
        ("time", ["09:30:00Z", "23:59:60Z"], ["24:00:00Z", "09:30", "09:30:00+25:00"]),
        (
            "email",
            ["a.b+c@example.com", "x@[192.0.2.1]"],
            ["no-at-sign", "a..b@example.com", "a@-example.com", "@example.com"],
        ),
        (
            "hostname",
            ["example.com", "xn--bcher-kva.example", "a"],
            ["-a.com", "a" * 64 + ".com", "ex ample.com", "a.com."],
        ),
        ("ipv4", ["192.0.2.1"], ["192.0.2.01", "256.1.1.1", "1.2.3"]),
        ("ipv6", ["2001:db8::1", "::1"], ["2001:db8::g", "fe80::1%eth0", "1:2:3:4:5:6:7:8:9"]),
        (
            "uri",
            ["https://example.com/a?b=c#d", "urn:isbn:0451450523", "http://[2001:db8::1]:8080/"],
            ["/relative", "http://a b", "http://x:port/"],
        ),
    ],
)
def test_the_formats_checked(fmt, valid, invalid):
    schema = {"format": fmt}
    for answer in [*valid, 5]:  # a format says nothing of other types
        check_answer(schema, answer)
    for answer in invalid:
        assert failures(schema, answer) == [([], f"Should be a valid {fmt} ({answers.FORMAT_NOTES[fmt]})")], answer


# ---------------------------------------------------------------- bounded work
def test_an_exponential_schema_stops_at_the_step_budget():
    # 15 levels of a 3-way anyOf through $ref: 3^15 (14 million) evaluations in 1.7 KiB.
    schema = {"definitions": {f"d{n}": {"anyOf": [{"$ref": f"#/definitions/d{n - 1}"}] * 3} for n in range(1, 16)}}
    schema["definitions"]["d0"] = {"type": "string"}
    schema["$ref"] = "#/definitions/d15"
    started = time.perf_counter()
    assert failures(schema, 5) == [
        ([], "Not checked: the request's response_schema takes over 100,000 steps on this answer")
    ]
    assert time.perf_counter() - started < 5  # ~0.2 s here; the bound is the step count, not the clock


def test_a_deep_answer_stops_at_the_depth_bound_and_never_overflows_the_stack():
    schema = {"type": "array", "items": {"allOf": [{"allOf": [{"$ref": "#"}]}]}}
    deep: list = []
    for _ in range(62):  # 63 levels: what a request body may hold
        deep = [deep]
    assert failures(schema, deep) == [
        ([], "Not checked: the request's response_schema nests over 200 levels deep on this answer")
    ]
    check_answer({"type": "array", "items": {"$ref": "#"}}, deep)

    # At the bound, anyOf (three frames a subschema) still leaves a quarter of the stack to the caller.
    branching = {"type": "array", "items": {"anyOf": [{"anyOf": [{"$ref": "#"}]}]}}

    def from_deep_in_the_stack(frames):
        return from_deep_in_the_stack(frames - 1) if frames else failures(branching, deep)

    assert len(from_deep_in_the_stack(sys.getrecursionlimit() // 4)) == 1


def test_unique_items_and_enum_compare_hashes_not_pairs():
    # Pairwise, 8,000 items would be 32 million comparisons for uniqueItems, 12 million for the enum.
    unique = {"type": "array", "uniqueItems": True}
    started = time.perf_counter()
    check_answer(unique, [{"n": n} for n in range(8000)])
    assert failures(unique, [*range(7999), 5]) == [([], "Should have unique items (item 7999 repeats item 5)")]
    listed = {"type": "array", "items": {"enum": list(range(1500))}}
    check_answer(listed, [n % 1500 for n in range(8000)])
    assert paths(listed, [*(n % 1500 for n in range(7999)), 1500]) == [[7999]]
    assert time.perf_counter() - started < 2  # ~0.1 s here


def test_a_stored_schema_that_is_now_refused_is_a_422_not_a_500():
    with pytest.raises(ValidationFailed) as raised:
        check_answer({"pattern": "^a"}, "a")
    (detail,) = raised.value.details
    assert detail["loc"] == ["body", "response"] and "it can only be rejected" in detail["msg"]


# ---------------------------------------------------------------- the cache
@pytest.fixture
def fresh_cache():
    cached_schema.cache_clear()
    yield
    cached_schema.cache_clear()


def test_a_schema_is_compiled_once_per_warm_container(fresh_cache):
    check_answer(FORM, {"amount": 1, "method": "voucher"})
    with pytest.raises(ValidationFailed):
        check_answer(FORM, {"amount": -1, "method": "voucher"})
    reordered = dict(reversed(list(FORM.items())))  # the same schema: the same canonical JSON
    check_answer(reordered, {"amount": 2, "method": "voucher"})
    info = cached_schema.cache_info()
    assert (info.misses, info.hits) == (1, 2)
    check_answer({**FORM, "title": "another"}, {"amount": 1, "method": "voucher"})
    assert cached_schema.cache_info().misses == 2


def test_the_cache_is_bounded(fresh_cache):
    for n in range(SCHEMA_CACHE_SIZE + 10):
        check_answer({"maximum": n}, 0)
    info = cached_schema.cache_info()
    assert (info.misses, info.currsize, info.maxsize) == (SCHEMA_CACHE_SIZE + 10, SCHEMA_CACHE_SIZE, SCHEMA_CACHE_SIZE)


def test_a_refused_schema_is_not_cached(fresh_cache):
    for _ in range(2):
        with pytest.raises(ValidationFailed):
            check_answer({"pattern": "a"}, "a")
    assert cached_schema.cache_info().currsize == 0


# ---------------------------------------------------------------- agreement with jsonschema
_NAMES = st.sampled_from(["a", "b", "c"])
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.sampled_from([0.5, 1.0, -2.5])
    | st.sampled_from(["", "a", "ab", "abc"])
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_NAMES, inner, max_size=3),
    max_leaves=8,
)
_TYPES = st.sampled_from(["null", "boolean", "integer", "number", "string", "array", "object"])
_LEAF_KEYWORDS = st.one_of(
    st.builds(lambda t: {"type": t}, _TYPES | st.lists(_TYPES, min_size=1, max_size=3, unique=True)),
    st.builds(lambda v: {"enum": v}, st.lists(_VALUES, min_size=1, max_size=3)),
    st.builds(lambda v: {"const": v}, _VALUES),
    st.builds(
        lambda k, n: {k: n},
        st.sampled_from(["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]),
        st.integers(-2, 2) | st.just(0.5),
    ),
    st.builds(lambda n: {"multipleOf": n}, st.sampled_from([1, 2, 0.5, 0.25])),
    st.builds(
        lambda k, n: {k: n},
        st.sampled_from(["minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"]),
        st.integers(0, 3),
    ),
    st.builds(lambda u: {"uniqueItems": u}, st.booleans()),
    st.builds(lambda r: {"required": r}, st.lists(_NAMES, max_size=2, unique=True)),
    st.just({}),
)


def _grammar(leaves: st.SearchStrategy) -> st.SearchStrategy:
    def extend(inner):
        return st.one_of(
            st.builds(lambda a, b: {**a, **b}, inner, inner),
            st.builds(lambda p: {"properties": p}, st.dictionaries(_NAMES, inner, max_size=2)),
            st.builds(lambda s: {"additionalProperties": s}, inner | st.booleans()),
            st.builds(lambda s: {"items": s}, inner | st.lists(inner, min_size=1, max_size=2)),
            st.builds(lambda s, b: {"items": [s], "additionalItems": b}, inner, inner | st.booleans()),
            st.builds(lambda s: {"contains": s}, inner),
            st.builds(lambda s: {"propertyNames": s}, inner),
            st.builds(
                lambda k, s: {k: s},
                st.sampled_from(["allOf", "anyOf", "oneOf"]),
                st.lists(inner, min_size=1, max_size=3),
            ),
            st.builds(lambda s: {"not": s}, inner),
            st.builds(lambda i, t, e: {"if": i, "then": t, "else": e}, inner, inner, inner),
            st.builds(lambda n, d: {"dependencies": {n: d}}, _NAMES, inner | st.lists(_NAMES, max_size=2, unique=True)),
        )

    return st.recursive(leaves, extend, max_leaves=6)


def _schemas() -> st.SearchStrategy:
    """Schemas of every keyword checked here; `$ref`s anywhere, to `#/definitions/d` (itself ref-free)."""
    body = _grammar(_LEAF_KEYWORDS | st.just({"$ref": "#/definitions/d"}))
    return st.builds(lambda b, d: {"allOf": [b], "definitions": {"d": d}}, body, _grammar(_LEAF_KEYWORDS))


def accepted(schema):
    """check_schema, assuming away what the generator may build and we refuse on purpose."""
    try:
        check_schema(schema)
    except ValueError as exc:
        assume("beside $ref would be ignored" not in str(exc))
        raise


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=_schemas(), values=st.lists(_VALUES, min_size=1, max_size=5))
def test_valid_and_invalid_as_jsonschema_says(schema, values):
    accepted(schema)
    oracle = jsonschema.Draft7Validator(schema)
    for value in values:
        expected = oracle.is_valid(value)
        try:
            check_answer(schema, value)
            valid = True
        except ValidationFailed:
            valid = False
        assert valid == expected, (schema, value)


@settings(max_examples=200, deadline=None)
@given(schema=_schemas())
def test_every_generated_schema_is_one_jsonschema_accepts(schema):
    jsonschema.Draft7Validator.check_schema(schema)
    accepted(schema)
