"""GET /stats and /stats/daily: shape, correctness against a brute-force
recount after random operations, and a cost that does not grow with data."""

import random
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oversight import sweep as sweep_module
from oversight.counters import RESOLUTION_BUCKET_COUNT, bucket_of, nearest_rank
from oversight.store import keys
from tests.seeding import seed_interventions
from tests.support import ADMIN, OPERATOR, REQUESTER, VIEWER, stored_interventions, user

ENUMS = {
    "by_status": {"PENDING", "IN_PROGRESS", "APPROVED", "REJECTED", "CANCELLED", "EXPIRED", "COMPLETED"},
    "by_type": {"kill_switch", "clarification", "waive_violation", "resume", "cancel", "approval"},
    "by_priority": {"critical", "high", "normal", "low"},
}


def test_empty_tenant_has_every_key_and_zeroes(api):
    body = api.get("/stats", VIEWER).body
    iv = body["interventions"]
    for name, values in ENUMS.items():
        assert iv[name] == dict.fromkeys(values, 0)
    assert (iv["total"], iv["open"], iv["top_responders"], iv["avg_resolution_seconds"]) == (0, 0, [], None)
    assert iv["resolution_seconds_p50"] is None and iv["resolution_seconds_p95"] is None
    jobs = body["jobs"]
    assert set(jobs["by_status"]) == {
        "AWAITING_APPROVAL",
        "PENDING",
        "RUNNING",
        "COMPLETED",
        "FAILED",
        "CANCELLED",
        "REJECTED",
    }
    assert (jobs["total"], jobs["success_rate"], jobs["top_tools"], jobs["avg_duration_seconds"]) == (0, None, [], None)
    assert body["generated_at"] == "2026-11-23T09:00:00.000Z"


def test_stats_need_a_role_and_a_token(api):
    assert api.get("/stats", None).status == 401
    assert api.get("/stats", user("nobody")).status == 403
    assert api.get("/stats/daily", None).status == 401


def test_daily_every_day_present_oldest_first_on_the_right_days(api, clock):
    first = api.create(expires_in_seconds=2 * 86400)
    clock.advance(days=1)
    assert api.post(f"/interventions/{first['id']}/approve", OPERATOR, {"reason": "ok"}).status == 200
    second = api.create()
    api.post(f"/interventions/{second['id']}/reject", OPERATOR, {"reason": "no"})
    days = api.get("/stats/daily?days=3", VIEWER).body["days"]
    assert [d["date"] for d in days] == ["2026-11-22", "2026-11-23", "2026-11-24"]
    assert days[0] == {
        "date": "2026-11-22",
        "created": 0,
        "approved": 0,
        "rejected": 0,
        "expired": 0,
        "cancelled": 0,
        "jobs_completed": 0,
        "jobs_failed": 0,
    }
    assert (days[1]["created"], days[1]["approved"]) == (1, 0)
    assert (days[2]["created"], days[2]["approved"], days[2]["rejected"]) == (1, 1, 1)
    assert len(api.get("/stats/daily", VIEWER).body["days"]) == 30


@pytest.mark.parametrize("days", ["0", "91", "x"])
def test_daily_days_out_of_range_is_422(api, days):
    reply = api.get(f"/stats/daily?days={days}", VIEWER)
    assert reply.status == 422 and reply.body["details"][0]["loc"] == ["query", "days"]


def test_tenants_never_see_each_others_figures(api):
    api.create(user("a", "requester", tenant="globex"))
    assert api.get("/stats", VIEWER).body["interventions"]["total"] == 0
    assert api.get("/stats", user("b", "viewer", tenant="globex")).body["interventions"]["total"] == 1


# --------------------------------------------------------------- property
# Weighted; "expire" runs the sweep (costly in the emulator, so rarer).
ACTIONS = ["create"] * 6 + ["claim", "release", "approve", "reject", "cancel", "complete"] * 2 + ["expire"]
PILOTS = [user(f"pilot-{n}", "operator") for n in range(4)]


def bucket_percentile(values, q):
    """The q-quantile as /stats defines it, the brute-force way: the mean of
    the values sharing the histogram bucket of the nearest-rank value
    (rounded half-even to the millisecond)."""
    if not values:
        return None
    ordered = sorted(values)
    exact = ordered[nearest_rank(q, len(ordered)) - 1]
    peers_ms = [round(v * 1000) for v in ordered if bucket_of(v) == bucket_of(exact)]
    return round(Decimal(sum(peers_ms)) / len(peers_ms)) / 1000


