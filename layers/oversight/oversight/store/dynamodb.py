"""DynamoDB implementation of the stores (single table, see keys.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar

import boto3
from botocore.exceptions import ClientError
from pydantic import BaseModel

from oversight import clock
from oversight.clock import iso
from oversight.config import settings
from oversight.counters import CounterDelta, on_created, on_transition
from oversight.errors import VersionConflict
from oversight.models import Intervention, InterventionEvent, ListInterventionsQuery, Status
from oversight.store import keys
from oversight.store.base import InterventionStore, LinkedWrite, Page, StatsStore
from oversight.store.cursor import decode_cursor, encode_cursor
from oversight.store.faults import client_config, unprocessed_fault, unprocessed_rounds
from oversight.store.marshal import dump_item, load_item

# A filtered list reads ahead in larger steps, but never more than this many
# Query requests for one page; a short page then carries a cursor.
_MAX_QUERIES_PER_PAGE = 5
_FILTERED_READ_AHEAD = 100
_JSON_FIELDS = ("context", "response")
_BATCH_GET_MAX = 100
RecordT = TypeVar("RecordT", bound=BaseModel)
_BATCH_WRITE_MAX = 25


@cache
def dynamodb_client() -> Any:
    return boto3.client("dynamodb", config=client_config())


def record_values(record: BaseModel, json_fields: tuple[str, ...]) -> dict[str, Any]:
    """A record's attributes, its free-form JSON fields stored as JSON text."""
    values = record.model_dump(mode="json")
    for name in json_fields:
        values[name] = json.dumps(values[name], separators=(",", ":"))
    return values


def record_from_item(item: dict[str, Any], model: type[RecordT], json_fields: tuple[str, ...]) -> RecordT:
    values = load_item(item)
    for name in json_fields:
        values[name] = json.loads(values[name])
    return model.model_validate({k: v for k, v in values.items() if k in model.model_fields})


def query_page(
    client: Any, request: dict[str, Any], limit: int, position_attrs: tuple[str, ...], filters: dict[str, str],
    filtered: bool,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a list: at most `limit` visible items and the cursor after
    the last one. A filtered Query reads ahead (Limit counts items before the
    filter) but stops after _MAX_QUERIES_PER_PAGE requests; a short page then
    resumes after the last item read."""
    collected: list[dict[str, Any]] = []
    next_position: dict[str, str] | None = None
    now_epoch = clock.now().timestamp()
    for _ in range(_MAX_QUERIES_PER_PAGE):
        wanted = limit + 1 - len(collected)
        request["Limit"] = max(wanted, _FILTERED_READ_AHEAD) if filtered else wanted
        response = client.query(**request)
        collected.extend(item for item in response.get("Items", []) if _visible(item, now_epoch))
        last_key = response.get("LastEvaluatedKey")
        if len(collected) > limit or not last_key:
            break
        request["ExclusiveStartKey"] = last_key
    else:
        next_position = {name: last_key[name]["S"] for name in position_attrs}
    page = collected[:limit]
    if len(collected) > limit:
        next_position = {name: page[-1][name]["S"] for name in position_attrs}
    return page, encode_cursor(next_position, filters) if next_position else None


def _intervention_item(tenant: str, iv: Intervention) -> dict[str, Any]:
    values = record_values(iv, _JSON_FIELDS)
    values.update(
        pk=keys.intervention_pk(tenant, iv.id),
        sk=keys.META_SK,
        entity="intervention",
        **keys.index_keys(tenant, iv, settings().retention_days),
    )
    return dump_item(values)


def _intervention_from_item(item: dict[str, Any]) -> Intervention:
    return record_from_item(item, Intervention, _JSON_FIELDS)


def _event_item(tenant: str, intervention_id: str, version: int, event: InterventionEvent) -> dict[str, Any]:
    values = event.model_dump(mode="json")
    values.update(pk=keys.intervention_pk(tenant, intervention_id), sk=keys.event_sk(version), entity="event")
    return dump_item(values)


def _event_from_item(item: dict[str, Any]) -> InterventionEvent:
    values = load_item(item)
    return InterventionEvent.model_validate({k: values.get(k) for k in InterventionEvent.model_fields})


def _is_condition_failure(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code")
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = error.response.get("CancellationReasons") or []
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons)
    return False


def _visible(item: dict[str, Any], now_epoch: float) -> bool:
    """False once a closed record is past retention: reads hide it even
    before the sweeper has deleted it."""
    purge_at = item.get("purge_at")
    return purge_at is None or float(purge_at["N"]) > now_epoch


def _counter_updates(table: str, tenant: str, shard: int, delta: CounterDelta) -> list[dict[str, Any]]:
    """Transaction items that ADD `delta` to the tenant's counter shard."""
    pk = keys.counters_pk(tenant, shard)
    targets = [(keys.TOTALS_SK, delta.totals)] + [(keys.day_sk(day), counts) for day, counts in delta.daily.items()]
    updates = []
    for sort_key, counts in targets:
        names, values, clauses = {}, {}, []
        for n, (name, amount) in enumerate(sorted(counts.items())):
            if amount == 0:
                continue
            names[f"#c{n}"] = name
            values[f":c{n}"] = {"N": repr(amount)}
            clauses.append(f"#c{n} :c{n}")
        if clauses:
            updates.append(
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": pk}, "sk": {"S": sort_key}},
                        "UpdateExpression": "ADD " + ", ".join(clauses),
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": values,
                    }
                }
            )
    return updates


