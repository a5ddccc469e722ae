"""template.yaml: least privilege, the settings the service relies on, and
the operations resources (alarms, logs, dashboard)."""

import json
import re

import pytest

from tests.conftest import TEMPLATE

FUNCTIONS = TEMPLATE.functions()
API_FUNCTIONS = [spec for spec in FUNCTIONS if spec.routes]
ALARMS = TEMPLATE.of_type("AWS::CloudWatch::Alarm")
LOG_GROUPS = TEMPLATE.of_type("AWS::Logs::LogGroup")


def by_id(spec):
    return spec.logical_id


def as_list(value):
    return value if isinstance(value, list) else [value]


def statements(logical_id):
    props = TEMPLATE.resources[logical_id]["Properties"]
    for policy in props.get("Policies", []):
        assert isinstance(policy, dict) and "Statement" in policy, (
            f"{logical_id}: only inline statements, no managed templates"
        )
        yield from policy["Statement"]


def allows(logical_id):
    return [s for s in statements(logical_id) if s["Effect"] == "Allow"]


def alarms_on(namespace, metric, dimension_value=None):
    found = {}
    for logical_id, alarm in ALARMS.items():
        props = alarm["Properties"]
        if (props.get("Namespace"), props.get("MetricName")) != (namespace, metric):
            continue
        if dimension_value is not None and dimension_value not in [d["Value"] for d in props.get("Dimensions", [])]:
            continue
        found[logical_id] = props
    return found


# ---------------------------------------------------------------- least privilege
@pytest.mark.parametrize("spec", API_FUNCTIONS, ids=by_id)
def test_api_functions_hold_no_scan_no_wildcard_no_crud_policy(spec):
    for statement in allows(spec.logical_id):
        actions = as_list(statement["Action"])
        assert "dynamodb:Scan" not in actions
        assert not any("*" in action for action in actions), actions
        assert "*" not in as_list(statement["Resource"])


TOKEN_ACTIONS = {"states:SendTaskSuccess", "states:SendTaskFailure"}


@pytest.mark.parametrize("spec", FUNCTIONS, ids=by_id)
def test_every_grant_names_its_actions_and_resources(spec):
    """No function is granted a wildcard action or `Resource: "*"`. The
    actions AWS only grants on "*" (xray:PutTraceSegments and
    PutTelemetryRecords for `Tracing: Active`, logs:CreateLogStream and
    PutLogEvents) come from the managed policies SAM attaches
    (AWSXrayWriteOnlyAccess, AWSLambdaBasicExecutionRole), not from these
    statements. A Deny only takes away, so it may be broad."""
    for statement in statements(spec.logical_id):
        assert statement["Effect"] in ("Allow", "Deny")
        actions = as_list(statement["Action"])
        if statement["Effect"] == "Deny":
            continue
        assert "NotAction" not in statement and "NotResource" not in statement
        assert not any("*" in action for action in actions), (spec.logical_id, actions)
        assert all(re.fullmatch(r"(dynamodb|sqs|s3|kms|events|states):[A-Za-z]+", action) for action in actions), (
            actions
        )
        if set(actions) <= TOKEN_ACTIONS:
            continue  # a task token names its execution: these actions take no resource but "*"
        assert "*" not in as_list(statement["Resource"]), spec.logical_id
        assert "dynamodb:Scan" not in actions


@pytest.mark.parametrize("spec", FUNCTIONS, ids=by_id)
def test_no_function_may_create_a_log_group_without_retention(spec):
    denied = [
        s
        for s in statements(spec.logical_id)
        if s["Effect"] == "Deny" and "logs:CreateLogGroup" in as_list(s["Action"])
    ]
    assert denied, f"{spec.logical_id} could recreate its log group without a retention"


def test_the_worker_consumes_only_the_job_queue():
    """SAM's SQS event source attaches AWSLambdaSQSQueueExecutionRole (any
    queue); a Deny narrows it to the job queue."""
    (deny,) = [s for s in statements("RunJobFunction") if s["Effect"] == "Deny" and "sqs:ReceiveMessage" in s["Action"]]
    assert deny["NotResource"] == {"Fn::GetAtt": ["JobQueue", "Arn"]}
    assert set(deny["Action"]) == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
    }


