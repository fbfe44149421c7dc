"""Moving SQS messages in the batches SQS accepts, without losing one: a message is sent first and deleted from
where it was only once SQS took it; whatever SQS refuses is reported per message and stays where it was.

Sends go in the dispatcher's own batches (common.platform.change_fanout.batches: at most 10 messages and
1 MiB of bodies per SendMessageBatch), deletes 10 at a time. A run receives each message once: what it
receives stays hidden for HOLD_SECONDS, longer than a run takes, and what it keeps is made visible again
at its end (`release`), for the next run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from common.platform.change_fanout import MAX_BATCH_ENTRIES, batches

HOLD_SECONDS = 15 * 60

Message = dict[str, Any]  # as ReceiveMessage returns it: MessageId, ReceiptHandle, Body


@dataclass(frozen=True)
class Refusal:
    """A message SQS would not take (action "send") or let go of (action "delete")."""

    message_id: str
    action: str
    code: str
    reason: str


def held_messages(sqs: Any, queue_url: str, *, wait_seconds: int) -> Iterator[list[Message]]:
    """The queue's messages, up to 10 at a time, each once (hidden from other readers while the run lasts)."""
    seen: set[str] = set()
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=MAX_BATCH_ENTRIES,
            VisibilityTimeout=HOLD_SECONDS,
            WaitTimeSeconds=wait_seconds,
        ).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            return
        seen.update(m["MessageId"] for m in fresh)
        yield fresh


def _refused(messages: Sequence[Message], action: str, error: ClientError) -> list[Refusal]:
    """The whole call failed: each of its messages is refused, for the same reason."""
    details = error.response.get("Error", {})
    code, reason = str(details.get("Code", "")), str(details.get("Message", error))
    return [Refusal(m["MessageId"], action, code, reason) for m in messages]


def send(sqs: Any, queue_url: str, messages: Sequence[Message]) -> tuple[list[Message], list[Refusal]]:
    """Send the messages' bodies to the queue; returns those SQS took and the refusals of the others."""
    entries = [{"Id": str(i), "MessageBody": str(m["Body"])} for i, m in enumerate(messages)]
    sent: list[Message] = []
    refused: list[Refusal] = []
    for batch in batches(entries):
        try:
            response = sqs.send_message_batch(QueueUrl=queue_url, Entries=batch)
        except ClientError as error:
            refused += _refused([messages[int(e["Id"])] for e in batch], "send", error)
            continue
        sent += [messages[int(s["Id"])] for s in response.get("Successful", [])]
        refused += [
            Refusal(messages[int(f["Id"])]["MessageId"], "send", str(f.get("Code", "")), str(f.get("Message", "")))
            for f in response.get("Failed", [])
        ]
    return sent, refused


def delete(sqs: Any, queue_url: str, messages: Sequence[Message]) -> list[Refusal]:
    """Delete the messages from the queue they were received from; returns the refusals."""
    refused: list[Refusal] = []
    for start in range(0, len(messages), MAX_BATCH_ENTRIES):
        batch = messages[start : start + MAX_BATCH_ENTRIES]
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        try:
            response = sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
        except ClientError as error:
            refused += _refused(batch, "delete", error)
            continue
        refused += [
            Refusal(batch[int(f["Id"])]["MessageId"], "delete", str(f.get("Code", "")), str(f.get("Message", "")))
            for f in response.get("Failed", [])
        ]
    return refused


def release(sqs: Any, queue_url: str, messages: Sequence[Message]) -> None:
    """Make the messages a run kept visible again at once, for the next run."""
    for start in range(0, len(messages), MAX_BATCH_ENTRIES):
        batch = messages[start : start + MAX_BATCH_ENTRIES]
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0} for i, m in enumerate(batch)
        ]
        # A refusal is harmless: they become visible anyway once HOLD_SECONDS are over.
        with suppress(ClientError):
            sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)


def handles(messages: Sequence[Message]) -> list[Message]:
    """The messages without their bodies: enough to delete or release them, light to keep for a whole run."""
    return [{"MessageId": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in messages]
