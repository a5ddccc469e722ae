"""Each function's IAM grants in template.yaml cover exactly the AWS calls
its code makes.

The main paths of every function run in process against moto, as in the
other integration tests; a botocore hook on the layer's clients records
each request (and each presigned URL) made while a function's handler runs,
as the IAM action and resource AWS would authorise it against (the event
pipeline's too: the table's stream handed to publish_events, the bus's rule
feeding deliver_webhooks, as tests/streams.py plays them; the stream's own
reads are Lambda's event source, not the function's). Then, per
function: every recorded request is allowed by the function's statements
(Allow, and no Deny), and every granted (action, resource) was used by
some path, save the few listed in NOT_EXERCISED with the reason. The same
holds for key prefixes: each request's dynamodb:LeadingKeys (every item of
a transaction or batch) must satisfy the statement's condition, and every
granted prefix must have been used, save those in KEYS_AWAITING_CODE."""

from __future__ import annotations

import fnmatch
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from moto.core.base_backend import BackendDict

import tests.jobtools as jobtools
import tests.support as support
from local_runtime.context import LocalLambdaContext
from local_runtime.template import (
    ACCOUNT,
    REGION,
    create_buckets,
    create_event_resources,
    create_keys,
    create_queues,
    create_tables,
)
from tests.conftest import ROOT, TEMPLATE
from tests.integration.test_faults import SERVER_ERROR, Faults
from tests.receiver import receiving, signature_valid
from tests.streams import Pipeline
from tests.support import ADMIN, OPERATOR, REQUESTER, VIEWER, ApiClient, Clock, JobWorker

FUNCTIONS = [spec.logical_id for spec in TEMPLATE.functions()]

# Granted, needed in AWS, but not reached by the paths below:
# {function: {(action, logical id of the resource): why}}. None today.
NOT_EXERCISED: dict[str, dict[tuple[str, str], str]] = {}

# Key prefixes granted for items no path below touches yet:
# {function: {(action, pattern): why}}.
KEYS_AWAITING_CODE: dict[str, dict[tuple[str, str], str]] = {
    "RunJobFunction": {
        ("dynamodb:UpdateItem", "T#*#RESP#*"): "recompute_stats rebuilds the per-user responder items",
    },
}

_TRANSACTION_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
# S3 operations authorised as another action (multipart uploads are s3:PutObject).
_S3_ACTIONS = {
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
    "HeadObject": "GetObject",
}
# SQS batch operations are authorised as their single-message action.
_SQS_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def table_arn(name: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"


def key_arn(key_id: str) -> str:
    """A KMS KeyId parameter (a key id or its ARN) as the key's ARN."""
    if key_id.startswith("arn:"):
        return key_id
    assert not key_id.startswith("alias/"), f"an alias is authorised against its key: map {key_id}"
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"


def bus_arn(name: str) -> str:
    return name if name.startswith("arn:") else f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}"


