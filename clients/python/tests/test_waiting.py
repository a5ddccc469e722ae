"""`wait`, `wait_job`, `request_decision` and `require_approval` against a stub server, on a fake clock:
the pauses between polls, If-None-Match and 304, the timeout, the outcomes, the decorator sync and async,
and the context it sends."""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from conftest import WALL_START, FakeClock, Recorded, Reply, StubServer, intervention, job
from oversight_client import (
    Cancelled,
    Client,
    DecisionError,
    Expired,
    JobStatus,
    Rejected,
    Status,
    WaitTimeout,
    require_approval,
)
from oversight_client.approval import MAX_CONTEXT_BYTES, call_context, json_size
from oversight_client.retries import PollDelays

IV = "/interventions/iv-1"


def make_client(stub: StubServer, clock: FakeClock, random: float = 0.5, **options: Any) -> Client:
    return Client(
        stub.url,
        "t",
        sleep=clock.sleep,
        clock=clock.clock,
        async_sleep=clock.async_sleep,
        random=lambda: random,
        **options,
    )


def pending_then(final: str, polls: int, etag: bool = False) -> list[Reply]:
    headers = {"ETag": '"1"'} if etag else {}
    return [Reply(200, intervention(), headers) for _ in range(polls)] + [Reply(200, intervention(final))]


# ------------------------------------------------------------------ the pauses


def test_wait_polls_after_1_s_then_1_5_times_longer_up_to_10_s(stub: StubServer, clock: FakeClock) -> None:
    stub.on("GET", IV, *pending_then("APPROVED", 9))

    got = make_client(stub, clock).wait("iv-1")

    assert got.status == Status.APPROVED
    assert len(stub.sent("GET")) == 10
    # random() = 0.5 is the middle of the jitter: the bare schedule.
    assert clock.sleeps == pytest.approx([1, 1.5, 2.25, 3.375, 5.0625, 7.59375, 10, 10, 10])


@pytest.mark.parametrize("random", [0.0, 0.999])
def test_the_jitter_never_brings_two_polls_under_a_second_apart_nor_over_10(
    stub: StubServer, clock: FakeClock, random: float
) -> None:
    stub.on("GET", IV, *pending_then("REJECTED", 12))

    make_client(stub, clock, random=random).wait("iv-1")

    assert min(clock.sleeps) >= 1.0
    assert max(clock.sleeps) <= 10.0
    assert clock.sleeps[1] != 1.5  # jitter moved it
    assert clock.sleeps[-1] == 10.0 or random == 0.0


def test_poll_delays_stay_within_15_percent_of_the_schedule() -> None:
    import random

    rng = random.Random(7)
    delays = PollDelays(rng.random)
    schedule = [1, 1.5, 2.25, 3.375, 5.0625, 7.59375, 10, 10, 10]
    got = [delays.next() for _ in schedule]

    for base, pause in zip(schedule, got, strict=True):
        assert max(1.0, base * 0.85) <= pause <= min(10.0, base * 1.15)
    assert len(set(got)) == len(got)


def test_wait_returns_at_once_for_a_closed_intervention(stub: StubServer, clock: FakeClock) -> None:
    stub.on("GET", IV, Reply(200, intervention("EXPIRED")))

    assert make_client(stub, clock).wait("iv-1").status == Status.EXPIRED
    assert clock.sleeps == []


def test_wait_times_out_with_the_last_intervention_seen(stub: StubServer, clock: FakeClock) -> None:
    stub.on("GET", IV, Reply(200, intervention(assigned_to="ana", status="IN_PROGRESS")))
    started = clock.now

    with pytest.raises(WaitTimeout) as raised:
        make_client(stub, clock).wait("iv-1", timeout=12)

    waited = clock.now - started
    assert 12 <= waited < 13
    assert raised.value.intervention is not None and raised.value.intervention.assigned_to == "ana"
    assert isinstance(raised.value, DecisionError)
    assert min(clock.sleeps) >= 1.0
    assert "IN_PROGRESS" in str(raised.value)


