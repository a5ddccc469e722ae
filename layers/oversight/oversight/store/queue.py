"""The job queue (SQS): one message per job to run."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import boto3

from oversight.config import settings
from oversight.store.faults import client_config


@cache
def _sqs() -> Any:
    return boto3.client("sqs", config=client_config())


def enqueue_job(tenant: str, job_id: str) -> None:
    _sqs().send_message(QueueUrl=settings().job_queue_url, MessageBody=json.dumps({"tenant": tenant, "job_id": job_id}))
