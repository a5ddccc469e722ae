"""Cold start per function, measured the way Lambda starts one, against the
least a function can be that makes the same AWS calls.

A: a fresh interpreter (bench/lambda_start.py) whose path holds only the
function's folder, the shared layer as `sam build` builds it (for this
machine's platform; the same pinned wheels and CPython 3.13 bytecode) and
the SDK that the runtime provides, with Lambda's variables and an active
trace header, imports the function's `app` and answers one real event
against the emulator. B: the same for bench/minimal/app.py, which imports
boto3, creates its clients and repeats the calls that A made in a recorded
run. Each is the median of RUNS runs, alternating A and B (AB, BA, ...) so
that drift in the machine's load falls on both; the load average is printed
with the table.

`python -m bench.cold_start [--runs 9] [--only create_intervention,...]
[--layer DIR]` (DIR: a built layer's `python` folder instead of a fresh
build)."""

from __future__ import annotations

import argparse
import importlib.metadata
import itertools
import json
import os
import pickle
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from local_runtime.aws import EmulatedAws  # noqa: E402
from local_runtime.environment import function_environments  # noqa: E402
from local_runtime.handlers import LAYER_PATH  # noqa: E402
from local_runtime.routing import Router, build_http_event  # noqa: E402
from local_runtime.template import Template  # noqa: E402
from local_runtime.workers import sqs_event_record  # noqa: E402
from tests.support import user  # noqa: E402

CHILD = Path(__file__).with_name("lambda_start.py")
MINIMAL = Path(__file__).with_name("minimal")
# What the Lambda runtime provides besides the standard library: the SDK.
SDK_DISTRIBUTIONS = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3")
# As Lambda sets it for an active trace (the X-Ray daemon's address answers nothing here: UDP, unread).
TRACE_VARIABLES = {
    "_X_AMZN_TRACE_ID": "Root=1-6750a1b2-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=1",
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
}
REQUESTER = user("bench-agent", "requester")
OPERATOR = user("bench-pilot", "operator")
ADMIN = user("bench-admin", "admin")


def lambda_environment(variables: dict[str, str]) -> dict[str, str]:
    """A function's variables (local_runtime.environment) as Lambda would
    give them with tracing active: the local runtime's switch that turns
    tracing off dropped, the trace header set, nothing else on PATH."""
    environment = {**variables, **TRACE_VARIABLES, "PATH": "/usr/bin:/bin"}
    environment.pop("POWERTOOLS_TRACE_DISABLED", None)
    return environment


def host_platform() -> str:
    return f"manylinux2014_{platform.machine()}"


def build_layer(destination: Path, platform_tag: str | None = None) -> Path:
    """The layer as `sam build` builds it (layers/oversight/Makefile): for
    `platform_tag`, by default this machine's platform (the Makefile's own
    default is Lambda's, arm64); its `python` folder (Lambda's /opt/python)."""
    subprocess.run(  # noqa: S603
        ["make", "-s", "-C", str(LAYER_PATH), "build-SharedLayer", f"ARTIFACTS_DIR={destination}",  # noqa: S607
         f"LAYER_PLATFORM={platform_tag or host_platform()}"],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return destination / "python"


def copy_sdk(destination: Path) -> Path:
    """The SDK's packages as installed here (with their bytecode), and
    nothing else: what the runtime puts beside the standard library."""
    for name in SDK_DISTRIBUTIONS:
        distribution = importlib.metadata.distribution(name)
        for entry in distribution.files or []:
            source = Path(str(distribution.locate_file(entry)))
            if entry.parts[0].endswith(".dist-info") or not source.is_file() or ".." in entry.parts:
                continue
            target = destination / entry
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)  # the modification time too: the .pyc files stay valid
    return destination


@dataclass
class Start:
    """One cold start's figures (bench/lambda_start.py's output)."""

    total_ms: float
    import_ms: float
    first_request_ms: float
    status: int | None
    body: Any
    result: Any
    logs: str


