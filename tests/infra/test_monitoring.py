"""Every failure is seen: the alarms of the Monitoring nested stack cover every queue, function, the stream
reader, the API, the table, SES and the daily sweep; each notifies the alarm topic; each names resources
that exist. What should be watched is worked out here from the parent template itself, independently of
infra/watched.py, which finds it in the construct tree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from cfnlint.api import lint_file
from cfnlint.config import ManualArgs
from common.platform.observability import METRICS_NAMESPACE
from common.web.resolver import INVALID_ANSWERS_METRIC

from infra import manifest, monitoring
from infra.functions import LIVE_ALIAS
from infra.watched import discover, runs_daily
from tests.infra import limits_report as limits
from tests.infra.conftest import PROD_CONTEXT, Synth

pytestmark = pytest.mark.infra

STAGES = ["dev", "prod"]
# CloudFormation's hard limit of parameters per stack (the nested stack receives what it watches as them).
PARAMETERS_LIMIT = 200
# Which parent resource (type, attribute) each dimension of an alarm must name.
DIMENSION_TARGETS = {
    "FunctionName": ("AWS::Lambda::Function", "Ref"),
    "QueueName": ("AWS::SQS::Queue", "QueueName"),
    "TableName": ("AWS::DynamoDB::Table", "Ref"),
    "ApiId": ("AWS::ApiGatewayV2::Api", "Ref"),
    "ScheduleGroup": ("AWS::Scheduler::ScheduleGroup", "Ref"),
    "Resource": ("AWS::Lambda::Function", LIVE_ALIAS),  # a function's alias, `<function name>:live`
}

Template = dict[str, Any]
Metric = tuple[str, str, dict[str, Any], int | None, str | None]  # namespace, name, dimensions, period, stat


@pytest.fixture(params=STAGES)
def synth(request: pytest.FixtureRequest) -> Synth:
    found: Synth = request.getfixturevalue(request.param)
    return found


def nested(synth: Synth) -> Template:
    return synth.nested_templates()["Monitoring"]


def of_type(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def alarms(synth: Synth) -> dict[str, dict[str, Any]]:
    """Every alarm of the parent and of its nested stacks, by logical id."""
    found = of_type(synth.template, "AWS::CloudWatch::Alarm")
    for template in synth.nested_templates().values():
        found.update(of_type(template, "AWS::CloudWatch::Alarm"))
    return {k: v["Properties"] for k, v in found.items()}


def passed_in(synth: Synth) -> dict[str, Any]:
    """What the parent passes to each parameter of the Monitoring stack."""
    (stack,) = (r for r in synth.resources("AWS::CloudFormation::Stack").values() if "Monitoring" in str(r["Metadata"]))
    parameters: dict[str, Any] = stack["Properties"].get("Parameters", {})
    return parameters


def target(synth: Synth, value: Any) -> tuple[str, str] | None:
    """The parent resource (logical id, attribute) a dimension value names, through the nested parameters."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        value = passed_in(synth).get(value["Ref"], value)
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in synth.template["Resources"]:
        return value["Ref"], "Ref"
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        logical_id, attribute = value["Fn::GetAtt"]
        return logical_id, attribute
    if isinstance(value, dict) and set(value) == {"Fn::Join"}:
        separator, (function, qualifier) = value["Fn::Join"]
        named = target(synth, function)
        if separator == "" and named and named[1] == "Ref" and qualifier == f":{LIVE_ALIAS}":
            return named[0], LIVE_ALIAS
    return None


def metrics_of(alarm: dict[str, Any]) -> list[Metric]:
    def dimensions(metric: dict[str, Any]) -> dict[str, Any]:
        return {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}

    if "MetricName" in alarm:
        return [(alarm["Namespace"], alarm["MetricName"], dimensions(alarm), alarm.get("Period"), alarm["Statistic"])]
    return [
        (s["Metric"]["Namespace"], s["Metric"]["MetricName"], dimensions(s["Metric"]), s["Period"], s["Stat"])
        for s in (m["MetricStat"] for m in alarm["Metrics"] if "MetricStat" in m)
    ]


