"""The table's changes on the local stack as deployed: one stream reader fans each change out to the consumers'
queues; a change that keeps failing lands, whole, in its consumer's dead-letter queue, and `make redrive`
(ops.redrive) sends it back once the cause is gone; a change the dispatcher gives up on is named in its
failure queue, and `make replay` (ops.replay) reads it back from the stream and hands it on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from common.platform import change_fanout

from local import state
from ops import redrive, replay, stage
from tests.integration.support.actors import Organisation, lead, new_organisation

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def org(stack: Any) -> Organisation:
    return new_organisation(stack)


def redrive_all(stack: Any, consumer: str | None = None) -> dict[str, int]:
    """Move the dead letters of one consumer (or of all) back to their queues, as `make redrive` does."""
    target = stage.local(stack.state())
    return {
        queues.consumer: redrive.redrive(target.client("sqs"), queues, wait_seconds=0).moved
        for queues in target.outputs.consumer_queues()
        if consumer in (None, queues.consumer)
    }


@pytest.fixture
def state_file(stack: Any, tmp_path: Path) -> Path:
    """The stack's state, where `make dev` writes it, for the command lines to find the stack by."""
    path = tmp_path / "dev.json"
    state.write(stack.state(), path)
    return path


@pytest.fixture
def mail_outage(stack: Any) -> Iterator[None]:
    """SES refuses every e-mail (the sender's identity is gone) until the fixture ends or `restore` runs."""
    stack.wait_for_streams(timeout=30)
    ses = stack.client("sesv2")
    ses.delete_email_identity(EmailIdentity=stack.email_from)
    try:
        yield
    finally:
        ses.create_email_identity(EmailIdentity=stack.email_from)
        redrive_all(stack)
        stack.wait_for_streams(timeout=30)


def _letters(stack: Any, consumer: str, external_id: str) -> list[dict[str, Any]]:
    return [
        d
        for d in stack.dead_letters()
        if d["function"] == consumer
        and d["record"]["dynamodb"]["NewImage"].get("external_id", {}).get("S") == external_id
    ]


def test_only_the_dispatcher_reads_the_stream_and_each_consumer_has_its_queue(stack: Any) -> None:
    readers = [f.name for f in stack.functions.values() if f.kind == "stream"]
    assert readers == ["StreamDispatcher"]
    assert set(stack.change_queues) == {
        "LeadsEvents",
        "PartnersEvents",
        "ReferralsEvents",
        "PayoutsEvents",
        "IntegrationsEvents",
    }
    sqs = stack.client("sqs")
    for name, queues in stack.change_queues.items():
        policy = json.loads(
            sqs.get_queue_attributes(QueueUrl=queues.queue_url, AttributeNames=["RedrivePolicy"])["Attributes"][
                "RedrivePolicy"
            ]
        )
        assert policy["maxReceiveCount"] == stack.functions[name].queue_max_receive_count


def test_a_failing_change_is_kept_whole_and_redriven_once_the_cause_is_fixed(
    stack: Any, org: Organisation, mail_outage: None, state_file: Path
) -> None:
    posted = org.company.post(org.intake_path, lead("DLQ-1", email="dlq@example.org"))
    assert posted.status_code == 201, posted.text
    lead_id = posted.json()["lead_id"]
    stack.wait_for_streams(timeout=30)

    (letter,) = _letters(stack, "LeadsEvents", "DLQ-1")
    # The whole change, not a pointer into the stream: the item as written, ready to be processed again.
    change = letter["record"]
    assert change["eventName"] == "INSERT" and change["eventSource"] == "aws:dynamodb"
    assert change["dynamodb"]["NewImage"]["lead_id"]["S"] == lead_id
    assert letter["attempts"] >= stack.functions["LeadsEvents"].queue_max_receive_count
    assert not [m for m in stack.outbox() if "DLQ-1" in m["subject"]]

    # Nothing changes while the cause remains: a dry run only counts.
    dry = redrive.main(["--local-state", str(state_file), "--consumer", "LeadsEvents", "--dry-run"])
    assert dry == 0 and len(_letters(stack, "LeadsEvents", "DLQ-1")) == 1

    stack.client("sesv2").create_email_identity(EmailIdentity=stack.email_from)
    assert redrive.main(["--local-state", str(state_file), "--consumer", "LeadsEvents"]) == 0
    stack.wait_for_streams(timeout=30)

    assert _letters(stack, "LeadsEvents", "DLQ-1") == []
    assert len([m for m in stack.outbox() if "DLQ-1" in m["subject"]]) == 1


