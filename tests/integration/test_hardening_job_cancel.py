"""A cancellation acknowledged while a job runs is never lost: the job ends
CANCELLED or, when the tool had already returned, COMPLETED with
`cancel_requested` kept. Proved at random moments of many concurrent runs,
and at each moment of the race on its own: right before the worker's final
write, before its hand-back for a retry, while it cannot record the outcome,
and after its run died. http_post stops waiting for a slow host."""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from botocore.exceptions import ClientError

import tests.jobtools as jobtools
from local_runtime.context import LocalLambdaContext
from local_runtime.handlers import load_handler
from local_runtime.routing import build_http_event
from oversight.tools import JobCancelled, get_tool
from oversight.tools.recording import RecordingRunContext
from tests.integration.test_jobs import test_tools, worker  # noqa: F401  the job tests' tools and worker
from tests.support import REQUESTER, VIEWER


class SlowServer(ThreadingHTTPServer):
    """Answers POST /sleep/<seconds>/<tag> after that many seconds; records
    the tags whose request arrived."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SlowHandler)
        self.arrived: set[str] = set()
        self.netloc = f"127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def handle_error(self, request, client_address) -> None:
        pass  # a client that stopped waiting (a cancelled job) is expected


class _SlowHandler(BaseHTTPRequestHandler):
    server: SlowServer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        _, _, seconds, tag = self.path.split("/")
        self.server.arrived.add(tag)
        time.sleep(float(seconds))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def slow_server(monkeypatch):
    server = SlowServer()
    monkeypatch.setenv("HTTP_POST_ALLOWED_HOSTS", server.netloc)
    yield server
    server.shutdown()
    server.server_close()


def submit(api, tool, parameters):
    reply = api.post("/jobs", REQUESTER, {"tool": tool, "parameters": parameters})
    assert reply.status == 202, reply.body
    return reply.body


def stored(job_id):
    from oversight.store.jobs import get_job_store

    return get_job_store().get("acme", job_id)


JSON_HEADERS = {"content-type": "application/json"}


def cancel_handler(api, instance: int):
    """POST /jobs/{id}/cancel in execution environment `instance` (its
    module state not shared with other threads'), loaded ahead, warm."""
    match = api.router.match("POST", "/jobs/00000000-0000-0000-0000-000000000000/cancel")
    handler = load_handler(match.function, instance=instance)
    base = api.sample_event(match.function.name)

    def cancel(job_id: str) -> tuple[int, dict]:
        url = f"/jobs/{job_id}/cancel"
        event = build_http_event(
            api.router.match("POST", url), "POST", url, headers=JSON_HEADERS, body=None, claims=REQUESTER, base=base
        )
        reply = handler(event, LocalLambdaContext(match.function.logical_id, match.function.timeout))
        return reply["statusCode"], json.loads(reply["body"])

    return cancel


def honoured(job) -> bool:
    return job.status.value == "CANCELLED" or (job.status.value == "COMPLETED" and job.cancel_requested)


def test_fifty_cancels_at_random_moments_of_runs_are_never_lost(api, worker, slow_server):
    from oversight.worker import run_job

    rng = random.Random(20261123)
    plans = []
    for n in range(50):
        seconds = rng.uniform(0.05, 3.0)
        if n % 2:
            url = f"http://{slow_server.netloc}/sleep/{seconds:.3f}/{n}"
            job = submit(api, "http_post", {"url": url, "json": {"n": n}, "timeout_seconds": 10})
        else:
            job = submit(api, "test_cooperative", {"seconds": seconds})
        # A moment within the run, or a little after it (the tool returned,
        # its outcome not yet written).
        plans.append(
            {
                "n": n,
                "id": job["id"],
                "tool": job["tool"],
                "delay": rng.uniform(0, seconds * 1.15),
                "cancel": cancel_handler(api, instance=n + 1),
            }
        )

    began = time.monotonic()

    def started(plan) -> bool:
        return (
            (plan["id"] in jobtools.RUNNING_JOBS)
            if plan["tool"] == "test_cooperative"
            else (str(plan["n"]) in slow_server.arrived)
        )

    go = threading.Event()

    def run(plan) -> None:
        go.wait()
        run_job("acme", plan["id"])

    def cancel(plan) -> tuple[int, dict]:
        deadline = time.monotonic() + 20
        while not started(plan) and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(plan["delay"])
        return plan["cancel"](plan["id"])

    # The worker captures each run's stdout by swapping sys.stdout, which
    # concurrent runs in one process interleave: put the streams back after.
    streams = sys.stdout, sys.stderr
    try:
        with ThreadPoolExecutor(max_workers=2 * len(plans)) as pool:
            answers = [pool.submit(cancel, plan) for plan in plans]  # waiting for their run to start
            runs = [pool.submit(run, plan) for plan in plans]
            go.set()
            for each in runs:
                each.result(timeout=60)
            replies = [each.result(timeout=60) for each in answers]
    finally:
        sys.stdout, sys.stderr = streams
    elapsed = time.monotonic() - began

    acknowledged = lost = 0
    outcomes: dict[str, int] = {}
    for plan, (status, body) in zip(plans, replies, strict=True):
        final = stored(plan["id"])
        if status == 200:
            acknowledged += 1
            assert body["cancel_requested"] is True or body["status"] == "CANCELLED"
            kind = f"{plan['tool']}:{final.status.value}"
            outcomes[kind] = outcomes.get(kind, 0) + 1
            if not honoured(final):
                lost += 1
        else:
            assert status == 409 and final.status.value == "COMPLETED", (status, body)
    figure = f"{lost} acknowledged cancels lost out of {acknowledged} ({len(plans)} runs, {elapsed:.1f} s)"
    print(f"\n{figure}; outcomes of the acknowledged: {dict(sorted(outcomes.items()))}")
    assert lost == 0, figure
    assert acknowledged >= 40, figure  # the cancels did land while the jobs ran


@pytest.fixture
def cancel_right_before_the_runs_write(monkeypatch):
    """Acknowledge a cancellation at the worst moment: after the worker's
    last look at the job, right before its first write after the run. With
    `fault`, that write then fails as a throttled DynamoDB would."""
    from oversight.models import JobStatus
    from oversight.store.jobs import DynamoJobStore

    original = DynamoJobStore.transition
    armed = {"once": True, "fault": None}

    def transition(self, tenant, before, after, run_deadline=None):
        if armed["once"] and before.status is JobStatus.RUNNING:
            armed["once"] = False
            assert self.request_cancel(tenant, before.id)
            if armed["fault"]:
                raise armed["fault"]
        return original(self, tenant, before, after, run_deadline)

    monkeypatch.setattr(DynamoJobStore, "transition", transition)
    return armed


def test_a_cancel_acknowledged_after_the_tool_returned_keeps_the_completed_job_flagged(
    api, worker, cancel_right_before_the_runs_write
):
    queued = submit(api, "test_echo", {"text": "late"})
    worker.drain()
    done = api.get(f"/jobs/{queued['id']}", VIEWER).body
    assert (done["status"], done["cancel_requested"]) == ("COMPLETED", True)
    assert done["result"]["return_value"] == {"echo": "late", "repeat": 1}
    assert jobtools.job_counts(api) == {"COMPLETED": 1}


def test_a_cancel_acknowledged_before_a_failed_attempt_is_handed_back_cancels_the_job(
    api, worker, cancel_right_before_the_runs_write
):
    queued = submit(api, "test_fail", {})
    worker.drain()
    final = api.get(f"/jobs/{queued['id']}", VIEWER).body
    assert (final["status"], final["attempts"], final["cancel_requested"]) == ("CANCELLED", 1, True)
    assert final["result"]["error"] == "Cancelled on request (the attempt had failed: RuntimeError: the tool broke)"
    assert jobtools.RUNS["test_fail"] == 1 and worker.dead_letters() == []
    assert jobtools.job_counts(api) == {"CANCELLED": 1}


def test_a_cancel_acknowledged_while_the_outcome_cannot_be_recorded_cancels_the_given_back_job(
    api, worker, cancel_right_before_the_runs_write
):
    throttled = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}
    cancel_right_before_the_runs_write["fault"] = ClientError(throttled, "TransactWriteItems")
    queued = submit(api, "test_echo", {"text": "unrecorded"})
    worker.drain()
    assert len(worker.failures) == 1  # the message was not acknowledged, then redelivered
    final = api.get(f"/jobs/{queued['id']}", VIEWER).body
    assert (final["status"], final["attempts"], final["cancel_requested"]) == ("CANCELLED", 1, True)
    assert jobtools.RUNS["test_echo"] == 1, "the cancelled job was not run again"
    assert jobtools.job_counts(api) == {"CANCELLED": 1}


