"""The event pipeline in `make run`, over real HTTP: a write through the API
becomes a stream record, the function with the table's DynamoDB event source
is invoked with it (as Lambda shapes it, the template's FilterCriteria
applied), what it puts on the bus reaches the rule's SQS queue and the
rule's function target; after a restart nothing is sent again, new writes
are, and a ciphertext of the template's KMS key still decrypts.

The template is template.yaml with a recording function in place of
publish_events (it writes what it receives to a file and puts one event per
record on the bus), a second rule whose target is another recording
function, and only the functions the scenario needs."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import requests
import yaml

from local_runtime.template import TEMPLATE, load_template
from tests.e2e.runtime_process import RuntimeLauncher, bearer, emulator_endpoint

REQUESTER = bearer("rita", "requester")
KEPT_FUNCTIONS = {"HealthFunction", "CreateInterventionFunction", "PublishEventsFunction"}
WAIT_SECONDS = 20

PUBLISHER = """
import json
import os

import boto3

events = boto3.client("events")


def lambda_handler(event, context):
    with open(os.environ["RECORD_FILE"], "a") as record_file:
        record_file.write(json.dumps(event) + "\\n")
    entries = [
        {
            "Source": "oversight",
            "DetailType": "Intervention Created",
            "Detail": json.dumps({"sequence": record["dynamodb"]["SequenceNumber"], "change": record["eventName"]}),
            "EventBusName": os.environ["EVENT_BUS_NAME"],
        }
        for record in event["Records"]
    ]
    for first in range(0, len(entries), 10):
        events.put_events(Entries=entries[first : first + 10])
    return {"batchItemFailures": []}
"""

TARGET = """
import json
import os


def lambda_handler(event, context):
    with open(os.environ["RECORD_FILE"], "a") as record_file:
        record_file.write(json.dumps(event) + "\\n")
"""


def _pipeline_template(folder: Path) -> Path:
    document: dict[str, Any] = load_template(TEMPLATE)
    resources = document["Resources"]
    for logical_id, resource in list(resources.items()):
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        if logical_id not in KEPT_FUNCTIONS:
            del resources[logical_id]
            continue
        resource["Properties"]["CodeUri"] = str((TEMPLATE.parent / resource["Properties"]["CodeUri"]).resolve())
    for name, code in (("publisher", PUBLISHER), ("target", TARGET)):
        (folder / name).mkdir()
        (folder / name / "app.py").write_text(code)
    publisher = resources["PublishEventsFunction"]["Properties"]
    publisher["CodeUri"] = str(folder / "publisher")
    publisher["Environment"]["Variables"]["RECORD_FILE"] = str(folder / "published.jsonl")
    resources["TargetFunction"] = {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "CodeUri": str(folder / "target"),
            "Handler": "app.lambda_handler",
            "Environment": {"Variables": {"RECORD_FILE": str(folder / "targeted.jsonl")}},
        },
    }
    resources["EverythingToTargetRule"] = {
        "Type": "AWS::Events::Rule",
        "Properties": {
            "EventBusName": {"Ref": "EventBus"},
            "EventPattern": {"source": ["oversight"]},
            "Targets": [{"Id": "target", "Arn": {"Fn::GetAtt": ["TargetFunction", "Arn"]}}],
        },
    }
    path = folder / "template.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _wait_for(condition: Any, what: str, log: Any) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {WAIT_SECONDS} s:\n{log()}")


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _create(url: str, uow: str) -> dict[str, Any]:
    created = requests.post(
        f"{url}/interventions",
        json={"uow_id": uow, "type": "approval", "title": f"Pipeline {uow}"},
        headers=REQUESTER,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    return created.json()


def test_a_write_reaches_the_bus_the_rules_queue_and_the_function_target(
    launch: RuntimeLauncher, tmp_path: Path
) -> None:
    template = _pipeline_template(tmp_path)
    state = tmp_path / "state"
    runtime = launch.start(state, template=template)
    assert "stream     OversightTable -> PublishEventsFunction (batch 25, 1 filter(s)" in runtime.log
    endpoint = emulator_endpoint(runtime)
    sqs, kms = _client("sqs", endpoint), _client("kms", endpoint)
    deliveries = sqs.get_queue_url(QueueName="DeliveryQueue")["QueueUrl"]

    # A write through the API
    created = _create(runtime.url, "pipeline-1")

    # The function of the stream gets its record, as Lambda sends it (only records: counters and audit filtered out)
    published = _wait_for(lambda: _lines(tmp_path / "published.jsonl"), "the stream's invocation", lambda: runtime.log)
    records = [record for event in published for record in event["Records"]]
    assert {record["dynamodb"]["NewImage"]["entity"]["S"] for record in records} == {"intervention"}
    insert = next(record for record in records if record["eventName"] == "INSERT")
    assert insert["eventVersion"] == "1.1" and insert["eventSource"] == "aws:dynamodb"
    assert insert["eventSourceARN"].startswith("arn:aws:dynamodb:us-east-1:123456789012:table/OversightTable/stream/")
    assert created["id"] in json.dumps(insert["dynamodb"]["NewImage"])
    assert isinstance(insert["dynamodb"]["ApproximateCreationDateTime"], int)

    # What it put on the bus lands in the rule's SQS queue ...
    def delivered() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=deliveries, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    events = _wait_for(delivered, "the delivery to the rule's queue", lambda: runtime.log)
    assert events[0]["source"] == "oversight" and events[0]["detail-type"] == "Intervention Created"
    assert events[0]["detail"]["sequence"] == records[0]["dynamodb"]["SequenceNumber"]
    # ... and the other rule's function target
    targeted = _wait_for(
        lambda: _lines(tmp_path / "targeted.jsonl"), "the function target's invocation", lambda: runtime.log
    )
    assert targeted[0]["detail"]["sequence"] == records[0]["dynamodb"]["SequenceNumber"]
    for line in (
        "DynamoDB OversightTable -> PublishEventsFunction",
        "EverythingToTargetRule -> TargetFunction ok",
    ):
        _wait_for(lambda: line in runtime.log, f"the log line {line!r}", lambda: runtime.log)  # noqa: B023

    (key,) = kms.list_keys()["Keys"]
    sealed = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"webhook secret")["CiphertextBlob"]
    assert runtime.stop() == 0, runtime.log

    # After a restart: nothing published again; a new write is
    restarted = launch.start(state, template=template)
    time.sleep(2)  # several polls of the stream
    assert len(_lines(tmp_path / "published.jsonl")) == len(published)
    _create(restarted.url, "pipeline-2")
    again = _wait_for(
        lambda: _lines(tmp_path / "published.jsonl")[len(published) :],
        "the new write's invocation",
        lambda: restarted.log,
    )
    newer = [record for event in again for record in event["Records"]]
    assert all(record["eventName"] == "INSERT" for record in newer)
    assert min(int(r["dynamodb"]["SequenceNumber"]) for r in newer) > max(
        int(r["dynamodb"]["SequenceNumber"]) for r in records
    )
    assert "pipeline-2" in json.dumps(newer)
    # The template's key is the same key: what it encrypted before decrypts after
    kms_after = _client("kms", emulator_endpoint(restarted))
    assert kms_after.decrypt(CiphertextBlob=sealed)["Plaintext"] == b"webhook secret"
