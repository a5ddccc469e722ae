"""Parameter validation of the built-in tools: what POST /jobs answers 422."""

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from oversight.tools import get_tool


def errors(tool_name, parameters):
    with pytest.raises(ValidationError) as raised:
        get_tool(tool_name).parameters.model_validate(parameters)
    return [(list(e["loc"]), e["msg"]) for e in raised.value.errors()]


def valid(tool_name, parameters):
    return get_tool(tool_name).parameters.model_validate(parameters)


# ---------------------------------------------------------------- export
def test_export_defaults_to_jsonl_of_everything():
    params = valid("export_interventions", {})
    assert (params.format, params.status, params.created_from, params.created_to) == ("jsonl", None, None, None)


def test_export_accepts_a_format_a_status_and_a_range():
    params = valid(
        "export_interventions",
        {
            "format": "csv",
            "status": "APPROVED",
            "created_from": "2026-11-01T00:00:00Z",
            "created_to": "2026-11-02T01:00:00+01:00",
        },
    )
    assert params.format == "csv" and params.status.value == "APPROVED"
    assert params.created_to == datetime(2026, 11, 2, tzinfo=UTC)
    dumped = params.model_dump(mode="json")  # one canonical form whatever the offset given
    assert (dumped["created_from"], dumped["created_to"]) == ("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z")


@pytest.mark.parametrize(
    ("parameters", "loc"),
    [
        ({"format": "xml"}, ["format"]),
        ({"status": "DONE"}, ["status"]),
        ({"created_from": "2026-11-01T00:00:00"}, ["created_from"]),  # naive: which zone?
        ({"created_to": "yesterday"}, ["created_to"]),
        ({"limit": 10}, ["limit"]),
    ],
)
def test_export_refuses_bad_parameters_naming_the_field(parameters, loc):
    assert [where for where, _ in errors("export_interventions", parameters)] == [loc]


def test_export_range_must_be_in_order():
    reversed_range = {"created_from": "2026-11-02T00:00:00Z", "created_to": "2026-11-01T00:00:00Z"}
    found = errors("export_interventions", reversed_range)
    assert found == [(["created_to"], "Value error, created_to must not be before created_from")]
    assert valid("export_interventions", {"created_from": "2026-11-01T00:00:00Z", "created_to": "2026-11-01T00:00:00Z"})


# ---------------------------------------------------------------- http_post
@pytest.fixture
def allow(monkeypatch):
    def set_allowed(value):
        monkeypatch.setenv("HTTP_POST_ALLOWED_HOSTS", value)

    set_allowed("hooks.example.com, 127.0.0.1:8080, [::1]:9000")
    return set_allowed


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/notify?x=1",
        "http://hooks.example.com/",  # a bare host allows the scheme's default port
        "https://HOOKS.example.com:443/",
        "http://127.0.0.1:8080/hook",
        "http://[::1]:9000/",
    ],
)
def test_http_post_accepts_allow_listed_hosts(allow, url):
    params = valid("http_post", {"url": url, "json": {"a": [1, 2]}})
    assert params.payload == {"a": [1, 2]} and params.timeout_seconds == 10 and params.headers == {}


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/",
        "https://evil.hooks.example.com/",
        "https://hooks.example.com:8443/",  # a bare host does not allow other ports
        "http://127.0.0.1:8081/",
        "http://127.0.0.1/",
        "http://[::1]:9001/",
        "ftp://hooks.example.com/",
        "hooks.example.com",
    ],
)
def test_http_post_refuses_other_hosts_and_schemes_naming_url(allow, url):
    assert [where for where, _ in errors("http_post", {"url": url, "json": {}})] == [["url"]]


def test_http_post_allows_nothing_when_the_setting_is_empty_or_missing(allow, monkeypatch):
    allow("")
    assert errors("http_post", {"url": "https://hooks.example.com/", "json": {}}) == [
        (["url"], "Value error, host hooks.example.com is not in HTTP_POST_ALLOWED_HOSTS")
    ]
    monkeypatch.delenv("HTTP_POST_ALLOWED_HOSTS")
    assert errors("http_post", {"url": "https://hooks.example.com/", "json": {}})[0][0] == ["url"]


@pytest.mark.parametrize(
    "entry",
    ["hooks.example.com:http", "hooks.example.com:70000", "hooks.example.com/path", "user@hooks.example.com", ":8080"],
)
def test_a_malformed_allow_list_refuses_everything_with_a_clear_message(allow, entry):
    allow(f"hooks.example.com, {entry}")
    [(loc, message)] = errors("http_post", {"url": "https://hooks.example.com/", "json": {}})
    assert loc == ["url"] and f"entry '{entry}' is not `host` or `host:port`" in message


def test_http_post_parameters_keep_the_name_json(allow):
    params = valid("http_post", {"url": "https://hooks.example.com/", "json": None})
    assert params.model_dump(mode="json") == {
        "url": "https://hooks.example.com/",
        "json": None,
        "headers": {},
        "timeout_seconds": 10,
    }
    assert errors("http_post", {"url": "https://hooks.example.com/"}) == [(["json"], "Field required")]
    assert errors("http_post", {"url": "https://hooks.example.com/", "json": 1, "payload": 1})[0][0] == ["payload"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "internal.example"},
        {"content-length": "0"},
        {"Transfer-Encoding": "chunked"},
        {"X-Ok": "line\r\nInjected: yes"},
        {"Bad Name": "x"},
        {f"X-H{n}": "v" for n in range(21)},
    ],
)
def test_http_post_refuses_unsafe_or_too_many_headers(allow, headers):
    found = errors("http_post", {"url": "https://hooks.example.com/", "json": {}, "headers": headers})
    assert found[0][0] == ["headers"]


def test_http_post_accepts_up_to_20_ordinary_headers(allow):
    headers = {f"X-H{n}": "v" for n in range(19)} | {"Authorization": "Bearer t"}
    assert valid("http_post", {"url": "https://hooks.example.com/", "json": {}, "headers": headers}).headers == headers


@pytest.mark.parametrize("timeout", [0, 31, "ten"])
def test_http_post_timeout_is_1_to_30_seconds(allow, timeout):
    found = errors("http_post", {"url": "https://hooks.example.com/", "json": {}, "timeout_seconds": timeout})
    assert found[0][0] == ["timeout_seconds"]
