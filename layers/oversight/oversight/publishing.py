"""The publisher's side of domain events: each record of a stream batch,
in order, becomes its event on the bus (oversight.events). After a record
fails, the rest of its batch fails unpublished: the stream delivers them
again from the first failure, so events of one record never overtake each
other. A record that cannot be read as a change is logged and skipped:
retrying it would hold up every later change of its shard."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from oversight.config import settings
from oversight.events import event_of
from oversight.observability import logger, metrics
from oversight.store.bus import put_events
from oversight.store.changes import change_of


class NotPublished(Exception):
    """A record left for the stream to deliver again, behind a failed one."""


class BatchPublisher:
    """Publishes the records of one batch, in order, failing fast."""

    def __init__(self) -> None:
        self.failed = False

    def __call__(self, record: Mapping[str, Any]) -> None:
        if self.failed:
            raise NotPublished("an earlier record of this batch was not published: kept in order behind it")
        try:
            publish_record(record)
        except Exception:
            self.failed = True
            sequence = (record.get("dynamodb") or {}).get("SequenceNumber")
            logger.exception("event not published: the stream delivers it again", extra={"sequence_number": sequence})
            raise


def publish_record(record: Mapping[str, Any]) -> str | None:
    """Publish the event of one stream record; its id, or None when the
    record is no change of a record (or an unreadable one, logged)."""
    try:
        change = change_of(record)
    except (KeyError, ValueError, TypeError) as error:  # a pydantic ValidationError is a ValueError
        metrics.add_metric(name="EventUnreadable", unit=MetricUnit.Count, value=1)
        logger.error(
            "stream record is not a readable change: skipped",
            extra={"sequence_number": record.get("dynamodb", {}).get("SequenceNumber"), "error": str(error)[:500]},
        )
        return None
    event = event_of(change) if change is not None else None
    if event is None:
        return None
    put_events([event.entry(settings().event_bus_name)])
    metrics.add_metric(name="EventPublished", unit=MetricUnit.Count, value=1)
    logger.info("event published", extra={"event_id": event.event_id, "detail_type": event.detail_type})
    return event.event_id
