"""Structured logs carry the request's correlation id; each change emits its
metric (CloudWatch EMF); nothing of the token reaches the logs."""

import io
import json

import pytest

from tests.support import OPERATOR, REQUESTER


@pytest.fixture
def logs():
    """The Powertools log handler's output (it keeps the stream it was
    created with, so capsys alone would depend on import order)."""
    from oversight.observability import logger

    (handler,) = logger._logger.handlers
    buffer = io.StringIO()
    # Swap the attribute, not setStream(): that would flush the old stream,
    # which may be a capture pytest already closed.
    previous, handler.stream = handler.stream, buffer
    yield buffer
    handler.stream = previous


def emitted(capsys, logs) -> list[dict]:
    """Log records and metric (EMF) lines written since the last call."""
    text = capsys.readouterr().out + logs.getvalue()
    logs.seek(0)
    logs.truncate()
    lines = []
    for line in text.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return lines


def metric_names(records: list[dict]) -> set[str]:
    return {m["Name"] for r in records if "_aws" in r for d in r["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}


def test_create_and_decide_log_with_correlation_id_and_emit_metrics(api, capsys, logs):
    emitted(capsys, logs)
    created = api.post("/interventions", REQUESTER, {"uow_id": "u", "type": "resume", "title": "t"})
    records = emitted(capsys, logs)
    created_logs = [r for r in records if r.get("message") == "intervention created"]
    assert len(created_logs) == 1
    assert created_logs[0]["correlation_id"] and created_logs[0]["intervention_id"] == created.body["id"]
    assert created_logs[0]["function_name"] == "CreateInterventionFunction"
    assert "InterventionCreated" in metric_names(records)

    api.post(f"/interventions/{created.body['id']}/approve", OPERATOR, {"reason": "ok"})
    assert {"InterventionApproved", "InterventionDecided"} <= metric_names(emitted(capsys, logs))


def test_the_authorization_header_never_reaches_the_logs(api, capsys, logs):
    secret = "Bearer eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.c2lnbmF0dXJl"
    api.post(
        "/interventions", REQUESTER, {"uow_id": "u", "type": "resume", "title": "t"}, headers={"authorization": secret}
    )
    api.post(
        "/interventions", REQUESTER, {"uow_id": "u", "type": "nope", "title": "t"}, headers={"authorization": secret}
    )
    out = capsys.readouterr()
    assert "c2VjcmV0LXRva2Vu" not in out.out + out.err + logs.getvalue()
