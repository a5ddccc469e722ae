"""The files in events/ are the ones `sam local invoke -e` takes: each one,
unmodified, drives its handler to the expected answer."""

import json

from local_runtime.context import LocalLambdaContext
from local_runtime.handlers import load_handler
from tests.conftest import ROOT, TEMPLATE


def invoke(function_name: str, event: dict):
    spec = TEMPLATE.function(function_name)
    result = load_handler(spec)(event, LocalLambdaContext(spec.logical_id, spec.timeout))
    return result["statusCode"], json.loads(result["body"])


def sample(name: str) -> dict:
    return json.loads((ROOT / "events" / f"{name}.json").read_text())


def test_every_function_has_a_sample_event():
    assert {spec.name for spec in TEMPLATE.functions()} <= {p.stem for p in (ROOT / "events").glob("*.json")}


def test_sample_events_drive_their_handlers(api):
    assert invoke("health", sample("health")) == (200, {"status": "ok"})

    status, created = invoke("create_intervention", sample("create_intervention"))
    assert status == 201 and created["priority"] == "high" and created["created_by"] == "agent-7"
    # The sample carries an Idempotency-Key: replaying it returns the same record.
    assert invoke("create_intervention", sample("create_intervention")) == (201, created)

    status, page = invoke("read_interventions", sample("read_interventions"))
    assert status == 200 and [iv["id"] for iv in page["items"]] == [created["id"]]

    decide = sample("decide_intervention")
    assert invoke("decide_intervention", decide)[0] == 404  # its sample id does not exist yet
    decide["pathParameters"]["id"] = created["id"]
    decide["rawPath"] = decide["requestContext"]["http"]["path"] = f"/interventions/{created['id']}/approve"
    status, approved = invoke("decide_intervention", decide)
    assert status == 200 and approved["status"] == "APPROVED" and approved["decided_by"] == "pilot-ana"
