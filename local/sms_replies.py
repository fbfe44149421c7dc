"""A team member's text reply as Twilio would post it to the local stack: the form Twilio sends for an
inbound SMS to our number, signed (X-Twilio-Signature) with the account's auth token over the exact URL the
stack's webhook expects. Serves `POST /_local/sms`, so a person trying the referrals walk-through can reply
without computing a signature by hand."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from local.http_messages import HttpRequest
from local.ports import LOOPBACK


@dataclass(frozen=True)
class TwilioAccount:
    account_sid: str
    auth_token: str
    number: str  # the number members text (the deployment's sender number)
    webhook_url: str  # what Twilio calls and signs: the stack's own /twilio/sms URL


def inbound_form(account: TwilioAccount, phone: str, text: str, message_sid: str | None = None) -> dict[str, str]:
    """The parameters Twilio posts for a text from `phone` to our number (the webhook reads some of them)."""
    sid = message_sid or "SM" + uuid.uuid4().hex
    return {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "SmsSid": sid,
        "AccountSid": account.account_sid,
        "From": phone,
        "To": account.number,
        "Body": text,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }


def signed_request(account: TwilioAccount, path: str, form: dict[str, str]) -> HttpRequest:
    signature = RequestValidator(account.auth_token).compute_signature(account.webhook_url, form)
    host = account.webhook_url.split("://", 1)[-1].split("/", 1)[0]
    return HttpRequest(
        method="POST",
        path=path,
        query="",
        headers=[
            ("Host", host),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Twilio-Signature", signature),
            ("User-Agent", "TwilioProxy/1.1"),
        ],
        body=urlencode(form).encode(),
        source_ip=LOOPBACK,
    )