def test_a_zero_timeout_polls_once(stub: StubServer, clock: FakeClock) -> None:
    stub.on("GET", IV, Reply(200, intervention()))

    with pytest.raises(WaitTimeout):
        make_client(stub, clock).wait("iv-1", timeout=0)

    assert len(stub.sent("GET")) == 1 and clock.sleeps == []


def test_wait_polls_just_after_the_expiry_rather_than_up_to_10_s_later(stub: StubServer, clock: FakeClock) -> None:
    expires_at = "2026-01-31T09:30:30.000Z"  # 30 s after the fake clock's start
    swept = WALL_START + timedelta(seconds=31)  # the sweep marks it a second later

    def answer(request: Recorded) -> Reply:
        status = "EXPIRED" if clock.wall() >= swept else "PENDING"
        return Reply(200, intervention(status, expires_at=expires_at))

    stub.on("GET", IV, answer)
    client = make_client(stub, clock, wall_clock=clock.wall)

    assert client.wait("iv-1").status == Status.EXPIRED

    # Without aiming at the expiry the poll after 20.8 s would come at 30.8 s, then 40.8 s.
    assert clock.wall() - swept <= timedelta(seconds=1.5)
    assert min(clock.sleeps) >= 1.0


# ------------------------------------------------------------------ ETag and 304


def conditional(versions: list[str]) -> Any:
    """Answers as the API does: ETag "<version>", 304 when If-None-Match names the current one."""
    state = {"poll": 0}

    def answer(request: Recorded) -> Reply:
        status = versions[min(state["poll"], len(versions) - 1)]
        state["poll"] += 1
        etag = f'"{status}"'
        if request.header("If-None-Match") == etag:
            return Reply(304, None, {"ETag": etag})
        return Reply(200, intervention(status), {"ETag": etag})

    return answer


def test_wait_sends_if_none_match_and_takes_304_as_unchanged(stub: StubServer, clock: FakeClock) -> None:
    stub.on("GET", IV, conditional(["PENDING", "PENDING", "PENDING", "APPROVED"]))

    got = make_client(stub, clock).wait("iv-1")

    sent = stub.sent("GET")
    assert got.status == Status.APPROVED
    assert [r.header("If-None-Match") for r in sent] == [None, '"PENDING"', '"PENDING"', '"PENDING"']
    assert len(sent) == 4


def test_without_an_etag_wait_sends_plain_gets(stub: StubServer, clock: FakeClock) -> None:
    stub.on("GET", IV, *pending_then("APPROVED", 3))

    make_client(stub, clock).wait("iv-1")

    assert all(r.header("If-None-Match") is None for r in stub.sent("GET"))


def test_a_304_before_any_record_reads_it_whole(stub: StubServer, clock: FakeClock) -> None:
    stub.on("GET", IV, Reply(304, None, {"ETag": '"x"'}), Reply(200, intervention("APPROVED")))

    assert make_client(stub, clock).wait("iv-1").status == Status.APPROVED


def test_wait_job_polls_the_job_until_finished(stub: StubServer, clock: FakeClock) -> None:
    stub.on(
        "GET",
        "/jobs/job-1",
        Reply(200, job("AWAITING_APPROVAL"), {"ETag": '"1"'}),
        Reply(304, None, {"ETag": '"1"'}),
        Reply(200, job("RUNNING"), {"ETag": '"2"'}),
        Reply(200, job("FAILED"), {"ETag": '"3"'}),
    )

    got = make_client(stub, clock).wait_job("job-1")

    assert got.status == JobStatus.FAILED
    assert [r.header("If-None-Match") for r in stub.sent("GET")] == [None, '"1"', '"1"', '"2"']


def test_wait_job_timeout_carries_the_job(stub: StubServer, clock: FakeClock) -> None:
    stub.on("GET", "/jobs/job-1", Reply(200, job("RUNNING")))

    with pytest.raises(WaitTimeout) as raised:
        make_client(stub, clock).wait_job("job-1", timeout=3)

    assert raised.value.job is not None and raised.value.job.status == JobStatus.RUNNING


