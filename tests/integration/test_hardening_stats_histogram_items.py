"""The resolution histogram stays off the hot item: it lives in small
`HIST#<group>` items beside each shard's TOTAL, so a resolution updates one
of them and a creation none (DynamoDB charges an update by the item's size),
however widely the resolution times spread."""

import json
from datetime import timedelta

from oversight.counters import RESOLUTION_BUCKET_COUNT, bucket_of, on_created, on_transition
from oversight.models import Status
from oversight.store import keys
from oversight.store._dynamodb import merged_counter_updates
from tests.integration.test_tools_recompute_stats import TABLE, counter_items
from tests.unit.test_hardening_stats_percentiles import PENDING, T0


def resolved(seconds: float):
    return PENDING.model_copy(
        update={
            "status": Status.APPROVED,
            "decided_by": "pilot",
            "resolution_seconds": seconds,
            "decided_at": T0 + timedelta(seconds=seconds),
        }
    )


def touched(delta) -> list[str]:
    return [
        update["Update"]["Key"]["sk"]["S"]
        for update in merged_counter_updates(TABLE, "acme", [(PENDING.id, delta)])
        if update["Update"]["Key"]["pk"]["S"].startswith("T#acme#STATS#")
    ]


def test_a_creation_touches_no_histogram_item_and_a_resolution_one():
    assert not [sk for sk in touched(on_created(PENDING)) if sk.startswith(keys.HISTOGRAM_PREFIX)]
    histogram = [sk for sk in touched(on_transition(PENDING, resolved(42.0))) if sk.startswith(keys.HISTOGRAM_PREFIX)]
    assert histogram == [keys.histogram_sk(bucket_of(42.0) // keys.HISTOGRAM_BUCKETS_PER_ITEM)]


def test_every_counter_item_stays_small_whatever_the_spread_of_resolution_times(api, dynamodb):
    # One resolution in every bucket, from 1 ms to 30 days, all in one shard: the worst case.
    seconds = [0.0] + [0.001 * 1.04**k * 1.01 for k in range(RESOLUTION_BUCKET_COUNT - 1)]
    assert len({bucket_of(s) for s in seconds}) == RESOLUTION_BUCKET_COUNT
    for value in seconds:
        dynamodb.transact_write_items(
            TransactItems=merged_counter_updates(TABLE, "acme", [(PENDING.id, on_transition(PENDING, resolved(value)))])
        )
    items = counter_items(dynamodb, "acme", keys.counter_shard(PENDING.id))
    sizes = {sk: len(json.dumps(item)) for sk, item in items.items() if not sk.startswith("DAY#")}
    assert sizes[keys.TOTALS_SK] < 1024, sizes
    assert all(size < 3 * 1024 for sk, size in sizes.items() if sk.startswith(keys.HISTOGRAM_PREFIX)), sizes
    assert len(sizes) == len(keys.totals_sks(RESOLUTION_BUCKET_COUNT))
