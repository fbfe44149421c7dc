"""Signatures as the Standard Webhooks library verifies them: a receiver using the real client accepts every
delivery, with one secret or two (rotation), and refuses a changed body, id or timestamp."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from unittest import mock

import pytest
from common.integrations import signing
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

NOW = datetime(2026, 11, 22, 9, 0, 0, 750_000, tzinfo=UTC)
BODY = json.dumps({"id": "evt_1", "type": "lead.converted", "data": {"lead_id": "L1", "name": "Zoë"}})


def verify(secret: str, body: str, headers: dict[str, str]) -> object:
    # The library checks the timestamp against its own clock: the receiver's clock reads NOW.
    with mock.patch("standardwebhooks.webhooks.datetime", wraps=datetime) as clock:
        clock.now.return_value = NOW
        return Webhook(secret).verify(body, headers)


def test_a_new_secret_is_whsec_and_24_random_bytes() -> None:
    first, second = signing.new_secret(), signing.new_secret()
    assert first.startswith("whsec_") and first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 24


def test_the_library_verifies_a_signed_delivery() -> None:
    secret = signing.new_secret()
    headers = signing.headers("evt_1", NOW, BODY, [secret])
    assert headers["webhook-id"] == "evt_1"
    assert headers["webhook-timestamp"] == str(int(NOW.timestamp()))  # whole seconds
    assert headers["webhook-signature"].startswith("v1,") and " " not in headers["webhook-signature"]
    assert verify(secret, BODY, headers) == json.loads(BODY)


def test_both_secrets_of_a_rotation_verify() -> None:
    new, old = signing.new_secret(), signing.new_secret()
    headers = signing.headers("evt_1", NOW, BODY, [new, old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert verify(new, BODY, headers) and verify(old, BODY, headers)
    with pytest.raises(WebhookVerificationError):
        verify(signing.new_secret(), BODY, headers)


@pytest.mark.parametrize("changed", ["body", "id", "timestamp"])
def test_a_changed_delivery_is_refused(changed: str) -> None:
    secret = signing.new_secret()
    headers = signing.headers("evt_1", NOW, BODY, [secret])
    body = BODY
    if changed == "body":
        body = BODY.replace("L1", "L2")
    elif changed == "id":
        headers["webhook-id"] = "evt_2"
    else:
        headers["webhook-timestamp"] = str(int(NOW.timestamp()) - 1)
    with pytest.raises(WebhookVerificationError):
        verify(secret, body, headers)


def test_the_signature_is_the_specified_hmac() -> None:
    """The specification's own example: its secret, id, timestamp and body give its signature."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = '{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert signing.signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == expected


def test_nothing_is_signed_without_a_secret() -> None:
    with pytest.raises(ValueError, match="at least one secret"):
        signing.headers("evt_1", NOW, BODY, [])
