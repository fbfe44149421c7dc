"""Feeds each consumer's SQS queue (moto's SQS) to its function as Lambda's SQS event source mapping does.

Per consumer a thread receives up to the manifest's batch size, invokes the function with an SQS event and
deletes what succeeded: everything on success, all but the messages named in `batchItemFailures` on a partial
failure, nothing on a function error (or when batchItemFailures names a message not in the batch). A failed
message becomes visible again at once here (Lambda waits for the queue's visibility timeout, minutes), so
a test sees its retries in seconds; after the queue's receive limit SQS itself moves it to the dead-letter
queue, as deployed (the queues are created with the same redrive policy as in infra/functions.py).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from infra.manifest import Function
from local.worker import Invocation

log = logging.getLogger("local.queues")

Invoke = Callable[[Function, Mapping[str, Any]], Invocation]


@dataclass(frozen=True)
class ChangeQueues:
    """A consumer's queue and dead-letter queue in the local SQS."""

    consumer: str
    queue_url: str
    queue_arn: str
    dead_letters_url: str


def create_queues(sqs: Any, prefix: str, consumer: Function) -> ChangeQueues:
    """The queue pair of a kind == "queue" consumer, with the receive limit the deployed queue has."""
    dead_letters_url = sqs.create_queue(QueueName=f"{prefix}-{consumer.name}-dead-letters")["QueueUrl"]
    dead_letters_arn = _arn(sqs, dead_letters_url)
    redrive = f'{{"deadLetterTargetArn":"{dead_letters_arn}","maxReceiveCount":{consumer.queue_max_receive_count}}}'
    queue_url = sqs.create_queue(
        QueueName=f"{prefix}-{consumer.name}",
        Attributes={"RedrivePolicy": redrive, "VisibilityTimeout": str(6 * consumer.timeout_s)},
    )["QueueUrl"]
    return ChangeQueues(consumer.name, queue_url, _arn(sqs, queue_url), dead_letters_url)


def _arn(sqs: Any, queue_url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def sqs_record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """A received message in the shape of a record of Lambda's SQS event."""
    body = str(message["Body"])
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class QueueMapping:
    def __init__(self, function: Function, queues: ChangeQueues, sqs: Any, invoke: Invoke, region: str) -> None:
        self.function = function
        self.queues = queues
        self._sqs = sqs
        self._invoke = invoke
        self._region = region
        self.stop_requested = threading.Event()
        self.wake = threading.Event()

    def poll(self) -> bool:
        """One receive and invocation; True when there was something to do."""
        messages = self._sqs.receive_message(
            QueueUrl=self.queues.queue_url,
            MaxNumberOfMessages=self.function.queue_batch_size,
            MessageSystemAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not messages:
            return False
        records = [sqs_record(m, self.queues.queue_arn, self._region) for m in messages]
        invocation = self._invoke(self.function, {"Records": records})
        failed = self._failed(records, invocation)
        done = [r for r in records if r["messageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self.queues.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": r["receiptHandle"]} for i, r in enumerate(done)],
            )
        retried = [r for r in records if r["messageId"] in failed]
        if retried:
            log.info("%s: %d of %d message(s) failed", self.function.name, len(retried), len(records))
            self._sqs.change_message_visibility_batch(
                QueueUrl=self.queues.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": r["receiptHandle"], "VisibilityTimeout": 0}
                    for i, r in enumerate(retried)
                ],
            )
        else:
            log.info("%s: %d message(s) processed, %.0f ms", self.function.name, len(records), invocation.duration_ms)
        return True

    @staticmethod
    def _failed(records: list[dict[str, Any]], invocation: Invocation) -> set[str]:
        every = {r["messageId"] for r in records}
        if not invocation.ok:
            return every
        payload = invocation.payload if isinstance(invocation.payload, dict) else {}
        named = [
            f.get("itemIdentifier") if isinstance(f, dict) else None for f in payload.get("batchItemFailures") or []
        ]
        if any(n not in every for n in named):
            return every  # Lambda reads an unknown identifier as a failure of the whole batch
        return {str(n) for n in named}

    def backlog(self) -> int:
        """Messages waiting or in flight (received, not yet deleted or made visible again)."""
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.queues.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


class QueuePoller:
    def __init__(self, sqs: Any, invoke: Invoke, *, region: str, poll_interval: float = 0.05) -> None:
        self._sqs = sqs
        self._invoke = invoke
        self._region = region
        self._poll_interval = poll_interval
        self._lock = threading.Condition()
        self._mappings: dict[str, QueueMapping] = {}
        self._threads: dict[str, threading.Thread] = {}
        self.activity = 0  # bumped by every poll that did work

    @property
    def mappings(self) -> list[QueueMapping]:
        with self._lock:
            return list(self._mappings.values())

    def add(self, function: Function, queues: ChangeQueues) -> None:
        mapping = QueueMapping(function, queues, self._sqs, self._invoke, self._region)
        thread = threading.Thread(target=self._run, args=(mapping,), name=f"queue-{function.name}", daemon=True)
        with self._lock:
            if function.name in self._mappings:
                raise ValueError(f"{function.name} already reads a queue")
            self._mappings[function.name] = mapping
            self._threads[function.name] = thread
        thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            mappings, threads = list(self._mappings.values()), list(self._threads.values())
            self._mappings.clear()
            self._threads.clear()
        for mapping in mappings:
            mapping.stop_requested.set()
            mapping.wake.set()
        for thread in threads:
            thread.join(timeout)

    def _run(self, mapping: QueueMapping) -> None:
        while not mapping.stop_requested.is_set():
            try:
                busy = mapping.poll()
            except Exception:
                if mapping.stop_requested.is_set():
                    return
                log.exception("%s: reading the queue failed; retrying", mapping.function.name)
                busy = False
                time.sleep(1.0)
            if busy:
                with self._lock:
                    self.activity += 1
                    self._lock.notify_all()
            else:
                mapping.wake.wait(self._poll_interval)
                mapping.wake.clear()

    def wait_until_empty(self, deadline: float) -> None:
        """Return once every queue is empty: each message processed or moved to its dead-letter queue."""
        while True:
            mappings = self.mappings
            for mapping in mappings:
                mapping.wake.set()
            busy = [m.function.name for m in mappings if m.backlog()]
            if not busy:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"queue consumers still busy: {', '.join(busy)}")
            time.sleep(self._poll_interval)
