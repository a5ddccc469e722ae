"""Tools for the job tests, and what those tests read of the job queues
and the job counters."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict

from oversight.tools import JobCancelled, RunContext, ToolError, ToolRegistry
from oversight.tools.registry import DEFAULT_REGISTRY
from tests.support import VIEWER

# Collected here, registered in the default registry only while a job test
# runs (see `registered`), so other tests see the built-in tools alone.
TEST_TOOLS = ToolRegistry()
tool = TEST_TOOLS.tool

RUNS: dict[str, int] = {}
STARTED = threading.Event()
RELEASE = threading.Event()
# Ids of the jobs whose test_cooperative run has begun (many run at once).
RUNNING_JOBS: set[str] = set()


class EchoParameters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    repeat: int = 1


@tool(
    name="test_echo",
    description="Echo text to a file (tests)",
    parameters=EchoParameters,
    timeout_seconds=5,
    cacheable=True,
)
def echo(params: EchoParameters, ctx: RunContext) -> dict:
    RUNS["test_echo"] = RUNS.get("test_echo", 0) + 1
    print(f"echoing {params.text!r}")
    print("a warning", file=sys.stderr)
    ctx.log("INFO", f"echo {params.repeat} time(s)")
    ctx.write_output("echo.txt", (params.text.encode() + b"\n" for _ in range(params.repeat)), "text/plain")
    return {"echo": params.text, "repeat": params.repeat}


class NoParameters(BaseModel):
    model_config = ConfigDict(extra="forbid")


@tool(
    name="test_fail", description="Always raises (tests)", parameters=NoParameters, timeout_seconds=5, cacheable=False
)
def fail(params: NoParameters, ctx: RunContext) -> None:
    RUNS["test_fail"] = RUNS.get("test_fail", 0) + 1
    ctx.log("WARNING", "about to fail")
    raise RuntimeError("the tool broke")


@tool(
    name="test_slow",
    description="Runs until cancelled (tests)",
    parameters=NoParameters,
    timeout_seconds=1,
    cacheable=False,
)
def slow(params: NoParameters, ctx: RunContext) -> str:
    STARTED.set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if ctx.cancelled():
            ctx.log("INFO", "stopping: cancelled")
            raise JobCancelled()
        time.sleep(0.05)
    return "finished"


class WaitParameters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = 10


@tool(
    name="test_wait",
    description="Waits, checking for cancellation (tests)",
    parameters=WaitParameters,
    timeout_seconds=20,
    cacheable=False,
)
def wait(params: WaitParameters, ctx: RunContext) -> str:
    STARTED.set()
    _run_for(params.seconds, ctx, poll_seconds=0.05)
    return "waited"


def _run_for(seconds: float, ctx: RunContext, poll_seconds: float) -> None:
    """Spend `seconds`, asking for cancellation every `poll_seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ctx.cancelled():
            raise JobCancelled()
        time.sleep(poll_seconds)


class CooperativeParameters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float


@tool(
    name="test_cooperative",
    description="Runs for a given time, checking for cancellation (tests)",
    parameters=CooperativeParameters,
    timeout_seconds=20,
    cacheable=False,
)
def cooperative(params: CooperativeParameters, ctx: RunContext) -> str:
    RUNNING_JOBS.add(ctx.job_id)
    _run_for(params.seconds, ctx, poll_seconds=0.005)
    return "ran"


@tool(
    name="test_crash_on_release",
    description="Fails once released, cancelled or not (tests)",
    parameters=NoParameters,
    timeout_seconds=20,
    cacheable=False,
)
def crash_on_release(params: NoParameters, ctx: RunContext) -> None:
    RUNS["test_crash_on_release"] = RUNS.get("test_crash_on_release", 0) + 1
    STARTED.set()
    RELEASE.wait(15)
    raise RuntimeError("crashed while stopping")


@tool(
    name="test_big_output",
    description="Breaks mid-upload (tests)",
    parameters=NoParameters,
    timeout_seconds=30,
    cacheable=False,
)
def big_output(params: NoParameters, ctx: RunContext) -> None:
    """The output stream breaks after 9 MB: the upload is multipart (over
    8 MB) and is aborted; the job fails, without a retry."""

    def chunks() -> Iterator[bytes]:
        for _ in range(9):
            yield b"x" * (1024 * 1024)
        raise OSError("the source went away")

    try:
        ctx.write_output("big.bin", chunks())
    except OSError as error:
        raise ToolError(f"output lost: {error}") from None  # final: no retry


@contextlib.contextmanager
def registered():
    for test_tool in TEST_TOOLS.all_tools():
        DEFAULT_REGISTRY.register(test_tool)
    try:
        yield
    finally:
        for test_tool in TEST_TOOLS.all_tools():
            DEFAULT_REGISTRY.unregister(test_tool.name)


def reset() -> None:
    """Forget the previous test's runs and signals."""
    RUNS.clear()
    STARTED.clear()
    RELEASE.clear()
    RUNNING_JOBS.clear()


def queue_counts(sqs: Any, name: str = "JobQueue") -> dict[str, str]:
    """A queue's visible and in-flight message counts, as SQS reports them."""
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]


def job_counts(api: Any) -> dict[str, int]:
    """The jobs' counters by status (GET /stats), zeroes left out."""
    return {status: n for status, n in api.get("/stats", VIEWER).body["jobs"]["by_status"].items() if n}


def stored_state(job: dict[str, Any]) -> dict[str, Any]:
    """A job as read, without its download URLs: each read presigns them
    anew, with the wall clock's current second in them."""
    if not job.get("result"):
        return job
    outputs = [{k: v for k, v in o.items() if k != "url"} for o in job["result"].get("outputs", [])]
    return {**job, "result": {**job["result"], "outputs": outputs}}
