"""DynamoDB Streams event sources in the local runtime: moto's records in the
shape Lambda sends them, the template's FilterCriteria, batching, partial
batch failures, whole-batch failures, bisection, retries and the OnFailure
destination's invocation record, positions kept across a restart, the
streams' records kept across a restart (and none written by the restore),
streams trimmed to what is still to be read."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError
from moto.backends import get_backend

from local_runtime.aws import EmulatedAws
from local_runtime.emulation import install_moto_patches
from local_runtime.invocation import FunctionError
from local_runtime.persistence import StateStore
from local_runtime.stream_poller import (
    StreamPoller,
    StreamPositions,
    StreamSource,
    StreamTrimmer,
    stream_sources,
)
from local_runtime.streams import lambda_stream_records, read_new_records
from local_runtime.template import ACCOUNT, REGION, Template

SHARD = "shardId-00000001541626099285-f35f62ef"


def _template_document(token: str, **changes: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "Stream": {"Fn::GetAtt": ["Records", "StreamArn"]},
        "StartingPosition": "TRIM_HORIZON",
        "BatchSize": 3,
        "MaximumRetryAttempts": 2,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": ["Failed", "Arn"]}}},
        "FilterCriteria": {"Filters": [{"Pattern": '{"dynamodb": {"NewImage": {"entity": {"S": ["record"]}}}}'}]},
    }
    properties.update(changes)
    return {
        "Resources": {
            "Records": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "TableName": f"stream-records-{token}",
                    "BillingMode": "PAY_PER_REQUEST",
                    "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                },
            },
            "Failed": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"stream-failed-{token}"}},
            "PublishFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "CodeUri": "publish/",
                    "Handler": "app.handler",
                    "Events": {"Changes": {"Type": "DynamoDB", "Properties": properties}},
                },
            },
        }
    }


class Recording:
    """A function that records the batches it gets; `answer(records)`
    returns its result or raises FunctionError."""

    def __init__(self, spec: Any, answer: Any = None) -> None:
        self.spec = spec
        self.name = spec.logical_id
        self.answer = answer or (lambda records: None)
        self.batches: list[list[dict[str, Any]]] = []

    def invoke(self, event: dict[str, Any]) -> Any:
        self.batches.append(event["Records"])
        return self.answer(event["Records"])

    def sizes(self) -> list[int]:
        return [len(batch) for batch in self.batches]

    def keys(self) -> list[list[str]]:
        return [[record["dynamodb"]["Keys"]["pk"]["S"] for record in batch] for batch in self.batches]


class Streams:
    """A template of one table with a stream, its consuming function (a
    Recording) and an OnFailure queue, provisioned in the emulator."""

    def __init__(self, aws: EmulatedAws, folder: Path, **changes: Any) -> None:
        self.aws = aws
        self.folder = folder
        self.token = uuid.uuid4().hex[:8]
        (folder / "template.yaml").write_text(yaml.safe_dump(_template_document(self.token, **changes)))
        self.template = Template(folder / "template.yaml")
        aws.provision(self.template)
        self.dynamodb = aws.client("dynamodb")
        self.sqs = aws.client("sqs")
        self.positions_path = folder / "stream-positions.json"
        self.clock = lambda: datetime.now(UTC).timestamp()

    @property
    def table(self) -> str:
        return self.template.physical_name("Records")

    def poller(self, answer: Any = None, **source_changes: Any) -> tuple[StreamPoller, Recording]:
        function = Recording(self.template.function("PublishFunction"), answer)
        (source,) = stream_sources(self.template, {function.name: function})
        for name, value in source_changes.items():
            object.__setattr__(source, name, value)
        poller = StreamPoller(
            source,
            self.template,
            StreamPositions(self.positions_path),
            self.sqs,
            poll_seconds=0,
            retry_seconds=0,
            clock=lambda: self.clock(),
        )
        poller.start_position()
        return poller, function

    def put(self, *keys: str, entity: str = "record") -> None:
        for key in keys:
            self.dynamodb.put_item(TableName=self.table, Item={"pk": {"S": key}, "entity": {"S": entity}})

    def drain(self, poller: StreamPoller, limit: int = 50) -> None:
        for _ in range(limit):
            if poller.poll_once() == 0:
                return
        raise AssertionError("the poller never ran out of work")

    def failures(self) -> list[dict[str, Any]]:
        url = self.template.resolve({"Ref": "Failed"})
        messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    def shard(self) -> Any:
        return get_backend("dynamodb")[ACCOUNT][REGION].tables[self.table].stream_shard


@pytest.fixture
def streams(emulated_aws: EmulatedAws, tmp_path: Path) -> Streams:
    install_moto_patches()
    return Streams(emulated_aws, tmp_path)


def _failing_on(*keys: str) -> Any:
    def answer(records: list[dict[str, Any]]) -> Any:
        failed = [r["dynamodb"]["SequenceNumber"] for r in records if r["dynamodb"]["Keys"]["pk"]["S"] in keys]
        return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failed]}

    return answer


def _raising_on(*keys: str) -> Any:
    def answer(records: list[dict[str, Any]]) -> Any:
        if any(record["dynamodb"]["Keys"]["pk"]["S"] in keys for record in records):
            raise FunctionError("Traceback: ValueError: poison")
        return None

    return answer


# ---------------------------------------------------------------- the records
def test_records_are_converted_to_the_lambda_event_shape(streams: Streams) -> None:
    item = {
        "pk": {"S": "a"},
        "entity": {"S": "record"},
        "blob": {"B": b"\x00\xff"},
        "count": {"N": "1"},
        "nested": {"M": {"inner": {"B": b"\x01"}, "list": {"L": [{"BS": [b"\x02"]}, {"BOOL": True}]}}},
    }
    streams.dynamodb.put_item(TableName=streams.table, Item=item)
    streams.dynamodb.update_item(
        TableName=streams.table,
        Key={"pk": {"S": "a"}},
        UpdateExpression="SET #c = :two",
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={":two": {"N": "2"}},
    )
    streams.dynamodb.delete_item(TableName=streams.table, Key={"pk": {"S": "a"}})
    stream_arn = streams.template.resolve({"Fn::GetAtt": ["Records", "StreamArn"]})
    described = streams.dynamodb.describe_table(TableName=streams.table)["Table"]
    positions: dict[str, str] = {}

    records = read_new_records(streams.aws.client("dynamodbstreams"), stream_arn, positions)

    assert stream_arn == described["LatestStreamArn"]  # !GetAtt Records.StreamArn is the emulator's ARN
    assert [record["eventName"] for record in records] == ["INSERT", "MODIFY", "REMOVE"]
    insert, modify, remove = records
    assert set(insert) == {
        "eventID",
        "eventName",
        "eventVersion",
        "eventSource",
        "awsRegion",
        "dynamodb",
        "eventSourceARN",
    }
    assert (insert["eventVersion"], insert["eventSource"], insert["awsRegion"]) == ("1.1", "aws:dynamodb", "us-east-1")
    assert insert["eventSourceARN"] == stream_arn
    change = insert["dynamodb"]
    assert set(change) == {
        "ApproximateCreationDateTime",
        "Keys",
        "NewImage",
        "SequenceNumber",
        "SizeBytes",
        "StreamViewType",
    }
    assert isinstance(change["ApproximateCreationDateTime"], int)
    assert abs(change["ApproximateCreationDateTime"] - datetime.now(UTC).timestamp()) < 60
    assert change["Keys"] == {"pk": {"S": "a"}}
    assert change["NewImage"]["blob"] == {"B": base64.b64encode(b"\x00\xff").decode()}  # JSON: base64
    assert change["NewImage"]["nested"] == {
        "M": {"inner": {"B": "AQ=="}, "list": {"L": [{"BS": ["Ag=="]}, {"BOOL": True}]}}
    }
    assert change["StreamViewType"] == "NEW_AND_OLD_IMAGES" and isinstance(change["SizeBytes"], int)
    assert modify["dynamodb"]["OldImage"]["count"] == {"N": "1"} and modify["dynamodb"]["NewImage"]["count"] == {
        "N": "2"
    }
    assert "NewImage" not in remove["dynamodb"] and remove["dynamodb"]["OldImage"]["count"] == {"N": "2"}
    # The positions moved to the last record; nothing new since.
    assert positions == {SHARD: remove["dynamodb"]["SequenceNumber"]}
    assert read_new_records(streams.aws.client("dynamodbstreams"), stream_arn, positions) == []
    streams.put("b")
    assert [
        r["dynamodb"]["Keys"] for r in read_new_records(streams.aws.client("dynamodbstreams"), stream_arn, positions)
    ] == [{"pk": {"S": "b"}}]
    # Records already converted come back as they are.
    assert lambda_stream_records(records, stream_arn) == records


def test_a_transaction_that_fails_leaves_no_stream_record(streams: Streams) -> None:
    streams.put("kept")
    before = len(streams.shard().items)
    with pytest.raises(ClientError):
        streams.dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": streams.table, "Item": {"pk": {"S": "new"}, "entity": {"S": "record"}}}},
                {
                    "Update": {
                        "TableName": streams.table,
                        "Key": {"pk": {"S": "kept"}},
                        "UpdateExpression": "SET x = :x",
                        "ConditionExpression": "attribute_not_exists(pk)",
                        "ExpressionAttributeValues": {":x": {"S": "x"}},
                    }
                },
            ]
        )
    assert len(streams.shard().items) == before


# ---------------------------------------------------------------- filters and batches
def test_filter_criteria_keep_only_matching_records_and_the_others_count_as_read(streams: Streams) -> None:
    poller, function = streams.poller()
    streams.put("counter-1", entity="counter")
    streams.put("r1")
    streams.put("log-1", entity="log")
    streams.dynamodb.delete_item(TableName=streams.table, Key={"pk": {"S": "r1"}})  # no NewImage: no match

    streams.drain(poller)

    assert function.keys() == [["r1"]]
    assert function.batches[0][0]["eventName"] == "INSERT"
    assert poller.position() == int(streams.shard().items[-1].record["dynamodb"]["SequenceNumber"])
    # Only filtered-out records since: no invocation, the position still moves.
    streams.put("counter-2", entity="counter")
    streams.drain(poller)
    assert len(function.batches) == 1
    assert poller.position() == int(streams.shard().items[-1].record["dynamodb"]["SequenceNumber"])


def test_batches_hold_at_most_batch_size_records_in_order(streams: Streams) -> None:
    poller, function = streams.poller()
    streams.put("a", "b", "c", "d", "e", "f", "g")

    streams.drain(poller)

    assert function.keys() == [["a", "b", "c"], ["d", "e", "f"], ["g"]]


def test_a_batching_window_waits_for_a_fuller_batch(streams: Streams) -> None:
    poller, function = streams.poller(batching_window=0.3)
    streams.put("a")

    assert poller.poll_once() == 0  # the window is open: no invocation yet
    streams.put("b")
    assert function.batches == []
    streams.put("c")  # a full batch does not wait
    assert poller.poll_once() == 3
    streams.put("d")
    assert poller.poll_once() == 0
    import time

    time.sleep(0.35)
    assert poller.poll_once() == 1
    assert function.keys() == [["a", "b", "c"], ["d"]]


# ---------------------------------------------------------------- failures
def test_a_partial_failure_retries_from_the_first_failed_record(streams: Streams) -> None:
    failing = {"b"}

    def answer(records: list[dict[str, Any]]) -> Any:
        result = _failing_on(*failing)(records)
        failing.clear()  # succeeds when retried
        return result

    poller, function = streams.poller(answer)
    streams.put("a", "b", "c", "d")

    streams.drain(poller)

    assert function.keys() == [["a", "b", "c"], ["b", "c", "d"]]
    assert streams.failures() == []


def test_an_unknown_item_identifier_fails_the_whole_batch(streams: Streams) -> None:
    answers = iter([{"batchItemFailures": [{"itemIdentifier": "not-a-sequence-number"}]}, None])
    poller, function = streams.poller(lambda records: next(answers))
    streams.put("a", "b")

    streams.drain(poller)

    assert function.keys() == [["a", "b"], ["a", "b"]]


def test_an_error_fails_the_whole_batch_and_it_is_retried(streams: Streams) -> None:
    errors = iter([FunctionError("boom"), None])

    def answer(records: list[dict[str, Any]]) -> Any:
        error = next(errors)
        if error:
            raise error

    poller, function = streams.poller(answer, bisect=False)
    streams.put("a", "b", "c")

    streams.drain(poller)

    assert function.keys() == [["a", "b", "c"], ["a", "b", "c"]]


def test_bisection_isolates_the_poison_record_which_goes_to_the_on_failure_queue(streams: Streams) -> None:
    poller, function = streams.poller(_raising_on("c"), batch_size=4, bisect=True, max_retries=1)
    streams.put("a", "b", "c", "d")
    sequences = {
        item.record["dynamodb"]["Keys"]["pk"]["S"]: item.record["dynamodb"]["SequenceNumber"]
        for item in streams.shard().items
    }

    streams.drain(poller)

    assert function.keys() == [
        ["a", "b", "c", "d"],  # fails: split
        ["a", "b"],  # ok
        ["c", "d"],  # fails: split
        ["c"],  # fails, retried once (MaximumRetryAttempts 1)
        ["c"],  # fails: skipped
        ["d"],
    ]
    (failure,) = streams.failures()
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 2
    assert failure["requestContext"]["functionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:PublishFunction"
    assert failure["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert failure["version"] == "1.0" and failure["timestamp"].endswith("Z")
    info = failure["DDBStreamBatchInfo"]
    assert info["shardId"] == SHARD
    assert info["startSequenceNumber"] == info["endSequenceNumber"] == sequences["c"]
    assert info["batchSize"] == 1
    assert info["streamArn"] == streams.template.resolve({"Fn::GetAtt": ["Records", "StreamArn"]})
    datetime.strptime(info["approximateArrivalOfFirstRecord"], "%Y-%m-%dT%H:%M:%SZ")
    datetime.strptime(info["approximateArrivalOfLastRecord"], "%Y-%m-%dT%H:%M:%SZ")


def test_reported_failures_past_the_retries_are_skipped_to_the_on_failure_queue(streams: Streams) -> None:
    poller, function = streams.poller(_failing_on("b"))  # MaximumRetryAttempts: 2
    streams.put("a", "b", "c", "d")

    streams.drain(poller)

    # The first failure and what follows it in its batch are retried; then skipped together, as in Lambda.
    assert function.keys() == [["a", "b", "c"], ["b", "c", "d"], ["b", "c", "d"]]
    streams.put("e")
    streams.drain(poller)
    assert function.keys()[-1] == ["e"]
    (failure,) = streams.failures()
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    assert "functionError" not in failure["responseContext"]  # the function answered; it reported failures
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 3  # b, c, d: from the first failure on


def test_records_older_than_the_maximum_age_are_skipped(streams: Streams) -> None:
    poller, function = streams.poller(max_record_age=60)
    streams.put("old")
    later = datetime.now(UTC).timestamp() + 120
    streams.clock = lambda: later

    streams.drain(poller)

    assert function.batches == []
    (failure,) = streams.failures()
    assert failure["requestContext"]["condition"] == "RecordAgeExceeded"


# ---------------------------------------------------------------- restarts
def _restart(streams: Streams) -> Streams:
    """What a restart leaves: the template's resources again, empty."""
    streams.dynamodb.delete_table(TableName=streams.table)
    streams.sqs.delete_queue(QueueUrl=streams.template.resolve({"Ref": "Failed"}))
    fresh = Streams.__new__(Streams)
    fresh.__dict__.update(streams.__dict__)
    fresh.template = Template(streams.template.path)
    streams.aws.provision(fresh.template)
    return fresh


