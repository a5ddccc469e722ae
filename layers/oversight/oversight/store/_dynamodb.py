"""DynamoDB helpers the stores share (not the store API: only modules of
`oversight.store` import this one): the client, the stored form of records,
reads (a whole partition, one list page, a schedule, a batch of keys),
writes (a conditional write, batches, the purge of a record) and the
counter updates a write commits with its change."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar

from botocore.exceptions import ClientError
from pydantic import BaseModel

from oversight import clock
from oversight.config import settings
from oversight.counters import INTERVENTION_WRITES, CounterDelta, is_intervention_figure
from oversight.models import Intervention, InterventionEvent
from oversight.response_size import PAGE_BUDGET_BYTES, result_bytes
from oversight.store import keys
from oversight.store.cursor import ListCursor
from oversight.store.faults import new_client, unprocessed_fault, unprocessed_rounds
from oversight.store.marshal import dump_item, load_item

RecordT = TypeVar("RecordT", bound=BaseModel)
Item = dict[str, Any]

# A filtered list reads ahead in larger steps, but never more than this many
# Query requests for one page; a short page then carries a cursor.
_MAX_QUERIES_PER_PAGE = 5
_FILTERED_READ_AHEAD = 100
_BATCH_GET_MAX = 100
_BATCH_WRITE_MAX = 25
# Figures per UpdateItem: keeps the expression well under DynamoDB's 4 KB.
FIGURES_PER_UPDATE = 100
_INTERVENTION_JSON_FIELDS = ("context", "response", "approvals", "response_schema", "escalation")


@cache
def dynamodb_client() -> Any:
    return new_client("dynamodb")


# ---------------------------------------------------------------- records
def record_values(record: BaseModel, json_fields: tuple[str, ...]) -> dict[str, Any]:
    """A record's attributes, its free-form JSON fields stored as JSON text.
    Computed fields (e.g. `approvals_needed`) are derived on read, never stored."""
    values = record.model_dump(mode="json", exclude=set(type(record).model_computed_fields))
    for name in json_fields:
        values[name] = json.dumps(values[name], separators=(",", ":"))
    return values


def record_from_item(item: Item, model: type[RecordT], json_fields: tuple[str, ...]) -> RecordT:
    values = load_item(item)
    for name in json_fields:
        if name in values:  # a field added later is absent from older items: its default applies
            values[name] = json.loads(values[name])
    return model.model_validate({k: v for k, v in values.items() if k in model.model_fields})


def intervention_item(tenant: str, iv: Intervention, event: InterventionEvent | None) -> Item:
    """The stored record, with its index attributes and the audit event of
    this version (`last_event`: the stream's reader names the change by it;
    every write of the service gives it, a test's seeding may not)."""
    values = record_values(iv, _INTERVENTION_JSON_FIELDS)
    values.update(
        pk=keys.intervention_pk(tenant, iv.id),
        sk=keys.META_SK,
        entity="intervention",
        **keys.index_keys(tenant, iv, settings().retention_days),
    )
    if event is not None:
        values["last_event"] = event.model_dump_json()
    return dump_item(values)


def intervention_from_item(item: Item) -> Intervention:
    return record_from_item(item, Intervention, _INTERVENTION_JSON_FIELDS)


def event_item(tenant: str, intervention_id: str, version: int, event: InterventionEvent) -> Item:
    values = event.model_dump(mode="json")
    values.update(pk=keys.intervention_pk(tenant, intervention_id), sk=keys.event_sk(version), entity="event")
    return dump_item(values)


def event_from_item(item: Item) -> InterventionEvent:
    values = load_item(item)
    return InterventionEvent.model_validate({k: values.get(k) for k in InterventionEvent.model_fields})


def new_intervention_puts(
    table: str, tenant: str, intervention: Intervention, event: InterventionEvent, sealed: Mapping[str, bytes] = {}
) -> list[Item]:
    """The transaction items that store a new intervention (if it is not
    stored yet) with its first event, and its sealed fields if it has any."""
    puts: list[Item] = [
        {
            "Put": {
                "TableName": table,
                "Item": intervention_item(tenant, intervention, event),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        {"Put": {"TableName": table, "Item": event_item(tenant, intervention.id, 1, event)}},
    ]
    if sealed:
        pk = keys.intervention_pk(tenant, intervention.id)
        item = {"pk": {"S": pk}, "sk": {"S": keys.SEALED_SK}, **{name: {"B": blob} for name, blob in sealed.items()}}
        puts.append({"Put": {"TableName": table, "Item": item}})
    return puts


def visible(item: Item, now_epoch: float) -> bool:
    """False once a closed record is past retention: reads hide it even
    before the sweeper has deleted it."""
    purge_at = item.get("purge_at")
    return purge_at is None or float(purge_at["N"]) > now_epoch


# ---------------------------------------------------------------- reads
def read_partition(client: Any, request: dict[str, Any]) -> Iterator[list[Item]]:
    """The items a Query matches, to the last: a page (one request) at a
    time, each asked for once the previous one has been used."""
    for page in client.get_paginator("query").paginate(**request):
        yield page.get("Items", [])


def query_page(
    client: Any,
    request: dict[str, Any],
    limit: int,
    cursor: ListCursor,
    filtered: bool,
    convert: Callable[[Item], RecordT],
    cost: Callable[[RecordT], int] = result_bytes,
) -> tuple[list[RecordT], str | None]:
    """One page of a list: at most `limit` visible records, their `cost`
    within PAGE_BUDGET_BYTES (so the reply fits a Lambda result), and the
    cursor after the last one. A filtered Query reads ahead (Limit counts
    items before the filter) but stops after _MAX_QUERIES_PER_PAGE
    requests; a short page then resumes after the last item read."""
    page: list[RecordT] = []
    last_included: Item | None = None
    spent = 0
    now_epoch = clock.now().timestamp()
    for _ in range(_MAX_QUERIES_PER_PAGE):
        wanted = limit + 1 - len(page)
        request["Limit"] = max(wanted, _FILTERED_READ_AHEAD) if filtered else wanted
        response = client.query(**request)
        more = False
        for item in response.get("Items", []):
            if not visible(item, now_epoch):
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


def read_batch(
    client: Any, table: str, wanted: list[tuple[str, str]], consistent: bool = False
) -> dict[tuple[str, str], Item]:
    """The items of the (pk, sk) keys `wanted` that exist: BatchGetItem in
    batches of 100, resending what comes back unprocessed (throttled)."""
    found: dict[tuple[str, str], Item] = {}
    for start in range(0, len(wanted), _BATCH_GET_MAX):
        keys_and_attributes: dict[str, Any] = {
            "Keys": [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in wanted[start : start + _BATCH_GET_MAX]]
        }
        if consistent:
            keys_and_attributes["ConsistentRead"] = True
        pending: dict[str, Any] = {table: keys_and_attributes}
        for _ in unprocessed_rounds():
            response = client.batch_get_item(RequestItems=pending)
            for item in response.get("Responses", {}).get(table, []):
                found[(item["pk"]["S"], item["sk"]["S"])] = item
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                break
        if pending:
            raise unprocessed_fault("BatchGetItem", len(pending[table]["Keys"]))
    return found


# ---------------------------------------------------------------- writes
def conditional(write: Callable[[], object], conflict: Exception | None = None, *, contention: bool = False) -> bool:
    """Make `write`, a request with a condition: True when it was applied.
    When its condition failed (ConditionalCheckFailed, or a transaction
    cancelled for it), raise `conflict` from the failure, or return False
    when there is none to raise. With `contention`, a transaction cancelled
    because another one held one of its items counts as failed too: for a
    write whose condition is that nothing else wrote those items meanwhile."""
    try:
        write()
    except ClientError as error:
        if not _condition_failed(error, contention):
            raise
        if conflict is not None:
            raise conflict from error
        return False
    return True


def _condition_failed(error: ClientError, contention: bool) -> bool:
    code = error.response.get("Error", {}).get("Code")
    reasons = {reason.get("Code") for reason in error.response.get("CancellationReasons") or []}
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException" and "ConditionalCheckFailed" in reasons:
        return True
    return contention and "TransactionConflict" in reasons


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


def purge_record(client: Any, table: str, pk: str, child_prefix: str, now: Any, also: tuple[str, ...] = ()) -> int:
    """Delete a record past retention (`purge_at <= now`) with its children
    (sort keys starting with `child_prefix`, and the sort keys `also`):
    children first, the record last, so an interrupted purge stays indexed
    and the next run finishes it. Safe to run twice at once. Returns the
    number of items deleted."""
    request = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :child)",
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":child": {"S": child_prefix}},
        "ProjectionExpression": "pk, sk",
    }
    deleted = 0
    for children in read_partition(client, request):
        write_batch(client, table, [{"DeleteRequest": {"Key": key}} for key in children])
        deleted += len(children)
    for sort_key in also:  # deleting an item that is not there is no error
        client.delete_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sort_key}})
    record_deleted = conditional(
        lambda: client.delete_item(
            TableName=table,
            Key={"pk": {"S": pk}, "sk": {"S": keys.META_SK}},
            ConditionExpression="purge_at <= :now",
            ExpressionAttributeValues={":now": {"N": str(int(now.timestamp()))}},
        )
    )
    return deleted + 1 if record_deleted else deleted


