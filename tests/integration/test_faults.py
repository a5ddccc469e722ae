"""AWS faults: throttling and server errors that outlast botocore's own
retries. The API answers 503 `service_unavailable` with Retry-After and
writes nothing; the same request, retried once the fault clears, succeeds
exactly once. A queue that refuses a message loses no job (the sweep queues
it). The worker leaves the message unacknowledged when it cannot record a
run, and the job still finishes once.

Faults are injected with a botocore `before-call` handler on the client the
layer uses: it answers in place of the service, so nothing is sent and no
retry waits (as if every retry had already been spent)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import tests.jobtools as jobtools
from tests.conftest import TEMPLATE
from tests.integration.test_observability import emitted, logs, metric_names  # noqa: F401 - fixture
from tests.support import OPERATOR, REQUESTER, VIEWER, JobWorker

TABLES = ("OversightTable", "IdempotencyTable")

# (error code, HTTP status, transaction cancellation reasons)
THROTTLED = ("ProvisionedThroughputExceededException", 400, None)
SERVER_ERROR = ("InternalServerError", 500, None)
TX_THROTTLED = ("TransactionCanceledException", 400, ["ThrottlingError", "None", "None"])
WRITE_FAULTS = [
    pytest.param(THROTTLED, id="throughput-exceeded"),
    pytest.param(SERVER_ERROR, id="internal-server-error"),
    pytest.param(TX_THROTTLED, id="transaction-cancelled-throttling"),
]
READ_FAULTS = [
    pytest.param(THROTTLED, id="throughput-exceeded"),
    pytest.param(SERVER_ERROR, id="internal-server-error"),
]


class _HttpAnswer:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}
        self.content = b""


class Faults:
    """Answers chosen operations of a boto3 client in place of the service
    (an error response, or any other); `with Faults() as faults:` clears
    them on the way out."""

    def __init__(self) -> None:
        self._registered: list[tuple[Any, str, Callable[..., Any]]] = []
        self.hits = 0

    def __enter__(self) -> Faults:
        return self

    def __exit__(self, *_: Any) -> None:
        self.clear()

    def inject(
        self,
        client: Any,
        operation: str,
        fault: tuple[str, int, list[str] | None] = THROTTLED,
        when: Callable[[dict[str, Any]], bool] | None = None,
        times: int | None = None,
    ) -> None:
        code, status, reasons = fault
        remaining = [times]

        def answer(body: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
            if remaining[0] == 0 or (when is not None and not when(body)):
                return None
            if remaining[0] is not None:
                remaining[0] -= 1
            parsed: dict[str, Any] = {
                "Error": {"Code": code, "Message": "injected fault"},
                "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}},
            }
            if reasons is not None:
                parsed["CancellationReasons"] = [{"Code": reason} for reason in reasons]
            return status, parsed

        self.respond(client, operation, answer)

    def respond(
        self, client: Any, operation: str, answer: Callable[[dict[str, Any]], tuple[int, dict[str, Any]] | None]
    ) -> None:
        """`answer(request body)` gives (HTTP status, parsed response), or
        None to let the request through to the service."""

        def handler(params: dict[str, Any], **_: Any) -> Any:
            answered = answer(_request_body(params))
            if answered is None:
                return None
            self.hits += 1
            return _HttpAnswer(answered[0]), answered[1]

        event = f"before-call.{client.meta.service_model.service_id.hyphenize()}.{operation}"
        client.meta.events.register(event, handler)
        self._registered.append((client, event, handler))

    def clear(self) -> None:
        for client, event, handler in self._registered:
            client.meta.events.unregister(event, handler)
        self._registered.clear()


def _request_body(params: dict[str, Any]) -> dict[str, Any]:
    body = params.get("body") or b"{}"
    try:
        return json.loads(body)
    except ValueError:  # a query-protocol body: not needed by these tests
        return {}


@pytest.fixture
def faults() -> Iterator[Faults]:
    with Faults() as injected:
        yield injected


@pytest.fixture(autouse=True)
def test_tools() -> Iterator[None]:
    with jobtools.registered():
        yield


@pytest.fixture
def worker(sqs: Any) -> JobWorker:
    jobtools.reset()
    return JobWorker(TEMPLATE, sqs)


# ------------------------------------------------------------------ helpers
def snapshot(dynamodb: Any, sqs: Any) -> dict[str, Any]:
    """Every item of both tables, and the job queues' message counts."""
    state: dict[str, Any] = {}
    for table in TABLES:
        items, request = [], {"TableName": table}
        while True:
            response = dynamodb.scan(**request)
            items += [json.dumps(item, sort_keys=True) for item in response["Items"]]
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        state[table] = sorted(items)
    for name in ("JobQueue", "JobDeadLetterQueue"):
        state[name] = jobtools.queue_counts(sqs, name)
    return state


