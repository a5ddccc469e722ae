"""A write that was answered survives a crash: every change the emulator
makes to the template's tables, queues and buckets is appended to a journal
and flushed to disk (fsync) before the answer goes back; at startup the
journal is replayed over the last snapshot, and each snapshot compacts it.

What is journaled are post-images, not requests: after a DynamoDB write,
the current item of every key it touched (or that it is gone), and the
stream records it added to its table's stream (an answered write's change
reaches the stream's consumers after a crash too); after an SQS
call, the messages of the template's queues that changed (their full kept
state, or that they are gone); after an S3 call, the objects that changed
(key, content's sha256, content type, metadata; the bytes stored once under
objects/, fsynced before the line naming them) or that are gone. Replaying a
post-image twice, or over a snapshot that already holds it, changes nothing;
replaying requests would not be idempotent (an ADD counts twice, SQS message
ids and receipt handles are random).

- Order: DynamoDB images are appended while the write lock is held (the
  emulation calls `Recorder.dynamodb_writes` there), so the journal's order
  is the order in which writes applied. SQS and S3 are captured after the
  request, under one capture lock, each capture reading the state as it is
  then: a later capture holds at least what an earlier one saw, and every
  key's last line is its latest state.
- Group commit: a request that appended lines waits, before its answer is
  sent (`WriteTracker`), until the journal is on disk up to its last line.
  One fsync covers every line written before it started, so concurrent
  writers share it; a writer whose lines are already on disk does not sync.
- Segments: journal-<n>.log. A snapshot first starts a new segment, then
  copies the state, then names in the snapshot the first segment it does
  not hold; older segments are deleted once it is renamed into place. At
  start: the snapshot, then every segment from that number on, in order. A
  torn last line (a crash in mid-write) was never answered: it is ignored
  and cut off; a bad line anywhere else stops the start, naming the file.
- Each line is `<crc32 of the JSON, 8 hex digits> <JSON>`: a line that
  parses but was damaged is caught too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from moto.backends import get_backend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.s3.models import FakeDeleteMarker
from moto.sqs.models import Message

from local_runtime.template import ACCOUNT, BUCKET, QUEUE, REGION, TABLE, Template

log = logging.getLogger(__name__)

OBJECTS_DIR = "objects"
_SEGMENT = re.compile(r"^journal-(\d+)\.log$")
_CREDENTIAL = re.compile(r"Credential=[^/\s]+/\d{8}/[^/\s]+/([a-z0-9-]+)/aws4_request")

# Message fields kept as they are; receipt handles and visibility are not:
# a message in flight when the runtime stopped is delivered again.
MESSAGE_FIELDS = (
    "approximate_first_receive_timestamp",
    "approximate_receive_count",
    "deduplication_id",
    "delayed_until",
    "group_id",
    "sender_id",
    "sent_timestamp",
    "sequence_number",
    "system_attributes",
)


class JournalUnreadable(Exception):
    """A journal line that is not the torn end of the last segment cannot be
    read: the message names the file and the line."""


# ---------------------------------------------------------------- files
def segment_path(state_dir: Path, number: int) -> Path:
    return state_dir / f"journal-{number:06d}.log"


def segments(state_dir: Path) -> list[tuple[int, Path]]:
    """The journal's segments in `state_dir`, oldest first."""
    if not state_dir.is_dir():
        return []
    found = []
    for path in state_dir.iterdir():
        matched = _SEGMENT.match(path.name)
        if matched:
            found.append((int(matched.group(1)), path))
    return sorted(found)


def encode_line(record: dict[str, Any]) -> bytes:
    payload = json.dumps(record, separators=(",", ":")).encode()
    return b"%08x %s\n" % (zlib.crc32(payload), payload)


