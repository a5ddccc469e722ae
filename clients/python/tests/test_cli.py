"""The `oversight` command line against a recording stand-in for the Client: parsing, rendering, exit codes."""

from __future__ import annotations

import argparse
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from oversight_client import (
    NotFound,
    OversightError,
    TransportError,
    Unauthorized,
    ValidationFailed,
    WaitTimeout,
    models,
)
from oversight_client.cli import (
    CommandError,
    age,
    display_width,
    parse_duration,
    parse_parameters,
    run,
    stamp,
    truncate,
)

NOW = datetime(2026, 1, 31, 12, 0, 0, tzinfo=UTC)
ANSI = re.compile(r"\x1b\[")
LONG_TITLE = "Promote release 4.2 of the payments service to production in every region, after the canary"


def at(**delta: float) -> str:
    return (NOW + timedelta(**delta)).isoformat().replace("+00:00", "Z")


def intervention(number: int, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": f"{number:08x}-5d1e-4b6a-9c2f-0e4d8a7b6c5d",
        "uow_id": f"pipeline-{number}",
        "type": "approval",
        "status": "PENDING",
        "priority": "normal",
        "title": f"Request {number}",
        "description": "",
        "context": {},
        "required_role": "operator",
        "assigned_to": None,
        "created_by": "deploy-bot",
        "created_at": at(minutes=-3),
        "updated_at": at(minutes=-3),
        "expires_at": at(minutes=57),
        "decided_by": None,
        "decided_at": None,
        "decision_reason": None,
        "response": None,
        "required_approvals": 1,
        "approvals": [],
        "approvals_needed": 1,
        "version": 1,
    }
    return {**record, **fields}


