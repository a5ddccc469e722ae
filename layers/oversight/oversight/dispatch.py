"""Handing a stored PENDING job to the worker through the job queue."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from oversight.models import Job
from oversight.observability import logger, metrics
from oversight.store.faults import dependency_fault
from oversight.store.queue import enqueue_job


def queue_job(tenant: str, job: Job) -> None:
    """Queue a stored PENDING job. If the queue does not take the message,
    the job is not lost: while PENDING it sits in the sweep's re-queue index
    and is queued within REQUEUE_AFTER. The request that stored it succeeds:
    failing it would invite a retry that stores a second job (or, after an
    approval, a 409 for a decision that stands)."""
    try:
        enqueue_job(tenant, job.id)
    except Exception as error:
        if dependency_fault(error) is None:
            logger.exception("job stored but not queued; the sweep will queue it", extra={"job_id": job.id})
        else:
            logger.warning(
                "job stored but not queued; the sweep will queue it", extra={"job_id": job.id, "error": str(error)}
            )
        metrics.add_metric(name="JobQueueDeferred", unit=MetricUnit.Count, value=1)
