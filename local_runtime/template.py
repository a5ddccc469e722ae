"""Read template.yaml: the single source of truth for tables, functions,
routes and environment, for the local runtime and the tests alike."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
REGION = "us-east-1"
ACCOUNT = "123456789012"

TABLE = "AWS::DynamoDB::Table"
QUEUE = "AWS::SQS::Queue"
BUCKET = "AWS::S3::Bucket"
EVENT_BUS = "AWS::Events::EventBus"
RULE = "AWS::Events::Rule"
KEY = "AWS::KMS::Key"
FUNCTION = "AWS::Serverless::Function"
# The property that names a resource explicitly, when the template sets it.
_NAME_PROPERTY = {TABLE: "TableName", QUEUE: "QueueName", BUCKET: "BucketName", EVENT_BUS: "Name", RULE: "Name"}
# The stream label of a table before the emulator gave it one (create_tables).
_STREAM_LABEL = "local"
# Marks the queue the runtime delivers a rule's function target through
# (moto's EventBridge cannot invoke a function).
TARGET_QUEUE_SUFFIX = "LocalTargetQueue"


# `{{resolve:service:reference}}`, which CloudFormation replaces at deploy
# time with a value read from Secrets Manager or Parameter Store.
_DYNAMIC_REFERENCE = re.compile(r"\{\{resolve:([a-z-]+):([^}]*)\}\}")


def local_secret_variable(secret: str) -> str:
    """The environment variable that overrides a secret's local value:
    CursorSigningSecret -> OVERSIGHT_LOCAL_CURSOR_SIGNING_SECRET."""
    return "OVERSIGHT_LOCAL_" + re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", secret).upper().replace("-", "_")


def _local_dynamic_references(text: str) -> str:
    """Nothing here to read a secret from: a Secrets Manager reference
    becomes the secret's local value (the same on every start, so what was
    signed with it stays valid across restarts), unless its variable
    (local_secret_variable) is set. Any other reference is refused rather
    than passed on literally."""

    def local_value(match: re.Match[str]) -> str:
        service, reference = match.groups()
        if service != "secretsmanager":
            raise ValueError(f"the local runtime cannot resolve {match.group(0)}")
        secret = reference.split(":SecretString", 1)[0].rsplit(":", 1)[-1]  # a name, or an ARN ending in it
        return os.environ.get(local_secret_variable(secret)) or f"local-{secret}-not-a-secret"

    return _DYNAMIC_REFERENCE.sub(local_value, text)


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that turns CloudFormation short tags into their long form."""


