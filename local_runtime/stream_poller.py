"""The `Type: DynamoDB` event sources: what Lambda's event source mapping
does with a table's stream, one poller per function and stream.

- Reads the shard from its position (4 times a second, as Lambda polls),
  keeps the records its FilterCriteria match (EventBridge pattern syntax on
  the Lambda record, moto's events matcher; the others count as processed),
  and invokes the function with up to BatchSize of them, after up to
  MaximumBatchingWindowInSeconds once a batch is not full.
- A batch that succeeded moves the position past it. With
  ReportBatchItemFailures, `batchItemFailures` moves it to just before the
  first failed sequence number, from which the next batch starts; an
  identifier that is not one of the batch's sequence numbers fails the
  whole batch, as does an error (the handler raised or timed out).
- A failed batch is retried; with BisectBatchOnFunctionError it is split in
  two first (down to one record; a half's retries are counted anew). After
  MaximumRetryAttempts retries, or once its oldest record is older than
  MaximumRecordAgeInSeconds, the batch is skipped and its position sent to
  the OnFailure destination (an SQS queue of the template) as Lambda's
  invocation record: requestContext, responseContext, DDBStreamBatchInfo.
- Each position is kept in `<state dir>/stream-positions.json` (written
  atomically after every move), so a restart carries on where it stopped:
  what was processed is not sent again, what was not is.
- ParallelizationFactor is not emulated: one batch at a time per shard
  (records of one item are in order either way).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from moto.backends import get_backend
from moto.events.models import EventPattern

from local_runtime.emulation.writes import WRITE_LOCK
from local_runtime.invocation import FunctionError
from local_runtime.journal import fsync_directory, stream_end, stream_records_after, write_atomically
from local_runtime.streams import epoch_seconds, lambda_stream_records
from local_runtime.template import ACCOUNT, QUEUE, REGION, TABLE, Template, function_arn
from local_runtime.workers import _BackgroundLoop, _enabled

log = logging.getLogger(__name__)

POSITIONS_FILE = "stream-positions.json"
BATCH_SIZE_DEFAULT = 100
POLL_SECONDS = 0.25  # Lambda polls a shard 4 times a second
RETRY_SECONDS = 0.2  # between two attempts at a failed batch
# DynamoDB Streams keeps a record 24 hours.
RETENTION_SECONDS = 24 * 3600
# A table whose stream no function reads keeps its last records this long
# (for a look with the API), no more than this many.
UNREAD_KEPT = 1000
_READ_LIMIT = 1000


@dataclass(frozen=True)
class StreamSource:
    function: Any  # LocalFunction
    event_name: str
    table_id: str
    starting_position: str = "TRIM_HORIZON"
    batch_size: int = BATCH_SIZE_DEFAULT
    batching_window: float = 0.0
    bisect: bool = False
    max_retries: int = -1  # -1: until the record expires
    max_record_age: int = -1
    reports_item_failures: bool = False
    on_failure_queue_url: str | None = None
    filters: tuple[str, ...] = ()
    patterns: tuple[Any, ...] = field(default=(), compare=False, repr=False)

    @property
    def key(self) -> str:
        """The name of its position in the positions file."""
        return f"{self.function.spec.logical_id}.{self.event_name}"

    def matches(self, record: dict[str, Any]) -> bool:
        """Whether FilterCriteria keep the record (any filter; none: all)."""
        return not self.patterns or any(pattern.matches_event(record) for pattern in self.patterns)


def stream_sources(
    template: Template, functions: Mapping[str, Any], queue_urls: Mapping[str, str] | None = None
) -> list[StreamSource]:
    """The enabled `Type: DynamoDB` events; the stream must be one of the
    template's tables' (`!GetAtt Table.StreamArn`), the OnFailure
    destination one of its queues."""
    queues = {
        template.resolve({"Fn::GetAtt": [logical_id, "Arn"]}): logical_id for logical_id in template.of_type(QUEUE)
    }
    sources = []
    for function in functions.values():
        for name, event in function.spec.events.items():
            props = event.get("Properties") or {}
            if event.get("Type") != "DynamoDB" or not _enabled(props):
                continue
            where = f"{function.spec.logical_id}.{name}"
            table_id = _stream_table(template, props.get("Stream"), where)
            destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
            queue_url = None
            if destination is not None:
                arn = template.resolve(destination)
                if arn not in queues:
                    raise ValueError(f"{where}: OnFailure {arn} is not a queue of the template (only SQS is emulated)")
                queue_url = template.resolve({"Ref": queues[arn]})
            filters = tuple(str(entry["Pattern"]) for entry in (props.get("FilterCriteria") or {}).get("Filters") or [])
            try:
                patterns = tuple(EventPattern.load(pattern) for pattern in filters)
            except Exception as error:
                raise ValueError(f"{where}: FilterCriteria: {error}") from error
            sources.append(
                StreamSource(
                    function=function,
                    event_name=name,
                    table_id=table_id,
                    starting_position=str(props.get("StartingPosition", "TRIM_HORIZON")).upper(),
                    batch_size=int(props.get("BatchSize", BATCH_SIZE_DEFAULT)),
                    batching_window=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                    bisect=_true(props.get("BisectBatchOnFunctionError")),
                    max_retries=int(props.get("MaximumRetryAttempts", -1)),
                    max_record_age=int(props.get("MaximumRecordAgeInSeconds", -1)),
                    reports_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                    on_failure_queue_url=queue_url,
                    filters=filters,
                    patterns=patterns,
                )
            )
    return sources


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _stream_table(template: Template, stream: Any, where: str) -> str:
    """The logical id of the table whose stream `stream` names."""
    if isinstance(stream, dict) and "Fn::GetAtt" in stream:
        table_id, attribute = stream["Fn::GetAtt"]
        if attribute == "StreamArn" and table_id in template.of_type(TABLE):
            if not (template.of_type(TABLE)[table_id].get("Properties") or {}).get("StreamSpecification"):
                raise ValueError(f"{where}: table {table_id} has no StreamSpecification")
            return str(table_id)
    arn = str(template.resolve(stream))
    for table_id in template.of_type(TABLE):
        if arn.startswith(template.resolve({"Fn::GetAtt": [table_id, "Arn"]}) + "/stream/"):
            return table_id
    raise ValueError(f"{where}: stream {arn} is not the stream of a table of the template")


# ---------------------------------------------------------------- positions
class StreamPositions:
    """Each source's position in its stream ({key: {"table", "shard",
    "sequence"}}), on disk after every change (None: in memory only)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._positions: dict[str, dict[str, str]] = {}
        if path is not None and path.exists():
            try:
                self._positions = json.loads(path.read_text())["positions"]
            except (OSError, ValueError, KeyError, TypeError) as error:
                raise ValueError(f"cannot read {path}: {error}") from error

    def get(self, key: str, table_id: str) -> int | None:
        """The sequence number of the last record processed, if any."""
        with self._lock:
            found = self._positions.get(key)
            if found is None or found.get("table") != table_id:
                return None
            return int(found["sequence"])

    def set(self, key: str, table_id: str, shard_id: str, sequence: int) -> None:
        with self._lock:
            self._positions[key] = {"table": table_id, "shard": shard_id, "sequence": str(sequence)}
            if self.path is not None:
                data = json.dumps({"format": 1, "positions": self._positions}, indent=1, sort_keys=True)
                existed = self.path.exists()
                write_atomically(self.path, data.encode())
                if not existed:
                    fsync_directory(self.path.parent)


