"""Every write the emulator answers survives a crash: the journal holds the
post-image of every DynamoDB write path, SQS call and S3 call; replaying it
over the snapshot rebuilds the state (twice changes nothing); a torn last
line is dropped, a bad line stops the start; snapshots compact it; one
fsync covers every writer waiting for it.

A crash is the store stopped without a snapshot: what kill -9 leaves (each
line is written with one write call, so it is in the file once written)."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.backends import get_backend

from local_runtime import emulation, journal
from local_runtime.aws import EmulatedAws, WriteTracker
from local_runtime.journal import Journal, encode_line, read_segment, request_service, segments
from local_runtime.persistence import RestoreFailed, Snapshotter, StateStore
from local_runtime.template import ACCOUNT, REGION, Template
from tests.unit.test_local_persistence import TEMPLATE as SNAPSHOT_TEMPLATE

# The persistence tests' resources, and a table keyed by binary ids.
TEMPLATE = (
    SNAPSHOT_TEMPLATE.rstrip()
    + """
  Keys:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: keys-TOKEN
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: B}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
"""
)


@pytest.fixture(autouse=True)
def moto_patches() -> None:
    emulation.install_moto_patches()


@pytest.fixture
def template(tmp_path: Path, emulated_aws: EmulatedAws) -> Template:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE.replace("TOKEN", uuid.uuid4().hex[:8]))
    loaded = Template(path)
    emulated_aws.provision(loaded)
    return loaded


class Emulator:
    """The session's emulator with this test's template: clients, a store
    on a state dir, and restarts (a crash, or a clean stop)."""

    def __init__(self, aws: EmulatedAws, template: Template, state_dir: Path) -> None:
        self.aws = aws
        self.template = template
        self.state_dir = state_dir
        self.dynamodb, self.sqs, self.s3 = aws.client("dynamodb"), aws.client("sqs"), aws.client("s3")
        self.store: StateStore | None = None

    @property
    def table(self) -> str:
        return self.template.physical_name("Records")

    @property
    def queue_url(self) -> str:
        return str(self.template.resolve({"Ref": "Jobs"}))

    @property
    def bucket(self) -> str:
        return self.template.physical_name("Outputs")

    @property
    def tracker(self) -> WriteTracker:
        assert self.aws.writes is not None
        return self.aws.writes

    def start(self) -> dict[str, int]:
        """Restore from the state dir, then journal every write."""
        self.store = StateStore(self.state_dir, self.template, self.s3)
        restored = self.store.restore()
        self.store.start_journal(self.tracker)
        return restored

    def crash(self) -> None:
        """Stop journaling, no snapshot: the files as a kill -9 leaves them."""
        assert self.store is not None
        self.store.close()
        self.store = None

    def restart(self) -> dict[str, int]:
        """A fresh process: the template's resources again, empty, then filled
        from the state dir."""
        if self.store is not None:
            self.crash()
        self.dynamodb.delete_table(TableName=self.table)
        self.dynamodb.delete_table(TableName=self.template.physical_name("Keys"))
        self.sqs.delete_queue(QueueUrl=self.queue_url)
        for listed in self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", []):
            self.s3.delete_object(Bucket=self.bucket, Key=listed["Key"])
        self.s3.delete_bucket(Bucket=self.bucket)
        self.template = Template(self.template.path)
        self.aws.provision(self.template)
        return self.start()

    def state(self) -> dict[str, Any]:
        """Everything the runtime keeps, read without changing it."""
        items = {}
        for logical in ("Records", "Keys"):
            scanned = self.dynamodb.scan(TableName=self.template.physical_name(logical))["Items"]
            items[logical] = sorted(scanned, key=lambda item: json.dumps(item, sort_keys=True, default=repr))
        queue = get_backend("sqs")[ACCOUNT][REGION].queues[self.template.physical_name("Jobs")]
        messages = [(m.id, m.body, m.approximate_receive_count, sorted(m.message_attributes)) for m in queue._messages]
        objects = {}
        for listed in self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", []):
            found = self.s3.get_object(Bucket=self.bucket, Key=listed["Key"])
            objects[listed["Key"]] = (found["Body"].read(), found["ContentType"], found["Metadata"])
        return {"items": items, "messages": messages, "objects": objects}


@pytest.fixture
def emulator(emulated_aws: EmulatedAws, template: Template, tmp_path: Path) -> Iterator[Emulator]:
    running = Emulator(emulated_aws, template, tmp_path / "state")
    yield running
    if running.store is not None:
        running.store.close()


def _item(pk: str, sk: str = "META", **attributes: Any) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}, **attributes}


def _key(pk: str, sk: str = "META") -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


# --------------------------------------------------------------- DynamoDB
def _put(e: Emulator) -> None:
    e.dynamodb.put_item(TableName=e.table, Item=_item("a", v={"N": "1"}, gsi1pk={"S": "open"}, b={"B": b"\x00\xff"}))


def _update(e: Emulator) -> None:
    e.dynamodb.update_item(
        TableName=e.table,
        Key=_key("seed"),
        UpdateExpression="ADD n :one SET gsi1pk = :g",
        ExpressionAttributeValues={":one": {"N": "1"}, ":g": {"S": "done"}},
    )


def _update_creating(e: Emulator) -> None:
    e.dynamodb.update_item(
        TableName=e.table, Key=_key("new"), UpdateExpression="SET t = :t", ExpressionAttributeValues={":t": {"S": "x"}}
    )


def _delete(e: Emulator) -> None:
    e.dynamodb.delete_item(TableName=e.table, Key=_key("seed"))


def _batch(e: Emulator) -> None:
    e.dynamodb.batch_write_item(
        RequestItems={
            e.table: [
                {"PutRequest": {"Item": _item("b1")}},
                {"PutRequest": {"Item": _item("b2", l={"L": [{"S": "x"}, {"M": {"k": {"BS": [b"\x01"]}}}]})}},
                {"DeleteRequest": {"Key": _key("seed")}},
            ],
            e.template.physical_name("Keys"): [{"PutRequest": {"Item": {"id": {"B": b"\x02\x03"}}}}],
        }
    )


def _transaction(e: Emulator) -> None:
    e.dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": e.table, "Item": _item("t1"), "ConditionExpression": "attribute_not_exists(pk)"}},
            {
                "Update": {
                    "TableName": e.table,
                    "Key": _key("seed"),
                    "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "5"}},
                }
            },
            {"Delete": {"TableName": e.table, "Key": _key("seed", "OTHER")}},
        ]
    )


def _binary_key_delete(e: Emulator) -> None:
    e.dynamodb.delete_item(TableName=e.template.physical_name("Keys"), Key={"id": {"B": b"\x00seed"}})


@pytest.mark.parametrize("write", [_put, _update, _update_creating, _delete, _batch, _transaction, _binary_key_delete])
def test_every_dynamodb_write_path_survives_a_crash(emulator: Emulator, write: Any) -> None:
    # Given a journaled emulator holding a few items
    emulator.start()
    emulator.dynamodb.put_item(TableName=emulator.table, Item=_item("seed", n={"N": "1"}, gsi1pk={"S": "open"}))
    emulator.dynamodb.put_item(TableName=emulator.table, Item=_item("seed", "OTHER"))
    emulator.dynamodb.put_item(TableName=emulator.template.physical_name("Keys"), Item={"id": {"B": b"\x00seed"}})

    # When a write is answered, and the runtime crashes before any snapshot
    write(emulator)
    before = emulator.state()
    emulator.restart()

    # Then the restored state is the one answered, GSI included
    assert not emulator.state_dir.joinpath("snapshot.json").exists()
    assert emulator.state() == before
    indexed = emulator.dynamodb.query(
        TableName=emulator.table,
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :g",
        ExpressionAttributeValues={":g": {"S": "open"}},
    )
    assert sorted(item["pk"]["S"] for item in indexed["Items"]) == sorted(
        item["pk"]["S"] for item in before["items"]["Records"] if item.get("gsi1pk") == {"S": "open"}
    )


def test_a_conditional_failure_journals_nothing_harmful(emulator: Emulator) -> None:
    emulator.start()
    emulator.dynamodb.put_item(TableName=emulator.table, Item=_item("x", v={"S": "original"}))
    with pytest.raises(ClientError):
        emulator.dynamodb.put_item(
            TableName=emulator.table, Item=_item("x", v={"S": "lost"}), ConditionExpression="attribute_not_exists(pk)"
        )
    with pytest.raises(ClientError):  # cancelled: the put of y and the update of x roll back
        emulator.dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": emulator.table, "Item": _item("y")}},
                {
                    "Update": {
                        "TableName": emulator.table,
                        "Key": _key("x"),
                        "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"S": "lost"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": emulator.table,
                        "Key": _key("missing"),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    with pytest.raises(ClientError):
        emulator.dynamodb.delete_item(
            TableName=emulator.table,
            Key=_key("x"),
            ConditionExpression="v = :v",
            ExpressionAttributeValues={":v": {"S": "other"}},
        )

    emulator.restart()

    assert emulator.state()["items"]["Records"] == [_item("x", v={"S": "original"})]


def test_tables_outside_the_template_are_not_journaled(emulator: Emulator) -> None:
    emulator.start()
    other = f"other-{uuid.uuid4().hex[:8]}"
    emulator.dynamodb.create_table(
        TableName=other,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    emulator.dynamodb.put_item(TableName=other, Item={"pk": {"S": "x"}})
    emulator.crash()

    assert [number for number, _ in segments(emulator.state_dir)] == []  # nothing written: empty segment gone


# --------------------------------------------------------------- SQS and S3
def test_sqs_sends_receives_and_deletes_survive_a_crash(emulator: Emulator) -> None:
    emulator.start()
    sqs, url = emulator.sqs, emulator.queue_url
    sqs.send_message(QueueUrl=url, MessageBody="one")
    raw = {"raw": {"DataType": "Binary", "BinaryValue": b"\x01"}}
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": "2", "MessageBody": "two"}, {"Id": "3", "MessageBody": "three", "MessageAttributes": raw}],
    )
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"])
    before = emulator.state()
    assert len(before["messages"]) == 2 and sorted(count for _, _, count, _ in before["messages"]) == [0, 1]

    emulator.restart()

    assert emulator.state() == before
    # in flight when it crashed: delivered again, its earlier receive still counted
    again = sqs.receive_message(
        QueueUrl=emulator.queue_url,
        MaxNumberOfMessages=10,
        MessageSystemAttributeNames=["ApproximateReceiveCount"],
        MessageAttributeNames=["All"],
    )["Messages"]
    assert sorted((m["Body"], m["Attributes"]["ApproximateReceiveCount"]) for m in again) == [
        ("three", "1"),
        ("two", "2"),
    ]
    assert [m["MessageAttributes"]["raw"]["BinaryValue"] for m in again if m["Body"] == "three"] == [b"\x01"]


def test_s3_puts_and_deletes_survive_a_crash(emulator: Emulator) -> None:
    emulator.start()
    s3, bucket = emulator.s3, emulator.bucket
    s3.put_object(Bucket=bucket, Key="a.csv", Body=b"first", ContentType="text/csv", Metadata={"job": "1"})
    s3.put_object(Bucket=bucket, Key="b.csv", Body=b"gone soon")
    s3.put_object(Bucket=bucket, Key="a.csv", Body=b"second", ContentType="text/plain", Metadata={"job": "2"})
    s3.delete_object(Bucket=bucket, Key="b.csv")
    s3.put_object(Bucket=bucket, Key="dir/c d+ü.txt", Body=b"second")  # same content: stored once

    emulator.restart()

    assert emulator.state()["objects"] == {
        "a.csv": (b"second", "text/plain", {"job": "2"}),
        "dir/c d+ü.txt": (b"second", "binary/octet-stream", {}),
    }
    assert (emulator.state_dir / "objects" / hashlib.sha256(b"second").hexdigest()).exists()


# --------------------------------------------------------------- durability
def test_a_write_is_answered_only_once_its_line_is_on_disk(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    emulator.start()
    assert emulator.store is not None
    log = emulator.store._recorder.journal  # type: ignore[union-attr]
    synced: list[int] = []
    fdatasync = os.fdatasync

    def noted(fd: int) -> None:
        synced.append(log.appended)  # how many lines were written when the sync started
        fdatasync(fd)

    monkeypatch.setattr(journal.os, "fdatasync", noted)

    emulator.dynamodb.put_item(TableName=emulator.table, Item=_item("a"))
    assert (log.appended, log.durable, synced) == (1, 1, [1])

    emulator.dynamodb.get_item(TableName=emulator.table, Key=_key("a"))  # a read waits for nothing
    with pytest.raises(ClientError):  # a refused write waits for its (harmless) line like any other
        emulator.dynamodb.put_item(
            TableName=emulator.table, Item=_item("a"), ConditionExpression="attribute_not_exists(pk)"
        )
    emulator.sqs.send_message(QueueUrl=emulator.queue_url, MessageBody="m")
    emulator.sqs.receive_message(QueueUrl=emulator.queue_url, MaxNumberOfMessages=1)
    assert (log.appended, log.durable, synced) == (4, 4, [1, 2, 3, 4])


def test_one_fsync_covers_every_writer_waiting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = Journal(tmp_path, 0)
    release = threading.Event()
    calls: list[int] = []
    fdatasync = os.fdatasync

    def slow_fdatasync(fd: int) -> None:
        calls.append(log.appended)
        if len(calls) == 1:
            release.wait()  # the first sync is in progress while the others append
        fdatasync(fd)

    monkeypatch.setattr(journal.os, "fdatasync", slow_fdatasync)

    def writer(n: int) -> None:
        log.append({"n": n})
        log.wait_for_own_lines()

    first = threading.Thread(target=writer, args=(0,))
    first.start()
    while not calls:
        threading.Event().wait(0.001)
    others = [threading.Thread(target=writer, args=(n,)) for n in range(1, 6)]
    for thread in others:
        thread.start()
    while log.waiting < 5:  # all five wait behind the first sync
        threading.Event().wait(0.001)
    release.set()
    for thread in [first, *others]:
        thread.join()

    assert calls == [1, 6]  # the second sync covered the five lines written meanwhile
    assert log.fsyncs == 2 and log.durable == 6
    log.append({"n": 6})
    log.wait_durable(3)  # already on disk: no sync
    assert log.fsyncs == 2
    log.close()
    assert [record["n"] for record in read_segment(tmp_path / "journal-000000.log")[0]] == list(range(7))


# --------------------------------------------------------------- replay
def test_replaying_over_a_state_that_holds_it_changes_nothing(emulator: Emulator) -> None:
    emulator.start()
    _put(emulator)
    _update(emulator)
    _batch(emulator)
    emulator.dynamodb.update_item(
        TableName=emulator.table,
        Key=_key("counter"),
        UpdateExpression="ADD n :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    emulator.sqs.send_message(QueueUrl=emulator.queue_url, MessageBody="m")
    emulator.sqs.receive_message(QueueUrl=emulator.queue_url)
    emulator.s3.put_object(Bucket=emulator.bucket, Key="k", Body=b"v")
    emulator.s3.put_object(Bucket=emulator.bucket, Key="gone", Body=b"v")
    emulator.s3.delete_object(Bucket=emulator.bucket, Key="gone")
    restored = emulator.restart()
    once = emulator.state()
    emulator.crash()

    # the journal again, over the state it already built (as over a snapshot taken after its lines)
    journal.replay(emulator.state_dir, 0, emulator.template, emulator.s3, _no_context)

    assert restored["journaled writes"] > 0
    assert emulator.state() == once
    counter = [item for item in once["items"]["Records"] if item["pk"] == {"S": "counter"}]
    assert counter[0]["n"] == {"N": "1"}  # an ADD replayed is not counted twice


class _no_context:
    def __init__(self, _: str) -> None:
        pass

    def __enter__(self) -> None:
        pass

    def __exit__(self, *_: Any) -> None:
        pass


def test_a_torn_last_line_is_ignored_and_cut_off(emulator: Emulator) -> None:
    emulator.start()
    emulator.dynamodb.put_item(TableName=emulator.table, Item=_item("kept"))
    emulator.crash()
    (_, path), *_ = segments(emulator.state_dir)
    complete = path.stat().st_size
    torn = encode_line({"dynamodb": [{"table": "Records", "put": _item("torn")}]})
    with open(path, "ab") as handle:
        handle.write(torn[: len(torn) // 2])  # the crash came in mid-write

    restored = emulator.restart()

    assert restored["journaled writes"] == 1
    assert [item["pk"]["S"] for item in emulator.state()["items"]["Records"]] == ["kept"]
    assert path.stat().st_size == complete


@pytest.mark.parametrize("damage", ["flipped byte", "torn line before the last segment", "not json"])
def test_a_bad_line_stops_the_start_naming_the_file(emulator: Emulator, damage: str) -> None:
    emulator.start()
    emulator.dynamodb.put_item(TableName=emulator.table, Item=_item("one"))
    emulator.dynamodb.put_item(TableName=emulator.table, Item=_item("two"))
    emulator.crash()
    (_, path), *_ = segments(emulator.state_dir)
    data = path.read_bytes()
    if damage == "flipped byte":
        at = data.index(b'"one"')
        path.write_bytes(data[:at] + b'"onf"' + data[at + 5 :])
    elif damage == "not json":
        path.write_bytes(b"00000000 {oops\n" + data)
    else:
        path.write_bytes(data[:-3])
        (path.parent / "journal-000099.log").write_bytes(b"")

    with pytest.raises(RestoreFailed, match=path.name):
        emulator.restart()


# --------------------------------------------------------------- compaction
def test_a_snapshot_compacts_the_journal(emulator: Emulator) -> None:
    emulator.start()
    assert emulator.store is not None
    emulator.dynamodb.put_item(TableName=emulator.table, Item=_item("before"))
    emulator.s3.put_object(Bucket=emulator.bucket, Key="k", Body=b"old")
    first = [number for number, _ in segments(emulator.state_dir)]

    emulator.store.save()
    snapshot = json.loads((emulator.state_dir / "snapshot.json").read_text())
    emulator.dynamodb.put_item(TableName=emulator.table, Item=_item("after"))
    emulator.dynamodb.delete_item(TableName=emulator.table, Key=_key("before"))
    emulator.s3.put_object(Bucket=emulator.bucket, Key="k", Body=b"new")
    before = emulator.state()
    restored = emulator.restart()

    # the snapshot holds what came before it; the segment it starts is all that is replayed
    assert [number for number, _ in segments(emulator.state_dir)][0] == snapshot["journal_from"] > first[-1]
    assert restored == {"items": 1, "messages": 0, "objects": 1, "journaled writes": 3}
    assert emulator.state() == before
    emulator.store.save()  # type: ignore[union-attr]
    assert sorted(path.name for path in (emulator.state_dir / "objects").iterdir()) == [
        hashlib.sha256(b"new").hexdigest()
    ]


def test_objects_a_live_segment_names_outlive_the_snapshot(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write between the snapshot's rotation and its copy is in both; the
    objects its segment names must stay, or the replay would miss them."""
    emulator.start()
    store = emulator.store
    assert store is not None
    copy_buckets = store._copy_buckets

    def writes_during_the_copy() -> Any:
        emulator.s3.put_object(Bucket=emulator.bucket, Key="k", Body=b"first")
        copied = copy_buckets()
        emulator.s3.put_object(Bucket=emulator.bucket, Key="k", Body=b"second")
        return copied

    monkeypatch.setattr(store, "_copy_buckets", writes_during_the_copy)
    store.save()
    emulator.restart()

    assert emulator.state()["objects"] == {"k": (b"second", "binary/octet-stream", {})}