# ------------------------------------------------------------------ request_decision


@pytest.mark.parametrize(("final", "raised"), [("REJECTED", Rejected), ("EXPIRED", Expired), ("CANCELLED", Cancelled)])
def test_request_decision_raises_for_each_outcome_but_approval(
    stub: StubServer, clock: FakeClock, final: str, raised: type[DecisionError]
) -> None:
    stub.on("POST", "/interventions", Reply(201, intervention()))
    stub.on("GET", IV, *pending_then(final, 1))

    with pytest.raises(raised) as outcome:
        make_client(stub, clock).request_decision(uow_id="u", title="t", priority="high")

    assert outcome.value.intervention is not None and outcome.value.intervention.status == final
    assert stub.sent("POST")[0].body == {"uow_id": "u", "type": "approval", "title": "t", "priority": "high"}


@pytest.mark.parametrize("final", ["APPROVED", "COMPLETED"])
def test_request_decision_returns_the_approved_intervention(stub: StubServer, clock: FakeClock, final: str) -> None:
    stub.on("POST", "/interventions", Reply(201, intervention()))
    stub.on("GET", IV, *pending_then(final, 2))

    got = make_client(stub, clock).request_decision(uow_id="u", title="t")

    assert got.status == final
    # The create answered the record: the first poll comes a second later, not at once.
    assert clock.sleeps[0] >= 1.0 and len(clock.sleeps) == 3


# ------------------------------------------------------------------ the decorator


def decorated_stub(stub: StubServer, final: str) -> None:
    stub.on("POST", "/interventions", lambda request: Reply(201, intervention(context=request.body["context"])))
    stub.on("GET", IV, *pending_then(final, 2))
    stub.on("POST", IV + "/complete", Reply(200, intervention("COMPLETED")))


def test_the_decorator_runs_the_function_once_approved(stub: StubServer, clock: FakeClock) -> None:
    decorated_stub(stub, "APPROVED")
    calls: list[tuple[str, int]] = []

    @require_approval(make_client(stub, clock), priority="high", required_role="finance")
    def refund(order: str, cents: int = 100) -> str:
        calls.append((order, cents))
        return f"refunded {order}"

    assert refund("order-42", cents=250) == "refunded order-42"
    assert calls == [("order-42", 250)]
    body = stub.sent("POST", "/interventions")[0].body
    assert body["context"]["function"].endswith("refund")
    assert body["context"]["arguments"] == {"order": "order-42", "cents": 250}
    assert body["title"].startswith("Approve ") and body["type"] == "approval"
    assert body["priority"] == "high" and body["required_role"] == "finance"
    assert "timeout" not in body
    assert refund.__name__ == "refund"


def test_the_decorator_never_runs_the_function_when_rejected(stub: StubServer, clock: FakeClock) -> None:
    decorated_stub(stub, "REJECTED")
    calls: list[str] = []

    @require_approval(make_client(stub, clock), title=lambda order: f"Refund {order}?", uow_id="refunds")
    def refund(order: str) -> None:
        calls.append(order)

    with pytest.raises(Rejected):
        refund("order-42")

    assert calls == []
    body = stub.sent("POST", "/interventions")[0].body
    assert body["title"] == "Refund order-42?" and body["uow_id"] == "refunds"


@pytest.mark.parametrize(("final", "raised"), [("EXPIRED", Expired), ("CANCELLED", Cancelled)])
def test_the_decorator_never_runs_the_function_when_expired_or_cancelled(
    stub: StubServer, clock: FakeClock, final: str, raised: type[DecisionError]
) -> None:
    decorated_stub(stub, final)
    calls: list[str] = []

    @require_approval(make_client(stub, clock))
    def act() -> None:
        calls.append("ran")

    with pytest.raises(raised):
        act()
    assert calls == []


def test_the_decorator_can_mark_the_request_completed(stub: StubServer, clock: FakeClock) -> None:
    decorated_stub(stub, "APPROVED")

    @require_approval(make_client(stub, clock), complete=True)
    def act() -> int:
        return 7

    assert act() == 7
    assert len(stub.sent("POST", IV + "/complete")) == 1


