"""The baseline: the least a Lambda function can be that makes the same AWS
calls as one of ours. It imports boto3 and creates its clients at import
time, as a hand-written handler would, and its handler repeats the calls
that the function made in a recorded run (`BENCH_CALLS`, a pickle of
(service, method, parameters)) in the same order. A call refused by its
condition (a create's key now taken) costs the same round trip and is
ignored."""

import contextlib
import os
import pickle

import boto3
from botocore.exceptions import ClientError

with open(os.environ["BENCH_CALLS"], "rb") as recorded:
    CALLS = pickle.load(recorded)  # noqa: S301  # written by bench/lambda_start.py
CLIENTS = {service: boto3.client(service) for service in dict.fromkeys(service for service, _, _ in CALLS)}


def lambda_handler(event, context):
    for service, method, parameters in CALLS:
        with contextlib.suppress(ClientError):
            getattr(CLIENTS[service], method)(**parameters)
    return {"statusCode": 200, "body": "{}"}
