"""The local runtime enforces Lambda's 6 MB response limit on a function's
result as the Lambda Python runtime serialises it: over it, the request is
answered as for any function error (500), and the log says why."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.test import Client

from local_runtime.invocation import LocalFunction
from local_runtime.routing import Router
from local_runtime.server import HttpApi
from local_runtime.template import FunctionSpec, Template
from tests.unit.conftest import bare_environment

TEMPLATE = """
Resources:
  BigFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: big/
      Handler: app.handler
      Events:
        Get: {Type: HttpApi, Properties: {Method: GET, Path: /big, Auth: {Authorizer: NONE}}}
"""

# A body of `size` copies of `char`: the result is {"statusCode": 200, "body": "..."}.
HANDLER = """
def handler(event, context):
    query = event["queryStringParameters"]
    return {"statusCode": 200, "body": query["char"] * int(query["size"])}
"""
ENVELOPE = len(json.dumps({"statusCode": 200, "body": ""}))
# "Exceeded maximum allowed payload size (6291556 bytes)", as Lambda says.
MAX_RESULT_BYTES = 6 * 1024 * 1024 + 100


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    folder = tmp_path / f"big_{uuid.uuid4().hex[:8]}"
    folder.mkdir()
    (folder / "app.py").write_text(HANDLER)
    function = LocalFunction(FunctionSpec("BigFunction", folder, "app.handler", {}, timeout=10), *bare_environment())
    yield Client(HttpApi(Router(Template(tmp_path / "template.yaml")), {"BigFunction": function}, "secret"))
    function.stop()


def test_a_result_one_byte_over_the_limit_is_a_500_and_the_log_says_why(client: Client, caplog) -> None:
    at_limit = client.get(f"/big?char=x&size={MAX_RESULT_BYTES - ENVELOPE}")
    assert at_limit.status_code == 200 and len(at_limit.data) == MAX_RESULT_BYTES - ENVELOPE

    with caplog.at_level(logging.ERROR, logger="local_runtime"):
        response = client.get(f"/big?char=x&size={MAX_RESULT_BYTES - ENVELOPE + 1}")
    assert response.status_code == 500
    assert response.json["code"] == "internal_error"
    assert f"{MAX_RESULT_BYTES + 1} bytes" in caplog.text and "response limit" in caplog.text


def test_the_result_is_measured_as_utf_8_not_as_escapes(client: Client) -> None:
    # é: 2 bytes of UTF-8, as the Python 3.12+ runtime sends it; 6 as \u00e9.
    fits = (MAX_RESULT_BYTES - ENVELOPE) // 2
    assert client.get(f"/big?char=%C3%A9&size={fits}").status_code == 200
    assert client.get(f"/big?char=%C3%A9&size={fits + 1}").status_code == 500
