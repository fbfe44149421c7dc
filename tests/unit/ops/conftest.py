"""A stage's queues in moto's SQS, as the stack makes them (a queue and a dead-letter queue per consumer, the
dispatcher's failure queue), and its outputs under the names the tools read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from common.platform.change_fanout import CONSUMER_FILTERS

from infra import constants
from ops.stage import ConsumerQueues, Outputs, Stage
from tests.unit.conftest import TABLE


def create_consumer_queues(sqs: Any, prefix: str, consumer: str) -> ConsumerQueues:
    dead_letters_url = sqs.create_queue(QueueName=f"{prefix}-{consumer}-dead-letters")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dead_letters_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=f"{prefix}-{consumer}",
        Attributes={"RedrivePolicy": f'{{"deadLetterTargetArn":"{arn}","maxReceiveCount":5}}'},
    )["QueueUrl"]
    return ConsumerQueues(consumer, queue_url, dead_letters_url)


@pytest.fixture
def stage(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    """A stage in moto: the unit tests' table (with its stream) and the queues, found by their outputs."""
    # moto serves DynamoDB Streams at the regional endpoint only, not at the account's.
    monkeypatch.setenv("AWS_ACCOUNT_ID_ENDPOINT_MODE", "disabled")
    sqs = boto3.client("sqs")
    queues = [create_consumer_queues(sqs, "unit", consumer) for consumer in CONSUMER_FILTERS]
    stream_arn = boto3.client("dynamodb").describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    outputs = {
        constants.OUTPUT_REGION: "us-east-1",
        constants.OUTPUT_TABLE_NAME: TABLE,
        constants.OUTPUT_TABLE_STREAM_ARN: stream_arn,
        constants.OUTPUT_STREAM_FAILURE_QUEUE_URL: sqs.create_queue(QueueName="unit-failures")["QueueUrl"],
        **{constants.consumer_queue_output(q.consumer): q.queue_url for q in queues},
        **{constants.consumer_dead_letter_queue_output(q.consumer): q.dead_letters_url for q in queues},
    }
    yield Stage("unit", Outputs(outputs, "the unit stage"), boto3.client, 0)


def queue_bodies(sqs: Any, queue_url: str) -> list[str]:
    """Every message body in the queue, each received once and left there (visible again)."""
    bodies: dict[str, str] = {}
    handles: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30).get(
            "Messages", []
        )
        fresh = [m for m in messages if m["MessageId"] not in bodies]
        if not fresh:
            break
        bodies.update((m["MessageId"], m["Body"]) for m in fresh)
        handles += [m["ReceiptHandle"] for m in fresh]
    for handle in handles:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return list(bodies.values())


def messages_held(sqs: Any, queue_url: str) -> int:
    """Messages in the queue, visible or not: none means each was deleted, not just hidden."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])