def test_only_functions_that_delete_hold_delete_item():
    holders = {
        spec.logical_id
        for spec in API_FUNCTIONS
        for statement in allows(spec.logical_id)
        if "dynamodb:DeleteItem" in statement["Action"]
    }
    # Powertools idempotency deletes its record when the first attempt fails
    # (the two functions that honour Idempotency-Key); DELETE /webhooks/{id}.
    assert holders == {"CreateInterventionFunction", "SubmitJobFunction", "ManageWebhooksFunction"}


def test_sweep_runs_every_minute_alone_and_only_the_sweep_may_delete_records():
    sweep = TEMPLATE.resources["SweepFunction"]["Properties"]
    assert sweep["ReservedConcurrentExecutions"] == 1
    (event,) = sweep["Events"].values()
    assert (event["Type"], event["Properties"]["Schedule"]) == ("Schedule", "rate(1 minute)")
    main_table_deleters = {
        spec.logical_id
        for spec in FUNCTIONS
        for statement in allows(spec.logical_id)
        if "dynamodb:DeleteItem" in statement["Action"]
        and "IdempotencyTable" not in str(statement["Resource"])
        and statement.get("Condition", {}).get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys")
        != ["T#*#HOOK"]  # webhook subscriptions are no records
    }
    assert main_table_deleters == {"SweepFunction"}


def test_stats_function_reads_only_counters():
    """The counter shards (BatchGetItem) and the top responders (a Query of gsi4)."""
    batch, query = allows("ReadStatsFunction")
    assert batch["Action"] == ["dynamodb:BatchGetItem"]
    assert query["Action"] == ["dynamodb:Query"] and query["Resource"] == {
        "Fn::Sub": "${OversightTable.Arn}/index/gsi4"
    }


# ---------------------------------------------------------------- settings kept
def test_tables_are_on_demand_with_pitr_deletion_protection_and_ttl():
    for logical_id, table in TEMPLATE.of_type("AWS::DynamoDB::Table").items():
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST", logical_id
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert props["DeletionProtectionEnabled"] is True
        assert props["TimeToLiveSpecification"]["Enabled"] is True
        assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain"), logical_id


def test_runtime_and_every_route_but_health_openapi_and_the_console_behind_the_jwt_authorizer():
    globals_ = TEMPLATE.doc["Globals"]["Function"]
    assert (globals_["Runtime"], globals_["Architectures"]) == ("python3.13", ["arm64"])
    api = TEMPLATE.resources["HttpApi"]["Properties"]["Auth"]
    assert api["DefaultAuthorizer"] == "OversightJwt"
    public = {route for spec in FUNCTIONS for route in spec.public_routes}
    # The console's files hold no data: the page calls the API with the user's token.
    assert public == {"GET /health", "GET /openapi.json", "GET /", "GET /console", "GET /console/{path+}"}


def test_every_function_but_the_console_is_traced_with_x_ray():
    """The console serves files from memory and calls nothing: a trace would
    show one segment, and `Disabled` keeps SAM from attaching an X-Ray policy
    to a function that needs no permission at all."""
    assert TEMPLATE.doc["Globals"]["Function"]["Tracing"] == "Active"
    for spec in FUNCTIONS:
        expected = "Disabled" if spec.logical_id == "ConsoleFunction" else "Active"
        assert TEMPLATE.resources[spec.logical_id]["Properties"].get("Tracing", "Active") == expected


