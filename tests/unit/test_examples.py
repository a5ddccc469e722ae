"""The examples of docs/integrations.md, run as a pipeline would run them:
the webhook receiver's `verify()` against a signer written here from the
delivery contract (not the receiver's code), the receiver as a real HTTP
server, the state machine's wiring, and the request function against a
small local API and token endpoint. Ports 8800-8899."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.client
import importlib.util
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar
from urllib.parse import parse_qs

import pytest

from tests.conftest import ROOT

EXAMPLES = ROOT / "examples"
PORTS = range(8800, 8900)
SECRET = "q8YxJ0m4cBvTnQe2WkzR7pLs1aHdUf9gVi3oXy5jN6E"  # 43 URL-safe base64 characters, as subscriptions get
EVENT = {
    "event_id": "6f1c2b1e-8a4d-5c7e-9f10-2b3c4d5e6f70",
    "tenant": "acme",
    "at": "2025-03-01T12:00:00Z",
    "action": "approve",
    "actor": "pilot-ana",
    "version": 3,
    "intervention": {"id": "01JNK8Q3", "status": "APPROVED", "title": "Promote 4.2 to prod"},
}
NOW = 1_740_830_400


def load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


receiver = load("example_webhook_receiver", EXAMPLES / "webhook_receiver.py")
request_approval = load("example_request_approval", EXAMPLES / "request_approval" / "app.py")


def signed_delivery(
    event: Any = None, secret: str = SECRET, timestamp: int = NOW, message_id: str | None = None
) -> tuple[dict[str, str], bytes]:
    """Headers and body as the contract has Oversight send them: the body is
    the compact JSON of the detail; the signature is `v1,` + base64 of the
    HMAC-SHA256, keyed with the secret's UTF-8 bytes, of id.timestamp.body."""
    event = EVENT if event is None else event
    message_id = message_id or event["event_id"]
    body = json.dumps(event, separators=(",", ":")).encode()
    digest = hmac.new(secret.encode(), f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    headers = {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }
    return headers, body


# ---------------------------------------------------------------- verify()


def test_verify_returns_the_event_of_a_signed_delivery() -> None:
    headers, body = signed_delivery()
    assert receiver.verify(SECRET, headers, body, now=NOW) == EVENT


def test_verify_reads_header_names_in_any_case_and_accepts_a_timestamp_within_five_minutes() -> None:
    headers, body = signed_delivery()
    shouted = {name.title(): value for name, value in headers.items()}
    assert receiver.verify(SECRET, shouted, body, now=NOW + 300) == EVENT
    assert receiver.verify(SECRET, shouted, body, now=NOW - 300) == EVENT


def test_verify_accepts_either_secret_while_one_is_rotated() -> None:
    headers, body = signed_delivery(secret="the-new-secret-of-the-new-subscription")
    assert receiver.verify([SECRET, "the-new-secret-of-the-new-subscription"], headers, body, now=NOW) == EVENT


def test_verify_finds_the_matching_one_among_several_signatures() -> None:
    headers, body = signed_delivery()
    headers["webhook-signature"] = (
        "v1a,ignored v1," + base64.b64encode(b"x" * 32).decode() + " " + headers["webhook-signature"]
    )
    assert receiver.verify(SECRET, headers, body, now=NOW) == EVENT


def test_verify_refuses_a_tampered_body() -> None:
    headers, body = signed_delivery()
    tampered = body.replace(b'"APPROVED"', b'"REJECTED"')
    assert tampered != body
    with pytest.raises(receiver.InvalidDelivery, match="does not match"):
        receiver.verify(SECRET, headers, tampered, now=NOW)


def test_verify_refuses_a_changed_id_or_timestamp() -> None:
    headers, body = signed_delivery()
    for name, value in (("webhook-id", "another-event"), ("webhook-timestamp", str(NOW + 1))):
        with pytest.raises(receiver.InvalidDelivery, match="does not match"):
            receiver.verify(SECRET, {**headers, name: value}, body, now=NOW)


def test_verify_refuses_another_secret() -> None:
    headers, body = signed_delivery(secret="not-the-subscription-secret")
    with pytest.raises(receiver.InvalidDelivery, match="does not match"):
        receiver.verify(SECRET, headers, body, now=NOW)


@pytest.mark.parametrize(("offset", "word"), [(301, "old"), (-301, "in the future"), (86_400, "old")])
def test_verify_refuses_a_timestamp_more_than_five_minutes_away(offset: int, word: str) -> None:
    headers, body = signed_delivery()
    with pytest.raises(receiver.InvalidDelivery, match=word):
        receiver.verify(SECRET, headers, body, now=NOW + offset)


def test_verify_uses_the_clock_when_no_time_is_given() -> None:
    headers, body = signed_delivery(timestamp=int(time.time()))
    assert receiver.verify(SECRET, headers, body) == EVENT
    stale_headers, stale_body = signed_delivery(timestamp=int(time.time()) - 600)
    with pytest.raises(receiver.InvalidDelivery, match="old"):
        receiver.verify(SECRET, stale_headers, stale_body)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_verify_refuses_a_missing_header(missing: str) -> None:
    headers, body = signed_delivery()
    del headers[missing]
    with pytest.raises(receiver.InvalidDelivery, match=f"missing header {missing}"):
        receiver.verify(SECRET, headers, body, now=NOW)


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        ("not-a-signature", "no v1"),
        ("v1", "no v1"),
        ("v1,@@not base64@@", "no v1"),
        ("v2,c2lnbmF0dXJl", "no v1"),
        ("v1,c2lnbmF0dXJl", "does not match"),  # valid base64, wrong bytes
    ],
)
def test_verify_refuses_a_malformed_signature(signature: str, message: str) -> None:
    headers, body = signed_delivery()
    with pytest.raises(receiver.InvalidDelivery, match=message):
        receiver.verify(SECRET, {**headers, "webhook-signature": signature}, body, now=NOW)


