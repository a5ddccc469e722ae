"""DynamoDB implementation of the stores (single table, see keys.py)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
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
from oversight.counters import (
    INTERVENTION_WRITES,
    RESOLUTION_BUCKET_COUNT,
    CounterDelta,
    is_intervention_figure,
    on_created,
    on_transition,
    responder_of,
)
from oversight.errors import RecordExists, VersionConflict
from oversight.models import Intervention, InterventionEvent, ListInterventionsQuery, Status
from oversight.response_size import PAGE_BUDGET_BYTES, result_bytes
from oversight.store import keys
from oversight.store.base import (
    CountersMoved,
    FigureChanges,
    InterventionStore,
    LinkedWrite,
    Page,
    ShardCounters,
    StatsStore,
)
from oversight.store.cursor import ListCursor
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
    client: Any,
    request: dict[str, Any],
    limit: int,
    cursor: ListCursor,
    filtered: bool,
    convert: Callable[[dict[str, Any]], RecordT],
    cost: Callable[[RecordT], int] = result_bytes,
) -> tuple[list[RecordT], str | None]:
    """One page of a list: at most `limit` visible records, their `cost`
    within PAGE_BUDGET_BYTES (so the reply fits a Lambda result), and the
    cursor after the last one. A filtered Query reads ahead (Limit counts
    items before the filter) but stops after _MAX_QUERIES_PER_PAGE
    requests; a short page then resumes after the last item read."""
    page: list[RecordT] = []
    last_included: dict[str, Any] | None = None
    spent = 0
    now_epoch = clock.now().timestamp()
    for _ in range(_MAX_QUERIES_PER_PAGE):
        wanted = limit + 1 - len(page)
        request["Limit"] = max(wanted, _FILTERED_READ_AHEAD) if filtered else wanted
        response = client.query(**request)
        more = False
        for item in response.get("Items", []):
            if not _visible(item, now_epoch):
                continue
            if len(page) == limit:
                more = True
                break
            record = convert(item)
            size = cost(record)
            # The first record always goes in: one record is far below the budget.
            if page and spent + size > PAGE_BUDGET_BYTES:
                more = True
                break
            page.append(record)
            last_included, spent = item, spent + size
        last_key = response.get("LastEvaluatedKey")
        if more or not last_key:
            break
        request["ExclusiveStartKey"] = last_key
    else:
        # Out of Query requests: every item read is on the page or hidden.
        return page, cursor.encode({name: last_key[name]["S"] for name in cursor.attributes})
    if not more or last_included is None:
        return page, None
    return page, cursor.encode({name: last_included[name]["S"] for name in cursor.attributes})


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


@contextmanager
def raising_record_exists(record_id: str) -> Iterator[None]:
    """A create's condition (`attribute_not_exists(pk)`) failing is RecordExists."""
    try:
        yield
    except ClientError as error:
        if _is_condition_failure(error):
            raise RecordExists(record_id) from error
        raise


def _visible(item: dict[str, Any], now_epoch: float) -> bool:
    """False once a closed record is past retention: reads hide it even
    before the sweeper has deleted it."""
    purge_at = item.get("purge_at")
    return purge_at is None or float(purge_at["N"]) > now_epoch


def _counter_updates(table: str, tenant: str, shard: int, delta: CounterDelta) -> list[dict[str, Any]]:
    """Transaction items that ADD `delta` to the tenant's counter shard, and
    its `r:<user>` figures to those users' responder items."""
    return _shard_updates(table, tenant, shard, delta) + _responder_updates(table, tenant, _responders(delta))


def merged_counter_updates(table: str, tenant: str, changes: list[tuple[str, CounterDelta]]) -> list[dict[str, Any]]:
    """Counter updates for (record id, delta) pairs, merged per shard and per
    responder: a transaction may touch each counter item only once."""
    by_shard: dict[int, CounterDelta] = {}
    for record_id, delta in changes:
        shard = keys.counter_shard(record_id)
        by_shard[shard] = by_shard[shard].merge(delta) if shard in by_shard else delta
    responders: Counter[str] = Counter()
    for delta in by_shard.values():
        responders.update(_responders(delta))
    return [
        *(update for shard, delta in by_shard.items() for update in _shard_updates(table, tenant, shard, delta)),
        *_responder_updates(table, tenant, responders),
    ]


