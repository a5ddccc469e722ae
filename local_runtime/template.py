"""Read template.yaml: the single source of truth for tables, functions,
routes and environment, for the local runtime and the tests alike."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
REGION = "us-east-1"
ACCOUNT = "123456789012"


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


for _tag in ("Ref", "GetAtt", "Sub", "If", "Equals", "Not", "And", "Or", "Join", "Select", "Split", "FindInMap",
             "ImportValue", "GetAZs", "Base64", "Condition"):
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
        regex = re.sub(r"\\\{([A-Za-z0-9_]+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.path))
        return re.compile(f"^{regex}$")

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

    # ------------------------------------------------------------ names
    def physical_name(self, logical_id: str) -> str:
        """Local resources are named after their logical id."""
        return logical_id

    def resolve(self, value: Any) -> Any:
        """Resolve the intrinsic functions an environment variable may use."""
        if isinstance(value, dict) and len(value) == 1:
            (fn, arg), = value.items()
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
                return re.sub(r"\$\{([^}]+)\}", lambda m: self._sub_var(m.group(1)), text)
        if isinstance(value, (int, float)):
            return str(value)
        return value

    def _sub_var(self, name: str) -> str:
        if "." in name:
            return self._get_att(*name.split(".", 1))
        return str(self.resolve({"Ref": name}))

    def _ref(self, logical_id: str) -> str:
        kind = self.resources.get(logical_id, {}).get("Type", "")
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{logical_id}"
        return self.physical_name(logical_id)

    def _get_att(self, logical_id: str, attribute: str) -> str:
        kind = self.resources.get(logical_id, {}).get("Type", "")
        name = self.physical_name(logical_id)
        if kind == "AWS::DynamoDB::Table" and attribute == "Arn":
            return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
        if kind == "AWS::SQS::Queue" and attribute == "Arn":
            return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
        if kind == "AWS::SQS::Queue" and attribute == "QueueName":
            return name
        if kind == "AWS::S3::Bucket" and attribute == "Arn":
            return f"arn:aws:s3:::{name.lower()}"
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
    for logical_id, resource in template.of_type("AWS::DynamoDB::Table").items():
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