@pytest.mark.parametrize("timestamp", ["1740830400.5", "-1740830400", "soon", "١٧٤٠٨٣٠٤٠٠"])
def test_verify_refuses_a_timestamp_that_is_not_unix_seconds(timestamp: str) -> None:
    headers, body = signed_delivery()
    with pytest.raises(receiver.InvalidDelivery, match="not Unix seconds"):
        receiver.verify(SECRET, {**headers, "webhook-timestamp": timestamp}, body, now=NOW)


def test_verify_refuses_a_signed_body_that_is_not_a_json_object() -> None:
    headers, body = signed_delivery(event=[1, 2], message_id="m-1")
    with pytest.raises(receiver.InvalidDelivery, match="not a JSON object"):
        receiver.verify(SECRET, headers, body, now=NOW)


def test_the_standard_webhooks_key_of_the_docs_is_the_secrets_bytes() -> None:
    """docs/integrations.md: Standard Webhooks libraries take `whsec_` +
    base64(key) and decode it; that must give back the secret's bytes."""
    text = (EXAMPLES.parent / "docs" / "integrations.md").read_text()
    assert '"whsec_" + base64.b64encode(secret.encode()).decode()' in text
    whsec = "whsec_" + base64.b64encode(SECRET.encode()).decode()
    assert base64.b64decode(whsec.removeprefix("whsec_")) == SECRET.encode()


def test_the_docs_quote_verify_as_it_is() -> None:
    """docs/integrations.md shows verify(); the quote must be the code."""
    source = (EXAMPLES / "webhook_receiver.py").read_text()
    start = source.index("def verify(")
    quoted = source[start : source.index("\n\n\n", start)]
    assert quoted in (EXAMPLES.parent / "docs" / "integrations.md").read_text()


# ---------------------------------------------------------------- the receiver over HTTP

Server = TypeVar("Server", bound=HTTPServer)


