"""The local state survives a restart: tables, queues and buckets are
created from the template again and filled from the last snapshot."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest

from local_runtime.aws import EmulatedAws, WriteTracker
from local_runtime.persistence import RestoreFailed, Snapshotter, StateStore
from local_runtime.template import Template

TEMPLATE = """
Resources:
  Records:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: records-TOKEN
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: sk, AttributeType: S}
        - {AttributeName: gsi1pk, AttributeType: S}
      KeySchema:
        - {AttributeName: pk, KeyType: HASH}
        - {AttributeName: sk, KeyType: RANGE}
      GlobalSecondaryIndexes:
        - IndexName: gsi1
          KeySchema: [{AttributeName: gsi1pk, KeyType: HASH}]
          Projection: {ProjectionType: ALL}
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: jobs-TOKEN
      VisibilityTimeout: 60
  Outputs:
    Type: AWS::S3::Bucket
    Properties: {BucketName: outputs-TOKEN}
"""

ITEM = {
    "pk": {"S": "T#acme#I#1"},
    "sk": {"S": "META"},
    "gsi1pk": {"S": "acme#PENDING"},
    "version": {"N": "3"},
    "blob": {"B": b"\x00\xffbytes"},
    "blobs": {"BS": [b"\x01", b"\x02"]},
    "tags": {"SS": ["a", "b"]},
    "sizes": {"NS": ["1", "2.5"]},
    "nested": {"M": {"list": {"L": [{"S": "x"}, {"N": "1"}, {"BOOL": True}, {"NULL": True}]}}},
}


@pytest.fixture
def template(tmp_path: Path, emulated_aws: EmulatedAws) -> Template:
    (tmp_path / "template.yaml").write_text(TEMPLATE.replace("TOKEN", uuid.uuid4().hex[:8]))
    loaded = Template(tmp_path / "template.yaml")
    emulated_aws.provision(loaded)
    return loaded


def names(template: Template) -> tuple[str, str, str]:
    return (
        template.physical_name("Records"),
        template.resolve({"Ref": "Jobs"}),
        template.physical_name("Outputs"),
    )


def restart(emulated_aws: EmulatedAws, template: Template) -> Template:
    """What a restart leaves: the template's resources again, empty."""
    table, queue_url, bucket = names(template)
    emulated_aws.client("dynamodb").delete_table(TableName=table)
    emulated_aws.client("sqs").delete_queue(QueueUrl=queue_url)
    s3 = emulated_aws.client("s3")
    for listed in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=listed["Key"])
    s3.delete_bucket(Bucket=bucket)
    fresh = Template(template.path)
    emulated_aws.provision(fresh)
    return fresh


def test_tables_queues_and_buckets_are_restored(emulated_aws: EmulatedAws, template: Template, tmp_path: Path) -> None:
    # Given data of every kind in the emulator
    table, queue_url, bucket = names(template)
    dynamodb, sqs, s3 = emulated_aws.client("dynamodb"), emulated_aws.client("sqs"), emulated_aws.client("s3")
    dynamodb.put_item(TableName=table, Item=ITEM)
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps({"job": 1}),
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "export"},
            "raw": {"DataType": "Binary", "BinaryValue": b"\x01\x02"},
        },
    )
    sqs.receive_message(QueueUrl=queue_url)  # in flight when the runtime stops
    sqs.send_message(QueueUrl=queue_url, MessageBody="second")
    s3.put_object(Bucket=bucket, Key="exports/a.csv", Body=b"id\n1\n", ContentType="text/csv", Metadata={"job": "1"})

    # When it is saved, and the runtime restarts from it
    state_dir = tmp_path / "state"
    StateStore(state_dir, template, s3).save()
    fresh = restart(emulated_aws, template)
    restored = StateStore(state_dir, fresh, s3).restore()

    # Then everything is back
    assert restored == {"items": 1, "messages": 2, "objects": 1, "journaled writes": 0}
    table, queue_url, bucket = names(fresh)
    assert dynamodb.get_item(TableName=table, Key={"pk": ITEM["pk"], "sk": ITEM["sk"]})["Item"] == ITEM
    indexed = dynamodb.query(
        TableName=table,
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :p",
        ExpressionAttributeValues={":p": {"S": "acme#PENDING"}},
    )
    assert indexed["Count"] == 1

    messages = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"]
    )["Messages"]
    by_body = {message["Body"]: message for message in messages}
    assert set(by_body) == {'{"job": 1}', "second"}
    first = by_body['{"job": 1}']
    assert first["MessageAttributes"]["raw"]["BinaryValue"] == b"\x01\x02"
    assert first["MessageAttributes"]["kind"]["StringValue"] == "export"
    assert first["Attributes"]["ApproximateReceiveCount"] == "2"  # its earlier delivery still counts

    stored = s3.get_object(Bucket=bucket, Key="exports/a.csv")
    assert stored["Body"].read() == b"id\n1\n"
    assert (stored["ContentType"], stored["Metadata"]) == ("text/csv", {"job": "1"})


