"""Key design of the single table (docs/data-model.md): every key shape of
every item and index, and the item of a counter shard that holds each
figure. Every record key starts with the tenant, so no query can cross
tenants."""

from __future__ import annotations

import hashlib
import zlib
from collections import Counter
from datetime import datetime

from oversight.clock import iso
from oversight.counters import CounterDelta, histogram_bucket, responder_of
from oversight.models import Intervention, JobStatus, Priority, Status

META_SK = "#META"
TOTALS_SK = "TOTAL"
# Sort key of a responder item (not #META: it is no record).
RESPONDER_SK = "DECISIONS"
COUNTER_SHARDS = 4
EVENT_PREFIX = "EVT#"
SCHEDULE_SHARDS = 4


def tenant_prefix(tenant: str) -> str:
    return f"T#{tenant}#"


def intervention_prefix(tenant: str) -> str:
    """The start of every intervention record's partition key."""
    return f"{tenant_prefix(tenant)}INT#"


def intervention_pk(tenant: str, intervention_id: str) -> str:
    return f"{intervention_prefix(tenant)}{intervention_id}"


def event_sk(version: int) -> str:
    # The version numbers the changes, so the event key is deterministic:
    # one event per change, and a replayed write cannot add a second.
    return f"{EVENT_PREFIX}{version:010d}"


def status_partition(tenant: str, status: Status) -> str:
    return f"T#{tenant}#INT#S#{status.value}"


def uow_partition(tenant: str, uow_id: str) -> str:
    return f"T#{tenant}#INT#U#{uow_id}"


def rank_prefix(priority: Priority) -> str:
    """The start of the pending queue's sort keys of one priority."""
    return f"{priority.rank}#"


def created_order(created_at: datetime, record_id: str) -> str:
    """A record's age as an index sorts it (ids break ties)."""
    return f"{iso(created_at)}#{record_id}"


def queue_order(iv: Intervention) -> str:
    """Sort key inside a status: the pending queue orders by priority then
    age (ascending); every other status by age (read newest first)."""
    created = created_order(iv.created_at, iv.id)
    if iv.status is Status.PENDING:
        return rank_prefix(iv.priority) + created
    return created


def uow_order(status: Status, order: str) -> str:
    """gsi2 sort key (or its prefix): the status, then the gsi1 sort key."""
    return f"{status.value}#{order}"


def schedule_shard(record_id: str) -> int:
    return zlib.crc32(record_id.encode()) % SCHEDULE_SHARDS


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


def figure_items(delta: CounterDelta) -> tuple[dict[str, Counter[str]], Counter[str]]:
    """Where a delta's figures are stored: the shard's items (sort key ->
    figures: TOTAL and the histogram's for all-time figures, DAY items for
    daily ones), and the responder items (user -> decisions) for its
    `r:<user>` figures."""
    by_item: dict[str, Counter[str]] = {}
    responders: Counter[str] = Counter()
    for name, amount in delta.totals.items():
        user = responder_of(name)
        if user is not None:
            responders[user] += amount
        else:
            by_item.setdefault(totals_sk(name), Counter())[name] += amount
    for day, counts in delta.daily.items():
        by_item.setdefault(day_sk(day), Counter()).update(counts)
    return by_item, responders


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


def schedule_sk(when: str, tenant: str, record_id: str) -> str:
    """gsi3 sort key: when the entry is due (a time or a purge_time), then
    the record it names."""
    return f"{when}#{tenant}#{record_id}"


def purge_time(epoch: int) -> str:
    """An epoch second as a schedule sorts it (fixed width)."""
    return f"{epoch:012d}"


def schedule_entry(sort_key: str) -> tuple[str, str]:
    """(tenant, record id) from a gsi3 sort key `<when>#<tenant>#<id>`."""
    _, tenant, record_id = sort_key.split("#", 2)
    return tenant, record_id


# Sorts after every `#<tenant>#<id>` suffix (tenants are [A-Za-z0-9_.-]).
SCHEDULE_UPPER_SUFFIX = "#~"


