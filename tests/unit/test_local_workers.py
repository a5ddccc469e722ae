"""Queue pollers and schedules, read from a small template of their own,
against the emulated AWS."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_runtime.aws import EmulatedAws
from local_runtime.invocation import LocalFunction
from local_runtime.template import Template
from local_runtime.workers import QueuePoller, ScheduleRunner, queue_sources, rate_seconds, schedule_sources
from tests.unit.conftest import bare_environment

TEMPLATE = """
Resources:
  WorkQueue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: work-TOKEN
      VisibilityTimeout: 0  # a failed message is received again at once
      RedrivePolicy: {deadLetterTargetArn: !GetAtt WorkDeadLetters.Arn, maxReceiveCount: 2}
  WorkDeadLetters:
    Type: AWS::SQS::Queue
    Properties: {QueueName: work-dlq-TOKEN}
  ConsumerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: consumer_TOKEN/
      Handler: app.handler
      Events:
        Work:
          Type: SQS
          Properties:
            Queue: !GetAtt WorkQueue.Arn
            BatchSize: 3
            FunctionResponseTypes: [ReportBatchItemFailures]
  TickFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ticker_TOKEN/
      Handler: app.handler
      Events:
        Every5:
          Type: Schedule
          Properties: {Schedule: rate(5 minutes)}
        Nightly:
          Type: ScheduleV2
          Properties: {ScheduleExpression: "cron(0 3 * * ? *)", Input: '{"job": "nightly"}'}
        Off:
          Type: Schedule
          Properties: {Schedule: rate(1 minute), Enabled: false}
"""

# Records every batch it gets; fails the messages that ask to, or the whole
# batch (raising, or naming a message it was not given).
CONSUMER = """
import json
from pathlib import Path

SEEN = Path(__file__).with_name("seen.jsonl")


def handler(event, context):
    bodies = [json.loads(record["body"]) for record in event["Records"]]
    with SEEN.open("a") as seen:
        seen.write(json.dumps(bodies) + "\\n")
    if any(body.get("raise") for body in bodies):
        raise RuntimeError("boom")
    if any(body.get("bad_id") for body in bodies):
        return {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]}
    return {"batchItemFailures": [
        {"itemIdentifier": record["messageId"]}
        for record, body in zip(event["Records"], bodies) if body.get("fail")
    ]}
"""

TICKER = """
import json
from pathlib import Path

SEEN = Path(__file__).with_name("seen.jsonl")


def handler(event, context):
    with SEEN.open("a") as seen:
        seen.write(json.dumps(event) + "\\n")
