"""What failed for good on the local stack, as AWS keeps it: the consumers' dead-letter queues (read without
taking anything out, for `/_local/dead-letters`), and the message the dispatcher's stream mapping leaves in its
failure queue for a record it gave up on (`make replay` reads the record back from the stream)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from infra.manifest import STREAM_DISPATCHER
from local.invoker import function_arn
from local.queue_poller import ChangeQueues

log = logging.getLogger("local.failures")


def consumer_dead_letters(sqs: Any, change_queues: Mapping[str, ChangeQueues]) -> list[dict[str, Any]]:
    """Each consumer's dead-letter queue: the whole change, as SQS keeps it, with the times it was received."""
    letters = []
    for name, queues in change_queues.items():
        for message in peek(sqs, queues.dead_letters_url):
            record = json.loads(message["Body"])
            letters.append(
                {
                    "function": name,
                    "reason": "receive limit reached",
                    "attempts": int(message.get("Attributes", {}).get("ApproximateReceiveCount", 0)),
                    "message_id": message["MessageId"],
                    "eventID": record.get("eventID"),
                    "sequence_number": record.get("dynamodb", {}).get("SequenceNumber"),
                    "record": record,
                }
            )
    return letters


def report_stream_failure(sqs: Any, letter: Mapping[str, Any], *, queue_url: str, stream_arn: str, region: str) -> None:
    """The dispatcher's mapping sends a record it gave up on to its failure queue as AWS does: a message
    naming the shard and sequence numbers (`make replay` reads them back from the stream)."""
    if letter["function"] != STREAM_DISPATCHER.name:
        return  # only the dispatcher's mapping has an on-failure destination
    arn = function_arn(region, letter["function"])
    body = stream_failure_record(letter, stream_arn=stream_arn, function_arn=arn)
    try:
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))
    except Exception:
        log.exception("the stream failure of record %s could not be sent to the failure queue", letter["eventID"])


def stream_failure_record(letter: Mapping[str, Any], *, stream_arn: str, function_arn: str) -> dict[str, Any]:
    """What Lambda sends a DynamoDB stream mapping's on-failure destination for a batch it gave up on (here
    one record): the invocation's context and the batch's place in the stream, not the records."""
    created = datetime.fromtimestamp(int(letter["record"]["dynamodb"].get("ApproximateCreationDateTime", 0)), UTC)
    arrival = created.isoformat(timespec="seconds").replace("+00:00", "Z")
    return {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": function_arn,
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": letter["attempts"],
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": ""},
        "version": "1.0",
        "timestamp": letter["time"],
        "DDBStreamBatchInfo": {
            "shardId": letter["shard_id"],
            "startSequenceNumber": letter["sequence_number"],
            "endSequenceNumber": letter["sequence_number"],
            "approximateArrivalOfFirstRecord": arrival,
            "approximateArrivalOfLastRecord": arrival,
            "batchSize": 1,
            "streamArn": stream_arn,
        },
    }


def peek(sqs: Any, queue_url: str, limit: int = 1000) -> list[dict[str, Any]]:
    """The messages of a queue, left where they are (each is hidden for a moment while it is read)."""
    seen: dict[str, dict[str, Any]] = {}
    while len(seen) < limit:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            break
        seen.update((m["MessageId"], m) for m in fresh)
    handles = [m["ReceiptHandle"] for m in seen.values()]
    for start in range(0, len(handles), 10):
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for i, handle in enumerate(handles[start : start + 10])
            ],
        )
    return list(seen.values())