def test_a_redriven_change_already_handled_does_nothing_twice(stack: Any, org: Organisation, mail_outage: None) -> None:
    """The same change redriven while its effect was already reached (a retry that succeeded after SES
    recovered, then an operator redriving a copy) sends no second e-mail."""
    posted = org.company.post(org.intake_path, lead("DLQ-2"))
    assert posted.status_code == 201, posted.text
    stack.wait_for_streams(timeout=30)
    (letter,) = _letters(stack, "LeadsEvents", "DLQ-2")
    stack.client("sesv2").create_email_identity(EmailIdentity=stack.email_from)
    queues = stack.change_queues["LeadsEvents"]
    sqs = stack.client("sqs")
    sqs.send_message(QueueUrl=queues.queue_url, MessageBody=json.dumps(letter["record"]))  # the "retry"
    stack.wait_for_streams(timeout=30)
    assert redrive_all(stack, "LeadsEvents") == {"LeadsEvents": 1}
    stack.wait_for_streams(timeout=30)

    assert len([m for m in stack.outbox() if "DLQ-2" in m["subject"]]) == 1
    assert _letters(stack, "LeadsEvents", "DLQ-2") == []


@pytest.fixture
def leads_queue_refusing(stack: Any) -> Iterator[None]:
    """The LeadsEvents queue refuses every change (SQS's smallest message limit, 1 KiB, is less than any
    change), as an SQS the dispatcher cannot reach would, until the fixture ends."""
    stack.wait_for_streams(timeout=30)
    sqs = stack.client("sqs")
    url = stack.change_queues["LeadsEvents"].queue_url
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"MaximumMessageSize": "1024"})
    try:
        yield
    finally:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"MaximumMessageSize": str(change_fanout.MAX_MESSAGE_BYTES)})


def _waiting(stack: Any, queue_url: str) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_a_change_the_dispatcher_gave_up_on_is_replayed_from_the_stream(
    stack: Any, org: Organisation, leads_queue_refusing: None, state_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    posted = org.company.post(org.intake_path, lead("REPLAY-1"))
    assert posted.status_code == 201, posted.text
    stack.wait_for_streams(timeout=60)  # the dispatcher retries, then gives up on the change

    failures_url = stack.stream_failures_url
    assert _waiting(stack, failures_url) >= 1
    (failure,) = [
        r
        for r in stack.dead_letters()
        if r["function"] == "StreamDispatcher"
        and r["record"]["dynamodb"]["NewImage"].get("external_id", {}).get("S") == "REPLAY-1"
    ]
    assert not [m for m in stack.outbox() if "REPLAY-1" in m["subject"]]

    # A dry run reads the records back and says where they would go; it sends and deletes nothing.
    capsys.readouterr()
    assert replay.main(["--local-state", str(state_file), "--dry-run", "--json"]) == 0
    reports = json.loads(capsys.readouterr().out)
    (named,) = [r for r in reports if r["batch"]["start"] == failure["sequence_number"]]
    assert named["outcome"] == "would replay" and named["sent"]["LeadsEvents"] == 1
    assert _waiting(stack, failures_url) == len(reports)

    stack.client("sqs").set_queue_attributes(
        QueueUrl=stack.change_queues["LeadsEvents"].queue_url,
        Attributes={"MaximumMessageSize": str(change_fanout.MAX_MESSAGE_BYTES)},
    )
    assert replay.main(["--local-state", str(state_file)]) == 0
    stack.wait_for_streams(timeout=30)

    assert _waiting(stack, failures_url) == 0
    assert len([m for m in stack.outbox() if "REPLAY-1" in m["subject"]]) == 1