def _responders(delta: CounterDelta) -> Counter[str]:
    return Counter({user: amount for name, amount in delta.totals.items() if (user := responder_of(name)) is not None})


def _shard_updates(table: str, tenant: str, shard: int, delta: CounterDelta) -> list[dict[str, Any]]:
    pk = keys.counters_pk(tenant, shard)
    totals = Counter({name: amount for name, amount in delta.totals.items() if responder_of(name) is None})
    changed = [*delta.totals.items(), *(item for counts in delta.daily.values() for item in counts.items())]
    if any(amount and is_intervention_figure(name) for name, amount in changed):
        # Counted with every change of the shard's intervention figures (its
        # responders' too): recompute_stats corrects only a shard that did
        # not move since it read it.
        totals[INTERVENTION_WRITES] += 1
    by_item: dict[str, Counter[str]] = {}
    for name, amount in totals.items():
        by_item.setdefault(keys.totals_sk(name), Counter())[name] += amount
    targets = [*sorted(by_item.items()), *((keys.day_sk(day), counts) for day, counts in delta.daily.items())]
    updates = []
    for sort_key, counts in targets:
        figures = sorted((name, amount) for name, amount in counts.items() if amount != 0)
        # A live write adds a few figures; a bulk load's merged delta can
        # hold hundreds: several updates of one item (for update_item, not
        # for a transaction, which takes an item once).
        for start in range(0, len(figures), _FIGURES_PER_UPDATE):
            chunk = figures[start : start + _FIGURES_PER_UPDATE]
            names = {f"#c{n}": name for n, (name, _) in enumerate(chunk)}
            values = {f":c{n}": {"N": repr(amount)} for n, (_, amount) in enumerate(chunk)}
            clauses = [f"#c{n} :c{n}" for n in range(len(chunk))]
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


def _responder_updates(table: str, tenant: str, responders: Mapping[str, float]) -> list[dict[str, Any]]:
    """ADD to each user's responder item (created on its first decision):
    one small item per user, so no item grows with the number of users,
    and gsi4 keeps them sorted by count for the top responders."""
    return [
        {
            "Update": {
                "TableName": table,
                "Key": {"pk": {"S": keys.responder_pk(tenant, user)}, "sk": {"S": keys.RESPONDER_SK}},
                "UpdateExpression": "SET gsi4pk = :p, #user = :u ADD gsi4sk :n",
                "ExpressionAttributeNames": {"#user": "user"},
                "ExpressionAttributeValues": {
                    ":p": {"S": keys.responders_partition(tenant)},
                    ":u": {"S": user},
                    ":n": {"N": str(amount)},
                },
            }
        }
        for user, amount in sorted(responders.items())
        if amount
    ]


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
    """The figures of a counter item (its write count is none)."""
    return {name: float(value["N"]) for name, value in item.items() if "N" in value and name != INTERVENTION_WRITES}


def _decimals(item: dict[str, Any]) -> dict[str, Decimal]:
    return {name: Decimal(value["N"]) for name, value in item.items() if "N" in value}


def _write_count(item: dict[str, Any]) -> int | None:
    value = item.get(INTERVENTION_WRITES)
    return int(value["N"]) if value else None


def _chunks(figures: FigureChanges) -> list[list[tuple[str, Decimal, Decimal]]]:
    """(name, stored, wanted) in groups that fit one update expression."""
    flat = [(name, stored, wanted) for name, (stored, wanted) in sorted(figures.items())]
    return [flat[start : start + _FIGURES_PER_UPDATE] for start in range(0, len(flat), _FIGURES_PER_UPDATE)]


def _is_counter_race(error: ClientError) -> bool:
    """A correction refused because the counters moved: its condition
    failed, or a live transaction held one of its items at that moment."""
    reasons = error.response.get("CancellationReasons") or []
    return _is_condition_failure(error) or any(r.get("Code") == "TransactionConflict" for r in reasons)


