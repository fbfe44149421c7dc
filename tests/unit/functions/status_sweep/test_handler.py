"""The daily sweep's two functions on their events: StatusSweep on the scheduler's event hands the due work on
to its queue (moto's SQS); StatusSweepWork on that queue's messages does it, reporting the messages it did not
finish in batchItemFailures (a send that failed, the time running out) so their retries continue. The sweeps
themselves: tests/unit/partners/test_lapse_sweep.py, tests/unit/teams/test_reminders.py."""

from __future__ import annotations

import copy
import importlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from local.twilio_fake import FakeTwilio
from tests.support import FakeContext, load_event
from tests.unit.conftest import FrozenClock
from tests.unit.partners.test_lapse_sweep import _lead, _partner, _status
from tests.unit.teams import test_reminders as reminders
from tests.unit.teams.test_reminders import M1, M2, PHONES, add_customer, new_team, texts_to

# The reminders tests' Twilio stand-in, as a fixture here too (pytest finds fixtures among a module's names).
twilio = reminders.twilio


@dataclass
class Context(FakeContext):
    """Lambda's context with the time left that a test chooses."""

    remaining_ms: int = 60_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def work_queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = boto3.client("sqs").create_queue(QueueName="unit-StatusSweepWork")["QueueUrl"]
    monkeypatch.setenv("SWEEP_WORK_QUEUE_URL", url)
    for module in ("status_sweep.handler", "status_sweep.work"):  # imported afresh: its SQS client in this mock
        monkeypatch.delitem(sys.modules, module, raising=False)
    yield url


def sweep() -> dict[str, Any]:
    handler = importlib.import_module("status_sweep.handler")
    answer: dict[str, Any] = handler.lambda_handler(load_event("scheduler_event.json"), Context("StatusSweep"))
    return answer


def queued(url: str) -> list[dict[str, Any]]:
    """Every message waiting in the queue, taken out, in the shape of Lambda's SQS event records."""
    sample = load_event("sqs_change_message.json")["Records"][0]
    sqs, records = boto3.client("sqs"), []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            record = copy.deepcopy(sample)
            record["messageId"], record["body"] = message["MessageId"], message["Body"]
            records.append(record)
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
        )
    return records


def work(records: list[dict[str, Any]], remaining_ms: int = 60_000) -> list[str]:
    """The work function's answer to a batch of them: the ids of the messages it did not finish."""
    handler = importlib.import_module("status_sweep.work")
    answer = handler.lambda_handler({"Records": records}, Context("StatusSweepWork", remaining_ms=remaining_ms))
    return [failure["itemIdentifier"] for failure in answer["batchItemFailures"]]


def test_the_sweep_hands_the_due_work_on_and_the_work_function_does_it(work_queue: str, frozen_clock: Any) -> None:
    _partner("handled")
    _lead("handled")
    frozen_clock.advance(days=45)

    result = sweep()

    no_teams = {"orgs": 0, "due": 0, "teams": 0, "items_read": 0, "handed_on": 0}
    no_requests = {"orgs": 0, "due": 0, "items_read": 0, "handed_on": 0}
    no_standards = {"orgs": 0, "teams": 0, "items_read": 0, "handed_on": 0}
    assert result == {
        "due": 1,
        "items_read": 1,
        "handed_on": 1,
        "reminders": no_teams,
        "referrals": no_requests,
        "fees": no_requests,
        "standards": no_standards,
    }
    assert _status("handled") == "ACTIVE"  # handed on, not done yet
    (record,) = queued(work_queue)
    assert json.loads(record["body"])["job"] == "lapse"
    assert work([record]) == []
    assert _status("handled") == "LAPSED"
    assert work([record]) == []  # delivered again: nothing more to do


def test_the_reminders_go_out_from_the_work_function(
    work_queue: str, twilio: FakeTwilio, frozen_clock: FrozenClock
) -> None:
    org_id, team_id = new_team()
    add_customer(org_id, team_id, M1)
    frozen_clock.advance(days=8)

    result = sweep()

    assert result["due"] == 0
    assert result["reminders"] == {"orgs": 1, "due": 1, "teams": 1, "items_read": 2, "handed_on": 2}
    records = queued(work_queue)
    assert twilio.messages() == []
    assert work(records) == []
    assert len(texts_to(twilio, PHONES[M1])) == 1 and len(texts_to(twilio, PHONES[reminders.LEADER])) == 1
    assert work(records) == [] and len(twilio.messages()) == 2  # the same day, again: nothing more


def test_a_message_whose_send_failed_is_reported_and_its_retry_sends_the_rest(
    work_queue: str, twilio: FakeTwilio, frozen_clock: FrozenClock
) -> None:
    org_id, team_id = new_team()
    add_customer(org_id, team_id, M2)
    add_customer(org_id, team_id, M1)
    frozen_clock.advance(days=8)
    sweep()
    remind, digest = (r for r in queued(work_queue) if not json.loads(r["body"])["job"].startswith("standards"))
    twilio.fail_next(1, status=500)

    assert work([remind, digest]) == [remind["messageId"]]
    assert len(twilio.messages()) == 2  # one reminder and the digest; the other reminder failed
    assert work([remind]) == []
    assert len(texts_to(twilio, PHONES[M1])) == len(texts_to(twilio, PHONES[M2])) == 1


def test_out_of_time_the_work_stops_and_its_messages_continue_on_their_retry(
    work_queue: str, twilio: FakeTwilio, frozen_clock: FrozenClock
) -> None:
    org_id, team_id = new_team()
    for _ in range(3):
        add_customer(org_id, team_id, M1)
    frozen_clock.advance(days=8)
    sweep()
    records = queued(work_queue)

    # Less than the reserve left: no message is started, every one is left for its retry.
    assert work(records, remaining_ms=5_000) == [r["messageId"] for r in records]
    assert twilio.messages() == []
    assert work(records) == []
    assert len(texts_to(twilio, PHONES[M1])) == 3


def test_a_message_it_cannot_read_fails_alone(work_queue: str, frozen_clock: Any) -> None:
    _partner("alongside")
    _lead("alongside")
    frozen_clock.advance(days=45)
    sweep()
    (good,) = queued(work_queue)
    unknown = {**good, "messageId": "unknown-job", "body": json.dumps({"job": "unheard-of"})}
    garbled = {**good, "messageId": "garbled", "body": "{not json"}

    assert work([unknown, good, garbled]) == ["unknown-job", "garbled"]
    assert _status("alongside") == "LAPSED"


def test_the_sweep_sends_its_messages_ten_to_a_call_and_again_what_sqs_refused(work_queue: str) -> None:
    from status_sweep.work_queue import WorkNotHandedOn, WorkQueue

    calls: list[int] = []

    class Sqs:
        def __init__(self, refusals: list[set[str]]) -> None:
            self.refusals = refusals

        def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, str]]) -> dict[str, Any]:
            calls.append(len(Entries))
            refused = self.refusals.pop(0) if self.refusals else set()
            return {"Failed": [{"Id": e["Id"]} for e in Entries if e["Id"] in refused]}

    queue = WorkQueue(Sqs([{"3"}]), work_queue)
    for n in range(23):
        queue.send({"job": "lapse", "n": n})
    queue.flush()
    assert calls == [10, 1, 10, 3] and queue.sent == 23  # the refused one sent again with the first batch

    stubborn = WorkQueue(Sqs([{"0"}, {"0"}, {"0"}]), work_queue)
    stubborn.send({"job": "lapse"})
    with pytest.raises(WorkNotHandedOn):
        stubborn.flush()
