"""DynamoDB store of interventions and their audit trail (single table, see
keys.py): the record and its events share a partition, the indexes serve
the lists (gsi1 by status, gsi2 by unit of work) and the sweep (gsi3)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from oversight import clock
from oversight.clock import iso
from oversight.config import settings
from oversight.counters import on_created, on_transition
from oversight.errors import RecordExists, VersionConflict
from oversight.models import Intervention, InterventionEvent, ListInterventionsQuery, Status
from oversight.store import keys
from oversight.store._dynamodb import (
    Item,
    conditional,
    dynamodb_client,
    event_from_item,
    event_item,
    intervention_from_item,
    intervention_item,
    merged_counter_updates,
    new_intervention_puts,
    purge_record,
    query_page,
    read_partition,
    schedule_query,
    visible,
)
from oversight.store.base import InterventionStore, LinkedWrite, Page
from oversight.store.cursor import ListCursor

# Sorts after every `#<id>` that ends a gsi1 sort key (ids are UUIDs).
_AFTER_ANY_ID = "#~"


class DynamoInterventionStore(InterventionStore):
    def __init__(self, table_name: str, client: Any) -> None:
        self._table = table_name
        self._client = client

    # -------------------------------------------------------------- writes
    def create(
        self, tenant: str, intervention: Intervention, event: InterventionEvent, sealed: Mapping[str, bytes] = {}
    ) -> None:
        changes = [(intervention.id, on_created(intervention))]
        transaction = [
            *new_intervention_puts(self._table, tenant, intervention, event, sealed),
            *merged_counter_updates(self._table, tenant, changes),
        ]
        conditional(lambda: self._client.transact_write_items(TransactItems=transaction), RecordExists(intervention.id))

    def save_transition(
        self,
        tenant: str,
        before: Intervention,
        after: Intervention,
        event: InterventionEvent,
        linked: LinkedWrite | None = None,
    ) -> None:
        changes = [(after.id, on_transition(before, after)), *(linked.counters if linked else [])]
        transaction = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": intervention_item(tenant, after, event),
                    "ConditionExpression": "#version = :expected",
                    "ExpressionAttributeNames": {"#version": "version"},
                    "ExpressionAttributeValues": {":expected": {"N": str(before.version)}},
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": event_item(tenant, after.id, after.version, event),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            *(linked.items if linked else []),
            *merged_counter_updates(self._table, tenant, changes),
        ]
        conditional(lambda: self._client.transact_write_items(TransactItems=transaction), VersionConflict(after.id))

    # -------------------------------------------------------------- reads
    def get(self, tenant: str, intervention_id: str) -> Intervention | None:
        item = self._visible_item(tenant, intervention_id)
        return intervention_from_item(item) if item else None

    def _visible_item(self, tenant: str, intervention_id: str, projection: str | None = None) -> Item | None:
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"pk": {"S": keys.intervention_pk(tenant, intervention_id)}, "sk": {"S": keys.META_SK}},
            "ConsistentRead": True,
        }
        if projection:
            request["ProjectionExpression"] = projection
        item: Item | None = self._client.get_item(**request).get("Item")
        return item if item and visible(item, clock.now().timestamp()) else None

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
        return query_page(self._client, request, limit, binding, False, event_from_item)

    # -------------------------------------------------------------- sweep
    def due_for_expiry(self, shard: int, now: datetime, limit: int) -> list[tuple[str, str]]:
        return self._schedule(keys.due_partition(shard), iso(now), limit)

    def past_retention(self, shard: int, now: datetime, limit: int) -> list[tuple[str, str]]:
        return self._schedule(keys.purge_partition(shard), keys.purge_time(int(now.timestamp())), limit)

    def _schedule(self, partition: str, until: str, limit: int) -> list[tuple[str, str]]:
        return schedule_query(self._client, self._table, partition, until, limit)

    def purge(self, tenant: str, intervention_id: str, now: datetime) -> int:
        """Delete a closed record past retention with its events."""
        pk = keys.intervention_pk(tenant, intervention_id)
        return purge_record(self._client, self._table, pk, keys.EVENT_PREFIX, now, also=(keys.SEALED_SK,))

    # -------------------------------------------------------------- export, repair
    def iter_interventions(
        self, tenant: str, status: Status | None, created_from: datetime | None, created_to: datetime | None
    ) -> Iterator[Intervention]:
        lower, upper = _created_bounds(created_from, created_to)
        now_epoch = clock.now().timestamp()
        for each in [status] if status is not None else list(Status):
            for page in read_partition(self._client, self._created_range_query(tenant, each, lower, upper)):
                for item in page:
                    if visible(item, now_epoch):
                        yield intervention_from_item(item)

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

    # -------------------------------------------------------------- lists
    # Last in the class: below it, `list` would name this method in annotations.
    def list(self, tenant: str, query: ListInterventionsQuery) -> Page:
        index, partition_attr, sort_attr, partition, sort_prefix = _plan(tenant, query)
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
            prefixes={"pk": keys.intervention_prefix(tenant), sort_attr: sort_prefix},
        )
        if query.cursor:
            request["ExclusiveStartKey"] = binding.start_key(query.cursor)

        items, cursor = query_page(self._client, request, query.limit, binding, bool(filters), intervention_from_item)
        return Page(items=items, next_cursor=cursor)


def _plan(tenant: str, query: ListInterventionsQuery) -> tuple[str, str, str, str, str]:
    """Pick the index and key condition: (index, pk attr, sk attr, pk value, sk prefix)."""
    rank = ""
    if query.status is Status.PENDING and query.priority is not None:
        rank = keys.rank_prefix(query.priority)
    if query.uow_id is not None:
        return "gsi2", "gsi2pk", "gsi2sk", keys.uow_partition(tenant, query.uow_id), keys.uow_order(query.status, rank)
    return "gsi1", "gsi1pk", "gsi1sk", keys.status_partition(tenant, query.status), rank


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


@cache
def get_intervention_store() -> InterventionStore:
    return DynamoInterventionStore(settings().table_name, dynamodb_client())
