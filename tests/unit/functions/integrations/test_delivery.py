"""WebhookDelivery on the delivery queue's messages: an attempt made and counted (deliveries, failures,
latency), a message whose handling fails reported in batchItemFailures for its retry, and logs that name ids
only: never the endpoint's URL, the event's data or the receiver's answer."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from common.integrations import deliveries, delivery_attempts

from tests.support import invoke, load_event
from tests.unit.integrations import delivery_fakes
from tests.unit.integrations.delivery_fakes import ORG, FakeEndpoints, Queue, Receiver, an_event

# The delivery tests' fakes, as fixtures here too (pytest finds fixtures among a module's names).
fake_endpoints = delivery_fakes.fake_endpoints
queue = delivery_fakes.queue
receiver = delivery_fakes.receiver
webhook_settings = delivery_fakes.webhook_settings

HANDLER = "integrations.delivery.lambda_handler"
EP = "01JENDP0000000000000000001"


def sqs_event(*messages: dict[str, Any]) -> dict[str, Any]:
    sample = load_event("sqs_change_message.json")["Records"][0]
    records = []
    for n, message in enumerate(messages):
        record = copy.deepcopy(sample)
        record["messageId"] = f"message-{n}"
        record["body"] = json.dumps(message)
        records.append(record)
    return {"Records": records}


def emitted(output: str) -> dict[str, float]:
    """The metrics Powertools printed (EMF), by name."""
    found: dict[str, float] = {}
    for line in output.splitlines():
        if '"_aws"' in line:
            document = json.loads(line)
            for definition in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                value = document[definition["Name"]]
                found[definition["Name"]] = value[0] if isinstance(value, list) else value
    return found


def test_an_attempt_is_made_and_counted(
    fake_endpoints: FakeEndpoints,
    queue: Queue,
    receiver: Receiver,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_endpoints.add(EP, url="https://hooks.example.test/secret-token-in-the-path")
    receiver.answers = [503]
    event = an_event()
    deliveries.fan_out(event)
    ((message, _),) = queue.take()

    answer = invoke(HANDLER, sqs_event(message))

    assert answer == {"batchItemFailures": []}
    assert len(receiver.requests) == 1
    captured = capsys.readouterr()
    output = captured.out + captured.err
    metrics = emitted(output)
    assert metrics[delivery_attempts.ATTEMPTS_METRIC] == 1
    assert metrics[delivery_attempts.FAILED_ATTEMPTS_METRIC] == 1
    assert metrics[delivery_attempts.ATTEMPT_DURATION_METRIC] == 42
    assert delivery_attempts.DELIVERED_METRIC not in metrics
    (logged,) = [r.__dict__ for r in caplog.records if r.getMessage() == "delivery message handled"]
    assert logged["org_id"] == ORG and logged["event_id"] == event.id and logged["status_code"] == 503
    assert logged["failure"] == "status"
    everything = output + " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "secret-token" not in everything and "hooks.example.test" not in everything
    assert "converted" not in everything  # the event's data
    assert "excerpt" not in logged


def test_a_delivered_event_is_counted(
    fake_endpoints: FakeEndpoints, queue: Queue, receiver: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_endpoints.add(EP)
    deliveries.fan_out(an_event())
    ((message, _),) = queue.take()

    invoke(HANDLER, sqs_event(message))

    captured = capsys.readouterr()
    metrics = emitted(captured.out + captured.err)
    assert metrics[delivery_attempts.DELIVERED_METRIC] == 1 and metrics[delivery_attempts.FAILED_ATTEMPTS_METRIC] == 0


def test_a_message_whose_handling_fails_is_retried_alone(
    fake_endpoints: FakeEndpoints,
    queue: Queue,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_endpoints.add(EP)
    deliveries.fan_out(an_event())
    ((message, _),) = queue.take()

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("DynamoDB unreachable")

    monkeypatch.setattr(delivery_attempts, "handle", unreachable)

    answer = invoke(HANDLER, sqs_event(message))

    assert answer == {"batchItemFailures": [{"itemIdentifier": "message-0"}]}
    captured = capsys.readouterr()
    output = captured.out + captured.err
    (logged,) = [r for r in caplog.records if r.getMessage() == "delivery message failed"]
    assert logged.levelname == "ERROR" and logged.__dict__["error_type"] == "ConnectionError"
    assert emitted(output)["WebhookMessagesFailed"] == 1