def read_segment(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The records of one segment, and the length of its complete lines (a
    torn last line, with no newline yet, is not among them)."""
    data = path.read_bytes()
    complete = data.rfind(b"\n") + 1
    records = []
    for number, line in enumerate(data[:complete].splitlines(), start=1):
        try:
            crc, _, payload = line.partition(b" ")
            if len(crc) != 8 or int(crc, 16) != zlib.crc32(payload):
                raise ValueError("checksum mismatch")
            record = json.loads(payload)
            if not isinstance(record, dict):
                raise ValueError("not a record")
        except ValueError as error:
            raise JournalUnreadable(f"{path}, line {number}: {error}") from error
        records.append(record)
    return records, complete


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file of its own, fsync, rename over `path`: a
    crash leaves the old file or the new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def fsync_directory(path: Path) -> None:
    """Make a file's creation, rename or removal in `path` durable."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# ---------------------------------------------------------------- the log
class Journal:
    """Appends lines to the current segment; `wait_durable` is the group
    commit. Thread-safe."""

    def __init__(self, state_dir: Path, number: int) -> None:
        self.state_dir = state_dir
        self._file_lock = threading.Lock()  # the descriptor, the segment, the counters below
        self._sync = threading.Condition()  # _durable, _syncing, the waiters
        self._own = threading.local()  # per thread: the last line it appended
        self._appended = 0  # lines written to the current descriptor or before it
        self._durable = 0  # lines known to be on disk
        self._syncing = False
        self.number = number
        self.size = 0  # bytes in the current segment
        # What the commits cost (reported by the tests and the load check).
        self.fsyncs = 0
        self.fsync_seconds = 0.0
        self.slowest_fsync = 0.0
        self.waits = 0
        self.waiting = 0
        self._descriptor = self._open(number)

    def _open(self, number: int) -> int:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(segment_path(self.state_dir, number), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        fsync_directory(self.state_dir)
        return descriptor

    @property
    def appended(self) -> int:
        return self._appended

    @property
    def durable(self) -> int:
        return self._durable

    def append(self, record: dict[str, Any]) -> int:
        """Write one record as one line (one write call: a crash tears at
        most the last line); returns its sequence number."""
        line = encode_line(record)
        with self._file_lock:
            view = memoryview(line)
            while view:
                view = view[os.write(self._descriptor, view) :]
            self._appended += 1
            self.size += len(line)
            sequence = self._appended
        self._own.sequence = sequence
        return sequence

    def wait_for_own_lines(self) -> None:
        """Return once every line this thread appended is on disk."""
        sequence = getattr(self._own, "sequence", 0)
        if sequence:
            self._own.sequence = 0
            self.wait_durable(sequence)

    def wait_durable(self, sequence: int) -> None:
        """Return once lines up to `sequence` are on disk. The first waiter
        syncs everything appended so far; the others wait for that sync and
        return if it covered them (group commit)."""
        with self._sync:
            self.waits += 1
            while self._durable < sequence:
                if self._syncing:
                    self.waiting += 1
                    try:
                        self._sync.wait()
                    finally:
                        self.waiting -= 1
                    continue
                self._syncing = True
                with self._file_lock:
                    target, descriptor = self._appended, self._descriptor
                self._sync.release()
                started = time.perf_counter()
                try:
                    os.fdatasync(descriptor)
                finally:
                    took = time.perf_counter() - started
                    self._sync.acquire()
                    self._syncing = False
                    self._sync.notify_all()
                self.fsyncs += 1
                self.fsync_seconds += took
                self.slowest_fsync = max(self.slowest_fsync, took)
                self._durable = max(self._durable, target)

    @contextmanager
    def _no_sync_running(self) -> Iterator[None]:
        with self._sync:
            while self._syncing:
                self._sync.wait()
            self._syncing = True
        try:
            yield
        finally:
            with self._sync:
                self._syncing = False
                self._sync.notify_all()

    def rotate(self) -> int:
        """Sync and close the current segment, start the next one; returns
        its number. Every line appended before is in an older segment."""
        with self._no_sync_running(), self._file_lock:
            os.fdatasync(self._descriptor)
            self.fsyncs += 1
            os.close(self._descriptor)
            self.number += 1
            self._descriptor = self._open(self.number)
            self.size = 0
            self._durable = max(self._durable, self._appended)
        return self.number

    def close(self) -> None:
        """Sync and close; an empty current segment is removed."""
        with self._no_sync_running(), self._file_lock:
            if self._descriptor < 0:
                return
            os.fdatasync(self._descriptor)
            os.close(self._descriptor)
            self._descriptor = -1
            self._durable = max(self._durable, self._appended)
            if self.size == 0:
                segment_path(self.state_dir, self.number).unlink(missing_ok=True)


# ---------------------------------------------------------------- encoding
def encode_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB attribute in JSON: moto holds binary (B, BS) as bytes,
    the journal and the snapshot as base64, as the DynamoDB wire format does."""
    ((kind, inner),) = value.items()
    if kind == "B":
        return {kind: base64.b64encode(inner).decode()}
    if kind == "BS":
        return {kind: [base64.b64encode(member).decode() for member in inner]}
    if kind == "M":
        return {kind: {name: encode_attribute(member) for name, member in inner.items()}}
    if kind == "L":
        return {kind: [encode_attribute(member) for member in inner]}
    return value


def decode_attribute(value: dict[str, Any]) -> dict[str, Any]:
    ((kind, inner),) = value.items()
    if kind == "B":
        return {kind: base64.b64decode(inner)}
    if kind == "BS":
        return {kind: [base64.b64decode(member) for member in inner]}
    if kind == "M":
        return {kind: {name: decode_attribute(member) for name, member in inner.items()}}
    if kind == "L":
        return {kind: [decode_attribute(member) for member in inner]}
    return value


def encode_item(item: Any) -> dict[str, Any]:
    """A moto Item as the journal and the snapshot keep it."""
    return {name: encode_attribute(value) for name, value in item.to_json()["Attributes"].items()}


def decode_item(saved: dict[str, Any]) -> dict[str, Any]:
    return {name: decode_attribute(value) for name, value in saved.items()}


def _encode_binary(attributes: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Message attributes hold bytes, which JSON cannot: base64 them."""
    return {
        name: {k: base64.b64encode(v).decode() if isinstance(v, bytes) else v for k, v in value.items()}
        for name, value in attributes.items()
    }


def _decode_binary(attributes: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        name: {k: base64.b64decode(v) if k == "BinaryValue" else v for k, v in value.items()}
        for name, value in attributes.items()
    }


def encode_message(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "body": message.body,
        "message_attributes": _encode_binary(message.message_attributes),
        **{name: getattr(message, name) for name in MESSAGE_FIELDS},
    }


def decode_message(saved: dict[str, Any]) -> Message:
    message = Message(saved["id"], saved["body"])
    message.message_attributes = _decode_binary(saved["message_attributes"])
    for name in MESSAGE_FIELDS:
        setattr(message, name, saved[name])
    return message


def encode_stream_record(record: dict[str, Any]) -> dict[str, Any]:
    """A moto stream record (StreamRecord.record) in JSON: its images hold
    binary as bytes (the keys are already base64), its time a datetime."""
    change = dict(record["dynamodb"])
    change["ApproximateCreationDateTime"] = change["ApproximateCreationDateTime"].isoformat()
    for image in ("NewImage", "OldImage"):
        if image in change:
            change[image] = {name: encode_attribute(value) for name, value in change[image].items()}
    return {**record, "dynamodb": change}


def decode_stream_record(saved: dict[str, Any]) -> dict[str, Any]:
    change = dict(saved["dynamodb"])
    change["ApproximateCreationDateTime"] = datetime.fromisoformat(change["ApproximateCreationDateTime"])
    for image in ("NewImage", "OldImage"):
        if image in change:
            change[image] = {name: decode_attribute(value) for name, value in change[image].items()}
    return {**saved, "dynamodb": change}


def stream_records_after(shard: Any, sequence: int) -> list[Any]:
    """The shard's records from sequence number `sequence` on (moto numbers
    them from `starting_sequence_number`, one by one)."""
    return shard.items[max(0, sequence - shard.starting_sequence_number) :]


def stream_end(shard: Any) -> int:
    """The sequence number the shard's next record will get."""
    return int(shard.starting_sequence_number) + len(shard.items)


def _fingerprint(message: Message) -> tuple[Any, ...]:
    """What a message's kept state can change by once sent (the rest is set
    before moto queues it)."""
    return (message.approximate_receive_count, message.approximate_first_receive_timestamp)


# ---------------------------------------------------------------- capture
@dataclass
class _Object:
    """An object as last journaled: moto's key (a new one for every write)
    and the content's digest."""

    key: Any
    sha256: str


@dataclass
class Replayed:
    """What a replay leaves for the recorder that follows it."""

    lines: int = 0
    last_segment: int = -1
    # Digests of the objects each replayed segment names: they must stay
    # until the segment is compacted away.
    segment_objects: dict[int, set[str]] = field(default_factory=dict)
    # (bucket's logical id, key) -> digest of every restored object.
    objects: dict[tuple[str, str], str] = field(default_factory=dict)
    # Table logical id -> the stream records replayed (encoded), in order.
    streams: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


class Recorder:
    """Turns the emulator's writes into journal lines: the sink of the
    DynamoDB writes' post-images (`dynamodb_writes`, under the write lock),
    and after each request through the emulator (`commit`, called by
    WriteTracker) the SQS and S3 captures, then the wait for the disk."""

    def __init__(self, journal: Journal, template: Template, objects_dir: Path, replayed: Replayed) -> None:
        self.journal = journal
        self._objects_dir = objects_dir
        self._tables = {template.physical_name(logical): logical for logical in template.of_type(TABLE)}
        # Per table with a stream: the sequence number of the first record
        # not journaled yet.
        live_tables = get_backend("dynamodb")[ACCOUNT][REGION].tables
        self._stream_next = {
            name: stream_end(live_tables[name].stream_shard)
            for name in self._tables
            if name in live_tables and live_tables[name].stream_shard is not None
        }
        self._queues = {logical: template.physical_name(logical) for logical in template.of_type(QUEUE)}
        self._buckets = {logical: template.physical_name(logical) for logical in template.of_type(BUCKET)}
        self._capture_lock = threading.RLock()
        self._segment_objects = {number: set(digests) for number, digests in replayed.segment_objects.items()}
        self._segment_objects.setdefault(journal.number, set())
        # The state as last journaled, what the captures diff against.
        self._messages: dict[str, dict[str, tuple[Any, ...]]] = {}
        self._stored: dict[str, dict[str, _Object]] = {}
        for logical, queue in self._live_queues():
            self._messages[logical] = {message.id: _fingerprint(message) for message in list(queue._messages)}
        for logical, keys in self._live_objects():
            self._stored[logical] = {
                name: _Object(key, replayed.objects.get((logical, name)) or self._store_content(key))
                for name, key in keys.items()
            }

    # -------------------------------------------------------- DynamoDB
    def dynamodb_writes(self, changes: list[tuple[Any, Any, Any, Any]]) -> None:
        """The emulation's sink (emulation.writes.record_writes): one line per
        write, with the images of the template's items it touched."""
        entries: list[dict[str, Any]] = []
        streams: dict[str, list[dict[str, Any]]] = {}
        for table, hash_value, range_value, item in changes:
            logical = self._tables.get(table.name)
            if logical is None:
                continue  # not the template's: not kept (as in the snapshot)
            shard = table.stream_shard
            if shard is not None and logical not in streams:
                added = stream_records_after(shard, self._stream_next.get(table.name, stream_end(shard)))
                self._stream_next[table.name] = stream_end(shard)
                if added:
                    streams[logical] = [encode_stream_record(record.record) for record in added]
            if item is not None:
                entries.append({"table": logical, "put": encode_item(item)})
            else:
                # A key's to_json() is already the wire form (binary in base64).
                key = {table.hash_key_attr: hash_value.to_json()}
                if table.range_key_attr:
                    key[table.range_key_attr] = range_value.to_json()
                entries.append({"table": logical, "delete": key})
        if entries:
            line: dict[str, Any] = {"dynamodb": entries}
            if streams:
                line["streams"] = streams
            self.journal.append(line)

    # -------------------------------------------------------- after a request
    def commit(self, environ: dict[str, Any]) -> None:
        """After a request that may have written: capture what DynamoDB's
        sink cannot see, then wait until this thread's lines are on disk."""
        service = request_service(environ)
        if service != "dynamodb":
            with self._capture_lock:
                # An EventBridge PutEvents delivers to SQS targets inside the emulator.
                if service in ("sqs", "events", None):
                    self.capture_queues()
                if service in ("s3", None):
                    self.capture_buckets()
        self.journal.wait_for_own_lines()

    def _live_queues(self) -> Iterator[tuple[str, Any]]:
        queues = get_backend("sqs")[ACCOUNT][REGION].queues
        for logical, name in self._queues.items():
            queue = queues.get(name)
            if queue is not None:
                yield logical, queue

    def capture_queues(self) -> None:
        """Journal the messages changed since the last capture."""
        with self._capture_lock:
            changes: dict[str, dict[str, list[Any]]] = {}
            for logical, queue in self._live_queues():
                known = self._messages.setdefault(logical, {})
                put, seen = [], set()
                for message in list(queue._messages):
                    seen.add(message.id)
                    fingerprint = _fingerprint(message)
                    if known.get(message.id) != fingerprint:
                        put.append(encode_message(message))
                        known[message.id] = fingerprint
                gone = [message_id for message_id in known if message_id not in seen]
                for message_id in gone:
                    del known[message_id]
                if put or gone:
                    changes[logical] = {"put": put, "delete": gone}
            if changes:
                self.journal.append({"sqs": changes})

    def _live_objects(self) -> Iterator[tuple[str, dict[str, Any]]]:
        buckets = get_backend("s3")[ACCOUNT]["global"].buckets
        for logical, name in self._buckets.items():
            bucket = buckets.get(name)
            if bucket is None:
                continue
            latest = {}
            for key_name, versions in dict.items(dict(bucket.keys)):
                if versions and not isinstance(versions[-1], FakeDeleteMarker):
                    latest[key_name] = versions[-1]
            yield logical, latest

    def _store_content(self, key: Any) -> str:
        """The object's bytes under objects/<sha256>, on disk before any
        line names them."""
        body = key.value
        digest = hashlib.sha256(body).hexdigest()
        path = self._objects_dir / digest
        if not path.exists():
            write_atomically(path, body)
        return digest

    def capture_buckets(self) -> None:
        """Journal the objects written or deleted since the last capture
        (moto makes a new key object for every write)."""
        with self._capture_lock:
            changes: dict[str, dict[str, list[Any]]] = {}
            digests: set[str] = set()
            for logical, keys in self._live_objects():
                known = self._stored.setdefault(logical, {})
                put = []
                for name, key in keys.items():
                    stored = known.get(name)
                    if stored is not None and stored.key is key:
                        continue
                    digest = self._store_content(key)
                    known[name] = _Object(key, digest)
                    digests.add(digest)
                    metadata = dict(key.metadata)
                    put.append(
                        {
                            "key": name,
                            "sha256": digest,
                            "content_type": metadata.get("content-type", "binary/octet-stream"),
                            "metadata": {
                                k.removeprefix("x-amz-meta-"): v
                                for k, v in metadata.items()
                                if k.startswith("x-amz-meta-")
                            },
                        }
                    )
                gone = [name for name in known if name not in keys]
                for name in gone:
                    del known[name]
                if put or gone:
                    changes[logical] = {"put": put, "delete": gone}
            if changes:
                self._segment_objects.setdefault(self.journal.number, set()).update(digests)
                self.journal.append({"s3": changes})

    # -------------------------------------------------------- compaction
    def rotate(self) -> int:
        """Start a new segment (before a snapshot copies the state)."""
        with self._capture_lock:
            number = self.journal.rotate()
            self._segment_objects.setdefault(number, set())
            return number

    @contextmanager
    def objects_in_use(self, first_kept: int) -> Iterator[set[str]]:
        """The digests the segments from `first_kept` on name, with captures
        held back (one may be storing an object it has yet to journal)."""
        with self._capture_lock:
            for number in [n for n in self._segment_objects if n < first_kept]:
                del self._segment_objects[number]
            yield set().union(*self._segment_objects.values())

    def close(self) -> None:
        with self._capture_lock:
            self.journal.close()


def request_service(environ: dict[str, Any]) -> str | None:
    """The AWS service a request to the emulator is for: from the JSON
    protocols' target header, else the SigV4 credential scope (header or
    presigned query); None if neither says."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target.startswith("DynamoDB_"):
        return "dynamodb"
    if target.startswith("AmazonSQS"):
        return "sqs"
    for text in (environ.get("HTTP_AUTHORIZATION", ""), unquote(environ.get("QUERY_STRING", ""))):
        found = _CREDENTIAL.search(text)
        if found:
            return found.group(1)
    return None


# ---------------------------------------------------------------- replay
def replay(
    state_dir: Path,
    first: int,
    template: Template,
    s3_client: Any,
    on_resource: Callable[[str], Any],
    restored_objects: dict[tuple[str, str], str] | None = None,
) -> Replayed:
    """Apply every segment from number `first` on, in order, to the freshly
    restored emulator. Older segments (left by a crash between a snapshot's
    rename and their removal) are deleted. `on_resource(logical_id)` is the
    context in which each resource is written (it names it on failure);
    `restored_objects`, the digests of the objects the snapshot restored."""
    replayed = Replayed(objects=dict(restored_objects or {}))
    found = segments(state_dir)
    for number, path in found:
        if number < first:
            path.unlink(missing_ok=True)
    found = [(number, path) for number, path in found if number >= first]
    applier = _Applier(template, s3_client, state_dir / OBJECTS_DIR, on_resource, replayed)
    for position, (number, path) in enumerate(found):
        records, complete = read_segment(path)
        size = path.stat().st_size
        if complete < size:
            if position < len(found) - 1:
                raise JournalUnreadable(f"{path}, line {len(records) + 1}: a torn line before the last segment")
            log.warning("journal %s: ignoring a torn last line (%d bytes, never answered)", path, size - complete)
            with open(path, "r+b") as handle:
                handle.truncate(complete)
                os.fsync(handle.fileno())
        replayed.segment_objects[number] = set()
        for record in records:
            applier.apply(record, number)
        replayed.lines += len(records)
        replayed.last_segment = number
    applier.finish()
    return replayed


class _Applier:
    def __init__(
        self,
        template: Template,
        s3_client: Any,
        objects_dir: Path,
        on_resource: Callable[[str], Any],
        replayed: Replayed,
    ) -> None:
        self._template = template
        self._s3 = s3_client
        self._objects_dir = objects_dir
        self._on_resource = on_resource
        self._replayed = replayed
        self._declared = {kind: template.of_type(kind) for kind in (TABLE, QUEUE, BUCKET)}
        self._skipped: set[str] = set()
        self._tables = get_backend("dynamodb")[ACCOUNT][REGION].tables
        self._queues: dict[str, dict[str, Message]] = {}  # logical id -> id -> message, in queue order

    def _present(self, kind: str, logical_id: str) -> bool:
        if logical_id in self._declared[kind]:
            return True
        if logical_id not in self._skipped:
            self._skipped.add(logical_id)
            log.warning("not restored: %s %s is no longer in the template", kind, logical_id)
        return False

    def apply(self, record: dict[str, Any], segment: int) -> None:
        for entry in record.get("dynamodb", ()):
            if self._present(TABLE, entry["table"]):
                with self._on_resource(entry["table"]):
                    self._apply_item(entry)
        for logical_id, added in record.get("streams", {}).items():
            if self._present(TABLE, logical_id):
                self._replayed.streams.setdefault(logical_id, []).extend(added)
        for logical_id, change in record.get("sqs", {}).items():
            if self._present(QUEUE, logical_id):
                with self._on_resource(logical_id):
                    self._apply_messages(logical_id, change)
        for logical_id, change in record.get("s3", {}).items():
            if self._present(BUCKET, logical_id):
                with self._on_resource(logical_id):
                    self._apply_objects(logical_id, change, segment)

    def _apply_item(self, entry: dict[str, Any]) -> None:
        table = self._tables[self._template.physical_name(entry["table"])]
        if "put" in entry:
            table.put_item(decode_item(entry["put"]))
            return
        key = decode_item(entry["delete"])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        table.delete_item(DynamoType(key[table.hash_key_attr]), range_value)

    def _apply_messages(self, logical_id: str, change: dict[str, list[Any]]) -> None:
        messages = self._queues.get(logical_id)
        if messages is None:
            queue = get_backend("sqs")[ACCOUNT][REGION].queues[self._template.physical_name(logical_id)]
            messages = self._queues[logical_id] = {message.id: message for message in queue._messages}
        for saved in change.get("put", ()):
            messages[saved["id"]] = decode_message(saved)
        for message_id in change.get("delete", ()):
            messages.pop(message_id, None)

    def _apply_objects(self, logical_id: str, change: dict[str, list[Any]], segment: int) -> None:
        bucket = self._template.physical_name(logical_id)
        for entry in change.get("put", ()):
            path = self._objects_dir / entry["sha256"]
            if not path.exists():
                raise JournalUnreadable(f"the journal names {path}, which is missing")
            self._s3.put_object(
                Bucket=bucket,
                Key=entry["key"],
                Body=path.read_bytes(),
                ContentType=entry["content_type"],
                Metadata=entry["metadata"],
            )
            self._replayed.segment_objects[segment].add(entry["sha256"])
            self._replayed.objects[(logical_id, entry["key"])] = entry["sha256"]
        for key in change.get("delete", ()):
            self._s3.delete_object(Bucket=bucket, Key=key)
            self._replayed.objects.pop((logical_id, key), None)

    def finish(self) -> None:
        """Queues are rebuilt once, in their order (an upserted message
        keeps its place, a new one comes last)."""
        queues = get_backend("sqs")[ACCOUNT][REGION].queues
        for logical_id, messages in self._queues.items():
            with self._on_resource(logical_id):
                queues[self._template.physical_name(logical_id)]._messages = list(messages.values())
