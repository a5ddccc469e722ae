"""The tool registry and the in-memory RunContext."""

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from oversight.tools import JobCancelled, NoParameters, Tool, ToolRegistry, all_tools, get_tool
from oversight.tools.recording import RecordingRunContext


class Greeting(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str


def greet(params: Greeting, ctx):
    ctx.log("INFO", f"greeting {params.name}")
    return {"hello": params.name}


def test_importing_the_package_registers_the_built_in_tools_sorted_by_name():
    assert [t.name for t in all_tools()] == ["export_interventions", "http_post", "recompute_stats"]
    assert get_tool("http_post") is all_tools()[1]
    assert get_tool("no_such_tool") is None


def test_built_in_tools_describe_themselves_for_get_tools():
    export, http_post, recompute = all_tools()
    assert (export.cacheable, http_post.cacheable, recompute.cacheable) == (True, False, False)
    assert export.schema()["properties"]["format"]["enum"] == ["jsonl", "csv"]
    assert export.schema()["additionalProperties"] is False
    assert set(http_post.schema()["properties"]) == {"url", "json", "headers", "timeout_seconds"}
    assert recompute.schema()["properties"] == {}
    for each in all_tools():
        assert each.description and 1 <= each.timeout_seconds <= 900


def test_the_decorator_registers_and_returns_the_function_unchanged():
    registry = ToolRegistry()
    decorated = registry.tool(
        name="greet", description="Say hello", parameters=Greeting, timeout_seconds=5, cacheable=True
    )(greet)
    assert decorated is greet
    registered = registry.get("greet")
    assert (registered.name, registered.description, registered.timeout_seconds, registered.cacheable) == (
        "greet",
        "Say hello",
        5,
        True,
    )
    assert registered.schema() == Greeting.model_json_schema()
    ctx = RecordingRunContext()
    assert registered.run(registered.parameters.model_validate({"name": "ana"}), ctx) == {"hello": "ana"}
    assert ctx.logs == [("INFO", "greeting ana")]


def test_a_duplicate_name_is_refused():
    registry = ToolRegistry()
    registry.register(Tool("greet", "one", Greeting, 5, False, greet))
    with pytest.raises(ValueError, match="already registered"):
        registry.register(Tool("greet", "two", Greeting, 5, False, greet))
    registry.unregister("greet")
    assert registry.get("greet") is None
    registry.register(Tool("greet", "two", Greeting, 5, False, greet))
    assert registry.get("greet").description == "two"


def test_tools_are_sorted_by_name():
    registry = ToolRegistry()
    for name in ("zeta", "alpha", "mid"):
        registry.register(Tool(name, name, Greeting, 5, False, greet))
    assert [t.name for t in registry.all_tools()] == ["alpha", "mid", "zeta"]


class Lenient(BaseModel):
    name: str


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"parameters": Lenient}, "extra='forbid'"),
        ({"parameters": dict}, "pydantic model"),
        ({"name": "Bad Name"}, "must match"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"timeout_seconds": 901}, "timeout_seconds"),
    ],
)
def test_a_tool_must_be_well_formed(fields, error):
    spec = {
        "name": "greet",
        "description": "d",
        "parameters": Greeting,
        "timeout_seconds": 5,
        "cacheable": False,
        "run": greet,
        **fields,
    }
    with pytest.raises((TypeError, ValueError), match=error):
        Tool(**spec)


def test_no_parameters_accepts_only_an_empty_object():
    assert NoParameters.model_validate({}) == NoParameters()
    with pytest.raises(ValidationError):
        NoParameters.model_validate({"anything": 1})


# ------------------------------------------------------- RecordingRunContext
def test_recording_context_keeps_logs_and_streamed_outputs():
    ctx = RecordingRunContext(job_id="job-1", tenant="globex")
    ctx.log("DEBUG", "starting")
    output = ctx.write_output("out.txt", (part for part in [b"ab", b"", b"cde"]), "text/plain")
    assert (output.name, output.size_bytes) == ("out.txt", 5)
    assert ctx.outputs == {"out.txt": b"abcde"} and ctx.chunk_counts == {"out.txt": 3}
    assert ctx.content_types == {"out.txt": "text/plain"} and ctx.logs == [("DEBUG", "starting")]
    assert (ctx.job_id, ctx.tenant) == ("job-1", "globex")


def test_recording_context_enforces_the_contract():
    ctx = RecordingRunContext()
    with pytest.raises(ValueError, match="log level"):
        ctx.log("TRACE", "no such level")
    with pytest.raises(TypeError, match="bytes"):
        ctx.write_output("a.txt", ["text, not bytes"], "text/plain")
    ctx.write_output("a.txt", [b"x"], "text/plain")
    with pytest.raises(ValueError, match="already written"):
        ctx.write_output("a.txt", [b"y"], "text/plain")


def test_a_failing_stream_leaves_no_output():
    def chunks():
        yield b"partial"
        raise JobCancelled("stop")

    ctx = RecordingRunContext()
    with pytest.raises(JobCancelled):
        ctx.write_output("a.txt", chunks(), "text/plain")
    assert ctx.outputs == {}


def test_cancellation_can_be_flipped_or_scheduled():
    ctx = RecordingRunContext()
    assert ctx.cancelled() is False
    ctx.cancel()
    assert ctx.cancelled() is True

    scheduled = RecordingRunContext(cancel_after=2)
    assert [scheduled.cancelled() for _ in range(4)] == [False, False, True, True]
    assert scheduled.cancel_checks == 4


# ------------------------------------------------- required role, redaction
def test_the_decorator_passes_a_required_role_and_a_redaction():
    registry = ToolRegistry()
    registry.tool(
        name="greet",
        description="Say hello",
        parameters=Greeting,
        timeout_seconds=5,
        cacheable=False,
        required_role="legal",
        redact=lambda p: {**p, "name": "[redacted]"},
    )(greet)
    registered = registry.get("greet")
    assert registered.required_role == "legal"
    assert registered.shown_parameters({"name": "ana"}) == {"name": "[redacted]"}
    plain = Tool("plain", "d", Greeting, 5, False, greet)
    assert plain.required_role is None and plain.shown_parameters({"name": "ana"}) == {"name": "ana"}


@pytest.mark.parametrize("role", ["", "two words", "x" * 65, "admin\n"])
def test_a_required_role_must_be_a_role_name(role):
    with pytest.raises(ValueError, match="required_role"):
        Tool("greet", "d", Greeting, 5, False, greet, required_role=role)


def test_http_post_redacts_header_values_named_like_secrets():
    http_post = get_tool("http_post")
    headers = {
        "Authorization": "a",
        "proxy-authorization": "b",
        "Cookie": "c",
        "X-Api-Key": "d",
        "X-Auth-Token": "e",
        "X-Client-Secret": "f",
        "X-Hub-Signature-256": "g",
        "X-Trace": "visible",
        "Content-Type": "text/plain",
    }
    shown = http_post.shown_parameters({"url": "https://h/", "json": {}, "timeout_seconds": 10, "headers": headers})
    assert shown["headers"] == {
        "Authorization": "[redacted]",
        "proxy-authorization": "[redacted]",
        "Cookie": "[redacted]",
        "X-Api-Key": "[redacted]",
        "X-Auth-Token": "[redacted]",
        "X-Client-Secret": "[redacted]",
        "X-Hub-Signature-256": "[redacted]",
        "X-Trace": "visible",
        "Content-Type": "text/plain",
    }
    unchanged = {"url": "https://h/", "json": {}, "headers": {"X-Trace": "v"}}
    assert http_post.shown_parameters(unchanged) == unchanged