def merged_counter_updates(table: str, tenant: str, changes: list[tuple[str, CounterDelta]]) -> list[dict[str, Any]]:
    """Counter updates for (record id, delta) pairs, merged per shard: a
    transaction may touch each counter item only once."""
    by_shard: dict[int, CounterDelta] = {}
    for record_id, delta in changes:
        shard = keys.counter_shard(record_id)
        by_shard[shard] = by_shard[shard].merge(delta) if shard in by_shard else delta
    return [update for shard, delta in by_shard.items() for update in _counter_updates(table, tenant, shard, delta)]


def schedule_query(client: Any, table: str, partition: str, until: str, limit: int) -> list[tuple[str, str]]:
    """(tenant, id) of the entries of a gsi3 schedule partition due by `until`, oldest first."""
    response = client.query(
        TableName=table,
        IndexName="gsi3",
        KeyConditionExpression="gsi3pk = :p AND gsi3sk <= :until",
        ExpressionAttributeValues={":p": {"S": partition}, ":until": {"S": until + keys.SCHEDULE_UPPER_SUFFIX}},
        Limit=limit,
    )
    return [keys.schedule_entry(item["gsi3sk"]["S"]) for item in response.get("Items", [])]


def write_batch(client: Any, table: str, requests: list[dict[str, Any]]) -> None:
    """BatchWriteItem in batches of 25, retrying what comes back unprocessed
    (throttled items) with a short backoff."""
    for start in range(0, len(requests), _BATCH_WRITE_MAX):
        pending = requests[start : start + _BATCH_WRITE_MAX]
        for _ in unprocessed_rounds():
            pending = client.batch_write_item(RequestItems={table: pending}).get("UnprocessedItems", {}).get(table, [])
            if not pending:
                break
        if pending:
            raise unprocessed_fault("BatchWriteItem", len(pending))


def purge_record(client: Any, table: str, pk: str, child_prefix: str, now: Any) -> int:
    """Delete a record past retention (`purge_at <= now`) with its children
    (sort keys starting with `child_prefix`): children first, the record
    last, so an interrupted purge stays indexed and the next run finishes
    it. Safe to run twice at once. Returns the number of items deleted."""
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :child)",
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":child": {"S": child_prefix}},
        "ProjectionExpression": "pk, sk",
    }
    deleted = 0
    while True:
        response = client.query(**request)
        children = response.get("Items", [])
        write_batch(client, table, [{"DeleteRequest": {"Key": key}} for key in children])
        deleted += len(children)
        if "LastEvaluatedKey" not in response:
            break
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    try:
        client.delete_item(
            TableName=table,
            Key={"pk": {"S": pk}, "sk": {"S": keys.META_SK}},
            ConditionExpression="purge_at <= :now",
            ExpressionAttributeValues={":now": {"N": str(int(now.timestamp()))}},
        )
        deleted += 1
    except ClientError as error:
        if not _is_condition_failure(error):
            raise
    return deleted


def _numbers(item: dict[str, Any]) -> dict[str, float]:
    return {name: float(value["N"]) for name, value in item.items() if "N" in value}


# Sorts after every `#<id>` that ends a gsi1 sort key (ids are UUIDs).
_AFTER_ANY_ID = "#~"
# Figures per UpdateItem: keeps the expression well under DynamoDB's 4 KB.
_FIGURES_PER_UPDATE = 100


