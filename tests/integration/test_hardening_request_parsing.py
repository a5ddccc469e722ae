"""Bad input is a 4xx naming the field, never a 5xx, and nothing is stored:
non-finite and out-of-range numbers, bodies nested too deeply, lone
surrogates, out-of-range export dates; a 404 never echoes the id asked for."""

import json

import pytest

from tests.support import ADMIN, OPERATOR, REQUESTER

MAX_DEPTH = 64  # the documented nesting limit (oversight.json_body.MAX_DEPTH); the body is depth 1

CREATE = '{"uow_id":"u","type":"clarification","title":"t","context":%s}'
HUGE_INT = "9" * 5000  # over Python's 4,300-digit int conversion limit


def stored_items(dynamodb):
    """Every item in every table: what a refused request must leave empty."""
    return sum(dynamodb.scan(TableName=name)["Count"] for name in dynamodb.list_tables()["TableNames"])


def assert_422_at(reply, *locs, type_=None):
    assert reply.status == 422, reply.body
    assert reply.body["code"] == "validation_error"
    assert [d["loc"] for d in reply.body["details"]] == [list(loc) for loc in locs]
    if type_ is not None:
        assert {d["type"] for d in reply.body["details"]} == {type_}
    for loc in locs:
        assert ".".join(map(str, loc)) in reply.body["message"]


# ------------------------------------------------ 1. non-finite numbers
NON_FINITE = [
    ("NaN", "finite_number"),
    ("Infinity", "finite_number"),
    ("-Infinity", "finite_number"),
    ("1e400", "number_too_large"),
    ("-1e400", "number_too_large"),
    (HUGE_INT, "number_too_large"),
]


@pytest.mark.parametrize("number, type_", NON_FINITE + [("1" + "0" * 400, "number_too_large")])
def test_non_finite_numbers_in_context_are_422_naming_the_path_and_nothing_is_stored(api, dynamodb, number, type_):
    reply = api.post("/interventions", REQUESTER, raw_body=CREATE % f'{{"a":{{"b":{number}}}}}')
    assert_422_at(reply, ["body", "context", "a", "b"], type_=type_)
    assert stored_items(dynamodb) == 0


def test_non_finite_numbers_are_422_with_every_offending_path(api):
    reply = api.post("/interventions", REQUESTER, raw_body=CREATE % '{"a":[1,NaN],"b":{"c":Infinity},"d":2.5}')
    assert_422_at(reply, ["body", "context", "a", 1], ["body", "context", "b", "c"])
    assert {d["type"] for d in reply.body["details"]} == {"finite_number"}


@pytest.mark.parametrize("number, type_", NON_FINITE)
def test_non_finite_or_huge_numbers_in_a_decision_response_are_422_and_the_decision_is_not_made(api, number, type_):
    iv = api.create()
    body = f'{{"reason":"ok","response":{{"x":{number}}}}}'
    reply = api.post(f"/interventions/{iv['id']}/approve", ADMIN, raw_body=body)
    assert_422_at(reply, ["body", "response", "x"], type_=type_)
    assert api.get(f"/interventions/{iv['id']}", OPERATOR).body == iv


@pytest.mark.parametrize("number, type_", NON_FINITE)
def test_non_finite_or_huge_numbers_in_job_parameters_are_422_and_no_job_is_stored(api, dynamodb, number, type_):
    """Refused as numbers while reading the body, before any tool's model
    (which would only say the parameter is unknown)."""
    reply = api.post("/jobs", REQUESTER, raw_body=f'{{"tool":"recompute_stats","parameters":{{"n":{number}}}}}')
    assert_422_at(reply, ["body", "parameters", "n"], type_=type_)
    assert stored_items(dynamodb) == 0


@pytest.mark.parametrize("number, type_", NON_FINITE)
def test_non_finite_or_huge_numbers_in_http_post_json_are_422_and_no_job_is_stored(
    api, dynamodb, monkeypatch, number, type_
):
    monkeypatch.setenv("HTTP_POST_ALLOWED_HOSTS", "hooks.example.com")
    body = f'{{"tool":"http_post","parameters":{{"url":"https://hooks.example.com/","json":{{"v":[{number}]}}}}}}'
    reply = api.post("/jobs", REQUESTER, raw_body=body)
    assert_422_at(reply, ["body", "parameters", "json", "v", 0], type_=type_)
    assert stored_items(dynamodb) == 0


def test_numbers_up_to_the_double_range_are_accepted_and_one_beyond_it_is_422(api):
    big = "9" * 308
    context = f'{{"max":1.7976931348623157e308,"tiny":5e-324,"big":{big},"neg":-{big}}}'
    reply = api.post("/interventions", REQUESTER, raw_body=CREATE % context)
    assert reply.status == 201
    assert reply.body["context"] == json.loads(context)
    beyond = api.post("/interventions", REQUESTER, raw_body=CREATE % '{"max":1.7976931348623159e308}')
    assert_422_at(beyond, ["body", "context", "max"], type_="number_too_large")


