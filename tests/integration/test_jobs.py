"""Jobs end to end in-process: submit → queue → worker → result, logs and
output files; failures, timeouts, duplicates, cache, approval gates, cancel."""

import json
import threading

import pytest
import requests

import tests.jobtools as jobtools
from tests.conftest import TEMPLATE
from tests.support import ADMIN, OPERATOR, REQUESTER, VIEWER, JobWorker, user


@pytest.fixture(autouse=True)
def test_tools():
    with jobtools.registered():
        yield


@pytest.fixture
def worker(sqs) -> JobWorker:
    jobtools.reset()
    return JobWorker(TEMPLATE, sqs)


def submit(api, tool="test_echo", parameters=None, claims=REQUESTER, **options):
    reply = api.post("/jobs", claims, {"tool": tool, "parameters": parameters or {}, **options})
    assert reply.status == 202, reply.body
    return reply.body


def job(api, job_id, claims=VIEWER):
    return api.get(f"/jobs/{job_id}", claims).body


def test_tools_are_listed_with_their_schema(api):
    items = {t["name"]: t for t in api.get("/tools", VIEWER).body["items"]}
    assert {"export_interventions", "recompute_stats", "http_post", "test_echo"} <= set(items)
    echo = items["test_echo"]
    assert echo["cacheable"] is True and echo["timeout_seconds"] == 5
    assert echo["parameters_schema"]["properties"]["text"]["type"] == "string"
    assert "text" in echo["parameters_schema"]["required"]


def test_submit_run_complete_with_result_logs_and_output_file(api, worker):
    queued = submit(api, parameters={"text": "hi", "repeat": 3})
    assert (queued["status"], queued["attempts"], queued["cached"]) == ("PENDING", 0, False)
    worker.drain()
    done = job(api, queued["id"])
    assert done["status"] == "COMPLETED" and done["attempts"] == 1
    assert done["started_at"] and done["finished_at"] and done["duration_seconds"] >= 0
    result = done["result"]
    assert result["return_value"] == {"echo": "hi", "repeat": 3} and result["error"] is None
    assert result["stdout"] == "echoing 'hi'\n" and result["stderr"] == "a warning\n" and not result["truncated"]
    (output,) = result["outputs"]
    assert (output["name"], output["size_bytes"]) == ("echo.txt", 9)
    assert requests.get(output["url"], timeout=5).content == b"hi\nhi\nhi\n"
    messages = [line["message"] for line in api.get(f"/jobs/{queued['id']}/logs", VIEWER).body["items"]]
    assert "echo 3 time(s)" in messages and any("wrote output echo.txt" in m for m in messages)


def test_failing_tool_retries_then_fails_and_its_message_reaches_the_dlq(api, worker, sqs):
    queued = submit(api, tool="test_fail")
    worker.drain()
    failed = job(api, queued["id"])
    assert failed["status"] == "FAILED" and failed["attempts"] == 3 and failed["finished_at"]
    assert failed["result"]["error"] == "RuntimeError: the tool broke" and failed["result"]["return_value"] is None
    assert jobtools.RUNS["test_fail"] == 3
    assert len(worker.failures) == 3  # each delivery reported failed, the last one too
    logs = [line["message"] for line in api.get(f"/jobs/{queued['id']}/logs", VIEWER).body["items"]]
    # Every attempt's lines are kept, even when attempts log within one millisecond (frozen clock here).
    assert [m for m in logs if m.startswith("attempt ")] == [f"attempt {n} of 3: running test_fail" for n in (1, 2, 3)]
    assert logs.count("about to fail") == 3 and logs.count("RuntimeError: the tool broke") == 3
    (dead,) = worker.dead_letters()
    assert json.loads(dead["Body"]) == {"tenant": "acme", "job_id": queued["id"]}
    left = jobtools.queue_counts(sqs)
    assert left == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
    assert jobtools.job_counts(api) == {"FAILED": 1}  # counted once, not per attempt


def test_slow_tool_past_its_timeout_fails_with_a_timeout_error(api, worker):
    queued = submit(api, tool="test_slow")
    worker.drain()
    failed = job(api, queued["id"])
    assert failed["status"] == "FAILED" and failed["result"]["error"] == "Timed out after 1 s"
    assert failed["attempts"] == 1  # a timeout is final: the same run would time out again