def test_api_is_throttled_and_access_logged_to_a_log_group_with_retention():
    props = TEMPLATE.resources["HttpApi"]["Properties"]
    routes = props["DefaultRouteSettings"]
    assert routes["ThrottlingRateLimit"] > 0 and routes["ThrottlingBurstLimit"] >= routes["ThrottlingRateLimit"]
    access = props["AccessLogSettings"]
    assert access["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    fields = json.loads(access["Format"])
    assert fields["requestId"] == "$context.requestId"  # the correlation id the functions log
    assert LOG_GROUPS["ApiAccessLogGroup"]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


# ---------------------------------------------------------------- operations
@pytest.mark.parametrize("spec", FUNCTIONS, ids=by_id)
def test_every_function_logs_to_its_own_log_group_with_retention(spec):
    (group,) = [
        props
        for props in (g["Properties"] for g in LOG_GROUPS.values())
        if props["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{{spec.logical_id}}}"}
    ]
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert TEMPLATE.doc["Parameters"]["LogRetentionDays"]["Default"] in (30, "30")


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
@pytest.mark.parametrize("spec", FUNCTIONS, ids=by_id)
def test_one_error_and_one_throttle_alarm_per_function(spec, metric):
    (alarm,) = alarms_on("AWS/Lambda", metric, {"Ref": spec.logical_id}).values()
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": spec.logical_id}}]
    assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == ("Sum", 0, "GreaterThanThreshold")
    assert alarm["TreatMissingData"] == "notBreaching"


def test_a_message_in_the_dead_letter_queue_raises_an_alarm():
    (alarm,) = alarms_on(
        "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"Fn::GetAtt": ["JobDeadLetterQueue", "QueueName"]}
    ).values()
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert alarm["Statistic"] == "Maximum"


def test_a_sweep_that_stops_running_raises_an_alarm():
    (alarm,) = alarms_on("AWS/Lambda", "Invocations", {"Ref": "SweepFunction"}).values()
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanThreshold", 1)
    assert alarm["TreatMissingData"] == "breaching"  # no invocation = no data point
    assert alarm["Period"] * alarm["EvaluationPeriods"] <= 15 * 60


def metric_names(alarm):
    return {m["MetricStat"]["Metric"]["MetricName"] for m in alarm.get("Metrics", []) if "MetricStat" in m}


def test_api_5xx_rate_alarm_divides_5xx_by_requests_on_the_default_stage():
    (alarm,) = [a["Properties"] for a in ALARMS.values() if "5xx" in metric_names(a["Properties"])]
    stats = {m["Id"]: m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m}
    names = {stat["Metric"]["MetricName"]: metric_id for metric_id, stat in stats.items()}
    assert set(names) == {"5xx", "Count"}
    for stat in stats.values():
        assert stat["Metric"]["Namespace"] == "AWS/ApiGateway" and stat["Stat"] == "Sum"
        assert stat["Metric"]["Dimensions"] == [
            {"Name": "ApiId", "Value": {"Ref": "HttpApi"}},
            {"Name": "Stage", "Value": "$default"},
        ]
    (expression,) = [m for m in alarm["Metrics"] if m.get("ReturnData")]
    assert f"{names['5xx']} / {names['Count']}" in expression["Expression"]


def test_every_alarm_notifies_the_alarm_topic():
    assert TEMPLATE.resources["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    assert len(ALARMS) >= 2 * len(FUNCTIONS) + 3
    for logical_id, alarm in ALARMS.items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}], logical_id
        assert props.get("ActionsEnabled", True) is True


