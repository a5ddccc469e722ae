"""The client against a stub HTTP server: retries and their budget, idempotency keys, error mapping,
pages, and the request it builds."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from conftest import DROP, FakeClock, Reply, StubServer, free_port, intervention, job
from oversight_client import (
    Client,
    Conflict,
    Forbidden,
    IdempotencyKeyReused,
    InternalError,
    Intervention,
    InvalidTransition,
    NotFound,
    OversightError,
    PayloadTooLarge,
    RecordExpired,
    ServiceUnavailable,
    Status,
    TransportError,
    Unauthorized,
    UnexpectedResponse,
    ValidationFailed,
)

IV = r"/interventions/[^/]+"


def make_client(stub: StubServer, clock: FakeClock, **options: Any) -> Client:
    return Client(stub.url, "token-1", sleep=clock.sleep, clock=clock.clock, random=lambda: 0.5, **options)


def unavailable(retry_after: str | None = None) -> Reply:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    body = {"code": "service_unavailable", "message": "DynamoDB throttled; correlation id abc-123"}
    return Reply(503, body, headers)


# ------------------------------------------------------------------ retries


def test_a_503_is_retried_after_the_seconds_of_retry_after(stub: StubServer, clock: FakeClock) -> None:
    stub.on("GET", IV, unavailable("3"), unavailable("2"), Reply(200, intervention()))

    got = make_client(stub, clock).get_intervention("iv-1")

    assert got.id == "iv-1"
    assert len(stub.sent("GET")) == 3
    # Retry-After honoured (plus at most 10 % jitter, here 5 %).
    assert clock.sleeps == pytest.approx([3.15, 2.1])


def test_a_retry_after_far_off_is_capped(stub: StubServer, clock: FakeClock) -> None:
    stub.on("GET", IV, unavailable("86400"), Reply(200, intervention()))

    make_client(stub, clock).get_intervention("iv-1")

    assert clock.sleeps == [30.0]


def test_without_retry_after_the_pauses_double_and_never_go_under_a_second(stub: StubServer, clock: FakeClock) -> None:
    stub.on("GET", IV, unavailable(), unavailable(), unavailable(), unavailable(), Reply(200, intervention()))

    make_client(stub, clock).get_intervention("iv-1")

    assert clock.sleeps == pytest.approx([1.25, 2.5, 5.0, 10.0])
    assert min(clock.sleeps) >= 1.0


def test_a_dropped_connection_is_retried(stub: StubServer, clock: FakeClock) -> None:
    stub.on("GET", IV, DROP, Reply(200, intervention()))

    got = make_client(stub, clock).get_intervention("iv-1")

    assert got.status == Status.PENDING
    assert len(stub.sent("GET")) == 2
    assert len(clock.sleeps) == 1


def test_the_retry_budget_ends_in_the_last_error(stub: StubServer, clock: FakeClock) -> None:
    stub.on("GET", IV, unavailable("1"))
    client = make_client(stub, clock, max_retries=2)

    with pytest.raises(ServiceUnavailable) as raised:
        client.get_intervention("iv-1")

    assert len(stub.sent("GET")) == 3  # the first try and 2 retries
    assert raised.value.retry_after == 1.0
    assert raised.value.correlation_id == "abc-123"


def test_max_retries_zero_tries_once(stub: StubServer, clock: FakeClock) -> None:
    stub.on("GET", IV, DROP)

    with pytest.raises(TransportError):
        make_client(stub, clock, max_retries=0).get_intervention("iv-1")

    assert len(stub.sent("GET")) == 1
    assert clock.sleeps == []


def test_a_refused_connection_is_retried_then_a_transport_error(clock: FakeClock) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    client = Client(nobody, "t", sleep=clock.sleep, clock=clock.clock, random=lambda: 0.0, max_retries=3)

    with pytest.raises(TransportError) as raised:
        client.approve("iv-1", "fine")  # not idempotent, but it never reached a server

    assert len(clock.sleeps) == 3
    assert raised.value.status == 0 and raised.value.code == "transport_error"
    assert "connection refused" in raised.value.message and "after 3 retries" in raised.value.message
    assert isinstance(raised.value, OversightError)


def test_nothing_else_is_retried(stub: StubServer, clock: FakeClock) -> None:
    stub.on("GET", IV, Reply(500, {"code": "internal_error", "message": "boom; correlation id x"}))

    with pytest.raises(InternalError):
        make_client(stub, clock).get_intervention("iv-1")

    assert len(stub.sent("GET")) == 1


def test_a_decision_whose_answer_was_lost_is_not_sent_again(stub: StubServer, clock: FakeClock) -> None:
    stub.on("POST", IV + "/approve", DROP, Reply(200, intervention("APPROVED")))

    with pytest.raises(TransportError) as raised:
        make_client(stub, clock).approve("iv-1", "fine")

    assert len(stub.sent("POST")) == 1
    assert "may have been applied" in raised.value.message


def test_a_decision_is_retried_after_a_503(stub: StubServer, clock: FakeClock) -> None:
    stub.on("POST", IV + "/approve", unavailable("1"), Reply(200, intervention("APPROVED")))

    assert make_client(stub, clock).approve("iv-1", "fine").status == Status.APPROVED
    assert len(stub.sent("POST")) == 2


# ------------------------------------------------------------------ idempotency


def test_a_create_sends_an_idempotency_key_and_reuses_it_on_retry(stub: StubServer, clock: FakeClock) -> None:
    stub.on("POST", "/interventions", DROP, unavailable("1"), Reply(201, intervention()))
    client = make_client(stub, clock)

    client.create_intervention(uow_id="order-42", type="approval", title="Refund?")

    keys = [r.header("Idempotency-Key") for r in stub.sent("POST")]
    assert len(keys) == 3
    assert keys[0] and len(set(keys)) == 1
    assert len(keys[0]) == 36  # a uuid4


def test_each_create_call_gets_its_own_key_unless_given_one(stub: StubServer, clock: FakeClock) -> None:
    stub.on("POST", "/interventions", Reply(201, intervention()))
    stub.on("POST", "/jobs", Reply(202, job()))
    client = make_client(stub, clock)

    client.create_intervention(uow_id="u", type="approval", title="a")
    client.create_intervention(uow_id="u", type="approval", title="a")
    client.create_intervention(uow_id="u", type="approval", title="a", idempotency_key="mine-1")
    client.submit("recompute_stats")
    client.submit("recompute_stats", idempotency_key="mine-2")

    keys = [r.header("Idempotency-Key") for r in stub.sent("POST")]
    assert keys[0] != keys[1] and None not in keys
    assert keys[2] == "mine-1" and keys[4] == "mine-2"
    assert keys[3] not in keys[:3]


def test_a_create_retry_that_meets_its_first_attempt_in_flight_waits_for_it(stub: StubServer, clock: FakeClock) -> None:
    in_flight = Reply(409, {"code": "conflict", "message": "the same Idempotency-Key is still in flight"})
    stub.on("POST", "/interventions", DROP, in_flight, Reply(201, intervention(), {"Idempotent-Replayed": "true"}))

    created = make_client(stub, clock).create_intervention(uow_id="u", type="approval", title="a")

    assert created.id == "iv-1"
    assert len(stub.sent("POST")) == 3


def test_a_first_conflict_on_create_is_not_retried(stub: StubServer, clock: FakeClock) -> None:
    stub.on("POST", "/interventions", Reply(409, {"code": "conflict", "message": "in flight"}))

    with pytest.raises(Conflict):
        make_client(stub, clock).create_intervention(uow_id="u", type="approval", title="a")

    assert len(stub.sent("POST")) == 1


def test_other_posts_send_no_idempotency_key(stub: StubServer, clock: FakeClock) -> None:
    stub.on("POST", IV + "/claim", Reply(200, intervention("IN_PROGRESS")))

    make_client(stub, clock).claim("iv-1")

    assert stub.sent("POST")[0].header("Idempotency-Key") is None


# ------------------------------------------------------------------ errors

ERRORS = [
    (401, "unauthorized", Unauthorized),
    (403, "forbidden", Forbidden),
    (404, "not_found", NotFound),
    (409, "invalid_transition", InvalidTransition),
    (409, "expired", RecordExpired),
    (409, "conflict", Conflict),
    (413, "payload_too_large", PayloadTooLarge),
    (422, "validation_error", ValidationFailed),
    (422, "idempotency_key_reused", IdempotencyKeyReused),
    (500, "internal_error", InternalError),
    (503, "service_unavailable", ServiceUnavailable),
]


@pytest.mark.parametrize(("status", "code", "cls"), ERRORS, ids=[code for _, code, _ in ERRORS])
def test_each_error_code_raises_its_class(
    stub: StubServer, clock: FakeClock, status: int, code: str, cls: type[OversightError]
) -> None:
    details = [{"field": "title", "message": "too long"}]
    stub.on("POST", "/interventions", Reply(status, {"code": code, "message": f"say {code}", "details": details}))

    with pytest.raises(cls) as raised:
        make_client(stub, clock, max_retries=0).create_intervention(uow_id="u", type="approval", title="a")

    error = raised.value
    assert type(error) is cls
    assert (error.status, error.code, error.message, error.details) == (status, code, f"say {code}", details)
    assert code in str(error) and str(status) in str(error)
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes; errors cross process pools intact
    assert type(copy) is cls and (copy.status, copy.code, copy.details) == (status, code, details)


def test_api_gateways_own_401_without_a_code_is_unauthorized(stub: StubServer, clock: FakeClock) -> None:
    stub.on("GET", IV, Reply(401, {"message": "Unauthorized"}))

    with pytest.raises(Unauthorized) as raised:
        make_client(stub, clock).get_intervention("iv-1")

    assert raised.value.code == "unauthorized" and raised.value.message == "Unauthorized"


def test_an_unknown_code_falls_back_on_the_status(stub: StubServer, clock: FakeClock) -> None:
    stub.on("GET", IV, Reply(404, {"code": "gone_fishing", "message": "?"}))
    stub.on("GET", "/jobs/j", Reply(418, {"code": "teapot", "message": "short and stout"}))
    client = make_client(stub, clock)

    with pytest.raises(NotFound):
        client.get_intervention("iv-1")
    with pytest.raises(OversightError) as raised:
        client.get_job("j")
    assert type(raised.value) is OversightError and raised.value.code == "teapot"


def test_a_500_names_its_correlation_id(stub: StubServer, clock: FakeClock) -> None:
    message = "Internal error; correlation id 6f1c2a9e-1b0d-4c5e-9a7f-3d2b1c0e9f8a"
    stub.on("GET", IV, Reply(500, {"code": "internal_error", "message": message}))

    with pytest.raises(InternalError) as raised:
        make_client(stub, clock).get_intervention("iv-1")

    assert raised.value.correlation_id == "6f1c2a9e-1b0d-4c5e-9a7f-3d2b1c0e9f8a"


def test_an_error_body_that_is_not_json_keeps_its_text(stub: StubServer, clock: FakeClock) -> None:
    stub.on("GET", IV, Reply(502, "<html>Bad Gateway</html>", {"Content-Type": "text/plain"}))

    with pytest.raises(OversightError) as raised:
        make_client(stub, clock).get_intervention("iv-1")

    assert raised.value.status == 502 and "Bad Gateway" in raised.value.message


def test_a_record_missing_a_field_is_an_unexpected_response(stub: StubServer, clock: FakeClock) -> None:
    broken = intervention()
    del broken["status"]
    stub.on("GET", IV, Reply(200, broken))

    with pytest.raises(UnexpectedResponse, match="status"):
        make_client(stub, clock).get_intervention("iv-1")


# ------------------------------------------------------------------ pages and requests


def test_lists_follow_next_cursor_one_page_at_a_time(stub: StubServer, clock: FakeClock) -> None:
    def page(request: Any) -> Reply:
        cursor = request.query.get("cursor", [""])[0]
        number = int(cursor or 0)
        items = [intervention(id=f"iv-{number}-{i}") for i in range(2)]
        return Reply(200, {"items": items, "next_cursor": str(number + 1) if number < 2 else None})

    stub.on("GET", "/interventions", page)
    listing = make_client(stub, clock).interventions(status="OPEN", priority="high", limit=2)

    first = next(listing)
    assert first.id == "iv-0-0" and len(stub.sent("GET")) == 1  # lazily: one page read so far
    rest = [item.id for item in listing]

    assert rest == ["iv-0-1", "iv-1-0", "iv-1-1", "iv-2-0", "iv-2-1"]
    queries = [r.query for r in stub.sent("GET")]
    assert [q.get("cursor") for q in queries] == [None, ["1"], ["2"]]
    assert all(q["status"] == ["OPEN"] and q["priority"] == ["high"] and q["limit"] == ["2"] for q in queries)


def test_events_logs_and_jobs_iterate_too(stub: StubServer, clock: FakeClock) -> None:
    event = {
        "at": "2026-01-31T09:30:00Z",
        "actor": "a",
        "action": "create",
        "from_status": None,
        "to_status": "PENDING",
    }
    line = {"at": "2026-01-31T09:30:00Z", "level": "INFO", "message": "hi"}
    stub.on("GET", IV + "/events", Reply(200, {"items": [event], "next_cursor": "c"}), Reply(200, {"items": [event]}))
    stub.on("GET", "/jobs/job-1/logs", Reply(200, {"items": [line, line], "next_cursor": None}))
    stub.on("GET", "/jobs", Reply(200, {"items": [job(), job(id="job-2")], "next_cursor": None}))
    client = make_client(stub, clock)

    assert [e.action for e in client.events("iv-1")] == ["create", "create"]
    assert [entry.message for entry in client.logs("job-1")] == ["hi", "hi"]
    assert [j.id for j in client.jobs(status="COMPLETED")] == ["job-1", "job-2"]


def test_requests_carry_the_token_json_and_a_quoted_path(stub: StubServer, clock: FakeClock) -> None:
    stub.on("POST", r"/interventions/.+/approve", Reply(200, intervention("APPROVED")))

    make_client(stub, clock).approve("a/b c", "ok", response={"answer": 42})

    sent = stub.sent("POST")[0]
    assert sent.path == "/interventions/a%2Fb%20c/approve"
    assert sent.header("Authorization") == "Bearer token-1"
    assert sent.header("Content-Type") == "application/json"
    assert sent.header(
        "User-Agent",
    ).startswith("oversight-client/")
    assert sent.body == {"reason": "ok", "response": {"answer": 42}}


def test_create_sends_only_the_fields_given(stub: StubServer, clock: FakeClock) -> None:
    stub.on("POST", "/interventions", Reply(201, intervention()))
    from oversight_client import Escalation, Priority

    make_client(stub, clock).create_intervention(
        uow_id="u",
        type="approval",
        title="t",
        priority=Priority.HIGH,
        required_approvals=2,
        escalation=Escalation(after_seconds=600, to_role="lead"),
    )

    assert stub.sent("POST")[0].body == {
        "uow_id": "u",
        "type": "approval",
        "title": "t",
        "priority": "high",
        "required_approvals": 2,
        "escalation": {"after_seconds": 600, "to_role": "lead", "priority": None},
    }


def test_a_token_function_is_asked_for_every_request(stub: StubServer, clock: FakeClock) -> None:
    stub.on("GET", IV, Reply(200, intervention()))
    tokens = iter(["one", "two"])
    client = Client(stub.url, lambda: next(tokens), sleep=clock.sleep)

    client.get_intervention("iv-1")
    client.get_intervention("iv-1")

    assert [r.header("Authorization") for r in stub.sent("GET")] == ["Bearer one", "Bearer two"]


def test_a_base_path_is_kept(stub: StubServer, clock: FakeClock) -> None:
    stub.on("GET", "/prod/interventions/iv-1", Reply(200, intervention()))

    Client(stub.url + "/prod/", "t").get_intervention("iv-1")

    assert stub.sent("GET")[0].path == "/prod/interventions/iv-1"


def test_from_env_reads_the_url_and_token() -> None:
    client = Client.from_env({"OVERSIGHT_URL": "http://127.0.0.1:8100/", "OVERSIGHT_TOKEN": "abc"}, timeout=3)

    assert client.url == "http://127.0.0.1:8100" and client.timeout == 3
    with pytest.raises(ValueError, match="OVERSIGHT_URL"):
        Client.from_env({})
    with pytest.raises(ValueError, match="http"):
        Client("ftp://example.com")


def test_stats_webhooks_and_tools_are_typed(stub: StubServer, clock: FakeClock) -> None:
    figures = {"total": 1, "open": 1, "by_status": {"PENDING": 1}, "by_type": {}, "by_priority": {}}
    figures |= {"avg_resolution_seconds": None, "resolution_seconds_p50": None, "resolution_seconds_p95": None}
    figures |= {"top_responders": [{"user": "ana", "count": 3}]}
    jobs = {"total": 0, "by_status": {}, "success_rate": None, "top_tools": [], "avg_duration_seconds": 2}
    stub.on("GET", "/stats", Reply(200, {"interventions": figures, "jobs": jobs, "generated_at": "2026-01-31T09:30Z"}))
    stub.on("GET", "/stats/daily", Reply(200, {"days": [{"date": "2026-01-31", "created": 4}]}))
    hook = {"id": "w1", "url": "https://h", "events": ["*"], "description": "", "created_at": "2026-01-31T09:30:00Z"}
    hook |= {"created_by": "root"}
    stub.on("GET", "/webhooks", Reply(200, {"items": [hook], "next_cursor": None}))
    stub.on("POST", "/webhooks", Reply(201, {**hook, "secret": "s3cr3t"}))
    stub.on("DELETE", "/webhooks/w1", Reply(204))
    tool = {"name": "t", "description": "d", "parameters_schema": {}, "cacheable": True, "timeout_seconds": 60}
    stub.on("GET", "/tools", Reply(200, {"items": [tool]}))
    client = make_client(stub, clock)

    stats = client.stats()
    assert stats.interventions.top_responders[0].user == "ana" and stats.jobs.avg_duration_seconds == 2.0
    assert client.daily_stats(7).days[0].created == 4
    assert stub.sent("GET", "/stats/daily")[0].query == {"days": ["7"]}
    assert client.webhooks()[0].enabled is True
    assert client.create_webhook("https://h", ["Intervention Approved"]).secret == "s3cr3t"
    assert stub.sent("POST", "/webhooks")[0].body == {
        "url": "https://h",
        "events": ["Intervention Approved"],
        "description": "",
    }
    assert client.delete_webhook("w1") is None
    assert client.tools()[0].name == "t"


def test_intervention_records_are_models(stub: StubServer, clock: FakeClock) -> None:
    stub.on("GET", IV, Reply(200, intervention(approvals=[{"user": "a", "at": "2026-01-31T09:30:00Z", "reason": "r"}])))

    got = make_client(stub, clock).get_intervention("iv-1")

    assert isinstance(got, Intervention)
    assert got.approvals[0].user == "a" and got.created_at.tzinfo is not None


def test_retry_after_may_be_an_http_date() -> None:
    from datetime import UTC, datetime

    from oversight_client.retries import parse_retry_after

    now = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)

    assert parse_retry_after("Sat, 31 Jan 2026 09:30:07 GMT", lambda: now) == 7.0
    assert parse_retry_after("Sat, 31 Jan 2026 09:29:00 GMT", lambda: now) == 0.0
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
