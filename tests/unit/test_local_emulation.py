"""The emulation's speed-ups change no result: Queries answered from the
partition index equal moto's own (every item sorted) on a randomized table
after random writes; SDK calls handed to the emulator in process get what
its HTTP server would answer; Powertools' per-request state is per thread."""

from __future__ import annotations

import random
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_runtime import emulation
from local_runtime.aws import EmulatedAws, InProcessTransport
from local_runtime.emulation import make_dynamodb_writes_atomic, partition_index
from local_runtime.invocation import per_thread_router_state

GSIS = [
    # name, hash, range (None: no range key), projection
    ("by_status", "gsi1pk", "gsi1sk", "ALL"),
    ("by_owner", "gsi2pk", "gsi2sk", "KEYS_ONLY"),
    ("by_group", "gsi3pk", None, "ALL"),
    ("by_score", "gsi4pk", "score", "INCLUDE"),
]


@pytest.fixture(scope="module")
def dynamodb(emulated_aws: EmulatedAws) -> Any:
    make_dynamodb_writes_atomic()
    return emulated_aws.client("dynamodb")


@pytest.fixture
def table(dynamodb: Any) -> Iterator[str]:
    name = f"emulation-{uuid.uuid4().hex[:8]}"
    definitions = {"pk": "S", "sk": "S", "gsi1pk": "S", "gsi1sk": "S", "gsi2pk": "S", "gsi2sk": "S",
                   "gsi3pk": "S", "gsi4pk": "S", "score": "N"}  # fmt: skip
    indexes = []
    for index_name, hash_name, range_name, projection in GSIS:
        schema = [{"AttributeName": hash_name, "KeyType": "HASH"}]
        if range_name:
            schema.append({"AttributeName": range_name, "KeyType": "RANGE"})
        spec: dict[str, Any] = {"ProjectionType": projection}
        if projection == "INCLUDE":
            spec["NonKeyAttributes"] = ["title"]
        indexes.append({"IndexName": index_name, "KeySchema": schema, "Projection": spec})
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in definitions.items()],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=indexes,
    )
    yield name
    dynamodb.delete_table(TableName=name)


def _random_item(rng: random.Random, pk: str, sk: str) -> dict[str, Any]:
    item: dict[str, Any] = {"pk": {"S": pk}, "sk": {"S": sk}, "title": {"S": f"t{rng.randrange(100)}"}}
    if rng.random() < 0.85:  # sparse indexes: some items are in none
        item["gsi1pk"] = {"S": rng.choice(["S#OPEN", "S#DONE", "S#LATE"])}
        item["gsi1sk"] = {"S": f"{rng.randrange(4)}#{rng.randrange(30):02d}#{sk}"}
    if rng.random() < 0.6:
        item["gsi2pk"] = {"S": f"owner-{rng.randrange(3)}"}
        item["gsi2sk"] = {"S": rng.choice(["a", "b", "a#1", "b#2", ""]) or "z"}  # duplicates on purpose
    if rng.random() < 0.5:
        item["gsi3pk"] = {"S": f"group-{rng.randrange(2)}"}
    if rng.random() < 0.5:
        item["gsi4pk"] = {"S": "scores"}
        item["score"] = {"N": rng.choice(["1", "2", "2.0", "10", "-3", "0.5", str(rng.randrange(50))])}
    return item


