"""http_post against real local HTTP servers: what is sent, what is reported,
and that a host outside the allow-list never receives anything."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import ValidationError

from oversight.tools import ToolError, get_tool
from oversight.tools.recording import RecordingRunContext
from tests.support import REQUESTER


class RecordingServer(ThreadingHTTPServer):
    """A local HTTP server that records each request and answers by path."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[dict] = []
        self.redirect_to = ""
        self.port = self.server_address[1]
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self.port}"

    def handle_error(self, request, client_address) -> None:
        pass  # a client that gave up (the timeout test) is expected here


class _Handler(BaseHTTPRequestHandler):
    server: RecordingServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
        if self.path == "/redirect":
            self._answer(302, b"", {"Location": self.server.redirect_to})
        elif self.path == "/fail":
            self._answer(500, b"boom")
        elif self.path == "/big":
            self._answer(200, ("a" + "\u00e9" * 40_000).encode(), {"Content-Type": "text/plain; charset=utf-8"})
        elif self.path == "/slow":
            time.sleep(2)
            self._answer(200, b"late")
        else:
            self._answer(200, b'{"ok":true}', {"Content-Type": "application/json"})

    def _answer(self, status: int, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # keep test output clean
        pass


@pytest.fixture
def server():
    running = RecordingServer()
    yield running
    running.shutdown()
    running.server_close()


@pytest.fixture
def other_server():
    running = RecordingServer()
    yield running
    running.shutdown()
    running.server_close()


@pytest.fixture
def allow(monkeypatch):
    return lambda value: monkeypatch.setenv("HTTP_POST_ALLOWED_HOSTS", value)


@pytest.fixture
def no_network(monkeypatch):
    """Record any attempt to resolve or connect, and refuse it."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


http_post = get_tool("http_post")


def run(parameters):
    ctx = RecordingRunContext()
    return http_post.run(http_post.parameters.model_validate(parameters), ctx), ctx


def test_posts_the_json_with_the_headers_and_reports_the_answer(server, allow):
    allow(f"{server.netloc}, hooks.example.com")
    result, ctx = run(
        {
            "url": f"http://{server.netloc}/hook?run=1",
            "json": {"event": "done", "n": [1, 2.5, None]},
            "headers": {"X-Signature": "abc", "Authorization": "Bearer secret"},
        }
    )
    assert result == {"status": 200, "body": '{"ok":true}', "truncated": False}
    [request] = server.received
    assert request["path"] == "/hook?run=1"
    assert json.loads(request["body"]) == {"event": "done", "n": [1, 2.5, None]}
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["X-Signature"] == "abc" and request["headers"]["Authorization"] == "Bearer secret"
    assert request["headers"]["Host"] == server.netloc
    assert ctx.logs == [("INFO", f"POST to {server.netloc} answered 200")]  # no headers, no query in the logs


def test_another_port_of_the_same_host_is_refused_at_validation_and_receives_nothing(server, other_server, allow):
    allow(server.netloc)
    with pytest.raises(ValidationError) as refused:
        http_post.parameters.model_validate({"url": f"http://{other_server.netloc}/", "json": {}})
    assert [e["loc"] for e in refused.value.errors()] == [("url",)]
    assert other_server.received == []


def test_a_host_refused_at_run_time_receives_nothing(server, other_server, allow):
    """Validated while allowed (at submission), refused when the job runs
    because the setting changed meanwhile."""
    allow(other_server.netloc)
    params = http_post.parameters.model_validate({"url": f"http://{other_server.netloc}/", "json": {"a": 1}})
    allow(server.netloc)
    with pytest.raises(ToolError, match=rf"host {other_server.netloc} is not in HTTP_POST_ALLOWED_HOSTS; no request"):
        http_post.run(params, RecordingRunContext())
    assert other_server.received == [] and server.received == []


def test_an_external_host_is_refused_without_any_network_access(allow, no_network):
    allow("127.0.0.1:1")
    with pytest.raises(ValidationError) as refused:
        http_post.parameters.model_validate({"url": "https://example.com/hook", "json": {}})
    assert "host example.com is not in HTTP_POST_ALLOWED_HOSTS" in refused.value.errors()[0]["msg"]

    allow("example.com")
    params = http_post.parameters.model_validate({"url": "https://example.com/hook", "json": {}})
    allow("")
    with pytest.raises(ToolError, match="host example.com is not in HTTP_POST_ALLOWED_HOSTS; no request sent"):
        http_post.run(params, RecordingRunContext())
    assert no_network == []


def test_a_redirect_is_reported_not_followed(server, other_server, allow):
    allow(f"{server.netloc},{other_server.netloc}")
    server.redirect_to = f"http://{other_server.netloc}/elsewhere"
    result, _ = run({"url": f"http://{server.netloc}/redirect", "json": {}})
    assert result == {"status": 302, "body": "", "truncated": False}
    assert other_server.received == []


def test_an_error_status_is_a_result_not_a_failure(server, allow):
    allow(server.netloc)
    assert run({"url": f"http://{server.netloc}/fail", "json": {}})[0] == {
        "status": 500,
        "body": "boom",
        "truncated": False,
    }


def test_a_long_body_is_capped_at_64_kib_without_a_broken_character(server, allow):
    allow(server.netloc)
    result, _ = run({"url": f"http://{server.netloc}/big", "json": {}})
    # 1 + 2 x 32,767 bytes fit in 65,536; the next "é" is cut by the cap and dropped.
    assert result["truncated"] is True and result["body"] == "a" + "\u00e9" * 32_767


def test_a_timeout_fails_with_a_clear_message(server, allow):
    allow(server.netloc)
    with pytest.raises(ToolError, match=rf"POST to {server.netloc} timed out after 1 s"):
        run({"url": f"http://{server.netloc}/slow", "json": {}, "timeout_seconds": 1})


def test_a_connection_error_fails_with_a_clear_message(allow):
    with socket.socket() as placeholder:  # a port with nothing listening once closed
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    allow(f"127.0.0.1:{port}")
    with pytest.raises(ToolError, match=rf"POST to 127.0.0.1:{port} failed: .*refused"):
        run({"url": f"http://127.0.0.1:{port}/", "json": {}})


def test_post_jobs_refuses_a_host_outside_the_allow_list_naming_the_field(api, server, allow):
    allow(server.netloc)
    parameters = {"url": "https://example.com/", "json": {}}
    reply = api.post("/jobs", REQUESTER, {"tool": "http_post", "parameters": parameters})
    assert reply.status == 422
    assert [d["loc"] for d in reply.body["details"]] == [["body", "parameters", "url"]]
    assert "example.com is not in HTTP_POST_ALLOWED_HOSTS" in reply.body["details"][0]["msg"]
    assert server.received == []
