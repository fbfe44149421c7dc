"""Standard Webhooks signatures (https://www.standardwebhooks.com): what every outbound delivery is signed with.

A secret is `whsec_` and the base64 of 24 random bytes; the key is those bytes. A delivery carries three
headers: `webhook-id` (the event's id, the same on every attempt and resend, so receivers deduplicate),
`webhook-timestamp` (the attempt's time in whole seconds since the epoch, so a receiver refuses replays
outside its tolerance) and `webhook-signature`: `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`,
one per secret, separated by spaces (two while a rotated secret is still valid beside the new one).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from collections.abc import Sequence
from datetime import datetime
from secrets import token_bytes

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of every secret, not a secret
SECRET_BYTES = 24
SIGNATURE_VERSION = "v1"
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"


def new_secret() -> str:
    """A new signing secret, shown to the endpoint's owner once."""
    return SECRET_PREFIX + base64.b64encode(token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """One secret's signature of a delivery, `v1,<base64>`."""
    digest = hmac.new(_key(secret), f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def headers(msg_id: str, timestamp: datetime, body: str, secrets: Sequence[str]) -> dict[str, str]:
    """The signature headers of one attempt: signed with every secret given (the current one first)."""
    if not secrets:
        raise ValueError("a delivery is signed with at least one secret")
    seconds = math.floor(timestamp.timestamp())
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(seconds),
        SIGNATURE_HEADER: " ".join(signature(secret, msg_id, seconds, body) for secret in secrets),
    }