def test_the_alarm_email_subscription_exists_only_when_an_address_is_given():
    assert TEMPLATE.doc["Parameters"]["AlarmEmail"]["Default"] == ""
    assert TEMPLATE.doc["Conditions"]["HasAlarmEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}
    (subscription,) = TEMPLATE.of_type("AWS::SNS::Subscription").values()
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["TopicArn"] == {"Ref": "AlarmTopic"}


def test_dashboard_shows_api_functions_queues_tables_and_sweep():
    (dashboard,) = TEMPLATE.of_type("AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    for name in re.findall(r"\$\{([^}]+)\}", body):
        assert name.startswith("AWS::") or name.split(".")[0] in TEMPLATE.resources, name
    # ${Name} -> Name: valid JSON that still says which resource a metric is about.
    widgets = json.loads(re.sub(r"\$\{([^}]+)\}", r"\1", body))["widgets"]
    shown = {tuple(m[:4]) for w in widgets for m in w["properties"].get("metrics", []) if isinstance(m[0], str)}
    for spec in FUNCTIONS:
        for metric in ("Invocations", "Errors", "Duration", "Throttles"):
            assert ("AWS/Lambda", metric, "FunctionName", spec.logical_id) in shown, (spec.logical_id, metric)
    for metric in ("Count", "Latency", "4xx", "5xx"):
        assert ("AWS/ApiGateway", metric, "ApiId", "HttpApi") in shown, metric
    for queue in ("JobQueue.QueueName", "JobDeadLetterQueue.QueueName"):
        assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue) in shown
        assert ("AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", queue) in shown
    for metric in ("ConsumedReadCapacityUnits", "ConsumedWriteCapacityUnits"):
        assert ("AWS/DynamoDB", metric, "TableName", "OversightTable") in shown
    assert "ThrottledRequests" in body and ("AWS/Lambda", "Invocations", "FunctionName", "SweepFunction") in shown


# ---------------------------------------------------------------- key prefixes, Cognito, bucket
def key_prefixes(statement):
    """The dynamodb:LeadingKeys patterns of a statement (None without a condition)."""
    condition = statement.get("Condition", {}).get("ForAllValues:StringLike", {})
    patterns = condition.get("dynamodb:LeadingKeys")
    return None if patterns is None else as_list(patterns)


def on_main_table(statement):
    return "OversightTable" in json.dumps(statement.get("Resource"))


@pytest.mark.parametrize("spec", FUNCTIONS, ids=by_id)
def test_every_main_table_grant_is_bound_to_key_prefixes(spec):
    """ForAllValues (every key of a batch must match, not just one) on
    entity prefixes: a tenant's whole key space (`T#*`) or anything would be
    no narrowing at all."""
    for statement in allows(spec.logical_id):
        if not on_main_table(statement):
            continue
        assert set(statement.get("Condition", {})) == {"ForAllValues:StringLike"}, (spec.logical_id, statement["Sid"])
        patterns = key_prefixes(statement)
        assert patterns, (spec.logical_id, statement["Sid"])
        for pattern in patterns:
            assert re.fullmatch(r"(T#\*#[A-Z]+(#[A-Z#]*\*?)?|[A-Z]+#\*)", pattern), (spec.logical_id, pattern)


def grants_of(logical_id, action):
    return [key_prefixes(s) for s in allows(logical_id) if action in s["Action"] and on_main_table(s)]


def test_stats_reads_only_counter_items_and_create_updates_only_counters():
    assert grants_of("ReadStatsFunction", "dynamodb:BatchGetItem") == [["T#*#STATS#*"]]
    assert grants_of("ReadStatsFunction", "dynamodb:Query") == [["T#*#RESP"]]  # gsi4's partition
    assert grants_of("CreateInterventionFunction", "dynamodb:UpdateItem") == [["T#*#STATS#*"]]
    # Its puts: the intervention and its event (one partition).
    assert grants_of("CreateInterventionFunction", "dynamodb:PutItem") == [["T#*#INT#*"]]


def test_the_sweep_finds_work_only_in_the_schedule_partitions():
    (patterns,) = [key_prefixes(s) for s in allows("SweepFunction") if "index/gsi3" in json.dumps(s["Resource"])]
    assert set(patterns) == {"DUE#*", "PURGE#*", "JOBQ#*", "JOBRUN#*", "JOBPURGE#*"}