def recount(records):
    """Stats the brute-force way, from every stored record."""
    by_status = Counter(iv.status.value for iv in records)
    resolved = [iv.resolution_seconds for iv in records if iv.resolution_seconds is not None]
    decisions = Counter(iv.decided_by for iv in records if iv.status.value in ("APPROVED", "REJECTED", "COMPLETED"))
    return {
        "total": len(records),
        "open": by_status["PENDING"] + by_status["IN_PROGRESS"],
        "by_status": {s: by_status[s] for s in ENUMS["by_status"]},
        "by_type": {t: sum(iv.type.value == t for iv in records) for t in ENUMS["by_type"]},
        "by_priority": {p: sum(iv.priority.value == p for iv in records) for p in ENUMS["by_priority"]},
        "avg_resolution_seconds": round(sum(resolved) / len(resolved), 3) if resolved else None,
        "resolution_seconds_p50": bucket_percentile(resolved, 0.5),
        "resolution_seconds_p95": bucket_percentile(resolved, 0.95),
        "top_responders": sorted(
            ({"user": u, "count": c} for u, c in decisions.items()), key=lambda r: (-r["count"], r["user"])
        )[:10],
    }


def recount_daily(records, dates):
    daily = {d: Counter() for d in dates}
    for iv in records:
        daily.setdefault(iv.created_at.date().isoformat(), Counter())["created"] += 1
        if iv.decided_at is not None:
            status = "approved" if iv.status.value == "COMPLETED" else iv.status.value.lower()
            daily.setdefault(iv.decided_at.date().isoformat(), Counter())[status] += 1
    return [
        {
            "date": d,
            **{k: daily[d][k] for k in ("created", "approved", "rejected", "expired", "cancelled")},
            "jobs_completed": 0,
            "jobs_failed": 0,
        }
        for d in dates
    ]


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_stats_match_a_recount_after_500_random_operations(api, clock, dynamodb, seed):
    dynamodb_reset(dynamodb)
    rng = random.Random(seed)
    ids: list[str] = []
    start = clock.current
    for _ in range(500):
        action = rng.choice(ACTIONS) if ids else "create"
        clock.advance(seconds=rng.randint(1, 900))
        if action == "create":
            body = {
                "priority": rng.choice(sorted(ENUMS["by_priority"])),
                "type": rng.choice(sorted(ENUMS["by_type"])),
                "expires_in_seconds": rng.choice([60, 600, 3600, 86400]),
            }
            ids.append(api.create(REQUESTER, **body)["id"])
            continue
        if action == "expire":
            sweep_module.run_sweep(lambda: 60_000)
            continue
        target = rng.choice(ids)
        who = rng.choice(PILOTS + [ADMIN])
        body = {"reason": "r"} if action in ("approve", "reject") else None
        if action in ("cancel", "complete"):
            who = rng.choice([REQUESTER, ADMIN])
        if action == "release" and rng.random() < 0.7:
            current = api.get(f"/interventions/{target}", VIEWER).body
            who = next((p for p in PILOTS if p["sub"] == current["assigned_to"]), who)
        reply = api.post(f"/interventions/{target}/{action}", who, body)
        assert reply.status in (200, 403, 409), reply.body  # refused moves are part of the sequence

    records = stored_interventions(dynamodb)
    assert api.get("/stats", VIEWER).body["interventions"] == recount(records)
    span = (clock.current.date() - start.date()).days + 1
    dates = [(clock.current.date() - timedelta(days=n)).isoformat() for n in range(span - 1, -1, -1)]
    assert api.get(f"/stats/daily?days={span}", VIEWER).body["days"] == recount_daily(records, dates)


def dynamodb_reset(client):
    """Hypothesis reuses the function's fixtures across examples: start clean."""
    from local_runtime.template import create_tables
    from tests.conftest import TEMPLATE

    for name in client.list_tables()["TableNames"]:
        client.delete_table(TableName=name)
    create_tables(client, TEMPLATE)


# --------------------------------------------------------------- cost
def test_stats_cost_is_the_same_at_1000_and_100000_records(api, dynamodb, requests_made):
    def measure():
        requests_made.reset()
        assert api.get("/stats", VIEWER).status == 200
        assert api.get("/stats/daily?days=30", VIEWER).status == 200
        return dict(requests_made.calls), requests_made.items_read

    seed_interventions(dynamodb, "acme", 1_000, seed=1)
    small = measure()
    assert api.get("/stats", VIEWER).body["interventions"]["total"] == 1_000
    seed_interventions(dynamodb, "acme", 99_000, seed=2)
    large = measure()
    assert api.get("/stats", VIEWER).body["interventions"]["total"] == 100_000
    assert small[0] == large[0]
    calls, items = large
    # /stats: 1 BatchGetItem and 1 Query of the top responders; /stats/daily:
    # 2 BatchGetItems (of at most 100 keys) for 30 days.
    assert calls == {"BatchGetItem": 3, "Query": 1}
    # /stats: per shard TOTAL and the histogram items in use (at most 18) and
    # the top 20 of the 12 seeded deciders; /stats/daily: 4 shards x the 20
    # days of the 30-day window that have records (seeded over 2026-11-01..20).
    # Bounded whatever the number of records: more records fill more
    # histogram items, never more than there are.
    most = 4 * len(keys.totals_sks(RESOLUTION_BUCKET_COUNT)) + 12 + 4 * 20
    assert small[1] <= large[1] <= most