# ---------------------------------------------------------------- counters
def merged_counter_updates(table: str, tenant: str, changes: list[tuple[str, CounterDelta]]) -> list[Item]:
    """Transaction items that ADD each (record id, delta) to the counters:
    to the record's counter shard, and its `r:<user>` figures to those
    users' responder items. Merged per shard and per responder: a
    transaction may touch each counter item only once."""
    by_shard: dict[int, CounterDelta] = {}
    for record_id, delta in changes:
        by_shard.setdefault(keys.counter_shard(record_id), CounterDelta()).add(delta)
    updates: list[Item] = []
    responders: Counter[str] = Counter()
    for shard, delta in by_shard.items():
        by_item, decisions = keys.figure_items(delta)
        updates += _shard_updates(table, keys.counters_pk(tenant, shard), delta, by_item)
        responders.update(decisions)
    return [*updates, *responder_updates(table, tenant, responders)]


def _shard_updates(table: str, pk: str, delta: CounterDelta, by_item: dict[str, Counter[str]]) -> list[Item]:
    """The UpdateItems that ADD a delta's figures (`by_item`: sort key ->
    figures) to the items of one counter shard."""
    changed = [*delta.totals.items(), *(item for counts in delta.daily.values() for item in counts.items())]
    if any(amount and is_intervention_figure(name) for name, amount in changed):
        # Counted with every change of the shard's intervention figures (its
        # responders' too): recompute_stats corrects only a shard that did
        # not move since it read it.
        by_item.setdefault(keys.TOTALS_SK, Counter())[INTERVENTION_WRITES] += 1
    days = [keys.day_sk(day) for day in delta.daily]
    targets = [*sorted(sk for sk in by_item if sk not in days), *days]
    updates = []
    for sort_key in targets:
        figures = sorted((name, amount) for name, amount in by_item[sort_key].items() if amount != 0)
        # A live write adds a few figures; a bulk load's merged delta can
        # hold hundreds: several updates of one item (for update_item, not
        # for a transaction, which takes an item once).
        for start in range(0, len(figures), FIGURES_PER_UPDATE):
            chunk = figures[start : start + FIGURES_PER_UPDATE]
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


def responder_updates(table: str, tenant: str, responders: Mapping[str, float | Decimal]) -> list[Item]:
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
