"""Deliveries (SQS): events from the bus fanned out into one message per
receiver, and each receiver's attempts (webhooks, callbacks, Step Functions
task results), reporting each failed message so that SQS brings back only
those, after the delay the failed attempt set (oversight.delivery)."""

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from oversight.config import DeliverySettings, TableSettings, require_settings
from oversight.delivery import DeliveryFailed, handle
from oversight.observability import entry_point, logger

REQUIRED = require_settings("deliver_webhooks", TableSettings, DeliverySettings)

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> None:
    try:
        handle(json.loads(record.body), int(record.attributes.approximate_receive_count), record.receipt_handle)
    except DeliveryFailed:
        raise  # logged with its reason by oversight.delivery
    except Exception:
        logger.exception("delivery message not handled: delivered again", extra={"message_id": record.message_id})
        raise


@entry_point
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