def bind_in_range(make: Callable[[int], Server]) -> Server:
    """The first port of 8800-8899 that is free."""
    for port in PORTS:
        try:
            return make(port)
        except OSError:
            continue
    pytest.fail("no free port in 8800-8899")


@contextlib.contextmanager
def serving(server: Server) -> Iterator[Server]:
    """`server` answering on a thread of its own until the block ends."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class Processed:
    """What the receiver's worker was handed; `gate` can hold the worker."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, event: dict) -> None:
        assert self.gate.wait(timeout=10)
        self.events.append(event)


@pytest.fixture
def processed() -> Processed:
    return Processed()


@pytest.fixture
def running(processed: Processed) -> Iterator[Any]:
    server = bind_in_range(lambda port: receiver.WebhookReceiver(("127.0.0.1", port), [SECRET], processed))
    with serving(server):
        yield server


def post(server: HTTPServer, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=5)
    try:
        connection.request("POST", "/oversight", body=body, headers=headers)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def test_the_receiver_answers_204_and_processes_a_good_delivery(running: Any, processed: Processed) -> None:
    status, body = post(running, *signed_delivery(timestamp=int(time.time())))
    running.events.join()
    assert (status, body) == (204, b"")
    assert processed.events == [EVENT]


def test_the_receiver_answers_401_to_a_bad_signature_and_processes_nothing(running: Any, processed: Processed) -> None:
    headers, body = signed_delivery(secret="someone-else-entirely", timestamp=int(time.time()))
    status, answer = post(running, headers, body)
    running.events.join()
    assert status == 401
    assert "does not match" in json.loads(answer)["error"]
    assert processed.events == []


def test_the_receiver_answers_401_to_a_replayed_old_delivery(running: Any, processed: Processed) -> None:
    status, _ = post(running, *signed_delivery(timestamp=int(time.time()) - 3600))
    running.events.join()
    assert status == 401
    assert processed.events == []


def test_the_receiver_answers_2xx_to_a_duplicate_without_processing_it_again(
    running: Any, processed: Processed
) -> None:
    first = signed_delivery(timestamp=int(time.time()))
    retry = signed_delivery(timestamp=int(time.time()) + 1)  # a retry: the same id, a new timestamp and signature
    assert post(running, *first)[0] == 204
    assert post(running, *retry)[0] == 204
    running.events.join()
    assert processed.events == [EVENT]


def test_a_bad_delivery_with_a_known_id_is_refused_and_does_not_block_the_real_one(
    running: Any, processed: Processed
) -> None:
    headers, body = signed_delivery(secret="forged-by-someone-else", timestamp=int(time.time()))
    assert post(running, headers, body)[0] == 401
    assert post(running, *signed_delivery(timestamp=int(time.time())))[0] == 204
    running.events.join()
    assert processed.events == [EVENT]


def test_the_receiver_answers_before_the_event_is_processed(running: Any, processed: Processed) -> None:
    processed.gate.clear()  # the processing step is slow: it waits until released
    started = time.monotonic()
    status, _ = post(running, *signed_delivery(timestamp=int(time.time())))
    answered_in = time.monotonic() - started
    assert status == 204
    assert processed.events == []
    assert answered_in < 2
    processed.gate.set()
    running.events.join()
    assert processed.events == [EVENT]


def test_fail_first_refuses_the_first_attempts_then_takes_the_retry(processed: Processed) -> None:
    server = bind_in_range(
        lambda port: receiver.WebhookReceiver(("127.0.0.1", port), [SECRET], processed, fail_first=2)
    )
    with serving(server) as running:
        statuses = [post(running, *signed_delivery(timestamp=int(time.time())))[0] for _ in range(3)]
        running.events.join()
        assert statuses == [503, 503, 204]
        assert processed.events == [EVENT]


