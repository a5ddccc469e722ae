"""make load: a bounded load on a fresh local runtime, over real HTTP.

1. Seeds `--records` records for one tenant ("acme") as a tenant would hold
   them: interventions in every status, priority and type, created over the
   last four weeks, each with its audit trail, plus finished jobs (about one
   record in twenty) with their log lines, and the counters that match them
   (so /stats is right). They are written in-process into moto's DynamoDB
   through the layer's own item and counter code, saved as the runtime's
   snapshot in a temporary state dir, and the runtime restores them when it
   starts: much faster than one HTTP call per record.
2. Starts `python -m local_runtime serve` on a free port with that state dir.
3. Runs `--clients` clients for `--seconds`, each on its own keep-alive
   connection, back to back by default (`--think-ms` adds a pause before
   each request, as a person or a polite client would). A client loops over the mix below, with
   its own requester and operator (distinct users, so that the creator is
   never the decider), and decides only what it created: no two clients race
   for one record, so any 409 is an error.

       GET  /health
       GET  /tools
       GET  /interventions?status=PENDING&limit=20        the queue, first page
       GET  /interventions?...&cursor=<next_cursor>       and the next page
       GET  /interventions/{id}                           a seeded record, any status
       GET  /interventions/{id}/events                    its audit trail
       POST /interventions                                with an Idempotency-Key
       POST /interventions/{id}/claim                     the one just created
       POST /interventions/{id}/approve | reject          alternately (clients in turn)
       GET  /stats
       GET  /stats/daily?days=30
       GET  /jobs?limit=20
       GET  /jobs/{id}                                    a seeded job

   One unmeasured round per client comes first (warm-up: Lambda-style cold
   starts of the extra execution environments); its errors still count.
4. Prints per route count, errors, p50/p95/p99/max latency (ms, measured by
   the client: request sent to body read), then totals and throughput.
   Exits 1 if any request failed: a 5xx, a connection error, or any status
   other than the one expected.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from local_runtime.handlers import ensure_layer_on_path  # noqa: E402
from local_runtime.process import RuntimeProcess  # noqa: E402
from local_runtime.template import Template  # noqa: E402
from local_runtime.tokens import issue_token  # noqa: E402
from tests.support import configure_environment  # noqa: E402

TENANT = "acme"
JWT_SECRET = "load-secret-that-is-long-enough-for-hs256"
STARTUP_SECONDS = 120
JOB_SHARE = 20  # one record in JOB_SHARE is a job

# The routes of the mix, in the order a client calls them (report order too).
ROUTES = (
    "GET /health",
    "GET /tools",
    "GET /interventions",
    "GET /interventions (next page)",
    "GET /interventions/{id}",
    "GET /interventions/{id}/events",
    "POST /interventions",
    "POST /interventions/{id}/claim",
    "POST /interventions/{id}/approve",
    "POST /interventions/{id}/reject",
    "GET /stats",
    "GET /stats/daily",
    "GET /jobs",
    "GET /jobs/{id}",
)


# ---------------------------------------------------------------- seeding
@dataclass
class Seeded:
    interventions: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)
    by_status: Counter[str] = field(default_factory=Counter)
    items: int = 0


def _intervention_history(rng: random.Random, n: int, now: datetime) -> list[tuple[Any, Any]]:
    """(state, audit event) pairs of one intervention, from its creation."""
    from oversight.auth import Principal
    from oversight.lifecycle import Action, apply
    from oversight.models import Intervention, InterventionEvent, InterventionType, Priority, Status

    roll = rng.random()
    still_open = roll < 0.40
    # Open records are recent (and far from expiring); closed ones span four weeks.
    age = timedelta(seconds=rng.randint(600, (10 if still_open else 28) * 86400))
    created = (now - age).replace(microsecond=rng.randrange(0, 1000) * 1000)
    expires_in = timedelta(days=30) if roll < 0.93 else timedelta(hours=1)
    creator = f"agent-{n % 40}"
    priority = rng.choices(list(Priority), weights=[5, 20, 60, 15])[0]
    iv = Intervention(
        id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        uow_id=f"uow-{n % 700}",
        type=rng.choice(list(InterventionType)),
        status=Status.PENDING,
        priority=priority,
        title=f"Seeded request #{n}",
        description="Seeded by make load",
        context={"n": n, "source": "load"},
        required_role="operator",
        created_by=creator,
        created_at=created,
        updated_at=created,
        expires_at=created + expires_in,
        version=1,
    )
    history = [
        (iv, InterventionEvent(at=created, actor=creator, action="created", from_status=None, to_status=Status.PENDING))
    ]
    pilot = Principal(f"pilot-{rng.randrange(12)}", TENANT, frozenset({"operator"}))
    at = created + timedelta(seconds=rng.randint(5, 3000))

    def step(action: Any, actor: Any, when: datetime, **extra: Any) -> None:
        history.append(apply(action, history[-1][0], actor, when, **extra))

    if roll < 0.30:
        pass  # PENDING
    elif roll < 0.40:
        step(Action.CLAIM, pilot, at)  # IN_PROGRESS
    elif roll < 0.93:
        if rng.random() < 0.5:
            step(Action.CLAIM, pilot, at)
            at += timedelta(seconds=rng.randint(5, 1800))
        decision = rng.random()
        if decision < 0.62:
            step(Action.APPROVE, pilot, at, reason="Looks right", response={"ok": True})
            if rng.random() < 0.3:
                creator_principal = Principal(creator, TENANT, frozenset({"requester"}))
                step(Action.COMPLETE, creator_principal, at + timedelta(minutes=5), reason="done")
        elif decision < 0.90:
            step(Action.REJECT, pilot, at, reason="Not this time")
        else:
            creator_principal = Principal(creator, TENANT, frozenset({"requester"}))
            step(Action.CANCEL, creator_principal, at, reason="No longer needed")
    else:
        step(Action.EXPIRE, None, iv.expires_at + timedelta(seconds=rng.randint(1, 60)))
    return history


def _job_history(rng: random.Random, now: datetime) -> list[Any]:
    """States of one finished job, from its submission."""
    from oversight.models import Job, JobResult, JobStatus

    created = now - timedelta(seconds=rng.randint(600, 28 * 86400))
    tool, parameters = rng.choice(
        [
            ("export_interventions", {"format": "csv"}),
            ("export_interventions", {"format": "jsonl"}),
            ("recompute_stats", {}),
            ("http_post", {"url": "https://hooks.example.com/x", "json": {"n": 1}}),
        ]
    )
    job = Job(
        id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        tool=tool,
        parameters=parameters,
        status=JobStatus.PENDING,
        submitted_by=f"agent-{rng.randrange(40)}",
        created_at=created,
    )
    roll = rng.random()
    if roll < 0.08:
        return [job, job.model_copy(update={"status": JobStatus.CANCELLED, "finished_at": created})]
    started = created + timedelta(seconds=rng.randint(1, 30))
    finished = started + timedelta(seconds=rng.randint(1, 120))
    running = job.model_copy(update={"status": JobStatus.RUNNING, "started_at": started, "attempts": 1})
    failed = roll < 0.18
    result = JobResult(
        return_value=None if failed else {"rows": rng.randint(1, 9000)},
        stdout="" if failed else "done\n",
        error="Tool failed: upstream said 503" if failed else None,
    )
    done = running.model_copy(
        update={
            "status": JobStatus.FAILED if failed else JobStatus.COMPLETED,
            "finished_at": finished,
            "duration_seconds": round((finished - started).total_seconds(), 3),
            "result": result,
        }
    )
    return [job, running, done]


def seed_state(state_dir: Path, records: int, seed: int = 7) -> Seeded:
    """`records` records of TENANT, saved as the runtime's snapshot in `state_dir`."""
    template = Template()
    saved_environment = dict(os.environ)
    configure_environment(template)  # the layer's settings, a fake account; the runtime later gets the original
    ensure_layer_on_path()
    try:
        return _seed(template, state_dir, records, seed)
    finally:
        os.environ.clear()
        os.environ.update(saved_environment)


