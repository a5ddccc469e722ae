"""A queued job whose tool is no longer registered when its message is
delivered: the worker fails it without a run, and acknowledges the message."""

import tests.jobtools as jobtools
from tests.conftest import TEMPLATE
from tests.support import REQUESTER, VIEWER, JobWorker


def test_a_job_whose_tool_is_gone_fails_without_a_run(api, sqs):
    jobtools.reset()
    worker = JobWorker(TEMPLATE, sqs)
    with jobtools.registered():
        reply = api.post("/jobs", REQUESTER, {"tool": "test_echo", "parameters": {"text": "hi"}})
    assert reply.status == 202, reply.body
    worker.drain()  # test_echo is unregistered again
    failed = api.get(f"/jobs/{reply.body['id']}", VIEWER).body
    assert (failed["status"], failed["attempts"], failed["started_at"]) == ("FAILED", 0, None)
    assert (failed["duration_seconds"], failed["finished_at"] is not None) == (0.0, True)
    assert failed["result"]["error"] == "Unknown tool test_echo" and failed["result"]["return_value"] is None
    assert worker.failures == [] and "test_echo" not in jobtools.RUNS
