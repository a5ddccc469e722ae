"""Structured logs carry the request's correlation id; each change emits its
metric (CloudWatch EMF); nothing of the token reaches the logs."""

import json

from tests.support import OPERATOR, REQUESTER


def emitted(capsys) -> list[dict]:
    lines = []
    for line in capsys.readouterr().out.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return lines


def metric_names(records: list[dict]) -> set[str]:
    return {m["Name"] for r in records if "_aws" in r for d in r["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}


def test_create_and_decide_log_with_correlation_id_and_emit_metrics(api, capsys):
    capsys.readouterr()
    created = api.post("/interventions", REQUESTER, {"uow_id": "u", "type": "resume", "title": "t"})
    records = emitted(capsys)
    created_logs = [r for r in records if r.get("message") == "intervention created"]
    assert len(created_logs) == 1
    assert created_logs[0]["correlation_id"] and created_logs[0]["intervention_id"] == created.body["id"]
    assert created_logs[0]["function_name"] == "CreateInterventionFunction"
    assert "InterventionCreated" in metric_names(records)

    api.post(f"/interventions/{created.body['id']}/approve", OPERATOR, {"reason": "ok"})
    assert {"InterventionApproved", "InterventionDecided"} <= metric_names(emitted(capsys))


def test_the_authorization_header_never_reaches_the_logs(api, capsys):
    secret = "Bearer eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.c2lnbmF0dXJl"
    api.post("/interventions", REQUESTER, {"uow_id": "u", "type": "resume", "title": "t"},
             headers={"authorization": secret})  # fmt: skip
    api.post("/interventions", REQUESTER, {"uow_id": "u", "type": "nope", "title": "t"},
             headers={"authorization": secret})  # fmt: skip
    out = capsys.readouterr()
    assert "c2VjcmV0LXRva2Vu" not in out.out + out.err
