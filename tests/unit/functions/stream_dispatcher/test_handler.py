"""The stream dispatcher function fills the consumers' queues (moto's SQS) with the changes each wants. Which
consumer gets which change: tests/unit/platform/test_change_fanout.py."""

from __future__ import annotations

import json

import boto3
import pytest
from common.integrations import endpoint_counts
from common.platform import change_fanout, db

from tests.support import invoke
from tests.unit.platform.test_change_fanout import record


def test_the_dispatcher_function_fills_the_queues(monkeypatch: pytest.MonkeyPatch) -> None:
    sqs = boto3.client("sqs")
    urls = {name: sqs.create_queue(QueueName=f"unit-{name}")["QueueUrl"] for name in change_fanout.CONSUMER_FILTERS}
    monkeypatch.setenv("CONSUMER_QUEUE_URLS", json.dumps(urls))
    monkeypatch.delitem(__import__("sys").modules, "stream_dispatcher.handler", raising=False)
    changes = [
        record("MODIFY", 1, {}, entity="deal", stage_commission="reverse"),
        record("INSERT", 2, entity="wallet"),
    ]
    answer = invoke("stream_dispatcher.handler.lambda_handler", {"Records": changes})

    assert answer == {"batchItemFailures": []}
    for name, expected in (("PartnersEvents", [changes[0]]), ("PayoutsEvents", [changes[0]]), ("LeadsEvents", [])):
        got = sqs.receive_message(QueueUrl=urls[name], MaxNumberOfMessages=10).get("Messages", [])
        assert [json.loads(m["Body"]) for m in got] == expected


def test_the_events_consumer_gets_the_changes_of_organisations_with_endpoints_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sqs = boto3.client("sqs")
    urls = {name: sqs.create_queue(QueueName=f"gated-{name}")["QueueUrl"] for name in change_fanout.CONSUMER_FILTERS}
    monkeypatch.setenv("CONSUMER_QUEUE_URLS", json.dumps(urls))
    monkeypatch.delitem(__import__("sys").modules, "stream_dispatcher.handler", raising=False)
    db.put({**endpoint_counts.counter_key("org-subscribed"), "org_id": "org-subscribed", "endpoint_count": 1})
    changes = [record("INSERT", n, entity="lead", status="pending") for n in (1, 2)]
    for change, org_id in zip(changes, ("org-subscribed", "org-silent"), strict=True):
        change["dynamodb"]["NewImage"]["org_id"] = {"S": org_id}

    assert invoke("stream_dispatcher.handler.lambda_handler", {"Records": changes}) == {"batchItemFailures": []}
    got = sqs.receive_message(QueueUrl=urls["IntegrationsEvents"], MaxNumberOfMessages=10).get("Messages", [])
    assert [json.loads(m["Body"]) for m in got] == [changes[0]]
    leads = sqs.receive_message(QueueUrl=urls["LeadsEvents"], MaxNumberOfMessages=10).get("Messages", [])
    assert len(leads) == 2