def test_the_async_decorator_runs_once_approved_without_blocking_the_loop(stub: StubServer, clock: FakeClock) -> None:
    decorated_stub(stub, "APPROVED")
    answers = pending_then("APPROVED", 2)

    def slowly(request: Recorded) -> Reply:
        time.sleep(0.05)  # the stub's thread, not the event loop
        return answers.pop(0)

    stub.on("GET", IV, slowly)
    calls: list[str] = []
    blocking_sleeps: list[float] = []
    client = Client(stub.url, "t", clock=clock.clock, sleep=blocking_sleeps.append, async_sleep=clock.async_sleep)

    @require_approval(client, uow_id="jobs")
    async def act(name: str) -> str:
        calls.append(name)
        return name.upper()

    async def main() -> tuple[str, int]:
        ticks = 0
        done = threading.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.001)

        task = asyncio.create_task(ticker())
        try:
            result = await act("x")
        finally:
            done.set()
            await task
        return result, ticks

    assert inspect.iscoroutinefunction(act)
    result, ticks = asyncio.run(main())

    assert result == "X" and calls == ["x"]
    assert blocking_sleeps == []  # every pause was asyncio's
    assert len(clock.sleeps) == 3
    assert ticks >= 20  # the loop kept running through the 150 ms of polls


def test_the_async_decorator_never_runs_the_function_when_rejected(stub: StubServer, clock: FakeClock) -> None:
    decorated_stub(stub, "REJECTED")
    calls: list[str] = []

    @require_approval(make_client(stub, clock))
    async def act() -> None:
        calls.append("ran")

    with pytest.raises(Rejected):
        asyncio.run(act())
    assert calls == []


# ------------------------------------------------------------------ the context


def describe(function: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    return call_context(function.__qualname__, inspect.signature(function), args, kwargs)


def test_arguments_that_are_not_json_become_their_repr() -> None:
    class Order:
        def __repr__(self) -> str:
            return "Order(42)"

    def act(order: Any, amounts: tuple[float, ...], *rest: Any, flag: bool = False, **more: Any) -> None: ...

    context = describe(act, Order(), (1.5, float("nan")), {1, 2}, extra={"k": b"v"})

    assert context["arguments"] == {
        "order": "Order(42)",
        "amounts": [1.5, "nan"],
        "rest": ["{1, 2}"],
        "flag": False,
        "more": {"extra": {"k": "b'v'"}},
    }
    assert "truncated" not in context
    json.dumps(context, allow_nan=False)


def test_a_context_over_16_kib_is_cut_to_fit_and_says_so() -> None:
    def act(small: str, big: str, other: list[int]) -> None: ...

    context = describe(act, "keep me", "x" * 40_000, list(range(5000)))

    assert json_size(context) <= MAX_CONTEXT_BYTES
    assert json_size(context) > MAX_CONTEXT_BYTES - 200  # cut no more than needed
    assert context["truncated"] is True
    assert context["arguments"]["small"] == "keep me"
    assert context["arguments"]["big"].endswith("…") and context["arguments"]["other"].endswith("…")


def test_multibyte_text_is_measured_in_bytes() -> None:
    def act(text: str) -> None: ...

    context = describe(act, "é" * 9000)  # 18,000 bytes, 9,000 characters

    assert json_size(context) <= MAX_CONTEXT_BYTES and context["truncated"] is True


def test_a_context_of_exactly_the_limit_is_kept_whole() -> None:
    def act(text: str) -> None: ...

    overhead = json_size(describe(act, ""))
    context = describe(act, "a" * (MAX_CONTEXT_BYTES - overhead))

    assert json_size(context) == MAX_CONTEXT_BYTES and "truncated" not in context


def test_too_many_arguments_are_left_out_by_name() -> None:
    def act(**many: Any) -> None: ...

    context = call_context("act", inspect.signature(act), (), {}, {"note": "n" * 16_360})

    assert context["arguments"] == {} and context["truncated"] is True and context["note"]
