"""The functions' Step Functions calls reach the emulator, which runs the
executions: a task token from a waiting execution resumes it, an unknown
one is InvalidToken, as in AWS; and every call is shown in the runtime's
log (the call, the end of its token, the output or error and cause, the
answer)."""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_runtime.aws import EmulatedAws

LOGGER = "local_runtime.stepfunctions"


def _logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == LOGGER]


def _waiting_execution(aws: EmulatedAws) -> tuple[str, str]:
    """An execution waiting on its task token (sent to a queue by its
    `sqs:sendMessage.waitForTaskToken` step): its ARN and the token."""
    sqs, states = aws.client("sqs"), aws.client("stepfunctions")
    name = f"approval-{uuid.uuid4().hex[:8]}"
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    wait = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}},
        "End": True,
    }
    machine = states.create_state_machine(
        name=name,
        definition=json.dumps({"StartAt": "Wait", "States": {"Wait": wait}}),
        roleArn="arn:aws:iam::123456789012:role/local",
    )["stateMachineArn"]
    execution = states.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    for _ in range(100):
        messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages")
        if messages:
            return execution, json.loads(messages[0]["Body"])["token"]
    raise AssertionError(states.get_execution_history(executionArn=execution))


def _finished(aws: EmulatedAws, execution: str) -> dict[str, Any]:
    states = aws.client("stepfunctions")
    for _ in range(100):
        described = states.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.05)
    raise AssertionError(f"{execution} still running")


def test_a_task_success_resumes_the_waiting_execution_and_is_logged(
    emulated_aws: EmulatedAws, caplog: pytest.LogCaptureFixture
) -> None:
    execution, token = _waiting_execution(emulated_aws)
    output = {"id": "i-1", "status": "APPROVED", "decided_by": "ana", "approvals": []}

    with caplog.at_level(logging.INFO, logger=LOGGER):
        emulated_aws.client("stepfunctions").send_task_success(taskToken=token, output=json.dumps(output))

    finished = _finished(emulated_aws, execution)
    assert (finished["status"], json.loads(finished["output"])) == ("SUCCEEDED", output)
    assert _logged(caplog) == [
        f"Step Functions SendTaskSuccess (token ...{token[-8:]}) output {json.dumps(output)} -> 200 OK"
    ]


def test_a_task_failure_fails_the_waiting_execution_and_is_logged(
    emulated_aws: EmulatedAws, caplog: pytest.LogCaptureFixture
) -> None:
    execution, token = _waiting_execution(emulated_aws)

    with caplog.at_level(logging.INFO, logger=LOGGER):
        emulated_aws.client("stepfunctions").send_task_failure(
            taskToken=token, error="Oversight.Rejected", cause='{"id": "i-2"}'
        )

    finished = _finished(emulated_aws, execution)
    # (moto's interpreter keeps the error, not the cause: the log line shows it)
    assert (finished["status"], finished["error"]) == ("FAILED", "Oversight.Rejected")
    assert _logged(caplog) == [
        f"Step Functions SendTaskFailure (token ...{token[-8:]}) error Oversight.Rejected"
        ' cause {"id": "i-2"} -> 200 OK'
    ]


def test_an_unknown_token_is_refused_and_the_refusal_logged(
    emulated_aws: EmulatedAws, caplog: pytest.LogCaptureFixture
) -> None:
    states = emulated_aws.client("stepfunctions")

    with caplog.at_level(logging.INFO, logger=LOGGER):
        with pytest.raises(ClientError) as refused:
            states.send_task_success(taskToken="token-ending-in-abcd1234", output="{}")
        states.list_state_machines()  # not a task callback: not logged

    assert refused.value.response["Error"]["Code"] == "InvalidToken"
    assert _logged(caplog) == [
        "Step Functions SendTaskSuccess (token ...abcd1234) output {} -> 400 BAD REQUEST InvalidToken"
    ]


def test_a_long_output_is_cut_in_the_log(emulated_aws: EmulatedAws, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=LOGGER), pytest.raises(ClientError):
        emulated_aws.client("stepfunctions").send_task_success(taskToken="t" * 20, output=json.dumps({"x": "y" * 2000}))

    (line,) = _logged(caplog)
    assert "... (2009 characters) -> 400 BAD REQUEST InvalidToken" in line
    assert len(line) < 700