def test_a_dead_run_whose_cancel_was_acknowledged_is_cancelled_not_run_again(api, worker, sqs, clock):
    from oversight.models import JobStatus
    from oversight.store.jobs import get_job_store
    from oversight.sweep import run_sweep

    queued = submit(api, "test_echo", {"text": "orphan"})
    sqs.purge_queue(QueueUrl=worker.queue_url)
    store = get_job_store()
    pending = store.get("acme", queued["id"])
    running = pending.model_copy(update={"status": JobStatus.RUNNING, "attempts": 1, "started_at": clock.current})
    store.transition("acme", pending, running, run_deadline="2026-11-23T09:01:05.000Z")
    assert api.post(f"/jobs/{queued['id']}/cancel", REQUESTER).body["cancel_requested"] is True
    clock.advance(minutes=10)  # the worker died: its run is past the deadline
    assert run_sweep(lambda: 60_000).dead_runs == 1
    worker.drain()
    final = api.get(f"/jobs/{queued['id']}", VIEWER).body
    assert (final["status"], final["cancel_requested"]) == ("CANCELLED", True)
    assert "test_echo" not in jobtools.RUNS
    assert jobtools.job_counts(api) == {"CANCELLED": 1}


def test_http_post_stops_waiting_for_a_slow_host_when_cancelled(slow_server):
    http_post = get_tool("http_post")
    params = http_post.parameters.model_validate({"url": f"http://{slow_server.netloc}/sleep/5/slow", "json": {}})
    ctx = RecordingRunContext()
    threading.Timer(0.3, ctx.cancel).start()
    began = time.monotonic()
    with pytest.raises(JobCancelled):
        http_post.run(params, ctx)
    assert time.monotonic() - began < 1.5, "it stopped waiting, not after the host's 5 s"
    assert "slow" in slow_server.arrived  # as documented: the host may have received the request
    assert ctx.logs == [
        ("WARNING", f"POST to {slow_server.netloc} abandoned on cancellation; the host may have received it")
    ]