def queued(sqs: Any) -> int:
    return int(jobtools.queue_counts(sqs)["ApproximateNumberOfMessages"])


def assert_unavailable(reply: Any) -> None:
    assert reply.status == 503, reply.body
    assert reply.headers["retry-after"] == "1"
    assert set(reply.body) <= {"code", "message", "details"}
    assert reply.body["code"] == "service_unavailable"
    assert "correlation id" in reply.body["message"]
    assert "Traceback" not in json.dumps(reply.body) and "injected fault" not in reply.body["message"]


def submit(api: Any, claims: dict[str, Any] = REQUESTER, headers: dict[str, str] | None = None, **options: Any) -> Any:
    body = {"tool": "test_echo", "parameters": {"text": "hi"}, **options}
    return api.post("/jobs", claims, body, headers=headers)


def stats(api: Any) -> dict[str, Any]:
    return api.get("/stats", VIEWER).body


def writes(entity: str, status: str | None = None) -> Callable[[dict[str, Any]], bool]:
    """A TransactWriteItems that puts a record of `entity` (with `status`, if given)."""

    def matches(body: dict[str, Any]) -> bool:
        items = [entry.get("Put", {}).get("Item", {}) for entry in body.get("TransactItems", [])]
        return any(
            item.get("entity", {}).get("S") == entity and (status is None or item.get("status", {}).get("S") == status)
            for item in items
        )

    return matches


# ------------------------------------------------------ creating interventions
@pytest.mark.parametrize("fault", WRITE_FAULTS)
def test_create_fault_is_503_writes_nothing_and_the_retry_creates_once(api, dynamodb, sqs, faults, fault):
    before = snapshot(dynamodb, sqs)
    faults.inject(dynamodb, "TransactWriteItems", fault)
    body = {"uow_id": "u-1", "type": "approval", "title": "Ship it"}
    assert_unavailable(api.post("/interventions", REQUESTER, body))
    assert snapshot(dynamodb, sqs) == before

    faults.clear()
    assert api.post("/interventions", REQUESTER, body).status == 201
    assert stats(api)["interventions"]["total"] == 1
    assert len(api.get("/interventions?status=PENDING", VIEWER).body["items"]) == 1


@pytest.mark.parametrize("fault", WRITE_FAULTS)
def test_keyed_create_fault_leaves_no_idempotency_record_and_the_key_works_after(api, dynamodb, sqs, faults, fault):
    headers = {"Idempotency-Key": "deploy-4.2"}
    body = {"uow_id": "u-1", "type": "approval", "title": "Ship it"}
    before = snapshot(dynamodb, sqs)
    faults.inject(dynamodb, "TransactWriteItems", fault)
    assert_unavailable(api.post("/interventions", REQUESTER, body, headers=headers))
    assert snapshot(dynamodb, sqs) == before  # the in-progress record was taken back

    faults.clear()
    first = api.post("/interventions", REQUESTER, body, headers=headers)
    again = api.post("/interventions", REQUESTER, body, headers=headers)
    assert (first.status, again.status) == (201, 201) and first.body == again.body
    assert stats(api)["interventions"]["total"] == 1
    assert len(snapshot(dynamodb, sqs)["IdempotencyTable"]) == 1


