"""Redrive (ops.redrive) against moto's SQS: dead letters move back in the batches SQS accepts (10 messages,
1 MiB), and a message SQS refuses is reported and stays in the dead letters; nothing is lost."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from common.platform.change_fanout import MAX_BATCH_ENTRIES, MAX_MESSAGE_BYTES

from ops import redrive
from ops.stage import ConsumerQueues, Stage
from tests.unit.ops.conftest import messages_held, queue_bodies


class RecordingSqs:
    """moto's SQS, with every batch call recorded; `refuse(body)` says which messages SQS turns down."""

    def __init__(self, refuse: Any = lambda body: False, fail_calls: bool = False) -> None:
        self._sqs = boto3.client("sqs")
        self._refuse = refuse
        self._fail_calls = fail_calls
        self.sent_batches: list[list[dict[str, str]]] = []
        self.deleted_batches: list[list[dict[str, str]]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        self.sent_batches.append(Entries)
        if self._fail_calls:
            raise ClientError({"Error": {"Code": "AWS.SimpleQueueService.NonExistentQueue"}}, "SendMessageBatch")
        refused = [e for e in Entries if self._refuse(e["MessageBody"])]
        taken = [e for e in Entries if e not in refused]
        response = self._sqs.send_message_batch(QueueUrl=QueueUrl, Entries=taken) if taken else {}
        failed = [{"Id": e["Id"], "SenderFault": True, "Code": "InvalidMessageContents"} for e in refused]
        return {"Successful": response.get("Successful", []), "Failed": failed}

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
        self.deleted_batches.append(Entries)
        return dict(self._sqs.delete_message_batch(QueueUrl=QueueUrl, Entries=Entries))


@pytest.fixture
def leads(stage: Stage) -> ConsumerQueues:
    (queues,) = [q for q in stage.outputs.consumer_queues() if q.consumer == "LeadsEvents"]
    return queues


def dead_letters(queues: ConsumerQueues, bodies: list[str]) -> None:
    sqs = boto3.client("sqs")
    for body in bodies:
        sqs.send_message(QueueUrl=queues.dead_letters_url, MessageBody=body)


def test_more_than_ten_dead_letters_move_back_ten_at_a_time(leads: ConsumerQueues) -> None:
    bodies = [f'{{"change": {n}}}' for n in range(23)]
    dead_letters(leads, bodies)
    sqs = RecordingSqs()

    report = redrive.redrive(sqs, leads, wait_seconds=0)

    assert (report.consumer, report.dead_letters, report.moved, report.refused) == ("LeadsEvents", 23, 23, [])
    assert sorted(queue_bodies(sqs, leads.queue_url)) == sorted(bodies)
    assert messages_held(sqs, leads.dead_letters_url) == 0
    assert all(0 < len(batch) <= MAX_BATCH_ENTRIES for batch in sqs.sent_batches + sqs.deleted_batches)
    assert sum(len(batch) for batch in sqs.deleted_batches) == 23


def test_messages_near_a_mebibyte_move_in_batches_of_at_most_a_mebibyte(leads: ConsumerQueues) -> None:
    # SQS's largest message, and a few that fit two to a batch but not three.
    bodies = ["a" * MAX_MESSAGE_BYTES, *(letter * (MAX_MESSAGE_BYTES // 3 + 1) for letter in "bcd"), "e" * 10]
    dead_letters(leads, bodies)
    sqs = RecordingSqs()

    report = redrive.redrive(sqs, leads, wait_seconds=0)

    assert (report.dead_letters, report.moved, report.refused) == (5, 5, [])
    assert sorted(queue_bodies(sqs, leads.queue_url)) == sorted(bodies)
    sizes = [sum(len(e["MessageBody"].encode()) for e in batch) for batch in sqs.sent_batches]
    assert max(sizes) <= MAX_MESSAGE_BYTES and len(sqs.sent_batches) >= 3


def test_a_message_sqs_refuses_is_reported_and_stays_in_the_dead_letters(leads: ConsumerQueues) -> None:
    bodies = [f'{{"change": {n}}}' for n in range(12)]
    dead_letters(leads, bodies)
    sqs = RecordingSqs(refuse=lambda body: body in ('{"change": 3}', '{"change": 11}'))

    report = redrive.redrive(sqs, leads, wait_seconds=0)

    assert (report.dead_letters, report.moved) == (12, 10)
    assert [(r.action, r.code) for r in report.refused] == [("send", "InvalidMessageContents")] * 2
    # Sent first, deleted only once sent: the two refused are still dead letters, visible for the next run.
    assert sorted(queue_bodies(sqs, leads.dead_letters_url)) == ['{"change": 11}', '{"change": 3}']
    assert len(queue_bodies(sqs, leads.queue_url)) == 10
    printed = redrive.describe(report, dry_run=False)
    assert printed[0] == "LeadsEvents: 12 dead letter(s), 10 moved back"
    assert all("not sent back: InvalidMessageContents" in line for line in printed[1:]) and len(printed) == 3


def test_a_batch_call_that_fails_loses_nothing(leads: ConsumerQueues) -> None:
    dead_letters(leads, ["one", "two"])
    sqs = RecordingSqs(fail_calls=True)

    report = redrive.redrive(sqs, leads, wait_seconds=0)

    assert (report.moved, len(report.refused)) == (0, 2)
    assert {r.code for r in report.refused} == {"AWS.SimpleQueueService.NonExistentQueue"}
    assert sorted(queue_bodies(sqs, leads.dead_letters_url)) == ["one", "two"]


def test_a_dry_run_counts_and_moves_nothing(leads: ConsumerQueues) -> None:
    dead_letters(leads, ["one", "two", "three"])
    sqs = RecordingSqs()

    report = redrive.redrive(sqs, leads, wait_seconds=0, dry_run=True)

    assert (report.dead_letters, report.moved, sqs.sent_batches, sqs.deleted_batches) == (3, 0, [], [])
    assert len(queue_bodies(sqs, leads.dead_letters_url)) == 3  # and visible again at once
    assert redrive.describe(report, dry_run=True) == ["LeadsEvents: 3 dead letter(s), dry run, nothing moved"]
