"""The StatusSweep schedule: the manifest's expression, in UTC, at the exact time, retried, invoking the
sweep with a role of its own."""

from __future__ import annotations

from typing import Any

import pytest

from infra import manifest, status_sweep
from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra


def test_every_scheduled_function_has_an_expression() -> None:
    scheduled = {function.name for function in manifest.FUNCTIONS if function.kind == "schedule"}

    assert scheduled == manifest.SCHEDULES.keys() == {manifest.STATUS_SWEEP.name}


def test_schedule_runs_the_sweep_daily_at_the_manifest_time(dev: Synth) -> None:
    (_, schedule) = dev.only("AWS::Scheduler::Schedule")
    (function_id, _) = dev.function(manifest.STATUS_SWEEP.name)
    properties = schedule["Properties"]

    assert properties["ScheduleExpression"] == manifest.SCHEDULES[manifest.STATUS_SWEEP.name]
    assert properties["ScheduleExpression"].startswith("cron(")
    assert properties["ScheduleExpressionTimezone"] == "UTC"
    assert properties["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert properties["State"] == "ENABLED"
    assert properties["Name"] == "partner-programme-dev-StatusSweep"
    assert dev.invoked(properties["Target"]["Arn"]) == function_id  # through its live alias
    assert "Input" not in properties["Target"]  # the function gets Scheduler's own event


def test_delivery_and_function_failures_are_retried(dev: Synth) -> None:
    (_, schedule) = dev.only("AWS::Scheduler::Schedule")
    (function_id, _) = dev.function(manifest.STATUS_SWEEP.name)
    (_, invoke_config) = dev.only("AWS::Lambda::EventInvokeConfig")

    assert schedule["Properties"]["Target"]["RetryPolicy"] == {
        "MaximumRetryAttempts": status_sweep.DELIVERY_RETRY_ATTEMPTS,
        "MaximumEventAgeInSeconds": status_sweep.DELIVERY_MAX_EVENT_AGE.to_seconds(),
    }
    # Scheduler invokes asynchronously: a failing sweep is retried by Lambda.
    assert dev.invoked(invoke_config["Properties"]["FunctionName"]) == function_id
    assert invoke_config["Properties"]["MaximumRetryAttempts"] == status_sweep.FUNCTION_RETRY_ATTEMPTS > 0


def test_schedule_waits_for_its_role_policy(dev: Synth) -> None:
    (_, schedule) = dev.only("AWS::Scheduler::Schedule")
    role_id = schedule["Properties"]["Target"]["RoleArn"]["Fn::GetAtt"][0]
    (policy_id,) = [
        logical_id
        for logical_id, policy in dev.resources("AWS::IAM::Policy").items()
        if policy["Properties"]["Roles"] == [{"Ref": role_id}]
    ]

    assert schedule["DependsOn"] == [policy_id]


def test_schedule_name_is_an_output(prod: Synth) -> None:
    (schedule_id, schedule) = prod.only("AWS::Scheduler::Schedule")

    assert schedule["Properties"]["Name"] == "partner-programme-prod-StatusSweep"
    assert prod.template["Outputs"]["StatusSweepScheduleName"]["Value"] == {"Ref": schedule_id}


def failures_queue(synth: Synth) -> tuple[str, dict[str, Any]]:
    (found,) = (
        (queue_id, queue)
        for queue_id, queue in synth.resources("AWS::SQS::Queue").items()
        if queue["Metadata"]["aws:cdk:path"].endswith("/StatusSweep/Failures/Resource")
    )
    return found


def test_a_run_that_never_happens_lands_in_the_failure_queue(dev: Synth) -> None:
    # Scheduler's dead-letter event (it could not invoke) and Lambda's record (the function kept failing).
    (queue_id, queue) = failures_queue(dev)
    (_, schedule) = dev.only("AWS::Scheduler::Schedule")
    (_, invoke_config) = dev.only("AWS::Lambda::EventInvokeConfig")
    queue_arn = {"Fn::GetAtt": [queue_id, "Arn"]}

    assert schedule["Properties"]["Target"]["DeadLetterConfig"] == {"Arn": queue_arn}
    assert invoke_config["Properties"]["DestinationConfig"] == {"OnFailure": {"Destination": queue_arn}}
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert "RedrivePolicy" not in queue["Properties"]  # it is a dead-letter queue itself: alarmed when not empty
    (policy,) = [
        policy
        for policy in dev.resources("AWS::SQS::QueuePolicy").values()
        if {"Ref": queue_id} in policy["Properties"]["Queues"]
    ]
    assert {"Bool": {"aws:SecureTransport": "false"}} in [
        statement.get("Condition") for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_the_failure_queue_is_an_attribute_and_an_output(dev: Synth) -> None:
    (queue_id, _) = failures_queue(dev)
    sweeps = [construct for construct in dev.stack.node.find_all() if isinstance(construct, status_sweep.StatusSweep)]

    assert [dev.stack.resolve(sweep.failures.queue_url) for sweep in sweeps] == [{"Ref": queue_id}]
    assert dev.template["Outputs"]["StatusSweepFailureQueueUrl"]["Value"] == {"Ref": queue_id}


def test_the_sweep_hands_its_work_to_a_queue_its_work_function_reads(dev: Synth) -> None:
    spec = manifest.STATUS_SWEEP_WORK
    (sweep_id, sweep) = dev.function(manifest.STATUS_SWEEP.name)
    (work_id, _) = dev.function(spec.name)
    (mapping,) = [
        m["Properties"]
        for m in dev.resources("AWS::Lambda::EventSourceMapping").values()
        if dev.invoked(m["Properties"]["FunctionName"]) == work_id
    ]
    queue_id = mapping["EventSourceArn"]["Fn::GetAtt"][0]
    queue = dev.template["Resources"][queue_id]["Properties"]
    dead_letters_id = queue["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]

    assert spec.kind == "work"
    # The sweep is told the queue; the work function reads it a few messages at a time, reporting each
    # message it did not finish, at a bounded concurrency (texts and e-mails go out at a steady rate).
    assert sweep["Properties"]["Environment"]["Variables"]["SWEEP_WORK_QUEUE_URL"] == {"Ref": queue_id}
    assert mapping["BatchSize"] == spec.queue_batch_size == 2
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": spec.queue_max_concurrency}
    # A message is received again only after six timeouts (AWS's advice for Lambda-read queues), and moves to
    # the dead-letter queue after its receive limit, kept 14 days; its URL is an output.
    assert queue["VisibilityTimeout"] == 6 * spec.timeout_s
    assert queue["RedrivePolicy"]["maxReceiveCount"] == spec.queue_max_receive_count
    assert queue["SqsManagedSseEnabled"] is True
    assert dev.template["Resources"][dead_letters_id]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert dev.template["Outputs"]["StatusSweepWorkDeadLetterQueueUrl"]["Value"] == {"Ref": dead_letters_id}
    assert sweep_id != work_id