def _created_bounds(created_from: datetime | None, created_to: datetime | None) -> tuple[str | None, str | None]:
    """The created_at range as stored strings compare. Stored times have
    millisecond precision, so the lower bound rounds up to the next
    millisecond; iso() truncates, which is right for the upper bound."""
    lower = None
    if created_from is not None:
        lower = iso(created_from + timedelta(microseconds=(-created_from.microsecond) % 1000))
    return lower, iso(created_to) if created_to is not None else None


def _range_condition(lower: str | None, upper: str | None) -> tuple[str, dict[str, Any]] | None:
    """`#r` within the bounds given, with their expression values."""
    bounds = {name: {"S": value} for name, value in ((":lower", lower), (":upper", upper)) if value is not None}
    if len(bounds) == 2:
        return "#r BETWEEN :lower AND :upper", bounds
    if ":lower" in bounds:
        return "#r >= :lower", bounds
    if ":upper" in bounds:
        return "#r <= :upper", bounds
    return None


class DynamoInterventionStore(InterventionStore):
    def __init__(self, table_name: str, client: Any) -> None:
        self._table = table_name
        self._client = client

    # -------------------------------------------------------------- writes
    def create(self, tenant: str, intervention: Intervention, event: InterventionEvent) -> None:
        self._client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": _intervention_item(tenant, intervention),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {"Put": {"TableName": self._table, "Item": _event_item(tenant, intervention.id, 1, event)}},
                *_counter_updates(self._table, tenant, keys.counter_shard(intervention.id), on_created(intervention)),
            ]
        )

    def save_transition(
        self,
        tenant: str,
        before: Intervention,
        after: Intervention,
        event: InterventionEvent,
        linked: LinkedWrite | None = None,
    ) -> None:
        changes = [(after.id, on_transition(before, after)), *(linked.counters if linked else [])]
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": _intervention_item(tenant, after),
                            "ConditionExpression": "#version = :expected",
                            "ExpressionAttributeNames": {"#version": "version"},
                            "ExpressionAttributeValues": {":expected": {"N": str(before.version)}},
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": _event_item(tenant, after.id, after.version, event),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    *(linked.items if linked else []),
                    *merged_counter_updates(self._table, tenant, changes),
                ]
            )
        except ClientError as error:
            if _is_condition_failure(error):
                raise VersionConflict(after.id) from error
            raise

    # -------------------------------------------------------------- reads
    def get(self, tenant: str, intervention_id: str) -> Intervention | None:
        response = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": keys.intervention_pk(tenant, intervention_id)}, "sk": {"S": keys.META_SK}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        if not item or not _visible(item, clock.now().timestamp()):
            return None
        return _intervention_from_item(item)

    def events(self, tenant: str, intervention_id: str) -> list[InterventionEvent] | None:
        # One partition holds the record ("#META" sorts before "EVT#") and its
        # events, so a single Query answers both "does it exist" and the trail.
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": keys.intervention_pk(tenant, intervention_id)}},
            "ConsistentRead": True,
        }
        found = False
        events: list[InterventionEvent] = []
        now_epoch = clock.now().timestamp()
        while True:
            response = self._client.query(**request)
            for item in response.get("Items", []):
                sort_key = item["sk"]["S"]
                if sort_key == keys.META_SK:
                    found = _visible(item, now_epoch)
                elif sort_key.startswith(keys.EVENT_PREFIX):
                    events.append(_event_from_item(item))
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return events if found else None

    def list(self, tenant: str, query: ListInterventionsQuery) -> Page:
        index, partition_attr, sort_attr, partition, sort_prefix = self._plan(tenant, query)
        names = {"#p": partition_attr}
        values: dict[str, Any] = {":p": {"S": partition}}
        condition = "#p = :p"
        if sort_prefix:
            names["#s"] = sort_attr
            values[":s"] = {"S": sort_prefix}
            condition += " AND begins_with(#s, :s)"
        filters = []
        if query.status is not Status.PENDING and query.priority is not None:
            filters.append(("priority", query.priority.value))
        if query.type is not None:
            filters.append(("type", query.type.value))
        if query.assigned_to is not None:
            filters.append(("assigned_to", query.assigned_to))
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ScanIndexForward": query.status is Status.PENDING,
        }
        if filters:
            clauses = []
            for n, (attr, value) in enumerate(filters):
                names[f"#f{n}"] = attr
                values[f":f{n}"] = {"S": value}
                clauses.append(f"#f{n} = :f{n}")
            request["FilterExpression"] = " AND ".join(clauses)
        request["ExpressionAttributeNames"] = names
        request["ExpressionAttributeValues"] = values

        position_attrs = ("pk", "sk", partition_attr, sort_attr)
        if query.cursor:
            request["ExclusiveStartKey"] = {
                name: {"S": value}
                for name, value in decode_cursor(
                    query.cursor,
                    query.filters(),
                    expected={partition_attr: partition},
                    required=position_attrs,
                    pk_prefix=keys.tenant_prefix(tenant) + "INT#",
                ).items()
            }

        items, cursor = query_page(self._client, request, query.limit, position_attrs, query.filters(), bool(filters))
        return Page(items=[_intervention_from_item(item) for item in items], next_cursor=cursor)

    # -------------------------------------------------------------- sweep
    def due_for_expiry(self, shard: int, now: Any, limit: int) -> list[tuple[str, str]]:
        return self._schedule(keys.due_partition(shard), iso(now), limit)

    def past_retention(self, shard: int, now: Any, limit: int) -> list[tuple[str, str]]:
        return self._schedule(keys.purge_partition(shard), f"{int(now.timestamp()):012d}", limit)

    def _schedule(self, partition: str, until: str, limit: int) -> list[tuple[str, str]]:
        return schedule_query(self._client, self._table, partition, until, limit)

    def purge(self, tenant: str, intervention_id: str, now: Any) -> int:
        """Delete a closed record past retention with its events."""
        return purge_record(self._client, self._table, keys.intervention_pk(tenant, intervention_id), keys.EVENT_PREFIX, now)

    @staticmethod
    def _plan(tenant: str, query: ListInterventionsQuery) -> tuple[str, str, str, str, str]:
        """Pick the index and key condition: (index, pk attr, sk attr, pk value, sk prefix)."""
        rank_prefix = ""
        if query.status is Status.PENDING and query.priority is not None:
            rank_prefix = f"{query.priority.rank}#"
        if query.uow_id is not None:
            return (
                "gsi2",
                "gsi2pk",
                "gsi2sk",
                keys.uow_partition(tenant, query.uow_id),
                f"{query.status.value}#{rank_prefix}",
            )
        return "gsi1", "gsi1pk", "gsi1sk", keys.status_partition(tenant, query.status), rank_prefix

    # -------------------------------------------------------------- export, repair
    def iter_interventions(
        self, tenant: str, status: Status | None, created_from: datetime | None, created_to: datetime | None
    ) -> Iterator[Intervention]:
        lower, upper = _created_bounds(created_from, created_to)
        now_epoch = clock.now().timestamp()
        for each in [status] if status is not None else list(Status):
            request = self._created_range_query(tenant, each, lower, upper)
            while True:
                response = self._client.query(**request)
                for item in response.get("Items", []):
                    if _visible(item, now_epoch):
                        yield _intervention_from_item(item)
                if "LastEvaluatedKey" not in response:
                    break
                request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _created_range_query(self, tenant: str, status: Status, lower: str | None, upper: str | None) -> dict[str, Any]:
        """A forward Query of one gsi1 status partition. Sort keys of other
        statuses start with created_at, so the range is a key condition;
        the pending queue's start with the priority rank, so there it is a
        filter (the queue is the small partition)."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "gsi1",
            "KeyConditionExpression": "#p = :p",
            "ExpressionAttributeNames": {"#p": "gsi1pk"},
            "ExpressionAttributeValues": {":p": {"S": keys.status_partition(tenant, status)}},
        }
        pending = status is Status.PENDING
        in_range = _range_condition(lower, upper if pending or upper is None else upper + _AFTER_ANY_ID)
        if in_range is not None:
            expression, bounds = in_range
            request["ExpressionAttributeNames"]["#r"] = "created_at" if pending else "gsi1sk"
            request["ExpressionAttributeValues"].update(bounds)
            if pending:
                request["FilterExpression"] = expression
            else:
                request["KeyConditionExpression"] += " AND " + expression
        return request


class DynamoStatsStore(StatsStore):
    """Reads the counter shards: a fixed number of items per request."""

    def __init__(self, table_name: str, client: Any) -> None:
        self._table = table_name
        self._client = client

    def totals(self, tenant: str) -> list[dict[str, float]]:
        wanted = [(keys.counters_pk(tenant, shard), keys.TOTALS_SK) for shard in range(keys.COUNTER_SHARDS)]
        return [_numbers(item) for item in self._batch_get(wanted).values()]

    def daily(self, tenant: str, days: list[str]) -> dict[str, list[dict[str, float]]]:
        wanted = [
            (keys.counters_pk(tenant, shard), keys.day_sk(day)) for day in days for shard in range(keys.COUNTER_SHARDS)
        ]
        found = self._batch_get(wanted)
        return {day: [_numbers(item) for (_, sk), item in found.items() if sk == keys.day_sk(day)] for day in days}

    def _batch_get(self, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for start in range(0, len(wanted), _BATCH_GET_MAX):
            pending: dict[str, Any] = {
                self._table: {"Keys": [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in wanted[start : start + _BATCH_GET_MAX]]}
            }
            for _ in unprocessed_rounds():
                response = self._client.batch_get_item(RequestItems=pending)
                for item in response.get("Responses", {}).get(self._table, []):
                    found[(item["pk"]["S"], item["sk"]["S"])] = item
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
            if pending:
                raise unprocessed_fault("BatchGetItem", len(pending[self._table]["Keys"]))
        return found

    def replace_figures(
        self,
        tenant: str,
        shard: int,
        totals: Mapping[str, Decimal],
        daily: Mapping[str, Mapping[str, Decimal]],
        owns: Callable[[str], bool],
    ) -> int:
        wanted = {keys.TOTALS_SK: totals, **{keys.day_sk(day): figures for day, figures in daily.items()}}
        for figures in wanted.values():
            foreign = [name for name in figures if not owns(name)]
            if foreign:
                raise ValueError(f"not figures this replacement owns: {foreign}")
        pk = keys.counters_pk(tenant, shard)
        stored = self._shard_figures(pk)
        changed = 0
        for sort_key in sorted(wanted.keys() | stored.keys()):
            current = {name: value for name, value in stored.get(sort_key, {}).items() if owns(name)}
            # Absent means zero to the stats reads: zeroes are not stored.
            target = {name: value for name, value in wanted.get(sort_key, {}).items() if value != 0}
            if current == target:
                continue
            to_set = {name: value for name, value in target.items() if current.get(name) != value}
            self._set_and_remove(pk, sort_key, to_set, [name for name in current if name not in target])
            changed += 1
        return changed

    def _shard_figures(self, pk: str) -> dict[str, dict[str, Decimal]]:
        """The counter items of a shard (TOTAL and every DAY): sort key -> figures."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ConsistentRead": True,
        }
        figures: dict[str, dict[str, Decimal]] = {}
        while True:
            response = self._client.query(**request)
            for item in response.get("Items", []):
                sort_key = item["sk"]["S"]
                if sort_key == keys.TOTALS_SK or sort_key.startswith(keys.day_sk("")):
                    figures[sort_key] = {name: Decimal(value["N"]) for name, value in item.items() if "N" in value}
            if "LastEvaluatedKey" not in response:
                return figures
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _set_and_remove(self, pk: str, sort_key: str, to_set: Mapping[str, Decimal], to_remove: list[str]) -> None:
        changes: list[tuple[str, Decimal | None]] = [*to_set.items(), *((name, None) for name in to_remove)]
        for start in range(0, len(changes), _FIGURES_PER_UPDATE):
            names, values, sets, removes = {}, {}, [], []
            for n, (name, value) in enumerate(changes[start : start + _FIGURES_PER_UPDATE]):
                names[f"#f{n}"] = name
                if value is None:
                    removes.append(f"#f{n}")
                else:
                    values[f":f{n}"] = {"N": str(value)}
                    sets.append(f"#f{n} = :f{n}")
            clauses = []
            if sets:
                clauses.append("SET " + ", ".join(sets))
            if removes:
                clauses.append("REMOVE " + ", ".join(removes))
            request: dict[str, Any] = {
                "TableName": self._table,
                "Key": {"pk": {"S": pk}, "sk": {"S": sort_key}},
                "UpdateExpression": " ".join(clauses),
                "ExpressionAttributeNames": names,
            }
            if values:
                request["ExpressionAttributeValues"] = values
            self._client.update_item(**request)


@cache
def get_intervention_store() -> InterventionStore:
    return DynamoInterventionStore(settings().table_name, dynamodb_client())


@cache
def get_stats_store() -> StatsStore:
    return DynamoStatsStore(settings().table_name, dynamodb_client())
