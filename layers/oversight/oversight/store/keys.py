"""Key design of the single table (docs/data-model.md). Every key starts
with the tenant, so no query can cross tenants."""

from __future__ import annotations

import hashlib
import zlib

from oversight.clock import iso
from oversight.counters import histogram_bucket
from oversight.models import Intervention, Status

META_SK = "#META"
TOTALS_SK = "TOTAL"
# Sort key of a responder item (not #META: it is no record).
RESPONDER_SK = "DECISIONS"
COUNTER_SHARDS = 4
EVENT_PREFIX = "EVT#"
SCHEDULE_SHARDS = 4


def tenant_prefix(tenant: str) -> str:
    return f"T#{tenant}#"


def intervention_pk(tenant: str, intervention_id: str) -> str:
    return f"T#{tenant}#INT#{intervention_id}"


def event_sk(version: int) -> str:
    # The version numbers the changes, so the event key is deterministic:
    # one event per change, and a replayed write cannot add a second.
    return f"{EVENT_PREFIX}{version:010d}"


def status_partition(tenant: str, status: Status) -> str:
    return f"T#{tenant}#INT#S#{status.value}"


def uow_partition(tenant: str, uow_id: str) -> str:
    return f"T#{tenant}#INT#U#{uow_id}"


def queue_order(iv: Intervention) -> str:
    """Sort key inside a status: the pending queue orders by priority then
    age (ascending); every other status by age (read newest first)."""
    created = f"{iso(iv.created_at)}#{iv.id}"
    if iv.status is Status.PENDING:
        return f"{iv.priority.rank}#{created}"
    return created


def schedule_shard(intervention_id: str) -> int:
    return zlib.crc32(intervention_id.encode()) % SCHEDULE_SHARDS


def counter_shard(intervention_id: str) -> int:
    return zlib.crc32(intervention_id.encode()[::-1]) % COUNTER_SHARDS


def counters_pk(tenant: str, shard: int) -> str:
    # The shard is in the partition key so a hot tenant's counter writes
    # spread over COUNTER_SHARDS partitions.
    return f"T#{tenant}#STATS#{shard}"


# The resolution histogram lives beside TOTAL in items of this many buckets
# (counts and sums): a resolution updates one small item, and no other write
# pays for the histogram's size (an update is charged by the item's size).
HISTOGRAM_BUCKETS_PER_ITEM = 32
HISTOGRAM_PREFIX = "HIST#"


def histogram_sk(group: int) -> str:
    return f"{HISTOGRAM_PREFIX}{group:03d}"


def totals_sk(figure: str) -> str:
    """The counter item of a shard that holds an all-time figure: TOTAL, or
    the histogram item of its bucket."""
    bucket = histogram_bucket(figure)
    return TOTALS_SK if bucket is None else histogram_sk(bucket // HISTOGRAM_BUCKETS_PER_ITEM)


def totals_sks(bucket_count: int) -> list[str]:
    """Every item of a shard that holds all-time figures."""
    groups = -(-bucket_count // HISTOGRAM_BUCKETS_PER_ITEM)
    return [TOTALS_SK, *(histogram_sk(group) for group in range(groups))]


def day_sk(day: str) -> str:
    return f"DAY#{day}"


def responders_partition(tenant: str) -> str:
    """gsi4 partition of the tenant's responder items, sorted by count."""
    return f"T#{tenant}#RESP"


def responder_pk(tenant: str, user: str) -> str:
    # A user id comes from the token (any length, any character): its hash
    # keeps the key short and free of separators; the item holds the name.
    return f"{responders_partition(tenant)}#{hashlib.sha256(user.encode()).hexdigest()}"


def due_partition(shard: int) -> str:
    return f"DUE#{shard}"


def purge_partition(shard: int) -> str:
    return f"PURGE#{shard}"


def schedule_entry(sort_key: str) -> tuple[str, str]:
    """(tenant, intervention id) from a gsi3 sort key `<when>#<tenant>#<id>`."""
    _, tenant, intervention_id = sort_key.split("#", 2)
    return tenant, intervention_id


# Sorts after every `#<tenant>#<id>` suffix (tenants are [A-Za-z0-9_.-]).
SCHEDULE_UPPER_SUFFIX = "#~"


def index_keys(tenant: str, iv: Intervention, retention_days: int) -> dict[str, str | int]:
    """Index attributes derived from the record's state (recomputed on each write)."""
    order = queue_order(iv)
    keys: dict[str, str | int] = {
        "gsi1pk": status_partition(tenant, iv.status),
        "gsi1sk": order,
        "gsi2pk": uow_partition(tenant, iv.uow_id),
        "gsi2sk": f"{iv.status.value}#{order}",
    }
    shard = schedule_shard(iv.id)
    if iv.status.is_open:
        # Due-time index for the sweeper: open records only (sparse).
        keys["gsi3pk"] = due_partition(shard)
        keys["gsi3sk"] = f"{iso(iv.expires_at)}#{tenant}#{iv.id}"
    else:
        purge_at = int(iv.updated_at.timestamp()) + retention_days * 86400
        keys["gsi3pk"] = purge_partition(shard)
        keys["gsi3sk"] = f"{purge_at:012d}#{tenant}#{iv.id}"
        # Reads hide the record from this moment; the sweeper deletes it.
        keys["purge_at"] = purge_at
        # TTL backstop a day after the sweeper's purge time.
        keys["ttl"] = purge_at + 86400
    return keys
