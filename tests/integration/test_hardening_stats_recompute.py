"""recompute_stats against live writes: a recompute racing hundreds of
concurrent creates, claims and decisions leaves /stats equal to the records;
over consistent counters it corrects nothing; a tenant that never goes quiet
ends the run with an error naming what was left unchanged."""

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from local_runtime.context import LocalLambdaContext
from local_runtime.handlers import load_handler
from local_runtime.routing import build_http_event
from oversight.store import DynamoInterventionStore, keys
from oversight.tools import ToolError, get_tool
from oversight.tools import recompute_stats as recompute_module
from oversight.tools.recording import RecordingRunContext
from tests.integration.test_stats import recount
from tests.integration.test_tools_recompute_stats import TABLE, add, counter_items
from tests.support import REQUESTER, VIEWER, stored_interventions, user

recompute = get_tool("recompute_stats")
PILOTS = [user(f"pilot-{n}", "operator") for n in range(6)]
WRITERS = 4
OPERATIONS_PER_WRITER = 75


# Powertools' metrics are process-wide (one invocation per process in
# Lambda): two writers' handlers never run at the same moment here. The
# recompute, which runs no handler, races all of them.
HANDLER_TURN = threading.Lock()


def call(api, instance, method, url, claims, body=None):
    """One request through its own handler instance (a Lambda environment
    per thread), as the concurrency tests do."""
    match = api.router.match(method, url)
    handler = load_handler(match.function, instance=instance)
    event = build_http_event(
        match,
        method,
        url,
        headers={"content-type": "application/json"},
        body=json.dumps(body) if body is not None else None,
        claims=claims,
        base=api.sample_event(match.function.name),
    )
    with HANDLER_TURN:
        result = handler(event, LocalLambdaContext(match.function.logical_id, 10))
    return result["statusCode"], json.loads(result.get("body") or "null")


def live_writes(api, writer, operations, started):
    """Creates, claims and decisions (approve, reject) in a fixed pattern."""
    pilot = PILOTS[writer % len(PILOTS)]
    instance = 100 + writer
    mine = []
    for n in range(operations):
        step = n % 5
        if step in (0, 1) or not mine:
            status, body = call(
                api,
                instance,
                "POST",
                "/interventions",
                REQUESTER,
                {"uow_id": f"uow-{writer}", "type": "approval", "title": "t"},
            )
            assert status == 201, body
            mine.append(body["id"])
        elif step == 2:
            status, _ = call(api, instance, "POST", f"/interventions/{mine[-1]}/claim", pilot)
            assert status == 200
        else:
            target = mine.pop()
            action = "approve" if step == 3 else "reject"
            status, _ = call(api, instance, "POST", f"/interventions/{target}/{action}", pilot, {"reason": "r"})
            assert status == 200
        if n == 10:
            started.release()


def corrupt(dynamodb):
    dynamodb.delete_item(TableName=TABLE, Key={"pk": {"S": keys.counters_pk("acme", 1)}, "sk": {"S": keys.TOTALS_SK}})
    add(dynamodb, "acme", 0, keys.TOTALS_SK, i_total=500, i_status_PENDING=-7, **{"r:ghost": 3})
    add(dynamodb, "acme", 3, keys.TOTALS_SK, i_type_approval=9)


def interventions(api):
    return api.get("/stats", VIEWER).body["interventions"]


