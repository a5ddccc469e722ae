"""recompute_stats: after random operations and corrupted counters, GET
/stats and /stats/daily come back exactly as the live writes had them."""

import random
from datetime import timedelta
from decimal import Decimal

import pytest

from oversight import sweep as sweep_module
from oversight.store import get_stats_store, keys
from oversight.tools import JobCancelled, get_tool
from oversight.tools.recompute_stats import is_intervention_figure
from oversight.tools.recording import RecordingRunContext
from tests.support import ADMIN, REQUESTER, VIEWER, user

recompute = get_tool("recompute_stats")
PILOTS = [user(f"pilot-{n}", "operator") for n in range(4)]
# Weighted; "later" jumps hours ahead (decisions on another day), "expire" runs the sweep.
ACTIONS = ["create"] * 5 + ["claim"] * 4 + ["release", "approve", "reject", "cancel", "complete"] * 2
ACTIONS += ["expire", "later"]
TABLE = "OversightTable"


def random_operations(api, clock, seed, count=250):
    """Creates, claims, releases, decisions, cancellations, completions and
    expiries, spread over several days (decisions on another day than the
    creation included)."""
    rng = random.Random(seed)
    ids = []
    for _ in range(count):
        action = rng.choice(ACTIONS) if ids else "create"
        clock.advance(seconds=rng.randint(1, 900))
        if action == "later":
            clock.advance(hours=rng.randint(6, 30))
        elif action == "expire":
            sweep_module.run_sweep(lambda: 60_000)
        elif action == "create":
            body = {
                "priority": rng.choice(["critical", "high", "normal", "low"]),
                "type": rng.choice(["kill_switch", "clarification", "approval", "resume"]),
                "expires_in_seconds": rng.choice([600, 3600, 86400, 3 * 86400]),
            }
            ids.append(api.create(REQUESTER, **body)["id"])
        else:
            who = rng.choice([REQUESTER, ADMIN]) if action in ("cancel", "complete") else rng.choice(PILOTS + [ADMIN])
            body = {"reason": "r"} if action in ("approve", "reject") else None
            reply = api.post(f"/interventions/{rng.choice(ids)}/{action}", who, body)
            assert reply.status in (200, 403, 409), reply.body
    # And at least one record in each state a replay distinguishes.
    for steps in (["claim"], ["approve", "complete"], ["cancel"], ["reject"], []):
        ids.append(api.create(REQUESTER)["id"])
        for step in steps:
            who = REQUESTER if step in ("cancel", "complete") else PILOTS[0]
            body = None if step == "claim" else {"reason": "r"}
            assert api.post(f"/interventions/{ids[-1]}/{step}", who, body).status == 200
    return ids


def figures(api, days):
    stats = api.get("/stats", VIEWER).body
    stats.pop("generated_at")
    return stats, api.get(f"/stats/daily?days={days}", VIEWER).body["days"]


def add(client, tenant, shard, sort_key, **amounts):
    names = {f"#a{n}": name for n, name in enumerate(amounts)}
    values = {f":a{n}": {"N": str(amount)} for n, amount in enumerate(amounts.values())}
    client.update_item(
        TableName=TABLE,
        Key={"pk": {"S": keys.counters_pk(tenant, shard)}, "sk": {"S": sort_key}},
        UpdateExpression="ADD " + ", ".join(f"{n} {v}" for n, v in zip(names, values, strict=True)),
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def counter_items(client, tenant, shard):
    response = client.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": keys.counters_pk(tenant, shard)}},
    )
    return {item["sk"]["S"]: item for item in response["Items"]}