def test_an_older_version_arriving_late_is_not_applied(capsys: pytest.CaptureFixture[str]) -> None:
    applied: list[int] = []
    latest = receiver.LatestVersions(lambda event: applied.append(event["version"]))
    for version in (1, 3, 2, 3, 4):
        latest({**EVENT, "version": version})
    assert applied == [1, 3, 4]
    assert capsys.readouterr().out.count("not applied") == 2


def test_recent_ids_forget_the_oldest_past_their_limit() -> None:
    ids = receiver.RecentIds(limit=2)
    # "a" seen again is the most recent one, so "c" pushes out "b".
    assert [ids.add(name) for name in ("a", "b", "a", "c")] == [True, True, False, True]
    assert ids.add("a") is False
    assert ids.add("b") is True


def test_the_command_line_needs_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OVERSIGHT_WEBHOOK_SECRET", raising=False)
    with pytest.raises(SystemExit) as stopped:
        receiver.main(["--port", "8899"])
    assert stopped.value.code == 2


# ---------------------------------------------------------------- the state machine

ASL = json.loads((EXAMPLES / "approval-state-machine.asl.json").read_text())
STATES: dict[str, dict[str, Any]] = ASL["States"]
OUTCOME_ERRORS = ["Oversight.Rejected", "Oversight.Expired", "Oversight.Cancelled", "States.Timeout", "States.ALL"]
# The contract's retry schedule of a callback after the first attempt: 30 s, then 1, 2, 4, 8, 16, 32 min.
CALLBACK_RETRY_SECONDS = 30 + 60 * (1 + 2 + 4 + 8 + 16 + 32)


def transitions(state: dict[str, Any]) -> list[str]:
    targets = [state.get("Next"), state.get("Default")]
    targets += [choice["Next"] for choice in state.get("Choices", [])]
    targets += [catcher["Next"] for catcher in state.get("Catch", [])]
    return [target for target in targets if target]


def request_task() -> dict[str, Any]:
    return STATES["RequestApproval"]