"""


@pytest.fixture
def template(tmp_path: Path, emulated_aws: EmulatedAws) -> Template:
    token = uuid.uuid4().hex[:8]
    for folder, code in ((f"consumer_{token}", CONSUMER), (f"ticker_{token}", TICKER)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "app.py").write_text(code)
    (tmp_path / "template.yaml").write_text(TEMPLATE.replace("TOKEN", token))
    loaded = Template(tmp_path / "template.yaml")
    emulated_aws.provision(loaded)
    return loaded


@pytest.fixture
def functions(template: Template) -> Iterator[dict[str, LocalFunction]]:
    started = {spec.logical_id: LocalFunction(spec, *bare_environment()) for spec in template.functions()}
    yield started
    for function in started.values():
        function.stop()


def batches(function: LocalFunction) -> list[Any]:
    seen = function.spec.code_uri / "seen.jsonl"
    return [json.loads(line) for line in seen.read_text().splitlines()] if seen.exists() else []


def send(emulated_aws: EmulatedAws, template: Template, logical_id: str, *bodies: dict[str, Any]) -> None:
    for body in bodies:
        emulated_aws.client("sqs").send_message(
            QueueUrl=template.resolve({"Ref": logical_id}), MessageBody=json.dumps(body)
        )


def queue_depth(emulated_aws: EmulatedAws, template: Template, logical_id: str) -> int:
    attributes = emulated_aws.client("sqs").get_queue_attributes(
        QueueUrl=template.resolve({"Ref": logical_id}),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


@pytest.fixture
def poller(emulated_aws: EmulatedAws, template: Template, functions: dict[str, LocalFunction]) -> QueuePoller:
    (source,) = queue_sources(template, functions)
    return QueuePoller(source, emulated_aws.client("sqs"))


def drain(poller: QueuePoller) -> None:
    for _ in range(20):
        if poller.poll_once() == 0:
            return
    pytest.fail("the queue did not drain")


def test_the_queue_source_comes_from_the_template(template: Template, functions: dict[str, LocalFunction]) -> None:
    (source,) = queue_sources(template, functions)

    assert source.function.name == "ConsumerFunction"
    assert source.batch_size == 3
    assert source.reports_item_failures
    assert source.queue_url == template.resolve({"Ref": "WorkQueue"})
    assert source.queue_url.endswith(f"/{source.queue_name}")
    assert source.queue_arn.endswith(f":{source.queue_name}")


def test_messages_arrive_in_batches_of_the_template_size(
    emulated_aws: EmulatedAws, template: Template, poller: QueuePoller
) -> None:
    send(emulated_aws, template, "WorkQueue", *({"n": n} for n in range(5)))

    drain(poller)

    sizes = [len(batch) for batch in batches(poller.source.function)]
    assert sizes == [3, 2]
    assert sorted(body["n"] for batch in batches(poller.source.function) for body in batch) == [0, 1, 2, 3, 4]
    assert queue_depth(emulated_aws, template, "WorkQueue") == 0


def test_reported_failures_return_to_the_queue_until_redriven(
    emulated_aws: EmulatedAws, template: Template, poller: QueuePoller
) -> None:
    send(emulated_aws, template, "WorkQueue", {"n": 1}, {"n": 2, "fail": True})

    drain(poller)

    received = [body["n"] for batch in batches(poller.source.function) for body in batch]
    assert received.count(1) == 1  # processed, deleted
    assert received.count(2) == 2  # failed, received again, failed: maxReceiveCount
    assert queue_depth(emulated_aws, template, "WorkQueue") == 0
    assert queue_depth(emulated_aws, template, "WorkDeadLetters") == 1


@pytest.mark.parametrize("poison", [{"raise": True}, {"bad_id": True}], ids=["raises", "unknown itemIdentifier"])
def test_a_failed_batch_keeps_all_its_messages(
    emulated_aws: EmulatedAws, template: Template, poller: QueuePoller, poison: dict[str, Any]
) -> None:
    send(emulated_aws, template, "WorkQueue", {"n": 1}, {"n": 2, **poison})

    poller.poll_once()

    assert queue_depth(emulated_aws, template, "WorkQueue") == 2


def test_the_poller_runs_in_the_background_until_stopped(
    emulated_aws: EmulatedAws, template: Template, poller: QueuePoller
) -> None:
    poller.start()
    try:
        send(emulated_aws, template, "WorkQueue", {"n": 7})
        deadline = time.monotonic() + 5
        while not batches(poller.source.function) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        poller.stop(timeout=5)

    assert batches(poller.source.function) == [[{"n": 7}]]


def test_schedules_run_at_their_template_rate(template: Template, functions: dict[str, LocalFunction]) -> None:
    sources, skipped = schedule_sources(template, functions, every_seconds=None)

    assert [(source.name, source.interval_seconds) for source in sources] == [("TickFunction-Every5", 300.0)]
    assert len(skipped) == 1 and "Nightly" in skipped[0]  # cron: only with an interval set


def test_every_schedule_runs_at_the_configured_interval(
    template: Template, functions: dict[str, LocalFunction]
) -> None:
    sources, skipped = schedule_sources(template, functions, every_seconds=0.05)
    runners = [ScheduleRunner(source) for source in sources]
    ticker = functions["TickFunction"]

    for runner in runners:
        runner.start()
    try:
        deadline = time.monotonic() + 5
        while len(batches(ticker)) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        for runner in runners:
            runner.stop(timeout=5)

    assert skipped == []
    events = batches(ticker)
    assert {"job": "nightly"} in events  # a schedule's Input is the event
    rule_event = next(event for event in events if event != {"job": "nightly"})
    assert (rule_event["source"], rule_event["detail-type"]) == ("aws.events", "Scheduled Event")
    assert rule_event["resources"][0].endswith(":rule/TickFunction-Every5")


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(2 hours)", 7200),
        ("rate(1 day)", 86400),
        ("cron(0 3 * * ? *)", None),
    ],
)
def test_rate_expressions(expression: str, seconds: int | None) -> None:
    assert rate_seconds(expression) == seconds