def test_segments_a_snapshot_holds_are_skipped_if_left_behind(emulator: Emulator) -> None:
    """A crash between the snapshot's rename and the removal of the older
    segments: they are not replayed (a later delete would be undone)."""
    emulator.start()
    assert emulator.store is not None
    emulator.dynamodb.put_item(TableName=emulator.table, Item=_item("x"))
    (_, path), *_ = segments(emulator.state_dir)
    left = path.read_bytes()
    emulator.store.save()
    emulator.dynamodb.delete_item(TableName=emulator.table, Key=_key("x"))
    path.write_bytes(left)

    emulator.restart()

    assert emulator.state()["items"]["Records"] == []
    assert not path.exists()


# --------------------------------------------------------------- cadence
class FakeStore:
    """Counts saves; its journal grows by `step` lines on every look."""

    def __init__(self, step: int, size: int = 0) -> None:
        self.step, self.size = step, size
        self.lines = self.looks = self.saves = 0
        self.closed = False

    def journal_lines(self) -> int:
        self.looks += 1
        self.lines += self.step if self.looks > 1 else 0
        return self.lines

    def journal_bytes(self) -> int:
        return self.size

    def save(self) -> None:
        self.saves += 1

    def close(self) -> None:
        self.closed = True


def _run_snapshotter(store: FakeStore, looks: int, **settings: Any) -> Snapshotter:
    snapshotter = Snapshotter(store, poll=0.001, **settings)  # type: ignore[arg-type]
    snapshotter.start()
    while store.looks < looks:
        threading.Event().wait(0.001)
    snapshotter.stop()
    return snapshotter


