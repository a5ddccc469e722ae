"""Keep the emulated data across restarts: a snapshot of the template's
tables, queues and buckets, written whenever the data changed (at most once
per interval) and on shutdown, and loaded at startup.

The schema is not in the snapshot: tables, queues and buckets are created
from template.yaml on every start, then filled with the snapshot's data.

Each snapshot is written to a temporary file and renamed over the previous
one, so a crash (even kill -9) leaves the last complete snapshot: at most
the last interval's writes are lost. The interval is a second, or ten times
the last snapshot's duration when that is longer (large tables), so that
snapshots never take more than a tenth of the time. Objects' bytes live
beside it, one file per distinct content, written before the snapshot that
names them.

DynamoDB and SQS are read from moto's backends directly: the API cannot copy
a table at one point in time, nor read a queue without receiving (changing)
its messages. S3 goes through the API, which serves it well."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from moto.backends import get_backend
from moto.sqs.models import Message

from local_runtime.emulation import dynamodb_writes_paused, every_item
from local_runtime.template import ACCOUNT, BUCKET, QUEUE, REGION, TABLE, Template

log = logging.getLogger(__name__)

FORMAT = 1
SNAPSHOT_FILE = "snapshot.json"
OBJECTS_DIR = "objects"
SNAPSHOT_INTERVAL_SECONDS = 1.0
# A snapshot pauses DynamoDB writes while it copies the tables: keep that to
# a tenth of the time however large they grow.
_DUTY_CYCLE = 0.1

# Message fields kept as they are; receipt handles and visibility are not:
# a message in flight when the runtime stopped is delivered again.
_MESSAGE_FIELDS = (
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


class RestoreFailed(Exception):
    """The saved data cannot be loaded (unreadable, or no longer fits the
    template, e.g. a table's keys changed)."""


class StateStore:
    def __init__(self, state_dir: Path, template: Template, s3_client: Any) -> None:
        self.state_dir = state_dir
        self.template = template
        self._s3 = s3_client
        self._objects = state_dir / OBJECTS_DIR
        # (bucket, key) -> (ETag, LastModified, entry): unchanged objects are
        # not downloaded again.
        self._known_objects: dict[tuple[str, str], tuple[str, Any, dict[str, Any]]] = {}

    @property
    def snapshot_path(self) -> Path:
        return self.state_dir / SNAPSHOT_FILE

    # ------------------------------------------------------------ restore
    def restore(self) -> dict[str, int]:
        """Load the snapshot, if any, into the freshly provisioned emulator.
        Returns how many items, messages and objects were loaded."""
        if not self.snapshot_path.exists():
            return {"items": 0, "messages": 0, "objects": 0}
        try:
            snapshot = json.loads(self.snapshot_path.read_text())
        except (OSError, ValueError) as error:
            raise RestoreFailed(f"cannot read {self.snapshot_path}: {error}") from error
        if snapshot.get("format") != FORMAT:
            raise RestoreFailed(f"{self.snapshot_path} has format {snapshot.get('format')}, not {FORMAT}")
        return {
            "items": self._restore_tables(snapshot.get("dynamodb", {})),
            "messages": self._restore_queues(snapshot.get("sqs", {})),
            "objects": self._restore_buckets(snapshot.get("s3", {})),
        }

    def _present(self, kind: str, saved: dict[str, Any]) -> dict[str, Any]:
        """The saved resources the template still declares."""
        declared = self.template.of_type(kind)
        for logical_id in saved.keys() - declared.keys():
            log.warning("not restored: %s %s is no longer in the template", kind, logical_id)
        return {logical_id: data for logical_id, data in saved.items() if logical_id in declared}

    def _restore_tables(self, saved: dict[str, list[dict[str, Any]]]) -> int:
        tables = get_backend("dynamodb")[ACCOUNT][REGION].tables
        count = 0
        for logical_id, items in self._present(TABLE, saved).items():
            table = tables[self.template.physical_name(logical_id)]
            with _restoring(logical_id):
                for item in items:
                    table.put_item({name: _decode_attribute(value) for name, value in item.items()})
            count += len(items)
        return count

    def _restore_queues(self, saved: dict[str, list[dict[str, Any]]]) -> int:
        queues = get_backend("sqs")[ACCOUNT][REGION].queues
        count = 0
        for logical_id, messages in self._present(QUEUE, saved).items():
            queue = queues[self.template.physical_name(logical_id)]
            with _restoring(logical_id):
                for saved_message in messages:
                    message = Message(saved_message["id"], saved_message["body"])
                    message.message_attributes = _decode_binary(saved_message["message_attributes"])
                    for name in _MESSAGE_FIELDS:
                        setattr(message, name, saved_message[name])
                    queue._messages.append(message)
            count += len(messages)
        return count

    def _restore_buckets(self, saved: dict[str, list[dict[str, Any]]]) -> int:
        count = 0
        for logical_id, entries in self._present(BUCKET, saved).items():
            bucket = self.template.physical_name(logical_id)
            with _restoring(logical_id):
                for entry in entries:
                    self._s3.put_object(
                        Bucket=bucket,
                        Key=entry["key"],
                        Body=(self._objects / entry["sha256"]).read_bytes(),
                        ContentType=entry["content_type"],
                        Metadata=entry["metadata"],
                    )
            count += len(entries)
        return count

    # ------------------------------------------------------------ save
    def save(self) -> None:
        """Not thread-safe: one saver at a time (the Snapshotter)."""
        snapshot = {
            "format": FORMAT,
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "dynamodb": self._copy_tables(),
            "sqs": self._copy_queues(),
            "s3": self._copy_buckets(),
        }
        _write_atomically(self.snapshot_path, json.dumps(snapshot, separators=(",", ":")).encode())
        self._forget_unreferenced_objects(snapshot["s3"])

    def _copy_tables(self) -> dict[str, list[dict[str, Any]]]:
        tables = get_backend("dynamodb")[ACCOUNT][REGION].tables
        names = {logical_id: self.template.physical_name(logical_id) for logical_id in self.template.of_type(TABLE)}
        # One point in time, as a table backup would be: no write, and no
        # transaction, is half in the copy.
        with dynamodb_writes_paused():
            return {
                logical_id: [
                    {name: _encode_attribute(value) for name, value in item.to_json()["Attributes"].items()}
                    for item in every_item(tables[name])  # moto's all_items() would sort them: needless
                ]
                for logical_id, name in names.items()
            }

    def _copy_queues(self) -> dict[str, list[dict[str, Any]]]:
        queues = get_backend("sqs")[ACCOUNT][REGION].queues
        copied = {}
        for logical_id in self.template.of_type(QUEUE):
            messages = list(queues[self.template.physical_name(logical_id)]._messages)
            copied[logical_id] = [
                {
                    "id": message.id,
                    "body": message.body,
                    "message_attributes": _encode_binary(message.message_attributes),
                    **{name: getattr(message, name) for name in _MESSAGE_FIELDS},
                }
                for message in messages
            ]
        return copied

    def _copy_buckets(self) -> dict[str, list[dict[str, Any]]]:
        self._objects.mkdir(parents=True, exist_ok=True)
        copied = {}
        for logical_id in self.template.of_type(BUCKET):
            bucket = self.template.physical_name(logical_id)
            entries = []
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for listed in page.get("Contents", []):
                    entries.append(self._copy_object(bucket, listed))
            copied[logical_id] = entries
        return copied

    def _copy_object(self, bucket: str, listed: dict[str, Any]) -> dict[str, Any]:
        key = listed["Key"]
        version = (listed["ETag"], listed["LastModified"])
        known = self._known_objects.get((bucket, key))
        if known and known[:2] == version and (self._objects / known[2]["sha256"]).exists():
            return known[2]
        response = self._s3.get_object(Bucket=bucket, Key=key)
        body = response["Body"].read()
        digest = hashlib.sha256(body).hexdigest()
        if not (self._objects / digest).exists():
            _write_atomically(self._objects / digest, body)
        entry = {
            "key": key,
            "sha256": digest,
            "content_type": response.get("ContentType", "binary/octet-stream"),
            "metadata": response.get("Metadata", {}),
        }
        self._known_objects[(bucket, key)] = (*version, entry)
        return entry

    def _forget_unreferenced_objects(self, buckets: dict[str, list[dict[str, Any]]]) -> None:
        referenced = {entry["sha256"] for entries in buckets.values() for entry in entries}
        for path in self._objects.iterdir():
            if path.name not in referenced and not path.name.endswith(".tmp"):
                path.unlink(missing_ok=True)


class Snapshotter:
    """Saves the state once per interval while it keeps changing."""

    def __init__(
        self, store: StateStore, has_changes: Callable[[], bool], interval: float = SNAPSHOT_INTERVAL_SECONDS
    ) -> None:
        self._store = store
        self._has_changes = has_changes
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="snapshot", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop, then save once more so nothing written before is lost."""
        self._stop.set()
        self._thread.join()
        self._store.save()

    def _run(self) -> None:
        unsaved = False
        wait = self._interval
        while not self._stop.wait(wait):
            unsaved = self._has_changes() or unsaved
            if not unsaved:
                continue
            started = time.monotonic()
            try:
                self._store.save()
                unsaved = False
            except Exception:
                log.exception("could not save the local state; retrying")
            wait = max(self._interval, (time.monotonic() - started) / _DUTY_CYCLE)


@contextmanager
def _restoring(logical_id: str) -> Iterator[None]:
    """Whatever fails, the way out is the same: say which resource, and reset."""
    try:
        yield
    except Exception as error:
        detail = getattr(error, "message", None) or str(error) or type(error).__name__
        raise RestoreFailed(f"cannot restore the saved {logical_id}: {detail}") from error


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _encode_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB attribute in JSON: moto holds binary (B, BS) as bytes,
    the snapshot as base64, as the DynamoDB wire format does."""
    ((kind, inner),) = value.items()
    if kind == "B":
        return {kind: base64.b64encode(inner).decode()}
    if kind == "BS":
        return {kind: [base64.b64encode(member).decode() for member in inner]}
    if kind == "M":
        return {kind: {name: _encode_attribute(member) for name, member in inner.items()}}
    if kind == "L":
        return {kind: [_encode_attribute(member) for member in inner]}
    return value


def _decode_attribute(value: dict[str, Any]) -> dict[str, Any]:
    ((kind, inner),) = value.items()
    if kind == "B":
        return {kind: base64.b64decode(inner)}
    if kind == "BS":
        return {kind: [base64.b64decode(member) for member in inner]}
    if kind == "M":
        return {kind: {name: _decode_attribute(member) for name, member in inner.items()}}
    if kind == "L":
        return {kind: [_decode_attribute(member) for member in inner]}
    return value


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
