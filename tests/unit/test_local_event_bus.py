"""EventBridge in the local runtime: the template's buses and rules created
in the emulator, an event put on a bus landing in a rule's SQS target (its
dead-letter config accepted), a rule's function target delivered through a
queue of the runtime's own into that function, and the messages EventBridge
puts into SQS journaled as any SQS write (they come back after a crash)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from moto.backends import get_backend

from local_runtime.aws import EmulatedAws
from local_runtime.emulation import install_moto_patches
from local_runtime.emulation.writes import record_writes
from local_runtime.event_targets import TargetPoller, target_sources
from local_runtime.invocation import FunctionError
from local_runtime.journal import read_segment, segments
from local_runtime.persistence import StateStore
from local_runtime.template import ACCOUNT, REGION, Template


def _document(token: str) -> dict[str, Any]:
    return {
        "Resources": {
            "Bus": {
                "Type": "AWS::Events::EventBus",
                "Properties": {"Name": {"Fn::Sub": f"${{AWS::StackName}}-{token}"}},
            },
            "Deliveries": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"deliveries-{token}"}},
            "DeadLetters": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"dead-letters-{token}"}},
            "DeliveriesPolicy": {
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {"Queues": [{"Ref": "Deliveries"}], "PolicyDocument": {"Statement": []}},
            },
            "ToQueue": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "EventBusName": {"Ref": "Bus"},
                    "EventPattern": {"source": ["oversight"], "detail-type": [{"prefix": "Intervention "}]},
                    "State": "ENABLED",
                    "Targets": [
                        {
                            "Id": "deliveries",
                            "Arn": {"Fn::GetAtt": ["Deliveries", "Arn"]},
                            "RetryPolicy": {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185},
                            "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["DeadLetters", "Arn"]}},
                        }
                    ],
                },
            },
            "ToFunction": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "EventBusName": {"Ref": "Bus"},
                    "EventPattern": {"source": ["oversight"], "detail-type": ["Job Failed"]},
                    "Targets": [{"Id": "on-job-failed", "Arn": {"Fn::GetAtt": ["AlertFunction", "Arn"]}}],
                },
            },
            "AlertFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"CodeUri": "alert/", "Handler": "app.handler"},
            },
        }
    }


class Recording:
    def __init__(self, spec: Any, fail_times: int = 0) -> None:
        self.spec = spec
        self.name = spec.logical_id
        self.events: list[dict[str, Any]] = []
        self.fail_times = fail_times

    def invoke(self, event: dict[str, Any]) -> Any:
        self.events.append(event)
        if len(self.events) <= self.fail_times:
            raise FunctionError("Traceback: RuntimeError: down")
        return None


class Bus:
    def __init__(self, aws: EmulatedAws, folder: Path) -> None:
        install_moto_patches()
        self.aws = aws
        self.token = uuid.uuid4().hex[:8]
        (folder / "template.yaml").write_text(yaml.safe_dump(_document(self.token)))
        self.template = Template(folder / "template.yaml")
        aws.provision(self.template)
        self.events = aws.client("events")
        self.sqs = aws.client("sqs")

    @property
    def name(self) -> str:
        return self.template.physical_name("Bus")

    def put(self, detail_type: str, detail: dict[str, Any]) -> None:
        answer = self.events.put_events(
            Entries=[
                {
                    "Source": "oversight",
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                    "EventBusName": self.name,
                }
            ]
        )
        assert answer["FailedEntryCount"] == 0

    def received(self, logical_id: str) -> list[dict[str, Any]]:
        url = self.template.resolve({"Ref": logical_id})
        messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]


@pytest.fixture
def bus(emulated_aws: EmulatedAws, tmp_path: Path) -> Bus:
    return Bus(emulated_aws, tmp_path)


def test_the_buses_and_rules_of_the_template_are_created(bus: Bus) -> None:
    assert bus.name == f"oversight-local-{bus.token}"
    rules = {rule["Name"]: rule for rule in bus.events.list_rules(EventBusName=bus.name)["Rules"]}
    assert set(rules) == {"ToQueue", "ToFunction"}
    assert json.loads(rules["ToQueue"]["EventPattern"]) == {
        "source": ["oversight"],
        "detail-type": [{"prefix": "Intervention "}],
    }
    assert bus.template.resolve({"Fn::GetAtt": ["Bus", "Arn"]}) == bus.events.describe_event_bus(Name=bus.name)["Arn"]
    assert bus.template.resolve({"Fn::GetAtt": ["ToQueue", "Arn"]}) == rules["ToQueue"]["Arn"]
    (target,) = bus.events.list_targets_by_rule(Rule="ToQueue", EventBusName=bus.name)["Targets"]
    assert target["DeadLetterConfig"] == {"Arn": bus.template.resolve({"Fn::GetAtt": ["DeadLetters", "Arn"]})}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}


def test_an_event_lands_in_the_rules_queue_when_its_pattern_matches(bus: Bus) -> None:
    bus.put("Intervention Approved", {"event_id": "e-1", "version": 2})
    bus.put("Job Queued", {"event_id": "e-2", "version": 1})  # matches neither rule's queue

    (event,) = bus.received("Deliveries")

    assert event["detail-type"] == "Intervention Approved"
    assert event["source"] == "oversight"
    assert event["detail"] == {"event_id": "e-1", "version": 2}
    assert event["account"] == ACCOUNT and event["region"] == REGION
    assert set(event) >= {"version", "id", "time", "resources"}
    assert bus.received("DeadLetters") == []


def test_a_function_target_is_delivered_through_a_queue_of_the_runtimes_own(bus: Bus) -> None:
    function = Recording(bus.template.function("AlertFunction"))
    (source,) = target_sources(bus.template, {function.name: function})
    poller = TargetPoller(source, bus.sqs)

    bus.put("Job Failed", {"event_id": "e-3"})
    bus.put("Intervention Created", {"event_id": "e-4"})  # not this rule's
    delivered = poller.poll_once(wait_seconds=0)

    assert delivered == 1
    (event,) = function.events
    assert event["detail-type"] == "Job Failed" and event["detail"] == {"event_id": "e-3"}
    assert event["account"] == ACCOUNT
    assert poller.poll_once(wait_seconds=0) == 0  # delivered once
    (target,) = bus.events.list_targets_by_rule(Rule="ToFunction", EventBusName=bus.name)["Targets"]
    assert target["Arn"].endswith(":ToFunctiononjobfailedLocalTargetQueue")


def test_a_failing_function_target_is_retried_twice_then_dropped(bus: Bus, caplog: pytest.LogCaptureFixture) -> None:
    function = Recording(bus.template.function("AlertFunction"), fail_times=5)
    (source,) = target_sources(bus.template, {function.name: function})
    poller = TargetPoller(source, bus.sqs, retry_scale=0)  # the retry delays scaled to nothing

    bus.put("Job Failed", {"event_id": "e-5"})
    for _ in range(5):
        poller.poll_once(wait_seconds=0)

    assert len(function.events) == 3  # the first attempt and Lambda's two retries
    assert "dropped" in caplog.text


def test_events_put_into_sqs_are_journaled(bus: Bus, tmp_path: Path) -> None:
    state = tmp_path / "state"
    store = StateStore(state, bus.template, bus.aws.client("s3"))
    store.restore()
    assert bus.aws.writes is not None
    store.start_journal(bus.aws.writes)
    try:
        bus.put("Intervention Rejected", {"event_id": "e-6"})
    finally:
        bus.aws.writes.journal = None
        record_writes(None)

    lines = [record for _, path in segments(state) for record in read_segment(path)[0]]
    journaled = [message for line in lines for message in line.get("sqs", {}).get("Deliveries", {}).get("put", [])]
    assert [json.loads(message["body"])["detail"] for message in journaled] == [{"event_id": "e-6"}]
    # After a crash, the message is back in the queue.
    queue = get_backend("sqs")[ACCOUNT][REGION].queues[bus.template.physical_name("Deliveries")]
    queue._messages.clear()
    fresh = Template(bus.template.path)
    fresh.queue_urls.update(bus.template.queue_urls)
    StateStore(state, fresh, bus.aws.client("s3")).restore()
    assert [event["detail"] for event in bus.received("Deliveries")] == [{"event_id": "e-6"}]
