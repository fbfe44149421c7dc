"""Outgoing e-mail through SES (v2 API). One function with an injectable client."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3

from common.platform.settings import Deployment, SesConfiguration, get_settings


@lru_cache(maxsize=1)
def _ses() -> Any:
    return boto3.client("sesv2")


def send_email(
    to: list[str],
    subject: str,
    body: str,
    *,
    sender: str | None = None,
    reply_to: list[str] | None = None,
    client: Any = None,
) -> str:
    """Send a plain-text e-mail; returns SES's message id. From `sender` when given (an address of an
    identity SES has verified and the function may send from, with or without a display name), else the
    system's configured sender; replies go to `reply_to` when given. With the configured configuration set,
    if any: SES then records bounces and complaints (the local stack has none)."""
    configuration_set = get_settings(SesConfiguration).ses_configuration_set
    options: dict[str, Any] = {"ReplyToAddresses": reply_to} if reply_to else {}
    if configuration_set:
        options["ConfigurationSetName"] = configuration_set
    response = (client or _ses()).send_email(
        FromEmailAddress=sender or get_settings(Deployment).email_from,
        Destination={"ToAddresses": to},
        Content={
            "Simple": {
                "Subject": {"Data": subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": body, "Charset": "UTF-8"}},
            }
        },
        **options,
    )
    return str(response["MessageId"])