@pytest.mark.parametrize("fault", READ_FAULTS)
def test_a_throttled_idempotency_store_is_503_before_anything_is_written(api, dynamodb, sqs, faults, fault):
    headers = {"Idempotency-Key": "k-1"}
    body = {"uow_id": "u-1", "type": "approval", "title": "Ship it"}
    before = snapshot(dynamodb, sqs)
    faults.inject(dynamodb, "PutItem", fault)  # taking the in-progress record
    assert_unavailable(api.post("/interventions", REQUESTER, body, headers=headers))
    assert snapshot(dynamodb, sqs) == before
    faults.clear()
    assert api.post("/interventions", REQUESTER, body, headers=headers).status == 201
    assert stats(api)["interventions"]["total"] == 1


def test_a_committed_create_whose_idempotency_record_cannot_complete_is_answered_not_redone(api, dynamodb, sqs, faults):
    headers = {"Idempotency-Key": "k-1"}
    body = {"uow_id": "u-1", "type": "approval", "title": "Ship it"}
    faults.inject(dynamodb, "UpdateItem")  # marking the record COMPLETED
    created = api.post("/interventions", REQUESTER, body, headers=headers)
    assert created.status == 201  # it exists: a 503 would invite a duplicate
    faults.clear()
    retry = api.post("/interventions", REQUESTER, body, headers=headers)
    assert retry.status == 409 and retry.body["code"] == "conflict"  # the record still says in progress
    assert stats(api)["interventions"]["total"] == 1


# ------------------------------------------------------------------ decisions
def _decision(action: str) -> tuple[dict[str, Any], dict[str, Any] | None, str]:
    """(who acts, body, resulting status)."""
    return {
        "claim": (OPERATOR, None, "IN_PROGRESS"),
        "approve": (OPERATOR, {"reason": "fine"}, "APPROVED"),
        "reject": (OPERATOR, {"reason": "no"}, "REJECTED"),
        "cancel": (REQUESTER, {"reason": "not needed"}, "CANCELLED"),
    }[action]


@pytest.mark.parametrize("fault", WRITE_FAULTS)
@pytest.mark.parametrize("action", ["claim", "approve", "reject", "cancel"])
def test_decision_fault_is_503_changes_nothing_and_the_retry_applies_once(api, dynamodb, sqs, faults, action, fault):
    iv = api.create()
    who, body, status = _decision(action)
    before = snapshot(dynamodb, sqs)
    faults.inject(dynamodb, "TransactWriteItems", fault)
    assert_unavailable(api.post(f"/interventions/{iv['id']}/{action}", who, body))
    assert snapshot(dynamodb, sqs) == before

    faults.clear()
    done = api.post(f"/interventions/{iv['id']}/{action}", who, body)
    assert (done.status, done.body["status"], done.body["version"]) == (200, status, 2)
    events = api.get(f"/interventions/{iv['id']}/events", VIEWER).body["items"]
    assert [e["to_status"] for e in events] == ["PENDING", status]
    figures = stats(api)["interventions"]
    assert figures["total"] == 1 and figures["by_status"].get(status) == 1
    assert figures["by_status"].get("PENDING", 0) == 0


@pytest.mark.parametrize("fault", WRITE_FAULTS)
def test_an_approval_that_releases_a_gated_job_is_all_or_nothing_under_a_fault(
    api, dynamodb, sqs, faults, worker, fault
):
    gated = submit(api, requires_approval=True).body
    gate = f"/interventions/{gated['intervention_id']}/approve"
    before = snapshot(dynamodb, sqs)
    faults.inject(dynamodb, "TransactWriteItems", fault)
    assert_unavailable(api.post(gate, OPERATOR, {"reason": "go"}))
    assert snapshot(dynamodb, sqs) == before  # neither decision nor job nor message

    faults.clear()
    assert api.post(gate, OPERATOR, {"reason": "go"}).body["status"] == "APPROVED"
    assert queued(sqs) == 1
    worker.drain()
    job = api.get(f"/jobs/{gated['id']}", VIEWER).body
    assert (job["status"], job["attempts"], jobtools.RUNS["test_echo"]) == ("COMPLETED", 1, 1)
    assert jobtools.job_counts(api) == {"COMPLETED": 1}


