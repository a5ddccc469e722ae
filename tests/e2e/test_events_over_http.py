"""Events, webhooks and callbacks over real HTTP against the local runtime
(`make run`): the table's stream, the bus, the delivery queue and its
retries all run in the runtime; receivers are real HTTP servers of the
test, allow-listed by WEBHOOK_ALLOWED_HOSTS; retries are shortened by
OVERSIGHT_LOCAL_RETRY_SCALE (every delay rounds up to 1 s here)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from tests.e2e.runtime_process import RunningRuntime, RuntimeLauncher, bearer, emulator_endpoint
from tests.receiver import Receiver, receiving, signature_valid

pytestmark = pytest.mark.e2e

REQUESTER = bearer("agent-7", "requester")
OPERATOR = bearer("pilot-ana", "operator")
ADMIN = bearer("root-cy", "admin")
CALLBACK_SECRET = "e2e-callback-secret-0123456789"


@dataclass
class Scene:
    runtime: RunningRuntime
    good: Receiver
    flaky: Receiver
    dead: Receiver
    callback: Receiver
    secrets: list[str]

    def call(self, method: str, path: str, who: dict[str, str], body: Any = None) -> requests.Response:
        return requests.request(method, f"{self.runtime.url}{path}", headers=who, json=body, timeout=10)

    def ok(self, method: str, path: str, who: dict[str, str], body: Any = None) -> Any:
        reply = self.call(method, path, who, body)
        assert reply.status_code < 300, reply.text
        return reply.json() if reply.content else None

    def create(self, **fields: Any) -> dict[str, Any]:
        return self.ok(
            "POST", "/interventions", REQUESTER, {"uow_id": "e2e-events", "type": "approval", "title": "t", **fields}
        )

    def aws(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=emulator_endpoint(self.runtime),
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


def until(done: Callable[[], Any], seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = done()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    with ExitStack() as stack:
        good, flaky, dead, callback = (
            stack.enter_context(receiving(script)) for script in ([], [500, 500], [500] * 50, [])
        )
        launcher = RuntimeLauncher(tmp_path_factory.mktemp("logs"))
        stack.callback(launcher.stop_all)
        allowed = ",".join(r.netloc for r in (good, flaky, dead, callback))
        runtime = launcher.start(
            Path(tmp_path_factory.mktemp("state")),
            environment={"WEBHOOK_ALLOWED_HOSTS": allowed, "OVERSIGHT_LOCAL_RETRY_SCALE": "0.001"},
        )
        yield Scene(runtime, good, flaky, dead, callback, [CALLBACK_SECRET])


def subscribe(scene: Scene, receiver: Receiver, events: list[str]) -> dict[str, Any]:
    hook = scene.ok("POST", "/webhooks", ADMIN, {"url": receiver.url, "events": events})
    scene.secrets.append(hook["secret"])
    return hook


def test_a_subscriber_to_everything_gets_create_claim_approve_once_each_in_order_and_signed(scene: Scene) -> None:
    hook = subscribe(scene, scene.good, ["*"])
    iv = scene.create()
    scene.ok("POST", f"/interventions/{iv['id']}/claim", OPERATOR)
    scene.ok("POST", f"/interventions/{iv['id']}/approve", OPERATOR, {"reason": "fine"})

    def three() -> list[dict[str, Any]]:
        mine = [e for e in scene.good.events() if e.get("intervention", {}).get("id") == iv["id"]]
        return mine if len(mine) == 3 else []

    events = until(three)
    assert [(e["action"], e["version"]) for e in events] == [("create", 1), ("claim", 2), ("approve", 3)]
    mine = [d for d in scene.good.deliveries if d.event.get("intervention", {}).get("id") == iv["id"]]
    assert mine and all(signature_valid(hook["secret"], d) for d in mine)
    tampered = mine[0]
    assert not signature_valid(
        hook["secret"], type(tampered)(tampered.path, tampered.headers, tampered.body[:-1] + b" ")
    )
    listed = scene.ok("GET", "/webhooks", ADMIN)["items"]
    assert all("secret" not in h for h in listed)
    assert until(
        lambda: next(h for h in scene.ok("GET", "/webhooks", ADMIN)["items"] if h["id"] == hook["id"])["last_delivery"]
    )


def test_a_receiver_answering_500_twice_gets_the_same_webhook_id_three_times(scene: Scene) -> None:
    subscribe(scene, scene.flaky, ["Intervention Created"])
    scene.create()
    deliveries = until(lambda: scene.flaky.deliveries if len(scene.flaky.deliveries) >= 3 else [])
    assert len(deliveries) == 3 and len({d.id for d in deliveries}) == 1
    time.sleep(3)
    assert len(scene.flaky.deliveries) == 3  # delivered at the third: no more attempts


def test_a_receiver_that_always_fails_gets_eight_attempts_then_the_dead_letter_queue(scene: Scene) -> None:
    subscribe(scene, scene.dead, ["Intervention Cancelled"])
    iv = scene.create()
    scene.ok("POST", f"/interventions/{iv['id']}/cancel", REQUESTER, {"reason": "moot"})
    sqs = scene.aws("sqs")
    dlq = sqs.get_queue_url(QueueName="DeliveryDeadLetterQueue")["QueueUrl"]

    def dead_letters() -> list[dict[str, Any]]:
        return sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])

    letters = until(dead_letters, seconds=60)
    assert letters, "nothing reached the dead-letter queue"
    body = json.loads(letters[0]["Body"])
    assert (body["target"]["kind"], body["event"]["intervention"]["id"]) == ("webhook", iv["id"])
    assert len(scene.dead.deliveries) == 8
    assert "delivery failed for good" in scene.runtime.log


def test_a_callback_url_gets_every_event_of_its_request_and_a_private_one_is_refused(scene: Scene) -> None:
    iv = scene.create(callback_url=scene.callback.url, callback_secret=CALLBACK_SECRET)
    scene.ok("POST", f"/interventions/{iv['id']}/reject", OPERATOR, {"reason": "no"})
    events = until(lambda: scene.callback.events() if len(scene.callback.events()) >= 2 else [])
    assert [e["action"] for e in events] == ["create", "reject"]
    assert all(signature_valid(CALLBACK_SECRET, d) for d in scene.callback.deliveries)

    for url in ("http://10.0.0.7/hook", "http://169.254.169.254/latest", "http://localhost:1/x"):
        refused = scene.call(
            "POST",
            "/interventions",
            REQUESTER,
            {"uow_id": "u", "type": "approval", "title": "t", "callback_url": url, "callback_secret": CALLBACK_SECRET},
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["details"][0]["loc"][-1] == "callback_url"


def test_a_state_machine_waiting_on_its_token_resumes_with_the_approval(scene: Scene) -> None:
    sqs, sfn = scene.aws("sqs"), scene.aws("stepfunctions")
    queue = sqs.create_queue(QueueName="e2e-approval-requests")["QueueUrl"]
    definition = {
        "StartAt": "Ask",
        "States": {
            "Ask": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": queue, "MessageBody": {"task_token.$": "$$.Task.Token"}},
                "End": True,
            }
        },
    }
    machine = sfn.create_state_machine(
        name="e2e-approval", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/r"
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    message = until(lambda: sqs.receive_message(QueueUrl=queue).get("Messages"))
    token = json.loads(message[0]["Body"])["task_token"]

    iv = scene.create(task_token=token)
    assert "task_token" not in iv
    scene.ok("POST", f"/interventions/{iv['id']}/approve", OPERATOR, {"reason": "go", "response": {"ok": True}})
    done = until(lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d)
    assert done and done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert (output["id"], output["status"], output["response"]) == (iv["id"], "APPROVED", {"ok": True})
    assert "SendTaskSuccess" in scene.runtime.log  # the runtime logs every call to Step Functions
    assert token not in scene.runtime.log


def test_no_secret_shows_in_the_runtime_log_nor_in_any_read(scene: Scene) -> None:
    """Runs last: every secret of the module was handed to the runtime by then."""
    assert len(scene.secrets) >= 4
    reads = json.dumps(
        [scene.ok("GET", "/webhooks", ADMIN), scene.ok("GET", "/interventions?status=REJECTED", OPERATOR)]
    )
    for secret in scene.secrets:
        assert secret not in scene.runtime.log and secret not in reads
