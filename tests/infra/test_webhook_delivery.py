"""WebhookDelivery: its own queue read one message at a time, a dead-letter queue for what the engine cannot
handle, least privilege (its table actions on the table alone, its own queue, the pool, the system sender),
the alarm on the oldest waiting delivery (the queue's age) and on the failure rate."""

from __future__ import annotations

from typing import Any

import pytest
from common.integrations import delivery_attempts, delivery_schedule, outbound

from infra import manifest, webhook_delivery
from tests.infra.conftest import Synth
from tests.infra.test_iam import as_list
from tests.infra.test_monitoring import alarms

pytestmark = pytest.mark.infra

SPEC = manifest.WEBHOOK_DELIVERY


def delivery_queue(synth: Synth) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(queue logical id, queue properties, the event source mapping's properties)."""
    (function_id, _) = synth.function(SPEC.name)
    (mapping,) = [
        m["Properties"]
        for m in synth.resources("AWS::Lambda::EventSourceMapping").values()
        if synth.invoked(m["Properties"]["FunctionName"]) == function_id
    ]
    queue_id = mapping["EventSourceArn"]["Fn::GetAtt"][0]
    return queue_id, synth.template["Resources"][queue_id]["Properties"], mapping


def test_one_message_at_a_time_from_its_own_queue(dev: Synth) -> None:
    queue_id, queue, mapping = delivery_queue(dev)
    dead_letters_id = queue["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    variables = dev.function(SPEC.name)[1]["Properties"]["Environment"]["Variables"]

    assert SPEC.kind == "work"
    assert mapping["BatchSize"] == SPEC.queue_batch_size == 1
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": SPEC.queue_max_concurrency}
    assert variables["WEBHOOK_QUEUE_URL"] == {"Ref": queue_id}  # it sends on what is not due yet
    assert queue["VisibilityTimeout"] == 6 * SPEC.timeout_s
    assert queue["RedrivePolicy"]["maxReceiveCount"] == SPEC.queue_max_receive_count
    assert queue["SqsManagedSseEnabled"] is True
    assert dev.template["Resources"][dead_letters_id]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert dev.template["Outputs"]["WebhookDeliveryDeadLetterQueueUrl"]["Value"] == {"Ref": dead_letters_id}


def test_an_attempt_ends_within_the_function_and_its_lease() -> None:
    # The outbound deadline, and the reads and writes around it, end within the function's timeout; a lease
    # outlives the function, so it is never taken from an attempt still running.
    assert outbound.TIMEOUT + 10 <= SPEC.timeout_s < delivery_attempts.LEASE.total_seconds()
    # A slow endpoint holds at most its slots of the function's concurrency.
    assert SPEC.queue_max_concurrency > delivery_attempts.ENDPOINT_SLOTS


def test_it_may_do_exactly_what_delivering_needs(dev: Synth) -> None:
    (table_id, _) = dev.only("AWS::DynamoDB::Table")
    (pool_id, _) = dev.only("AWS::Cognito::UserPool")
    queue_id, _, _ = delivery_queue(dev)
    statements = dev.policy_statements(SPEC.name)

    for statement in statements:
        actions = set(as_list(statement["Action"]))
        if any(a.startswith("dynamodb:") for a in actions):
            # No index: the members of an organisation are one partition of the table.
            assert statement["Resource"] == {"Fn::GetAtt": [table_id, "Arn"]}, statement
        if any(a.startswith("cognito-idp:") for a in actions):
            assert actions == {"cognito-idp:AdminGetUser"}
            assert statement["Resource"] == {"Fn::GetAtt": [pool_id, "Arn"]}
    sqs = [s for s in statements if any(a.startswith("sqs:") for a in as_list(s["Action"]))]
    # Reading (the event source mapping) and sending on: its own queue only.
    assert [s["Resource"] for s in sqs] == [{"Fn::GetAtt": [queue_id, "Arn"]}]
    assert "sqs:SendMessage" in sqs[0]["Action"]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_oldest_waiting_delivery_alarms(stage: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(stage)
    (age,) = [
        a for a in alarms(synth).values() if a["AlarmName"].endswith("-Webhooks-Deliveries-Queue-Message-Age-Max-Age")
    ]
    # A message is delayed at most 15 minutes: older, it waited past its time, but retries alone do not explain
    # an hour.
    assert delivery_schedule.MAX_DELAY < age["Threshold"] <= 3600


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_failure_rate_alarms(stage: str, request: pytest.FixtureRequest) -> None:
    synth: Synth = request.getfixturevalue(stage)
    (rate,) = [a for a in alarms(synth).values() if a["AlarmName"].endswith("-WebhookDeliveries-FailureRate-High")]
    expressions = {m["Id"]: m for m in rate["Metrics"]}
    formula = next(m["Expression"] for m in rate["Metrics"] if "Expression" in m)

    assert rate["Threshold"] == webhook_delivery.FAILURE_PERCENT
    assert rate["TreatMissingData"] == "notBreaching"
    assert f"attempts >= {webhook_delivery.MIN_ATTEMPTS}" in formula
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in expressions.values() if "MetricStat" in m}
    assert names == {delivery_attempts.ATTEMPTS_METRIC, delivery_attempts.FAILED_ATTEMPTS_METRIC}
    for metric in expressions.values():
        if "MetricStat" in metric:
            dimensions = {d["Name"]: d["Value"] for d in metric["MetricStat"]["Metric"]["Dimensions"]}
            assert dimensions == {"stage": stage, "service": SPEC.folder}
