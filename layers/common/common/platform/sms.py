"""Outgoing text messages through Twilio's REST API, and the auth token that signs Twilio's requests.

The auth token lives in SSM (SecureString) and is read once per container. The `twilio` REST client is
imported on the first send, never at module import: the SMS webhook imports this module for
`auth_token` and must not pay for the client at cold start. The client talks to
`settings.twilio_api_url` (Twilio itself in the cloud, a loopback stand-in locally) through the Domain's
public `base_url`, so tests exercise the real HTTP path.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

import boto3

from common.platform.settings import TwilioAuthToken, TwilioSender, get_settings

# Seconds to wait for Twilio: a stream consumer's record fails and is retried rather than hanging.
TIMEOUT = 10.0

# 4xx answers that are worth retrying: throttling, and our own credentials being refused (a rotated
# token: the cache is dropped so the retry reads the new one).
_RETRYABLE_CLIENT_STATUSES = frozenset({401, 403, 408, 429})


class SmsRefused(Exception):
    """Twilio refused this message for good (e.g. 21211, not a valid number): do not retry it."""

    def __init__(self, status: int, code: int | None) -> None:
        super().__init__(f"twilio refused the message: HTTP {status}, code {code}")
        self.status = status
        self.code = code


class SmsUnavailable(Exception):
    """Twilio could not be reached or failed (5xx, timeout, throttling): try again later."""


@lru_cache(maxsize=1)
def _ssm() -> Any:
    return boto3.client("ssm")


@lru_cache(maxsize=1)
def _stored_token(client: Any) -> str:
    name = get_settings(TwilioAuthToken).twilio_auth_token_parameter
    response = (client or _ssm()).get_parameter(Name=name, WithDecryption=True)
    return str(response["Parameter"]["Value"])


def auth_token(*, client: Any = None) -> str:
    """The Twilio auth token, read from SSM once and kept for the container's life."""
    return _stored_token(client)


def forget_auth_token() -> None:
    """Drop the cached token (it was refused: it may have been rotated) and the client built with it."""
    _stored_token.cache_clear()
    _client.cache_clear()


@lru_cache(maxsize=1)
def _client() -> Any:
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    settings = get_settings(TwilioSender)
    # The HTTP client's own request log is quiet: URLs and headers only, but nothing we need.
    quiet = logging.getLogger("common.platform.sms.twilio_http")
    quiet.setLevel(logging.WARNING)
    client = Client(
        settings.twilio_account_sid,
        auth_token(),
        http_client=TwilioHttpClient(timeout=TIMEOUT, logger=quiet),
    )
    client.api.base_url = settings.twilio_api_url.rstrip("/")
    return client


def send_text(to: str, body: str, *, status_callback: str | None = None) -> str:
    """Text `body` to `to` (E.164) from the configured number; returns Twilio's message SID.
    Raises SmsRefused when Twilio refuses the message for good, SmsUnavailable when a retry may work."""
    from requests import RequestException
    from twilio.base.exceptions import TwilioRestException

    settings = get_settings(TwilioSender)
    try:
        message = _client().messages.create(
            to=to, from_=settings.twilio_from_number, body=body, status_callback=status_callback
        )
    except TwilioRestException as exc:
        if exc.status in (401, 403):
            forget_auth_token()
        if 400 <= exc.status < 500 and exc.status not in _RETRYABLE_CLIENT_STATUSES:
            raise SmsRefused(exc.status, exc.code) from None
        raise SmsUnavailable(f"twilio answered HTTP {exc.status}, code {exc.code}") from None
    except RequestException as exc:
        raise SmsUnavailable(f"twilio unreachable: {type(exc).__name__}") from None
    return str(message.sid)