def _random_writes(dynamodb: Any, table: str, rng: random.Random, count: int) -> None:
    keys = [(f"P#{rng.randrange(40)}", f"S#{rng.randrange(6)}") for _ in range(80)]
    for _ in range(count):
        pk, sk = rng.choice(keys)
        roll = rng.random()
        key = {"pk": {"S": pk}, "sk": {"S": sk}}
        if roll < 0.45:
            dynamodb.put_item(TableName=table, Item=_random_item(rng, pk, sk))
        elif roll < 0.65:
            status = rng.choice(["S#OPEN", "S#DONE", "S#LATE"])
            try:
                dynamodb.update_item(
                    TableName=table, Key=key,
                    UpdateExpression="SET gsi1pk = :s, gsi1sk = :o REMOVE gsi3pk",
                    ExpressionAttributeValues={":s": {"S": status}, ":o": {"S": f"{rng.randrange(4)}#{sk}"}},
                    ConditionExpression="attribute_exists(pk)" if rng.random() < 0.5 else "attribute_exists(sk) OR attribute_not_exists(sk)",
                )  # fmt: skip
            except ClientError:
                pass
        elif roll < 0.75:
            dynamodb.delete_item(TableName=table, Key=key)
        elif roll < 0.85:
            other_pk, other_sk = rng.choice(keys)
            if (other_pk, other_sk) == (pk, sk):
                continue
            try:  # fails now and then: the rollback must leave the index right
                dynamodb.transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": table, "Item": _random_item(rng, pk, sk)}},
                        {"Update": {"TableName": table, "Key": {"pk": {"S": other_pk}, "sk": {"S": other_sk}},
                                    "UpdateExpression": "SET gsi2pk = :o, gsi2sk = :k",
                                    "ConditionExpression": "attribute_exists(pk)",
                                    "ExpressionAttributeValues": {":o": {"S": "owner-9"}, ":k": {"S": "k"}}}},
                    ]
                )  # fmt: skip
            except ClientError:
                pass
        else:
            batch = {rng.choice(keys) for _ in range(5)}
            requests = [
                {"PutRequest": {"Item": _random_item(rng, p, s)}} if rng.random() < 0.7
                else {"DeleteRequest": {"Key": {"pk": {"S": p}, "sk": {"S": s}}}}
                for p, s in batch
            ]  # fmt: skip
            dynamodb.batch_write_item(RequestItems={table: requests})


def _random_query(rng: random.Random, table: str) -> dict[str, Any]:
    index_name, hash_name, range_name, _ = rng.choice([*GSIS, ("", "pk", "sk", "")])
    hash_values = {
        "pk": [f"P#{n}" for n in range(40)], "gsi1pk": ["S#OPEN", "S#DONE", "S#LATE", "S#NONE"],
        "gsi2pk": ["owner-0", "owner-1", "owner-2", "owner-9"], "gsi3pk": ["group-0", "group-1"], "gsi4pk": ["scores"],
    }  # fmt: skip
    names = {"#h": hash_name}
    values: dict[str, Any] = {":h": {"S": rng.choice(hash_values[hash_name])}}
    condition = "#h = :h"
    if range_name and rng.random() < 0.6:
        names["#r"] = range_name
        if range_name == "score":
            low, high = sorted(rng.sample(range(-5, 50), 2))
            values.update({":a": {"N": str(low)}, ":b": {"N": str(high)}})
            condition += rng.choice([" AND #r BETWEEN :a AND :b", " AND #r >= :a", " AND #r < :b"])
        else:
            prefix = rng.choice(["0#", "1#", "2#", "a", "b", "S#", "3#1"])
            values[":a"] = {"S": prefix}
            condition += rng.choice([" AND begins_with(#r, :a)", " AND #r > :a", " AND #r <= :a"])
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": condition,
        "ScanIndexForward": rng.random() < 0.5,
    }
    if index_name:
        request["IndexName"] = index_name
    if rng.random() < 0.7:
        request["Limit"] = rng.randint(1, 7)
    if rng.random() < 0.3:
        names["#t"] = "title"
        values[":t"] = {"S": f"t{rng.randrange(50)}"}
        request["FilterExpression"] = "#t < :t"
    request["ExpressionAttributeNames"] = names
    request["ExpressionAttributeValues"] = values
    return request


def _all_pages(dynamodb: Any, request: dict[str, Any]) -> list[dict[str, Any]]:
    pages = []
    request = dict(request)
    for _ in range(200):
        response = dynamodb.query(**request)
        pages.append({k: response.get(k) for k in ("Items", "Count", "ScannedCount", "LastEvaluatedKey")})
        if "LastEvaluatedKey" not in response:
            break
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return pages


def _answers(dynamodb: Any, request: dict[str, Any], indexed: bool) -> list[dict[str, Any]]:
    emulation.INDEXED_QUERIES = indexed
    try:
        return _all_pages(dynamodb, request)
    finally:
        emulation.INDEXED_QUERIES = True


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_queries_answer_as_moto_does_after_random_writes(dynamodb: Any, table: str, seed: int) -> None:
    rng = random.Random(seed)
    for round_ in range(3):
        _random_writes(dynamodb, table, rng, 120)
        for _ in range(30):
            request = _random_query(rng, table)
            assert _answers(dynamodb, request, True) == _answers(dynamodb, request, False), (round_, request)