@dataclass
class Starter:
    """Starts functions in fresh Lambda-like interpreters against the
    emulator."""

    layer: Path
    sdk: Path
    work: Path
    environments: dict[str, dict[str, str]]
    specs: dict[str, Any]
    router: Router
    count: Iterator[int] = field(default_factory=itertools.count)

    def start(
        self,
        function: str,
        event: dict[str, Any],
        *,
        baseline: Path | None = None,
        record: Path | None = None,
        profile: Path | None = None,
    ) -> Start:
        spec = self.specs[function]
        out = self.work / f"start-{next(self.count)}.json"
        environment = lambda_environment(self.environments[spec.logical_id])
        task_root = MINIMAL if baseline is not None else spec.code_uri
        if baseline is not None:
            environment["BENCH_CALLS"] = str(baseline)
        environment["LAMBDA_TASK_ROOT"] = str(task_root)
        request = {
            "paths": [str(task_root), str(self.layer), str(self.sdk)],
            "module": "app",
            "handler": "lambda_handler",
            "event": event,
            "function_name": spec.logical_id,
            "out": str(out),
            "record": str(record) if record else None,
            "profile": str(profile) if profile else None,
        }
        finished = subprocess.run(
            [sys.executable, "-S", "-E", str(CHILD)],
            input=json.dumps(request),
            env=environment,
            cwd=task_root,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if finished.returncode != 0 or not out.exists():
            raise RuntimeError(f"{function} did not start:\n{finished.stderr[-4000:]}")
        figures = json.loads(out.read_text())
        figures["logs"] = finished.stdout + finished.stderr
        return Start(**{name: figures[name] for name in Start.__dataclass_fields__})

    def http_event(self, method: str, path: str, claims: dict[str, Any], body: Any = None) -> dict[str, Any]:
        path, _, query = path.partition("?")
        match = self.router.match(method, path)
        assert match is not None, f"no route for {method} {path}"
        sample = json.loads((ROOT / "events" / f"{match.function.name}.json").read_text())
        return build_http_event(
            match,
            method,
            path,
            query=[tuple(pair.split("=", 1)) for pair in query.split("&")] if query else None,  # type: ignore[misc]
            headers={"content-type": "application/json"},
            body=json.dumps(body) if body is not None else None,
            claims=claims,
            base=sample,
        )


@dataclass
class Scenario:
    """A function, the event of each run, and what its answer must be."""

    function: str
    event: Callable[[], dict[str, Any]]
    expected: int | None  # the HTTP status; None: an SQS batch without failures


def scenarios(starter: Starter, sqs: Any, job_queue: str) -> list[Scenario]:
    created: list[str] = []
    submitted: list[str] = []
    serial = itertools.count()

    def answered(function: str, event: dict[str, Any], status: int) -> dict[str, Any]:
        start = starter.start(function, event)
        assert start.status == status, (function, start.status, start.body)
        return json.loads(start.body)

    def create_event() -> dict[str, Any]:
        body = {"uow_id": f"bench-{next(serial)}", "type": "approval", "title": "Approve it", "priority": "high"}
        return starter.http_event("POST", "/interventions", REQUESTER, body)

    def submit_event() -> dict[str, Any]:
        # A distinct range each time: an export is cacheable, and a cached answer would not queue a run.
        parameters = {"format": "jsonl", "created_from": f"2026-01-01T00:00:{next(serial) % 60:02d}Z"}
        return starter.http_event(
            "POST", "/jobs", REQUESTER, {"tool": "export_interventions", "parameters": parameters}
        )

    def approve_event() -> dict[str, Any]:
        if not created:
            created.append(answered("create_intervention", create_event(), 201)["id"])
        return starter.http_event("POST", f"/interventions/{created.pop()}/approve", OPERATOR, {"reason": "bench"})

    def job_event() -> dict[str, Any]:
        if not submitted:
            submitted.append(answered("submit_job", submit_event(), 202)["id"])
        return starter.http_event("GET", f"/jobs/{submitted[-1]}", REQUESTER)

    def worker_event() -> dict[str, Any]:
        answered("submit_job", submit_event(), 202)
        (message,) = sqs.receive_message(
            QueueUrl=job_queue, MaxNumberOfMessages=1, VisibilityTimeout=900, AttributeNames=["All"],
            MessageAttributeNames=["All"], WaitTimeSeconds=2,
        )["Messages"]  # fmt: skip
        arn = sqs.get_queue_attributes(QueueUrl=job_queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return {"Records": [sqs_event_record(message, arn)]}

    return [
        Scenario("create_intervention", create_event, 201),
        Scenario("decide_intervention", approve_event, 200),
        Scenario("read_interventions", lambda: starter.http_event("GET", "/interventions?limit=50", OPERATOR), 200),
        Scenario("read_stats", lambda: starter.http_event("GET", "/stats", OPERATOR), 200),
        Scenario("submit_job", submit_event, 202),
        Scenario("read_jobs", job_event, 200),
        Scenario("manage_webhooks", lambda: starter.http_event("GET", "/webhooks", ADMIN), 200),
        Scenario("health", lambda: starter.http_event("GET", "/health", {}), 200),
        Scenario("run_job", worker_event, None),
    ]


def checked(scenario: Scenario, start: Start) -> Start:
    if scenario.expected is None:
        assert start.result == {"batchItemFailures": []}, (scenario.function, start.result, start.logs[-3000:])
    else:
        assert start.status == scenario.expected, (scenario.function, start.status, start.body)
    return start


def bench(starter: Starter, chosen: list[Scenario], runs: int) -> list[dict[str, Any]]:
    rows = []
    for scenario in chosen:
        calls = starter.work / f"{scenario.function}.calls"
        checked(scenario, starter.start(scenario.function, scenario.event(), record=calls))  # untimed
        a: list[Start] = []
        b: list[Start] = []
        for run in range(runs):
            event = scenario.event()
            order = ("a", "b") if run % 2 == 0 else ("b", "a")
            for which in order:
                if which == "a":
                    a.append(checked(scenario, starter.start(scenario.function, event)))
                else:
                    b.append(starter.start(scenario.function, event, baseline=calls))
        a_ms = statistics.median(s.total_ms for s in a)
        b_ms = statistics.median(s.total_ms for s in b)
        with open(calls, "rb") as recorded:
            made = [f"{service}:{method}" for service, method, _ in pickle.load(recorded)]  # noqa: S301  # our own
        rows.append(
            {
                "function": scenario.function,
                "a_ms": a_ms,
                "b_ms": b_ms,
                "ratio": a_ms / b_ms,
                "a_import_ms": statistics.median(s.import_ms for s in a),
                "b_import_ms": statistics.median(s.import_ms for s in b),
                "a_first_ms": statistics.median(s.first_request_ms for s in a),
                "calls": made,
            }
        )
        print_row(rows[-1])
    return rows


HEADER = (
    f"{'function':<20} {'A ms':>7} {'B ms':>7} {'A/B':>5}   {'import A':>8} {'import B':>8} {'1st req A':>9}  calls"
)


def print_row(row: dict[str, Any]) -> None:
    print(
        f"{row['function']:<20} {row['a_ms']:>7.0f} {row['b_ms']:>7.0f} {row['ratio']:>5.2f}   "
        f"{row['a_import_ms']:>8.0f} {row['b_import_ms']:>8.0f} {row['a_first_ms']:>9.0f}  {len(row['calls'])}",
        flush=True,
    )


def print_profile(starter: Starter, scenario: Scenario, lines: int = 40) -> None:
    """cProfile's view of one cold start (import and first request), by
    cumulative time."""
    import pstats

    statistics_file = starter.work / "profile.pstats"
    checked(scenario, starter.start(scenario.function, scenario.event(), profile=statistics_file))
    pstats.Stats(str(statistics_file)).sort_stats("cumulative").print_stats(lines)


def load_average() -> str:
    return " ".join(f"{figure:.2f}" for figure in os.getloadavg())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--only", default="", help="comma-separated function names")
    parser.add_argument("--layer", type=Path, help="a built layer's python folder (default: build one)")
    parser.add_argument("--profile", metavar="FUNCTION", help="print where one cold start of FUNCTION spends its time")
    args = parser.parse_args(argv)
    if sys.version_info[:2] != (3, 13):
        print(f"# note: Python {platform.python_version()}, not the runtime's 3.13", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="oversight-cold-") as scratch:
        work = Path(scratch)
        layer = args.layer or build_layer(work / "layer")
        sdk = copy_sdk(work / "sdk")
        template = Template()
        aws = EmulatedAws()
        aws.start()
        try:
            aws.provision(template)
            specs = {spec.name: spec for spec in template.functions()}
            shell = {name: os.environ[name] for name in ("LOG_LEVEL",) if name in os.environ}  # LOG_LEVEL=DEBUG
            environments, _ = function_environments(list(specs.values()), shell, aws.sdk_environment())
            starter = Starter(layer, sdk, work, environments, specs, Router(template))
            chosen = scenarios(starter, aws.client("sqs"), template.queue_urls["JobQueue"])
            if args.profile:
                (scenario,) = [scenario for scenario in chosen if scenario.function == args.profile]
                print_profile(starter, scenario)
                return
            if args.only:
                names = set(args.only.split(","))
                chosen = [scenario for scenario in chosen if scenario.function in names]
            print(
                f"\ncold start, Lambda-like (median of {args.runs} alternating runs; A: the function, "
                f"B: boto3 alone making the same calls); load average before: {load_average()}"
            )
            print(HEADER)
            rows = bench(starter, chosen, args.runs)
            print(f"load average after: {load_average()}")
        finally:
            aws.stop()
    api = [row for row in rows if row["function"] != "run_job"]
    if api:
        worst = max(api, key=lambda row: row["ratio"])
        print(f"worst API function: {worst['function']} {worst['ratio']:.2f}")


if __name__ == "__main__":
    main()
