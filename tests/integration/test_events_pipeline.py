"""The event pipeline in process, against moto: the table's stream →
publish_events → the bus (moto's rule) → the delivery queue →
deliver_webhooks → a real HTTP receiver on 127.0.0.1 (docs/integrations.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import TEMPLATE
from tests.receiver import receiving, signature_valid
from tests.streams import Pipeline, queue_messages
from tests.support import ADMIN, OPERATOR, REQUESTER


@pytest.fixture
def pipeline(sqs: Any) -> Pipeline:
    return Pipeline(sqs)


@pytest.fixture
def run_sweep() -> Any:
    from tests.integration.test_sweep import run_sweep_handler

    return run_sweep_handler


@pytest.fixture
def allow(monkeypatch: pytest.MonkeyPatch):
    def allowing(*netlocs: str) -> None:
        monkeypatch.setenv("WEBHOOK_ALLOWED_HOSTS", ",".join(netlocs))

    return allowing


def subscribe(api: Any, url: str, events: list[str] | None = None) -> dict[str, Any]:
    reply = api.post("/webhooks", ADMIN, {"url": url, "events": events or ["*"]})
    assert reply.status == 201, reply.body
    return reply.body


def test_create_claim_approve_reach_a_subscriber_once_each_in_order_and_signed(api, pipeline, allow):
    with receiving() as receiver:
        allow(receiver.netloc)
        hook = subscribe(api, receiver.url)
        iv = api.create()
        assert api.post(f"/interventions/{iv['id']}/claim", OPERATOR).status == 200
        assert api.post(f"/interventions/{iv['id']}/approve", OPERATOR, {"reason": "fine"}).status == 200
        pipeline.run()

    events = receiver.events()
    assert [(e["action"], e["version"], e["intervention"]["status"]) for e in events] == [
        ("create", 1, "PENDING"),
        ("claim", 2, "IN_PROGRESS"),
        ("approve", 3, "APPROVED"),
    ]
    assert [e["event_id"] for e in events] == [d.id for d in receiver.deliveries]
    assert all(e["tenant"] == "acme" and e["intervention"]["id"] == iv["id"] for e in events)
    assert [p["detail-type"] for p in pipeline.published] == [
        "Intervention Created",
        "Intervention Claimed",
        "Intervention Approved",
    ]
    assert all(p["source"] == "oversight" for p in pipeline.published)
    for delivery in receiver.deliveries:
        assert signature_valid(hook["secret"], delivery)
        assert delivery.headers["content-type"] == "application/json"
        assert int(delivery.headers["webhook-timestamp"]) > 1_700_000_000
    tampered = receiver.deliveries[0]
    assert not signature_valid(hook["secret"], type(tampered)(tampered.path, tampered.headers, tampered.body + b" "))
    assert not signature_valid("another-secret-entirely", tampered)


@pytest.fixture
def postponements() -> Any:
    """The visibility timeouts deliver_webhooks sets on failed messages (its retry delays)."""
    from oversight.store.deliveries import _sqs

    seen: list[int] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        seen.append(params["VisibilityTimeout"])

    events = _sqs().meta.events
    events.register("provide-client-params.sqs.ChangeMessageVisibility", record)
    yield seen
    events.unregister("provide-client-params.sqs.ChangeMessageVisibility", record)


def test_a_receiver_failing_twice_gets_the_same_webhook_id_three_times_with_growing_delays(
    api, pipeline, allow, postponements
):
    with receiving([500, 500, 200]) as receiver:
        allow(receiver.netloc)
        hook = subscribe(api, receiver.url, ["Intervention Created"])
        api.create()
        pipeline.run()

    assert len(receiver.deliveries) == 3
    assert len({d.id for d in receiver.deliveries}) == 1
    assert all(signature_valid(hook["secret"], d) for d in receiver.deliveries)
    assert postponements == [30, 60]  # 30 s, then 1 min (DELIVERY_RETRY_SCALE is 1 here)
    (shown,) = api.get("/webhooks", ADMIN).body["items"]
    last = shown["last_delivery"]
    assert (last["ok"], last["status_code"], last["attempt"], last["event_type"]) == (
        True,
        200,
        3,
        "Intervention Created",
    )
    assert "secret" not in shown


def test_a_receiver_that_always_fails_ends_in_the_dead_letter_queue_and_counts_webhook_failed(
    api, pipeline, allow, postponements, capsys
):
    with receiving([503] * 20) as receiver:
        allow(receiver.netloc)
        subscribe(api, receiver.url, ["Intervention Created"])
        api.create()
        pipeline.run()

    assert len(receiver.deliveries) == 8  # DELIVERY_MAX_ATTEMPTS, the queue's maxReceiveCount
    assert postponements == [30, 60, 120, 240, 480, 960, 1920, 0]  # ~64 min in all; the last: to the DLQ at once
    (dead,) = pipeline.dead_letters()
    assert json.loads(dead["Body"])["target"]["kind"] == "webhook"
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert sum(m.get("WebhookFailed", [0])[0] for m in metrics) == 1
    assert sum(m.get("WebhookRetried", [0])[0] for m in metrics) == 7


def test_a_410_disables_the_subscription_and_nothing_more_is_sent(api, pipeline, allow):
    with receiving([410]) as receiver:
        allow(receiver.netloc)
        subscribe(api, receiver.url)
        iv = api.create()
        pipeline.run()
        api.post(f"/interventions/{iv['id']}/claim", OPERATOR)
        pipeline.run()

    assert len(receiver.deliveries) == 1
    (shown,) = api.get("/webhooks", ADMIN).body["items"]
    assert shown["enabled"] is False and "410" in shown["disabled_reason"]
    assert pipeline.dead_letters() == []


def test_a_subscriber_gets_only_the_event_types_it_asked_for(api, pipeline, allow):
    with receiving() as receiver:
        allow(receiver.netloc)
        subscribe(api, receiver.url, ["Intervention Approved"])
        iv = api.create()
        api.post(f"/interventions/{iv['id']}/claim", OPERATOR)
        api.post(f"/interventions/{iv['id']}/approve", OPERATOR, {"reason": "ok"})
        pipeline.run()

    assert [e["action"] for e in receiver.events()] == ["approve"]


@pytest.mark.parametrize(
    "url, why",
    [
        ("http://hooks.example.com/x", "not in WEBHOOK_ALLOWED_HOSTS"),
        ("http://10.1.2.3/x", "not in WEBHOOK_ALLOWED_HOSTS"),
        ("http://169.254.169.254/latest/meta-data", "not in WEBHOOK_ALLOWED_HOSTS"),
        ("http://localhost:9/x", "non-public address"),
        ("ftp://127.0.0.1/x", "http or https"),
        ("http://user:pw@127.0.0.1:{port}/x", "user name or password"),
    ],
)
def test_a_refused_callback_or_subscription_url_is_422_and_never_called(api, pipeline, allow, url, why):
    with receiving() as receiver:
        # localhost:9 is listed by name: it resolves to a loopback address that is not itself listed.
        allow(receiver.netloc, "localhost:9")
        target = url.format(port=receiver.port)
        created = api.post(
            "/interventions",
            REQUESTER,
            {"uow_id": "u", "type": "approval", "title": "t", "callback_url": target, "callback_secret": "s" * 16},
        )
        hooked = api.post("/webhooks", ADMIN, {"url": target, "events": ["*"]})
        pipeline.run()

    for reply, field in ((created, "callback_url"), (hooked, "url")):
        assert reply.status == 422, reply.body
        (detail,) = reply.body["details"]
        assert detail["loc"][-1] == field and why in detail["msg"], detail
    assert receiver.deliveries == []


# ---------------------------------------------------------------- per-request callbacks
CALLBACK_SECRET = "callback-secret-0123456789"


def test_a_callback_url_receives_every_event_of_its_request_signed_with_its_secret(api, pipeline, allow):
    with receiving() as receiver:
        allow(receiver.netloc)
        iv = api.create(callback_url=receiver.url, callback_secret=CALLBACK_SECRET)
        other = api.create()  # no callback: nothing of it reaches the receiver
        api.post(f"/interventions/{iv['id']}/comments", OPERATOR, {"text": "looking"})
        api.post(f"/interventions/{iv['id']}/reject", OPERATOR, {"reason": "no"})
        api.post(f"/interventions/{other['id']}/reject", OPERATOR, {"reason": "no"})
        pipeline.run()

    assert [(e["action"], e["version"]) for e in receiver.events()] == [("create", 1), ("comment", 2), ("reject", 3)]
    assert all(signature_valid(CALLBACK_SECRET, d) for d in receiver.deliveries)
    assert {e["intervention"]["id"] for e in receiver.events()} == {iv["id"]}
    assert iv["callback_url"] == receiver.url and "callback_secret" not in iv


# ---------------------------------------------------------------- Step Functions
@pytest.fixture
def task_calls() -> Any:
    """The Step Functions calls deliver_webhooks makes (moto answers each
    InvalidToken: no execution waits on these tokens)."""
    from oversight.store.tasks import _states

    calls: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append((model.name, dict(params)))

    events = _states().meta.events
    events.register("provide-client-params.sfn.*", record)
    yield calls
    events.unregister("provide-client-params.sfn.*", record)


def decide(api: Any, iv: dict[str, Any], outcome: str, clock: Any, sweep: Any) -> None:
    if outcome == "approve":
        assert (
            api.post(f"/interventions/{iv['id']}/approve", OPERATOR, {"reason": "go", "response": {"n": 1}}).status
            == 200
        )
    elif outcome == "reject":
        assert api.post(f"/interventions/{iv['id']}/reject", OPERATOR, {"reason": "no"}).status == 200
    elif outcome == "cancel":
        assert api.post(f"/interventions/{iv['id']}/cancel", REQUESTER, {"reason": "moot"}).status == 200
    else:
        clock.advance(hours=2)
        sweep()


@pytest.mark.parametrize(
    "outcome, call, error, status",
    [
        ("approve", "SendTaskSuccess", None, "APPROVED"),
        ("reject", "SendTaskFailure", "Oversight.Rejected", "REJECTED"),
        ("expire", "SendTaskFailure", "Oversight.Expired", "EXPIRED"),
        ("cancel", "SendTaskFailure", "Oversight.Cancelled", "CANCELLED"),
    ],
)
def test_the_waiting_task_gets_the_outcome_once_and_invalid_token_is_final(
    api, pipeline, clock, run_sweep, task_calls, capsys, outcome, call, error, status
):
    iv = api.create(task_token="token-of-the-waiting-task")
    api.post(f"/interventions/{iv['id']}/claim", OPERATOR)  # a change that decides nothing: no call
    decide(api, iv, outcome, clock, run_sweep)
    pipeline.run()

    (made,) = task_calls  # once: InvalidToken is final, not retried
    name, params = made
    assert name == call and params["taskToken"] == "token-of-the-waiting-task"
    answer = json.loads(params["output"] if error is None else params["cause"])
    assert set(answer) == {"id", "status", "decided_by", "decision_reason", "response", "approvals"}
    assert (answer["id"], answer["status"]) == (iv["id"], status)
    if error is None:
        assert answer["response"] == {"n": 1} and answer["decided_by"] == "pilot-ana"
        assert [a["user"] for a in answer["approvals"]] == ["pilot-ana"]
    else:
        assert params["error"] == error
    assert pipeline.dead_letters() == []
    assert '"TaskGone":[1.0]' in capsys.readouterr().out
    assert "task_token" not in api.get(f"/interventions/{iv['id']}", OPERATOR).body


def test_a_throttled_task_call_is_retried(api, pipeline, task_calls, monkeypatch):
    from botocore.exceptions import ClientError

    from oversight.store import tasks

    answers = iter([ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "SendTaskSuccess")])

    def send(token: str, output: dict[str, Any]) -> None:
        failure = next(answers, None)
        task_calls.append(("SendTaskSuccess", {"taskToken": token}))
        if failure is not None:
            raise failure

    monkeypatch.setattr("oversight.delivery.send_success", send)
    iv = api.create(task_token="t-1")
    api.post(f"/interventions/{iv['id']}/approve", OPERATOR, {"reason": "go"})
    pipeline.run()
    assert [name for name, _ in task_calls] == ["SendTaskSuccess", "SendTaskSuccess"]
    assert {"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"} == tasks.FINAL_ERRORS


def waiting_execution(sqs: Any, catch: bool) -> tuple[Any, str, str]:
    """A real state machine run (moto executes it) waiting on a task token
    it sends to a queue: (client, execution ARN, token)."""
    import time

    import boto3

    queue = sqs.create_queue(QueueName="approval-requests")["QueueUrl"]
    ask: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": queue, "MessageBody": {"task_token.$": "$$.Task.Token"}},
        "End": True,
    }
    states: dict[str, Any] = {"Ask": ask}
    if catch:
        ask["Catch"] = [{"ErrorEquals": ["Oversight.Rejected"], "ResultPath": "$.refusal", "Next": "Refused"}]
        states["Refused"] = {"Type": "Pass", "End": True}
    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(
        name=f"approval-{int(catch)}",
        definition=json.dumps({"StartAt": "Ask", "States": states}),
        roleArn="arn:aws:iam::123456789012:role/approval",
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    for _ in range(100):
        messages = sqs.receive_message(QueueUrl=queue).get("Messages", [])
        if messages:
            return sfn, execution, json.loads(messages[0]["Body"])["task_token"]
        time.sleep(0.05)
    raise AssertionError("the execution never asked")


def finished(sfn: Any, execution: str) -> dict[str, Any]:
    import time

    for _ in range(100):
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError("the execution is still waiting")


def test_a_state_machine_waiting_on_its_task_token_resumes_with_the_approval(api, pipeline, sqs):
    sfn, execution, token = waiting_execution(sqs, catch=False)
    iv = api.create(task_token=token)
    api.post(f"/interventions/{iv['id']}/approve", OPERATOR, {"reason": "go", "response": {"window": "02:00"}})
    pipeline.run()

    done = finished(sfn, execution)
    assert done["status"] == "SUCCEEDED"
    output = json.loads(done["output"])
    assert (output["id"], output["status"], output["decided_by"], output["response"]) == (
        iv["id"],
        "APPROVED",
        "pilot-ana",
        {"window": "02:00"},
    )


def test_a_rejection_is_caught_by_the_state_machine_as_oversight_rejected(api, pipeline, sqs, task_calls):
    sfn, execution, token = waiting_execution(sqs, catch=True)
    iv = api.create(task_token=token)
    api.post(f"/interventions/{iv['id']}/reject", OPERATOR, {"reason": "not now"})
    pipeline.run()

    done = finished(sfn, execution)
    assert done["status"] == "SUCCEEDED"  # through the Catch
    assert json.loads(done["output"])["refusal"]["Error"] == "Oversight.Rejected"
    # The emulator drops the cause on the way to the execution: read it from the call.
    ((name, params),) = task_calls
    cause = json.loads(params["cause"])
    assert (name, cause["id"], cause["status"], cause["decision_reason"]) == (
        "SendTaskFailure",
        iv["id"],
        "REJECTED",
        "not now",
    )


# ---------------------------------------------------------------- no event lost, none made up
def published_ids(pipeline: Pipeline, sqs: Any) -> list[str]:
    return [m["Body"]["detail"]["event_id"] for m in queue_messages(sqs, "DeliveryQueue")]


def test_a_handler_that_dies_after_its_write_still_yields_its_event(api, pipeline, sqs, monkeypatch):
    from oversight import interventions

    counted = interventions.metrics.add_metric

    def die(name: str, **rest: Any) -> None:
        if name == "InterventionCreated":  # counted right after the store's write
            raise RuntimeError("the function died after the write")
        counted(name=name, **rest)

    monkeypatch.setattr(interventions.metrics, "add_metric", die)
    reply = api.post("/interventions", REQUESTER, {"uow_id": "u", "type": "approval", "title": "t"})
    assert reply.status == 500
    pipeline.publish()
    (message,) = [m["Body"] for m in queue_messages(sqs, "DeliveryQueue")]
    assert message["detail-type"] == "Intervention Created"
    assert message["detail"]["intervention"]["uow_id"] == "u"


def test_a_write_that_failed_yields_no_event(api, pipeline, sqs):
    from oversight import clock
    from oversight.auth import principal_from_claims
    from oversight.errors import VersionConflict
    from oversight.lifecycle import Action, apply
    from oversight.store import get_intervention_store

    iv = api.create()
    pipeline.publish()
    published_ids(pipeline, sqs)  # the create's event, out of the way
    store = get_intervention_store()
    current = store.get("acme", iv["id"])
    claimed, event = apply(Action.CLAIM, current, principal_from_claims(OPERATOR), clock.now())
    store.save_transition("acme", current, claimed, event)
    with pytest.raises(VersionConflict):  # the same version again: its condition fails
        store.save_transition("acme", current, claimed, event)

    records = pipeline.tap.records()
    assert [
        r["dynamodb"]["NewImage"].get("version", {}).get("N")
        for r in records
        if r["dynamodb"]["Keys"]["sk"]["S"] == "#META"
    ] == ["2"]
    pipeline.publish({"Records": records})
    assert len(published_ids(pipeline, sqs)) == 1


def test_a_redelivered_stream_batch_publishes_only_the_ids_it_published_before(api, pipeline, sqs):
    iv = api.create()
    api.post(f"/interventions/{iv['id']}/claim", OPERATOR)
    batch = pipeline.tap.event()
    pipeline.publish(batch)
    first = published_ids(pipeline, sqs)
    pipeline.publish(batch)  # Lambda delivers the same batch again (a timeout, a retry)
    again = published_ids(pipeline, sqs)
    assert len(first) == 2 and again == first


def test_after_a_record_fails_the_rest_of_its_batch_waits_behind_it(api, pipeline, sqs, monkeypatch):
    from oversight.store import bus

    iv = api.create()
    api.post(f"/interventions/{iv['id']}/claim", OPERATOR)
    api.post(f"/interventions/{iv['id']}/approve", OPERATOR, {"reason": "ok"})
    batch = pipeline.tap.event()
    calls = []
    original = bus.put_events

    def flaky(entries: list[dict[str, Any]]) -> None:
        calls.append(entries[0]["DetailType"])
        if len(calls) == 2:
            raise bus.EventsNotPublished("1 of 1 events were not published (ThrottlingException)")
        original(entries)

    monkeypatch.setattr("oversight.publishing.put_events", flaky)
    answer = pipeline.publish(batch)
    meta = [r for r in batch["Records"] if r["dynamodb"]["Keys"]["sk"]["S"] == "#META"]
    failed = [f["itemIdentifier"] for f in answer["batchItemFailures"]]
    # The claim failed: it and everything after it are reported, so the stream resumes from the claim.
    assert failed[0] == meta[1]["dynamodb"]["SequenceNumber"]
    assert meta[2]["dynamodb"]["SequenceNumber"] in failed
    assert calls == ["Intervention Created", "Intervention Claimed"]  # the approval was not even tried
    assert len(published_ids(pipeline, sqs)) == 1


# ---------------------------------------------------------------- jobs
def test_a_jobs_run_is_published_as_submitted_started_completed_with_its_versions(api, pipeline, sqs, allow):
    import tests.jobtools as jobtools
    from tests.support import JobWorker

    with jobtools.registered(), receiving() as receiver:
        allow(receiver.netloc)
        subscribe(api, receiver.url, ["Job Submitted", "Job Started", "Job Completed"])
        reply = api.post("/jobs", REQUESTER, {"tool": "test_echo", "parameters": {"text": "hi"}, "use_cache": False})
        assert reply.status == 202, reply.body
        JobWorker(TEMPLATE, sqs).drain()
        pipeline.run()

    events = sorted(receiver.events(), key=lambda e: e["version"])
    assert [(e["action"], e["version"], e["job"]["status"]) for e in events] == [
        ("submit", 1, "PENDING"),
        ("start", 2, "RUNNING"),
        ("complete", 3, "COMPLETED"),
    ]
    assert events[0]["actor"] == "agent-7" and events[2]["job"]["result"]["return_value"] is not None
    assert api.get(f"/jobs/{reply.body['id']}", REQUESTER).body["version"] == 3


def test_a_jobs_secret_headers_are_redacted_in_its_events(api, pipeline, sqs, monkeypatch):
    monkeypatch.setenv("HTTP_POST_ALLOWED_HOSTS", "hooks.example.com")
    parameters = {"url": "https://hooks.example.com/x", "json": {}, "headers": {"Authorization": "Bearer sk-live-123"}}
    reply = api.post("/jobs", REQUESTER, {"tool": "http_post", "parameters": parameters})
    assert reply.status == 202, reply.body
    pipeline.publish()
    (message,) = [m["Body"] for m in queue_messages(sqs, "DeliveryQueue")]
    assert message["detail-type"] == "Job Submitted"
    assert message["detail"]["job"]["parameters"]["headers"] == {"Authorization": "[redacted]"}
    assert "sk-live-123" not in json.dumps(message)


# ---------------------------------------------------------------- secrets stay secret
def test_secrets_and_task_tokens_appear_in_no_answer_log_line_event_message_or_plain_item(
    api, pipeline, sqs, allow, capsys, caplog, dynamodb
):
    from oversight.store.deliveries import _sqs

    sent: list[str] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append(json.dumps(params, default=str))

    _sqs().meta.events.register("provide-client-params.sqs.*", record)
    token = "arn-like-task-token-that-must-stay-hidden"
    with receiving() as receiver:
        allow(receiver.netloc)
        hook = api.post("/webhooks", ADMIN, {"url": receiver.url, "events": ["*"]})
        iv = api.post(
            "/interventions",
            REQUESTER,
            {
                "uow_id": "u",
                "type": "approval",
                "title": "t",
                "callback_url": receiver.url,
                "callback_secret": CALLBACK_SECRET,
                "task_token": token,
            },
        )
        answers = [
            hook.body,
            iv.body,
            api.get(f"/interventions/{iv.body['id']}", OPERATOR).body,
            api.get("/interventions", OPERATOR).body,
            api.get(f"/interventions/{iv.body['id']}/events", OPERATOR).body,
            api.post(f"/interventions/{iv.body['id']}/approve", OPERATOR, {"reason": "ok"}).body,
            api.get("/webhooks", ADMIN).body,
        ]
        pipeline.run()
    _sqs().meta.events.unregister("provide-client-params.sqs.*", record)

    webhook_secret = hook.body["secret"]
    assert len(receiver.deliveries) == 4  # 2 events x (subscription + callback)
    items = dynamodb.scan(TableName=TEMPLATE.physical_name("OversightTable"))["Items"]
    captured = capsys.readouterr()
    places = {
        "answers after the create": json.dumps(answers[1:]),
        "log lines": captured.out + captured.err + caplog.text,
        "published events": json.dumps(pipeline.published),
        "delivery messages": "".join(sent),
        "delivered bodies": "".join(d.body.decode() for d in receiver.deliveries),
        "stored items (plain)": json.dumps(items, default=str),
    }
    for secret in (CALLBACK_SECRET, token, webhook_secret):
        for place, text in places.items():
            assert secret not in text, f"a secret shows in the {place}"
    assert webhook_secret in json.dumps(answers[0])  # the one place: the create's answer


def test_the_incoming_event_is_never_logged_even_when_powertools_is_told_to(api, monkeypatch, capsys, caplog):
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    monkeypatch.setenv("WEBHOOK_ALLOWED_HOSTS", "127.0.0.1:9")
    api.create(callback_url="http://127.0.0.1:9/x", callback_secret=CALLBACK_SECRET, task_token="tok-never-logged")
    captured = capsys.readouterr()
    for secret in (CALLBACK_SECRET, "tok-never-logged"):
        assert secret not in captured.out + captured.err + caplog.text