# Items per TransactWriteItems: DynamoDB takes 100, the emulation 25.
_TRANSACTION_MAX = 25
# `writes` of a correction that is not conditioned on the write count.
_UNGUARDED = object()


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
        with raising_record_exists(intervention.id):
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
                    *_counter_updates(
                        self._table, tenant, keys.counter_shard(intervention.id), on_created(intervention)
                    ),
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
        item = self._visible_item(tenant, intervention_id)
        return _intervention_from_item(item) if item else None

    def _visible_item(self, tenant: str, intervention_id: str, projection: str | None = None) -> dict[str, Any] | None:
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"pk": {"S": keys.intervention_pk(tenant, intervention_id)}, "sk": {"S": keys.META_SK}},
            "ConsistentRead": True,
        }
        if projection:
            request["ProjectionExpression"] = projection
        item = self._client.get_item(**request).get("Item")
        return item if item and _visible(item, clock.now().timestamp()) else None

    def events(
        self, tenant: str, intervention_id: str, limit: int = 100, cursor: str | None = None
    ) -> tuple[list[InterventionEvent], str | None] | None:
        pk = keys.intervention_pk(tenant, intervention_id)
        binding = ListCursor(
            scope=f"events:{tenant}",
            filters={"intervention": intervention_id},
            attributes=("pk", "sk"),
            expected={"pk": pk},
            prefixes={"pk": keys.tenant_prefix(tenant), "sk": keys.EVENT_PREFIX},
        )
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :evt)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":evt": {"S": keys.EVENT_PREFIX}},
            "ConsistentRead": True,
        }
        if cursor:
            request["ExclusiveStartKey"] = binding.start_key(cursor)
        # Asked on every page: a record past retention has no trail to show,
        # even on a page whose cursor was issued before.
        # Only whether it is there and visible: not the record itself.
        if self._visible_item(tenant, intervention_id, projection="pk, purge_at") is None:
            return None
        return query_page(self._client, request, limit, binding, False, _event_from_item)

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

        # A position lies in the query's partition and sort-key range, on a
        # record of the tenant (its #META item).
        binding = ListCursor(
            scope=f"interventions:{tenant}",
            filters=query.filters(),
            attributes=("pk", "sk", partition_attr, sort_attr),
            expected={partition_attr: partition, "sk": keys.META_SK},
            prefixes={"pk": keys.tenant_prefix(tenant) + "INT#", sort_attr: sort_prefix},
        )
        if query.cursor:
            request["ExclusiveStartKey"] = binding.start_key(query.cursor)

        items, cursor = query_page(self._client, request, query.limit, binding, bool(filters), _intervention_from_item)
        return Page(items=items, next_cursor=cursor)

    # -------------------------------------------------------------- sweep
    def due_for_expiry(self, shard: int, now: Any, limit: int) -> list[tuple[str, str]]:
        return self._schedule(keys.due_partition(shard), iso(now), limit)

    def past_retention(self, shard: int, now: Any, limit: int) -> list[tuple[str, str]]:
        return self._schedule(keys.purge_partition(shard), f"{int(now.timestamp()):012d}", limit)

    def _schedule(self, partition: str, until: str, limit: int) -> list[tuple[str, str]]:
        return schedule_query(self._client, self._table, partition, until, limit)

    def purge(self, tenant: str, intervention_id: str, now: Any) -> int:
        """Delete a closed record past retention with its events."""
        return purge_record(
            self._client, self._table, keys.intervention_pk(tenant, intervention_id), keys.EVENT_PREFIX, now
        )

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
        """The all-time items of every shard (TOTAL and the histogram's): one
        BatchGetItem of at most 4 × 19 keys."""
        item_keys = keys.totals_sks(RESOLUTION_BUCKET_COUNT)
        wanted = [(keys.counters_pk(tenant, shard), sk) for shard in range(keys.COUNTER_SHARDS) for sk in item_keys]
        return [_numbers(item) for item in self._batch_get(wanted).values()]

    def daily(self, tenant: str, days: list[str]) -> dict[str, list[dict[str, float]]]:
        wanted = [
            (keys.counters_pk(tenant, shard), keys.day_sk(day)) for day in days for shard in range(keys.COUNTER_SHARDS)
        ]
        found = self._batch_get(wanted)
        return {day: [_numbers(item) for (_, sk), item in found.items() if sk == keys.day_sk(day)] for day in days}

    def top_responders(self, tenant: str, limit: int) -> list[tuple[str, float]]:
        response = self._client.query(
            TableName=self._table,
            IndexName="gsi4",
            KeyConditionExpression="gsi4pk = :p",
            ExpressionAttributeValues={":p": {"S": keys.responders_partition(tenant)}},
            ExpressionAttributeNames={"#user": "user"},
            ProjectionExpression="#user, gsi4sk",
            ScanIndexForward=False,
            Limit=limit,
        )
        return [(item["user"]["S"], float(item["gsi4sk"]["N"])) for item in response.get("Items", [])]

    def _batch_get(
        self, wanted: list[tuple[str, str]], consistent: bool = False
    ) -> dict[tuple[str, str], dict[str, Any]]:
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for start in range(0, len(wanted), _BATCH_GET_MAX):
            keys_and_attributes: dict[str, Any] = {
                "Keys": [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in wanted[start : start + _BATCH_GET_MAX]]
            }
            if consistent:
                keys_and_attributes["ConsistentRead"] = True
            pending: dict[str, Any] = {self._table: keys_and_attributes}
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

    # ------------------------------------------------ corrections (recompute)
    def write_counts(self, tenant: str) -> dict[int, int | None]:
        pks = [keys.counters_pk(tenant, shard) for shard in range(keys.COUNTER_SHARDS)]
        found = self._batch_get([(pk, keys.TOTALS_SK) for pk in pks], consistent=True)
        return {shard: _write_count(found.get((pk, keys.TOTALS_SK), {})) for shard, pk in enumerate(pks)}

    def read_shard(self, tenant: str, shard: int) -> ShardCounters:
        pk = keys.counters_pk(tenant, shard)
        # The TOTAL item first, alone: its write count and figures are read
        # together, and any write after it makes the correction's condition fail.
        total = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": pk}, "sk": {"S": keys.TOTALS_SK}}, ConsistentRead=True
        ).get("Item")
        items = self._shard_figures(pk)
        items.pop(keys.TOTALS_SK, None)
        if total:
            items[keys.TOTALS_SK] = _decimals(total)
        return ShardCounters(writes=_write_count(total or {}), items=items)

    def read_responders(self, tenant: str, users: Iterable[str]) -> dict[str, Decimal]:
        listed = set(users)
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "gsi4",
            "KeyConditionExpression": "gsi4pk = :p",
            "ExpressionAttributeValues": {":p": {"S": keys.responders_partition(tenant)}},
            "ExpressionAttributeNames": {"#user": "user"},
            "ProjectionExpression": "#user",
        }
        while True:  # the index is eventually consistent: it only names the users
            response = self._client.query(**request)
            listed.update(item["user"]["S"] for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        found = self._batch_get([(keys.responder_pk(tenant, user), keys.RESPONDER_SK) for user in sorted(listed)], True)
        return {item["user"]["S"]: Decimal(item["gsi4sk"]["N"]) for item in found.values() if "gsi4sk" in item}

    def correct_shard(
        self, tenant: str, shard: int, writes: int | None, changes: Mapping[str, FigureChanges]
    ) -> int | None:
        pk = keys.counters_pk(tenant, shard)
        total_chunks = _chunks(changes.get(keys.TOTALS_SK, {}))
        other_chunks = [
            (sort_key, chunk)
            for sort_key, figures in changes.items()
            if sort_key != keys.TOTALS_SK
            for chunk in _chunks(figures)
        ]
        applied: list[str] = []
        while total_chunks or other_chunks:
            # Each transaction carries the guarded TOTAL update (with the
            # next TOTAL figures, if any) and other items, each item once.
            total = total_chunks.pop(0) if total_chunks else []
            batch, later = [], []
            for sort_key, chunk in other_chunks:
                fits = len(batch) < _TRANSACTION_MAX - 1 and all(sort_key != taken for taken, _ in batch)
                (batch if fits else later).append((sort_key, chunk))
            other_chunks = later
            transaction = [
                {"Update": self._correction(pk, keys.TOTALS_SK, total, writes)},
                *({"Update": self._correction(pk, sort_key, chunk)} for sort_key, chunk in batch),
            ]
            self._commit_correction(transaction, applied)
            writes = (writes or 0) + 1
            for key in ([keys.TOTALS_SK] if total else []) + [sort_key for sort_key, _ in batch]:
                if key not in applied:
                    applied.append(key)
        return writes

    def correct_responders(
        self, tenant: str, writes: Mapping[int, int | None], changes: FigureChanges
    ) -> dict[int, int]:
        counts = {shard: writes[shard] for shard in range(keys.COUNTER_SHARDS)}
        users = sorted(changes)
        applied: list[str] = []
        for start in range(0, len(users), _TRANSACTION_MAX - keys.COUNTER_SHARDS):
            chunk = users[start : start + _TRANSACTION_MAX - keys.COUNTER_SHARDS]
            transaction = [
                {"Update": self._correction(keys.counters_pk(tenant, shard), keys.TOTALS_SK, [], count)}
                for shard, count in counts.items()
            ]
            transaction += [self._responder_correction(tenant, user, *changes[user]) for user in chunk]
            self._commit_correction(transaction, applied)
            counts = {shard: (count or 0) + 1 for shard, count in counts.items()}
            applied.extend(chunk)
        return {shard: count or 0 for shard, count in counts.items()}

    def _commit_correction(self, transaction: list[dict[str, Any]], applied: list[str]) -> None:
        try:
            self._client.transact_write_items(TransactItems=transaction)
        except ClientError as error:
            if _is_counter_race(error):
                raise CountersMoved(list(applied)) from error
            raise

    def _correction(
        self,
        pk: str,
        sort_key: str,
        figures: list[tuple[str, Decimal, Decimal]],
        writes: int | None | object = _UNGUARDED,
    ) -> dict[str, Any]:
        """The Update that moves `figures` from stored to wanted (ADD the
        difference, REMOVE a figure wanted 0). Guarded by `writes`, it also
        requires the write count to be that and counts one more."""
        names, values, adds, removes = {}, {}, [], []
        for n, (name, stored, wanted) in enumerate(figures):
            names[f"#f{n}"] = name
            if wanted == 0:
                removes.append(f"#f{n}")
            else:
                values[f":f{n}"] = {"N": str(wanted - stored)}
                adds.append(f"#f{n} :f{n}")
        update: dict[str, Any] = {"TableName": self._table, "Key": {"pk": {"S": pk}, "sk": {"S": sort_key}}}
        if writes is not _UNGUARDED:
            names["#w"] = INTERVENTION_WRITES
            values[":one"] = {"N": "1"}
            adds.append("#w :one")
            if writes is None:
                update["ConditionExpression"] = "attribute_not_exists(#w)"
            else:
                update["ConditionExpression"] = "#w = :w"
                values[":w"] = {"N": str(writes)}
        clauses = [f"ADD {', '.join(adds)}"] if adds else []
        if removes:
            clauses.append(f"REMOVE {', '.join(removes)}")
        update.update(UpdateExpression=" ".join(clauses), ExpressionAttributeNames=names)
        if values:
            update["ExpressionAttributeValues"] = values
        return update

    def _responder_correction(self, tenant: str, user: str, stored: Decimal, wanted: Decimal) -> dict[str, Any]:
        key = {"pk": {"S": keys.responder_pk(tenant, user)}, "sk": {"S": keys.RESPONDER_SK}}
        if wanted == 0:
            # Out of the leaderboard, not deleted: only the sweep deletes items
            # (IAM), and a later decision ADDs to the count from zero again.
            return {"Update": {"TableName": self._table, "Key": key, "UpdateExpression": "REMOVE gsi4pk, gsi4sk"}}
        [update] = _responder_updates(self._table, tenant, {user: wanted - stored})  # type: ignore[dict-item]
        return update

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
                if sort_key == keys.TOTALS_SK or sort_key.startswith((keys.day_sk(""), keys.HISTOGRAM_PREFIX)):
                    figures[sort_key] = _decimals(item)
            if "LastEvaluatedKey" not in response:
                return figures
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


@cache
def get_intervention_store() -> InterventionStore:
    return DynamoInterventionStore(settings().table_name, dynamodb_client())


@cache
def get_stats_store() -> StatsStore:
    return DynamoStatsStore(settings().table_name, dynamodb_client())
