"""Bounded counters: decisions per user live in one small item per user
(sorted by gsi4), so no counter item grows with the number of deciders;
/stats stays at one BatchGetItem and one Query; recompute_stats rebuilds
the responder items and clears the per-user attributes of older counters."""

from oversight.counters import on_transition
from oversight.models import Status
from oversight.store import keys
from oversight.store._dynamodb import merged_counter_updates
from oversight.tools import get_tool
from oversight.tools.recording import RecordingRunContext
from tests.integration.test_tools_recompute_stats import TABLE, add, counter_items
from tests.support import REQUESTER, VIEWER, stored_interventions, user
from tests.unit.test_hardening_stats_percentiles import PENDING, T0  # one id: every decision in one shard

LONG_NAME = "x#|" * 400  # any characters, 1,200 of them: the key holds its hash


def decide(dynamodb, decider, times=1):
    """The counter updates of `times` approvals by `decider`, each in its
    own transaction, as the decision path commits them."""
    decided = PENDING.model_copy(
        update={"status": Status.APPROVED, "decided_by": decider, "decided_at": T0, "resolution_seconds": 60.0}
    )
    for _ in range(times):
        updates = merged_counter_updates(TABLE, "acme", [(PENDING.id, on_transition(PENDING, decided))])
        dynamodb.transact_write_items(TransactItems=updates)


def test_thousands_of_deciders_keep_counter_items_small_and_the_top_ten_exact(api, dynamodb, requests_made):
    # 1,800 deciders with 250-character ids: as attributes of one counter
    # item, they would need over 450 KB (DynamoDB refuses items over 400 KB).
    for n in range(1_800):
        decide(dynamodb, f"{n:04d}-" + "d" * 245)
    ranked = {
        "zed": 50,
        LONG_NAME: 45,
        "amy": 40,
        "bob": 30,
        "cat": 30,
        "dan": 20,
        "eve": 20,
        "fay": 20,
        "gus": 10,
        "hal": 10,
        "ivy": 10,
        "jon": 10,
        "kim": 10,
    }
    for decider, times in ranked.items():
        decide(dynamodb, decider, times)

    requests_made.reset()
    top = api.get("/stats", VIEWER).body["interventions"]["top_responders"]
    # Ties (30, 20, 10) by name; gus..kim tie at the 10th place: the first by name win.
    expected = ["zed", LONG_NAME, "amy", "bob", "cat", "dan", "eve", "fay", "gus", "hal"]
    assert [(r["user"], r["count"]) for r in top] == [(name, ranked[name]) for name in expected]
    assert dict(requests_made.calls) == {"BatchGetItem": 1, "Query": 1}
    # One counter shard written: its TOTAL and the histogram item of the one
    # resolution time; 20 responder items read.
    assert requests_made.items_read == 2 + 20

    [total] = [
        item
        for sk, item in counter_items(dynamodb, "acme", keys.counter_shard(PENDING.id)).items()
        if sk == keys.TOTALS_SK
    ]
    assert not [name for name in total if name.startswith("r:")]
    assert len(str(total)) < 2_000
    assert len(keys.responder_pk("acme", LONG_NAME)) == len(keys.responder_pk("acme", "zed")) < 100


def responder_item_key(decider):
    return {"pk": {"S": keys.responder_pk("acme", decider)}, "sk": {"S": keys.RESPONDER_SK}}


def test_recompute_rebuilds_responder_items_and_clears_older_per_user_attributes(api, dynamodb):
    pilots = [user(f"pilot-{n}", "operator") for n in range(3)]
    for n in range(9):
        iv = api.create(REQUESTER)
        action = "approve" if n % 2 else "reject"
        decider = pilots[n % 3 if n < 6 else 0]
        assert api.post(f"/interventions/{iv['id']}/{action}", decider, {"reason": "r"}).status == 200
    right = api.get("/stats", VIEWER).body["interventions"]
    ranked = [(r["user"], r["count"]) for r in right["top_responders"]]
    assert ranked == [("pilot-0", 5), ("pilot-1", 2), ("pilot-2", 2)]

    # A lost responder item, a ghost one, and the per-user and histogram
    # attributes counters held before responder items existed.
    dynamodb.delete_item(TableName=TABLE, Key=responder_item_key("pilot-1"))
    dynamodb.update_item(
        TableName=TABLE,
        Key=responder_item_key("ghost"),
        UpdateExpression="SET gsi4pk = :p, #u = :u ADD gsi4sk :n",
        ExpressionAttributeNames={"#u": "user"},
        ExpressionAttributeValues={
            ":p": {"S": keys.responders_partition("acme")},
            ":u": {"S": "ghost"},
            ":n": {"N": "7"},
        },
    )
    add(dynamodb, "acme", 2, keys.TOTALS_SK, **{"r:pilot-2": 4, "r:old-user": 3, "i_res_b3": 2})
    assert api.get("/stats", VIEWER).body["interventions"] != right

    ctx = RecordingRunContext(tenant="acme")
    get_tool("recompute_stats").run(get_tool("recompute_stats").parameters(), ctx)
    assert api.get("/stats", VIEWER).body["interventions"] == right
    # Out of the leaderboard index (kept, not deleted: only the sweep deletes).
    ghost = dynamodb.get_item(TableName=TABLE, Key=responder_item_key("ghost")).get("Item", {})
    assert "gsi4pk" not in ghost and "gsi4sk" not in ghost
    for shard in range(keys.COUNTER_SHARDS):
        total = counter_items(dynamodb, "acme", shard).get(keys.TOTALS_SK, {})
        assert not [name for name in total if name.startswith(("r:", "i_res_b"))], total
    assert len(stored_interventions(dynamodb)) == 9