def test_cognito_users_cannot_sign_themselves_up():
    """An administrator creates every user, with its immutable tenant."""
    pool = TEMPLATE.resources["UserPool"]["Properties"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    tenant = {a["Name"]: a for a in pool["Schema"]}["tenant"]
    assert tenant["Mutable"] is False
    client = TEMPLATE.resources["UserPoolClient"]["Properties"]
    assert "custom:tenant" not in client["WriteAttributes"]


def test_the_output_bucket_refuses_requests_without_tls():
    (bucket_policy,) = [
        r["Properties"]
        for r in TEMPLATE.of_type("AWS::S3::BucketPolicy").values()
        if r["Properties"]["Bucket"] == {"Ref": "OutputBucket"}
    ]
    (deny,) = [s for s in bucket_policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Principal"] == "*" and as_list(deny["Action"]) == ["s3:*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert {json.dumps(r, sort_keys=True) for r in deny["Resource"]} == {
        json.dumps({"Fn::GetAtt": ["OutputBucket", "Arn"]}, sort_keys=True),
        json.dumps({"Fn::Sub": "${OutputBucket.Arn}/*"}, sort_keys=True),
    }


def test_the_job_retry_budget_is_one_parameter_for_the_queue_and_the_worker():
    """The worker fails a job on its last delivery (JOB_MAX_RECEIVES) and the
    queue moves the message to the dead-letter queue after maxReceiveCount:
    one figure, or a job could be dead-lettered while still RUNNING, or failed
    with deliveries to spare."""
    redrive = TEMPLATE.resources["JobQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == {"Ref": "JobMaxReceives"}
    assert TEMPLATE.doc["Globals"]["Function"]["Environment"]["Variables"]["JOB_MAX_RECEIVES"] == {
        "Ref": "JobMaxReceives"
    }
    worker = next(spec for spec in TEMPLATE.functions() if spec.logical_id == "RunJobFunction")
    assert worker.environment["JOB_MAX_RECEIVES"] == str(TEMPLATE.parameters["JobMaxReceives"]) == "3"


# ---------------------------------------------------------------- events, webhooks, callbacks
def props(logical_id):
    return TEMPLATE.resources[logical_id]["Properties"]


def test_the_table_streams_both_images_to_the_publisher_with_partial_failures_and_a_failure_destination():
    assert props("OversightTable")["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    (source,) = props("PublishEventsFunction")["Events"].values()
    assert source["Type"] == "DynamoDB"
    config = source["Properties"]
    assert config["Stream"] == {"Fn::GetAtt": ["OversightTable", "StreamArn"]}
    assert config["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert config["BisectBatchOnFunctionError"] is True
    assert config["StartingPosition"] == "TRIM_HORIZON"  # nothing written before the first poll is skipped
    assert config["MaximumRetryAttempts"] > 0 and 0 < config["MaximumRecordAgeInSeconds"] <= 604800
    assert config["DestinationConfig"]["OnFailure"] == {
        "Type": "SQS",
        "Destination": {"Fn::GetAtt": ["PublishFailedQueue", "Arn"]},
    }
    (only,) = config["FilterCriteria"]["Filters"]
    assert json.loads(only["Pattern"]) == {"dynamodb": {"NewImage": {"entity": {"S": ["intervention", "job"]}}}}


def test_every_event_of_the_bus_reaches_the_delivery_queue_which_only_that_rule_may_send_to():
    rule = props("DeliveryRule")
    assert rule["EventBusName"] == {"Ref": "EventBus"} and rule["EventPattern"] == {"source": ["oversight"]}
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["DeliveryQueue", "Arn"]}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["DeliveryDeadLetterQueue", "Arn"]}}
    policy = props("DeliveryQueuePolicy")
    assert {"Ref": "DeliveryQueue"} in policy["Queues"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"} and statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["DeliveryRule", "Arn"]}}}


def test_deliveries_are_retried_for_over_an_hour_by_the_queue_that_feeds_them():
    from oversight.delivery import RETRY_DELAYS

    queue = props("DeliveryQueue")
    deliverer = TEMPLATE.function("deliver_webhooks")
    attempts = int(deliverer.environment["DELIVERY_MAX_ATTEMPTS"])
    assert queue["RedrivePolicy"]["maxReceiveCount"] == attempts == len(RETRY_DELAYS) + 1
    assert sum(RETRY_DELAYS) >= 3600
    assert queue["VisibilityTimeout"] >= 6 * deliverer.timeout  # AWS's advice for a Lambda event source
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["DeliveryDeadLetterQueue", "Arn"]}
    (source,) = props("DeliverWebhooksFunction")["Events"].values()
    assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_only_the_deliverer_opens_secrets_and_answers_tasks_the_api_may_only_seal_them():
    holders: dict[str, set[str]] = {}
    for spec in FUNCTIONS:
        for statement in allows(spec.logical_id):
            for action in as_list(statement["Action"]):
                if action.split(":")[0] in ("kms", "states"):
                    holders.setdefault(action, set()).add(spec.logical_id)
    assert holders == {
        "kms:Encrypt": {"CreateInterventionFunction", "ManageWebhooksFunction"},
        "kms:Decrypt": {"DeliverWebhooksFunction"},
        "states:SendTaskSuccess": {"DeliverWebhooksFunction"},
        "states:SendTaskFailure": {"DeliverWebhooksFunction"},
    }
    for spec in FUNCTIONS:
        for statement in allows(spec.logical_id):
            if any(a.startswith("kms:") for a in as_list(statement["Action"])):
                assert statement["Resource"] == {"Fn::GetAtt": ["WebhookSecretsKey", "Arn"]}


def test_the_stream_reader_and_the_deliverer_read_only_their_own_source():
    (deny,) = [
        s for s in statements("PublishEventsFunction") if s["Effect"] == "Deny" and "dynamodb:GetRecords" in s["Action"]
    ]
    assert deny["NotResource"] == {"Fn::GetAtt": ["OversightTable", "StreamArn"]}
    (deny,) = [
        s
        for s in statements("DeliverWebhooksFunction")
        if s["Effect"] == "Deny" and "sqs:ReceiveMessage" in s["Action"]
    ]
    assert deny["NotResource"] == {"Fn::GetAtt": ["DeliveryQueue", "Arn"]}


def test_a_dead_letter_or_an_unpublished_batch_raises_an_alarm_and_the_bus_is_an_output():
    for queue in ("PublishFailedQueue", "DeliveryDeadLetterQueue"):
        (alarm,) = [
            r["Properties"]
            for r in TEMPLATE.resources.values()
            if r["Type"] == "AWS::CloudWatch::Alarm"
            and r["Properties"].get("Dimensions")
            == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
        ]
        assert alarm["Threshold"] == 0 and alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert TEMPLATE.doc["Outputs"]["EventBusName"]["Value"] == {"Ref": "EventBus"}
    key = props("WebhookSecretsKey")
    assert key["EnableKeyRotation"] is True


# ---------------------------------------------------------------- cold-start levers
# SnapStart and provisioned concurrency (docs/operations.md, "Cold starts"): parameters, off by default, that
# switch on these functions and no other. Health is what probes poll (a slower first answer keeps no user
# waiting) and the console serves files from memory with the standard library only: neither has the levers.
LEVER_FUNCTIONS = {
    "CreateInterventionFunction",
    "DecideInterventionFunction",
    "ReadInterventionsFunction",
    "ReadStatsFunction",
    "ReadJobsFunction",
    "SubmitJobFunction",
    "ManageWebhooksFunction",
}
NO_LEVERS = {"HealthFunction", "ConsoleFunction"}
# Parameters in an API function's environment (from Globals) that it never reads: a published version holding
# an older value of one behaves the same, so a change of it need not publish a new one. JOB_MAX_RECEIVES is the
# worker's and the sweep's; HTTP_POST_ALLOWED_HOSTS is checked where http_post jobs are submitted and run.
UNREAD_BY = {
    "JobMaxReceives": LEVER_FUNCTIONS,
    "HttpPostAllowedHosts": LEVER_FUNCTIONS - {"SubmitJobFunction"},
}
NO_VALUE = object()


def stack_parameters(**overrides):
    """The parameters as CloudFormation passes them on: strings, the defaults unless overridden."""
    values = {name: str(spec.get("Default", "")) for name, spec in TEMPLATE.doc["Parameters"].items()}
    values.update({name: str(value) for name, value in overrides.items()})
    return values


def evaluate(node, parameters, conditions):
    """`node` with Ref (to a parameter or AWS::NoValue), Condition and Fn::Equals/Not/And/Or/If evaluated; other
    intrinsic functions are kept, with their arguments evaluated."""
    if isinstance(node, list):
        return [item for item in (evaluate(n, parameters, conditions) for n in node) if item is not NO_VALUE]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((fn, arg),) = node.items()
        if fn == "Ref":
            return NO_VALUE if arg == "AWS::NoValue" else parameters.get(arg, node)
        if fn == "Condition":
            return conditions[arg]
        if fn == "Fn::Equals":
            left, right = (str(evaluate(value, parameters, conditions)) for value in arg)
            return left == right
        if fn == "Fn::Not":
            return not evaluate(arg[0], parameters, conditions)
        if fn in ("Fn::And", "Fn::Or"):
            results = [evaluate(value, parameters, conditions) for value in arg]
            return all(results) if fn == "Fn::And" else any(results)
        if fn == "Fn::If":
            name, when_true, when_false = arg
            return evaluate(when_true if conditions[name] else when_false, parameters, conditions)
    evaluated = {key: evaluate(value, parameters, conditions) for key, value in node.items()}
    return {key: value for key, value in evaluated.items() if value is not NO_VALUE}


def stack_conditions(parameters):
    class Conditions(dict):
        def __missing__(self, name):  # a condition may name another
            self[name] = evaluate(TEMPLATE.doc["Conditions"][name], parameters, self)
            return self[name]

    conditions = Conditions()
    for name in TEMPLATE.doc["Conditions"]:
        conditions[name]  # noqa: B018 - evaluates it
    return dict(conditions)


def levers(**overrides):
    """{function: (its SnapStart, its ProvisionedConcurrencyConfig)} as deployed with these parameters."""
    parameters = stack_parameters(**overrides)
    conditions = stack_conditions(parameters)
    found = {}
    for spec in FUNCTIONS:
        deployed = evaluate(TEMPLATE.resources[spec.logical_id]["Properties"], parameters, conditions)
        found[spec.logical_id] = (deployed.get("SnapStart"), deployed.get("ProvisionedConcurrencyConfig"))
    return found


def refused_by_rules(**overrides):
    """The descriptions of the rule assertions that fail: CloudFormation refuses the stack with them."""
    parameters = stack_parameters(**overrides)
    conditions = stack_conditions(parameters)
    failed = []
    for rule in TEMPLATE.doc.get("Rules", {}).values():
        if "RuleCondition" in rule and not evaluate(rule["RuleCondition"], parameters, conditions):
            continue
        failed += [
            a["AssertDescription"] for a in rule["Assertions"] if not evaluate(a["Assert"], parameters, conditions)
        ]
    return failed


def test_the_cold_start_levers_are_off_by_default():
    parameters = TEMPLATE.doc["Parameters"]
    assert parameters["ApiSnapStart"]["Default"] == "Off"
    assert parameters["ApiSnapStart"]["AllowedValues"] == ["On", "Off"]
    assert str(parameters["ApiProvisionedConcurrency"]["Default"]) == "0"
    assert str(parameters["ApiProvisionedConcurrency"]["MinValue"]) == "0"
    assert levers() == {spec.logical_id: (None, None) for spec in FUNCTIONS}
    assert refused_by_rules() == []


def test_the_levers_are_for_the_api_functions_but_health_and_the_console():
    assert {spec.logical_id for spec in API_FUNCTIONS} - NO_LEVERS == LEVER_FUNCTIONS


def test_snapstart_on_switches_it_on_for_exactly_the_api_functions():
    switched = levers(ApiSnapStart="On")
    assert {fn for fn, (snapstart, _) in switched.items() if snapstart} == LEVER_FUNCTIONS
    assert all(switched[fn] == ({"ApplyOn": "PublishedVersions"}, None) for fn in LEVER_FUNCTIONS)
    assert refused_by_rules(ApiSnapStart="On") == []


def test_provisioned_concurrency_switches_on_for_exactly_the_api_functions_aliases():
    switched = levers(ApiProvisionedConcurrency=3)
    assert {fn for fn, (_, provisioned) in switched.items() if provisioned} == LEVER_FUNCTIONS
    assert all(switched[fn] == (None, {"ProvisionedConcurrentExecutions": "3"}) for fn in LEVER_FUNCTIONS)
    assert refused_by_rules(ApiProvisionedConcurrency=3) == []


def test_snapstart_with_provisioned_concurrency_is_refused_before_any_change():
    """Lambda does not support SnapStart with provisioned concurrency: a rule refuses the pair."""
    (refusal,) = refused_by_rules(ApiSnapStart="On", ApiProvisionedConcurrency=1)
    assert "ApiSnapStart=Off" in refusal and "ApiProvisionedConcurrency=0" in refusal


def parameters_named(node):
    """The template parameters a property refers to, by Ref or in a Fn::Sub."""
    text = json.dumps(node)
    named = set(re.findall(r'\{"Ref": "([A-Za-z0-9]+)"\}', text)) | set(re.findall(r"\$\{([A-Za-z0-9]+)\}", text))
    return named & set(TEMPLATE.doc["Parameters"])


@pytest.mark.parametrize("logical_id", sorted(LEVER_FUNCTIONS))
def test_an_api_functions_alias_follows_every_change_of_what_it_runs(logical_id):
    """SnapStart and provisioned concurrency need a published version behind an alias, which SAM cannot make
    conditional: the alias is always there. SAM publishes a new version when the function's properties
    change (all of them, not only the code) and, with PublishLambdaVersion, when the layer's content does;
    but it hashes a `!Ref` unresolved, so a parameter change alone would leave the alias on a version with
    the old value. The parameters the function reads are in its VersionDescription, whose change replaces
    the version (and so does ApiSnapStart: a snapshot is taken when a version is published)."""
    resource = TEMPLATE.resources[logical_id]
    props = resource["Properties"]
    assert (props["AutoPublishAlias"], props["AutoPublishAliasAllProperties"]) == ("live", True)
    assert resource["DeletionPolicy"] == "Delete"  # SAM gives it to the versions: a replaced one is deleted
    assert TEMPLATE.resources["SharedLayer"]["Properties"]["PublishLambdaVersion"] is True
    environment = [TEMPLATE.doc["Globals"]["Function"]["Environment"], props["Environment"]]
    read = {name for name in parameters_named(environment) if logical_id not in UNREAD_BY.get(name, ())}
    described = parameters_named(props["VersionDescription"])
    assert described == read | {"ApiSnapStart"}, (logical_id, read | {"ApiSnapStart"})


def test_no_other_function_is_published_or_aliased():
    """The workers, health and the console run their latest code: no version to keep up to date."""
    for spec in FUNCTIONS:
        if spec.logical_id in LEVER_FUNCTIONS:
            continue
        props = TEMPLATE.resources[spec.logical_id]["Properties"]
        assert not {"AutoPublishAlias", "SnapStart", "ProvisionedConcurrencyConfig"} & set(props), spec.logical_id


def test_every_version_description_fits_lambdas_256_characters():
    """The longest each parameter may be: an allow-list is held to its AllowedPattern, the log level to the
    longest allowed, a retention to a century of days."""
    parameters = TEMPLATE.doc["Parameters"]

    def longest(name):
        spec = parameters[name]
        if "AllowedValues" in spec:
            return max((str(value) for value in spec["AllowedValues"]), key=len)
        if name == "RetentionDays":
            return "36500"
        (most,) = re.fullmatch(r"\^\.\{0,(\d+)\}\$", spec["AllowedPattern"]).groups()
        return "h" * int(most)

    for logical_id in LEVER_FUNCTIONS:
        text = TEMPLATE.resources[logical_id]["Properties"]["VersionDescription"]["Fn::Sub"]
        assert len(re.sub(r"\$\{([A-Za-z0-9]+)\}", lambda m: longest(m.group(1)), text)) <= 256, logical_id
