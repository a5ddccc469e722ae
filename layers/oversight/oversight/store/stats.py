"""DynamoDB store of the pre-computed counters (see keys.py): sharded TOTAL,
histogram and DAY items per tenant, one responder item per user; read a
fixed number of items per request, and corrected by recompute_stats only
while no write moves them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from functools import cache
from typing import Any

from oversight.config import settings
from oversight.counters import INTERVENTION_WRITES, RESOLUTION_BUCKET_COUNT
from oversight.store import keys
from oversight.store._dynamodb import (
    FIGURES_PER_UPDATE,
    Item,
    conditional,
    dynamodb_client,
    read_batch,
    read_partition,
    responder_updates,
)
from oversight.store.base import CountersMoved, FigureChanges, ShardCounters, StatsStore

# Items per TransactWriteItems: DynamoDB takes 100, the emulation 25.
_TRANSACTION_MAX = 25
# `writes` of a correction that is not conditioned on the write count.
_UNGUARDED = object()
# (name, stored, wanted) of one figure a correction changes.
_FigureChange = tuple[str, Decimal, Decimal]


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
        return [_numbers(item) for item in read_batch(self._client, self._table, wanted).values()]

    def daily(self, tenant: str, days: list[str]) -> dict[str, list[dict[str, float]]]:
        wanted = [
            (keys.counters_pk(tenant, shard), keys.day_sk(day)) for day in days for shard in range(keys.COUNTER_SHARDS)
        ]
        found = read_batch(self._client, self._table, wanted)
        return {day: [_numbers(item) for (_, sk), item in found.items() if sk == keys.day_sk(day)] for day in days}

    def top_responders(self, tenant: str, limit: int) -> list[tuple[str, float]]:
        request = self._responder_index(tenant, "#user, gsi4sk")
        response = self._client.query(**request, ScanIndexForward=False, Limit=limit)
        return [(item["user"]["S"], float(item["gsi4sk"]["N"])) for item in response.get("Items", [])]

    def _responder_index(self, tenant: str, projection: str) -> dict[str, Any]:
        """A Query of the tenant's responder items on gsi4 (sorted by count)."""
        return {
            "TableName": self._table,
            "IndexName": "gsi4",
            "KeyConditionExpression": "gsi4pk = :p",
            "ExpressionAttributeValues": {":p": {"S": keys.responders_partition(tenant)}},
            "ExpressionAttributeNames": {"#user": "user"},
            "ProjectionExpression": projection,
        }

    # ------------------------------------------------ corrections (recompute)
    def write_counts(self, tenant: str) -> dict[int, int | None]:
        pks = [keys.counters_pk(tenant, shard) for shard in range(keys.COUNTER_SHARDS)]
        found = read_batch(self._client, self._table, [(pk, keys.TOTALS_SK) for pk in pks], consistent=True)
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
        # The index is eventually consistent: it only names the users.
        for page in read_partition(self._client, self._responder_index(tenant, "#user")):
            listed.update(item["user"]["S"] for item in page)
        wanted = [(keys.responder_pk(tenant, user), keys.RESPONDER_SK) for user in sorted(listed)]
        found = read_batch(self._client, self._table, wanted, consistent=True)
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
            batch: list[tuple[str, list[_FigureChange]]] = []
            later: list[tuple[str, list[_FigureChange]]] = []
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

    def _commit_correction(self, transaction: list[Item], applied: list[str]) -> None:
        """Refused (CountersMoved) when the counters moved: its condition
        failed, or a live transaction held one of its items at that moment."""
        conditional(
            lambda: self._client.transact_write_items(TransactItems=transaction),
            CountersMoved(list(applied)),
            contention=True,
        )

    def _correction(
        self,
        pk: str,
        sort_key: str,
        figures: list[_FigureChange],
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

    def _responder_correction(self, tenant: str, user: str, stored: Decimal, wanted: Decimal) -> Item:
        key = {"pk": {"S": keys.responder_pk(tenant, user)}, "sk": {"S": keys.RESPONDER_SK}}
        if wanted == 0:
            # Out of the leaderboard, not deleted: only the sweep deletes items
            # (IAM), and a later decision ADDs to the count from zero again.
            return {"Update": {"TableName": self._table, "Key": key, "UpdateExpression": "REMOVE gsi4pk, gsi4sk"}}
        [update] = responder_updates(self._table, tenant, {user: wanted - stored})
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
        for page in read_partition(self._client, request):
            for item in page:
                sort_key = item["sk"]["S"]
                if sort_key == keys.TOTALS_SK or sort_key.startswith((keys.day_sk(""), keys.HISTOGRAM_PREFIX)):
                    figures[sort_key] = _decimals(item)
        return figures


def _numbers(item: Item) -> dict[str, float]:
    """The figures of a counter item (its write count is none)."""
    return {name: float(value["N"]) for name, value in item.items() if "N" in value and name != INTERVENTION_WRITES}


def _decimals(item: Item) -> dict[str, Decimal]:
    return {name: Decimal(value["N"]) for name, value in item.items() if "N" in value}


def _write_count(item: Item) -> int | None:
    value = item.get(INTERVENTION_WRITES)
    return int(value["N"]) if value else None


def _chunks(figures: FigureChanges) -> list[list[_FigureChange]]:
    """(name, stored, wanted) in groups that fit one update expression."""
    flat = [(name, stored, wanted) for name, (stored, wanted) in sorted(figures.items())]
    return [flat[start : start + FIGURES_PER_UPDATE] for start in range(0, len(flat), FIGURES_PER_UPDATE)]


@cache
def get_stats_store() -> StatsStore:
    return DynamoStatsStore(settings().table_name, dynamodb_client())