def test_a_message_delivered_twice_runs_once(api, worker, sqs):
    queued = submit(api, parameters={"text": "once"})
    (message,) = sqs.receive_message(QueueUrl=worker.queue_url, AttributeNames=["All"])["Messages"]
    assert worker.invoke([message]) == {"batchItemFailures": []}
    assert worker.invoke([message]) == {"batchItemFailures": []}
    assert jobtools.RUNS["test_echo"] == 1
    logs = api.get(f"/jobs/{queued['id']}/logs", VIEWER).body["items"]
    assert sum(line["message"].startswith("attempt ") for line in logs) == 1


def test_one_bad_message_in_a_batch_is_the_only_failure(api, worker, sqs):
    good = submit(api, parameters={"text": "good"})
    sqs.send_message(QueueUrl=worker.queue_url, MessageBody="{not json")
    messages = []
    while len(messages) < 2:
        messages += sqs.receive_message(QueueUrl=worker.queue_url, MaxNumberOfMessages=10).get("Messages", [])
    bad_id = next(m["MessageId"] for m in messages if m["Body"] == "{not json")
    assert worker.invoke(messages) == {"batchItemFailures": [{"itemIdentifier": bad_id}]}
    assert job(api, good["id"])["status"] == "COMPLETED"


def test_cache_answers_identical_cacheable_jobs_and_use_cache_false_runs_again(api, worker):
    first = submit(api, parameters={"text": "same"})
    worker.drain()
    second = submit(api, parameters={"repeat": 1, "text": "same"})  # same canonical parameters
    assert second["status"] == "COMPLETED" and second["cached"] is True
    assert second["result"]["return_value"] == job(api, first["id"])["result"]["return_value"]
    assert requests.get(job(api, second["id"])["result"]["outputs"][0]["url"], timeout=5).content == b"same\n"
    fresh = submit(api, parameters={"text": "same"}, use_cache=False)
    assert fresh["status"] == "PENDING"
    worker.drain()
    assert job(api, fresh["id"])["cached"] is False and jobtools.RUNS["test_echo"] == 2


def test_gated_job_runs_after_approval(api, worker):
    gated = submit(
        api,
        parameters={"text": "gated"},
        requires_approval=True,
        approval={"required_role": "operator", "priority": "high", "title": "Run the echo?"},
    )
    assert gated["status"] == "AWAITING_APPROVAL" and gated["intervention_id"]
    gate = api.get(f"/interventions/{gated['intervention_id']}", VIEWER).body
    assert (gate["type"], gate["job_id"], gate["priority"], gate["title"]) == (
        "approval",
        gated["id"],
        "high",
        "Run the echo?",
    )
    assert worker.drain() == 0, "nothing is queued before the approval"
    assert api.post(f"/interventions/{gate['id']}/approve", OPERATOR, {"reason": "go"}).status == 200
    assert job(api, gated["id"])["status"] == "PENDING"
    worker.drain()
    assert job(api, gated["id"])["status"] == "COMPLETED"


def test_gated_job_rejected_never_runs(api, worker):
    gated = submit(api, parameters={"text": "no"}, requires_approval=True)
    api.post(f"/interventions/{gated['intervention_id']}/reject", OPERATOR, {"reason": "no"})
    assert job(api, gated["id"])["status"] == "REJECTED"
    worker.drain()
    assert "test_echo" not in jobtools.RUNS


def test_gated_job_cancelled_when_its_approval_expires(api, worker, clock):
    from oversight.sweep import run_sweep

    gated = submit(api, parameters={"text": "late"}, requires_approval=True, approval={"expires_in_seconds": 60})
    clock.advance(minutes=2)
    assert run_sweep(lambda: 60_000).expired == 1
    assert job(api, gated["id"])["status"] == "CANCELLED"
    worker.drain()
    assert "test_echo" not in jobtools.RUNS


def test_cancel_pending_job_never_runs_and_cancelling_a_gated_job_closes_its_gate(api, worker):
    queued = submit(api, parameters={"text": "x"})
    cancelled = api.post(f"/jobs/{queued['id']}/cancel", REQUESTER)
    assert cancelled.status == 200 and cancelled.body["status"] == "CANCELLED"
    worker.drain()
    assert "test_echo" not in jobtools.RUNS and job(api, queued["id"])["status"] == "CANCELLED"
    gated = submit(api, parameters={"text": "y"}, requires_approval=True)
    assert api.post(f"/jobs/{gated['id']}/cancel", ADMIN).body["status"] == "CANCELLED"
    assert api.get(f"/interventions/{gated['intervention_id']}", VIEWER).body["status"] == "CANCELLED"
    again = api.post(f"/jobs/{gated['id']}/cancel", ADMIN)
    assert again.status == 409 and again.body["code"] == "invalid_transition"