def test_steady_writes_are_not_interrupted_by_snapshots() -> None:
    store = FakeStore(step=1)
    snapshotter = _run_snapshotter(store, looks=200, max_seconds=3600)
    assert (snapshotter.saves, store.saves, store.closed) == (0, 1, True)  # only the one on stop


def test_a_large_journal_is_compacted_while_writes_go_on() -> None:
    store = FakeStore(step=1, size=10)
    snapshotter = _run_snapshotter(store, looks=50, max_seconds=3600, compact_bytes=10)
    assert snapshotter.saves >= 1


def test_a_pause_in_the_writes_is_used_for_a_snapshot() -> None:
    store = FakeStore(step=0)
    store.lines = 5  # written before the snapshotter started, unsaved
    snapshotter = _run_snapshotter(store, looks=50, max_seconds=3600)
    assert snapshotter.saves == 0  # the lines were there at start: saved_lines equals them

    paused = FakeStore(step=0)
    snapshotter = Snapshotter(paused, poll=0.001, max_seconds=3600)  # type: ignore[arg-type]
    snapshotter.start()
    while paused.looks < 2:
        threading.Event().wait(0.001)
    paused.lines = 7  # a burst of writes, then nothing
    while snapshotter.saves == 0:
        threading.Event().wait(0.001)
    snapshotter.stop()
    assert (snapshotter.saves, paused.saves) == (1, 2)


# --------------------------------------------------------------- requests
@pytest.mark.parametrize(
    ("environ", "service"),
    [
        ({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.PutItem"}, "dynamodb"),
        ({"HTTP_X_AMZ_TARGET": "AmazonSQS.SendMessage"}, "sqs"),
        ({"HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, X"}, "s3"),
        ({"QUERY_STRING": "X-Amz-Credential=testing%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=1"}, "s3"),
        ({"HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/sqs/aws4_request"}, "sqs"),
        ({}, None),
    ],
)
def test_requests_are_told_apart_by_service(environ: dict[str, str], service: str | None) -> None:
    assert request_service(environ) == service
