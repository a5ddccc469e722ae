"""Property, over thousands of generated requests to every API route (in
process, against moto): bad input never yields a 5xx, every 4xx carries the
spec's error body, every answer is strict JSON (no NaN or Infinity, even
from a record stored earlier in the run), and a 404 never echoes the id
asked for.

Generators: JSON bodies shaped like each route's own (so the values reach
the models and the stores) with NaN, ±Infinity, numbers beyond a double,
integers of thousands of digits, odd Unicode (lone surrogates, NUL, line
separators, astral characters) and odd dates; nesting from 1 to 30,000
levels; malformed JSON text and non-UTF-8 bytes; query strings; path ids.
The number of requests sent is printed at the end of the module."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local_runtime.template import Template
from tests.support import ADMIN

# Every route of the template, as the router sees it.
ROUTES = sorted({(route.method, route.path) for fn in Template().functions() for route in fn.routes})
POST_ROUTES = [r for r in ROUTES if r[0] == "POST"]

ERROR_CODES = {
    400: {"validation_error"},
    401: {"unauthorized"},
    403: {"forbidden"},
    404: {"not_found"},
    409: {"invalid_transition", "expired", "conflict"},
    413: {"payload_too_large"},
    422: {"validation_error", "idempotency_key_reused"},
}
FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

TALLY: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def report_inputs_tried(request):
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    statuses = ", ".join(f"{k[7:]}: {v}" for k, v in sorted(TALLY.items()) if k.startswith("status "))
    line = f"parser fuzz: {TALLY['requests']} requests sent to {len(ROUTES)} routes ({statuses})"
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # shown even when output is captured
            reporter.write_line(f"\n{line}")


# ------------------------------------------------------------ generators
class Raw:
    """A number token written as is: Python could not produce most of them."""

    def __init__(self, text: str) -> None:
        self.text = text


ODD_NUMBERS = st.sampled_from(
    [
        "NaN",
        "Infinity",
        "-Infinity",
        "1e400",
        "-1e400",
        "1e-400",
        "1" + "0" * 400,
        "9" * 5000,
        "-" + "9" * 4301,
        "1.7976931348623157e308",
        "1.7976931348623159e308",
        "-0",
        "0e0",
        "1E+2",
        "123456789012345678901234567890",
    ]
).map(Raw)
ODD_CHARACTERS = st.one_of(
    st.characters(codec=None, categories=["Cs", "Cc", "Zl", "Zp", "Cf", "Co"]),  # surrogates, controls, separators
    st.characters(min_codepoint=0x10000),  # astral
    st.characters(codec="utf-8"),
)
ODD_TEXT = st.text(ODD_CHARACTERS, max_size=40)
MOMENTS = st.builds(
    lambda day, sign, hours, minutes: f"{day.isoformat()}T00:00:00{sign}{hours:02d}:{minutes:02d}",
    st.sampled_from([date.min, date.max, date(2026, 11, 23)]),
    st.sampled_from("+-"),
    st.integers(0, 23),
    st.integers(0, 59),
) | st.sampled_from(["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "2026-13-01T00:00:00Z", "now"])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    ODD_NUMBERS,
    ODD_TEXT,
    MOMENTS,
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(ODD_TEXT | st.sampled_from(["a", "json"]), children, max_size=5)
    ),
    max_leaves=20,
)


def encode(value) -> str:
    """JSON text, any Raw token as written; NaN/Infinity as Python writes them."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{encode(str(k))}:{encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(encode(v) for v in value) + "]"
    return json.dumps(value)


def route_body(path: str, draw_value) -> dict:
    """A valid body for the route, with generated values in its own fields."""
    if path == "/interventions":
        return {"uow_id": "u", "type": "approval", "title": "t", "context": {"k": draw_value()}}
    if path.endswith(("/approve", "/reject")):
        return {"reason": "r", "response": draw_value()}
    if path.endswith(("/cancel", "/complete")):
        return {"reason": "r"}
    return {}  # claim, release, job cancel; POST /jobs is built by shaped_bodies


@st.composite
def shaped_bodies(draw):
    """(method, path, JSON text): a route's own body, one field replaced or
    added with a generated value, or a tool's parameters filled with them."""
    method, path = draw(st.sampled_from(POST_ROUTES))
    body = route_body(path, lambda: draw(JSON_VALUES))
    if path == "/jobs":  # each tool's own parameters, with generated values
        tool = draw(st.sampled_from(["export_interventions", "http_post", "recompute_stats", "nope"]))
        fields = {
            "export_interventions": ["format", "status", "created_from", "created_to"],
            "http_post": ["url", "json", "headers"],
            "recompute_stats": ["x"],
            "nope": ["y"],
        }[tool]
        body = {"tool": tool, "parameters": draw(st.dictionaries(st.sampled_from(fields), JSON_VALUES, max_size=3))}
    if draw(st.booleans()):
        key = draw(st.sampled_from([*body, "extra"]) if body else st.just("extra"))
        body[key] = draw(JSON_VALUES)
    return method, path, encode(body)