def _construct(tag: str):
    name = "Ref" if tag == "Ref" else f"Fn::{tag}"

    def construct(loader: yaml.Loader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    return construct


for _tag in (
    "Ref",
    "GetAtt",
    "Sub",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "Join",
    "Select",
    "Split",
    "FindInMap",
    "ImportValue",
    "GetAZs",
    "Base64",
    "Condition",
):
    _CfnLoader.add_constructor(f"!{_tag}", _construct(_tag))


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with open(path) as handle:
        return yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # API Gateway form: /interventions/{id}

    @property
    def pattern(self) -> re.Pattern[str]:
        """`{id}` is one segment; a greedy `{proxy+}` (the path's last part,
        as API Gateway requires) is one or more, and the event's path
        parameter is named without the `+`, as API Gateway names it."""
        regex = re.sub(r"\\\{([A-Za-z0-9_]+)\\\+\\\}$", r"(?P<\1>.+)", re.escape(self.path))
        regex = re.sub(r"\\\{([A-Za-z0-9_]+)\\\}", r"(?P<\1>[^/]+)", regex)
        return re.compile(f"^{regex}$", re.DOTALL)

    @property
    def greedy(self) -> bool:
        return self.path.endswith("+}")

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str
    environment: dict[str, str]
    timeout: int
    routes: list[Route] = field(default_factory=list)
    public_routes: set[str] = field(default_factory=set)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.code_uri.name


def function_arn(logical_id: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical_id}"


@dataclass(frozen=True)
class TargetQueue:
    """A rule's function target, delivered through a queue of the runtime's
    own (`queue_id`), which the runtime polls into the function."""

    queue_id: str
    rule_id: str
    target_id: str
    function_id: str


class Template:
    def __init__(self, path: Path = TEMPLATE) -> None:
        self.path = path
        self.root = path.parent
        self.doc = load_template(path)
        self.resources: dict[str, dict[str, Any]] = self.doc.get("Resources", {})
        self.parameters = {name: spec.get("Default", "") for name, spec in self.doc.get("Parameters", {}).items()}
        # The URLs the emulator gave the queues (create_queues); until then,
        # `!Ref Queue` resolves to the URL form AWS uses.
        self.queue_urls: dict[str, str] = {}
        # The ARNs of the tables' streams as the emulator labelled them
        # (create_tables), by table logical id.
        self.stream_arns: dict[str, str] = {}
        # The ids of the KMS keys (create_keys); until then, the id the
        # emulation derives for the key (local_runtime/emulation/keys.py).
        self.key_ids: dict[str, str] = {}
        # Resources of the local runtime's own: one queue per rule target
        # that is a function of the template (target_queues).
        self.local_resources: dict[str, dict[str, Any]] = {
            logical_id: {"Type": QUEUE, "Properties": {"QueueName": logical_id[:80], "VisibilityTimeout": 60}}
            for logical_id in self.target_queues()
        }

    def _resource(self, logical_id: str) -> dict[str, Any]:
        return self.resources.get(logical_id) or self.local_resources.get(logical_id) or {}

    # ------------------------------------------------------------ names
    def physical_name(self, logical_id: str) -> str:
        """The name the template gives a resource, else its logical id (as
        CloudFormation would generate one: lower case for a bucket, `.fifo`
        for a FIFO queue, both of which AWS requires)."""
        resource = self._resource(logical_id)
        kind = resource.get("Type", "")
        props = resource.get("Properties") or {}
        explicit = props.get(_NAME_PROPERTY.get(kind, ""))
        if explicit:
            return str(self.resolve(explicit))
        if kind == BUCKET:
            return logical_id.lower()
        if kind == QUEUE and str(props.get("FifoQueue", "")).lower() == "true":
            return f"{logical_id}.fifo"
        return logical_id

    def resolve(self, value: Any) -> Any:
        """Resolve the intrinsic functions an environment variable may use."""
        if isinstance(value, dict) and len(value) == 1:
            ((fn, arg),) = value.items()
            if fn == "Ref":
                if arg in self.parameters:
                    return str(self.parameters[arg])
                if arg == "AWS::Region":
                    return REGION
                if arg == "AWS::AccountId":
                    return ACCOUNT
                if arg == "AWS::StackName":
                    return "oversight-local"
                return self._ref(arg)
            if fn == "Fn::GetAtt":
                return self._get_att(*arg)
            if fn == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                substituted = re.sub(r"\$\{([^}]+)\}", lambda m: self._sub_var(m.group(1)), text)
                return _local_dynamic_references(substituted)
        if isinstance(value, (int, float)):
            return str(value)
        if isinstance(value, str):
            return _local_dynamic_references(value)
        return value

    def _sub_var(self, name: str) -> str:
        if "." in name:
            return self._get_att(*name.split(".", 1))
        return str(self.resolve({"Ref": name}))

    def _ref(self, logical_id: str) -> str:
        kind = self._resource(logical_id).get("Type", "")
        if kind == QUEUE:
            default = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{self.physical_name(logical_id)}"
            return self.queue_urls.get(logical_id, default)
        if kind == KEY:
            return self.key_id(logical_id)
        if kind == RULE:
            bus = self.rule_bus(logical_id)
            return self.physical_name(logical_id) if bus == "default" else f"{bus}|{self.physical_name(logical_id)}"
        return self.physical_name(logical_id)

    def key_id(self, logical_id: str) -> str:
        from local_runtime.emulation.keys import local_key_id

        return self.key_ids.get(logical_id) or local_key_id(logical_id)

    def rule_bus(self, logical_id: str) -> str:
        """The name of the bus a rule is on (`default` when it names none)."""
        bus = (self._resource(logical_id).get("Properties") or {}).get("EventBusName")
        if bus is None:
            return "default"
        return str(self.resolve(bus)).rpartition("event-bus/")[2] or "default"

    def _get_att(self, logical_id: str, attribute: str) -> str:
        kind = self._resource(logical_id).get("Type", "")
        name = self.physical_name(logical_id)
        if kind == TABLE and attribute == "Arn":
            return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
        if kind == TABLE and attribute == "StreamArn":
            default = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}/stream/{_STREAM_LABEL}"
            return self.stream_arns.get(logical_id, default)
        if kind == EVENT_BUS and attribute == "Arn":
            return f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{name}"
        if kind == EVENT_BUS and attribute == "Name":
            return name
        if kind == RULE and attribute == "Arn":
            bus = self.rule_bus(logical_id)
            path = name if bus == "default" else f"{bus}/{name}"
            return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{path}"
        if kind == KEY and attribute == "Arn":
            return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{self.key_id(logical_id)}"
        if kind == KEY and attribute == "KeyId":
            return self.key_id(logical_id)
        if kind == FUNCTION and attribute == "Arn":
            return function_arn(logical_id)
        if kind == QUEUE and attribute == "Arn":
            return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
        if kind == QUEUE and attribute == "QueueName":
            return name
        if kind == QUEUE and attribute == "QueueUrl":
            return self._ref(logical_id)
        if kind == BUCKET and attribute == "Arn":
            return f"arn:aws:s3:::{name}"
        if kind == BUCKET and attribute == "DomainName":
            return f"{name}.s3.amazonaws.com"
        return f"{name}.{attribute}"

    # ------------------------------------------------------------ resources
    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        """The template's resources of a type, and the local runtime's own
        (local_resources) of that type after them."""
        return {
            lid: res for lid, res in [*self.resources.items(), *self.local_resources.items()] if res.get("Type") == kind
        }

    def target_queues(self) -> dict[str, TargetQueue]:
        """Every target of an AWS::Events::Rule that is a function of the
        template (`Arn: !GetAtt SomeFunction.Arn`), by the logical id of the
        queue the runtime delivers it through."""
        functions = set(self.resources_of(FUNCTION))
        found = {}
        for rule_id, rule in self.resources_of(RULE).items():
            for target in (rule.get("Properties") or {}).get("Targets") or []:
                arn = target.get("Arn")
                if not (isinstance(arn, dict) and "Fn::GetAtt" in arn):
                    continue
                function_id, attribute = arn["Fn::GetAtt"]
                if function_id in functions and attribute == "Arn":
                    target_id = str(target.get("Id", ""))
                    queue_id = rule_id + re.sub(r"[^A-Za-z0-9]", "", target_id) + TARGET_QUEUE_SUFFIX
                    found[queue_id] = TargetQueue(queue_id, rule_id, target_id, function_id)
        return found

    def resources_of(self, kind: str) -> dict[str, dict[str, Any]]:
        """The template's own resources of a type (not the runtime's)."""
        return {lid: res for lid, res in self.resources.items() if res.get("Type") == kind}

    def functions(self) -> list[FunctionSpec]:
        globals_ = self.doc.get("Globals", {}).get("Function", {})
        global_env = globals_.get("Environment", {}).get("Variables", {})
        specs = []
        for logical_id, resource in self.resources_of(FUNCTION).items():
            props = resource.get("Properties", {})
            env_raw = {**global_env, **props.get("Environment", {}).get("Variables", {})}
            spec = FunctionSpec(
                logical_id=logical_id,
                code_uri=(self.root / props["CodeUri"]).resolve(),
                handler=props.get("Handler", globals_.get("Handler", "app.lambda_handler")),
                environment={k: str(self.resolve(v)) for k, v in env_raw.items()},
                timeout=int(props.get("Timeout", globals_.get("Timeout", 3))),
            )
            for event_name, event in (props.get("Events") or {}).items():
                spec.events[event_name] = event
                if event.get("Type") == "HttpApi":
                    eprops = event.get("Properties", {})
                    route = Route(eprops["Method"].upper(), eprops["Path"])
                    spec.routes.append(route)
                    if (eprops.get("Auth") or {}).get("Authorizer") == "NONE":
                        spec.public_routes.add(route.route_key)
            specs.append(spec)
        return specs

    def function(self, name: str) -> FunctionSpec:
        """By CodeUri folder name (e.g. 'create_intervention') or logical id."""
        for spec in self.functions():
            if name in (spec.name, spec.logical_id):
                return spec
        raise KeyError(name)