# ------------------------------------------------------------------------ jobs
@pytest.mark.parametrize("fault", WRITE_FAULTS)
@pytest.mark.parametrize("variant", ["plain", "gated", "keyed"])
def test_submission_fault_is_503_stores_and_queues_nothing_and_the_retry_submits_once(
    api, dynamodb, sqs, faults, worker, variant, fault
):
    options = {"requires_approval": True} if variant == "gated" else {}
    headers = {"Idempotency-Key": "nightly"} if variant == "keyed" else None
    before = snapshot(dynamodb, sqs)
    faults.inject(dynamodb, "TransactWriteItems", fault)
    assert_unavailable(submit(api, headers=headers, **options))
    assert snapshot(dynamodb, sqs) == before

    faults.clear()
    accepted = submit(api, headers=headers, **options)
    assert accepted.status == 202
    if variant == "keyed":
        assert submit(api, headers=headers).body == accepted.body
    assert stats(api)["jobs"]["total"] == 1
    assert queued(sqs) == (0 if variant == "gated" else 1)
    worker.drain()
    assert jobtools.RUNS.get("test_echo", 0) == (0 if variant == "gated" else 1)


@pytest.mark.parametrize("fault", WRITE_FAULTS)
@pytest.mark.parametrize("variant", ["pending", "gated"])
def test_job_cancel_fault_is_503_changes_nothing_and_the_retry_cancels_once(
    api, dynamodb, sqs, faults, worker, variant, fault
):
    job = submit(api, requires_approval=variant == "gated").body
    sqs.purge_queue(QueueUrl=worker.queue_url)  # only the stored state matters here
    before = snapshot(dynamodb, sqs)
    # Gated: fail the write of the approval; had the job been cancelled in a
    # write of its own, it would now be cancelled with its approval still open.
    faults.inject(dynamodb, "TransactWriteItems", fault, when=writes("intervention") if variant == "gated" else None)
    assert_unavailable(api.post(f"/jobs/{job['id']}/cancel", REQUESTER))
    assert faults.hits == 1
    assert snapshot(dynamodb, sqs) == before  # a gated job and its approval: neither moved

    faults.clear()
    cancelled = api.post(f"/jobs/{job['id']}/cancel", REQUESTER)
    assert (cancelled.status, cancelled.body["status"]) == (200, "CANCELLED")
    assert jobtools.job_counts(api) == {"CANCELLED": 1}
    figures = stats(api)
    if variant == "gated":
        gate = api.get(f"/interventions/{job['intervention_id']}", VIEWER).body
        assert gate["status"] == "CANCELLED"
        assert figures["interventions"]["by_status"].get("CANCELLED") == 1
    assert api.post(f"/jobs/{job['id']}/cancel", REQUESTER).status == 409


# ---------------------------------------------------------------------- reads
def _read_urls(api: Any) -> dict[str, str]:
    iv = api.create()
    job = submit(api).body
    return {
        "GetItem": f"/interventions/{iv['id']}",
        "Query": f"/interventions/{iv['id']}/events",
        "Query-list": "/interventions?status=PENDING",
        "GetItem-job": f"/jobs/{job['id']}",
        "Query-jobs": "/jobs",
        "BatchGetItem": "/stats",
    }


@pytest.mark.parametrize("fault", READ_FAULTS)
@pytest.mark.parametrize("read", ["GetItem", "Query", "Query-list", "GetItem-job", "Query-jobs", "BatchGetItem"])
def test_read_faults_are_503(api, dynamodb, faults, read, fault):
    url = _read_urls(api)[read]
    faults.inject(dynamodb, read.split("-")[0], fault)
    assert_unavailable(api.get(url, VIEWER))
    faults.clear()
    assert api.get(url, VIEWER).status == 200


def test_a_transition_whose_read_is_throttled_is_503(api, dynamodb, sqs, faults):
    iv = api.create()
    before = snapshot(dynamodb, sqs)
    faults.inject(dynamodb, "GetItem")
    assert_unavailable(api.post(f"/interventions/{iv['id']}/approve", OPERATOR, {"reason": "ok"}))
    assert snapshot(dynamodb, sqs) == before


