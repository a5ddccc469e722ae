"""DynamoDB store of jobs, their logs and the result cache (same table).

| item | pk | sk |
|---|---|---|
| job | `T#<tenant>#JOB#<id>` | `#META` |
| log line | `T#<tenant>#JOB#<id>` | `LOG#<at>#<seq>` |
| cache entry | `T#<tenant>#CACHE#<tool>#<parameters hash>` | `#META` |

Indexes: gsi1 `T#<tenant>#JOB#S#<status>` and gsi2 `T#<tenant>#JOB#ALL`, both
sorted by `<created_at>#<id>` (read newest first); gsi3, the sweep's
watchdog: `JOBQ#<shard>` by re-queue time while PENDING (a job whose
message was lost is queued again) and `JOBRUN#<shard>` by run deadline while
RUNNING (a run that died is reclaimed)."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

from botocore.exceptions import ClientError

from oversight import clock
from oversight.clock import iso
from oversight.config import settings
from oversight.counters import CounterDelta, on_created, on_job_created, on_job_transition
from oversight.errors import VersionConflict
from oversight.models import Intervention, InterventionEvent, Job, JobLogLine, JobStatus
from oversight.response_size import PRESIGNED_URL_BYTES, result_bytes
from oversight.store import keys
from oversight.store.base import LinkedWrite
from oversight.store.cursor import ListCursor
from oversight.store.dynamodb import (
    _event_item,
    _intervention_item,
    _is_condition_failure,
    _visible,
    dynamodb_client,
    merged_counter_updates,
    purge_record,
    query_page,
    raising_record_exists,
    record_from_item,
    record_values,
    schedule_query,
    write_batch,
)
from oversight.store.marshal import dump_item, load_item

LOG_PREFIX = "LOG#"
FINISHED = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.REJECTED})
# Log lines carry a TTL backstop this long after they were written (their
# job is normally purged, with them, RETENTION_DAYS after it finished).
_LOG_TTL_GRACE_DAYS = 2
# A PENDING job not started this long after it was queued is queued again.
REQUEUE_AFTER = timedelta(minutes=15)
_JSON_FIELDS = ("parameters", "result")


def job_pk(tenant: str, job_id: str) -> str:
    return f"T#{tenant}#JOB#{job_id}"


def _job_item(tenant: str, job: Job, run_deadline: str | None = None) -> dict[str, Any]:
    values = record_values(job, _JSON_FIELDS)
    order = f"{iso(job.created_at)}#{job.id}"
    values.update(
        pk=job_pk(tenant, job.id),
        sk=keys.META_SK,
        entity="job",
        gsi1pk=f"T#{tenant}#JOB#S#{job.status.value}",
        gsi1sk=order,
        gsi2pk=f"T#{tenant}#JOB#ALL",
        gsi2sk=order,
    )
    shard = keys.schedule_shard(job.id)
    if job.status is JobStatus.RUNNING and run_deadline:
        values["gsi3pk"] = f"JOBRUN#{shard}"
        values["gsi3sk"] = f"{run_deadline}#{tenant}#{job.id}"
    elif job.status is JobStatus.PENDING:
        values["gsi3pk"] = f"JOBQ#{shard}"
        values["gsi3sk"] = f"{iso(clock.now() + REQUEUE_AFTER)}#{tenant}#{job.id}"
    elif job.status in FINISHED and job.finished_at is not None:
        purge_at = int(job.finished_at.timestamp()) + settings().retention_days * 86400
        values.update(
            gsi3pk=f"JOBPURGE#{shard}",
            gsi3sk=f"{purge_at:012d}#{tenant}#{job.id}",
            purge_at=purge_at,
            ttl=purge_at + 86400,
        )
    return dump_item(values)


def _job_from_item(item: dict[str, Any]) -> Job:
    return record_from_item(item, Job, _JSON_FIELDS)


class DynamoJobStore:
    def __init__(self, table_name: str, client: Any) -> None:
        self._table = table_name
        self._client = client

    def _put(self, tenant: str, job: Job, condition: str | None = None, **expression: Any) -> dict[str, Any]:
        put: dict[str, Any] = {
            "TableName": self._table,
            "Item": _job_item(tenant, job, expression.pop("run_deadline", None)),
        }
        if condition:
            put["ConditionExpression"] = condition
        put.update(expression)
        return {"Put": put}

    def _counters(self, tenant: str, *changes: tuple[str, CounterDelta]) -> list[dict[str, Any]]:
        return merged_counter_updates(self._table, tenant, list(changes))

    # ------------------------------------------------------------ writes
    def create(self, tenant: str, job: Job) -> None:
        """RecordExists when the job is already stored (a keyed submission run again)."""
        with raising_record_exists(job.id):
            self._client.transact_write_items(
                TransactItems=[
                    self._put(tenant, job, "attribute_not_exists(pk)"),
                    *self._counters(tenant, (job.id, on_job_created(job))),
                ]
            )

    def create_gated(self, tenant: str, job: Job, intervention: Intervention, event: InterventionEvent) -> None:
        """The job and the approval intervention that gates it, atomically
        (RecordExists when already stored)."""
        with raising_record_exists(job.id):
            self._create_gated(tenant, job, intervention, event)

    def _create_gated(self, tenant: str, job: Job, intervention: Intervention, event: InterventionEvent) -> None:
        self._client.transact_write_items(
            TransactItems=[
                self._put(tenant, job, "attribute_not_exists(pk)"),
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": _intervention_item(tenant, intervention),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {"Put": {"TableName": self._table, "Item": _event_item(tenant, intervention.id, 1, event)}},
                *self._counters(tenant, (job.id, on_job_created(job)), (intervention.id, on_created(intervention))),
            ]
        )

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
        try:
            self._client.transact_write_items(TransactItems=[*write.items, *self._counters(tenant, *write.counters)])
        except ClientError as error:
            if _is_condition_failure(error):
                raise VersionConflict(after.id) from error
            raise

    def request_cancel(self, tenant: str, job_id: str) -> bool:
        """Flag a RUNNING job for cooperative cancellation."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": job_pk(tenant, job_id)}, "sk": {"S": keys.META_SK}},
                UpdateExpression="SET cancel_requested = :yes",
                ConditionExpression="#status = :running",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":yes": {"BOOL": True}, ":running": {"S": JobStatus.RUNNING.value}},
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def append_logs(self, tenant: str, job_id: str, attempt: int, lines: list[tuple[int, JobLogLine]]) -> None:
        """Keyed by time, then attempt, then line number: a retry's lines
        never overwrite an earlier attempt's, even within one millisecond."""
        requests = [
            {
                "PutRequest": {
                    "Item": dump_item(
                        {
                            "pk": job_pk(tenant, job_id),
                            "sk": f"{LOG_PREFIX}{iso(line.at)}#{attempt:03d}#{seq:06d}",
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
                    "pk": f"T#{tenant}#CACHE#{tool}#{digest}",
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
            Key={"pk": {"S": job_pk(tenant, job_id)}, "sk": {"S": keys.META_SK}},
            ConsistentRead=True,
        ).get("Item")
        if not item or not _visible(item, clock.now().timestamp()):
            return None
        return _job_from_item(item)

    def overdue_runs(self, shard: int, now: Any, limit: int) -> list[tuple[str, str]]:
        """(tenant, job id) of RUNNING jobs whose run deadline has passed."""
        return self._watchdog(f"JOBRUN#{shard}", now, limit)

    def past_retention(self, shard: int, now: Any, limit: int) -> list[tuple[str, str]]:
        """(tenant, job id) of finished jobs whose retention ended."""
        return schedule_query(self._client, self._table, f"JOBPURGE#{shard}", f"{int(now.timestamp()):012d}", limit)

    def purge(self, tenant: str, job_id: str, now: Any) -> None:
        """Delete a finished job past retention with its log lines."""
        purge_record(self._client, self._table, job_pk(tenant, job_id), LOG_PREFIX, now)

    def stale_pending(self, shard: int, now: Any, limit: int) -> list[tuple[str, str]]:
        """(tenant, job id) of PENDING jobs queued more than REQUEUE_AFTER ago."""
        return self._watchdog(f"JOBQ#{shard}", now, limit)

    def _watchdog(self, partition: str, now: Any, limit: int) -> list[tuple[str, str]]:
        return schedule_query(self._client, self._table, partition, iso(now), limit)

    def requeued(self, tenant: str, job: Job) -> bool:
        """Push a PENDING job's re-queue time forward (it was just queued
        again); False when it was started or cancelled meanwhile."""
        try:
            self._client.put_item(
                **self._put(
                    tenant,
                    job,
                    "#status = :pending AND attempts = :attempts",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={":pending": {"S": "PENDING"}, ":attempts": {"N": str(job.attempts)}},
                )["Put"]
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def cached_job_id(self, tenant: str, tool: str, digest: str) -> str | None:
        item = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": f"T#{tenant}#CACHE#{tool}#{digest}"}, "sk": {"S": keys.META_SK}}
        ).get("Item")
        if not item or int(item["expires_at"]["N"]) <= clock.now().timestamp():
            return None
        return item["job_id"]["S"]

    def list(self, tenant: str, status: JobStatus | None, tool: str | None, limit: int, cursor: str | None):
        index, pk_attr, sk_attr = ("gsi1", "gsi1pk", "gsi1sk") if status else ("gsi2", "gsi2pk", "gsi2sk")
        partition = f"T#{tenant}#JOB#S#{status.value}" if status else f"T#{tenant}#JOB#ALL"
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
            prefixes={"pk": f"T#{tenant}#JOB#"},
        )
        if cursor:
            request["ExclusiveStartKey"] = binding.start_key(cursor)

        def cost(job: Job) -> int:
            # The API adds a presigned URL to each output file.
            return result_bytes(job) + PRESIGNED_URL_BYTES * len(job.result.outputs if job.result else ())

        return query_page(self._client, request, limit, binding, bool(tool), _job_from_item, cost)

    def logs(self, tenant: str, job_id: str, limit: int, cursor: str | None):
        pk = job_pk(tenant, job_id)
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :log)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":log": {"S": LOG_PREFIX}},
        }
        binding = ListCursor(
            scope=f"job-logs:{tenant}",
            filters={"job": job_id},
            attributes=("pk", "sk"),
            expected={"pk": pk},
            prefixes={"pk": f"T#{tenant}#JOB#", "sk": LOG_PREFIX},
        )
        if cursor:
            request["ExclusiveStartKey"] = binding.start_key(cursor)

        def line(item: dict[str, Any]) -> JobLogLine:
            values = load_item(item)
            return JobLogLine(at=values["at"], level=values["level"], message=values["message"])

        return query_page(self._client, request, limit, binding, False, line)


@cache
def get_job_store() -> DynamoJobStore:
    return DynamoJobStore(settings().table_name, dynamodb_client())
