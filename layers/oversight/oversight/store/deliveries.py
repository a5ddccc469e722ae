"""The delivery queue (SQS): one message per receiver of an event, whose
visibility is the retry delay of a failed attempt."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from oversight.config import settings
from oversight.store.faults import new_client

_BATCH_MAX = 10
# SQS's longest visibility timeout.
MAX_DELAY_SECONDS = 12 * 3600


class DeliveriesNotQueued(RuntimeError):
    """Some entries were not taken: the batch is delivered again."""


@cache
def _sqs() -> Any:
    return new_client("sqs")


def send_deliveries(messages: list[dict[str, Any]]) -> None:
    """Queue each message; DeliveriesNotQueued if any was not taken (the event
    is fanned out again: a receiver may then get it twice, with one id)."""
    for start in range(0, len(messages), _BATCH_MAX):
        batch = messages[start : start + _BATCH_MAX]
        answer = _sqs().send_message_batch(
            QueueUrl=settings().delivery_queue_url,
            Entries=[
                {"Id": str(n), "MessageBody": json.dumps(m, separators=(",", ":"), ensure_ascii=False)}
                for n, m in enumerate(batch)
            ],
        )
        if answer.get("Failed"):
            raise DeliveriesNotQueued(f"{len(answer['Failed'])} deliveries could not be queued")


def postpone(receipt_handle: str, seconds: int) -> None:
    """The message comes back after `seconds` (the next attempt's delay)."""
    _sqs().change_message_visibility(
        QueueUrl=settings().delivery_queue_url,
        ReceiptHandle=receipt_handle,
        VisibilityTimeout=max(0, min(seconds, MAX_DELAY_SECONDS)),
    )
