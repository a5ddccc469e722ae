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
# The property that names a resource explicitly, when the template sets it.
_NAME_PROPERTY = {TABLE: "TableName", QUEUE: "QueueName", BUCKET: "BucketName"}


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

    # ------------------------------------------------------------ names
    def physical_name(self, logical_id: str) -> str:
        """The name the template gives a resource, else its logical id (as
        CloudFormation would generate one: lower case for a bucket, `.fifo`
        for a FIFO queue, both of which AWS requires)."""
        resource = self.resources.get(logical_id, {})
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
        kind = self.resources.get(logical_id, {}).get("Type", "")
        if kind == QUEUE:
            default = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{self.physical_name(logical_id)}"
            return self.queue_urls.get(logical_id, default)
        return self.physical_name(logical_id)

    def _get_att(self, logical_id: str, attribute: str) -> str:
        kind = self.resources.get(logical_id, {}).get("Type", "")
        name = self.physical_name(logical_id)
        if kind == TABLE and attribute == "Arn":
            return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
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
        return {lid: res for lid, res in self.resources.items() if res.get("Type") == kind}

    def functions(self) -> list[FunctionSpec]:
        globals_ = self.doc.get("Globals", {}).get("Function", {})
        global_env = globals_.get("Environment", {}).get("Variables", {})
        specs = []
        for logical_id, resource in self.of_type("AWS::Serverless::Function").items():
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
        client.create_table(**request)
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
