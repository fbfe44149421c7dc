"""Replay (ops.replay) against moto's DynamoDB Streams and SQS: a failure message names records in the stream;
they are read back and handed to the consumers' queues as the dispatcher would, and the message deleted.
Records the stream no longer holds, or changes a queue refused, leave the message where it is."""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ops import replay
from ops.stage import Stage
from tests.unit.conftest import TABLE
from tests.unit.ops.conftest import messages_held, queue_bodies

ITEMS = [
    # Wanted by LeadsEvents (a new lead), PartnersEvents (a partner), ReferralsEvents (a new request), nobody;
    # the first three by IntegrationsEvents too.
    {"pk": {"S": "L#1"}, "sk": {"S": "L"}, "entity": {"S": "lead"}, "blob": {"B": b"\x00\x01"}},
    {"pk": {"S": "P#1"}, "sk": {"S": "P"}, "entity": {"S": "partner_node"}},
    {"pk": {"S": "R#1"}, "sk": {"S": "R"}, "entity": {"S": "referral_request"}},
    {"pk": {"S": "X#1"}, "sk": {"S": "X"}, "entity": {"S": "nothing_anyone_wants"}},
]
AFTER_THE_BATCH = {"pk": {"S": "L#2"}, "sk": {"S": "L"}, "entity": {"S": "lead"}}


def failure_record(stream_arn: str, shard_id: str, start: str, end: str) -> str:
    """What Lambda sends the stream mapping's on-failure destination (the fields replay reads, and some)."""
    return json.dumps(
        {
            "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 101},
            "version": "1.0",
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": start,
                "endSequenceNumber": end,
                "batchSize": 4,
                "streamArn": stream_arn,
            },
        }
    )