# ------------------------------------------------ 2. never a 5xx
def test_a_body_of_20000_open_brackets_is_422_not_a_recursion_error(api, dynamodb):
    reply = api.post("/interventions", REQUESTER, raw_body="[" * 20000)
    assert reply.status == 422 and reply.body["code"] == "validation_error"
    assert reply.body["details"][0]["loc"] == ["body"]
    assert stored_items(dynamodb) == 0


@pytest.mark.parametrize("depth", [MAX_DEPTH, 300, 900, 5000])
def test_valid_json_nested_too_deeply_is_422_at_the_deepest_allowed_point(api, dynamodb, depth):
    """Well-formed, so json accepts it; stored, it would fail pydantic, the
    serialiser or the stack later. The body is depth 1, context depth 2,
    the list under "a" depth 3."""
    reply = api.post("/interventions", REQUESTER, raw_body=CREATE % ('{"a":' + "[" * depth + "]" * depth + "}"))
    assert reply.status == 422 and reply.body["code"] == "validation_error"
    assert reply.body["details"][0]["type"] == "json_too_deep"
    loc = reply.body["details"][0]["loc"]
    assert loc == ["body"] or loc == ["body", "context", "a", *[0] * (MAX_DEPTH - 2)]
    assert stored_items(dynamodb) == 0


def test_nesting_to_the_limit_is_accepted_and_one_level_more_is_422(api):
    nested = "[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2)  # from depth 3 to MAX_DEPTH
    reply = api.post("/interventions", REQUESTER, raw_body=CREATE % f'{{"a":{nested}}}')
    assert reply.status == 201
    assert api.get(f"/interventions/{reply.body['id']}", OPERATOR).body["context"] == reply.body["context"]
    deeper = api.post("/interventions", REQUESTER, raw_body=CREATE % f'{{"a":[{nested}]}}')
    assert_422_at(deeper, ["body", "context", "a", *[0] * (MAX_DEPTH - 2)], type_="json_too_deep")


@pytest.mark.parametrize("field", ["expires_in_seconds", "uow_id"])
def test_an_integer_of_5000_digits_in_a_typed_field_is_422_naming_it(api, field):
    body = {"uow_id": "u", "type": "approval", "title": "t"}
    text = json.dumps(body)[:-1] + f',"{field}":{HUGE_INT}}}'
    assert_422_at(api.post("/interventions", REQUESTER, raw_body=text), ["body", field])


@pytest.mark.parametrize(
    "text, loc",
    [
        ('{"a":"\\ud800"}', ["body", "context", "a"]),
        ('{"a":["ok","\\udfff x"]}', ["body", "context", "a", 1]),
        ('{"\\udc00":1}', ["body", "context"]),  # the object: the key itself cannot be encoded in the answer
    ],
    ids=["value", "in-a-list", "key"],
)
def test_lone_surrogates_are_422_naming_the_path_and_never_echoed(api, dynamodb, text, loc):
    reply = api.post("/interventions", REQUESTER, raw_body=CREATE % text)
    assert_422_at(reply, loc)
    assert reply.body["details"][0]["type"] == "string_unicode"
    reply.raw["body"].encode("utf-8")  # the answer itself is valid UTF-8
    assert stored_items(dynamodb) == 0


@pytest.mark.parametrize(
    "field, moment",
    [("created_from", "9999-12-31T23:59:59-23:59"), ("created_to", "0001-01-01T00:00:00+23:59")],
)
def test_export_dates_whose_utc_moment_overflows_are_422_naming_the_field(api, dynamodb, field, moment):
    reply = api.post("/jobs", REQUESTER, {"tool": "export_interventions", "parameters": {field: moment}})
    assert_422_at(reply, ["body", "parameters", field])
    assert "UTC" in reply.body["details"][0]["msg"]
    assert stored_items(dynamodb) == 0
    edges = {"created_from": "0001-01-01T00:00:00Z", "created_to": "9999-12-31T23:59:59Z"}
    assert api.post("/jobs", REQUESTER, {"tool": "export_interventions", "parameters": edges}).status == 202


# ------------------------------------------------ 4. a 404 never echoes the input
@pytest.mark.parametrize(
    "path",
    ["/interventions/{id}", "/interventions/{id}/events"],
)
def test_not_found_never_echoes_the_id(api, path):
    for asked in ["x" * 5000, "<script>alert(1)", "00000000-0000-4000-8000-000000000000"]:
        reply = api.get(path.format(id=asked), OPERATOR)
        assert reply.status == 404 and reply.body["code"] == "not_found"
        assert reply.body["message"] == "No intervention with that id"
        assert asked not in reply.raw["body"]


@pytest.mark.parametrize("action", ["claim", "approve"])
def test_not_found_on_a_transition_never_echoes_the_id(api, action):
    for asked in ["y" * 5000, "00000000-0000-4000-8000-000000000000"]:
        reply = api.post(f"/interventions/{asked}/{action}", ADMIN, {"reason": "r"} if action == "approve" else None)
        assert reply.status == 404 and reply.body["message"] == "No intervention with that id"
        assert asked not in reply.raw["body"]
