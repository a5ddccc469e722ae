"""The table's stream to the event bus: every change of an intervention or
a job, in order, as one event (oversight.events), reporting the first
record that failed so that the stream delivers the batch again from there."""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from oversight.config import EventBusSettings, require_settings
from oversight.observability import entry_point
from oversight.publishing import BatchPublisher

REQUIRED = require_settings("publish_events", EventBusSettings)

processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


@entry_point
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    publish = BatchPublisher()  # one per batch: fails fast after its first failure

    def record_handler(record: DynamoDBRecord) -> None:
        publish(record.raw_event)

    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
