"""The stream consumers (LeadsEvents, PartnersEvents): partial batch failures, the manifest's filters, an
on-failure queue each."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra import manifest
from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra

CONSUMERS = [function for function in manifest.FUNCTIONS if function.kind == "stream"]
CONSUMER_NAMES = [function.name for function in CONSUMERS]


def mapping_of(synth: Synth, spec: manifest.Function) -> dict[str, Any]:
    (function_id, _) = synth.function(spec.name)
    (mapping,) = [
        m["Properties"]
        for m in synth.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    return mapping


def failure_queue_of(synth: Synth, spec: manifest.Function) -> tuple[str, dict[str, Any]]:
    queue_id = mapping_of(synth, spec)["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
    return queue_id, synth.template["Resources"][queue_id]


def test_every_stream_function_has_exactly_one_mapping(dev: Synth) -> None:
    assert {"LeadsEvents", "PartnersEvents"} <= set(CONSUMER_NAMES)
    assert len(dev.resources("AWS::Lambda::EventSourceMapping")) == len(CONSUMERS)


@pytest.mark.parametrize("spec", CONSUMERS, ids=CONSUMER_NAMES)
def test_event_source_mapping(dev: Synth, spec: manifest.Function) -> None:
    (table_id, _) = dev.only("AWS::DynamoDB::Table")
    properties = mapping_of(dev, spec)
    (queue_id, queue) = failure_queue_of(dev, spec)

    assert queue["Type"] == "AWS::SQS::Queue"
    assert properties["EventSourceArn"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
    assert properties["StartingPosition"] == "TRIM_HORIZON"
    assert properties["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert 0 < properties["MaximumBatchingWindowInSeconds"] <= 10
    # The manifest's settings, which the local stream poller follows too.
    assert properties["BatchSize"] == spec.stream_batch_size
    assert properties["BisectBatchOnFunctionError"] is spec.stream_bisect_on_error is True
    assert properties["MaximumRetryAttempts"] == spec.stream_retry_attempts == 5
    assert properties["MaximumRecordAgeInSeconds"] == spec.stream_max_record_age_hours * 3600
    # Failed records must reach the queue while the stream (24 hours) still holds them.
    assert 0 < properties["MaximumRecordAgeInSeconds"] < 24 * 3600
    assert properties["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [queue_id, "Arn"]}}}


@pytest.mark.parametrize("spec", CONSUMERS, ids=CONSUMER_NAMES)
def test_filter_criteria_are_the_manifest_patterns(dev: Synth, spec: manifest.Function) -> None:
    # One criteria object with a filter per pattern: Lambda delivers a record that matches any of them.
    patterns = [json.loads(f["Pattern"]) for f in mapping_of(dev, spec)["FilterCriteria"]["Filters"]]

    assert spec.stream_filters
    assert patterns == list(spec.stream_filters)


@pytest.mark.parametrize("spec", CONSUMERS, ids=CONSUMER_NAMES)
def test_failure_queue_is_its_own_encrypted_and_refuses_plain_http(dev: Synth, spec: manifest.Function) -> None:
    (queue_id, queue) = failure_queue_of(dev, spec)
    (queue_policy,) = [
        p["Properties"]
        for p in dev.resources("AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": queue_id}]
    ]
    (deny,) = queue_policy["PolicyDocument"]["Statement"]
    output = dev.template["Outputs"][f"{spec.name}FailureQueueUrl"]

    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert output["Value"] == {"Ref": queue_id}
    # Only its own function may send to it.
    senders = [
        name
        for name in CONSUMER_NAMES
        if any(statement["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]} for statement in dev.policy_statements(name))
    ]
    assert senders == [spec.name]