def test_a_restart_carries_on_from_the_kept_position_and_numbering(streams: Streams, tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state", streams.template, streams.aws.client("s3"))
    store.restore()
    poller, function = streams.poller()
    streams.put("a", "b")
    streams.drain(poller)
    streams.put("c")  # written, not yet read
    store.save()
    numbers = [item.record["dynamodb"]["SequenceNumber"] for item in streams.shard().items]

    after = _restart(streams)
    restored = StateStore(tmp_path / "state", after.template, after.aws.client("s3")).restore()
    kept = [item.record["dynamodb"]["SequenceNumber"] for item in after.shard().items]
    again, function_after = after.poller()
    after.drain(again)
    after.put("d")
    after.drain(again)

    assert restored["items"] == 3
    assert kept == numbers  # the restore wrote no stream record of its own
    assert function.keys() == [["a", "b"]]
    assert function_after.keys() == [["c"], ["d"]]  # a and b are not sent again
    assert int(after.shard().items[-1].record["dynamodb"]["SequenceNumber"]) == int(numbers[-1]) + 1


def test_stream_records_of_answered_writes_survive_a_crash(streams: Streams, tmp_path: Path) -> None:
    state = tmp_path / "state"
    store = StateStore(state, streams.template, streams.aws.client("s3"))
    store.restore()
    assert streams.aws.writes is not None
    store.start_journal(streams.aws.writes)
    try:
        streams.put("a", "b")  # journaled, never snapshotted: then the crash
        journaled = [item.record for item in streams.shard().items]
    finally:
        streams.aws.writes.journal = None
        from local_runtime.emulation.writes import record_writes

        record_writes(None)

    after = _restart(streams)
    StateStore(state, after.template, after.aws.client("s3")).restore()
    poller, function = after.poller()
    after.drain(poller)

    assert [item.record["dynamodb"]["SequenceNumber"] for item in after.shard().items] == [
        record["dynamodb"]["SequenceNumber"] for record in journaled
    ]
    assert function.keys() == [["a", "b"]]
    assert function.batches[0][1]["dynamodb"]["NewImage"] == {"pk": {"S": "b"}, "entity": {"S": "record"}}


def test_a_position_past_the_stream_end_starts_from_the_end(streams: Streams, caplog: pytest.LogCaptureFixture) -> None:
    streams.put("a")
    StreamPositions(streams.positions_path).set("PublishFunction.Changes", "Records", SHARD, 10**30)

    poller, function = streams.poller()
    streams.put("b")
    streams.drain(poller)

    assert function.keys() == [["b"]]
    assert "past the end" in caplog.text


def test_latest_starts_after_what_the_stream_holds(streams: Streams) -> None:
    streams.put("before")
    poller, function = streams.poller(starting_position="LATEST")
    streams.put("after")

    streams.drain(poller)

    assert function.keys() == [["after"]]


def test_streams_are_trimmed_to_what_is_yet_to_be_read(streams: Streams) -> None:
    poller, _ = streams.poller()
    trimmer = StreamTrimmer(streams.template, [poller])
    streams.put("a", "b", "c")
    poller.poll_once()  # a, b, c read
    streams.put("d")
    last_read = poller.position()

    dropped = trimmer.trim("Records")

    shard = streams.shard()
    assert dropped == 3
    assert shard.starting_sequence_number == last_read + 1
    assert [item.record["dynamodb"]["Keys"]["pk"]["S"] for item in shard.items] == ["d"]
    streams.put("e")  # numbering goes on
    assert int(shard.items[-1].record["dynamodb"]["SequenceNumber"]) == last_read + 2
    streams.drain(poller)
    assert poller.position() == last_read + 2


def test_sources_outside_the_template_are_refused(streams: Streams, tmp_path: Path) -> None:
    document = _template_document("x", Stream="arn:aws:dynamodb:us-east-1:123456789012:table/other/stream/label")
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(document))
    other = Template(tmp_path / "other.yaml")
    function = Recording(other.function("PublishFunction"))

    with pytest.raises(ValueError, match="not the stream of a table of the template"):
        stream_sources(other, {function.name: function})