def test_cancel_running_job_stops_the_tool_cooperatively(api, worker):
    queued = submit(api, tool="test_wait", parameters={"seconds": 15})
    runner = threading.Thread(target=worker.drain)
    runner.start()
    assert jobtools.STARTED.wait(10)
    requested = api.post(f"/jobs/{queued['id']}/cancel", REQUESTER)
    assert requested.status == 200 and requested.body["status"] == "RUNNING" and requested.body["cancel_requested"]
    runner.join(20)
    final = job(api, queued["id"])
    assert final["status"] == "CANCELLED" and final["result"]["error"] == "Cancelled on request"


def test_a_cancelled_job_whose_attempt_fails_is_cancelled_not_retried(api, worker, sqs):
    queued = submit(api, tool="test_crash_on_release")
    runner = threading.Thread(target=worker.drain)
    runner.start()
    assert jobtools.STARTED.wait(10)
    assert api.post(f"/jobs/{queued['id']}/cancel", REQUESTER).body["cancel_requested"] is True
    jobtools.RELEASE.set()
    runner.join(20)
    final = job(api, queued["id"])
    assert final["status"] == "CANCELLED" and final["attempts"] == 1
    assert (
        final["result"]["error"]
        == "Cancelled on request (the attempt had failed: RuntimeError: crashed while stopping)"
    )
    assert jobtools.RUNS["test_crash_on_release"] == 1 and worker.failures == [] and worker.dead_letters() == []
    left = jobtools.queue_counts(sqs)
    assert left == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}


def test_submission_errors(api):
    unknown = api.post("/jobs", REQUESTER, {"tool": "teleport", "parameters": {}})
    assert unknown.status == 422 and unknown.body["details"][0]["loc"] == ["body", "tool"]
    bad = api.post("/jobs", REQUESTER, {"tool": "test_echo", "parameters": {"text": 3, "extra": 1}})
    assert bad.status == 422
    assert {tuple(d["loc"]) for d in bad.body["details"]} == {
        ("body", "parameters", "text"),
        ("body", "parameters", "extra"),
    }
    assert api.post("/jobs", VIEWER, {"tool": "test_echo", "parameters": {"text": "x"}}).status == 403
    assert api.post("/jobs", None, {"tool": "test_echo"}).status == 401
    assert api.post("/jobs", REQUESTER, {"tool": "test_echo", "parameters": {"text": "x"}, "colour": 1}).status == 422


def test_jobs_are_tenant_scoped_listed_newest_first_and_filtered(api, clock):
    first = submit(api, parameters={"text": "1"})
    clock.advance(seconds=1)
    second = submit(api, tool="test_fail")
    clock.advance(seconds=1)
    third = submit(api, parameters={"text": "3"})
    assert [j["id"] for j in api.get("/jobs", VIEWER).body["items"]] == [third["id"], second["id"], first["id"]]
    assert [j["id"] for j in api.get("/jobs?tool=test_fail", VIEWER).body["items"]] == [second["id"]]
    assert [j["id"] for j in api.get("/jobs?status=PENDING&limit=1", VIEWER).body["items"]] == [third["id"]]
    page = api.get("/jobs?limit=2", VIEWER).body
    rest = api.get(f"/jobs?limit=2&cursor={page['next_cursor']}", VIEWER).body
    assert [j["id"] for j in rest["items"]] == [first["id"]] and rest["next_cursor"] is None
    other = user("spy", "admin", tenant="globex")
    assert api.get(f"/jobs/{first['id']}", other).status == 404
    assert api.get("/jobs", other).body["items"] == []
    assert api.post(f"/jobs/{first['id']}/cancel", other).status == 404
    assert api.post(f"/jobs/{first['id']}/cancel", user("agent-8", "requester")).status == 403


def test_job_figures_in_stats(api, worker):
    submit(api, parameters={"text": "a"})
    submit(api, tool="test_fail")
    worker.drain()
    submit(api, parameters={"text": "a"})  # from the cache
    jobs = api.get("/stats", VIEWER).body["jobs"]
    assert jobs["total"] == 3
    assert jobs["by_status"]["COMPLETED"] == 2 and jobs["by_status"]["FAILED"] == 1
    assert jobs["success_rate"] == round(2 / 3, 4)
    assert jobs["top_tools"] == [{"tool": "test_echo", "count": 2}, {"tool": "test_fail", "count": 1}]
    assert jobs["avg_duration_seconds"] is not None
    today = api.get("/stats/daily?days=1", VIEWER).body["days"][0]
    assert (today["jobs_completed"], today["jobs_failed"]) == (2, 1)


