"""The payout e-mail's pure parts: amounts written in their currency's minor unit, and which stream changes
are a settlement."""

from __future__ import annotations

from common.money.payout_mail import settled, settled_message
from common.platform.currencies import format_amount

REQUEST = {
    "entity": "payout_request",
    "org_id": "01HORG0000000000000000000A",
    "request_id": "01HREQ0000000000000000000A",
    "amount": 123_456,
    "currency": "EUR",
    "status": "pending",
    "requested_at": "2026-03-01T10:00:00.000Z",
}


def test_amounts_are_written_in_the_currencys_minor_unit_without_floats() -> None:
    assert format_amount(123_456, "EUR") == "1,234.56 EUR"
    assert format_amount(5, "USD") == "0.05 USD"
    assert format_amount(-1_000_000_000_001, "GBP") == "-10,000,000,000.01 GBP"
    assert format_amount(1500, "JPY") == "1,500 JPY"
    assert format_amount(1500, "KWD") == "1.500 KWD"


def test_a_settled_request_is_a_settlement_whatever_its_old_image() -> None:
    paid, rejected = {**REQUEST, "status": "paid"}, {**REQUEST, "status": "rejected", "reject_reason": "No invoice"}
    assert settled(REQUEST, paid) and settled(REQUEST, rejected)
    assert settled(None, paid)  # sent without its old image; the notice keeps it to one e-mail
    assert settled(paid, {**paid, "updated_at": "later"})  # still the one settlement (paid is final)
    assert not settled(REQUEST, {**REQUEST, "updated_at": "later"})
    assert not settled(None, REQUEST)
    assert not settled({**REQUEST, "entity": "deal"}, {**paid, "entity": "deal"})

    subject, body = settled_message({"name": "Acme"}, rejected)
    assert subject == "Acme rejected your payout request of 1,234.56 EUR"
    assert "Reason: No invoice" in body and "/orgs/01HORG0000000000000000000A/wallet" in body
    subject, body = settled_message(None, paid)
    assert subject.endswith("paid your payout request of 1,234.56 EUR") and "Reason" not in body
