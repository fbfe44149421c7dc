"""The e-mails the functions sent through SES, read from moto's in-memory SES backend.

SES v1 and v2 share one store in moto. moto keeps no send time, so the list it appends to is swapped for
one that stamps each message with the functions' clock as it arrives. moto's state belongs to the
process: stacks started one after the other in one process share it, and the newest one stamps.
"""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

SENT_AT = "local_sent_at"


class _StampedMessages(list[Any]):
    def __init__(self, existing: list[Any], clock: Callable[[], datetime]) -> None:
        super().__init__(existing)
        self.clock = clock
        self.lock = threading.Lock()

    def append(self, message: Any) -> None:
        setattr(message, SENT_AT, self.clock().isoformat())
        with self.lock:
            super().append(message)

    def snapshot(self) -> list[Any]:
        with self.lock:
            return list(self)


def _raw_parts(raw: str) -> tuple[str, str]:
    parsed = email.message_from_string(raw, policy=email.policy.default)
    if not isinstance(parsed, EmailMessage):
        return "", raw
    part = parsed.get_body(preferencelist=("plain", "html"))
    body = part.get_content() if part is not None else ""
    return str(parsed.get("subject", "")), str(body)


def message_id(message: Any) -> str:
    # Bulk templated sends carry one id per destination.
    return str(getattr(message, "id", None) or ",".join(getattr(message, "ids", [])))


def describe(message: Any, sent_at: str | None) -> dict[str, Any]:
    destinations = getattr(message, "destinations", None)
    if isinstance(destinations, dict):
        to, cc, bcc = (list(destinations.get(k, [])) for k in ("ToAddresses", "CcAddresses", "BccAddresses"))
    else:
        to, cc, bcc = list(destinations or []), [], []
    if hasattr(message, "raw_data"):
        subject, body = _raw_parts(message.raw_data)
    elif hasattr(message, "template"):
        subject, body = f"template {message.template}", str(message.template_data)
    else:
        subject, body = str(message.subject), str(message.body)
    return {
        "id": message_id(message),
        "from": message.source,
        "to": to,
        "cc": cc,
        "bcc": bcc,
        "subject": subject,
        "body": body,
        "time": sent_at,
    }


class Outbox:
    def __init__(self, clock: Callable[[], datetime], region: str, account_id: str = DEFAULT_ACCOUNT_ID):
        backend = ses_backends[account_id][region]
        if isinstance(backend.sent_messages, _StampedMessages):
            backend.sent_messages.clock = clock
        else:
            backend.sent_messages = _StampedMessages(backend.sent_messages, clock)
        self._sent: _StampedMessages = backend.sent_messages

    def messages(self) -> list[dict[str, Any]]:
        return [describe(m, getattr(m, SENT_AT, None)) for m in self._sent.snapshot()]