def test_stats_whose_counter_reads_stay_unprocessed_are_503(api, dynamodb, faults, monkeypatch):
    import oversight.store.faults as fault_module

    monkeypatch.setattr(fault_module.time, "sleep", lambda _: None)
    faults.respond(
        dynamodb,
        "BatchGetItem",
        lambda body: (200, {"Responses": {}, "UnprocessedKeys": body["RequestItems"], "ResponseMetadata": {}}),
    )
    assert_unavailable(api.get("/stats", VIEWER))


def test_other_errors_stay_500_without_retry_after(api, dynamodb, faults):
    faults.inject(dynamodb, "TransactWriteItems", ("ValidationException", 400, None))
    reply = api.post("/interventions", REQUESTER, {"uow_id": "u", "type": "approval", "title": "t"})
    assert reply.status == 500 and reply.body["code"] == "internal_error" and "retry-after" not in reply.headers


def test_a_condition_failure_in_a_cancelled_transaction_is_not_a_fault(api, dynamodb, faults):
    iv = api.create()
    lost_race = ("TransactionCanceledException", 400, ["ConditionalCheckFailed", "ThrottlingError"])
    faults.inject(dynamodb, "TransactWriteItems", lost_race)
    reply = api.post(f"/interventions/{iv['id']}/claim", OPERATOR)
    assert reply.status == 409 and reply.body["code"] == "conflict"


def test_early_401_and_413_need_no_aws_and_still_answer(api, dynamodb, faults):
    for operation in ("GetItem", "Query", "PutItem", "TransactWriteItems", "BatchGetItem"):
        faults.inject(dynamodb, operation)
    assert api.post("/interventions", None, {"uow_id": "u"}).status == 401
    too_big = api.post("/interventions", REQUESTER, raw_body="x" * (64 * 1024 + 1))
    assert too_big.status == 413 and faults.hits == 0


def test_a_fault_is_logged_as_a_warning_with_the_correlation_id_and_counted(api, dynamodb, faults, capsys, logs):  # noqa: F811
    emitted(capsys, logs)
    faults.inject(dynamodb, "TransactWriteItems", THROTTLED)
    reply = api.post("/interventions", REQUESTER, {"uow_id": "u", "type": "approval", "title": "t"})
    records = emitted(capsys, logs)
    (warning,) = [r for r in records if r.get("message") == "dependency fault; answered 503"]
    assert warning["level"] == "WARNING" and warning["correlation_id"] in reply.body["message"]
    assert warning["error_code"] == "ProvisionedThroughputExceededException"
    assert warning["operation"] == "TransactWriteItems"
    assert "DependencyThrottled" in metric_names(records)
    assert not any(r.get("level") == "ERROR" for r in records)

    faults.clear()
    faults.inject(dynamodb, "TransactWriteItems", SERVER_ERROR)
    api.post("/interventions", REQUESTER, {"uow_id": "u", "type": "approval", "title": "t"})
    assert "DependencyUnavailable" in metric_names(emitted(capsys, logs))


# ------------------------------------------------------- the queue refuses
def test_a_submission_the_queue_refuses_is_accepted_and_the_sweep_queues_it(api, sqs, clock, faults, worker):
    from oversight.sweep import run_sweep

    faults.inject(sqs, "SendMessage", ("ServiceUnavailable", 503, None))
    accepted = submit(api)
    assert (accepted.status, accepted.body["status"]) == (202, "PENDING")  # stored: a 503 would invite a duplicate
    faults.clear()
    assert queued(sqs) == 0
    assert run_sweep(lambda: 60_000).requeued == 0  # not yet due
    clock.advance(minutes=16)
    assert run_sweep(lambda: 60_000).requeued == 1
    worker.drain()
    job = api.get(f"/jobs/{accepted.body['id']}", VIEWER).body
    assert (job["status"], job["attempts"], jobtools.RUNS["test_echo"]) == ("COMPLETED", 1, 1)
    assert stats(api)["jobs"]["total"] == 1


