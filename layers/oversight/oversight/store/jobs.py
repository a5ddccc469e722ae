"""DynamoDB store of jobs, their log lines and the result cache (same table,
see keys.py): a job's log lines share its partition; gsi1 and gsi2 serve the
lists (by status, all), gsi3 the sweep's watchdogs (re-queue while PENDING,
reclaim while RUNNING) and its purge once finished."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any

from oversight import clock
from oversight.clock import iso
from oversight.config import settings
from oversight.counters import CounterDelta, on_created, on_job_created, on_job_transition
from oversight.errors import RecordExists, VersionConflict
from oversight.models import Intervention, InterventionEvent, Job, JobLogLine, JobStatus
from oversight.response_size import PRESIGNED_URL_BYTES, result_bytes
from oversight.store import keys
from oversight.store._dynamodb import (
    Item,
    conditional,
    dynamodb_client,
    merged_counter_updates,
    new_intervention_puts,
    purge_record,
    query_page,
    record_from_item,
    record_values,
    schedule_query,
    visible,
    write_batch,
)
from oversight.store.base import JobStore, LinkedWrite
from oversight.store.cursor import ListCursor
from oversight.store.marshal import dump_item, load_item

FINISHED = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.REJECTED})
# Log lines carry a TTL backstop this long after they were written (their
# job is normally purged, with them, RETENTION_DAYS after it finished).
_LOG_TTL_GRACE_DAYS = 2
# A PENDING job not started this long after it was queued is queued again.
REQUEUE_AFTER = timedelta(minutes=15)
_JSON_FIELDS = ("parameters", "result")


def job_item(tenant: str, job: Job, run_deadline: str | None = None) -> Item:
    """The stored job, with the index attributes of its status."""
    values = record_values(job, _JSON_FIELDS)
    order = keys.created_order(job.created_at, job.id)
    values.update(
        pk=keys.job_pk(tenant, job.id),
        sk=keys.META_SK,
        entity="job",
        gsi1pk=keys.job_status_partition(tenant, job.status),
        gsi1sk=order,
        gsi2pk=keys.jobs_partition(tenant),
        gsi2sk=order,
    )
    shard = keys.schedule_shard(job.id)
    if job.status is JobStatus.RUNNING and run_deadline:
        values["gsi3pk"] = keys.run_deadline_partition(shard)
        values["gsi3sk"] = keys.schedule_sk(run_deadline, tenant, job.id)
    elif job.status is JobStatus.PENDING:
        values["gsi3pk"] = keys.requeue_partition(shard)
        values["gsi3sk"] = keys.schedule_sk(iso(clock.now() + REQUEUE_AFTER), tenant, job.id)
    elif job.status in FINISHED and job.finished_at is not None:
        purge_at = int(job.finished_at.timestamp()) + settings().retention_days * 86400
        values.update(
            gsi3pk=keys.job_purge_partition(shard),
            gsi3sk=keys.schedule_sk(keys.purge_time(purge_at), tenant, job.id),
            purge_at=purge_at,
            ttl=purge_at + 86400,
        )
    return dump_item(values)


def job_from_item(item: Item) -> Job:
    return record_from_item(item, Job, _JSON_FIELDS)


class DynamoJobStore(JobStore):
    def __init__(self, table_name: str, client: Any) -> None:
        self._table = table_name
        self._client = client

    def _put(self, tenant: str, job: Job, condition: str | None = None, **expression: Any) -> Item:
        put: dict[str, Any] = {
            "TableName": self._table,
            "Item": job_item(tenant, job, expression.pop("run_deadline", None)),
        }
        if condition:
            put["ConditionExpression"] = condition
        put.update(expression)
        return {"Put": put}

    def _counters(self, tenant: str, *changes: tuple[str, CounterDelta]) -> list[Item]:
        return merged_counter_updates(self._table, tenant, list(changes))

    def _commit(self, transaction: list[Item], conflict: Exception) -> None:
        conditional(lambda: self._client.transact_write_items(TransactItems=transaction), conflict)

    # ------------------------------------------------------------ writes
    def create(self, tenant: str, job: Job) -> None:
        """RecordExists when the job is already stored (a keyed submission run again)."""
        transaction = [
            self._put(tenant, job, "attribute_not_exists(pk)"),
            *self._counters(tenant, (job.id, on_job_created(job))),
        ]
        self._commit(transaction, RecordExists(job.id))

    def create_gated(self, tenant: str, job: Job, intervention: Intervention, event: InterventionEvent) -> None:
        """The job and the approval intervention that gates it, atomically
        (RecordExists when already stored)."""
        transaction = [
            self._put(tenant, job, "attribute_not_exists(pk)"),
            *new_intervention_puts(self._table, tenant, intervention, event),
            *self._counters(tenant, (job.id, on_job_created(job)), (intervention.id, on_created(intervention))),
        ]
        self._commit(transaction, RecordExists(job.id))

    def linked_transition(self, tenant: str, before: Job, after: Job, run_deadline: str | None = None) -> LinkedWrite:
        """The write that moves `before` to `after` if nobody else did, to
        commit alone (transition) or with another record's change. The
        cancel flag is part of the condition: a cancellation requested since
        `before` was read makes the write fail instead of being erased."""
        put = self._put(
            tenant,
            after,
            "#status = :expected AND attempts = :attempts AND cancel_requested = :cancel",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":expected": {"S": before.status.value},
                ":attempts": {"N": str(before.attempts)},
                ":cancel": {"BOOL": before.cancel_requested},
            },
            run_deadline=run_deadline,
        )
        return LinkedWrite(items=[put], counters=[(after.id, on_job_transition(before, after))])

    def transition(self, tenant: str, before: Job, after: Job, run_deadline: str | None = None) -> None:
        write = self.linked_transition(tenant, before, after, run_deadline)
        self._commit([*write.items, *self._counters(tenant, *write.counters)], VersionConflict(after.id))

    def request_cancel(self, tenant: str, job_id: str) -> bool:
        """Flag a RUNNING job for cooperative cancellation, once (a change:
        its version counts it); False when it is not running or already flagged."""
        return conditional(
            lambda: self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": keys.job_pk(tenant, job_id)}, "sk": {"S": keys.META_SK}},
                UpdateExpression="SET cancel_requested = :yes ADD version :one",
                ConditionExpression="#status = :running AND cancel_requested = :no",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":yes": {"BOOL": True},
                    ":no": {"BOOL": False},
                    ":one": {"N": "1"},
                    ":running": {"S": JobStatus.RUNNING.value},
                },
            )
        )

    def append_logs(self, tenant: str, job_id: str, attempt: int, lines: list[tuple[int, JobLogLine]]) -> None:
        """Keyed by time, then attempt, then line number (keys.log_sk)."""
        requests = [
            {
                "PutRequest": {
                    "Item": dump_item(
                        {
                            "pk": keys.job_pk(tenant, job_id),
                            "sk": keys.log_sk(line.at, attempt, seq),
                            "entity": "log",
                            "ttl": int(line.at.timestamp()) + (settings().retention_days + _LOG_TTL_GRACE_DAYS) * 86400,
                            **line.model_dump(mode="json"),
                        }
                    )
                }
            }
            for seq, line in lines
        ]
        write_batch(self._client, self._table, requests)

    def put_cache(self, tenant: str, tool: str, digest: str, job_id: str, ttl_seconds: int) -> None:
        expires = int(clock.now().timestamp()) + ttl_seconds
        self._client.put_item(
            TableName=self._table,
            Item=dump_item(
                {
                    "pk": keys.cache_pk(tenant, tool, digest),
                    "sk": keys.META_SK,
                    "entity": "cache",
                    "job_id": job_id,
                    "expires_at": expires,
                    "ttl": expires,
                }
            ),
        )

    # ------------------------------------------------------------ reads
    def get(self, tenant: str, job_id: str) -> Job | None:
        item = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": keys.job_pk(tenant, job_id)}, "sk": {"S": keys.META_SK}},
            ConsistentRead=True,
        ).get("Item")
        if not item or not visible(item, clock.now().timestamp()):
            return None
        return job_from_item(item)

    def cached_job_id(self, tenant: str, tool: str, digest: str) -> str | None:
        item = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": keys.cache_pk(tenant, tool, digest)}, "sk": {"S": keys.META_SK}}
        ).get("Item")
        if not item or int(item["expires_at"]["N"]) <= clock.now().timestamp():
            return None
        job_id: str = item["job_id"]["S"]
        return job_id

    # ------------------------------------------------------------ sweep
    def overdue_runs(self, shard: int, now: datetime, limit: int) -> list[tuple[str, str]]:
        """(tenant, job id) of RUNNING jobs whose run deadline has passed."""
        return self._watchdog(keys.run_deadline_partition(shard), now, limit)

    def stale_pending(self, shard: int, now: datetime, limit: int) -> list[tuple[str, str]]:
        """(tenant, job id) of PENDING jobs queued more than REQUEUE_AFTER ago."""
        return self._watchdog(keys.requeue_partition(shard), now, limit)

    def _watchdog(self, partition: str, now: datetime, limit: int) -> list[tuple[str, str]]:
        return schedule_query(self._client, self._table, partition, iso(now), limit)

    def requeued(self, tenant: str, job: Job) -> bool:
        """Push a PENDING job's re-queue time forward (it was just queued
        again); False when it was started or cancelled meanwhile."""
        put = self._put(
            tenant,
            job,
            "#status = :pending AND attempts = :attempts",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":pending": {"S": JobStatus.PENDING.value},
                ":attempts": {"N": str(job.attempts)},
            },
        )
        return conditional(lambda: self._client.put_item(**put["Put"]))

    def past_retention(self, shard: int, now: datetime, limit: int) -> list[tuple[str, str]]:
        """(tenant, job id) of finished jobs whose retention ended."""
        until = keys.purge_time(int(now.timestamp()))
        return schedule_query(self._client, self._table, keys.job_purge_partition(shard), until, limit)

    def purge(self, tenant: str, job_id: str, now: datetime) -> None:
        """Delete a finished job past retention with its log lines."""
        purge_record(self._client, self._table, keys.job_pk(tenant, job_id), keys.LOG_PREFIX, now)

    # ------------------------------------------------------------ lists
    def logs(self, tenant: str, job_id: str, limit: int, cursor: str | None) -> tuple[list[JobLogLine], str | None]:
        pk = keys.job_pk(tenant, job_id)
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :log)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":log": {"S": keys.LOG_PREFIX}},
        }
        binding = ListCursor(
            scope=f"job-logs:{tenant}",
            filters={"job": job_id},
            attributes=("pk", "sk"),
            expected={"pk": pk},
            prefixes={"pk": keys.job_prefix(tenant), "sk": keys.LOG_PREFIX},
        )
        if cursor:
            request["ExclusiveStartKey"] = binding.start_key(cursor)

        def line(item: Item) -> JobLogLine:
            values = load_item(item)
            return JobLogLine(at=values["at"], level=values["level"], message=values["message"])

        return query_page(self._client, request, limit, binding, False, line)

    # Last in the class: below it, `list` would name this method in annotations.
    def list(
        self, tenant: str, status: JobStatus | None, tool: str | None, limit: int, cursor: str | None
    ) -> tuple[list[Job], str | None]:
        index, pk_attr, sk_attr = ("gsi1", "gsi1pk", "gsi1sk") if status else ("gsi2", "gsi2pk", "gsi2sk")
        partition = keys.job_status_partition(tenant, status) if status else keys.jobs_partition(tenant)
        filters = {k: v for k, v in {"status": status.value if status else None, "tool": tool}.items() if v}
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": "#p = :p",
            "ExpressionAttributeNames": {"#p": pk_attr},
            "ExpressionAttributeValues": {":p": {"S": partition}},
            "ScanIndexForward": False,
        }
        if tool:
            request["FilterExpression"] = "#tool = :tool"
            request["ExpressionAttributeNames"]["#tool"] = "tool"
            request["ExpressionAttributeValues"][":tool"] = {"S": tool}
        binding = ListCursor(
            scope=f"jobs:{tenant}",
            filters=filters,
            attributes=("pk", "sk", pk_attr, sk_attr),
            expected={pk_attr: partition, "sk": keys.META_SK},
            prefixes={"pk": keys.job_prefix(tenant)},
        )
        if cursor:
            request["ExclusiveStartKey"] = binding.start_key(cursor)

        def cost(job: Job) -> int:
            # The API adds a presigned URL to each output file.
            return result_bytes(job) + PRESIGNED_URL_BYTES * len(job.result.outputs if job.result else ())

        return query_page(self._client, request, limit, binding, bool(tool), job_from_item, cost)


@cache
def get_job_store() -> JobStore:
    return DynamoJobStore(settings().table_name, dynamodb_client())
