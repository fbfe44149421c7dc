"""The system's sender address naming an inviter (common.partners.sender_addresses.on_behalf). Sender addresses
through the partners API: tests/unit/functions/partners/test_sender_addresses.py."""

from __future__ import annotations

from email.utils import parseaddr

from common.partners import sender_addresses

from tests.unit.conftest import SENDER


def test_display_names_are_encoded_and_cut() -> None:
    assert parseaddr(sender_addresses.on_behalf("Pat P.", "Acme")) == ("Pat P. via Acme", SENDER)
    encoded = sender_addresses.on_behalf("Zoë", "Acme")
    assert encoded.startswith("=?utf-8?") and encoded.endswith(f"<{SENDER}>")
    long = sender_addresses.on_behalf("x" * 300, "Acme")
    assert len(parseaddr(long)[0]) == sender_addresses.DISPLAY_NAME_LENGTH
    assert sender_addresses.on_behalf(None, None) == SENDER