class FakeClient:
    """Answers as the Client does (the library's models, read from the API's JSON), and records each call."""

    def __init__(self, items: list[dict[str, Any]] | None = None, *, open_filter: bool = True) -> None:
        self.items = items or []
        self.open_filter = open_filter
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.wait_result: dict[str, Any] | BaseException = {}
        self.events_list: list[dict[str, Any]] = []

    def _record(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append((name, args, kwargs))

    def called(self, name: str) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        return [(args, kwargs) for call, args, kwargs in self.calls if call == name]

    def interventions(self, **filters: Any) -> Iterator[models.Intervention]:
        self._record("interventions", **filters)
        status = filters.get("status")
        if status == "OPEN" and not self.open_filter:
            raise ValidationFailed(422, "validation_error", "Invalid request: query.status", [{"loc": ["status"]}])
        wanted = ("PENDING", "IN_PROGRESS") if status == "OPEN" else (status,)
        for item in self.items:
            if item["status"] in wanted and all(
                item.get(k) == v for k, v in filters.items() if k not in ("status", "limit")
            ):
                yield models.Intervention.from_dict(item)

    def _find(self, identifier: str) -> dict[str, Any]:
        for item in self.items:
            if item["id"] == identifier:
                return item
        raise NotFound(404, "not_found", f"Intervention {identifier} not found", None)

    def get_intervention(self, identifier: str) -> models.Intervention:
        self._record("get_intervention", identifier)
        return models.Intervention.from_dict(self._find(identifier))

    def events(self, identifier: str) -> Iterator[models.InterventionEvent]:
        self._record("events", identifier)
        yield from map(models.InterventionEvent.from_dict, self.events_list)

    def _act(self, name: str, identifier: str, *args: Any, **changes: Any) -> models.Intervention:
        self._record(name, identifier, *args)
        return models.Intervention.from_dict({**self._find(identifier), **changes})

    def claim(self, identifier: str) -> dict[str, Any]:
        return self._act("claim", identifier, status="IN_PROGRESS", assigned_to="pilot-ana")

    def release(self, identifier: str) -> dict[str, Any]:
        return self._act("release", identifier, status="PENDING")

    def approve(self, identifier: str, reason: str, response: Any = None) -> dict[str, Any]:
        return self._act("approve", identifier, reason, response, status="APPROVED", decided_by="pilot-ana")

    def reject(self, identifier: str, reason: str, response: Any = None) -> dict[str, Any]:
        return self._act("reject", identifier, reason, response, status="REJECTED", decided_by="pilot-ana")

    def cancel(self, identifier: str, reason: str | None = None) -> dict[str, Any]:
        return self._act("cancel", identifier, reason, status="CANCELLED")

    def complete(self, identifier: str, reason: str | None = None) -> dict[str, Any]:
        return self._act("complete", identifier, reason, status="COMPLETED")

    def comment(self, identifier: str, text: str) -> models.Comment:
        self._record("comment", identifier, text)
        return models.Comment.from_dict({"at": at(), "actor": "pilot-ana", "text": text})

    def create_intervention(self, **fields: Any) -> dict[str, Any]:
        self._record("create_intervention", **fields)
        created = intervention(99, **{k: v for k, v in fields.items() if k in ("uow_id", "type", "title", "priority")})
        self.items.append(created)
        return models.Intervention.from_dict(created)

    def wait(self, identifier: str, timeout: float | None = None) -> models.Intervention:
        self._record("wait", identifier, timeout=timeout)
        if isinstance(self.wait_result, BaseException):
            raise self.wait_result
        return models.Intervention.from_dict({**self._find(identifier), **self.wait_result})

    def submit(self, tool: str, parameters: Any = None, **options: Any) -> models.Job:
        self._record("submit", tool, parameters, **options)
        return job(id="job-1", tool=tool, parameters=parameters, status="PENDING")

    def wait_job(self, identifier: str, timeout: float | None = None) -> models.Job:
        self._record("wait_job", identifier, timeout=timeout)
        if isinstance(self.wait_result, BaseException):
            raise self.wait_result
        return job(**{"id": identifier, "status": "COMPLETED", **self.wait_result})

    def get_job(self, identifier: str) -> models.Job:
        self._record("get_job", identifier)
        return job(id=identifier, status="RUNNING", created_at=at(minutes=-1))

    def logs(self, identifier: str) -> Iterator[models.JobLogLine]:
        self._record("logs", identifier)
        yield models.JobLogLine.from_dict({"at": at(seconds=-5), "level": "info", "message": "exporting 3 records"})
        yield models.JobLogLine.from_dict({"at": at(), "level": "info", "message": "wrote export.csv"})

    def tools(self) -> list[models.ToolInfo]:
        tool = {"name": "recompute_stats", "description": "Rebuild", "parameters_schema": {}, "cacheable": False}
        return [models.ToolInfo.from_dict({**tool, "timeout_seconds": 60})]

    def stats(self) -> models.Stats:
        return models.Stats.from_dict(
            {
                "interventions": {
                    "total": 42,
                    "open": 5,
                    "by_status": {"PENDING": 3, "IN_PROGRESS": 2, "APPROVED": 30},
                    "by_type": {"approval": 40, "clarification": 2},
                    "by_priority": {"critical": 1, "high": 4, "normal": 37, "low": 0},
                    "avg_resolution_seconds": 250.0,
                    "resolution_seconds_p50": 180.0,
                    "resolution_seconds_p95": 7300.0,
                    "top_responders": [{"user": "pilot-ana", "count": 12}],
                },
                "jobs": {
                    "total": 10,
                    "by_status": {"COMPLETED": 9, "FAILED": 1},
                    "success_rate": 0.9,
                    "top_tools": [{"tool": "export_interventions", "count": 7}],
                    "avg_duration_seconds": 2.34,
                },
                "generated_at": at(),
            }
        )


def job(**fields: Any) -> models.Job:
    record = {"tool": "t", "parameters": {}, "submitted_by": "deploy-bot", "created_at": at(), **fields}
    return models.Job.from_dict(record)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


ENV = {"OVERSIGHT_URL": "http://api.test", "OVERSIGHT_TOKEN": "t0ken", "COLUMNS": "80"}


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> Any:
        return json.loads(self.out)


def cli(client: FakeClient, *argv: str, env: dict[str, str] | None = None, tty: bool = False) -> Result:
    out: io.StringIO = Terminal() if tty else io.StringIO()
    err = io.StringIO()
    made: list[tuple[str, str]] = []

    def factory(url: str, token: str) -> Any:
        made.append((url, token))
        return client

    code = run(list(argv), client_factory=factory, stdout=out, stderr=err, environ=env or ENV, now=NOW)
    client.made = made  # type: ignore[attr-defined]
    return Result(code, out.getvalue(), err.getvalue())


def assert_one_line_error(result: Result, *fragments: str, progress: int = 0) -> None:
    """Exit 4, nothing on stdout, and on stderr one line (after `progress` lines of notes) naming what to do."""
    assert result.code == 4
    assert result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 1 + progress, result.err
    assert lines[-1].startswith("oversight")
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in lines[-1]


# ---------------------------------------------------------------- parsing


def test_parameters_are_json_when_they_parse_else_strings() -> None:
    assert parse_parameters(["n=3", "flag=true", "name=abc", 'tags=["a"]', "empty=", 's="3"', "url=a=b"]) == {
        "n": 3,
        "flag": True,
        "name": "abc",
        "tags": ["a"],
        "empty": "",
        "s": "3",
        "url": "a=b",
    }
    with pytest.raises(CommandError, match="key=value"):
        parse_parameters(["format"])
    with pytest.raises(CommandError, match="twice"):
        parse_parameters(["a=1", "a=2"])


def test_durations_take_units() -> None:
    assert [parse_duration(text) for text in ("90", "90s", "5m", "2h", "1d", "1.5m")] == [90, 90, 300, 7200, 86400, 90]
    for bad in ("0", "-1", "soon", "5w"):
        with pytest.raises(argparse.ArgumentTypeError, match="not a duration"):
            parse_duration(bad)


def test_common_options_go_before_or_after_the_command() -> None:
    before = FakeClient([intervention(1)])
    result = cli(before, "--json", "--url", "http://other.test", "queue")
    assert result.json()["items"][0]["id"] == intervention(1)["id"]
    assert before.made == [("http://other.test", "t0ken")]  # type: ignore[attr-defined]
    after = FakeClient([intervention(1)])
    assert cli(after, "queue", "--json", "--token", "mine").json() == result.json()
    assert after.made == [("http://api.test", "mine")]  # type: ignore[attr-defined]
    both = FakeClient([intervention(1)])
    assert cli(both, "--url", "http://first.test/", "queue", "--token", "mine").code == 0
    assert both.made == [("http://first.test", "mine")]  # type: ignore[attr-defined]


def test_jobs_run_takes_parameters_before_and_after_options() -> None:
    client = FakeClient()
    result = cli(client, "jobs", "run", "export_interventions", "format=csv", "--wait", "status=APPROVED", "limit=3")
    assert result.code == 0, result.err
    [(args, options)] = client.called("submit")
    assert args == ("export_interventions", {"format": "csv", "status": "APPROVED", "limit": 3})
    assert options["use_cache"] is True and options["requires_approval"] is False
    cli(client, "jobs", "run", "recompute_stats", "--no-cache", "--requires-approval")
    assert client.called("submit")[-1] == (
        ("recompute_stats", {}),
        {"use_cache": False, "requires_approval": True, "idempotency_key": None},
    )


def test_request_passes_only_the_fields_given() -> None:
    client = FakeClient()
    result = cli(
        client,
        "request",
        "--uow-id",
        "deploy-42",
        "--type",
        "approval",
        "--title",
        "Promote 4.2",
        "--priority",
        "high",
        "--context",
        '{"pr": 42}',
        "--expires-in",
        "2h",
        "--description",
        "Canary green",
    )
    assert result.code == 0, result.err
    [(_, fields)] = client.called("create_intervention")
    assert fields == {
        "uow_id": "deploy-42",
        "type": "approval",
        "title": "Promote 4.2",
        "priority": "high",
        "context": {"pr": 42},
        "expires_in_seconds": 7200,
        "description": "Canary green",
        "idempotency_key": None,
    }
    assert "Created" in result.out and "expires in 57m" in result.out


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["request", "--type", "approval", "--title", "x"], "--uow-id"),
        (["request", "--uow-id", "u", "--type", "nonsense", "--title", "x"], "invalid choice"),
        (["request", "--uow-id", "u", "--type", "approval", "--title", "x", "--context", "{pr: 1}"], "--context"),
        (["request", "--uow-id", "u", "--type", "approval", "--title", "x", "--context", "[1]"], "JSON object"),
        (["request", "--uow-id", "u", "--type", "approval", "--title", "x", "--timeout", "5m"], "--wait"),
        (["request", "--uow-id", "u", "--type", "approval", "--title", "x", "--expires-in", "soon"], "duration"),
        (["approve", "00000001"], "--reason"),
        (["approve", "00000001-5d1e-4b6a-9c2f-0e4d8a7b6c5d", "--reason", "ok", "--response", "{"], "--response"),
        (["jobs", "run", "t", "notapair"], "key=value"),
        (["queue", "--frobnicate"], "unrecognized"),
        (["frobnicate"], "invalid choice"),
        ([], "COMMAND"),
    ],
)
def test_a_bad_command_line_is_one_line_and_exit_4(argv: list[str], fragment: str) -> None:
    assert_one_line_error(cli(FakeClient([intervention(1)]), *argv), fragment)