def test_a_worker_crash_mid_run_is_redelivered_and_the_job_finishes_once(api, worker, sqs, clock, monkeypatch):
    import oversight.worker as worker_module

    queued = submit(api, parameters={"text": "crash"})
    (message,) = sqs.receive_message(QueueUrl=worker.queue_url, AttributeNames=["All"])["Messages"]

    def crash(*args, **kwargs):
        raise SystemExit("the worker died mid-run")  # escapes every handler, as a killed process would

    original = worker_module._execute
    monkeypatch.setattr(worker_module, "_execute", crash)
    with pytest.raises(SystemExit):
        worker.invoke([message])
    assert job(api, queued["id"])["status"] == "RUNNING"
    monkeypatch.setattr(worker_module, "_execute", original)

    crashed = job(api, queued["id"])
    assert (crashed["attempts"], crashed["result"], crashed["finished_at"]) == (1, None, None)

    assert worker.invoke([message]) == {"batchItemFailures": []}  # redelivered too early: still its run
    assert job(api, queued["id"]) == crashed
    clock.advance(seconds=5 + 61)  # past the run's deadline (timeout + grace)
    assert worker.invoke([message]) == {"batchItemFailures": []}
    done = job(api, queued["id"])
    assert (done["status"], done["attempts"], jobtools.RUNS["test_echo"]) == ("COMPLETED", 2, 1)
    assert done["result"]["return_value"] == {"echo": "crash", "repeat": 1} and done["result"]["error"] is None
    logs = [line["message"] for line in api.get(f"/jobs/{queued['id']}/logs", VIEWER).body["items"]]
    # The crashed run's lines were still buffered: only the finished run's are stored.
    assert [m for m in logs if m.startswith("attempt ")] == ["attempt 2 of 3: running test_echo"]
    assert worker.invoke([message]) == {"batchItemFailures": []}  # a later duplicate changes nothing
    assert (
        jobtools.stored_state(job(api, queued["id"])) == jobtools.stored_state(done) and jobtools.RUNS["test_echo"] == 1
    )
    assert jobtools.job_counts(api) == {"COMPLETED": 1}
    assert worker.dead_letters() == []


def test_the_sweep_requeues_a_lost_message_and_fails_a_dead_run_without_attempts(api, worker, sqs, clock):
    from oversight.models import JobStatus
    from oversight.store.jobs import get_job_store
    from oversight.sweep import run_sweep

    lost = submit(api, parameters={"text": "lost"})
    sqs.purge_queue(QueueUrl=worker.queue_url)  # the message never made it
    clock.advance(minutes=16)
    assert run_sweep(lambda: 60_000).requeued == 1
    worker.drain()
    assert job(api, lost["id"])["status"] == "COMPLETED"

    dead = submit(api, tool="test_fail")
    store = get_job_store()
    pending = store.get("acme", dead["id"])
    running = pending.model_copy(update={"status": JobStatus.RUNNING, "attempts": 3, "started_at": clock.current})
    store.transition("acme", pending, running, run_deadline="2026-11-23T09:20:00.000Z")
    clock.advance(minutes=10)
    report = run_sweep(lambda: 60_000)
    assert report.dead_runs == 1
    failed = job(api, dead["id"])
    assert failed["status"] == "FAILED" and "no attempts are left" in failed["result"]["error"]


def test_finished_jobs_are_hidden_then_purged_with_their_logs_after_retention(
    api, worker, clock, dynamodb, monkeypatch
):
    from oversight.config import settings
    from oversight.sweep import run_sweep

    monkeypatch.setenv("RETENTION_DAYS", "1")
    settings.cache_clear()
    try:
        done = submit(api, parameters={"text": "old"})
        waiting = submit(
            api, parameters={"text": "kept"}, requires_approval=True, approval={"expires_in_seconds": 3 * 86400}
        )
        worker.drain()
        assert api.get(f"/jobs/{done['id']}/logs", VIEWER).body["items"]
        clock.advance(days=1, hours=1)
        assert api.get(f"/jobs/{done['id']}", VIEWER).status == 404
        assert [j["id"] for j in api.get("/jobs", VIEWER).body["items"]] == [waiting["id"]]
        report = run_sweep(lambda: 60_000)
        assert report.purged_jobs == 1
        left = dynamodb.query(
            TableName="OversightTable",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"T#acme#JOB#{done['id']}"}},
        )
        assert left["Items"] == []
        assert api.get(f"/jobs/{waiting['id']}", VIEWER).body["status"] == "AWAITING_APPROVAL"
        assert api.get("/stats", VIEWER).body["jobs"]["total"] == 2  # counts are all-time
    finally:
        settings.cache_clear()