def iam_requests(service: str, operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """(IAM action, resource ARN) pairs AWS evaluates for one request.
    A transaction is authorised per item, as the item's own action."""
    if service == "dynamodb":
        if operation == "TransactWriteItems":
            return [
                (f"dynamodb:{_TRANSACTION_ACTIONS[kind]}", table_arn(body["TableName"]))
                for item in params["TransactItems"]
                for kind, body in item.items()
            ]
        if operation == "TransactGetItems":
            return [("dynamodb:GetItem", table_arn(item["Get"]["TableName"])) for item in params["TransactItems"]]
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return [(f"dynamodb:{operation}", table_arn(table)) for table in params["RequestItems"]]
        arn = table_arn(params["TableName"])
        if params.get("IndexName"):
            arn += f"/index/{params['IndexName']}"
        return [(f"dynamodb:{operation}", arn)]
    if service == "sqs":
        queue = urlsplit(params["QueueUrl"]).path.rsplit("/", 1)[-1]
        return [(f"sqs:{_SQS_ACTIONS.get(operation, operation)}", f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}")]
    if service == "s3":
        resource = f"arn:aws:s3:::{params['Bucket']}" + (f"/{params['Key']}" if "Key" in params else "")
        return [(f"s3:{_S3_ACTIONS.get(operation, operation)}", resource)]
    if service == "events" and operation == "PutEvents":
        # Authorised per entry, against the bus it names (the default bus when none).
        return [("events:PutEvents", bus_arn(entry.get("EventBusName", "default"))) for entry in params["Entries"]]
    if service == "kms":
        # Decrypt names no key: the blob's own key authorises it (CallRecorder reads it from the answer).
        return [(f"kms:{operation}", key_arn(params["KeyId"]))] if "KeyId" in params else []
    if service == "stepfunctions":
        # Task tokens are no resource: the actions take "*" alone.
        return [(f"states:{operation}", "*")]
    raise AssertionError(f"no IAM mapping for {service}.{operation}: add one")


def _partition_attributes() -> dict[str, str]:
    """The partition-key attribute of each table and index ARN (what
    dynamodb:LeadingKeys holds: a Query on an index names the index's)."""
    attributes = {}
    for logical_id, table in TEMPLATE.of_type("AWS::DynamoDB::Table").items():
        props = table["Properties"]
        arn = table_arn(TEMPLATE.physical_name(logical_id))
        (attributes[arn],) = [k["AttributeName"] for k in props["KeySchema"] if k["KeyType"] == "HASH"]
        for index in props.get("GlobalSecondaryIndexes", []):
            (attributes[f"{arn}/index/{index['IndexName']}"],) = [
                k["AttributeName"] for k in index["KeySchema"] if k["KeyType"] == "HASH"
            ]
    return attributes


PARTITION_ATTRIBUTES = _partition_attributes()


def _key_value(attribute: str, key: dict[str, Any]) -> str:
    (value,) = key[attribute].values()
    return str(value)


def _queried_partition(attribute: str, params: dict[str, Any]) -> str:
    names = params.get("ExpressionAttributeNames", {})
    for name, placeholder in re.findall(r"([#\w]+)\s*=\s*(:\w+)", params["KeyConditionExpression"]):
        if names.get(name, name) == attribute:
            return _key_value(placeholder, params["ExpressionAttributeValues"])
    raise AssertionError(f"no partition key condition on {attribute}: {params['KeyConditionExpression']}")


def leading_keys(operation: str, resource: str, body: dict[str, Any]) -> frozenset[str]:
    """dynamodb:LeadingKeys of one authorised DynamoDB request: the partition
    keys it touches (every item of a batch; a Query's, on the index it reads)."""
    attribute = PARTITION_ATTRIBUTES[resource]
    if operation == "Query":
        return frozenset({_queried_partition(attribute, body)})
    if operation == "BatchGetItem":
        return frozenset(_key_value(attribute, key) for key in body["Keys"])
    if operation == "BatchWriteItem":
        return frozenset(
            _key_value(attribute, request.get("PutRequest", {}).get("Item") or request["DeleteRequest"]["Key"])
            for request in body
        )
    return frozenset({_key_value(attribute, body.get("Key") or body["Item"])})


def keyed_requests(service: str, operation: str, params: dict[str, Any]) -> list[tuple[str, str, frozenset[str]]]:
    """`iam_requests` with the dynamodb:LeadingKeys each is authorised with
    (empty outside DynamoDB). A transaction's items, each its own request."""
    if service != "dynamodb":
        return [(action, resource, frozenset()) for action, resource in iam_requests(service, operation, params)]
    if operation in ("TransactWriteItems", "TransactGetItems"):
        requests = []
        for item in params["TransactItems"]:
            for kind, body in item.items():
                action = "GetItem" if kind == "Get" else _TRANSACTION_ACTIONS[kind]
                resource = table_arn(body["TableName"])
                requests.append((f"dynamodb:{action}", resource, leading_keys(action, resource, body)))
        return requests
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [
            (f"dynamodb:{operation}", table_arn(table), leading_keys(operation, table_arn(table), body))
            for table, body in params["RequestItems"].items()
        ]
    ((action, resource),) = iam_requests(service, operation, params)
    return [(action, resource, leading_keys(operation, resource, params))]


class CallRecorder:
    """Records, per function, the IAM (action, resource) of every request
    made while that function's handler runs, and the same with the
    request's dynamodb:LeadingKeys. `before-parameter-build` fires for API
    calls and for presigned URLs alike; a KMS Decrypt without a KeyId is
    recorded from its answer, which names the key that sealed the blob."""

    def __init__(self, clients: list[Any]) -> None:
        self.clients = clients
        self.current: str | None = None
        self.calls: dict[str, set[tuple[str, str]]] = defaultdict(set)
        self.keyed: dict[str, set[tuple[str, str, frozenset[str]]]] = defaultdict(set)
        for client in clients:
            client.meta.events.register("before-parameter-build", self._record)
            client.meta.events.register("after-call.kms.Decrypt", self._decrypted)

    def _decrypted(self, parsed: dict[str, Any], **_: Any) -> None:
        if self.current is not None and "Error" not in parsed:
            self.calls[self.current].add(("kms:Decrypt", key_arn(parsed["KeyId"])))
            self.keyed[self.current].add(("kms:Decrypt", key_arn(parsed["KeyId"]), frozenset()))

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if self.current is not None:
            service = model.service_model.service_name
            self.calls[self.current].update(iam_requests(service, model.name, params))
            self.keyed[self.current].update(keyed_requests(service, model.name, params))

    def detach(self) -> None:
        for client in self.clients:
            client.meta.events.unregister("before-parameter-build", self._record)
            client.meta.events.unregister("after-call.kms.Decrypt", self._decrypted)


# ---------------------------------------------------------------- grants
def _resolve(value: Any) -> str:
    if isinstance(value, dict) and "Fn::Sub" in value:
        value = {"Fn::Sub": value["Fn::Sub"].replace("${AWS::Partition}", "aws")}
    return str(TEMPLATE.resolve(value))


def policy(logical_id: str) -> list[dict[str, Any]]:
    """The function's statements, actions and resources as lists of resolved ARNs."""
    resolved = []
    for document in TEMPLATE.resources[logical_id]["Properties"].get("Policies", []):
        for statement in document["Statement"]:
            entry = {
                "Sid": statement.get("Sid", ""),
                "Effect": statement["Effect"],
                "Action": statement["Action"],
                "Condition": statement.get("Condition", {}),
            }
            if isinstance(entry["Action"], str):
                entry["Action"] = [entry["Action"]]
            for key in ("Resource", "NotResource"):
                if key in statement:
                    values = statement[key] if isinstance(statement[key], list) else [statement[key]]
                    entry[key] = [_resolve(v) for v in values]
            resolved.append(entry)
    return resolved


def _matches(statement: dict[str, Any], action: str, resource: str) -> bool:
    if not any(fnmatch.fnmatchcase(action, pattern) for pattern in statement["Action"]):
        return False
    if "NotResource" in statement:
        return not any(fnmatch.fnmatchcase(resource, pattern) for pattern in statement["NotResource"])
    return any(fnmatch.fnmatchcase(resource, pattern) for pattern in statement["Resource"])


def string_like(pattern: str, value: str) -> bool:
    """IAM's StringLike: `*` any run of characters (`#` too), `?` one; case-sensitive."""
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, value, re.DOTALL) is not None


def key_patterns(statement: dict[str, Any]) -> list[str] | None:
    """The dynamodb:LeadingKeys patterns a statement is conditioned on (None
    without one). Only the one condition the template uses is understood."""
    condition = statement.get("Condition") or {}
    if not condition:
        return None
    assert set(condition) == {"ForAllValues:StringLike"}, f"no evaluator for {condition}: add one"
    (patterns,) = condition["ForAllValues:StringLike"].values()
    assert set(condition["ForAllValues:StringLike"]) == {"dynamodb:LeadingKeys"}, condition
    return patterns if isinstance(patterns, list) else [patterns]


def _conditions_hold(statement: dict[str, Any], keys: frozenset[str] | None) -> bool:
    patterns = key_patterns(statement)
    if patterns is None or keys is None:
        return True
    # ForAllValues: every key of the request (each item of a batch) matches a pattern.
    return all(any(string_like(p, key) for p in patterns) for key in keys)


def allowed(statements: list[dict[str, Any]], action: str, resource: str, keys: frozenset[str] | None = None) -> bool:
    """IAM's verdict for one request: an Allow matches and no Deny does.
    With `keys` (the request's dynamodb:LeadingKeys), conditions count too."""
    if any(s["Effect"] == "Deny" and _matches(s, action, resource) and _conditions_hold(s, keys) for s in statements):
        return False
    return any(
        s["Effect"] == "Allow" and _matches(s, action, resource) and _conditions_hold(s, keys) for s in statements
    )


def grants(statements: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(a, r) for s in statements if s["Effect"] == "Allow" for a in s["Action"] for r in s["Resource"]}


def _logical(resource: str) -> str:
    """A resource ARN as the logical id the exemptions name (table, index, queue, bucket)."""
    for logical_id in TEMPLATE.resources:
        physical = TEMPLATE.physical_name(logical_id)
        if resource.endswith((f"/{physical}", f":{physical}", f":::{physical}/*")):
            return logical_id
    return resource


# ---------------------------------------------------------------- the paths
class World:
    def __init__(self, api: ApiClient, worker: JobWorker, clock: Clock, dynamodb: Any, sqs: Any) -> None:
        self.api, self.worker, self.clock, self.dynamodb, self.sqs = api, worker, clock, dynamodb, sqs

    def ok(self, reply: support.Reply, *statuses: int) -> Any:
        assert reply.status in (statuses or (200,)), (reply.status, reply.body)
        return reply.body

    def submit(
        self,
        tool: str,
        parameters: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        as_: dict[str, Any] = REQUESTER,
        **options: Any,
    ) -> dict[str, Any]:
        body = {"tool": tool, "parameters": parameters or {}, **options}
        return self.ok(self.api.post("/jobs", as_, body, headers=headers), 202)

    def job(self, job_id: str) -> dict[str, Any]:
        return self.ok(self.api.get(f"/jobs/{job_id}", VIEWER))

    def sweep(self) -> dict[str, Any]:
        spec = TEMPLATE.function("sweep")
        event = json.loads((ROOT / "events" / "sweep.json").read_text())
        return support.load_handler(spec)(event, LocalLambdaContext(spec.logical_id, spec.timeout))


def interventions(w: World) -> None:
    """Create (with and without Idempotency-Key, a replay, a reused key, a
    failed first attempt), every decision, every read, the stats."""
    api = w.api
    plain = api.create(uow_id="uow-iam", priority="high")
    keyed = {"Idempotency-Key": "iam-create-1"}
    body = {"uow_id": "uow-iam", "type": "approval", "title": "Keyed"}
    first = w.ok(api.post("/interventions", REQUESTER, body, headers=keyed), 201)
    assert w.ok(api.post("/interventions", REQUESTER, body, headers=keyed), 201)["id"] == first["id"]
    assert api.post("/interventions", REQUESTER, {**body, "title": "Other"}, headers=keyed).status == 422

    with Faults() as faults:  # the first attempt fails: its idempotency record is released
        faults.inject(w.dynamodb, "TransactWriteItems", SERVER_ERROR)
        assert api.post("/interventions", REQUESTER, body, headers={"Idempotency-Key": "iam-create-2"}).status >= 500
    w.ok(api.post("/interventions", REQUESTER, body, headers={"Idempotency-Key": "iam-create-2"}), 201)

    w.ok(api.post(f"/interventions/{plain['id']}/claim", OPERATOR))
    w.ok(api.post(f"/interventions/{plain['id']}/release", OPERATOR))
    w.ok(api.post(f"/interventions/{plain['id']}/approve", OPERATOR, {"reason": "fine"}))
    w.ok(api.post(f"/interventions/{plain['id']}/complete", REQUESTER))
    w.ok(api.post(f"/interventions/{first['id']}/reject", OPERATOR, {"reason": "no"}))
    w.ok(api.post(f"/interventions/{api.create()['id']}/cancel", REQUESTER, {"reason": "moot"}))

    w.ok(api.get("/interventions?status=PENDING&limit=5", VIEWER))
    w.ok(api.get("/interventions?status=APPROVED&type=approval", VIEWER))
    w.ok(api.get("/interventions?status=COMPLETED&uow_id=uow-iam", VIEWER))
    w.ok(api.get(f"/interventions/{plain['id']}", VIEWER))
    w.ok(api.get(f"/interventions/{plain['id']}/events", VIEWER))
    w.ok(api.get("/stats", VIEWER))
    w.ok(api.get("/stats/daily?days=7", VIEWER))
    w.ok(api.get("/health", None))


def jobs(w: World) -> None:
    """Submit (plain, cached, keyed, a failed keyed attempt, gated then
    approved / rejected / cancelled), run (output file, a multipart upload
    that fails, a tool that fails until its budget is spent, the stats
    repair), read, list, logs, cancel a running job."""
    from oversight.clock import iso
    from oversight.models import JobStatus
    from oversight.store.jobs import get_job_store

    api = w.api
    w.ok(api.get("/tools", VIEWER))
    export = w.submit("export_interventions", {"format": "csv"})
    w.worker.drain()
    done = w.job(export["id"])
    assert done["status"] == "COMPLETED" and done["result"]["outputs"][0]["url"]
    cached = w.submit("export_interventions", {"format": "csv"})
    assert cached["cached"] is True and w.job(cached["id"])["result"]["outputs"]
    w.ok(api.get(f"/jobs/{export['id']}/logs", VIEWER))
    w.ok(api.get("/jobs?limit=5", VIEWER))
    w.ok(api.get("/jobs?status=COMPLETED&tool=export_interventions", VIEWER))

    keyed = {"Idempotency-Key": "iam-job-1"}
    assert (
        w.submit("recompute_stats", headers=keyed, as_=ADMIN)["id"]
        == w.submit("recompute_stats", headers=keyed, as_=ADMIN)["id"]
    )

    with Faults() as faults:  # the first attempt fails: its idempotency record is released
        faults.inject(w.dynamodb, "TransactWriteItems", SERVER_ERROR)
        assert (
            api.post(
                "/jobs",
                REQUESTER,
                {"tool": "test_echo", "parameters": {"text": "x"}},
                headers={"Idempotency-Key": "iam-job-2"},
            ).status
            >= 500
        )
    w.submit("test_echo", {"text": "x"}, headers={"Idempotency-Key": "iam-job-2"})

    approved = w.submit("test_echo", {"text": "gated"}, requires_approval=True)
    w.ok(api.post(f"/interventions/{approved['intervention_id']}/approve", OPERATOR, {"reason": "go"}))
    rejected = w.submit("test_echo", {"text": "no"}, requires_approval=True)
    w.ok(api.post(f"/interventions/{rejected['intervention_id']}/reject", OPERATOR, {"reason": "no"}))
    gated = w.submit("test_echo", {"text": "withdrawn"}, requires_approval=True)
    w.ok(api.post(f"/jobs/{gated['id']}/cancel", REQUESTER))
    pending = w.submit("test_fail")
    w.ok(api.post(f"/jobs/{pending['id']}/cancel", REQUESTER))

    failing = w.submit("test_fail")
    broken = w.submit("test_big_output")  # a multipart upload that is aborted
    w.worker.drain()
    assert w.job(failing["id"])["status"] == "FAILED" and w.worker.dead_letters()
    assert w.job(broken["id"])["status"] == "FAILED"
    assert w.job(approved["id"])["status"] == "COMPLETED"

    running = w.submit("test_wait", {"seconds": 0.1})
    store = get_job_store()
    before = store.get("acme", running["id"])
    started = before.model_copy(update={"status": JobStatus.RUNNING, "attempts": 1, "started_at": w.clock.current})
    store.transition("acme", before, started, run_deadline=iso(w.clock.current + timedelta(seconds=30)))
    assert w.ok(api.post(f"/jobs/{running['id']}/cancel", REQUESTER))["cancel_requested"] is True


def sweep(w: World) -> None:
    """Expiry of an intervention gating a job, the job watchdogs (a lost
    message re-queued, a dead run reclaimed), retention purges."""
    expiring = w.submit("test_echo", {"text": "late"}, requires_approval=True, approval={"expires_in_seconds": 60})
    lost = w.submit("test_echo", {"text": "lost"})
    w.sqs.purge_queue(QueueUrl=w.worker.queue_url)  # its message never made it
    w.clock.advance(minutes=16)
    report = w.sweep()
    assert report["expired"] >= 1 and report["requeued"] >= 1 and report["dead_runs"] == 1, report
    assert w.job(expiring["id"])["status"] == "CANCELLED"
    w.worker.drain()
    assert w.job(lost["id"])["status"] == "COMPLETED"

    w.clock.advance(days=95)
    report = w.sweep()
    assert report["purged"] >= 1 and report["purged_jobs"] >= 1, report


def events(w: World) -> None:
    """The event pipeline: the stream of every change above published;
    subscriptions created, listed, deleted (and an unknown one); requests
    created with a callback and a task token (sealed), approved and
    rejected; their events fanned out and delivered to a webhook and a
    callback (the first attempt fails: it is postponed), and the waiting
    tasks answered (moto's answer to an unknown token does not matter: the
    call is made)."""
    api = w.api
    pipeline = Pipeline(w.sqs)
    backlog = pipeline.publish()  # every kind of change the paths above made
    assert backlog["batchItemFailures"] == [], backlog
    pipeline.deliver()
    assert len(pipeline.published) > 50  # interventions and jobs, their every status
    with receiving([500]) as receiver, pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("WEBHOOK_ALLOWED_HOSTS", receiver.netloc)
        hook = w.ok(api.post("/webhooks", ADMIN, {"url": receiver.url, "events": ["*"]}), 201)
        dropped = w.ok(api.post("/webhooks", ADMIN, {"url": receiver.url, "events": ["Job Failed"]}), 201)
        assert len(w.ok(api.get("/webhooks", ADMIN))["items"]) == 2
        assert api.request("DELETE", f"/webhooks/{dropped['id']}", ADMIN).status == 204
        assert api.request("DELETE", f"/webhooks/{dropped['id']}", ADMIN).status == 404

        callback = {"callback_url": receiver.url + "?callback", "callback_secret": "c" * 24}
        approved = api.create(uow_id="uow-events", task_token="token-of-an-approval", **callback)
        rejected = api.create(uow_id="uow-events", task_token="token-of-a-rejection")
        w.ok(api.post(f"/interventions/{approved['id']}/approve", OPERATOR, {"reason": "fine"}))
        w.ok(api.post(f"/interventions/{rejected['id']}/reject", OPERATOR, {"reason": "no"}))
        pipeline.run()

    assert sorted(p["detail-type"] for p in pipeline.published[-4:]) == [
        "Intervention Approved",
        "Intervention Created",
        "Intervention Created",
        "Intervention Rejected",
    ]
    hooked = [d for d in receiver.deliveries if d.path == "/hook"]
    called = [d for d in receiver.deliveries if d.path == "/hook?callback"]
    assert len({d.id for d in hooked}) == 4 and len({d.id for d in called}) == 2
    assert len(receiver.deliveries) == 7  # the first attempt answered 500: tried again
    assert all(signature_valid(hook["secret"], d) for d in hooked)
    assert all(signature_valid(callback["callback_secret"], d) for d in called)
    assert pipeline.dead_letters() == []
    (shown,) = w.ok(api.get("/webhooks", ADMIN))["items"]
    assert shown["last_delivery"]["ok"] is True


# ---------------------------------------------------------------- the run
@pytest.fixture(scope="module")
def recording(aws: Any) -> Iterator[CallRecorder]:
    """Every path above, once, in one fresh account (this module's fixtures
    mirror conftest's function-scoped ones)."""
    from oversight.store.bus import _events
    from oversight.store.deliveries import _sqs as _delivery_sqs
    from oversight.store.outputs import _uploader
    from oversight.store.sealed import _kms
    from oversight.store.tasks import _states

    _, client, sqs, s3, events_client, kms = aws
    BackendDict.reset()
    create_tables(client, TEMPLATE)
    create_queues(sqs, TEMPLATE)
    create_buckets(s3, TEMPLATE)
    create_event_resources(events_client, TEMPLATE)
    create_keys(kms, TEMPLATE)
    # The layer's clients; tests/streams.py's own calls (the event sources) run outside any handler: unrecorded.
    recorder = CallRecorder([client, sqs, s3, _uploader(), _events(), _delivery_sqs(), _kms(), _states()])
    original_load = support.load_handler

    def load_recording(spec: Any, instance: int = 0) -> Any:
        handler = original_load(spec, instance)

        def run(event: Any, context: Any) -> Any:
            outer, recorder.current = recorder.current, spec.logical_id
            try:
                return handler(event, context)
            finally:
                recorder.current = outer

        return run

    from oversight import clock as clock_module

    clock = Clock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    with pytest.MonkeyPatch.context() as monkeypatch, jobtools.registered():
        monkeypatch.setattr(clock_module, "now", clock.now)
        monkeypatch.setattr(support, "load_handler", load_recording)
        world = World(ApiClient(TEMPLATE, ROOT / "events"), JobWorker(TEMPLATE, sqs), clock, client, sqs)
        try:
            interventions(world)
            jobs(world)
            sweep(world)
            events(world)
        finally:
            recorder.detach()
    yield recorder


@pytest.fixture(scope="module")
def recorded(recording: CallRecorder) -> dict[str, set[tuple[str, str]]]:
    return dict(recording.calls)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_call_a_function_makes_is_granted(recorded, function):
    statements = policy(function)
    refused = sorted(call for call in recorded.get(function, set()) if not allowed(statements, *call))
    assert not refused, f"{function} calls what its policy does not grant: {refused}"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_grant_a_function_holds_is_used(recorded, function):
    calls = recorded.get(function, set())
    exempt = NOT_EXERCISED.get(function, {})
    unused = {
        (action, resource)
        for action, resource in grants(policy(function))
        if not any(a == action and fnmatch.fnmatchcase(r, resource) for a, r in calls)
    }
    unexplained = sorted((a, r) for a, r in unused if (a, _logical(r)) not in exempt)
    assert not unexplained, f"{function} holds grants no path used: {unexplained}"
    stale = sorted(key for key in exempt if key not in {(a, _logical(r)) for a, r in unused})
    assert not stale, f"{function}: exempted grants that are in fact used (drop the exemption): {stale}"


def test_the_paths_reached_every_function(recorded):
    silent = [f for f in FUNCTIONS if f not in ("HealthFunction", "ConsoleFunction") and not recorded.get(f)]
    assert not silent, silent
    assert "HealthFunction" not in recorded and "ConsoleFunction" not in recorded  # no AWS calls at all


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_call_stays_inside_its_granted_key_prefixes(recording, function):
    """dynamodb:LeadingKeys evaluated against the partition keys of every
    recorded request: each item of a transaction as its own request, every
    key of a batch at once (ForAllValues), an index Query by the index's key."""
    statements = policy(function)
    conditioned = [s for s in statements if key_patterns(s) is not None]
    main_table = table_arn(TEMPLATE.physical_name("OversightTable"))
    calls = recording.keyed.get(function, set())
    unbounded = sorted(
        {
            (action, resource.rsplit(":", 1)[-1])
            for action, resource, keys in calls
            if resource.startswith(main_table) and not allowed(conditioned, action, resource, keys)
        }
    )
    assert not unbounded, f"{function} reaches the main table through grants with no key prefixes: {unbounded}"
    refused = sorted(
        (action, resource.rsplit(":", 1)[-1], sorted(keys))
        for action, resource, keys in calls
        if not allowed(statements, action, resource, keys)
    )
    assert not refused, f"{function} touches keys its policy does not grant: {refused[:5]}"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_granted_key_prefix_is_used(recording, function):
    """No pattern is broader than the code needs: each (action, resource,
    pattern) of a conditioned grant matched a key some path used."""
    calls = recording.keyed.get(function, set())
    main_table = table_arn(TEMPLATE.physical_name("OversightTable"))
    if any(resource.startswith(main_table) for _, resource, _ in calls):
        assert any(key_patterns(s) for s in policy(function)), f"{function} holds no key-prefix condition at all"
    awaiting = KEYS_AWAITING_CODE.get(function, {})
    unused, used_awaiting = [], []
    for statement in policy(function):
        patterns = key_patterns(statement)
        if statement["Effect"] != "Allow" or patterns is None:
            continue
        for action in statement["Action"]:
            for resource in statement["Resource"]:
                for pattern in patterns:
                    used = any(
                        a == action and fnmatch.fnmatchcase(r, resource) and any(string_like(pattern, k) for k in keys)
                        for a, r, keys in calls
                    )
                    if (action, pattern) in awaiting:
                        if used:
                            used_awaiting.append((action, pattern))
                    elif not used:
                        unused.append((statement["Sid"], action, resource.rsplit(":", 1)[-1], pattern))
    assert not unused, f"{function} is granted key prefixes no path used: {unused}"
    assert not used_awaiting, (
        f"{function}: prefixes awaiting code are in fact used (drop them from KEYS_AWAITING_CODE): {used_awaiting}"
    )


def test_a_request_outside_the_granted_prefixes_is_refused():
    """The evaluator itself: a batch with one key outside the prefixes is
    refused whole; a transaction is judged item by item, each as its action."""
    stats = policy("ReadStatsFunction")
    table = table_arn(TEMPLATE.physical_name("OversightTable"))
    assert allowed(stats, "dynamodb:BatchGetItem", table, frozenset({"T#acme#STATS#0", "T#acme#STATS#3"}))
    assert not allowed(stats, "dynamodb:BatchGetItem", table, frozenset({"T#acme#STATS#0", "T#acme#INT#x"}))
    assert not allowed(stats, "dynamodb:BatchGetItem", table, frozenset({"T#acme#JOB#x"}))

    create = policy("CreateInterventionFunction")
    transaction = {
        "TransactItems": [
            {"Put": {"TableName": "OversightTable", "Item": {"pk": {"S": "T#acme#INT#1"}, "sk": {"S": "#META"}}}},
            {"Update": {"TableName": "OversightTable", "Key": {"pk": {"S": "T#acme#INT#1"}, "sk": {"S": "#META"}}}},
            {"Update": {"TableName": "OversightTable", "Key": {"pk": {"S": "T#acme#STATS#2"}, "sk": {"S": "TOTAL"}}}},
        ]
    }
    requests = keyed_requests("dynamodb", "TransactWriteItems", transaction)
    verdicts = [(action, sorted(keys), allowed(create, action, resource, keys)) for action, resource, keys in requests]
    assert verdicts == [
        ("dynamodb:PutItem", ["T#acme#INT#1"], True),
        ("dynamodb:UpdateItem", ["T#acme#INT#1"], False),  # create updates counters only
        ("dynamodb:UpdateItem", ["T#acme#STATS#2"], True),
    ]

    sweep = policy("SweepFunction")
    query = {
        "TableName": "OversightTable",
        "IndexName": "gsi3",
        "KeyConditionExpression": "gsi3pk = :p AND gsi3sk <= :u",
        "ExpressionAttributeValues": {":p": {"S": "DUE#1"}, ":u": {"S": "2026"}},
    }
    ((action, resource, keys),) = keyed_requests("dynamodb", "Query", query)
    assert keys == {"DUE#1"} and allowed(sweep, action, resource, keys)
    assert not allowed(sweep, action, resource, frozenset({"T#acme#INT#S#PENDING"}))
