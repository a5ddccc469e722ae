"""The template's other event sources: SQS queues polled into their
consuming function, and schedules (EventBridge rules and Scheduler
schedules) run at their rate."""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from local_runtime.invocation import FunctionError, LocalFunction
from local_runtime.template import ACCOUNT, REGION, Template

log = logging.getLogger(__name__)

SQS_BATCH_SIZE_DEFAULT = 10
# A receive waits this long for messages: short enough to stop promptly,
# long enough (moto wakes a waiting receive on send) to deliver at once.
_RECEIVE_WAIT_SECONDS = 1
_SQS_MAX_PER_RECEIVE = 10
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class QueueSource:
    function: LocalFunction
    queue_url: str
    queue_arn: str
    batch_size: int
    reports_item_failures: bool

    @property
    def queue_name(self) -> str:
        return self.queue_url.rstrip("/").rpartition("/")[2]


@dataclass(frozen=True)
class ScheduleSource:
    function: LocalFunction
    name: str
    expression: str
    interval_seconds: float
    scheduler: bool  # ScheduleV2 (EventBridge Scheduler), else an EventBridge rule
    input: str | None

    def event(self) -> Any:
        """The event the target receives: the configured input, else the
        service's scheduled-event notification."""
        if self.input is not None:
            return json.loads(self.input)
        source, kind = ("aws.scheduler", "schedule/default") if self.scheduler else ("aws.events", "rule")
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": source,
            "account": ACCOUNT,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "region": REGION,
            "resources": [f"arn:aws:{source.split('.')[1]}:{REGION}:{ACCOUNT}:{kind}/{self.name}"],
            "detail": {},
        }


def rate_seconds(expression: str) -> int | None:
    """Seconds between runs of a `rate(...)` expression; None for `cron(...)`."""
    found = _RATE.match(expression.strip())
    if not found:
        return None
    return int(found.group(1)) * _UNIT_SECONDS[found.group(2).rstrip("s")]


def _enabled(props: Mapping[str, Any]) -> bool:
    if props.get("Enabled") is False:
        return False
    return str(props.get("State", "ENABLED")).upper() == "ENABLED"


def queue_sources(template: Template, functions: Mapping[str, LocalFunction]) -> list[QueueSource]:
    """The enabled `Type: SQS` events; the queue must be one of the template's."""
    arn_to_url = {
        template.resolve({"Fn::GetAtt": [logical_id, "Arn"]}): template.resolve({"Ref": logical_id})
        for logical_id in template.of_type("AWS::SQS::Queue")
    }
    sources = []
    for function in functions.values():
        for name, event in function.spec.events.items():
            props = event.get("Properties") or {}
            if event.get("Type") != "SQS" or not _enabled(props):
                continue
            arn = template.resolve(props["Queue"])
            if arn not in arn_to_url:
                raise ValueError(f"{function.name}.{name}: queue {arn} is not a resource of the template")
            sources.append(
                QueueSource(
                    function=function,
                    queue_url=arn_to_url[arn],
                    queue_arn=arn,
                    batch_size=int(props.get("BatchSize", SQS_BATCH_SIZE_DEFAULT)),
                    reports_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                )
            )
    return sources


def schedule_sources(
    template: Template, functions: Mapping[str, LocalFunction], every_seconds: float | None
) -> tuple[list[ScheduleSource], list[str]]:
    """The enabled `Schedule`/`ScheduleV2` events, each run at its rate or,
    when `every_seconds` is given, at that interval. Also returns a note for
    each schedule that cannot run (a cron expression without an interval)."""
    sources, skipped = [], []
    for function in functions.values():
        for name, event in function.spec.events.items():
            kind = event.get("Type")
            props = event.get("Properties") or {}
            if kind not in ("Schedule", "ScheduleV2") or not _enabled(props):
                continue
            expression = str(props.get("Schedule") or props.get("ScheduleExpression") or "")
            interval = every_seconds or rate_seconds(expression)
            if not interval:
                skipped.append(f"{function.name}.{name} ({expression}): set OVERSIGHT_LOCAL_SCHEDULE_SECONDS to run it")
                continue
            sources.append(
                ScheduleSource(
                    function=function,
                    name=str(props.get("Name") or f"{function.name}-{name}"),
                    expression=expression,
                    interval_seconds=float(interval),
                    scheduler=kind == "ScheduleV2",
                    input=props.get("Input"),
                )
            )
    return sources, skipped