@pytest.mark.parametrize("run", range(3))
def test_recompute_racing_hundreds_of_live_writes_ends_equal_to_the_records(api, dynamodb, monkeypatch, run):
    # Rounds enough to outlast the writers: the run retries while they write.
    monkeypatch.setattr(recompute_module, "MAX_ROUNDS", 60, raising=False)
    monkeypatch.setattr(recompute_module, "ROUND_PAUSE_SECONDS", 0.02, raising=False)
    monkeypatch.setattr(recompute_module, "LONGEST_ROUND_PAUSE_SECONDS", 0.2, raising=False)
    monkeypatch.setattr(recompute_module, "INDEX_SETTLE_SECONDS", 0.0, raising=False)
    monkeypatch.setattr(recompute_module, "ROUNDS_DEADLINE_SECONDS", 600.0, raising=False)
    for n in range(30):
        iv = api.create(REQUESTER)
        if n % 3 == 0:
            assert api.post(f"/interventions/{iv['id']}/approve", PILOTS[n % 6], {"reason": "r"}).status == 200
    corrupt(dynamodb)
    # Besides the writers' own timing, one create always lands just after
    # the first full read of the records, before any correction.
    read_all = DynamoInterventionStore.iter_interventions
    landed = []

    def then_a_write(self, *args):
        yield from read_all(self, *args)
        if not landed:
            body = {"uow_id": "u", "type": "approval", "title": "t"}
            landed.append(call(api, 99, "POST", "/interventions", REQUESTER, body))

    monkeypatch.setattr(DynamoInterventionStore, "iter_interventions", then_a_write)
    started = threading.Semaphore(0)

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        writers = [pool.submit(live_writes, api, w, OPERATIONS_PER_WRITER, started) for w in range(WRITERS)]
        for _ in range(WRITERS):
            started.acquire()  # every writer is under way
        racing = not any(w.done() for w in writers)
        ctx = RecordingRunContext(tenant="acme")
        recompute.run(recompute.parameters(), ctx)
        for w in writers:
            w.result()

    assert racing, "a writer had finished before the recompute started"
    records = stored_interventions(dynamodb)
    assert landed[0][0] == 201
    assert len(records) == 30 + WRITERS * (OPERATIONS_PER_WRITER // 5) * 2 + 1
    assert interventions(api) == recount(records)
    summary = ctx.logs[-1][1]
    assert summary.endswith("counter items corrected") and not summary.endswith("; 0 counter items corrected")


def test_recompute_over_consistent_counters_reports_zero_corrections(api, dynamodb):
    # A claim then a release leaves i_status_IN_PROGRESS stored as 0, which
    # the replay leaves absent: the same figure, no correction.
    for n in range(8):
        iv = api.create(REQUESTER)
        assert api.post(f"/interventions/{iv['id']}/claim", PILOTS[0]).status == 200
        assert api.post(f"/interventions/{iv['id']}/release", PILOTS[0]).status == 200
        if n % 2:
            assert api.post(f"/interventions/{iv['id']}/reject", PILOTS[1], {"reason": "r"}).status == 200
    before = {shard: counter_items(dynamodb, "acme", shard) for shard in range(keys.COUNTER_SHARDS)}
    ctx = RecordingRunContext(tenant="acme")
    assert recompute.run(recompute.parameters(), ctx) == {"interventions": 8}
    assert ctx.logs == [("INFO", "recomputed the counters of 8 interventions; 0 counter items corrected")]
    assert {shard: counter_items(dynamodb, "acme", shard) for shard in range(keys.COUNTER_SHARDS)} == before


def bump_write_counts(dynamodb, shards):
    """What a live write does to a shard's write count."""
    for shard in shards:
        add(dynamodb, "acme", shard, keys.TOTALS_SK, i_writes=1)


def test_a_tenant_that_never_goes_quiet_ends_with_an_error_naming_what_was_left_unchanged(api, dynamodb, monkeypatch):
    monkeypatch.setattr(recompute_module, "ROUND_PAUSE_SECONDS", 0.0, raising=False)
    monkeypatch.setattr(recompute_module, "INDEX_SETTLE_SECONDS", 0.0, raising=False)
    for _ in range(6):
        api.create(REQUESTER)
    corrupt(dynamodb)
    corrupted = interventions(api)
    replay = recompute_module.replay

    def replay_while_written(iv):  # every shard is written while the records are read
        bump_write_counts(dynamodb, range(keys.COUNTER_SHARDS))
        return replay(iv)

    monkeypatch.setattr(recompute_module, "replay", replay_while_written)
    with pytest.raises(ToolError, match=r"counter shards 0, 1, 2, 3 left unchanged.*responder counts left uncorrected"):
        recompute.run(recompute.parameters(), RecordingRunContext(tenant="acme"))
    assert interventions(api) == corrupted


def test_a_shard_that_keeps_moving_is_named_and_the_others_are_corrected(api, dynamodb, monkeypatch):
    monkeypatch.setattr(recompute_module, "ROUND_PAUSE_SECONDS", 0.0, raising=False)
    monkeypatch.setattr(recompute_module, "INDEX_SETTLE_SECONDS", 0.0, raising=False)
    for _ in range(12):
        api.create(REQUESTER)
    right = interventions(api)
    corrupt(dynamodb)  # shards 0, 1 and 3
    replay = recompute_module.replay

    def replay_while_shard_1_is_written(iv):
        bump_write_counts(dynamodb, [1])
        return replay(iv)

    monkeypatch.setattr(recompute_module, "replay", replay_while_shard_1_is_written)
    ctx = RecordingRunContext(tenant="acme")
    with pytest.raises(ToolError, match=r"counter shards 1 left unchanged") as raised:
        recompute.run(recompute.parameters(), ctx)
    assert "shards 0" not in str(raised.value) and "responder" in str(raised.value)
    corrected = [message for _, message in ctx.logs if message.startswith("corrected ")]
    assert any(m.startswith("corrected shard 0 TOTAL: i_status_PENDING") for m in corrected), corrected
    assert any(m.startswith("corrected shard 3 TOTAL: i_type_approval") for m in corrected), corrected
    assert not any(m.startswith("corrected shard 1") for m in corrected), corrected
    # Shard 1's TOTAL is still missing; the others are right again.
    shard_1 = counter_items(dynamodb, "acme", 1).get(keys.TOTALS_SK, {})
    assert "i_total" not in shard_1
    monkeypatch.setattr(recompute_module, "replay", replay)
    recompute.run(recompute.parameters(), RecordingRunContext(tenant="acme"))
    assert interventions(api) == right
