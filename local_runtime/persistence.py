"""Keep the emulated data across restarts, and every answered write across
a crash: a journal of the writes (local_runtime/journal.py), flushed to disk
before each answer, and a snapshot of the template's tables, queues and
buckets that compacts it; at startup the snapshot is loaded, then the
journal written since is replayed over it.

The schema is not in the snapshot: tables, queues and buckets are created
from template.yaml on every start, then filled with the saved data.

Each snapshot is written to a temporary file and renamed over the previous
one, so a crash (even kill -9) leaves the last complete snapshot, and the
journal segments it does not hold are kept until the new one is in place.
Snapshots are taken when the writes pause (a second without any), when the
journal passes JOURNAL_COMPACT_BYTES, at the latest SNAPSHOT_MAX_SECONDS
after the previous one while writes go on, and on shutdown; never more than
a tenth of the time (a snapshot holds DynamoDB writes back while it copies
the tables). Objects' bytes live beside it, one file per distinct content,
written before the snapshot or journal line that names them.

Tables with a stream: the stream's records are kept too (the snapshot's,
then the journal's; see local_runtime/journal.py), so that a change answered
before a crash still reaches the stream's consumers after it. Restoring the
items does not write stream records: each table's stream is detached while
its items are put back, then given its saved records, so a restart never
shows a consumer a change twice (its position is kept by
local_runtime/stream_poller.py).

DynamoDB and SQS are read from moto's backends directly: the API cannot copy
a table at one point in time, nor read a queue without receiving (changing)
its messages. S3 goes through the API, which serves it well."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moto.backends import get_backend
from moto.dynamodb.models.table import StreamRecord

from local_runtime.emulation.tables import every_item
from local_runtime.emulation.writes import dynamodb_writes_paused, record_writes
from local_runtime.journal import (
    OBJECTS_DIR,
    Journal,
    JournalUnreadable,
    Recorder,
    Replayed,
    decode_item,
    decode_message,
    decode_stream_record,
    encode_item,
    encode_message,
    encode_stream_record,
    fsync_directory,
    replay,
    segments,
    stream_end,
    write_atomically,
)
from local_runtime.template import ACCOUNT, BUCKET, QUEUE, REGION, TABLE, Template

if TYPE_CHECKING:
    from local_runtime.aws import WriteTracker

log = logging.getLogger(__name__)

FORMAT = 1
SNAPSHOT_FILE = "snapshot.json"
# How often the snapshotter looks; a look that finds no new journal line
# since the previous one (writes paused) snapshots what is unsaved.
SNAPSHOT_POLL_SECONDS = 1.0
# While writes go on: a snapshot at least this often, or once the journal
# since the last one is this large (it bounds the replay at startup).
SNAPSHOT_MAX_SECONDS = 60.0
JOURNAL_COMPACT_BYTES = 4 * 1024 * 1024
# A snapshot pauses DynamoDB writes while it copies the tables: keep that to
# a tenth of the time however large they grow.
_DUTY_CYCLE = 0.1


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
        self._journal_from = 0
        self._replayed = Replayed()
        self._recorder: Recorder | None = None
        self._tracker: WriteTracker | None = None

    @property
    def snapshot_path(self) -> Path:
        return self.state_dir / SNAPSHOT_FILE

    # ------------------------------------------------------------ restore
    def restore(self) -> dict[str, int]:
        """Load the snapshot, if any, into the freshly provisioned emulator,
        then replay the journal written since. Returns how many items,
        messages and objects the snapshot held, and how many journaled
        writes were replayed over it."""
        with self._streams_detached() as shards:
            counts, saved_streams = self._restore_data()
        self._restore_streams(shards, saved_streams, self._replayed.streams)
        return counts

    @contextmanager
    def _streams_detached(self) -> Iterator[dict[str, Any]]:
        """The template's tables' stream shards by logical id, detached from
        their tables meanwhile: the restore's writes add no record."""
        tables = get_backend("dynamodb")[ACCOUNT][REGION].tables
        detached = {}
        for logical_id in self.template.of_type(TABLE):
            table = tables.get(self.template.physical_name(logical_id))
            if table is not None and table.stream_shard is not None:
                detached[logical_id] = (table, table.stream_shard)
                table.stream_shard = None
        try:
            yield {logical_id: shard for logical_id, (_, shard) in detached.items()}
        finally:
            for table, shard in detached.values():
                table.stream_shard = shard

    def _restore_streams(
        self, shards: dict[str, Any], saved: dict[str, Any], journaled: dict[str, list[dict[str, Any]]]
    ) -> None:
        """Give each stream its records: the snapshot's, then the journal's
        (those the snapshot does not hold already), numbered as before."""
        for logical_id, shard in shards.items():
            kept = saved.get(logical_id) or {}
            with _restoring(logical_id):
                if kept:
                    shard.starting_sequence_number = int(kept["starting"])
                    shard.items = [_stream_record(record) for record in kept["records"]]
                for record in journaled.get(logical_id, ()):
                    sequence = int(record["dynamodb"]["SequenceNumber"])
                    if shard.items and sequence < stream_end(shard):
                        continue  # in the snapshot already
                    if not shard.items or sequence > stream_end(shard):
                        if shard.items:
                            log.warning("%s: the stream's records before %d are missing", logical_id, sequence)
                        shard.items = []
                        shard.starting_sequence_number = sequence
                    shard.items.append(_stream_record(record))

    def _restore_data(self) -> tuple[dict[str, int], dict[str, Any]]:
        counts = {"items": 0, "messages": 0, "objects": 0}
        restored_objects: dict[tuple[str, str], str] = {}
        streams: dict[str, Any] = {}
        if self.snapshot_path.exists():
            try:
                snapshot = json.loads(self.snapshot_path.read_text())
            except (OSError, ValueError) as error:
                raise RestoreFailed(f"cannot read {self.snapshot_path}: {error}") from error
            if snapshot.get("format") != FORMAT:
                raise RestoreFailed(f"{self.snapshot_path} has format {snapshot.get('format')}, not {FORMAT}")
            # A snapshot from before the journal holds no number: no segment
            # was written before it.
            self._journal_from = int(snapshot.get("journal_from", 0))
            buckets = self._present(BUCKET, snapshot.get("s3", {}))
            streams = self._present(TABLE, snapshot.get("streams", {}))
            counts = {
                "items": self._restore_tables(snapshot.get("dynamodb", {})),
                "messages": self._restore_queues(snapshot.get("sqs", {})),
                "objects": self._restore_buckets(buckets),
            }
            restored_objects = {
                (logical_id, entry["key"]): entry["sha256"]
                for logical_id, entries in buckets.items()
                for entry in entries
            }
        try:
            self._replayed = replay(
                self.state_dir, self._journal_from, self.template, self._s3, _restoring, restored_objects
            )
        except JournalUnreadable as error:
            raise RestoreFailed(f"cannot replay the journal: {error}") from error
        counts["journaled writes"] = self._replayed.lines
        return counts, streams

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
                    table.put_item(decode_item(item))
            count += len(items)
        return count

    def _restore_queues(self, saved: dict[str, list[dict[str, Any]]]) -> int:
        queues = get_backend("sqs")[ACCOUNT][REGION].queues
        count = 0
        for logical_id, messages in self._present(QUEUE, saved).items():
            queue = queues[self.template.physical_name(logical_id)]
            with _restoring(logical_id):
                for saved_message in messages:
                    queue._messages.append(decode_message(saved_message))
            count += len(messages)
        return count

    def _restore_buckets(self, present: dict[str, list[dict[str, Any]]]) -> int:
        count = 0
        for logical_id, entries in present.items():
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

    # ------------------------------------------------------------ journal
    def start_journal(self, tracker: WriteTracker) -> Recorder:
        """From now on every write through the emulator is journaled, and
        answered only once it is on disk. Call after `restore`, before the
        emulator takes any other write."""
        taken = [number for number, _ in segments(self.state_dir)]
        number = max([self._journal_from, self._replayed.last_segment + 1, *(n + 1 for n in taken)])
        recorder = Recorder(Journal(self.state_dir, number), self.template, self._objects, self._replayed)
        self._recorder, self._tracker = recorder, tracker
        record_writes(recorder.dynamodb_writes)
        tracker.journal = recorder
        return recorder

    def journal_lines(self) -> int:
        """Lines journaled since the start (0 without a journal)."""
        return self._recorder.journal.appended if self._recorder else 0

    def journal_bytes(self) -> int:
        """Bytes journaled since the last snapshot started."""
        return self._recorder.journal.size if self._recorder else 0

    def close(self) -> None:
        """Stop journaling (after the last snapshot)."""
        if self._recorder is None:
            return
        record_writes(None)
        if self._tracker is not None:
            self._tracker.journal = None
        self._recorder.close()
        journal = self._recorder.journal
        log.info(
            "journal: %d lines, %d commits waited for the disk, %d fsyncs (%.1f ms on average, %.1f ms at most)",
            journal.appended,
            journal.waits,
            journal.fsyncs,
            1000 * journal.fsync_seconds / max(journal.fsyncs, 1),
            1000 * journal.slowest_fsync,
        )
        self._recorder = self._tracker = None

    # ------------------------------------------------------------ save
    def save(self) -> None:
        """Not thread-safe: one saver at a time (the Snapshotter). The state
        in memory is the whole truth: journal segments older than the one
        this snapshot starts are deleted once it is in place."""
        if self._recorder is not None:
            first = self._recorder.rotate()  # before the copy: what follows it is in the new segment
        else:
            first = max((number + 1 for number, _ in segments(self.state_dir)), default=0)
        (tables, streams), queues, buckets = self._copy_tables(), self._copy_queues(), self._copy_buckets()
        snapshot = {
            "format": FORMAT,
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "journal_from": first,
            "dynamodb": tables,
            "streams": streams,
            "sqs": queues,
            "s3": buckets,
        }
        write_atomically(self.snapshot_path, json.dumps(snapshot, separators=(",", ":")).encode())
        fsync_directory(self.state_dir)
        for number, path in segments(self.state_dir):
            if number < first:
                path.unlink(missing_ok=True)
        self._forget_unreferenced_objects(buckets, first)

    def _copy_tables(self) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
        """The items of each table, and the records of each table's stream."""
        tables = get_backend("dynamodb")[ACCOUNT][REGION].tables
        names = {logical_id: self.template.physical_name(logical_id) for logical_id in self.template.of_type(TABLE)}
        # One point in time, as a table backup would be: no write, and no
        # transaction, is half in the copy.
        with dynamodb_writes_paused():
            items = {
                logical_id: [encode_item(item) for item in every_item(tables[name])]  # moto's all_items() sorts
                for logical_id, name in names.items()
            }
            streams = {
                logical_id: {
                    "starting": int(shard.starting_sequence_number),
                    "records": [encode_stream_record(record.record) for record in shard.items],
                }
                for logical_id, name in names.items()
                if (shard := tables[name].stream_shard) is not None
            }
        return items, streams

    def _copy_queues(self) -> dict[str, list[dict[str, Any]]]:
        queues = get_backend("sqs")[ACCOUNT][REGION].queues
        return {
            logical_id: [
                encode_message(message) for message in list(queues[self.template.physical_name(logical_id)]._messages)
            ]
            for logical_id in self.template.of_type(QUEUE)
        }

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
            write_atomically(self._objects / digest, body)
        entry = {
            "key": key,
            "sha256": digest,
            "content_type": response.get("ContentType", "binary/octet-stream"),
            "metadata": response.get("Metadata", {}),
        }
        self._known_objects[(bucket, key)] = (*version, entry)
        return entry

    def _forget_unreferenced_objects(self, buckets: dict[str, list[dict[str, Any]]], first_kept: int) -> None:
        """Contents neither the snapshot nor a journal segment it does not
        hold names."""
        referenced = {entry["sha256"] for entries in buckets.values() for entry in entries}
        with self._objects_in_use(first_kept) as in_use:
            for path in self._objects.iterdir():
                if path.name not in referenced and path.name not in in_use and not path.name.endswith(".tmp"):
                    path.unlink(missing_ok=True)

    @contextmanager
    def _objects_in_use(self, first_kept: int) -> Iterator[set[str]]:
        if self._recorder is None:
            yield set()
            return
        with self._recorder.objects_in_use(first_kept) as in_use:
            yield in_use