def test_an_approval_whose_job_the_queue_refuses_stands_and_the_sweep_queues_the_job(api, sqs, clock, faults, worker):
    from oversight.sweep import run_sweep

    gated = submit(api, requires_approval=True).body
    faults.inject(sqs, "SendMessage", THROTTLED)
    decided = api.post(f"/interventions/{gated['intervention_id']}/approve", OPERATOR, {"reason": "go"})
    assert (decided.status, decided.body["status"]) == (200, "APPROVED")
    faults.clear()
    assert api.get(f"/jobs/{gated['id']}", VIEWER).body["status"] == "PENDING" and queued(sqs) == 0
    clock.advance(minutes=16)
    assert run_sweep(lambda: 60_000).requeued == 1
    worker.drain()
    job = api.get(f"/jobs/{gated['id']}", VIEWER).body
    assert (job["status"], jobtools.RUNS["test_echo"]) == ("COMPLETED", 1)


# ---------------------------------------------------------------- the worker
def test_a_throttled_result_write_is_retried_by_redelivery_and_the_job_finishes_once(
    api, dynamodb, sqs, faults, worker
):
    job_id = submit(api).body["id"]
    (message,) = sqs.receive_message(QueueUrl=worker.queue_url, AttributeNames=["All"])["Messages"]
    faults.inject(dynamodb, "TransactWriteItems", THROTTLED, when=writes("job", "COMPLETED"), times=1)

    assert worker.invoke([message]) == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
    assert faults.hits == 1
    given_back = api.get(f"/jobs/{job_id}", VIEWER).body
    assert (given_back["status"], given_back["attempts"], given_back["result"]) == ("PENDING", 1, None)
    assert jobtools.job_counts(api) == {"PENDING": 1}

    assert worker.invoke([message]) == {"batchItemFailures": []}  # the redelivery
    done = api.get(f"/jobs/{job_id}", VIEWER).body
    assert (done["status"], done["attempts"]) == ("COMPLETED", 2)
    assert done["result"]["return_value"] == {"echo": "hi", "repeat": 1} and done["result"]["error"] is None
    assert jobtools.RUNS["test_echo"] == 2  # the unrecorded run is run again: its outcome was never stored
    assert jobtools.job_counts(api) == {"COMPLETED": 1}
    assert api.get("/stats/daily?days=1", VIEWER).body["days"][0]["jobs_completed"] == 1
    assert worker.invoke([message]) == {"batchItemFailures": []}  # a late duplicate changes nothing
    assert jobtools.stored_state(api.get(f"/jobs/{job_id}", VIEWER).body) == jobtools.stored_state(done)


def test_a_worker_that_can_write_nothing_leaves_the_job_to_its_deadline_and_it_finishes_once(
    api, dynamodb, sqs, clock, faults, worker
):
    from oversight.sweep import run_sweep

    job_id = submit(api).body["id"]
    # Every write after the start fails: the result and the give-back both.
    faults.inject(dynamodb, "TransactWriteItems", SERVER_ERROR, when=lambda body: not writes("job", "RUNNING")(body))
    worker.drain(rounds=1)
    assert worker.failures and queued(sqs) == 1  # not acknowledged
    assert api.get(f"/jobs/{job_id}", VIEWER).body["status"] == "RUNNING"
    faults.clear()

    worker.drain()  # redelivered before the run's deadline: still that run's, nothing to do
    assert api.get(f"/jobs/{job_id}", VIEWER).body["status"] == "RUNNING"
    clock.advance(seconds=5 + 61)  # past the deadline: the sweep gives it back and queues it
    assert run_sweep(lambda: 60_000).dead_runs == 1
    worker.drain()
    done = api.get(f"/jobs/{job_id}", VIEWER).body
    assert (done["status"], done["attempts"]) == ("COMPLETED", 2)
    assert jobtools.job_counts(api) == {"COMPLETED": 1}
    assert queued(sqs) == 0 and worker.dead_letters() == []


def test_a_throttled_cache_write_does_not_fail_a_finished_job(api, dynamodb, sqs, faults, worker):
    job_id = submit(api).body["id"]
    faults.inject(dynamodb, "PutItem", THROTTLED)  # the cache entry
    worker.drain()
    assert worker.failures == []
    assert api.get(f"/jobs/{job_id}", VIEWER).body["status"] == "COMPLETED"
    faults.clear()
    assert submit(api).body["status"] == "PENDING"  # no cache entry: runs again