def _seed(template: Template, state_dir: Path, records: int, seed: int) -> Seeded:
    import boto3
    from moto import mock_aws

    from local_runtime.persistence import StateStore
    from local_runtime.template import REGION, create_buckets, create_queues, create_tables
    from oversight.models import JobLogLine
    from tests.seeding import TableSeeder

    rng = random.Random(seed)
    now = datetime.now(UTC)
    seeded = Seeded()
    with mock_aws():
        clients = {name: boto3.client(name, region_name=REGION) for name in ("dynamodb", "sqs", "s3")}
        create_tables(clients["dynamodb"], template)
        create_queues(clients["sqs"], template)
        create_buckets(clients["s3"], template)
        seeder = TableSeeder(clients["dynamodb"], template.physical_name("OversightTable"), TENANT)
        for n in range(records):
            if n % JOB_SHARE == JOB_SHARE - 1:
                states = _job_history(rng, now)
                final = states[-1]
                lines = [(0, JobLogLine(at=final.created_at, level="INFO", message="queued"))]
                if final.started_at is not None:
                    lines.append((1, JobLogLine(at=final.started_at, level="INFO", message=f"running {final.tool}")))
                seeder.job(states, lines)
                seeded.jobs.append(final.id)
                seeded.by_status[f"job {final.status.value}"] += 1
                continue
            history = _intervention_history(rng, n, now)
            final = seeder.intervention([state for state, _ in history], [event for _, event in history])
            seeded.interventions.append(final.id)
            seeded.by_status[final.status.value] += 1
        seeded.items = seeder.items + seeder.finish()
        StateStore(state_dir, template, clients["s3"]).save()
    return seeded


