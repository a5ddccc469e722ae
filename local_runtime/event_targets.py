"""Rule targets that are functions of the template (`Arn: !GetAtt
SomeFunction.Arn`). moto's EventBridge delivers to SQS but cannot invoke a
function, so create_event_resources points such a target at a queue of the
runtime's own (Template.target_queues, kept across restarts as the
template's queues are), and a TargetPoller here invokes the function with
each event, one per invocation, as EventBridge invokes one asynchronously.
A failed invocation is retried twice (Lambda's asynchronous retries), 1 then
2 minutes later (times OVERSIGHT_LOCAL_RETRY_SCALE), then dropped with an
error line (the template gives these functions no OnFailure destination)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from local_runtime.invocation import FunctionError
from local_runtime.template import ACCOUNT, Template
from local_runtime.workers import _BackgroundLoop

log = logging.getLogger(__name__)

ASYNC_RETRIES = 2
RETRY_DELAYS_SECONDS = (60.0, 120.0)
_RECEIVE_WAIT_SECONDS = 1


@dataclass(frozen=True)
class TargetSource:
    function: Any  # LocalFunction
    rule_id: str
    target_id: str
    queue_url: str


def target_sources(template: Template, functions: Mapping[str, Any]) -> list[TargetSource]:
    sources = []
    for queue in template.target_queues().values():
        function = functions.get(queue.function_id)
        if function is None:
            continue
        url = str(template.resolve({"Ref": queue.queue_id}))
        sources.append(TargetSource(function, queue.rule_id, queue.target_id, url))
    return sources


class TargetPoller(_BackgroundLoop):
    def __init__(self, source: TargetSource, sqs: Any, retry_scale: float = 1.0) -> None:
        super().__init__(f"target-{source.rule_id}-{source.target_id}")
        self.source = source
        self._sqs = sqs
        self._retry_scale = retry_scale

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception("delivering %s's events failed", self.source.rule_id)
                self._stop.wait(_RECEIVE_WAIT_SECONDS)

    def poll_once(self, wait_seconds: int = _RECEIVE_WAIT_SECONDS) -> int:
        messages = self._sqs.receive_message(
            QueueUrl=self.source.queue_url,
            MaxNumberOfMessages=1,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", [])
        for message in messages:
            self._deliver(message)
        return len(messages)

    def _deliver(self, message: dict[str, Any]) -> None:
        event = json.loads(message["Body"])
        if isinstance(event, dict) and "detail-type" in event:
            event.setdefault("account", ACCOUNT)
        attempt = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        name = self.source.function.name
        started = time.perf_counter()
        try:
            self.source.function.invoke(event)
        except FunctionError as error:
            if attempt <= ASYNC_RETRIES:
                delay = RETRY_DELAYS_SECONDS[attempt - 1] * self._retry_scale
                log.error(
                    "%s raised on an event of rule %s (attempt %d, retried in %.0f s):\n%s",
                    name,
                    self.source.rule_id,
                    attempt,
                    delay,
                    error,
                )
                self._sqs.change_message_visibility(
                    QueueUrl=self.source.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=max(0, round(delay)),
                )
                return
            log.error(
                "%s raised on an event of rule %s (attempt %d, dropped):\n%s", name, self.source.rule_id, attempt, error
            )
        else:
            log.info(
                "EventBridge %s -> %s ok %.0f ms", self.source.rule_id, name, (time.perf_counter() - started) * 1000
            )
        self._sqs.delete_message(QueueUrl=self.source.queue_url, ReceiptHandle=message["ReceiptHandle"])