NESTING = st.builds(
    lambda opener, depth, closed: opener * depth + ({"[": "]", '{"a":': "}"}[opener] * depth if closed else ""),
    st.sampled_from(["[", '{"a":']),
    st.integers(1, 30_000),
    st.booleans(),
)
MALFORMED = st.one_of(
    st.text(max_size=200),
    st.text(ODD_CHARACTERS, max_size=50),
    st.binary(max_size=200),  # not UTF-8: sent base64-encoded, as API Gateway does
    st.sampled_from(
        [
            '{"a":',
            "{'a':1}",
            '{"a":1,}',
            "[1,]",
            '{"a":1}}',
            "\ufeff{}",
            '{"a":01}',
            '{"a":.5}',
            "nul",
            '{"a":"\\x"}',
            '{"a":"\\ud800"}',
            '"\\u12"',
            "1 2",
            "{}" * 30_000,
            '{"a":1}' + "\x00",
        ]
    ),
)
# What a URL path segment can carry to the router (urlsplit drops controls and spaces).
ID_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cc", "Z"], exclude_characters="/?#%"), min_size=1, max_size=6000
)
QUERY_VALUES = st.one_of(
    ODD_NUMBERS.map(lambda raw: raw.text),
    st.integers().map(str),
    st.floats().map(repr),
    st.text(st.characters(codec="utf-8"), max_size=300),
    st.sampled_from(["", "OPEN", "ALL", "PENDING", "critical"]),
)


# ------------------------------------------------------------ checks
def strict_json(text: str):
    def refuse(constant: str):
        raise AssertionError(f"answer holds {constant}: not strict JSON")

    return json.loads(text, parse_constant=refuse)


def check(reply, asked_id: str | None = None) -> None:
    TALLY["requests"] += 1
    TALLY[f"status {reply.status}"] += 1
    assert reply.status < 500, reply.body
    text = reply.raw.get("body") or ""
    if text:
        strict_json(text)
    if 400 <= reply.status < 500:
        body = reply.body
        assert isinstance(body, dict) and {"code", "message"} <= set(body) <= {"code", "message", "details"}, body
        assert body["code"] in ERROR_CODES[reply.status] and isinstance(body["message"], str)
        for detail in body.get("details") or []:
            assert isinstance(detail["loc"], list), detail
            assert isinstance(detail["msg"], str) and isinstance(detail["type"], str), detail
    if reply.status == 404 and asked_id is not None and len(asked_id) > 8:
        assert asked_id not in text, "a 404 echoed the id"


def known_ids(api) -> dict[str, str]:
    """A real intervention and job in the tenant, made once per test, so that
    generated bodies also reach the stores and the transitions."""
    if not hasattr(api, "fuzz_ids"):
        intervention = api.create()
        job = api.post("/jobs", ADMIN, {"tool": "recompute_stats", "parameters": {}})
        api.fuzz_ids = {"/interventions": intervention["id"], "/jobs": job.body["id"]}
    return api.fuzz_ids


def concrete(api, path: str, asked: str | None = None) -> str:
    if "{id}" not in path:
        return path
    real = known_ids(api)["/jobs" if path.startswith("/jobs") else "/interventions"]
    return path.replace("{id}", asked if asked is not None else real)


# ------------------------------------------------------------ properties
@settings(FUZZ, max_examples=1200)
@given(request=shaped_bodies())
def test_generated_json_bodies_never_yield_5xx(api, request):
    method, path, text = request
    check(api.request(method, concrete(api, path), ADMIN, raw_body=text))


@settings(FUZZ, max_examples=600)
@given(route=st.sampled_from(POST_ROUTES), raw=MALFORMED | NESTING)
def test_malformed_or_deeply_nested_json_text_never_yields_5xx(api, route, raw):
    method, path = route
    check(api.request(method, concrete(api, path), ADMIN, raw_body=raw))


@settings(FUZZ, max_examples=1400)
@given(
    route=st.sampled_from(ROUTES),
    asked=st.none() | ID_TEXT,
    query=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "limit",
                    "days",
                    "cursor",
                    "status",
                    "priority",
                    "type",
                    "uow_id",
                    "assigned_to",
                    "tool",
                    "required_role",
                    "x",
                ]
            ),
            QUERY_VALUES,
        ),
        max_size=3,
    ),
)
def test_generated_urls_never_yield_5xx_nor_a_404_echoing_the_id(api, route, asked, query):
    """Path ids (None: a real record's) and query strings, on every route."""
    method, path = route
    body = '{"reason":"r"}' if path.endswith(("/approve", "/reject")) else None
    url = concrete(api, path, asked) + (f"?{urlencode(query)}" if query else "")
    reply = api.request(method, url, ADMIN, raw_body=body)
    check(reply, asked if "{id}" in path else None)
    if reply.status == 404 and asked is not None and "{id}" in path:
        # Ids with characters Powertools' router does not match never reach the route.
        record = {"/jobs/": "job", "/webhooks/": "webhook subscription"}.get(
            path[: path.find("/", 1) + 1], "intervention"
        )
        assert reply.body["message"] in (f"No {record} with that id", "No such route")