@pytest.fixture
def failure(stage: Stage) -> str:
    """The four items written, then a fifth; the failure queue names the first four (the batch given up on)."""
    dynamodb, streams = boto3.client("dynamodb"), boto3.client("dynamodbstreams")
    for item in [*ITEMS, AFTER_THE_BATCH]:
        dynamodb.put_item(TableName=TABLE, Item=item)
    (shard,) = streams.describe_stream(StreamArn=stage.outputs.stream_arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(
        StreamArn=stage.outputs.stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    numbers = [r["dynamodb"]["SequenceNumber"] for r in streams.get_records(ShardIterator=iterator)["Records"]]
    body = failure_record(stage.outputs.stream_arn, shard["ShardId"], numbers[0], numbers[3])
    boto3.client("sqs").send_message(QueueUrl=stage.outputs.stream_failures_url, MessageBody=body)
    return body


def run(stage: Stage, streams: Any = None, *, dry_run: bool = False, **urls: str) -> list[replay.Replayed]:
    return replay.replay(
        boto3.client("sqs"),
        streams or boto3.client("dynamodbstreams"),
        failures_url=stage.outputs.stream_failures_url,
        queue_urls={**stage.outputs.queue_urls(), **urls},
        region=stage.outputs.region,
        wait_seconds=0,
        dry_run=dry_run,
    )


def changes_in(stage: Stage) -> dict[str, list[dict[str, Any]]]:
    sqs = boto3.client("sqs")
    queues = stage.outputs.consumer_queues()
    return {q.consumer: [json.loads(b) for b in queue_bodies(sqs, q.queue_url)] for q in queues}


def test_the_records_a_failure_names_reach_the_queues_that_want_them_and_the_message_goes(
    stage: Stage, failure: str
) -> None:
    (report,) = run(stage)

    assert (report.outcome, report.records, report.kept) == (replay.REPLAYED, 4, False)
    assert report.sent == {
        "LeadsEvents": 1,
        "PartnersEvents": 1,
        "ReferralsEvents": 1,
        "PayoutsEvents": 0,
        "IntegrationsEvents": 3,
    }
    changes = changes_in(stage)
    assert [c["dynamodb"]["Keys"]["pk"]["S"] for c in changes["LeadsEvents"]] == ["L#1"]  # not L#2, after the batch
    assert [c["dynamodb"]["Keys"]["pk"]["S"] for c in changes["PartnersEvents"]] == ["P#1"]
    assert [c["dynamodb"]["Keys"]["pk"]["S"] for c in changes["ReferralsEvents"]] == ["R#1"]
    assert changes["PayoutsEvents"] == []
    assert [c["dynamodb"]["Keys"]["pk"]["S"] for c in changes["IntegrationsEvents"]] == ["L#1", "P#1", "R#1"]
    # As the dispatcher sends it: the record as Lambda delivers it.
    (lead,) = changes["LeadsEvents"]
    assert (lead["eventSource"], lead["eventName"], lead["eventSourceARN"]) == (
        "aws:dynamodb",
        "INSERT",
        stage.outputs.stream_arn,
    )
    assert isinstance(lead["dynamodb"]["ApproximateCreationDateTime"], int)
    assert lead["dynamodb"]["NewImage"]["blob"]["B"] == base64.b64encode(b"\x00\x01").decode()
    assert messages_held(boto3.client("sqs"), stage.outputs.stream_failures_url) == 0
    assert replay.describe(report).endswith(
        "4 record(s) replayed (LeadsEvents 1, PartnersEvents 1, ReferralsEvents 1, IntegrationsEvents 3)"
    )


def test_records_the_stream_no_longer_holds_are_reported_and_the_message_kept(stage: Stage, failure: str) -> None:
    streams = boto3.client("dynamodbstreams")
    with Stubber(streams) as stubbed:
        stubbed.add_client_error("get_shard_iterator", service_error_code="TrimmedDataAccessException")
        (report,) = run(stage, streams)

    assert (report.outcome, report.kept, report.records) == (replay.TRIMMED, True, 0)
    assert "24 hours" in report.detail and "the message is kept" in replay.describe(report)
    assert all(changes == [] for changes in changes_in(stage).values())
    assert queue_bodies(boto3.client("sqs"), stage.outputs.stream_failures_url) == [failure]  # visible again


def test_a_change_a_queue_refuses_keeps_the_message(stage: Stage, failure: str) -> None:
    gone = "https://sqs.us-east-1.amazonaws.com/123456789012/no-such-queue"

    (report,) = run(stage, LeadsEvents=gone)

    assert (report.outcome, report.kept) == (replay.FAILED, True)
    assert "sequence numbers" in report.detail
    assert queue_bodies(boto3.client("sqs"), stage.outputs.stream_failures_url) == [failure]


def test_a_dry_run_reads_the_records_and_changes_nothing(stage: Stage, failure: str) -> None:
    (report,) = run(stage, dry_run=True)

    assert (report.outcome, report.records, report.kept) == (replay.WOULD_REPLAY, 4, False)
    assert report.sent["LeadsEvents"] == 1
    assert all(changes == [] for changes in changes_in(stage).values())
    assert queue_bodies(boto3.client("sqs"), stage.outputs.stream_failures_url) == [failure]


def test_a_message_that_names_no_stream_batch_is_kept(stage: Stage) -> None:
    boto3.client("sqs").send_message(QueueUrl=stage.outputs.stream_failures_url, MessageBody='{"hello": 1}')

    (report,) = run(stage)

    assert (report.outcome, report.kept) == (replay.UNREADABLE, True)
    assert queue_bodies(boto3.client("sqs"), stage.outputs.stream_failures_url) == ['{"hello": 1}']


def test_a_batch_the_stream_does_not_reach_keeps_the_message(stage: Stage, failure: str) -> None:
    batch = json.loads(failure)["DDBStreamBatchInfo"]
    beyond = str(int(batch["endSequenceNumber"]) + 100)
    body = failure_record(stage.outputs.stream_arn, batch["shardId"], beyond, beyond)
    sqs = boto3.client("sqs")
    sqs.purge_queue(QueueUrl=stage.outputs.stream_failures_url)
    sqs.send_message(QueueUrl=stage.outputs.stream_failures_url, MessageBody=body)

    (report,) = run(stage)

    assert (report.outcome, report.kept) == (replay.FAILED, True)
    assert f"sequence number {beyond} not reached" in report.detail
    assert all(changes == [] for changes in changes_in(stage).values())
    assert queue_bodies(sqs, stage.outputs.stream_failures_url) == [body]