class _BackgroundLoop:
    """A daemon thread running `_run` until stopped."""

    def __init__(self, thread_name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        raise NotImplementedError


class QueuePoller(_BackgroundLoop):
    """What Lambda's event source mapping does: receive a batch, invoke the
    function, delete what it processed. A message that failed (the whole
    batch when the function raised) stays in the queue and is received again
    after its visibility timeout, so the queue's redrive policy applies."""

    def __init__(self, source: QueueSource, sqs: Any) -> None:
        super().__init__(f"sqs-{source.queue_name}")
        self.source = source
        self._sqs = sqs

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception("polling %s failed", self.source.queue_name)
                self._stop.wait(_RECEIVE_WAIT_SECONDS)

    def poll_once(self) -> int:
        """Receive, invoke and settle one batch; returns its size."""
        messages = self._receive_batch()
        if not messages:
            return 0
        started = time.perf_counter()
        records = [sqs_event_record(message, self.source.queue_arn) for message in messages]
        failed = self._invoke({"Records": records}, messages)
        done = [message for message in messages if message["MessageId"] not in failed]
        for first in range(0, len(done), _SQS_MAX_PER_RECEIVE):
            entries = [
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                for index, message in enumerate(done[first : first + _SQS_MAX_PER_RECEIVE])
            ]
            self._sqs.delete_message_batch(QueueUrl=self.source.queue_url, Entries=entries)
        log.info(
            "SQS %s -> %s %d messages, %d failed %.0f ms",
            self.source.queue_name,
            self.source.function.name,
            len(messages),
            len(failed),
            (time.perf_counter() - started) * 1000,
        )
        return len(messages)

    def _receive_batch(self) -> list[dict[str, Any]]:
        batch: dict[str, dict[str, Any]] = {}
        wait = _RECEIVE_WAIT_SECONDS
        while len(batch) < self.source.batch_size:
            received = self._sqs.receive_message(
                QueueUrl=self.source.queue_url,
                MaxNumberOfMessages=min(_SQS_MAX_PER_RECEIVE, self.source.batch_size - len(batch)),
                WaitTimeSeconds=wait,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            fresh = [message for message in received if message["MessageId"] not in batch]
            if not fresh:
                break
            batch.update((message["MessageId"], message) for message in fresh)
            wait = 0  # fill the batch with what is there now; do not wait for more
        return list(batch.values())

    def _invoke(self, event: dict[str, Any], messages: list[dict[str, Any]]) -> set[str]:
        """The ids of the messages that failed."""
        everything = {message["MessageId"] for message in messages}
        try:
            result = self.source.function.invoke(event)
        except FunctionError as error:
            name = self.source.function.name
            log.error("%s raised; its %d messages stay in the queue:\n%s", name, len(messages), error)
            return everything
        if not self.source.reports_item_failures or not isinstance(result, dict):
            return set()
        failures = result.get("batchItemFailures") or []
        failed = {failure.get("itemIdentifier") if isinstance(failure, dict) else None for failure in failures}
        if not failed <= everything:
            # Lambda's rule: an identifier it cannot match fails the whole batch.
            log.warning("%s returned an unknown itemIdentifier; the whole batch failed", self.source.function.name)
            return everything
        return failed


def sqs_event_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """The record Lambda's SQS event source hands the function for one
    message as ReceiveMessage returned it (the tests' worker builds its
    events with it too)."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {
            name: _lambda_message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


def _lambda_message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """The SQS API's attribute shape in the Lambda event's (camel case,
    binary as base64)."""
    binary = value.get("BinaryValue")
    return {
        "stringValue": value.get("StringValue"),
        "binaryValue": base64.b64encode(binary).decode() if binary is not None else None,
        "stringListValues": value.get("StringListValues", []),
        "binaryListValues": [base64.b64encode(item).decode() for item in value.get("BinaryListValues", [])],
        "dataType": value["DataType"],
    }


class ScheduleRunner(_BackgroundLoop):
    """Invokes a scheduled function once per interval, the first time one
    interval after startup; a run that overruns delays the next one."""

    def __init__(self, source: ScheduleSource) -> None:
        super().__init__(f"schedule-{source.name}")
        self.source = source

    def _run(self) -> None:
        while not self._stop.wait(self.source.interval_seconds):
            self.run_once()

    def run_once(self) -> None:
        started = time.perf_counter()
        try:
            self.source.function.invoke(self.source.event())
            outcome = "ok"
        except FunctionError as error:
            log.error("%s raised:\n%s", self.source.function.name, error)
            outcome = "failed"
        log.info(
            "schedule %s -> %s %s %.0f ms",
            self.source.name,
            self.source.function.name,
            outcome,
            (time.perf_counter() - started) * 1000,
        )
