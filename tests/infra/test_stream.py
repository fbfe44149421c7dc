"""The LeadsEvents stream consumer: partial batch failures, filters, an on-failure queue."""

from __future__ import annotations

import json

import pytest

from infra import manifest
from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra


def test_event_source_mapping(dev: Synth) -> None:
    spec = manifest.LEADS_EVENTS
    (table_id, _) = dev.only("AWS::DynamoDB::Table")
    (queue_id, _) = dev.only("AWS::SQS::Queue")
    (function_id, _) = dev.function(manifest.LEADS_EVENTS.name)
    (_, mapping) = dev.only("AWS::Lambda::EventSourceMapping")
    properties = mapping["Properties"]

    assert properties["FunctionName"] == {"Ref": function_id}
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


def test_filter_criteria_are_the_manifest_patterns(dev: Synth) -> None:
    (_, mapping) = dev.only("AWS::Lambda::EventSourceMapping")
    # One criteria object with a filter per pattern: Lambda delivers a record that matches any of them.
    patterns = [json.loads(f["Pattern"]) for f in mapping["Properties"]["FilterCriteria"]["Filters"]]

    assert len(manifest.LEADS_EVENTS.stream_filters) > 1
    assert patterns == list(manifest.LEADS_EVENTS.stream_filters)


def test_failure_queue_is_encrypted_and_refuses_plain_http(dev: Synth) -> None:
    (queue_id, queue) = dev.only("AWS::SQS::Queue")
    (_, queue_policy) = dev.only("AWS::SQS::QueuePolicy")
    (deny,) = queue_policy["Properties"]["PolicyDocument"]["Statement"]

    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue_policy["Properties"]["Queues"] == [{"Ref": queue_id}]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