def test_every_transition_names_a_state_and_every_state_is_reachable() -> None:
    assert ASL["StartAt"] in STATES
    for name, state in STATES.items():
        for target in transitions(state):
            assert target in STATES, f"{name} -> {target}"
        if state["Type"] not in {"Choice", "Succeed", "Fail"}:
            assert state.get("End") is True or "Next" in state, f"{name} neither ends nor goes on"
    reached, frontier = set(), [ASL["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name not in reached:
            reached.add(name)
            frontier += transitions(STATES[name])
    assert reached == set(STATES)


def test_the_task_waits_for_the_token_and_passes_it_to_the_request_function() -> None:
    task = request_task()
    assert task["Type"] == "Task"
    assert task["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert task["Parameters"]["FunctionName"] == "${RequestApprovalFunctionArn}"
    payload = task["Parameters"]["Payload"]
    assert payload["task_token.$"] == "$$.Task.Token"
    assert {"uow_id.$", "type", "title.$"} <= set(payload)


def test_the_task_outlasts_the_request_and_every_retry_of_its_callback_and_sets_no_heartbeat() -> None:
    task = request_task()
    expires = task["Parameters"]["Payload"]["expires_in_seconds"]
    assert task["TimeoutSeconds"] > expires + 60 + CALLBACK_RETRY_SECONDS  # + the sweep's minute
    assert "HeartbeatSeconds" not in task


def test_each_outcome_of_the_contract_is_caught_into_a_state_of_its_own() -> None:
    catchers = request_task()["Catch"]
    caught = [error for catcher in catchers for error in catcher["ErrorEquals"]]
    assert sorted(caught) == sorted(OUTCOME_ERRORS)
    assert catchers[-1]["ErrorEquals"] == ["States.ALL"]  # ASL: States.ALL alone, last
    targets = [catcher["Next"] for catcher in catchers]
    assert len(set(targets)) == len(targets)
    assert all(target in STATES for target in targets)
    assert all(catcher.get("ResultPath") == "$.error" for catcher in catchers)  # keeps the input for what follows


def test_success_goes_on_only_for_an_approval() -> None:
    choice = STATES[request_task()["Next"]]
    assert choice["Type"] == "Choice"
    (rule,) = choice["Choices"]
    assert (rule["Variable"], rule["StringEquals"]) == ("$.approval.status", "APPROVED")
    assert STATES[choice["Default"]]["Type"] == "Fail"
    assert "$.approval.response" in STATES[rule["Next"]]["Parameters"].values()


def test_the_docs_use_the_state_machine_with_its_substitution() -> None:
    text = (EXAMPLES.parent / "docs" / "integrations.md").read_text()
    assert "AWS::Serverless::StateMachine" in text
    assert "approval-state-machine.asl.json" in text
    assert "RequestApprovalFunctionArn: !GetAtt RequestApprovalFunction.Arn" in text


# ---------------------------------------------------------------- the request function


class FakeOversight(ThreadingHTTPServer):
    """POST /interventions and POST /oauth2/token, answering from a script;
    every request is recorded."""

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), _FakeHandler)
        self.requests: list[dict[str, Any]] = []
        self.answers: dict[str, list[tuple[int, dict, dict[str, str]]]] = {"/interventions": [], "/oauth2/token": []}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def answer(self, path: str, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        self.answers[path].append((status, body, headers or {}))


class _FakeHandler(BaseHTTPRequestHandler):
    server: FakeOversight

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        script = self.server.answers.get(self.path) or [(404, {"code": "not_found", "message": "no route"}, {})]
        status, answer, headers = script.pop(0) if len(script) > 1 else script[0]
        payload = json.dumps(answer).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


TASK_TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAT" + "x" * 600  # task tokens run to hundreds of characters
STEP_EVENT = {
    "task_token": TASK_TOKEN,
    "uow_id": "release-4.2",
    "type": "approval",
    "title": "Promote 4.2 to production",
    "priority": "high",
    "expires_in_seconds": 82800,
    "context": {"release": "4.2"},
}
CREATED = {"id": "01JNK8Q3", "status": "PENDING", **{k: v for k, v in STEP_EVENT.items() if k != "task_token"}}


@pytest.fixture
def oversight(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOversight]:
    server = bind_in_range(FakeOversight)
    for name in ("OVERSIGHT_TOKEN", "OVERSIGHT_TOKEN_URL", "OVERSIGHT_CLIENT_ID", "OVERSIGHT_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OVERSIGHT_URL", server.url + "/")
    monkeypatch.setattr(request_approval, "_cached_token", None)
    monkeypatch.setattr(request_approval, "RETRY_DELAYS", (0, 0, 0))
    with serving(server):
        yield server


def api_calls(server: FakeOversight) -> list[dict[str, Any]]:
    return [request for request in server.requests if request["path"] == "/interventions"]


def lowered(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def test_the_request_function_posts_the_event_with_the_token_and_a_key_derived_from_it(
    oversight: FakeOversight, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVERSIGHT_TOKEN", "local.jwt.token")
    oversight.answer("/interventions", 201, CREATED)
    assert request_approval.handler(dict(STEP_EVENT), None) == {"id": "01JNK8Q3"}
    (call,) = api_calls(oversight)
    assert json.loads(call["body"]) == STEP_EVENT  # every field, task_token included
    headers = lowered(call["headers"])
    assert headers["authorization"] == "Bearer local.jwt.token"
    assert headers["content-type"] == "application/json"
    assert headers["idempotency-key"] == "sfn-" + hashlib.sha256(TASK_TOKEN.encode()).hexdigest()


def test_the_idempotency_key_is_the_same_for_a_retry_and_differs_for_another_task(
    oversight: FakeOversight, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVERSIGHT_TOKEN", "local.jwt.token")
    oversight.answer("/interventions", 201, CREATED)
    for event in (STEP_EVENT, STEP_EVENT, {**STEP_EVENT, "task_token": TASK_TOKEN + "y"}):
        request_approval.handler(dict(event), None)
    keys = [lowered(call["headers"])["idempotency-key"] for call in api_calls(oversight)]
    assert keys[0] == keys[1] != keys[2]
    assert all(len(key) <= 128 for key in keys)  # the API's limit; a task token alone is longer


def test_the_request_function_gets_its_token_by_the_client_credentials_grant_once(
    oversight: FakeOversight, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVERSIGHT_TOKEN_URL", oversight.url + "/oauth2/token")
    monkeypatch.setenv("OVERSIGHT_CLIENT_ID", "pipeline-client")
    monkeypatch.setenv("OVERSIGHT_CLIENT_SECRET", "pipeline-secret")
    oversight.answer("/oauth2/token", 200, {"access_token": "m2m.access.token", "expires_in": 3600})
    oversight.answer("/interventions", 201, CREATED)
    request_approval.handler(dict(STEP_EVENT), None)
    request_approval.handler(dict(STEP_EVENT), None)  # a warm invocation reuses the token
    grants = [request for request in oversight.requests if request["path"] == "/oauth2/token"]
    assert len(grants) == 1
    grant = lowered(grants[0]["headers"])
    assert grant["authorization"] == "Basic " + base64.b64encode(b"pipeline-client:pipeline-secret").decode()
    assert grant["content-type"] == "application/x-www-form-urlencoded"
    form = parse_qs(grants[0]["body"].decode())
    assert form == {"grant_type": ["client_credentials"], "scope": ["oversight/requester"]}
    for call in api_calls(oversight):
        assert lowered(call["headers"])["authorization"] == "Bearer m2m.access.token"


def test_a_token_near_its_expiry_is_fetched_again(oversight: FakeOversight, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OVERSIGHT_TOKEN_URL", oversight.url + "/oauth2/token")
    monkeypatch.setenv("OVERSIGHT_CLIENT_ID", "pipeline-client")
    monkeypatch.setenv("OVERSIGHT_CLIENT_SECRET", "pipeline-secret")
    oversight.answer("/oauth2/token", 200, {"access_token": "m2m.access.token", "expires_in": 3600})
    assert request_approval.bearer_token(now=NOW) == "m2m.access.token"
    assert request_approval.bearer_token(now=NOW + 3500) == "m2m.access.token"
    request_approval.bearer_token(now=NOW + 3541)
    assert len(oversight.requests) == 2


def test_a_422_raises_with_the_apis_code_message_and_fields(
    oversight: FakeOversight, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVERSIGHT_TOKEN", "local.jwt.token")
    refusal = {
        "code": "validation_error",
        "message": "Invalid request: body.title",
        "details": [{"loc": ["body", "title"], "msg": "String should have at most 200 characters", "type": "x"}],
    }
    oversight.answer("/interventions", 422, refusal)
    with pytest.raises(request_approval.OversightRequestFailed) as failed:
        request_approval.handler({**STEP_EVENT, "title": "x" * 201}, None)
    assert (failed.value.status, failed.value.code) == (422, "validation_error")
    assert failed.value.message == "Invalid request: body.title"
    assert "Invalid request: body.title" in str(failed.value)
    assert "title: String should have at most 200 characters" in str(failed.value)
    assert len(api_calls(oversight)) == 1  # a refusal is final: not retried


def test_a_503_is_retried_with_the_same_key_then_succeeds(
    oversight: FakeOversight, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVERSIGHT_TOKEN", "local.jwt.token")
    oversight.answer("/interventions", 503, {"code": "unavailable", "message": "busy"}, {"Retry-After": "0"})
    oversight.answer("/interventions", 201, CREATED)
    assert request_approval.handler(dict(STEP_EVENT), None) == {"id": "01JNK8Q3"}
    keys = {lowered(call["headers"])["idempotency-key"] for call in api_calls(oversight)}
    assert len(api_calls(oversight)) == 2 and len(keys) == 1


def test_a_token_endpoint_refusal_raises_with_oauths_error(
    oversight: FakeOversight, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVERSIGHT_TOKEN_URL", oversight.url + "/oauth2/token")
    monkeypatch.setenv("OVERSIGHT_CLIENT_ID", "pipeline-client")
    monkeypatch.setenv("OVERSIGHT_CLIENT_SECRET", "wrong")
    oversight.answer("/oauth2/token", 400, {"error": "invalid_client"})
    with pytest.raises(request_approval.OversightRequestFailed, match="400 invalid_client"):
        request_approval.handler(dict(STEP_EVENT), None)
    assert api_calls(oversight) == []


def test_an_event_without_a_task_token_is_refused_before_any_call(oversight: FakeOversight) -> None:
    with pytest.raises(ValueError, match=r"\$\$\.Task\.Token"):
        request_approval.handler({k: v for k, v in STEP_EVENT.items() if k != "task_token"}, None)
    assert oversight.requests == []


# ---------------------------------------------------------------- the polling example of the docs


class FakeRecord(ThreadingHTTPServer):
    """GET /interventions/{id} with an ETag per version and 304 for a
    matching If-None-Match; `versions` is what each read finds (the last
    one repeats)."""

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), _RecordHandler)
        self.versions: list[dict[str, Any]] = []
        self.reads: list[tuple[str | None, int]] = []


class _RecordHandler(BaseHTTPRequestHandler):
    server: FakeRecord

    def do_GET(self) -> None:
        record = self.server.versions.pop(0) if len(self.server.versions) > 1 else self.server.versions[0]
        etag = f'"v{record["version"]}"'
        asked = self.headers.get("If-None-Match")
        status = 304 if asked == etag else 200
        self.server.reads.append((asked, status))
        payload = b"" if status == 304 else json.dumps(record).encode()
        self.send_response(status)
        self.send_header("ETag", etag)
        if status == 200:
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FakeClock:
    """The snippet's `time`: sleeps are recorded and advance the clock at once."""

    def __init__(self) -> None:
        self.now, self.sleeps = 0.0, []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


def polling_example() -> dict[str, Any]:
    """The docs' `wait_for_decision` block, run as written, with a fake clock."""
    text = (EXAMPLES.parent / "docs" / "integrations.md").read_text()
    blocks = [block.split("\n```", 1)[0] for block in text.split("```python\n")[1:]]
    (source,) = [block for block in blocks if "def wait_for_decision(" in block]
    namespace: dict[str, Any] = {}
    exec(compile(source, "docs/integrations.md", "exec"), namespace)  # noqa: S102 - the docs' own example
    namespace["time"] = FakeClock()
    return namespace


def test_the_docs_polling_example_revalidates_with_the_etag_and_backs_off_to_10_s() -> None:
    example = polling_example()
    pending = {"id": "i-1", "status": "PENDING", "version": 1}
    approved = {"id": "i-1", "status": "APPROVED", "version": 2}
    server = bind_in_range(FakeRecord)
    server.versions = [pending] * 9 + [approved]
    with serving(server):
        record = example["wait_for_decision"](f"http://127.0.0.1:{server.server_port}", "t", "i-1")
    assert record == approved
    assert server.reads[0] == (None, 200)
    assert server.reads[1:-1] == [('"v1"', 304)] * 8  # unchanged: no body sent
    assert server.reads[-1] == ('"v1"', 200)
    assert example["time"].sleeps == [1.0, 1.5, 2.25, 3.375, 5.062, 7.594, 10.0, 10.0, 10.0]


def test_the_docs_polling_example_gives_up_at_its_timeout() -> None:
    example = polling_example()
    server = bind_in_range(FakeRecord)
    server.versions = [{"id": "i-1", "status": "IN_PROGRESS", "version": 4}]
    with serving(server):
        assert example["wait_for_decision"](f"http://127.0.0.1:{server.server_port}", "t", "i-1", timeout=30) is None
    assert sum(example["time"].sleeps) == pytest.approx(30)