def create_tables(client: Any, template: Template) -> list[str]:
    """Create every AWS::DynamoDB::Table of the template, as declared."""
    created = []
    for logical_id, resource in template.of_type(TABLE).items():
        props = resource["Properties"]
        name = template.physical_name(logical_id)
        request: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            request["GlobalSecondaryIndexes"] = [
                {k: v for k, v in gsi.items() if k in ("IndexName", "KeySchema", "Projection")}
                for gsi in props["GlobalSecondaryIndexes"]
            ]
        stream = props.get("StreamSpecification")
        if stream:  # CloudFormation's has no StreamEnabled: declaring one enables it
            request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        described = client.create_table(**request)["TableDescription"]
        if described.get("LatestStreamArn"):
            template.stream_arns[logical_id] = described["LatestStreamArn"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            client.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
            )
        created.append(name)
    return created


def _attribute_value(template: Template, value: Any) -> str:
    """SQS attributes are strings; YAML gives booleans, numbers and, for the
    policies, objects whose values may be intrinsic functions."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict) and not _is_intrinsic(value):
        return json.dumps(
            {
                key: [template.resolve(v) for v in item] if isinstance(item, list) else template.resolve(item)
                for key, item in value.items()
            }
        )
    return str(template.resolve(value))


def _is_intrinsic(value: dict[str, Any]) -> bool:
    if len(value) != 1:
        return False
    (name,) = value
    return name == "Ref" or name.startswith("Fn::")


def create_queues(client: Any, template: Template) -> dict[str, str]:
    """Create every AWS::SQS::Queue of the template (a dead-letter queue
    before the queues whose redrive policy names it) and return each queue's
    URL, by logical id, as the emulator serves it."""
    queues = template.of_type(QUEUE)
    arns = {template.resolve({"Fn::GetAtt": [logical_id, "Arn"]}): logical_id for logical_id in queues}
    urls: dict[str, str] = {}

    def create(logical_id: str, path: tuple[str, ...] = ()) -> None:
        if logical_id in urls:
            return
        if logical_id in path:
            raise ValueError(f"redrive policies form a cycle: {' -> '.join((*path, logical_id))}")
        props = dict(queues[logical_id].get("Properties") or {})
        props.pop("QueueName", None)
        tags = {tag["Key"]: str(template.resolve(tag["Value"])) for tag in props.pop("Tags", [])}
        attributes = {name: _attribute_value(template, value) for name, value in props.items()}
        if "RedrivePolicy" in attributes:
            dead_letter = arns.get(json.loads(attributes["RedrivePolicy"]).get("deadLetterTargetArn"))
            if dead_letter:
                create(dead_letter, (*path, logical_id))
        request: dict[str, Any] = {"QueueName": template.physical_name(logical_id), "Attributes": attributes}
        if tags:
            request["tags"] = tags
        urls[logical_id] = client.create_queue(**request)["QueueUrl"]

    for logical_id in queues:
        create(logical_id)
    return urls


def create_buckets(client: Any, template: Template) -> list[str]:
    """Create every AWS::S3::Bucket of the template (us-east-1: no location)."""
    created = []
    for logical_id in template.of_type(BUCKET):
        name = template.physical_name(logical_id)
        client.create_bucket(Bucket=name)
        created.append(name)
    return created


def create_event_resources(events_client: Any, template: Template) -> dict[str, list[str]]:
    """Create every AWS::Events::EventBus of the template, then every
    AWS::Events::Rule with its targets, in the emulator (moto matches the
    patterns and delivers to SQS targets). A target that is a function of
    the template is pointed at its queue of the runtime's own
    (Template.target_queues), which must exist: create_queues first.
    Returns the buses' names and the rules' names."""
    buses = []
    for logical_id in template.of_type(EVENT_BUS):
        name = template.physical_name(logical_id)
        events_client.create_event_bus(Name=name)
        buses.append(name)
    through_queue = {(queue.rule_id, queue.target_id): queue.queue_id for queue in template.target_queues().values()}
    rules = []
    for logical_id, resource in template.of_type(RULE).items():
        props = resource.get("Properties") or {}
        name = template.physical_name(logical_id)
        bus = template.rule_bus(logical_id)
        request: dict[str, Any] = {"Name": name, "EventBusName": bus, "State": str(props.get("State", "ENABLED"))}
        if props.get("EventPattern") is not None:
            pattern = props["EventPattern"]
            request["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(_resolved(template, pattern))
        if props.get("ScheduleExpression"):
            request["ScheduleExpression"] = str(template.resolve(props["ScheduleExpression"]))
        if props.get("Description"):
            request["Description"] = str(template.resolve(props["Description"]))
        events_client.put_rule(**request)
        targets = []
        for target in props.get("Targets") or []:
            resolved = _resolved(template, target)
            queue_id = through_queue.get((logical_id, str(target.get("Id", ""))))
            if queue_id is not None:
                resolved["Arn"] = template.resolve({"Fn::GetAtt": [queue_id, "Arn"]})
            targets.append(resolved)
        if targets:
            answer = events_client.put_targets(Rule=name, EventBusName=bus, Targets=targets)
            if answer.get("FailedEntryCount"):
                raise ValueError(f"{logical_id}: targets refused: {answer.get('FailedEntries')}")
        rules.append(name)
    return {"buses": buses, "rules": rules}


def _resolved(template: Template, value: Any) -> Any:
    """A property with every intrinsic function in it resolved (numbers
    and booleans kept as they are)."""
    if isinstance(value, dict):
        if _is_intrinsic(value):
            return template.resolve(value)
        return {key: _resolved(template, item) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolved(template, item) for item in value]
    return value


def create_keys(kms_client: Any, template: Template) -> dict[str, str]:
    """Create every AWS::KMS::Key of the template; returns (and records in
    `template`, for `!Ref`/`!GetAtt`) each key's id by logical id. With the
    emulation's patches installed (local_runtime/emulation/keys.py), a
    key's id and material derive from its logical id and the local seed:
    the same on every start, so what was encrypted before a restart
    decrypts after it."""
    from local_runtime.emulation.keys import LOGICAL_ID_TAG

    ids = {}
    for logical_id, resource in template.of_type(KEY).items():
        props = resource.get("Properties") or {}
        request: dict[str, Any] = {
            "Description": str(template.resolve(props.get("Description", ""))),
            "KeyUsage": str(props.get("KeyUsage", "ENCRYPT_DECRYPT")),
            "KeySpec": str(props.get("KeySpec", "SYMMETRIC_DEFAULT")),
            "Tags": [
                {"TagKey": LOGICAL_ID_TAG, "TagValue": logical_id},
                *(
                    {"TagKey": tag["Key"], "TagValue": str(template.resolve(tag["Value"]))}
                    for tag in props.get("Tags", [])
                ),
            ],
        }
        if props.get("KeyPolicy"):
            request["Policy"] = json.dumps(_resolved(template, props["KeyPolicy"]))
        key_id = kms_client.create_key(**request)["KeyMetadata"]["KeyId"]
        if props.get("EnableKeyRotation"):
            kms_client.enable_key_rotation(KeyId=key_id)
        ids[logical_id] = key_id
    template.key_ids.update(ids)
    return ids
