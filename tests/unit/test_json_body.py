"""The strict request-body reader on its own: what it refuses, the path it
names, and that everything else reads exactly as json.loads reads it."""

import json

import pytest

from oversight.errors import ValidationFailed
from oversight.json_body import MAX_DEPTH, parse_json_body


def refusals(text):
    with pytest.raises(ValidationFailed) as refused:
        parse_json_body(text)
    assert refused.value.status == 422 and refused.value.code == "validation_error"
    return [(d["loc"], d["type"]) for d in refused.value.details]


@pytest.mark.parametrize(
    "text",
    [
        '{"a":[1,-2.5e-3,true,null,"x"],"b":{}}',
        '"\\ud83d\\ude00 paired surrogates are an emoji"',
        "[]",
        "0",
        "-0.0",
        "5e-324",
        "1.7976931348623157e308",
        "9" * 308,
        '{"\\u00e9\\u0000":"\\u2028"}',
    ],
)
def test_ordinary_json_reads_as_json_loads_reads_it(text):
    assert parse_json_body(text) == json.loads(text)


def test_every_refused_value_is_named_by_its_path_in_document_order():
    text = '{"a":[NaN,{"b":1e999}],"c":-Infinity,"d":"\\udbff","\\udc00":1,"e":' + "1" * 400 + "}"
    assert refusals(text) == [
        (["body"], "string_unicode"),  # the object holding a key that cannot be encoded
        (["body", "a", 0], "finite_number"),
        (["body", "a", 1, "b"], "number_too_large"),
        (["body", "c"], "finite_number"),
        (["body", "d"], "string_unicode"),
        (["body", "e"], "number_too_large"),
    ]


def test_a_refused_scalar_body_is_named_body():
    assert refusals("NaN") == [(["body"], "finite_number")]


def test_an_integer_is_held_to_the_double_range_before_it_is_converted():
    largest = int(1.7976931348623157e308)
    assert parse_json_body(str(largest)) == largest
    assert refusals(str(largest + 10**292)) == [(["body"], "number_too_large")]
    assert refusals("-" + "9" * 100_000) == [(["body"], "number_too_large")]  # no 4,300-digit ValueError


def test_depth_is_bounded_and_the_first_container_beyond_is_named():
    assert parse_json_body("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    assert refusals("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)) == [(["body", *[0] * MAX_DEPTH], "json_too_deep")]


def test_nesting_beyond_the_stack_is_a_validation_error_not_a_recursion_error():
    assert refusals("[" * 200_000 + "]" * 200_000) == [(["body"], "json_too_deep")]
    assert refusals("[" * 200_000) in ([(["body"], "json_too_deep")], [(["body"], "json_invalid")])


def test_the_number_of_details_is_capped():
    details = refusals("[" + ",".join(["NaN"] * 1000) + "]")
    assert 1 <= len(details) <= 20 and details[0] == (["body", 0], "finite_number")


def test_malformed_json_is_left_to_the_router_as_a_decode_error():
    with pytest.raises(json.JSONDecodeError):
        parse_json_body('{"a":')