def test_the_sources_read_the_template(streams: Streams) -> None:
    function = Recording(streams.template.function("PublishFunction"))

    (source,) = stream_sources(streams.template, {function.name: function})

    assert isinstance(source, StreamSource)
    assert (source.table_id, source.batch_size, source.max_retries, source.reports_item_failures) == (
        "Records",
        3,
        2,
        True,
    )
    assert source.on_failure_queue_url == streams.template.resolve({"Ref": "Failed"})
    assert source.key == "PublishFunction.Changes"


def test_restoring_data_saved_without_streams_writes_no_stream_record(streams: Streams, tmp_path: Path) -> None:
    state = tmp_path / "state"
    StateStore(state, streams.template, streams.aws.client("s3")).restore()
    streams.put("a", "b")
    StateStore(state, streams.template, streams.aws.client("s3")).save()
    snapshot = json.loads((state / "snapshot.json").read_text())
    del snapshot["streams"]  # as saved before the table had a stream
    (state / "snapshot.json").write_text(json.dumps(snapshot))

    after = _restart(streams)
    restored = StateStore(state, after.template, after.aws.client("s3")).restore()
    poller, function = after.poller()
    after.drain(poller)

    assert restored["items"] == 2
    assert after.shard().items == []  # the restore's puts are no changes to publish
    assert function.batches == []
