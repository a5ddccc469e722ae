"""Each patch of local_runtime/emulation/event_patches.py still takes effect
on the moto installed: its scenario runs here, every patch applied, and in a
process of its own with every patch but that one (`python -m
tests.unit.test_local_event_patches <patch>`); the outcomes differ as the
patch's docstring says (a failed transaction's stream records, a key that
outlives a restart, the account in an event)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.backends import get_backend

from local_runtime import emulation
from local_runtime.aws import EmulatedAws
from local_runtime.emulation import event_patches, install_moto_patches, patches
from local_runtime.template import ACCOUNT, REGION, Template, create_keys
from tests.unit.patch_scenarios import scenario_runs

ROOT = Path(__file__).resolve().parents[2]
UNPATCHED_RUN_SECONDS = 300


def _stream_records_of_a_failed_transaction(aws: EmulatedAws) -> dict[str, Any]:
    """A transaction putting a new item, then failing on its second
    write's condition: how many records it left in the table's stream."""
    dynamodb = aws.client("dynamodb")
    table = f"patched-stream-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "exists"}})
    shard = get_backend("dynamodb")[ACCOUNT][REGION].tables[table].stream_shard
    before = len(shard.items)
    try:
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": table, "Item": {"pk": {"S": "new"}}}},
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"pk": {"S": "exists"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    except ClientError as error:
        failed = error.response["Error"]["Code"]
    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": "new"}}).get("Item")
    return {"failed": failed, "item kept": item is not None, "records left": len(shard.items) - before}


def _a_key_across_a_restart(aws: EmulatedAws) -> dict[str, Any]:
    """A template's key created, used, created again (a restart): whether
    it has the same id and still decrypts what it encrypted."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "template.yaml"
        path.write_text("Resources:\n  PatchedKey:\n    Type: AWS::KMS::Key\n    Properties: {Description: k}\n")
        kms = aws.client("kms")
        first = Template(path)
        (key_id,) = create_keys(kms, first).values()
        sealed = kms.encrypt(KeyId=key_id, Plaintext=b"secret")["CiphertextBlob"]
        get_backend("kms")[ACCOUNT][REGION].keys.pop(key_id)
        (key_id_after,) = create_keys(kms, Template(path)).values()
    try:
        decrypts = kms.decrypt(CiphertextBlob=sealed)["Plaintext"] == b"secret"
    except ClientError:
        decrypts = False
    return {"same id": key_id_after == key_id, "decrypts": decrypts}


def _the_fields_of_a_delivered_event(aws: EmulatedAws) -> dict[str, Any]:
    """The fields of an event a rule delivers to its queue."""
    events, sqs = aws.client("events"), aws.client("sqs")
    token = uuid.uuid4().hex[:8]
    bus = f"patched-bus-{token}"
    events.create_event_bus(Name=bus)
    queue = sqs.create_queue(QueueName=f"patched-queue-{token}")["QueueUrl"]
    events.put_rule(Name="all", EventBusName=bus, EventPattern='{"source": ["oversight"]}')
    events.put_targets(
        Rule="all",
        EventBusName=bus,
        Targets=[{"Id": "q", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:patched-queue-{token}"}],
    )
    events.put_events(
        Entries=[{"Source": "oversight", "DetailType": "Job Queued", "Detail": "{}", "EventBusName": bus}]
    )
    (message,) = sqs.receive_message(QueueUrl=queue)["Messages"]
    return {"fields": list(json.loads(message["Body"]))}


SCENARIOS: dict[str, Callable[[EmulatedAws], dict[str, Any]]] = {
    event_patches.drop_stream_records_of_failed_transactions.__name__: _stream_records_of_a_failed_transaction,
    event_patches.derive_template_keys_from_the_local_seed.__name__: _a_key_across_a_restart,
    event_patches.deliver_events_whole.__name__: _the_fields_of_a_delivered_event,
}


@pytest.fixture(scope="module")
def unpatched_runs() -> Iterator[dict[str, subprocess.Popen[str]]]:
    yield from scenario_runs("tests.unit.test_local_event_patches", SCENARIOS)


@pytest.fixture
def with_and_without(
    emulated_aws: EmulatedAws, unpatched_runs: dict[str, subprocess.Popen[str]]
) -> Callable[[Callable[[], None]], tuple[dict[str, Any], dict[str, Any]]]:
    install_moto_patches()

    def outcomes(patch: Callable[[], None]) -> tuple[dict[str, Any], dict[str, Any]]:
        patched = SCENARIOS[patch.__name__](emulated_aws)
        run = unpatched_runs[patch.__name__]
        output, errors = run.communicate(timeout=UNPATCHED_RUN_SECONDS)
        assert run.returncode == 0, errors
        return patched, json.loads(output.splitlines()[-1])

    return outcomes


def test_every_patch_has_a_scenario() -> None:
    assert list(SCENARIOS) == [patch.__name__ for patch in event_patches.PATCHES]


def test_drop_stream_records_of_failed_transactions_takes_effect(with_and_without: Any) -> None:
    patched, unpatched = with_and_without(event_patches.drop_stream_records_of_failed_transactions)
    assert patched == {"failed": "TransactionCanceledException", "item kept": False, "records left": 0}
    # moto's own: the item is rolled back, its INSERT record stays in the stream.
    assert unpatched == {"failed": "TransactionCanceledException", "item kept": False, "records left": 1}


def test_derive_template_keys_from_the_local_seed_takes_effect(with_and_without: Any) -> None:
    patched, unpatched = with_and_without(event_patches.derive_template_keys_from_the_local_seed)
    assert patched == {"same id": True, "decrypts": True}
    assert unpatched == {"same id": False, "decrypts": False}


def test_deliver_events_whole_takes_effect(with_and_without: Any) -> None:
    patched, unpatched = with_and_without(event_patches.deliver_events_whole)
    aws_fields = ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]
    assert patched == {"fields": aws_fields}
    assert "account" not in unpatched["fields"]


def _outcome_without(name: str) -> dict[str, Any]:
    emulation.check_moto_version()
    for patch in patches.PATCHES:
        patches.apply(patch)
    for patch in event_patches.PATCHES:
        if patch.__name__ != name:
            event_patches.apply(patch)
    aws = EmulatedAws()
    aws.start()
    try:
        return SCENARIOS[name](aws)
    finally:
        aws.stop()


if __name__ == "__main__":  # one unpatched run (see unpatched_runs)
    print(json.dumps(_outcome_without(sys.argv[1])))
