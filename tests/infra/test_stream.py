"""The table's changes as deployed: one reader of the stream (the StreamDispatcher), a queue per consumer
with a dead-letter queue, consumers reading their queue with partial batch failures."""

from __future__ import annotations

import json
from typing import Any

import pytest
from common.platform import change_fanout

from infra import manifest
from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra

CONSUMERS = [function for function in manifest.FUNCTIONS if function.kind == "queue"]
CONSUMER_NAMES = [function.name for function in CONSUMERS]


def queue_of(synth: Synth, spec: manifest.Function) -> tuple[str, dict[str, Any]]:
    mapping = synth.mapping_of(spec.name)
    queue_id = mapping["EventSourceArn"]["Fn::GetAtt"][0]
    return queue_id, synth.template["Resources"][queue_id]


def test_the_stream_has_one_reader_and_every_consumer_a_queue(dev: Synth) -> None:
    (table_id, _) = dev.only("AWS::DynamoDB::Table")
    readers = [
        m
        for m in dev.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
    ]
    (dispatcher_id, _) = dev.function(manifest.STREAM_DISPATCHER.name)

    assert [dev.invoked(r["Properties"]["FunctionName"]) for r in readers] == [dispatcher_id]
    assert (
        set(CONSUMER_NAMES)
        == set(change_fanout.CONSUMER_FILTERS)
        == {
            "LeadsEvents",
            "PartnersEvents",
            "ReferralsEvents",
            "PayoutsEvents",
            "IntegrationsEvents",
        }
    )
    assert [f for f in manifest.FUNCTIONS if f.kind == "stream"] == [manifest.STREAM_DISPATCHER]


def test_the_stream_mapping(dev: Synth) -> None:
    spec = manifest.STREAM_DISPATCHER
    properties = dev.mapping_of(spec.name)
    queue_id = properties["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]

    assert dev.template["Resources"][queue_id]["Type"] == "AWS::SQS::Queue"
    assert properties["StartingPosition"] == "TRIM_HORIZON"
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # The manifest's settings, which the local stream poller follows too.
    assert properties["BatchSize"] == spec.stream_batch_size
    assert properties["BisectBatchOnFunctionError"] is spec.stream_bisect_on_error is True
    assert properties["MaximumRetryAttempts"] == spec.stream_retry_attempts
    # Failed batches must reach the failure queue while the stream (24 hours) still holds them.
    assert 0 < properties["MaximumRecordAgeInSeconds"] == spec.stream_max_record_age_hours * 3600 < 24 * 3600
    # One pattern (Lambda allows few per mapping): every entity some consumer wants, nothing else.
    patterns = [json.loads(f["Pattern"]) for f in properties["FilterCriteria"]["Filters"]]
    assert patterns == [change_fanout.stream_filter()]
    assert dev.template["Outputs"]["StreamDispatcherFailureQueueUrl"]["Value"] == {"Ref": queue_id}


def test_the_dispatcher_knows_every_queue_and_may_send_to_them_only(dev: Synth) -> None:
    (_, dispatcher) = dev.function(manifest.STREAM_DISPATCHER.name)
    urls = dispatcher["Properties"]["Environment"]["Variables"]["CONSUMER_QUEUE_URLS"]
    rendered = json.dumps(urls)
    queue_ids = {spec.name: queue_of(dev, spec)[0] for spec in CONSUMERS}
    mapping = dev.mapping_of(manifest.STREAM_DISPATCHER.name)
    failures_id = mapping["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    targets = [
        resource["Fn::GetAtt"][0]
        for statement in dev.policy_statements(manifest.STREAM_DISPATCHER.name)
        if "sqs:SendMessage" in _as_list(statement["Action"])
        for resource in _as_list(statement["Resource"])
    ]

    for name, queue_id in queue_ids.items():
        assert f'"{name}":"' in rendered.replace('\\"', '"') and queue_id in rendered
    # The consumers' queues, and the mapping's own failure queue (Lambda sends there as the function).
    assert sorted(targets) == sorted([*queue_ids.values(), failures_id])


@pytest.mark.parametrize("spec", CONSUMERS, ids=CONSUMER_NAMES)
def test_each_consumer_reads_its_queue_with_partial_batch_failures(dev: Synth, spec: manifest.Function) -> None:
    mapping = dev.mapping_of(spec.name)
    (_, queue) = queue_of(dev, spec)

    assert queue["Type"] == "AWS::SQS::Queue"
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == spec.queue_batch_size
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": spec.queue_max_concurrency}
    assert "FilterCriteria" not in mapping  # the dispatcher filtered already
    # A message is not received again while a slow invocation still holds it.
    assert queue["Properties"]["VisibilityTimeout"] >= 6 * spec.timeout_s
    assert queue["Properties"]["MaximumMessageSize"] == change_fanout.MAX_MESSAGE_BYTES


@pytest.mark.parametrize("spec", CONSUMERS, ids=CONSUMER_NAMES)
def test_each_queue_keeps_what_failed_in_its_dead_letter_queue(dev: Synth, spec: manifest.Function) -> None:
    (queue_id, queue) = queue_of(dev, spec)
    policy = queue["Properties"]["RedrivePolicy"]
    dead_letters_id = policy["deadLetterTargetArn"]["Fn::GetAtt"][0]
    dead_letters = dev.template["Resources"][dead_letters_id]["Properties"]

    assert policy["maxReceiveCount"] == spec.queue_max_receive_count == 5
    assert dead_letters["MessageRetentionPeriod"] == 14 * 24 * 3600
    # Kept longer than the queue, so a message cannot expire in the dead letters before it would have here.
    assert queue["Properties"]["MessageRetentionPeriod"] < dead_letters["MessageRetentionPeriod"]
    assert "RedrivePolicy" not in dead_letters
    for properties in (queue["Properties"], dead_letters):
        assert properties["SqsManagedSseEnabled"] is True
    outputs = dev.template["Outputs"]
    assert outputs[f"{spec.name}QueueUrl"]["Value"] == {"Ref": queue_id}
    assert outputs[f"{spec.name}DeadLetterQueueUrl"]["Value"] == {"Ref": dead_letters_id}


@pytest.mark.parametrize("spec", CONSUMERS, ids=CONSUMER_NAMES)
def test_every_queue_refuses_plain_http(dev: Synth, spec: manifest.Function) -> None:
    (queue_id, queue) = queue_of(dev, spec)
    dead_letters_id = queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    for resource_id in (queue_id, dead_letters_id):
        (queue_policy,) = [
            p["Properties"]
            for p in dev.resources("AWS::SQS::QueuePolicy").values()
            if p["Properties"]["Queues"] == [{"Ref": resource_id}]
        ]
        (deny,) = queue_policy["PolicyDocument"]["Statement"]
        assert deny["Effect"] == "Deny"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@pytest.mark.parametrize("spec", CONSUMERS, ids=CONSUMER_NAMES)
def test_only_the_consumer_receives_from_its_queue(dev: Synth, spec: manifest.Function) -> None:
    (queue_id, _) = queue_of(dev, spec)
    receivers = [
        f.name
        for f in manifest.FUNCTIONS
        if any(
            "sqs:ReceiveMessage" in str(s["Action"]) and {"Fn::GetAtt": [queue_id, "Arn"]} in _as_list(s["Resource"])
            for s in dev.policy_statements(f.name)
        )
    ]
    assert receivers == [spec.name]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
