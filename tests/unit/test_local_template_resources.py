"""Queues and buckets created from the template, and the environment the
functions get from it."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from local_runtime.aws import EmulatedAws
from local_runtime.template import Template

TEMPLATE = """
Resources:
  Jobs:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: jobs-TOKEN
      VisibilityTimeout: 90
      RedrivePolicy: {deadLetterTargetArn: !GetAtt JobsDeadLetters.Arn, maxReceiveCount: 3}
  JobsDeadLetters:  # declared after the queue that names it
    Type: AWS::SQS::Queue
    Properties: {QueueName: jobs-dlq-TOKEN, MessageRetentionPeriod: 1209600}
  Ordered:
    Type: AWS::SQS::Queue
    Properties: {FifoQueue: true, ContentBasedDeduplication: true}
  OutputsTOKEN:
    Type: AWS::S3::Bucket
  WorkerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: worker/
      Handler: app.handler
      Environment:
        Variables:
          JOB_QUEUE_URL: !Ref Jobs
          JOB_QUEUE_ARN: !GetAtt Jobs.Arn
          OUTPUT_BUCKET: !Ref OutputsTOKEN
          SHARED: same
          SERVICE: worker
  OtherFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: other/
      Handler: app.handler
      Environment:
        Variables: {SHARED: same, SERVICE: other}
"""


@pytest.fixture
def template(tmp_path: Path, emulated_aws: EmulatedAws) -> Template:
    token = uuid.uuid4().hex[:8]
    (tmp_path / "template.yaml").write_text(TEMPLATE.replace("TOKEN", token))
    loaded = Template(tmp_path / "template.yaml")
    emulated_aws.provision(loaded)
    return loaded


def test_queues_are_created_with_their_attributes_and_redrive_policy(
    emulated_aws: EmulatedAws, template: Template
) -> None:
    sqs = emulated_aws.client("sqs")

    attributes = sqs.get_queue_attributes(QueueUrl=template.resolve({"Ref": "Jobs"}), AttributeNames=["All"])[
        "Attributes"
    ]

    assert attributes["VisibilityTimeout"] == "90"
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == template.resolve({"Fn::GetAtt": ["JobsDeadLetters", "Arn"]})
    assert int(redrive["maxReceiveCount"]) == 3


def test_a_fifo_queue_gets_the_suffix_aws_requires(emulated_aws: EmulatedAws, template: Template) -> None:
    url = template.resolve({"Ref": "Ordered"})

    attributes = emulated_aws.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["FifoQueue"])[
        "Attributes"
    ]

    assert url.endswith("/Ordered.fifo")
    assert attributes["FifoQueue"] == "true"


def test_functions_get_the_emulators_queue_url_and_the_buckets_name(
    emulated_aws: EmulatedAws, template: Template
) -> None:
    worker = next(spec for spec in template.functions() if spec.logical_id == "WorkerFunction")

    assert worker.environment["JOB_QUEUE_URL"].startswith(f"{emulated_aws.endpoint}/")
    assert (
        emulated_aws.client("sqs").get_queue_url(QueueName=template.physical_name("Jobs"))["QueueUrl"]
        == (worker.environment["JOB_QUEUE_URL"])
    )
    assert worker.environment["JOB_QUEUE_ARN"] == f"arn:aws:sqs:us-east-1:123456789012:{template.physical_name('Jobs')}"
    bucket = worker.environment["OUTPUT_BUCKET"]
    assert bucket == bucket.lower()
    emulated_aws.client("s3").head_bucket(Bucket=bucket)
