"""Deliveries of events to their receivers (docs/integrations.md): the
tenant's webhook subscriptions, a request's callback_url, the Step
Functions task waiting on a request.

An event from the bus is fanned out into one message per receiver on the
delivery queue, so a failing receiver is retried on its own and never
delays another. A message holds references only (which subscription,
which record): the secret or token is read and decrypted at each attempt,
so nothing secret sits in a queue or a log line, and a deleted
subscription gets nothing more. A failed attempt comes back after a
growing delay (the message's visibility), for over an hour in all; the
last one counts `WebhookFailed` and the queue dead-letters the message."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from oversight import clock, outbound
from oversight.config import settings
from oversight.events import task_outcome
from oversight.models import LastDelivery
from oversight.models.intervention import WEBHOOK_HOSTS_VARIABLE
from oversight.observability import logger, metrics
from oversight.store.deliveries import postpone, send_deliveries
from oversight.store.sealed import unseal
from oversight.store.tasks import MAX_CAUSE_CHARS, TaskGone, send_failure, send_success
from oversight.store.webhooks import SECRET_ATTRIBUTE, get_webhook_store

# Seconds before attempt n + 1 after attempt n failed: 30 s doubling to 32 min,
# 8 attempts over ~64 minutes (DELIVERY_MAX_ATTEMPTS, the queue's maxReceiveCount).
RETRY_DELAYS = (30, 60, 120, 240, 480, 960, 1920)
TIMEOUT_SECONDS = 5
WEBHOOK, CALLBACK, TASK = "webhook", "callback", "task"
GONE = 410


class DeliveryFailed(Exception):
    """An attempt that did not deliver and may succeed later."""


def retry_delay(attempt: int, scale: float = 1.0) -> int:
    """Seconds before the next attempt once `attempt` (1-based) failed."""
    return math.ceil(RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1] * scale)


# ---------------------------------------------------------------- one SQS message
def handle(body: dict[str, Any], attempt: int, receipt_handle: str) -> None:
    """One message of the delivery queue: an event from the bus (fanned
    out) or one receiver's delivery (attempted). Raises when the message
    must come back: the delay is set on it first."""
    if "detail-type" in body:
        fan_out(body["detail-type"], body["detail"])
        return
    try:
        deliver(body, attempt)
    except DeliveryFailed as failed:
        last = attempt >= settings().delivery_max_attempts
        _log_failure(body, attempt, str(failed), last)
        # The last failure goes to the dead-letter queue at once (its next receive moves it there).
        postpone(receipt_handle, 0 if last else retry_delay(attempt, settings().delivery_retry_scale))
        raise


def _log_failure(body: dict[str, Any], attempt: int, reason: str, last: bool) -> None:
    where = {"target": body["target"], "event_id": body["event"]["event_id"], "attempt": attempt, "reason": reason}
    if last:
        metrics.add_metric(name="WebhookFailed", unit=MetricUnit.Count, value=1)
        logger.error("delivery failed for good: dead-lettered", extra=where)
    else:
        metrics.add_metric(name="WebhookRetried", unit=MetricUnit.Count, value=1)
        logger.warning("delivery failed: retried later", extra=where)


# ---------------------------------------------------------------- fan-out
def fan_out(event_type: str, detail: dict[str, Any]) -> int:
    """Queue one delivery per receiver of the event; how many."""
    tenant = detail["tenant"]
    targets: list[dict[str, str]] = [
        {"kind": WEBHOOK, "id": hook.id} for hook in get_webhook_store().list(tenant) if hook.wants(event_type)
    ]
    record = detail.get("intervention")
    if record is not None:
        if record.get("callback_url"):
            targets.append({"kind": CALLBACK, "id": record["id"]})
        if task_outcome(detail) is not None:
            targets.append({"kind": TASK, "id": record["id"]})
    send_deliveries([{"target": target, "event_type": event_type, "event": detail} for target in targets])
    logger.info("event fanned out", extra={"event_id": detail["event_id"], "receivers": len(targets)})
    return len(targets)


# ---------------------------------------------------------------- one attempt
def deliver(message: dict[str, Any], attempt: int) -> None:
    """Attempt one delivery; DeliveryFailed when it should be tried again."""
    kind = message["target"]["kind"]
    _ATTEMPTS[kind](message, attempt)


def _to_webhook(message: dict[str, Any], attempt: int) -> None:
    event, tenant, hook_id = message["event"], message["event"]["tenant"], message["target"]["id"]
    store = get_webhook_store()
    found = store.get_with_secret(tenant, hook_id)
    if found is None or not found[0].enabled:
        logger.info("subscription deleted or disabled: delivery dropped", extra={"webhook_id": hook_id})
        return
    hook, sealed = found
    secret = unseal(tenant, hook.id, SECRET_ATTRIBUTE, sealed)
    status, error = _post(hook.url, secret, event)
    disable = f"The receiver answered {GONE} Gone" if status == GONE else None
    delivery = LastDelivery(
        at=clock.now(),
        event_id=event["event_id"],
        event_type=message["event_type"],
        attempt=attempt,
        ok=status is not None and 200 <= status < 300,
        status_code=status,
        error=error,
    )
    store.record_delivery(tenant, hook.id, delivery, disable)
    _settled(status, error, disable)


def _to_callback(message: dict[str, Any], attempt: int) -> None:
    event, tenant, record_id = message["event"], message["event"]["tenant"], message["target"]["id"]
    sealed = get_webhook_store().sealed_of_intervention(tenant, record_id).get("callback_secret")
    if sealed is None:
        logger.warning("callback without a secret: dropped", extra={"intervention_id": record_id})
        return
    secret = unseal(tenant, record_id, "callback_secret", sealed)
    status, error = _post(event["intervention"]["callback_url"], secret, event)
    _settled(status, error, "the callback answered 410 Gone" if status == GONE else None)


def _settled(status: int | None, error: str | None, stop: str | None) -> None:
    """Delivered (2xx), stopped for good (410), or failed: DeliveryFailed."""
    if status is not None and 200 <= status < 300:
        metrics.add_metric(name="WebhookDelivered", unit=MetricUnit.Count, value=1)
        return
    if stop is not None:
        logger.warning("receiver is gone: no more deliveries", extra={"reason": stop})
        return
    raise DeliveryFailed(error or f"answered {status}")


def _post(url: str, secret: str, event: dict[str, Any]) -> tuple[int | None, str | None]:
    """(status, None) when the receiver answered, (None, why) when not."""
    body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
    headers = outbound.signed_headers(secret, event["event_id"], int(time.time()), body)
    try:
        destination = outbound.checked(url, WEBHOOK_HOSTS_VARIABLE)
        return outbound.post(destination, body, headers, TIMEOUT_SECONDS), None
    except outbound.HostRefused as refused:
        return None, str(refused)
    except TimeoutError:
        return None, f"no answer within {TIMEOUT_SECONDS} s"
    except Exception as error:  # OSError, http.client.HTTPException: no answer
        return None, f"{type(error).__name__}: {error}"[:500]


def _to_task(message: dict[str, Any], attempt: int) -> None:
    event, tenant, record_id = message["event"], message["event"]["tenant"], message["target"]["id"]
    outcome = task_outcome(event)
    if outcome is None:
        return
    sealed = get_webhook_store().sealed_of_intervention(tenant, record_id).get("task_token")
    if sealed is None:
        return
    token = unseal(tenant, record_id, "task_token", sealed)
    error, output = outcome
    try:
        if error is None:
            send_success(token, output)
        else:
            send_failure(token, error, task_cause(output))
    except TaskGone as gone:
        metrics.add_metric(name="TaskGone", unit=MetricUnit.Count, value=1)
        logger.warning(
            "the waiting task is gone: not retried", extra={"intervention_id": record_id, "error": gone.code}
        )
        return
    except Exception as failed:  # throttled, unavailable: the next attempt may succeed
        raise DeliveryFailed(f"{type(failed).__name__}: {failed}"[:500]) from failed
    metrics.add_metric(name="TaskAnswered", unit=MetricUnit.Count, value=1)
    logger.info("task answered", extra={"intervention_id": record_id, "error": error})


def task_cause(output: dict[str, Any]) -> str:
    """The output as a failure's cause: JSON of at most 32,768 characters,
    the answers dropped (and `truncated` set) when it is longer."""
    cause = json.dumps(output, separators=(",", ":"), ensure_ascii=False)
    if len(cause) <= MAX_CAUSE_CHARS:
        return cause
    slim = {**output, "response": None, "truncated": True}
    slim["approvals"] = [{"user": a.get("user"), "at": a.get("at")} for a in output.get("approvals", [])]
    # At most 10 approvers and a 2,000-character reason are left: well within the limit.
    return json.dumps(slim, separators=(",", ":"), ensure_ascii=False)


_ATTEMPTS: dict[str, Callable[[dict[str, Any], int], None]] = {
    WEBHOOK: _to_webhook,
    CALLBACK: _to_callback,
    TASK: _to_task,
}
