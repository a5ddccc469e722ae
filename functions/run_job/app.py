"""The job worker: runs the jobs of SQS batches from the job queue (their
logs, output files and results), reporting each failed message so that SQS
redelivers only those, until the retry budget is spent."""

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from oversight.config import JobRunSettings, OutputBucketSettings, TableSettings, require_settings
from oversight.observability import entry_point
from oversight.worker import run_job

REQUIRED = require_settings("run_job", TableSettings, OutputBucketSettings, JobRunSettings)

# Report every failed message, even when all failed: SQS redelivers only those.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> None:
    message = json.loads(record.body)
    run_job(message["tenant"], message["job_id"])


@entry_point
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