@pytest.mark.parametrize("seed", [5, 11])
def test_recompute_after_corruption_restores_exactly_what_the_live_writes_had(api, clock, dynamodb, seed):
    start = clock.current.date()
    ids = random_operations(api, clock, seed)
    api.create(user("g", "requester", tenant="globex"))
    today = clock.current.date()
    # Job figures share the counter items; the repair must leave them alone.
    add(
        dynamodb,
        "acme",
        0,
        keys.TOTALS_SK,
        j_total=4,
        j_status_COMPLETED=3,
        j_status_FAILED=1,
        **{"t:export_interventions": 4, "j_duration_sum": 12.5, "j_duration_count": 4},
    )
    add(dynamodb, "acme", 1, keys.day_sk(today.isoformat()), jobs_completed=3, jobs_failed=1)
    window = (today - start).days + 10
    before = figures(api, window)
    globex_before = api.get("/stats", user("v", "viewer", tenant="globex")).body["interventions"]
    statuses = before[0]["interventions"]["by_status"]
    assert all(statuses.values()), statuses

    # Corrupt every kind of intervention figure, on TOTAL and DAY items alike.
    dynamodb.delete_item(TableName=TABLE, Key={"pk": {"S": keys.counters_pk("acme", 2)}, "sk": {"S": keys.TOTALS_SK}})
    add(
        dynamodb,
        "acme",
        0,
        keys.TOTALS_SK,
        i_total=9_999,
        i_status_APPROVED=-3,
        i_res_b19=50,
        i_res_sum=0.001,
        **{"r:ghost": 7, "r:pilot-1": 2},
    )
    add(dynamodb, "acme", 3, keys.TOTALS_SK, i_type_resume=-1, i_priority_low=5)
    shard_1_days = sorted(sk for sk in counter_items(dynamodb, "acme", 1) if sk.startswith("DAY#"))
    dynamodb.delete_item(TableName=TABLE, Key={"pk": {"S": keys.counters_pk("acme", 1)}, "sk": {"S": shard_1_days[0]}})
    add(dynamodb, "acme", 1, keys.day_sk(today.isoformat()), created=40, expired=-1)
    no_record_that_day = (today - timedelta(days=window - 2)).isoformat()
    add(dynamodb, "acme", 2, keys.day_sk(no_record_that_day), approved=3)
    assert figures(api, window) != before

    ctx = RecordingRunContext(tenant="acme")
    assert recompute.run(recompute.parameters.model_validate({}), ctx) == {"interventions": len(ids)}
    assert figures(api, window) == before
    assert api.get("/stats", user("v", "viewer", tenant="globex")).body["interventions"] == globex_before

    again = RecordingRunContext(tenant="acme")
    recompute.run(recompute.parameters(), again)  # counters right: nothing to correct
    assert again.logs == [("INFO", f"recomputed the counters of {len(ids)} interventions; 0 counter items corrected")]
    assert figures(api, window) == before


def test_a_cancelled_recompute_changes_nothing(api, clock, dynamodb):
    for _ in range(3):
        api.create()
    dynamodb.delete_item(TableName=TABLE, Key={"pk": {"S": keys.counters_pk("acme", 0)}, "sk": {"S": keys.TOTALS_SK}})
    corrupted = api.get("/stats", VIEWER).body["interventions"]
    ctx = RecordingRunContext(tenant="acme")
    ctx.cancel()
    with pytest.raises(JobCancelled, match="counters unchanged"):
        recompute.run(recompute.parameters(), ctx)
    assert api.get("/stats", VIEWER).body["interventions"] == corrupted


def test_replacing_figures_writes_hundreds_of_responders_and_keeps_foreign_ones(dynamodb):
    store = get_stats_store()
    add(dynamodb, "acme", 0, keys.TOTALS_SK, j_total=2, **{f"r:old-{n}": 1 for n in range(150)})
    wanted = {"i_total": Decimal(300), **{f"r:user-{n}": Decimal(n + 1) for n in range(300)}}
    assert store.replace_figures("acme", 0, wanted, {}, is_intervention_figure) == 1
    [stored] = [shard for shard in store.totals("acme") if shard]
    assert stored == {"j_total": 2, **{name: float(value) for name, value in wanted.items()}}
    with pytest.raises(ValueError, match="j_total"):
        store.replace_figures("acme", 0, {"j_total": Decimal(0)}, {}, is_intervention_figure)


def test_recompute_agrees_with_the_live_writes_on_quorums_defaults_and_escalations(api, clock, dynamodb):
    """Partial and complete quorums, defaults applied at expiry and a raised
    priority: the repair finds the live counters exact."""
    partial = api.create(required_approvals=3)
    api.post(f"/interventions/{partial['id']}/approve", PILOTS[0], {"reason": "one"})
    complete = api.create(required_approvals=2)
    for pilot in PILOTS[:2]:
        api.post(f"/interventions/{complete['id']}/approve", pilot, {"reason": "yes"})
    api.create(on_expiry="approve", expires_in_seconds=60)
    api.create(on_expiry="reject", expires_in_seconds=60)
    api.create(priority="low", escalation={"after_seconds": 60, "priority": "critical"}, expires_in_seconds=3600)
    commented = api.create()
    api.post(f"/interventions/{commented['id']}/comments", VIEWER, {"text": "a note"})
    clock.advance(seconds=61)
    report = sweep_module.run_sweep(lambda: 60_000)
    assert (report.expired, report.escalated) == (2, 1)
    before = figures(api, 3)
    responders = {r["user"]: r["count"] for r in before[0]["interventions"]["top_responders"]}
    assert responders == {"pilot-0": 2, "pilot-1": 1}
    assert before[0]["interventions"]["by_priority"]["critical"] == 1

    ctx = RecordingRunContext(tenant="acme")
    recompute.run(recompute.parameters(), ctx)
    assert ctx.logs[-1] == ("INFO", "recomputed the counters of 6 interventions; 0 counter items corrected")
    assert figures(api, 3) == before