def index_keys(tenant: str, iv: Intervention, retention_days: int) -> dict[str, str | int]:
    """Index attributes derived from the record's state (recomputed on each write)."""
    order = queue_order(iv)
    keys: dict[str, str | int] = {
        "gsi1pk": status_partition(tenant, iv.status),
        "gsi1sk": order,
        "gsi2pk": uow_partition(tenant, iv.uow_id),
        "gsi2sk": uow_order(iv.status, order),
    }
    shard = schedule_shard(iv.id)
    if iv.status.is_open:
        # Due-time index for the sweeper: open records only (sparse).
        # Due at its expiry, or sooner at its escalation: the sweep does what is due and the write
        # that records it moves the entry on (an escalated record's entry moves to its expiry).
        due = min(filter(None, (iv.expires_at, iv.escalation_due_at())))
        keys["gsi3pk"] = due_partition(shard)
        keys["gsi3sk"] = schedule_sk(iso(due), tenant, iv.id)
    else:
        purge_at = int(iv.updated_at.timestamp()) + retention_days * 86400
        keys["gsi3pk"] = purge_partition(shard)
        keys["gsi3sk"] = schedule_sk(purge_time(purge_at), tenant, iv.id)
        # Reads hide the record from this moment; the sweeper deletes it.
        keys["purge_at"] = purge_at
        # TTL backstop a day after the sweeper's purge time.
        keys["ttl"] = purge_at + 86400
    return keys


# ---------------------------------------------------------------- jobs
LOG_PREFIX = "LOG#"


def job_prefix(tenant: str) -> str:
    """The start of every job record's partition key."""
    return f"{tenant_prefix(tenant)}JOB#"


def job_pk(tenant: str, job_id: str) -> str:
    return f"{job_prefix(tenant)}{job_id}"


def job_status_partition(tenant: str, status: JobStatus) -> str:
    """gsi1 partition of the tenant's jobs in one status."""
    return f"{job_prefix(tenant)}S#{status.value}"


def jobs_partition(tenant: str) -> str:
    """gsi2 partition of every job of the tenant."""
    return f"{job_prefix(tenant)}ALL"


def run_deadline_partition(shard: int) -> str:
    """gsi3 partition of RUNNING jobs by run deadline (a dead run is reclaimed)."""
    return f"JOBRUN#{shard}"


def requeue_partition(shard: int) -> str:
    """gsi3 partition of PENDING jobs by re-queue time (a lost message is sent again)."""
    return f"JOBQ#{shard}"


def job_purge_partition(shard: int) -> str:
    """gsi3 partition of finished jobs by purge time."""
    return f"JOBPURGE#{shard}"


def log_sk(at: datetime, attempt: int, seq: int) -> str:
    """Keyed by time, then attempt, then line number: a retry's lines never
    overwrite an earlier attempt's, even within one millisecond."""
    return f"{LOG_PREFIX}{iso(at)}#{attempt:03d}#{seq:06d}"


def cache_pk(tenant: str, tool: str, digest: str) -> str:
    """The result cache entry of a tool run with parameters hashing to `digest`."""
    return f"{tenant_prefix(tenant)}CACHE#{tool}#{digest}"


# ---------------------------------------------------------------- webhooks and sealed fields
# Sort key of the item beside an intervention's record that holds its
# encrypted callback secret and task token (store/sealed.py): never read by
# a read of the record, never in the stream's events (no `entity` published).
SEALED_SK = "#SEALED"
WEBHOOK_PREFIX = "HOOK#"


def webhooks_pk(tenant: str) -> str:
    """The partition of a tenant's webhook subscriptions (a few dozen at most)."""
    return f"{tenant_prefix(tenant)}HOOK"


def webhook_sk(webhook_id: str) -> str:
    return f"{WEBHOOK_PREFIX}{webhook_id}"


def tenant_of(pk: str) -> str:
    """The tenant of a record key `T#<tenant>#...` (tenants hold no `#`)."""
    return pk.split("#", 2)[1]
