"""http_post refuses at submission what it could never send (header values
that are not latin-1 text, URLs carrying a user or password), and never
shows a header value named like a secret to readers of the job: not in any
answer, replay, list, approval context or log. The worker sends the real
value."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import BaseModel, ConfigDict

import tests.jobtools as jobtools
from oversight.tools.registry import DEFAULT_REGISTRY, Tool
from tests.conftest import TEMPLATE
from tests.support import ADMIN, REQUESTER, VIEWER, JobWorker

SECRETS = {
    "Authorization": "Bearer s3cret-authorization",
    "Proxy-Authorization": "Basic s3cret-proxy",
    "Cookie": "sid=s3cret-cookie",
    "X-Api-Key": "s3cret-api-key",
    "x-auth-token": "s3cret-token",
    "X-Client-Secret": "s3cret-client",
}
VISIBLE = {"X-Trace": "trace-visible-1"}


@pytest.fixture
def worker(sqs) -> JobWorker:
    jobtools.reset()
    return JobWorker(TEMPLATE, sqs)


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Receive)
        self.received: list[dict] = []
        self.netloc = f"127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()


class _Receive(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append(dict(self.headers))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receiver(monkeypatch):
    server = Receiver()
    monkeypatch.setenv("HTTP_POST_ALLOWED_HOSTS", f"{server.netloc},hooks.example.com")
    yield server
    server.shutdown()
    server.server_close()


def post_job(api, parameters, claims=REQUESTER, headers=None, **options):
    return api.post("/jobs", claims, {"tool": "http_post", "parameters": parameters, **options}, headers=headers)


@pytest.mark.parametrize(
    "value",
    ["snow \u2603", "euro \u20ac", "emoji \U0001f600", "bell \x07", "escape \x1b[2J", "delete \x7f"],
    ids=["snowman", "euro-sign", "emoji", "bell", "escape", "delete"],
)
def test_a_header_value_that_cannot_be_sent_is_422_at_submission_naming_headers(api, receiver, value):
    reply = post_job(api, {"url": "https://hooks.example.com/", "json": {}, "headers": {"X-Note": value}})
    assert reply.status == 422 and reply.body["code"] == "validation_error"
    assert [d["loc"] for d in reply.body["details"]] == [["body", "parameters", "headers"]]
    assert "X-Note" in reply.body["details"][0]["msg"] and "cannot be sent" in reply.body["details"][0]["msg"]
    assert api.get("/jobs", VIEWER).body["items"] == []  # nothing stored, nothing to retry
    latin_1 = post_job(api, {"url": "https://hooks.example.com/", "json": {}, "headers": {"X-Note": "Ren\u00e9e\tok"}})
    assert latin_1.status == 202, latin_1.body  # what HTTP can carry still can


@pytest.mark.parametrize(
    "url",
    [
        "https://user:pw-s3cret@hooks.example.com/",
        "https://user@hooks.example.com/",
        "https://:pw-s3cret@hooks.example.com/",
    ],
)
def test_a_url_with_user_info_is_422_at_submission_without_echoing_it(api, receiver, url):
    reply = post_job(api, {"url": url, "json": {}})
    assert reply.status == 422
    assert [d["loc"] for d in reply.body["details"]] == [["body", "parameters", "url"]]
    assert "user name or password" in reply.body["details"][0]["msg"]
    assert "s3cret" not in reply.raw["body"]
    assert api.get("/jobs", VIEWER).body["items"] == []


def assert_redacted(job: dict) -> None:
    headers = job["parameters"]["headers"]
    assert headers == {**{name: "[redacted]" for name in SECRETS}, **VISIBLE}, headers
    assert "s3cret" not in json.dumps(job)


def test_secret_header_values_are_redacted_in_every_read_and_sent_for_real(api, worker, receiver, caplog, capfd):
    from oversight.store.jobs import get_job_store

    parameters = {"url": f"http://{receiver.netloc}/hook", "json": {"a": 1}, "headers": {**SECRETS, **VISIBLE}}
    key = {"Idempotency-Key": "secret-headers-1"}
    first = post_job(api, parameters, headers=key)
    assert first.status == 202
    assert_redacted(first.body)
    replay = post_job(api, parameters, headers=key)
    assert replay.raw["body"] == first.raw["body"]  # the replay, and the record it comes from, are redacted
    job_id = first.body["id"]
    assert_redacted(api.get(f"/jobs/{job_id}", VIEWER).body)
    (listed,) = api.get("/jobs", VIEWER).body["items"]
    assert_redacted(listed)

    stored = get_job_store().get("acme", job_id)
    assert stored.parameters["headers"] == {**SECRETS, **VISIBLE}  # kept for the run

    worker.drain()
    done = api.get(f"/jobs/{job_id}", VIEWER).body
    assert done["status"] == "COMPLETED" and done["result"]["return_value"]["status"] == 204
    assert_redacted(done)
    (sent,) = receiver.received
    lowered = {k.lower(): v for k, v in sent.items()}
    assert all(lowered[name.lower()] == value for name, value in {**SECRETS, **VISIBLE}.items())

    logs = api.get(f"/jobs/{job_id}/logs", VIEWER).body["items"]
    assert logs and "s3cret" not in json.dumps(logs)
    out, err = capfd.readouterr()
    assert "s3cret" not in out + err
    assert any(record.getMessage() == "job finished" for record in caplog.records)  # the worker's logs are seen
    assert all("s3cret" not in str(vars(record)) for record in caplog.records)


def test_the_approval_context_and_the_cancel_answer_are_redacted_too(api, receiver):
    parameters = {"url": f"http://{receiver.netloc}/hook", "json": {}, "headers": {**SECRETS, **VISIBLE}}
    gated = post_job(api, parameters, requires_approval=True)
    assert gated.status == 202
    assert_redacted(gated.body)
    gate = api.get(f"/interventions/{gated.body['intervention_id']}", VIEWER).body
    assert gate["context"]["parameters"]["headers"] == {**{name: "[redacted]" for name in SECRETS}, **VISIBLE}
    assert "s3cret" not in json.dumps(gate)
    cancelled = api.post(f"/jobs/{gated.body['id']}/cancel", ADMIN)
    assert cancelled.status == 200 and cancelled.body["status"] == "CANCELLED"
    assert_redacted(cancelled.body)


class Keyed(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str
    subject: str


def _keyed(params: Keyed, ctx) -> dict:
    jobtools.RUNS["test_keyed"] = jobtools.RUNS.get("test_keyed", 0) + 1
    return {"subject": params.subject}


@pytest.fixture
def keyed_tool():
    DEFAULT_REGISTRY.register(
        Tool(
            "test_keyed",
            "Cacheable, with a secret parameter (tests)",
            Keyed,
            5,
            True,
            _keyed,
            redact=lambda p: {**p, "token": "[redacted]"},
        )
    )
    yield
    DEFAULT_REGISTRY.unregister("test_keyed")


def test_the_cache_key_covers_the_real_secret_and_a_cached_answer_is_redacted(api, worker, keyed_tool):
    def submit(token):
        reply = api.post("/jobs", REQUESTER, {"tool": "test_keyed", "parameters": {"token": token, "subject": "s"}})
        assert reply.status == 202, reply.body
        assert reply.body["parameters"] == {"token": "[redacted]", "subject": "s"}
        return reply.body

    submit("s3cret-one")
    worker.drain()
    assert submit("s3cret-one")["cached"] is True
    # Another credential is another run: a caller without the first one's
    # secret never gets its result from the cache.
    other = submit("s3cret-two")
    assert (other["cached"], other["status"]) == (False, "PENDING")
    worker.drain()
    assert jobtools.RUNS["test_keyed"] == 2


def test_a_header_given_twice_in_different_cases_is_422(api, receiver):
    reply = post_job(api, {"url": "https://hooks.example.com/", "json": {}, "headers": {"X-A": "1", "x-a": "2"}})
    assert reply.status == 422 and reply.body["details"][0]["loc"] == ["body", "parameters", "headers"]
