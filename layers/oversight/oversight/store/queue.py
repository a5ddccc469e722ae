"""The job queue (SQS): one message per job to run."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from oversight.config import settings
from oversight.store.faults import new_client


@cache
def _sqs() -> Any:
    return new_client("sqs")


def enqueue_job(tenant: str, job_id: str) -> None:
    _sqs().send_message(QueueUrl=settings().job_queue_url, MessageBody=json.dumps({"tenant": tenant, "job_id": job_id}))