# ---------------------------------------------------------------- the runtime
# ---------------------------------------------------------------- the clients
@dataclass
class RouteFigures:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: Counter[int] = field(default_factory=Counter)

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile."""
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return math.nan
        return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass
class LoadReport:
    clients: int
    seconds: float
    records: int
    think_ms: float = 0.0
    elapsed: float = 0.0
    seed_seconds: float = 0.0
    startup_seconds: float = 0.0
    seeded: Seeded | None = None
    routes: dict[str, RouteFigures] = field(default_factory=dict)
    warmup_requests: int = 0
    warmup_errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(len(figures.latencies_ms) for figures in self.routes.values())

    @property
    def errors(self) -> int:
        return sum(figures.errors for figures in self.routes.values()) + self.warmup_errors

    @property
    def throughput(self) -> float:
        return self.total / self.elapsed if self.elapsed else 0.0


class RequestFailed(Exception):
    pass


class Client:
    """One user agent: its own connection, requester and operator."""

    def __init__(self, number: int, url: str, seeded: Seeded, lock: threading.Lock, report: LoadReport) -> None:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        self.number = number
        self._address = (host, int(port))
        self._connection = http.client.HTTPConnection(*self._address, timeout=30)
        self._rng = random.Random(number)
        self._seeded = seeded
        self._lock = lock
        self._report = report
        self._figures: dict[str, RouteFigures] = {route: RouteFigures() for route in ROUTES}
        self._warmup = True
        self._warmup_requests = 0
        self._warmup_errors = 0
        self._errors: list[str] = []
        requester, operator = f"load-agent-{number}", f"load-pilot-{number}"
        self._tokens = {
            "requester": "Bearer " + issue_token(requester, ["requester"], TENANT, JWT_SECRET),
            "operator": "Bearer " + issue_token(operator, ["operator"], TENANT, JWT_SECRET),
        }
        self._round = 0

    # -- one request
    def call(
        self,
        route: str,
        method: str,
        path: str,
        expected: int,
        as_role: str = "operator",
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        if self._report.think_ms and not self._warmup:
            # A person (or a polite client) between two requests: 0.5x to 1.5x the think time.
            time.sleep(self._rng.uniform(0.5, 1.5) * self._report.think_ms / 1000)
        sent_headers = {"Authorization": self._tokens[as_role], **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent_headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        try:
            self._connection.request(method, path, body=data, headers=sent_headers)
            response = self._connection.getresponse()
            payload = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as error:
            self._connection.close()
            self._connection = http.client.HTTPConnection(*self._address, timeout=30)
            self._failed(route, f"{method} {path}: {type(error).__name__}: {error}")
            raise RequestFailed from error
        elapsed_ms = (time.perf_counter() - started) * 1000
        if self._warmup:
            self._warmup_requests += 1
        else:
            figures = self._figures[route]
            figures.latencies_ms.append(elapsed_ms)
            figures.statuses[status] += 1
        if status != expected:
            self._failed(route, f"{method} {path}: {status} (expected {expected}): {payload[:300]!r}")
            raise RequestFailed
        return json.loads(payload) if payload else None

    def _failed(self, route: str, message: str) -> None:
        if self._warmup:
            self._warmup_errors += 1
        else:
            self._figures[route].errors += 1
        if len(self._errors) < 5:
            self._errors.append(message)

    # -- the mix
    def one_round(self) -> None:
        self._round += 1
        self.call("GET /health", "GET", "/health", 200)
        self.call("GET /tools", "GET", "/tools", 200)
        page = self.call("GET /interventions", "GET", "/interventions?status=PENDING&limit=20", 200)
        if page["next_cursor"]:
            self.call(
                "GET /interventions (next page)",
                "GET",
                f"/interventions?status=PENDING&limit=20&cursor={quote(page['next_cursor'], safe='')}",
                200,
            )
        seeded_id = self._rng.choice(self._seeded.interventions)
        self.call("GET /interventions/{id}", "GET", f"/interventions/{seeded_id}", 200)
        self.call("GET /interventions/{id}/events", "GET", f"/interventions/{seeded_id}/events", 200)
        created = self.call(
            "POST /interventions",
            "POST",
            "/interventions",
            201,
            as_role="requester",
            body={
                "uow_id": f"load-{self.number}-{self._round}",
                "type": "approval",
                "priority": "high",
                "title": f"Load round {self._round} of client {self.number}",
                "context": {"round": self._round},
            },
            headers={"Idempotency-Key": f"load-{self.number}-{self._round}-{uuid.uuid4().hex[:8]}"},
        )
        new_id = created["id"]
        self.call("POST /interventions/{id}/claim", "POST", f"/interventions/{new_id}/claim", 200)
        decision = "approve" if (self._round + self.number) % 2 == 0 else "reject"  # both from the first round on
        self.call(
            f"POST /interventions/{{id}}/{decision}",
            "POST",
            f"/interventions/{new_id}/{decision}",
            200,
            body={"reason": f"load round {self._round}"},
        )
        self.call("GET /stats", "GET", "/stats", 200)
        self.call("GET /stats/daily", "GET", "/stats/daily?days=30", 200)
        self.call("GET /jobs", "GET", "/jobs?limit=20", 200)
        if self._seeded.jobs:
            self.call("GET /jobs/{id}", "GET", f"/jobs/{self._rng.choice(self._seeded.jobs)}", 200)

    def run(self, start: threading.Barrier, deadline_box: list[float]) -> None:
        with contextlib.suppress(RequestFailed):
            self.one_round()  # warm-up, unmeasured
        self._warmup = False
        start.wait()
        deadline = deadline_box[0]
        while time.monotonic() < deadline:
            with contextlib.suppress(RequestFailed):
                self.one_round()
        self._connection.close()
        with self._lock:
            for route, figures in self._figures.items():
                merged = self._report.routes.setdefault(route, RouteFigures())
                merged.latencies_ms.extend(figures.latencies_ms)
                merged.errors += figures.errors
                merged.statuses.update(figures.statuses)
            self._report.warmup_requests += self._warmup_requests
            self._report.warmup_errors += self._warmup_errors
            self._report.error_samples.extend(self._errors)


def drive(url: str, seeded: Seeded, report: LoadReport) -> None:
    lock = threading.Lock()
    clients = [Client(n, url, seeded, lock, report) for n in range(report.clients)]
    deadline_box = [0.0]
    started_box = [0.0]

    def open_the_gate() -> None:  # runs once, when every client finished its warm-up
        started_box[0] = time.monotonic()
        deadline_box[0] = started_box[0] + report.seconds

    gate = threading.Barrier(report.clients, action=open_the_gate)
    threads = [threading.Thread(target=c.run, args=(gate, deadline_box), name=f"client-{c.number}") for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report.elapsed = time.monotonic() - started_box[0]


def run_load(
    clients: int, seconds: float, records: int, keep_dir: Path | None = None, think_ms: float = 0.0
) -> LoadReport:
    """Seed, start a runtime, drive it, stop it. The report holds every figure."""
    report = LoadReport(clients=clients, seconds=seconds, records=records, think_ms=think_ms)
    work = Path(tempfile.mkdtemp(prefix="oversight-load-")) if keep_dir is None else keep_dir
    state_dir = work / "state"
    started = time.perf_counter()
    report.seeded = seed_state(state_dir, records)
    report.seed_seconds = time.perf_counter() - started
    started = time.perf_counter()
    runtime = RuntimeProcess(state_dir, work / "runtime.log", JWT_SECRET)
    try:
        runtime.wait_until_healthy(STARTUP_SECONDS)
        report.startup_seconds = time.perf_counter() - started
        drive(runtime.url, report.seeded, report)
    finally:
        runtime.stop()
        if keep_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    return report


def _row(label: str, count: int, errors: int, figures: RouteFigures) -> str:
    latencies = (*(figures.percentile(q) for q in (50, 95, 99)), max(figures.latencies_ms, default=math.nan))
    return f"{label:<34} {count:>6} {errors:>6}" + "".join(f" {ms:>8.1f}" for ms in latencies)


def format_report(report: LoadReport) -> str:
    seeded = report.seeded or Seeded()
    statuses = ", ".join(f"{count} {status}" for status, count in sorted(seeded.by_status.items()))
    lines = [
        f"seeded {report.records:,} records ({len(seeded.interventions):,} interventions, {len(seeded.jobs):,} jobs;"
        f" {seeded.items:,} items with events, logs and counters) in {report.seed_seconds:.1f} s: {statuses}",
        f"runtime healthy {report.startup_seconds:.1f} s after start (restoring the snapshot)",
        f"{report.clients} clients, {report.seconds:g} s, think time {report.think_ms:g} ms,"
        f" warm-up {report.warmup_requests} requests ({report.warmup_errors} errors)",
        "",
        f"{'route':<34} {'count':>6} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}",
    ]
    for route in ROUTES:
        figures = report.routes.get(route, RouteFigures())
        count = len(figures.latencies_ms)
        if count == 0 and not figures.errors:
            lines.append(f"{route:<34} {0:>6} {0:>6} {'-':>8} {'-':>8} {'-':>8} {'-':>8}")
            continue
        lines.append(_row(route, count, figures.errors, figures))
    every = RouteFigures(latencies_ms=[ms for f in report.routes.values() for ms in f.latencies_ms])
    lines += [
        _row("all", report.total, report.errors, every),
        "",
        f"total {report.total} requests in {report.elapsed:.1f} s: {report.throughput:.1f} requests/s,"
        f" {report.errors} errors",
    ]
    for sample in report.error_samples[:10]:
        lines.append(f"  error: {sample}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument(
        "--think-ms",
        type=float,
        default=0.0,
        help="pause before each request (0.5x-1.5x this); 0 = back to back, the worst case",
    )
    parser.add_argument("--keep", type=Path, help="keep the state dir and runtime log here")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.seconds <= 0 or args.records < JOB_SHARE:
        parser.error(f"--clients >= 1, --seconds > 0 and --records >= {JOB_SHARE}")
    report = run_load(args.clients, args.seconds, args.records, args.keep, args.think_ms)
    print(format_report(report), flush=True)
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