def alarms_on(synth: Synth, namespace: str, name: str, **dimension: tuple[str, str]) -> list[dict[str, Any]]:
    """The alarms with a metric `namespace`/`name` whose dimensions name the given (logical ids, attributes), and
    no other dimension (a function's alarms, not its alias's)."""
    return [
        alarm
        for alarm in alarms(synth).values()
        for ns, metric, dims, _, _ in metrics_of(alarm)
        if (ns, metric) == (namespace, name)
        and all(target(synth, dims.get(key)) == wanted for key, wanted in dimension.items())
        and ("Resource" in dimension or "Resource" not in dims)
    ]


def arn_of(value: Any) -> str | None:
    """The logical id an {"Fn::GetAtt": [id, "Arn"]} names."""
    if isinstance(value, dict) and "Fn::GetAtt" in value and value["Fn::GetAtt"][1] == "Arn":
        return str(value["Fn::GetAtt"][0])
    return None


def failure_destinations(synth: Synth) -> set[str | None]:
    """Queues that failures are sent to: redrive targets, on-failure destinations, dead-letter configs."""
    found = {arn_of((q["Properties"].get("RedrivePolicy") or {}).get("deadLetterTargetArn")) for q in queues(synth)}
    for m in synth.resources("AWS::Lambda::EventSourceMapping").values():
        found.add(arn_of(m["Properties"].get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")))
    for c in synth.resources("AWS::Lambda::EventInvokeConfig").values():
        found.add(arn_of(c["Properties"].get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")))
    for f in synth.resources("AWS::Lambda::Function").values():
        found.add(arn_of(f["Properties"].get("DeadLetterConfig", {}).get("TargetArn")))
    for s in synth.resources("AWS::Scheduler::Schedule").values():
        found.add(arn_of(s["Properties"]["Target"].get("DeadLetterConfig", {}).get("Arn")))
    return found - {None}


def queues(synth: Synth) -> list[dict[str, Any]]:
    return list(synth.resources("AWS::SQS::Queue").values())


def read_queues(synth: Synth) -> set[str | None]:
    return {
        arn_of(m["Properties"]["EventSourceArn"]) for m in synth.resources("AWS::Lambda::EventSourceMapping").values()
    }


def dead_letter_queues(synth: Synth) -> set[str]:
    """infra/watched.py's rule, on the template: a failure destination, or unread without a redrive policy."""
    unread = {
        logical_id
        for logical_id, queue in synth.resources("AWS::SQS::Queue").items()
        if "RedrivePolicy" not in queue["Properties"] and logical_id not in read_queues(synth)
    }
    return {q for q in failure_destinations(synth) if q} | unread


def test_each_stack_stays_under_the_resource_and_parameter_limits(synth: Synth) -> None:
    templates = {"parent": synth.template, **synth.nested_templates()}

    assert "Monitoring" in templates
    for name, template in templates.items():
        assert len(template["Resources"]) < limits.STACK_RESOURCES_LIMIT, name
        assert len(template.get("Parameters", {})) < PARAMETERS_LIMIT, name
    # The monitoring is all in the nested stack.
    assert not of_type(synth.template, "AWS::CloudWatch::Alarm")
    assert not of_type(synth.template, "AWS::CloudWatch::Dashboard")


def test_every_queue_not_holding_failures_has_a_redrive_policy(synth: Synth) -> None:
    # A queue neither read with a redrive policy nor named as where failures go is an orphan: decide what
    # it is (infra/watched.py watches it as a dead-letter queue meanwhile).
    holding_failures = failure_destinations(synth)

    for logical_id, queue in synth.resources("AWS::SQS::Queue").items():
        assert logical_id in holding_failures or "RedrivePolicy" in queue["Properties"], logical_id


def test_every_dead_letter_queue_alarms_when_not_empty_and_on_age(synth: Synth) -> None:
    dead_letters = dead_letter_queues(synth)

    # Five consumers' dead-letter queues, the sweep work's, the webhook deliveries', the stream reader's and the
    # sweep's failure queues.
    assert len(dead_letters) == 9
    for queue_id in dead_letters:
        (not_empty,) = alarms_on(
            synth, "AWS/SQS", "ApproximateNumberOfMessagesVisible", QueueName=(queue_id, "QueueName")
        )
        (age,) = alarms_on(synth, "AWS/SQS", "ApproximateAgeOfOldestMessage", QueueName=(queue_id, "QueueName"))
        retention = synth.template["Resources"][queue_id]["Properties"].get("MessageRetentionPeriod", 4 * 86400)

        assert (not_empty["ComparisonOperator"], not_empty["Threshold"]) == ("GreaterThanThreshold", 0)
        assert not_empty["TreatMissingData"] == "notBreaching"  # SQS stops reporting an idle, empty queue
        assert 0 < age["Threshold"] < retention  # before the message expires


def test_every_queue_alarms_on_its_oldest_message(synth: Synth) -> None:
    for logical_id, queue in synth.resources("AWS::SQS::Queue").items():
        (age,) = alarms_on(synth, "AWS/SQS", "ApproximateAgeOfOldestMessage", QueueName=(logical_id, "QueueName"))

        assert age["ComparisonOperator"] == "GreaterThanThreshold"
        if logical_id not in dead_letter_queues(synth):
            # Longer than a failing message is retried before it moves to the dead-letter queue.
            redrive = queue["Properties"]["RedrivePolicy"]
            assert age["Threshold"] > redrive["maxReceiveCount"] * queue["Properties"]["VisibilityTimeout"]


def test_every_function_alarms_on_errors_and_throttles(synth: Synth) -> None:
    functions = synth.resources("AWS::Lambda::Function")

    assert len(functions) >= 12
    for logical_id in functions:
        (errors,) = alarms_on(synth, "AWS/Lambda", "Errors", FunctionName=(logical_id, "Ref"))
        (throttles,) = alarms_on(synth, "AWS/Lambda", "Throttles", FunctionName=(logical_id, "Ref"))

        for alarm in (errors, throttles):
            assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)


def test_the_stream_reader_alarms_on_its_iterator_age(synth: Synth) -> None:
    readers = [
        synth.invoked(m["Properties"]["FunctionName"])
        for m in synth.resources("AWS::Lambda::EventSourceMapping").values()
        if "StartingPosition" in m["Properties"]
    ]

    assert readers == [synth.function("StreamDispatcher")[0]]
    (age,) = alarms_on(synth, "AWS/Lambda", "IteratorAge", FunctionName=(readers[0], "Ref"))
    assert age["Threshold"] == monitoring.ITERATOR_AGE_LIMIT.to_milliseconds()
    assert len(alarms_on(synth, "AWS/Lambda", "IteratorAge")) == 1


@pytest.mark.parametrize(("errors", "percent", "period"), [("5xx", 1, 300), ("4xx", 25, 900)])
def test_the_api_alarms_on_its_share_of_errors(synth: Synth, errors: str, percent: int, period: int) -> None:
    (api_id, _) = synth.only("AWS::ApiGatewayV2::Api")
    (alarm,) = alarms_on(synth, "AWS/ApiGateway", errors, ApiId=(api_id, "Ref"))
    measured = {(name, p, stat) for _, name, _, p, stat in metrics_of(alarm)}
    (expression,) = [m["Expression"] for m in alarm["Metrics"] if "Expression" in m]

    assert measured == {(errors, period, "Sum"), ("Count", period, "Sum")}
    assert f"100 * errors{errors} / requests{errors}" in expression
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", percent)
    assert alarm["TreatMissingData"] == "notBreaching"
    if errors == "4xx":  # a quiet API does not alarm on a few refused calls
        assert f"requests4xx >= {monitoring.API_4XX_MIN_REQUESTS}" in expression


def test_an_answer_that_does_not_fit_its_type_alarms(synth: Synth) -> None:
    # Response validation answers 500 and counts InvalidAnswers per API function (its service): one alarm
    # adds up every API function of this stage.
    found = alarms_on(synth, METRICS_NAMESPACE, INVALID_ANSWERS_METRIC)  # once per metric it adds up
    alarm = found[0]
    assert all(other is alarm for other in found)
    measured = metrics_of(alarm)
    services = {dims["service"] for _, _, dims, _, _ in measured}
    stages = {dims["stage"] for _, _, dims, _, _ in measured}

    assert services == {f.folder for f in manifest.FUNCTIONS if f.kind == "api"}
    assert len(stages) == 1 and synth.stack.stack_name.endswith(f"-{stages.pop()}")
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["TreatMissingData"] == "notBreaching"


def test_the_table_and_each_index_alarm_on_throttling(synth: Synth) -> None:
    (table_id, table) = synth.only("AWS::DynamoDB::Table")
    indexes = [index["IndexName"] for index in table["Properties"]["GlobalSecondaryIndexes"]]

    for metric in ("ReadThrottleEvents", "WriteThrottleEvents"):
        found = alarms_on(synth, "AWS/DynamoDB", metric, TableName=(table_id, "Ref"))
        on_index = sorted(
            dims.get("GlobalSecondaryIndexName", "") for alarm in found for _, _, dims, _, _ in metrics_of(alarm)
        )
        assert on_index == ["", *sorted(indexes)]
        assert all((a["ComparisonOperator"], a["Threshold"]) == ("GreaterThanThreshold", 0) for a in found)


def test_the_schedule_and_the_sweep_send_failures_to_a_queue(synth: Synth) -> None:
    (_, schedule) = synth.only("AWS::Scheduler::Schedule")
    (sweep_id, _) = synth.function("StatusSweep")
    (invoke_config,) = [
        c["Properties"]
        for c in synth.resources("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": sweep_id}
    ]
    queues_by_id = synth.resources("AWS::SQS::Queue")

    assert arn_of(schedule["Properties"]["Target"]["DeadLetterConfig"]["Arn"]) in queues_by_id
    assert arn_of(invoke_config["DestinationConfig"]["OnFailure"]["Destination"]) in queues_by_id


def test_every_alarm_notifies_the_encrypted_topic_on_alarm_and_back_to_ok(synth: Synth) -> None:
    template = nested(synth)
    ((topic_id, topic),) = of_type(template, "AWS::SNS::Topic").items()
    ((_, policy),) = of_type(template, "AWS::SNS::TopicPolicy").items()
    (deny,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    found = alarms(synth)
    stage = synth.stack.stack_name.removeprefix("PartnerProgramme-")

    assert len(found) >= 50
    for logical_id, alarm in found.items():
        assert alarm["ActionsEnabled"] is True, logical_id
        assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": topic_id}], logical_id
        assert alarm["AlarmName"].startswith(f"partner-programme-{stage}-"), logical_id
        assert len(alarm["AlarmDescription"]) > 40, logical_id
    assert arn_of(topic["Properties"]["KmsMasterKeyId"]) in template["Resources"]
    assert (deny["Effect"], deny["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})
    assert synth.template["Outputs"]["AlarmTopicArn"]


def test_the_topic_emails_the_alarm_address_when_one_is_given(dev: Synth, prod: Synth) -> None:
    (subscription,) = of_type(nested(prod), "AWS::SNS::Subscription").values()

    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == PROD_CONTEXT["alarmEmail"]
    assert not of_type(nested(dev), "AWS::SNS::Subscription")


def test_no_alarm_names_a_dimension_that_does_not_resolve(synth: Synth) -> None:
    (_, table) = synth.only("AWS::DynamoDB::Table")
    indexes = {index["IndexName"] for index in table["Properties"]["GlobalSecondaryIndexes"]}

    services = {function.folder for function in manifest.FUNCTIONS}
    for logical_id, alarm in alarms(synth).items():
        for namespace, _, dimensions, _, _ in metrics_of(alarm):
            for name, value in dimensions.items():
                if namespace == METRICS_NAMESPACE and name in ("stage", "service"):
                    # Our own metrics' dimensions: the stage's name and a function's service.
                    assert value in services if name == "service" else synth.stack.stack_name.endswith(f"-{value}")
                    continue
                if name == "GlobalSecondaryIndexName":
                    assert value in indexes, logical_id
                    continue
                named = target(synth, value)
                assert named is not None, f"{logical_id}: {name} = {value}"
                (resource_type, attribute) = DIMENSION_TARGETS[name]
                assert synth.template["Resources"][named[0]]["Type"] == resource_type, logical_id
                assert named[1] == attribute, logical_id


def test_one_dashboard_shows_the_api_functions_queues_and_table(synth: Synth) -> None:
    ((_, dashboard),) = of_type(nested(synth), "AWS::CloudWatch::Dashboard").items()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    shown = {named[0] for part in body if isinstance(part, dict) and (named := target(synth, part))}
    watched = [
        *synth.resources("AWS::Lambda::Function"),
        *synth.resources("AWS::SQS::Queue"),
        *synth.resources("AWS::DynamoDB::Table"),
        *synth.resources("AWS::ApiGatewayV2::Api"),
    ]

    assert shown >= set(watched)
    assert "partner-programme-" in str(dashboard["Properties"]["DashboardName"])


def test_cfn_lint_finds_nothing_in_the_nested_template(synth: Synth) -> None:
    for nested_stack in synth.stack.node.find_all():
        if isinstance(nested_stack, cdk.NestedStack):
            path = synth.outdir / nested_stack.template_file
            matches = lint_file(path, config=ManualArgs(regions=["us-east-1", "eu-central-1"]))

            assert [str(match) for match in matches] == []


def test_discovery_classifies_queues_by_what_names_them(tmp_path: Path) -> None:
    stack = cdk.Stack(cdk.App(outdir=str(tmp_path)), "Probe")
    code = lambda_.Code.from_inline("def handler(event, context): pass")
    dead_letters = sqs.Queue(stack, "DeadLetters")
    work = sqs.Queue(stack, "Work", dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=3, queue=dead_letters))
    on_failure, unredriven = sqs.Queue(stack, "OnFailure"), sqs.Queue(stack, "Unredriven")
    sqs.Queue(stack, "Orphan")  # no redrive policy, read by nothing
    reader = lambda_.Function(stack, "Reader", runtime=lambda_.Runtime.PYTHON_3_13, handler="x.handler", code=code)
    reader.add_event_source(event_sources.SqsEventSource(work))
    reader.add_event_source(event_sources.SqsEventSource(unredriven))
    reader.configure_async_invoke(on_failure=destinations.SqsDestination(on_failure))

    watched = {queue.name: queue for queue in discover(stack).queues}

    assert {name for name, queue in watched.items() if queue.dead_letters} == {"DeadLetters", "OnFailure", "Orphan"}
    # The work queue's age alarm waits out its retries (3 receives of 30 seconds' visibility, twice).
    assert watched["Work"].max_age.to_seconds() == 2 * 3 * 30
    assert [f.name for f in discover(stack).functions] == ["Reader"]


@pytest.mark.parametrize(
    ("expression", "daily"),
    [
        ("cron(15 3 * * ? *)", True),
        ("rate(6 hours)", True),
        ("rate(1 day)", True),
        ("cron(0 3 ? * MON *)", False),
        ("cron(0 3 1 * ? *)", False),
        ("rate(2 days)", False),
        ("at(2030-01-01T00:00:00)", False),
    ],
)
def test_only_daily_schedules_get_a_not_run_alarm(expression: str, daily: bool) -> None:
    assert runs_daily(expression) is daily
