"""Outgoing e-mail names the SES configuration set only where one is configured (the local stack has none)."""

from __future__ import annotations

from typing import Any

import pytest
from common.platform import email
from common.platform.settings import get_settings


class RecordingSes:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def send_email(self, **request: Any) -> dict[str, str]:
        self.calls.append(request)
        return {"MessageId": "m-1"}


def test_without_a_configuration_set_none_is_named() -> None:
    ses = RecordingSes()

    assert email.send_email(["a@example.org"], "Subject", "Body", client=ses) == "m-1"
    assert "ConfigurationSetName" not in ses.calls[0]


def test_the_configured_set_goes_with_every_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SES_CONFIGURATION_SET", "partner-programme-prod")
    get_settings.cache_clear()
    ses = RecordingSes()

    email.send_email(["a@example.org"], "Subject", "Body", sender="alice@example.org", client=ses)

    assert ses.calls[0]["ConfigurationSetName"] == "partner-programme-prod"
    assert ses.calls[0]["FromEmailAddress"] == "alice@example.org"
