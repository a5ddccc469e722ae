"""DynamoDB Streams as Lambda's event source mapping reads them: the records
moto's GetRecords returns, in the shape Lambda hands a function (the
`Records` of a DynamoDB Streams event), and a reader that follows each
shard from a position.

The poller that invokes the functions is local_runtime/stream_poller.py.
"""

from __future__ import annotations

import base64
import os
from collections.abc import MutableMapping
from datetime import datetime
from typing import Any

from local_runtime.template import REGION

# botocore 1.44 routes dynamodbstreams calls by account id (an endpoint of
# its own per account) unless told not to; moto serves them on its one
# endpoint. Set before any client is made (the runtime's and the tests').
os.environ.setdefault("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")

EVENT_VERSION = "1.1"
# GetRecords returns at most this many records per call.
_GET_RECORDS_LIMIT = 1000
# The fields of a record's `dynamodb` that Lambda passes on, in its order.
_DYNAMODB_FIELDS = (
    "ApproximateCreationDateTime",
    "Keys",
    "NewImage",
    "OldImage",
    "SequenceNumber",
    "SizeBytes",
    "StreamViewType",
)


def lambda_stream_records(raw_records: list[dict[str, Any]], stream_arn: str) -> list[dict[str, Any]]:
    """GetRecords records (as boto3 returns them, or as moto holds them) →
    the records of the Lambda event, as AWS sends them: `eventVersion`
    "1.1", the stream's ARN as `eventSourceARN`, images in the JSON wire
    format (binary as base64 text), `ApproximateCreationDateTime` as epoch
    seconds (a number, rounded down to the second as the Streams API
    rounds it). Records already in that shape come back unchanged."""
    return [_lambda_record(record, stream_arn) for record in raw_records]


def _lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    change = record.get("dynamodb") or {}
    dynamodb: dict[str, Any] = {}
    for name in _DYNAMODB_FIELDS:
        if name not in change:
            continue
        value = change[name]
        if name == "ApproximateCreationDateTime":
            value = epoch_seconds(value)
        elif name in ("Keys", "NewImage", "OldImage"):
            value = {attribute: wire_attribute(member) for attribute, member in value.items()}
        elif name == "SizeBytes":
            value = int(value)
        dynamodb[name] = value
    converted: dict[str, Any] = {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": EVENT_VERSION,
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion") or REGION,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }
    if record.get("userIdentity"):  # a TTL deletion: the service did it
        converted["userIdentity"] = record["userIdentity"]
    return converted


def epoch_seconds(value: Any) -> int:
    """A record's creation time (a datetime from boto3 or moto, or already
    a number) as whole epoch seconds."""
    if isinstance(value, datetime):
        return int(value.timestamp())
    return int(float(value))


def wire_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """An attribute value in DynamoDB's JSON wire format: boto3 decodes B
    and BS into bytes, which the Lambda event (JSON) holds as base64."""
    ((kind, inner),) = value.items()
    if kind == "B":
        return {kind: _base64(inner)}
    if kind == "BS":
        return {kind: [_base64(member) for member in inner]}
    if kind == "M":
        return {kind: {name: wire_attribute(member) for name, member in inner.items()}}
    if kind == "L":
        return {kind: [wire_attribute(member) for member in inner]}
    return {kind: inner}


def _base64(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    return str(value)  # already base64 text


def read_shard(
    client_streams: Any, stream_arn: str, shard_id: str, after: str | None, limit: int | None = None
) -> list[dict[str, Any]]:
    """The raw records of one shard after sequence number `after` (from the
    oldest one kept when None), oldest first, at most `limit` of them."""
    if after is None:
        request = {"ShardIteratorType": "TRIM_HORIZON"}
    else:
        request = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
    iterator = client_streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard_id, **request)["ShardIterator"]
    records: list[dict[str, Any]] = []
    while iterator and (limit is None or len(records) < limit):
        wanted = _GET_RECORDS_LIMIT if limit is None else min(_GET_RECORDS_LIMIT, limit - len(records))
        page = client_streams.get_records(ShardIterator=iterator, Limit=wanted)
        if not page.get("Records"):
            break
        records.extend(page["Records"])
        iterator = page.get("NextShardIterator")
    return records


def shard_ids(client_streams: Any, stream_arn: str) -> list[str]:
    description = client_streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]
    return [shard["ShardId"] for shard in description.get("Shards", [])]


def read_new_records(client_streams: Any, stream_arn: str, positions: MutableMapping[str, str]) -> list[dict[str, Any]]:
    """Every record of the stream after `positions` ({shard id: sequence
    number of the last record read}; a shard missing from it is read from
    its oldest record), as Lambda event records (lambda_stream_records),
    shard by shard, each in order. `positions` is updated to the last
    record read of each shard."""
    found: list[dict[str, Any]] = []
    for shard_id in shard_ids(client_streams, stream_arn):
        raw = read_shard(client_streams, stream_arn, shard_id, positions.get(shard_id))
        if raw:
            positions[shard_id] = raw[-1]["dynamodb"]["SequenceNumber"]
            found.extend(lambda_stream_records(raw, stream_arn))
    return found