def test_object_contents_are_kept_once_and_dropped_with_the_last_object(
    emulated_aws: EmulatedAws, template: Template, tmp_path: Path
) -> None:
    _, _, bucket = names(template)
    s3 = emulated_aws.client("s3")
    store = StateStore(tmp_path / "state", template, s3)
    s3.put_object(Bucket=bucket, Key="a", Body=b"same")
    s3.put_object(Bucket=bucket, Key="b", Body=b"same")
    s3.put_object(Bucket=bucket, Key="c", Body=b"other")
    store.save()
    assert len(list((tmp_path / "state" / "objects").iterdir())) == 2

    s3.delete_object(Bucket=bucket, Key="c")
    store.save()

    assert len(list((tmp_path / "state" / "objects").iterdir())) == 1


def test_no_snapshot_is_a_fresh_start(template: Template, tmp_path: Path, emulated_aws: EmulatedAws) -> None:
    assert StateStore(tmp_path / "nothing", template, emulated_aws.client("s3")).restore() == {
        "items": 0,
        "messages": 0,
        "objects": 0,
        "journaled writes": 0,
    }


def test_an_unreadable_snapshot_stops_the_start(template: Template, tmp_path: Path, emulated_aws: EmulatedAws) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "snapshot.json").write_text('{"format": 1, "dynam')

    with pytest.raises(RestoreFailed):
        StateStore(tmp_path / "state", template, emulated_aws.client("s3")).restore()


def test_data_that_no_longer_fits_the_template_stops_the_start(
    template: Template, tmp_path: Path, emulated_aws: EmulatedAws
) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    # saved before the table got its sort key
    (state_dir / "snapshot.json").write_text(json.dumps({"format": 1, "dynamodb": {"Records": [{"pk": {"S": "x"}}]}}))

    with pytest.raises(RestoreFailed, match="Records|sk"):
        StateStore(state_dir, template, emulated_aws.client("s3")).restore()


def test_data_of_a_resource_gone_from_the_template_is_skipped(
    template: Template, tmp_path: Path, emulated_aws: EmulatedAws, caplog: pytest.LogCaptureFixture
) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    (state_dir / "snapshot.json").write_text(json.dumps({"format": 1, "dynamodb": {"Removed": [{"pk": {"S": "x"}}]}}))

    with caplog.at_level(logging.WARNING):
        restored = StateStore(state_dir, template, emulated_aws.client("s3")).restore()

    assert restored["items"] == 0
    assert "Removed" in caplog.text


class CountingStore:
    """A journal that received one burst of lines, then nothing."""

    def __init__(self) -> None:
        self.saves = self.looks = 0
        self.closed = False

    def journal_lines(self) -> int:
        self.looks += 1
        return 0 if self.looks == 1 else 3

    def journal_bytes(self) -> int:
        return 100

    def save(self) -> None:
        self.saves += 1

    def close(self) -> None:
        self.closed = True


def test_the_snapshotter_saves_after_changes_and_on_stop() -> None:
    store = CountingStore()
    snapshotter = Snapshotter(store, poll=0.01)  # type: ignore[arg-type]

    snapshotter.start()
    while store.saves == 0:
        pass
    snapshotter.stop()

    assert (store.saves, store.closed) == (2, True)  # the change, then the final save


def test_a_snapshot_from_before_the_journal_is_restored(
    template: Template, tmp_path: Path, emulated_aws: EmulatedAws
) -> None:
    """Saved before snapshots named a journal segment: the data is loaded."""
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    item = {"pk": {"S": "old"}, "sk": {"S": "META"}}
    (state_dir / "snapshot.json").write_text(json.dumps({"format": 1, "dynamodb": {"Records": [item]}}))

    restored = StateStore(state_dir, template, emulated_aws.client("s3")).restore()

    assert restored["items"] == 1
    table = template.physical_name("Records")
    assert emulated_aws.client("dynamodb").get_item(TableName=table, Key=item)["Item"] == item


def _app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [])
    return [b""]


@pytest.mark.parametrize(
    ("method", "target", "writes"),
    [
        ("POST", "DynamoDB_20120810.PutItem", True),
        ("POST", "DynamoDB_20120810.TransactWriteItems", True),
        ("POST", "DynamoDB_20120810.Query", False),
        ("POST", "DynamoDB_20120810.GetItem", False),
        ("POST", "AmazonSQS.ReceiveMessage", True),
        ("POST", "AmazonSQS.GetQueueUrl", False),
        ("PUT", "", True),
        ("GET", "", False),
    ],
)
def test_writes_are_noticed_and_reads_are_not(method: str, target: str, writes: bool) -> None:
    tracker = WriteTracker(_app)
    committed: list[dict[str, Any]] = []
    tracker.journal = type("Journal", (), {"commit": lambda self, environ: committed.append(environ)})()

    tracker({"REQUEST_METHOD": method, "HTTP_X_AMZ_TARGET": target}, lambda *_: None)

    assert len(committed) == (1 if writes else 0)  # a write is answered after the journal's commit