def test_queries_from_any_start_key_answer_as_moto_does(dynamodb: Any, table: str) -> None:
    """Start keys as a caller would hold them (an item's key for the index
    queried), from any partition and position, including past the end."""
    rng = random.Random(7)
    _random_writes(dynamodb, table, rng, 300)
    items = dynamodb.scan(TableName=table)["Items"]
    index_keys = {index_name: [n for n in (hash_name, range_name) if n] for index_name, hash_name, range_name, _ in GSIS}
    checked = 0
    while checked < 150:
        request = _random_query(rng, table)
        wanted = ["pk", "sk", *index_keys.get(request.get("IndexName", ""), [])]
        start = rng.choice(items)
        if not all(name in start for name in wanted):
            continue
        request["ExclusiveStartKey"] = {name: start[name] for name in wanted}
        assert _answers(dynamodb, request, True) == _answers(dynamodb, request, False), request
        checked += 1


def test_the_index_kept_by_writes_equals_one_built_afresh(dynamodb: Any, table: str, emulated_aws: EmulatedAws) -> None:
    from moto.dynamodb.models import dynamodb_backends

    from local_runtime.template import ACCOUNT, REGION

    rng = random.Random(11)
    dynamodb.query(TableName=table, IndexName="by_status", KeyConditionExpression="gsi1pk = :s",
                   ExpressionAttributeValues={":s": {"S": "S#OPEN"}})  # builds the index  # fmt: skip
    _random_writes(dynamodb, table, rng, 400)
    moto_table = dynamodb_backends[ACCOUNT][REGION].get_table(table)
    kept = partition_index(moto_table)
    fresh = emulation.PartitionIndex(moto_table, kept.gsis)

    def buckets(index: emulation.PartitionIndex) -> dict[str, Any]:
        return {name: {value: set(items) for value, items in found.items() if items} for name, found in index.buckets.items()}

    def ordered(index: emulation.PartitionIndex) -> dict[str, Any]:
        return {name: {value: (o.keys, [id(i) for i in o.items]) for value, o in found.items() if o.items}
                for name, found in index.ordered.items()}  # fmt: skip

    assert buckets(kept) == buckets(fresh)
    assert ordered(kept) == ordered(fresh)


def test_sdk_calls_to_the_emulator_stay_in_process(emulated_aws: EmulatedAws, monkeypatch: pytest.MonkeyPatch) -> None:
    handled = []
    send = InProcessTransport.send
    monkeypatch.setattr(InProcessTransport, "send", lambda self, request: handled.append(request.url) or send(self, request))
    s3 = emulated_aws.client("s3")
    bucket = f"inproc-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    key = "dir/a b+ü%.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"hello", ContentType="text/plain", Metadata={"k": "v"})
    found = s3.get_object(Bucket=bucket, Key=key)
    assert (found["Body"].read(), found["ContentType"], found["Metadata"]) == (b"hello", "text/plain", {"k": "v"})
    assert [entry["Key"] for entry in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [key]
    assert len(handled) == 4 and all(url.startswith(emulated_aws.endpoint) for url in handled)
    # What leaves the process still goes to the server over HTTP.
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key})
    with urllib.request.urlopen(url) as response:
        assert response.read() == b"hello"
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket=bucket, Key="missing")
    assert raised.value.response["Error"]["Code"] == "NoSuchKey"


def test_the_event_handler_state_is_per_thread() -> None:
    per_thread_router_state()
    per_thread_router_state()  # idempotent
    from aws_lambda_powertools.event_handler.api_gateway import APIGatewayHttpResolver, BaseRouter, Router

    app = APIGatewayHttpResolver()
    BaseRouter.current_event = "mine"
    seen: list[Any] = []

    def another_invocation() -> None:
        seen.append(hasattr(app, "current_event"))
        BaseRouter.current_event = "theirs"
        seen.extend([app.current_event, Router().current_event])

    thread = threading.Thread(target=another_invocation)
    thread.start()
    thread.join()
    assert seen == [False, "theirs", "theirs"]
    assert app.current_event == "mine" and BaseRouter.current_event == "mine"