def test_no_url_or_no_token_says_what_to_set() -> None:
    assert_one_line_error(cli(FakeClient(), "queue", env={"OVERSIGHT_TOKEN": "t"}), "OVERSIGHT_URL", "--url")
    no_token = cli(FakeClient(), "queue", env={"OVERSIGHT_URL": "http://api.test"})
    assert_one_line_error(no_token, "OVERSIGHT_TOKEN", "make -s token")


COMMANDS = [
    ["queue"],
    ["show"],
    ["claim"],
    ["release"],
    ["approve"],
    ["reject"],
    ["cancel"],
    ["complete"],
    ["comment"],
    ["request"],
    ["jobs"],
    ["jobs", "run"],
    ["jobs", "logs"],
    ["jobs", "show"],
    ["jobs", "tools"],
    ["stats"],
    [],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "oversight")
def test_every_help_shows_an_example(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(FakeClient(), *command, "--help", env={}).code == 0
    text = capsys.readouterr().out
    examples = text[text.index("examples:\n") :]
    assert "\n  oversight " + " ".join(command) in examples
    assert "--json" in text


# ---------------------------------------------------------------- rendering


def queue_items() -> list[dict[str, Any]]:
    return [
        intervention(1, priority="critical", title=LONG_TITLE, created_at=at(minutes=-3), expires_at=at(hours=2)),
        intervention(
            2,
            status="IN_PROGRESS",
            priority="high",
            type="waive_violation",
            assigned_to="pilot-ana-with-a-long-name",
            title="Waive " + "x" * 150,
            created_at=at(hours=-2),
            expires_at=at(days=3),
            required_role="finance-lead-europe",
            required_approvals=2,
            approvals=[{"user": "bob", "at": at(minutes=-1), "reason": "ok"}],
        ),
        intervention(
            3,
            priority="low",
            title="短い日本語のタイトルがとても長くなってしまった場合の表示" * 2,
            created_at=at(days=-1),
        ),
        intervention(4, title="Injected \x1b[31mred\x1b[0m\nsecond line", created_at=at(seconds=-42)),
    ]


def test_queue_fits_80_columns_with_long_titles() -> None:
    result = cli(FakeClient(queue_items()), "queue")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    table = lines[:5]
    assert all(display_width(line) <= 80 for line in lines), "\n".join(lines)
    assert table[0].split()[:2] == ["ID", "PRI"] and "TITLE" in table[0]
    assert table[1].startswith("00000001  CRIT") and table[1].endswith("…")
    assert "Promote release 4.2" in table[1]
    assert table[2].startswith("00000002  high")
    assert any(line.endswith("…") for line in table[3:4])
    assert not ANSI.search(result.out) and "\x1b" not in result.out
    assert "Injected [31mred" in table[4]  # the escape character itself is gone
    assert lines[-1] == "4 open requests."
    for row, (created, left) in zip(
        table[1:], [("3m", "2h"), ("2h", "3d"), ("1d", "57m"), ("42s", "57m")], strict=True
    ):
        assert re.search(rf"\s{created}\s+{left}\s", row), row


def test_queue_columns_widen_with_the_terminal() -> None:
    wide = cli(FakeClient(queue_items()), "queue", env={**ENV, "COLUMNS": "300"})
    lines = wide.out.splitlines()
    assert "00000001-5d1e-4b6a-9c2f-0e4d8a7b6c5d" in lines[1]
    assert LONG_TITLE in lines[1]
    assert "ROLE" in lines[0] and "APPR" in lines[0] and "1/2" in lines[2]
    assert "2h" in lines[1] and "3d" in lines[2]  # time left
    narrow = cli(FakeClient(queue_items()), "queue", env={**ENV, "COLUMNS": "40"})
    assert all(display_width(line) <= 40 for line in narrow.out.splitlines()), narrow.out


def test_queue_colours_only_a_terminal_without_no_color() -> None:
    items = queue_items()
    assert ANSI.search(cli(FakeClient(items), "queue", tty=True).out)
    assert not ANSI.search(cli(FakeClient(items), "queue", tty=True, env={**ENV, "NO_COLOR": "1"}).out)
    coloured = cli(FakeClient(items), "queue", tty=True)
    plain = ANSI.sub("", re.sub(r"\x1b\[[0-9;]*m", "", coloured.out))
    assert all(display_width(line) <= 80 for line in plain.splitlines())


def test_queue_reads_open_and_json_is_the_apis() -> None:
    client = FakeClient([*queue_items(), intervention(5, status="APPROVED")])
    result = cli(client, "queue", "--json", "--priority", "critical")
    assert [item["id"] for item in result.json()["items"]] == [queue_items()[0]["id"]]
    assert client.called("interventions")[0][1] == {"status": "OPEN", "limit": 51, "priority": "critical"}


def test_queue_merges_pending_and_in_progress_when_open_is_refused() -> None:
    items = [
        intervention(1, priority="normal", created_at=at(hours=-5)),
        intervention(2, status="IN_PROGRESS", priority="high", created_at=at(hours=-1)),
        intervention(3, status="IN_PROGRESS", priority="normal", created_at=at(hours=-9)),
        intervention(4, priority="critical", created_at=at(minutes=-1)),
        intervention(5, status="REJECTED", priority="critical"),
    ]
    client = FakeClient(items, open_filter=False)
    result = cli(client, "queue", "--json")
    assert [item["uow_id"] for item in result.json()["items"]] == [
        "pipeline-4",
        "pipeline-2",
        "pipeline-3",
        "pipeline-1",
    ]
    statuses = [kwargs["status"] for _, kwargs in client.called("interventions")]
    assert statuses == ["OPEN", "PENDING", "IN_PROGRESS"]


def test_queue_says_when_there_are_more() -> None:
    items = [intervention(n) for n in range(1, 6)]
    result = cli(FakeClient(items), "queue", "--limit", "3")
    assert result.out.splitlines()[-1] == "3 open requests; more with --limit 6."
    assert cli(FakeClient([]), "queue").out == "No open requests.\n"


def test_show_has_the_fields_then_the_audit_trail() -> None:
    item = intervention(
        1,
        status="APPROVED",
        priority="high",
        title="Refund 1,200 EUR",
        description="The customer was charged twice.",
        context={"order": "A-77", "amount": 1200},
        decided_by="pilot-ana",
        decided_at=at(minutes=-1),
        decision_reason="Duplicate charge confirmed",
        response={"refund_id": "R-12"},
        resolution_seconds=120.0,
        job_id="7c1e0000-0000-4000-8000-000000000000",
    )
    client = FakeClient([item])
    client.events_list = [
        {"at": at(minutes=-3), "actor": "deploy-bot", "action": "create", "from_status": None, "to_status": "PENDING"},
        {
            "at": at(minutes=-2),
            "actor": "pilot-ana",
            "action": "comment",
            "from_status": "PENDING",
            "to_status": "PENDING",
            "reason": "Checking with billing",
        },
        {
            "at": at(minutes=-1),
            "actor": "pilot-ana",
            "action": "approve",
            "from_status": "PENDING",
            "to_status": "APPROVED",
            "reason": "Duplicate charge confirmed",
        },
    ]
    result = cli(client, "show", item["id"])
    assert result.code == 0, result.err
    text = result.out
    for fragment in (
        "Refund 1,200 EUR",
        item["id"],
        "APPROVED",
        "pipeline-1",
        "by deploy-bot",
        "(3m ago)",
        "(in 57m)",
        "by pilot-ana",
        "Duplicate charge confirmed",
        "2.0m" if False else "2m",
        '"order": "A-77"',
        '"refund_id": "R-12"',
        "The customer was charged twice.",
        "oversight jobs show 7c1e0000",
    ):
        assert fragment in text, fragment
    trail = text[text.index("Audit trail:") :].splitlines()
    assert [line.split()[3] for line in trail[2:] if "ago" in line] == ["create", "comment", "approve"]
    assert "PENDING → APPROVED" in text and "Checking with billing" in text
    assert text.index("Context:") < text.index("Audit trail:")
    shown = cli(client, "show", item["id"], "--json").json()
    assert shown["id"] == item["id"] and [event["action"] for event in shown["events"]] == [
        "create",
        "comment",
        "approve",
    ]


def test_an_id_prefix_is_resolved_among_the_open_requests() -> None:
    client = FakeClient([intervention(0x1234_0001), intervention(0x1234_0002)])
    assert cli(client, "claim", "12340001").code == 0
    assert client.called("claim") == [(("12340001-5d1e-4b6a-9c2f-0e4d8a7b6c5d",), {})]
    assert_one_line_error(cli(client, "claim", "1234"), "2 open requests", "more characters")
    assert_one_line_error(cli(client, "claim", "ffff"), "no open request", "full ID")


def test_actions_call_the_client_and_summarise() -> None:
    item = intervention(1)
    identifier = item["id"]
    client = FakeClient([item])
    assert cli(client, "claim", identifier).out == "Claimed 00000001: IN_PROGRESS, assigned to pilot-ana.\n"
    assert cli(client, "release", identifier).out == "Released 00000001: PENDING.\n"
    approved = cli(client, "approve", identifier, "--reason", "Canary is healthy", "--response", '{"rollout": "100%"}')
    assert approved.out == "Approved 00000001: APPROVED by pilot-ana.\n"
    assert client.called("approve") == [((identifier, "Canary is healthy", {"rollout": "100%"}), {})]
    assert cli(client, "reject", identifier, "--reason", "No").code == 0
    assert client.called("reject") == [((identifier, "No", None), {})]
    assert cli(client, "cancel", identifier).code == 0 and client.called("cancel") == [((identifier, None), {})]
    completed = cli(client, "complete", identifier, "--reason", "done", "--json")
    assert completed.json()["status"] == "COMPLETED"
    assert client.called("complete") == [((identifier, "done"), {})]
    commented = cli(client, "comment", identifier, "Looking now")
    assert commented.out == "Comment added to 00000001 by pilot-ana.\n"
    assert cli(client, "comment", identifier, "again", "--json").json()["text"] == "again"


def test_a_quorum_approval_says_how_many_remain() -> None:
    item = intervention(1, required_approvals=3, approvals_needed=2)
    client = FakeClient([item])
    client.approve = lambda identifier, reason, response=None: models.Intervention.from_dict(item)  # type: ignore[method-assign]
    result = cli(client, "approve", item["id"], "--reason", "ok")
    assert result.out == "Approval recorded for 00000001: PENDING, 2 more approvals needed.\n"


def test_jobs_logs_show_tools_and_stats_render() -> None:
    client = FakeClient()
    logs = cli(client, "jobs", "logs", "job-1")
    assert logs.out.splitlines() == [
        "2026-01-31 11:59:55  INFO     exporting 3 records",
        "2026-01-31 12:00:00  INFO     wrote export.csv",
    ]
    assert [line["message"] for line in cli(client, "jobs", "logs", "job-1", "--json").json()["items"]][1] == (
        "wrote export.csv"
    )
    shown = cli(client, "jobs", "show", "job-1").out
    assert "RUNNING" in shown and "(1m ago)" in shown
    assert "recompute_stats" in cli(client, "jobs", "tools").out
    stats = cli(client, "stats")
    assert stats.code == 0
    for fragment in ("42 in all, 5 open", "PENDING 3", "critical 1", "average 4m10s", "p95 2h1m", "pilot-ana 12"):
        assert fragment in stats.out, fragment
    assert "90% succeeded" in stats.out and "average 2.3s" in stats.out
    assert all(display_width(line) <= 80 for line in stats.out.splitlines())
    assert cli(client, "stats", "--json").json()["interventions"]["total"] == 42


def test_text_and_time_formatting() -> None:
    assert [age(s) for s in (0, 59, 60, 3599, 3600, 86399, 86400, 10 * 86400)] == [
        "0s",
        "59s",
        "1m",
        "59m",
        "1h",
        "23h",
        "1d",
        "10d",
    ]
    assert stamp(at(minutes=-3), NOW) == "2026-01-31 11:57:00Z (3m ago)"
    assert stamp(at(seconds=1), NOW) == "2026-01-31 12:00:01Z (0s ago)"  # the server's clock a second ahead
    assert stamp(at(minutes=57), NOW, future=True) == "2026-01-31 12:57:00Z (in 57m)"
    assert stamp(at(minutes=-2), NOW, future=True) == "2026-01-31 11:58:00Z (passed 2m ago)"
    assert truncate("abcdef", 4) == "abc…" and truncate("abc", 4) == "abc"
    assert display_width("日本") == 4 and display_width(truncate("日本語", 4)) <= 4


# ---------------------------------------------------------------- exit codes of waiting


def request_wait(client: FakeClient, *extra: str) -> Result:
    return cli(client, "request", "--uow-id", "u", "--type", "approval", "--title", "Go?", "--wait", *extra)


@pytest.mark.parametrize(
    ("outcome", "code"),
    [
        ({"status": "APPROVED", "decided_by": "pilot-ana", "decision_reason": "fine"}, 0),
        ({"status": "COMPLETED"}, 0),
        ({"status": "REJECTED", "decided_by": "pilot-ana", "decision_reason": "no"}, 1),
        ({"status": "EXPIRED", "decided_by": "system"}, 2),
        ({"status": "CANCELLED"}, 2),
    ],
)
def test_request_wait_exit_code_follows_the_decision(outcome: dict[str, Any], code: int) -> None:
    client = FakeClient()
    client.wait_result = outcome
    result = request_wait(client, "--timeout", "10m")
    assert result.code == code, result.err
    assert result.out.startswith(outcome["status"])
    assert "waiting for up to 10m" in result.err
    assert client.called("wait")[0][1] == {"timeout": 600.0}
    as_json = request_wait(client, "--json")
    assert as_json.code == code and as_json.json()["status"] == outcome["status"]


def test_request_wait_timeout_is_3() -> None:
    client = FakeClient()
    client.wait_result = WaitTimeout("no decision in time", intervention(99, status="IN_PROGRESS"))
    result = request_wait(client, "--timeout", "2")
    assert result.code == 3
    assert result.out.startswith("Still IN_PROGRESS after 2.0s")
    client.wait_result = WaitTimeout("no decision in time", intervention(99))
    assert request_wait(client, "--timeout", "2", "--json").json()["status"] == "PENDING"


def test_jobs_run_wait_exit_code_follows_the_job() -> None:
    client = FakeClient()
    client.wait_result = {"status": "COMPLETED", "result": {"return_value": {"rows": 3}, "outputs": []}}
    done = cli(client, "jobs", "run", "t", "--wait")
    assert done.code == 0 and '"rows": 3' in done.out
    client.wait_result = {"status": "FAILED", "result": {"error": "boom"}}
    assert cli(client, "jobs", "run", "t", "--wait").code == 1
    client.wait_result = {"status": "CANCELLED"}
    assert cli(client, "jobs", "run", "t", "--wait").code == 2
    client.wait_result = WaitTimeout("slow", None)
    assert cli(client, "jobs", "run", "t", "--wait", "--timeout", "1").code == 3


@pytest.mark.parametrize(
    ("error", "fragments"),
    [
        (Unauthorized(401, "unauthorized", "The token has expired", None), ["The token has expired", "make -s token"]),
        (NotFound(404, "not_found", "Intervention x not found", None), ["not found", "oversight queue"]),
        (
            ValidationFailed(
                422,
                "validation_error",
                "Invalid request: body.title",
                [{"loc": ["body", "title"], "msg": "String should have at most 200 characters"}],
            ),
            ["Invalid request", "title: String should have at most 200 characters"],
        ),
        (OversightError(500, "internal_error", "Internal error (correlation id abc-123)", None), ["abc-123"]),
        (TransportError("Connection refused"), ["cannot reach http://api.test", "make run"]),
        (RuntimeError("surprise\nsecond line"), ["surprise second line"]),
    ],
)
def test_every_error_is_one_line_and_exit_4(error: BaseException, fragments: list[str]) -> None:
    client = FakeClient()
    client.wait_result = error
    assert_one_line_error(request_wait(client), *fragments, progress=1)
    client.stats = lambda: (_ for _ in ()).throw(error)  # type: ignore[method-assign]
    assert_one_line_error(cli(client, "stats", "--json"), *fragments)


def test_interrupting_a_wait_is_130() -> None:
    client = FakeClient()
    client.wait_result = KeyboardInterrupt()
    result = request_wait(client)
    assert result.code == 130 and "interrupted" in result.err
