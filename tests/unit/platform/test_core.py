"""Small pieces of the common layer: ids, clock, settings, cursors, templates, principals."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError
from common.orgs.access import principal_from_event
from common.orgs.templates import NewTemplate, render
from common.platform import clock, cursors, db, history, ids, listings
from common.platform.errors import InvalidInput
from common.platform.settings import Deployment, SettingsError, TokenVerification, get_settings, validate_settings
from common.platform.validation import Email, LongText, ShortText
from pydantic import TypeAdapter, ValidationError

from tests.support import http_event


def test_ids_sort_by_time(frozen_clock) -> None:  # type: ignore[no-untyped-def]
    first = ids.new_id()
    frozen_clock.advance(milliseconds=1)
    second = ids.new_id()
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", first) and re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", second)
    assert first < second


def test_iso_is_fixed_width_utc() -> None:
    assert clock.iso(datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)) == "2026-01-02T03:04:05.006Z"


def test_missing_settings_fail_at_cold_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TABLE_NAME")
    get_settings.cache_clear()
    with pytest.raises(SettingsError, match="TABLE_NAME"):
        get_settings(Deployment)


def test_tampered_cursor_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as refused:
        listings.query(key_condition="pk = :pk", values={":pk": "ORG#A"}, cursor="not-base64-json")
    assert refused.value.errors[0].field == "query.cursor"
    foreign = cursors.encode_cursor({"pk": "ORG#B", "sk": "X"})
    with pytest.raises(InvalidInput):
        listings.query(key_condition="pk = :pk", values={":pk": "ORG#A"}, cursor=foreign)


@pytest.mark.parametrize("position", ["\u00b2", "\u0663", "-1", " 1", "1" * 13, ""])
def test_a_history_cursor_whose_position_is_not_ascii_digits_is_invalid_input(position: str) -> None:
    # str.isdigit takes a superscript two or an Arabic-Indic three, which int() then refuses (was a 500).
    cursor = cursors.encode_cursor({"before": position})
    with pytest.raises(InvalidInput) as refused:
        history.position(cursor, {}, history.Bound("history", limit=10, keep=5, pages_at=lambda _: ("X", "H#")))
    assert refused.value.errors[0].field == "query.cursor"


def test_templates_reject_unknown_placeholders_and_render_known_ones() -> None:
    with pytest.raises(ValidationError) as refused:
        NewTemplate(name="t", subject="Hi {{lead.password}}", body="ok")
    assert refused.value.errors()[0]["loc"] == ("subject",)
    assert render("Hi {{ lead.contact_name }}{{comments}}", {"lead.contact_name": "Jo"}) == "Hi Jo"


def test_principals_from_both_authorizers() -> None:
    user = principal_from_event(http_event("GET", "/orgs", user="u-1"))
    assert (user.kind, user.subject) == ("user", "u-1")
    machine = principal_from_event(http_event("GET", "/orgs", machine="client-9"))
    assert (machine.kind, machine.client_id, machine.scopes) == ("machine", "client-9", frozenset({"leads/write"}))


class ConflictThenSuccess:
    """A DynamoDB client whose first transaction meets another one in flight, as the real service does."""

    def __init__(self, conflicts: int) -> None:
        self.conflicts, self.calls = conflicts, 0

    def transact_write_items(self, **_: object) -> dict[str, object]:
        self.calls += 1
        if self.calls <= self.conflicts:
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
                    "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}],
                },
                "TransactWriteItems",
            )
        return {}


def test_a_transaction_conflict_is_retried_then_decided() -> None:
    client = ConflictThenSuccess(conflicts=2)
    db.transact([db.tx_put({"pk": "A", "sk": "B"})], on_cancel=lambda _: InvalidInput("never"), client=client)
    assert client.calls == 3
    stubborn = ConflictThenSuccess(conflicts=db.CONFLICT_ATTEMPTS)
    with pytest.raises(ClientError):
        db.transact([db.tx_put({"pk": "A", "sk": "B"})], on_cancel=lambda _: InvalidInput("never"), client=stubborn)
    assert stubborn.calls == db.CONFLICT_ATTEMPTS


def test_functions_refuse_to_start_without_the_settings_they_need() -> None:
    with pytest.raises(SettingsError, match="TOKEN_ISSUER, JWKS_URL"):
        validate_settings(Deployment, TokenVerification)


class AppliedButAnswerLost:
    """PutItem whose first attempt was applied but whose answer was lost: botocore's retry of it fails its
    condition and DynamoDB returns the item that is there, which is exactly the one we wrote."""

    def __init__(self, existing: dict[str, object]) -> None:
        self.existing = existing

    def put_item(self, **_: object) -> dict[str, object]:
        raise ClientError(
            {"Error": {"Code": "ConditionalCheckFailedException", "Message": "failed"}, "Item": self.existing},
            "PutItem",
        )


def test_our_own_applied_write_is_not_a_conflict() -> None:
    item = {"pk": "ORG#A#LEAD#1", "sk": "LEAD", "contact": {"name": "x"}, "version": 1, "note": None}
    db.put(
        item,
        condition="attribute_not_exists(pk)",
        on_conflict=InvalidInput("taken"),
        client=AppliedButAnswerLost(db.serialize(item)),
    )
    someone_else = db.serialize({**item, "version": 2})
    with pytest.raises(InvalidInput):
        db.put(
            item,
            condition="attribute_not_exists(pk)",
            on_conflict=InvalidInput("taken"),
            client=AppliedButAnswerLost(someone_else),
        )


@pytest.mark.parametrize("address", ["jane@example.org", "j.doe+leads@mail.example.co.uk", "x@xn--bcher-kva.example"])
def test_addresses_ses_can_send_to_are_valid(address: str) -> None:
    assert TypeAdapter(Email).validate_python(address) == address


@pytest.mark.parametrize("address", ["d\x1c@example.org", "a b@example.org", "a@example", "jö@example.org", "a@-x.org"])
def test_addresses_ses_cannot_send_to_are_invalid(address: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(Email).validate_python(address)


def test_text_refuses_control_characters_but_long_text_keeps_line_breaks() -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(ShortText).validate_python("Subject\x0f")
    assert TypeAdapter(LongText).validate_python("Line one\nLine two\tend") == "Line one\nLine two\tend"
    with pytest.raises(ValidationError):
        TypeAdapter(LongText).validate_python("bell\x07")
