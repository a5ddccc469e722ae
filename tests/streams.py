"""The table's stream in in-process tests: what publish_events would be
handed (a Lambda DynamoDB Streams event of the records written since the
last read), and the events the bus passed on to the delivery queue."""

from __future__ import annotations

import json
from typing import Any

import boto3

import tests.support as support
from local_runtime.context import LocalLambdaContext
from local_runtime.streams import read_new_records
from local_runtime.workers import sqs_event_record
from tests.conftest import TEMPLATE


class StreamTap:
    """Reads the main table's stream from where it last stopped."""

    def __init__(self) -> None:
        self._client = boto3.client("dynamodbstreams")
        table = TEMPLATE.physical_name("OversightTable")
        described = boto3.client("dynamodb").describe_table(TableName=table)["Table"]
        self.stream_arn = described["LatestStreamArn"]
        self._positions: dict[str, str] = {}

    def records(self) -> list[dict[str, Any]]:
        return read_new_records(self._client, self.stream_arn, self._positions)

    def event(self) -> dict[str, Any]:
        """The new records as one Lambda event (all of them: no filter)."""
        return {"Records": self.records()}


def queue_messages(sqs: Any, logical_id: str, wait: int = 0) -> list[dict[str, Any]]:
    """Every message waiting in a template queue, received (and left
    in flight, so each is seen once), with its body parsed."""
    url = TEMPLATE.resolve({"Ref": logical_id})
    found: list[dict[str, Any]] = []
    while True:
        answer = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait, AttributeNames=["All"], VisibilityTimeout=300
        )
        messages = answer.get("Messages", [])
        if not messages:
            return found
        for message in messages:
            message["Body"] = json.loads(message["Body"])
        found.extend(messages)


class Pipeline:
    """Plays the event sources of the event pipeline in process: the
    table's stream → publish_events; the bus (moto's rule, for real) →
    DeliveryQueue → deliver_webhooks. A failed delivery is made visible
    again at once (its delay is the function's own business, tested
    apart), so every retry happens within the test."""

    def __init__(self, sqs: Any) -> None:
        self._context = LocalLambdaContext
        self.sqs = sqs
        self.tap = StreamTap()
        self.publisher = TEMPLATE.function("publish_events")
        self.deliverer = TEMPLATE.function("deliver_webhooks")
        self.queue_url = TEMPLATE.resolve({"Ref": "DeliveryQueue"})
        self.dlq_url = TEMPLATE.resolve({"Ref": "DeliveryDeadLetterQueue"})
        self.queue_arn = TEMPLATE.resolve({"Fn::GetAtt": ["DeliveryQueue", "Arn"]})
        self.published: list[dict[str, Any]] = []

    def publish(self, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Hand publish_events the stream's new records (or `event`);
        Lambda never invokes it with none."""
        event = event or self.tap.event()
        if not event["Records"]:
            return {"batchItemFailures": []}
        handler = support.load_handler(self.publisher)
        return handler(event, self._context(self.publisher.logical_id, self.publisher.timeout))

    def deliver(self, rounds: int = 30) -> int:
        """Run deliver_webhooks until the delivery queue is empty; the
        number of invocations."""
        handler = support.load_handler(self.deliverer)
        context = self._context(self.deliverer.logical_id, self.deliverer.timeout)

        def invoke(received: list[dict[str, Any]]) -> set[str]:
            for message in received:
                body = json.loads(message["Body"])
                if "detail-type" in body:
                    self.published.append(body)
            records = [sqs_event_record(message, self.queue_arn) for message in received]
            return {f["itemIdentifier"] for f in handler({"Records": records}, context).get("batchItemFailures", [])}

        return support.drain_queue(self.sqs, self.queue_url, invoke, batch=10, rounds=rounds)

    def run(self) -> None:
        """Publish what the table's stream holds, then deliver everything."""
        self.publish()
        self.deliver()

    def dead_letters(self) -> list[dict[str, Any]]:
        return self.sqs.receive_message(QueueUrl=self.dlq_url, MaxNumberOfMessages=10).get("Messages", [])