def test_a_decision_and_its_jobs_change_commit_together(api, worker, monkeypatch):
    """If the job's write fails, the decision is not committed either."""
    from oversight.store.jobs import DynamoJobStore

    gated = submit(api, parameters={"text": "atomic"}, requires_approval=True)
    original = DynamoJobStore.linked_transition

    def stale_condition(self, tenant, before, after, run_deadline=None):
        write = original(self, tenant, before, after, run_deadline)
        write.items[0]["Put"]["ExpressionAttributeValues"][":expected"] = {"S": "RUNNING"}  # can never hold
        return write

    monkeypatch.setattr(DynamoJobStore, "linked_transition", stale_condition)
    reply = api.post(f"/interventions/{gated['intervention_id']}/approve", OPERATOR, {"reason": "go"})
    assert reply.status == 409
    assert api.get(f"/interventions/{gated['intervention_id']}", VIEWER).body["status"] == "PENDING"
    assert job(api, gated["id"])["status"] == "AWAITING_APPROVAL"
    assert worker.drain() == 0


def test_idempotency_key_on_job_submission(api, worker):
    headers = {"Idempotency-Key": "nightly-export-2026-11-23"}
    body = {"tool": "test_echo", "parameters": {"text": "once"}}
    replies = [api.post("/jobs", REQUESTER, body, headers=headers) for _ in range(3)]
    assert [r.status for r in replies] == [202, 202, 202]
    assert replies[0].raw["body"] == replies[1].raw["body"] == replies[2].raw["body"]
    assert len(api.get("/jobs", VIEWER).body["items"]) == 1
    other = api.post("/jobs", REQUESTER, {**body, "parameters": {"text": "twice"}}, headers=headers)
    assert other.status == 422 and other.body["code"] == "idempotency_key_reused"
    worker.drain()
    assert jobtools.RUNS["test_echo"] == 1


def test_outputs_over_64_kib_are_capped_and_flagged(api, worker):
    from pydantic import BaseModel, ConfigDict

    from oversight.tools.registry import DEFAULT_REGISTRY, Tool

    class Loud(BaseModel):
        model_config = ConfigDict(extra="forbid")

    def loud(params, ctx):
        print("x" * 70_000)
        return "y" * 70_000

    DEFAULT_REGISTRY.register(Tool("test_loud", "Prints too much (tests)", Loud, 5, False, loud))
    try:
        queued = submit(api, tool="test_loud")
        worker.drain()
    finally:
        DEFAULT_REGISTRY.unregister("test_loud")
    result = job(api, queued["id"])["result"]
    assert result["truncated"] is True
    assert len(result["stdout"].encode()) == 64 * 1024 and len(result["return_value"].encode()) == 64 * 1024


def test_a_host_removed_from_the_allow_list_fails_the_job_at_once_without_a_request(api, worker, monkeypatch):
    import socket

    monkeypatch.setenv("HTTP_POST_ALLOWED_HOSTS", "hooks.example.test")
    queued = submit(api, tool="http_post", parameters={"url": "https://hooks.example.test/x", "json": {"a": 1}})
    monkeypatch.setenv("HTTP_POST_ALLOWED_HOSTS", "")

    def no_network(*args, **kwargs):
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(socket, "create_connection", no_network)
    worker.drain()
    failed = job(api, queued["id"])
    assert failed["status"] == "FAILED" and failed["attempts"] == 1
    assert "not in HTTP_POST_ALLOWED_HOSTS" in failed["result"]["error"]


def test_a_cancel_that_keeps_losing_races_is_the_conflict_code_interventions_use(api, monkeypatch):
    from oversight.errors import VersionConflict
    from oversight.store.jobs import DynamoJobStore

    queued = submit(api, parameters={"text": "x"})

    def always_raced(self, tenant, before, after, run_deadline=None):
        raise VersionConflict(before.id)

    monkeypatch.setattr(DynamoJobStore, "transition", always_raced)
    refused = api.post(f"/jobs/{queued['id']}/cancel", REQUESTER)
    assert (refused.status, refused.body["code"]) == (409, "conflict")
    assert "changed concurrently" in refused.body["message"]
