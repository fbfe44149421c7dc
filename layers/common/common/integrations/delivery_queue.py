"""The delivery queue's messages, as everything that hands a delivery on sends them (fan-out, resends,
replays, the delivery function's own hops): ten to a SendMessageBatch call, each with its own delay.

A message names its delivery (by the fields its kind names it by: common.integrations.delivery_kinds) and the
round and attempt it carries (a carrier), or asks for a webhook delivery to be restarted (a restart, for
replays and resends of many at once). Entries SQS refuses are sent again a few
times; if some still are, `send` raises, and the caller's own retry hands them on again (a duplicate
message does nothing twice: common.integrations.delivery_attempts)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import boto3

from common.integrations.delivery_kinds import NAMING, kind_of
from common.platform.settings import WebhookQueue, get_settings

BATCH_ENTRIES = 10
SEND_ATTEMPTS = 3

Message = dict[str, Any]


class NotQueued(Exception):
    """SQS kept refusing some of the messages."""


@lru_cache(maxsize=1)
def _sqs() -> Any:
    return boto3.client("sqs")


def carrier(item: dict[str, Any], *, waits: int = 0) -> Message:
    """The message that carries a delivery to its next attempt (`item` is the delivery as stored)."""
    message: Message = {name: item[name] for name in NAMING[kind_of(item)]}
    message |= {"round": item["round"], "attempt": item["round_attempts"]}
    if waits:
        message["waits"] = waits
    return message


def restart(org_id: str, endpoint_id: str, occurred_at: str, event_id: str, event_type: str, token: str) -> Message:
    """The message that restarts a delivery (created if the endpoint never had one), once per `token`."""
    return {
        "org_id": org_id,
        "endpoint_id": endpoint_id,
        "occurred_at": occurred_at,
        "event_id": event_id,
        "event_type": event_type,
        "restart": token,
    }


def send(messages: Sequence[tuple[Message, int]], *, client: Any = None) -> int:
    """Send (message, DelaySeconds) pairs; returns how many were sent."""
    sqs = client or _sqs()
    url = get_settings(WebhookQueue).webhook_queue_url
    sent = 0
    for start in range(0, len(messages), BATCH_ENTRIES):
        entries = [
            {"Id": str(n), "MessageBody": json.dumps(body, separators=(",", ":")), "DelaySeconds": delay}
            for n, (body, delay) in enumerate(messages[start : start + BATCH_ENTRIES])
        ]
        for _ in range(SEND_ATTEMPTS):
            response = sqs.send_message_batch(QueueUrl=url, Entries=entries)
            refused = {failure["Id"] for failure in response.get("Failed", [])}
            sent += len(entries) - len(refused)
            entries = [entry for entry in entries if entry["Id"] in refused]
            if not entries:
                break
        if entries:
            raise NotQueued(f"{len(entries)} delivery message(s) refused by SQS")
    return sent