def test_http_post_cancelled_before_sending_sends_nothing(slow_server):
    http_post = get_tool("http_post")
    params = http_post.parameters.model_validate({"url": f"http://{slow_server.netloc}/sleep/0/never", "json": {}})
    ctx = RecordingRunContext()
    ctx.cancel()
    with pytest.raises(JobCancelled, match="no request sent"):
        http_post.run(params, ctx)
    time.sleep(0.1)
    assert slow_server.arrived == set()


def test_http_post_cancelled_while_connecting_sends_nothing(slow_server, monkeypatch):
    """A host slow to accept the connection: the job is cancelled while the
    connection is being made, and once it is made nothing is sent."""
    import http.client

    connected = threading.Event()
    real_connect = http.client.HTTPConnection.connect

    def slow_connect(self):
        time.sleep(0.5)  # the cancel lands meanwhile
        real_connect(self)
        connected.set()

    monkeypatch.setattr(http.client.HTTPConnection, "connect", slow_connect)
    http_post = get_tool("http_post")
    params = http_post.parameters.model_validate({"url": f"http://{slow_server.netloc}/sleep/0/late", "json": {}})
    ctx = RecordingRunContext()
    threading.Timer(0.1, ctx.cancel).start()
    with pytest.raises(JobCancelled):
        http_post.run(params, ctx)
    assert connected.wait(2)
    time.sleep(0.3)
    assert slow_server.arrived == set()
