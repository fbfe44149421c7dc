"""SQS delays on the local stack's clock: moving the clock forward brings delayed messages forward by as much
(none past their time early), moving it back delays them again; a clock's move reaches them."""

from __future__ import annotations

import multiprocessing

import boto3

from local.delayed_messages import move_with_clock
from local.shared_clock import SharedClock


def received(url: str) -> list[str]:
    messages = boto3.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [m["Body"] for m in messages]


def test_delayed_messages_move_with_the_clock() -> None:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="delayed")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="in five minutes", DelaySeconds=300)
    sqs.send_message(QueueUrl=url, MessageBody="in fifteen minutes", DelaySeconds=900)
    assert received(url) == []

    assert move_with_clock(-60) == 2  # back a minute: still delayed
    assert move_with_clock(360) == 2
    assert received(url) == ["in five minutes"]
    clock = SharedClock(multiprocessing.Value("d", 0.0), on_move=move_with_clock)
    clock.advance(600)
    assert received(url) == ["in fifteen minutes"]
    clock.set_offset(600)  # no move, nothing to do