# ---------------------------------------------------------------- the poller
@dataclass
class _Pending:
    """A record of the batch being formed: its sequence number, as Lambda
    hands it, and when it was written (epoch seconds)."""

    sequence: int
    record: dict[str, Any]
    created: int


class StreamPoller(_BackgroundLoop):
    def __init__(
        self,
        source: StreamSource,
        template: Template,
        positions: StreamPositions,
        sqs: Any,
        on_moved: Callable[[StreamSource], None] | None = None,
        poll_seconds: float = POLL_SECONDS,
        retry_seconds: float = RETRY_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(f"stream-{source.key}")
        self.source = source
        self._template = template
        self._positions = positions
        self._sqs = sqs
        self._on_moved = on_moved
        self._poll_seconds = poll_seconds
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._waiting_since: float | None = None  # the batching window's start
        self._held: list[_Pending] | None = None  # a batch to retry as it is (bisected)
        self._head: int | None = None  # the first record of the batch being retried
        self._attempts = 0  # its failed invocations
        self.invocations = 0

    # ------------------------------------------------------------ the stream
    @property
    def table(self) -> Any:
        tables = get_backend("dynamodb")[ACCOUNT][REGION].tables
        return tables[self._template.physical_name(self.source.table_id)]

    @property
    def stream_arn(self) -> str:
        return str(self._template.resolve({"Fn::GetAtt": [self.source.table_id, "StreamArn"]}))

    def position(self) -> int | None:
        return self._positions.get(self.source.key, self.source.table_id)

    def start_position(self) -> None:
        """Where a source starts: its kept position; with none, the oldest
        record kept (TRIM_HORIZON) or the stream's end (LATEST). A kept
        position past the stream's end (its records are gone: a state dir
        put together by hand) is reset to the end, with a warning."""
        shard = self.table.stream_shard
        with WRITE_LOCK:
            end = stream_end(shard)
        kept = self.position()
        if kept is None and self.source.starting_position == "LATEST":
            self._move(end - 1)
        elif kept is not None and kept >= end:
            log.warning(
                "%s: its position %d is past the end of %s's stream; it starts from the end",
                self.source.key,
                kept,
                self.source.table_id,
            )
            self._move(end - 1)

    def _move(self, sequence: int) -> None:
        shard = self.table.stream_shard
        self._positions.set(self.source.key, self.source.table_id, shard.id, sequence)
        if self._on_moved is not None:
            self._on_moved(self.source)

    def _read(self) -> list[dict[str, Any]]:
        """Raw records after the position (copies, taken under the write lock)."""
        shard = self.table.stream_shard
        kept = self.position()
        with WRITE_LOCK:
            start = shard.starting_sequence_number if kept is None else max(kept + 1, shard.starting_sequence_number)
            return [dict(record.record) for record in stream_records_after(shard, start)[:_READ_LIMIT]]

    # ------------------------------------------------------------ the loop
    def _run(self) -> None:
        self.start_position()
        while not self._stop.is_set():
            try:
                worked = self.poll_once()
            except Exception:
                log.exception("polling %s failed", self.source.key)
                worked = 0
            if worked <= 0:
                self._stop.wait(self._poll_seconds)

    def poll_once(self) -> int:
        """Form and settle at most one batch. Returns how many records it
        held (0: none, or the batching window is still open; -1: it failed
        and will be retried)."""
        if self._held is not None:
            batch, through = self._held, self._held[-1].sequence
        else:
            formed = self._form_batch()
            if formed is None:
                return 0
            batch, through = formed
        if self._head != batch[0].sequence:
            self._head, self._attempts = batch[0].sequence, 0
        expired = self._expired(batch)
        if expired:
            self._give_up(batch[:expired], "RecordAgeExceeded", function_error=None)
            self._settled(batch[expired - 1].sequence if expired < len(batch) else through)
            return expired
        return self._invoke(batch, through)

    def _form_batch(self) -> tuple[list[_Pending], int] | None:
        """The next batch and the sequence number through which it settles
        the stream (its last record, or the last one read when the records
        after it were filtered out); None when there is none yet."""
        raw = self._read()
        if not raw:
            self._waiting_since = None
            return None
        converted = lambda_stream_records(raw, self.stream_arn)
        kept = [
            _Pending(
                int(record["dynamodb"]["SequenceNumber"]),
                record,
                int(record["dynamodb"].get("ApproximateCreationDateTime", 0)),
            )
            for record in converted
            if self.source.matches(record)
        ]
        last_read = int(raw[-1]["dynamodb"]["SequenceNumber"])
        if not kept:  # nothing for the function: processed
            self._settled(last_read)
            return None
        full = len(kept) >= self.source.batch_size
        if not full and self.source.batching_window > 0 and len(raw) < _READ_LIMIT:
            now = time.monotonic()
            if self._waiting_since is None:
                self._waiting_since = now
            if now - self._waiting_since < self.source.batching_window:
                return None
        self._waiting_since = None
        batch = kept[: self.source.batch_size]
        return batch, batch[-1].sequence if full else last_read

    def _expired(self, batch: list[_Pending]) -> int:
        """How many records at the batch's head are older than MaximumRecordAgeInSeconds."""
        if self.source.max_record_age < 0:
            return 0
        oldest_kept = self._clock() - self.source.max_record_age
        count = 0
        for pending in batch:
            if pending.created >= oldest_kept:
                break
            count += 1
        return count

    def _invoke(self, batch: list[_Pending], through: int) -> int:
        started = time.perf_counter()
        self.invocations += 1
        failed_at: int | None = None  # index of the first failed record
        error: str | None = None
        try:
            result = self.source.function.invoke({"Records": [pending.record for pending in batch]})
        except FunctionError as raised:
            error = str(raised)
        else:
            failed_at, error = self._item_failures(batch, result)
        took = (time.perf_counter() - started) * 1000
        name = self.source.function.name
        if error is None and failed_at is None:
            log.info("DynamoDB %s -> %s %d records, ok %.0f ms", self.source.table_id, name, len(batch), took)
            self._settled(through)
            return len(batch)
        self._attempts += 1
        if error is not None:
            log.error("%s failed on %d stream records (attempt %d):\n%s", name, len(batch), self._attempts, error)
            failing = batch
        else:
            assert failed_at is not None
            log.info(
                "DynamoDB %s -> %s %d records, %d failed %.0f ms",
                self.source.table_id,
                name,
                len(batch),
                len(batch) - failed_at,
                took,
            )
            if failed_at > 0:  # what precedes the first failure is done
                self._settled(batch[failed_at - 1].sequence)
                self._head, self._attempts = batch[failed_at].sequence, 1
            failing = batch[failed_at:]
        if 0 <= self.source.max_retries < self._attempts:
            self._give_up(failing, "RetryAttemptsExhausted", "Unhandled" if error is not None else None)
            self._settled(failing[-1].sequence if failing is not batch else through)
            return len(batch)
        if error is not None and self.source.bisect and len(batch) > 1:
            self._held = batch[: len(batch) // 2]  # a new batch: its retries are counted anew
            self._head, self._attempts = None, 0
        elif error is not None:
            self._held = batch
        else:
            self._held = None  # read again from the first failure
        self._stop.wait(self._retry_seconds)
        return -1

    def _item_failures(self, batch: list[_Pending], result: Any) -> tuple[int | None, str | None]:
        """(index of the first failed record, None) for a partial failure;
        (None, why) when the answer fails the whole batch; (None, None) for
        a success."""
        if not self.source.reports_item_failures or not isinstance(result, dict):
            return None, None
        failures = result.get("batchItemFailures")
        if not failures:
            return None, None
        positions = {str(pending.sequence): index for index, pending in enumerate(batch)}
        found = []
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if not isinstance(identifier, str) or identifier not in positions:
                return None, f"batchItemFailures names {identifier!r}, not a sequence number of the batch"
            found.append(positions[identifier])
        return min(found), None

    def _settled(self, through: int) -> None:
        self._held = None
        self._head, self._attempts = None, 0
        self._move(through)

    def _give_up(self, batch: list[_Pending], condition: str, function_error: str | None) -> None:
        """Skip the batch: its invocation record to the OnFailure
        destination (with none, only a log line)."""
        first, last = batch[0], batch[-1]
        info = failure_record(
            function_arn=function_arn(self.source.function.spec.logical_id),
            condition=condition,
            invoke_count=self._attempts,
            function_error=function_error,
            shard_id=self.table.stream_shard.id,
            start=first.sequence,
            end=last.sequence,
            first_created=first.created,
            last_created=last.created,
            batch_size=len(batch),
            stream_arn=self.stream_arn,
        )
        destination = self.source.on_failure_queue_url
        log.error(
            "%s: %d stream records skipped (%s, %s to %s)%s",
            self.source.function.name,
            len(batch),
            condition,
            first.sequence,
            last.sequence,
            f"; their positions sent to {destination.rpartition('/')[2]}"
            if destination
            else "; no OnFailure destination",
        )
        if destination:
            self._sqs.send_message(QueueUrl=destination, MessageBody=json.dumps(info))


def failure_record(
    *,
    function_arn: str,
    condition: str,
    invoke_count: int,
    function_error: str | None,
    shard_id: str,
    start: int,
    end: int,
    first_created: int,
    last_created: int,
    batch_size: int,
    stream_arn: str,
) -> dict[str, Any]:
    """Lambda's invocation record for a stream batch it skipped (sent to
    the OnFailure destination; the records themselves are not in it)."""
    response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if function_error is not None:
        response["functionError"] = function_error
    return {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "responseContext": response,
        "version": "1.0",
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": str(start),
            "endSequenceNumber": str(end),
            "approximateArrivalOfFirstRecord": _iso_seconds(first_created),
            "approximateArrivalOfLastRecord": _iso_seconds(last_created),
            "batchSize": batch_size,
            "streamArn": stream_arn,
        },
    }


def _iso_seconds(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- trimming
class StreamTrimmer:
    """Keeps each stream to what some source has yet to process (at most
    24 hours, as DynamoDB Streams keeps them; a stream no function reads
    keeps its last UNREAD_KEPT records): moto keeps every record forever."""

    def __init__(self, template: Template, pollers: list[StreamPoller], clock: Callable[[], float] = time.time):
        self._template = template
        self._pollers = pollers
        self._clock = clock

    def trim_all(self) -> None:
        for table_id in self._template.of_type(TABLE):
            self.trim(table_id)

    def trim(self, table_id: str) -> int:
        """Drop the stream's records no source needs; returns how many."""
        tables = get_backend("dynamodb")[ACCOUNT][REGION].tables
        table = tables.get(self._template.physical_name(table_id))
        shard = getattr(table, "stream_shard", None)
        if shard is None:
            return 0
        readers = [poller for poller in self._pollers if poller.source.table_id == table_id]
        with WRITE_LOCK:
            if readers:
                positions = [poller.position() for poller in readers]
                done = min(-1 if position is None else position for position in positions)
                drop = max(0, done + 1 - shard.starting_sequence_number)
            else:
                drop = max(0, len(shard.items) - UNREAD_KEPT)
            oldest = self._clock() - RETENTION_SECONDS
            while drop < len(shard.items) and _created(shard.items[drop]) < oldest:
                drop += 1
            drop = min(drop, len(shard.items))
            if drop:
                del shard.items[:drop]
                shard.starting_sequence_number += drop
        return drop


def _created(record: Any) -> int:
    return epoch_seconds(record.record["dynamodb"]["ApproximateCreationDateTime"])