class Snapshotter:
    """Compacts the journal into a snapshot when writes pause, when it grows
    large, or at least every `max_seconds` while writes go on; and once
    more on stop."""

    def __init__(
        self,
        store: StateStore,
        poll: float = SNAPSHOT_POLL_SECONDS,
        max_seconds: float = SNAPSHOT_MAX_SECONDS,
        compact_bytes: int = JOURNAL_COMPACT_BYTES,
    ) -> None:
        self._store = store
        self._poll = poll
        self._max_seconds = max_seconds
        self._compact_bytes = compact_bytes
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="snapshot", daemon=True)
        self.saves = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop, then save once more (the journal is empty after it) and
        stop journaling."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._store.save()
        self._store.close()

    def _run(self) -> None:
        saved_lines = seen_lines = self._store.journal_lines()
        last = time.monotonic()
        gap = 0.0  # the duty cycle's pause after the last snapshot
        while not self._stop.wait(self._poll):
            lines = self._store.journal_lines()
            paused, seen_lines = lines == seen_lines, lines
            if lines == saved_lines or time.monotonic() - last < gap:
                continue
            if not (
                paused
                or self._store.journal_bytes() >= self._compact_bytes
                or time.monotonic() - last >= self._max_seconds
            ):
                continue
            started = time.monotonic()
            try:
                self._store.save()
                saved_lines = lines
                self.saves += 1
            except Exception:
                log.exception("could not save the local state; retrying")
            last = time.monotonic()
            gap = (last - started) / _DUTY_CYCLE
            log.debug("snapshot in %.2f s", last - started)


def _stream_record(saved: dict[str, Any]) -> Any:
    """A moto StreamRecord holding a saved record as it was."""
    record = StreamRecord.__new__(StreamRecord)
    record.record = decode_stream_record(saved)
    return record


@contextmanager
def _restoring(logical_id: str) -> Iterator[None]:
    """Whatever fails, the way out is the same: say which resource, and reset."""
    try:
        yield
    except Exception as error:
        detail = getattr(error, "message", None) or str(error) or type(error).__name__
        raise RestoreFailed(f"cannot restore the saved {logical_id}: {detail}") from error
