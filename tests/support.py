"""Test helpers: a controllable clock, a client that invokes handlers with
the sample events from events/, and a DynamoDB request counter."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from local_runtime.context import LocalLambdaContext
from local_runtime.handlers import load_handler
from local_runtime.routing import Router, build_http_event
from local_runtime.template import ACCOUNT, REGION, Template
from local_runtime.workers import sqs_event_record


def configure_environment(template: Template) -> None:
    """The functions' environment from the template, plus a fake account."""
    for spec in template.functions():
        for key, value in spec.environment.items():
            if key != "POWERTOOLS_SERVICE_NAME":
                os.environ.setdefault(key, value)
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION=REGION,
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_SERVICE_NAME="oversight-tests",
        POWERTOOLS_METRICS_NAMESPACE="Oversight",
    )
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        os.environ.pop(name, None)


class Clock:
    def __init__(self, start: datetime) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


def user(sub: str, *roles: str, tenant: str | None = "acme", groups_as_list: bool = False) -> dict[str, Any]:
    """JWT claims as the HTTP API authorizer passes them."""
    claims: dict[str, Any] = {"sub": sub, "token_use": "id"}
    if roles:
        claims["cognito:groups"] = list(roles) if groups_as_list else f"[{' '.join(roles)}]"
    if tenant is not None:
        claims["custom:tenant"] = tenant
    return claims


REQUESTER = user("agent-7", "requester")
OPERATOR = user("pilot-ana", "operator")
OPERATOR_2 = user("pilot-bo", "operator")
ADMIN = user("root-cy", "admin")
VIEWER = user("watcher-di", "viewer")


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]
    raw: dict[str, Any]


class ApiClient:
    """Calls the function that template.yaml routes a request to, in
    process, starting from that function's sample event in events/."""

    def __init__(self, template: Template, events_dir: Path) -> None:
        self.router = Router(template)
        self.events_dir = events_dir

    def sample_event(self, function_name: str) -> dict[str, Any]:
        return json.loads((self.events_dir / f"{function_name}.json").read_text())

    def request(
        self,
        method: str,
        url: str,
        claims: dict[str, Any] | None,
        body: Any = None,
        raw_body: str | bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        parts = urlsplit(url)
        match = self.router.match(method, parts.path)
        assert match is not None, f"no route for {method} {parts.path}"
        sent_headers = {"content-type": "application/json", **(headers or {})}
        sent_headers = {k: v for k, v in sent_headers.items() if v is not None}
        payload = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
        event = build_http_event(
            match,
            method,
            parts.path,
            query=parse_qsl(parts.query, keep_blank_values=True),
            headers=sent_headers,
            body=payload,
            claims=claims,
            base=self.sample_event(match.function.name),
        )
        handler = load_handler(match.function)
        result = handler(event, LocalLambdaContext(match.function.logical_id, match.function.timeout))
        text = result.get("body") or ""
        return Reply(
            status=result["statusCode"],
            body=json.loads(text) if text else None,
            headers={k.lower(): v for k, v in (result.get("headers") or {}).items()},
            raw=result,
        )

    def get(self, url: str, claims: dict[str, Any] | None, **kwargs: Any) -> Reply:
        return self.request("GET", url, claims, **kwargs)

    def post(self, url: str, claims: dict[str, Any] | None, body: Any = None, **kwargs: Any) -> Reply:
        return self.request("POST", url, claims, body=body, **kwargs)

    def create(self, claims: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        body = {"uow_id": "uow-1", "type": "approval", "title": "Approve it", **fields}
        reply = self.post("/interventions", claims or REQUESTER, body)
        assert reply.status == 201, reply.body
        return reply.body


class RequestCounter:
    """Counts DynamoDB requests by operation and the items they returned."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: Counter[str] = Counter()
        self.items_read = 0
        client.meta.events.register("after-call.dynamodb", self._after)

    def _after(self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls[model.name] += 1
        if "Items" in parsed:
            self.items_read += len(parsed["Items"])
        elif parsed.get("Item"):
            self.items_read += 1
        for items in (parsed.get("Responses") or {}).values():
            self.items_read += len(items) if isinstance(items, list) else 0

    def reset(self) -> None:
        self.calls.clear()
        self.items_read = 0

    def detach(self) -> None:
        self.client.meta.events.unregister("after-call.dynamodb", self._after)


class FakeRemainingTime:
    """get_remaining_time_in_millis that allows `calls` checks with plenty
    of time, then reports the invocation as nearly out of time."""

    def __init__(self, calls: int) -> None:
        self.calls = calls

    def __call__(self) -> int:
        self.calls -= 1
        return 60_000 if self.calls >= 0 else 1_000


def stored_interventions(client: Any, table: str = "OversightTable") -> list[Any]:
    """Every intervention record, read the brute-force way (tests only)."""
    # Here, not at the top: bench/ imports this module before it puts the layer on sys.path.
    from oversight.store._dynamodb import intervention_from_item

    records, request = [], {"TableName": table}
    while True:
        response = client.scan(**request)
        records += [intervention_from_item(i) for i in response["Items"] if i["sk"]["S"] == "#META"]
        if "LastEvaluatedKey" not in response:
            return records
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def drain_queue(
    sqs: Any, queue_url: str, invoke: Callable[[list[dict[str, Any]]], set[str]], batch: int, rounds: int
) -> int:
    """Play Lambda's SQS event source: receive up to `batch` messages,
    `invoke` the function (it returns the ids of the failed ones), delete
    what succeeded, make the failed visible again at once (instead of
    after their visibility timeout), until the queue is empty; the number
    of invocations."""
    invocations = 0
    for _ in range(rounds):
        received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=batch, AttributeNames=["All"]).get(
            "Messages", []
        )
        if not received:
            break
        invocations += 1
        failed = invoke(received)
        for message in received:
            if message["MessageId"] in failed:
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return invocations


class JobWorker:
    """Plays Lambda's SQS event source for the run_job function: receives
    batches from the job queue, invokes the handler, deletes what succeeded.
    Failed messages are made visible again at once (instead of after the
    visibility timeout) so redelivery happens within the test."""

    def __init__(self, template: Template, sqs: Any) -> None:
        self.spec = template.function("run_job")
        self.sqs = sqs
        self.queue_url = sqs.get_queue_url(QueueName="JobQueue")["QueueUrl"]
        self.queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:JobQueue"
        self.dlq_url = sqs.get_queue_url(QueueName="JobDeadLetterQueue")["QueueUrl"]
        self.failures: list[str] = []

    def invoke(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        records = [sqs_event_record(message, self.queue_arn) for message in messages]
        handler = load_handler(self.spec)
        return handler({"Records": records}, LocalLambdaContext(self.spec.logical_id, self.spec.timeout))

    def drain(self, rounds: int = 10) -> int:
        """Deliver until the queue is empty; return the number of invocations."""

        def invoke(received: list[dict[str, Any]]) -> set[str]:
            failed = {f["itemIdentifier"] for f in self.invoke(received).get("batchItemFailures", [])}
            self.failures += sorted(failed)
            return failed

        return drain_queue(self.sqs, self.queue_url, invoke, batch=5, rounds=rounds)

    def dead_letters(self) -> list[dict[str, Any]]:
        return self.sqs.receive_message(QueueUrl=self.dlq_url, MaxNumberOfMessages=10).get("Messages", [])
