"""Wallet and entry views, correction input and the CSV export's cells: pure functions. The ledger audit that
recomputes them: tests/unit/ops/test_ledger_audit.py."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from common.money import ledger
from common.money.wallets import EntryKind
from common.platform import csv_cells
from pydantic import ValidationError

ORG, PID = "01ORGAAAAAAAAAAAAAAAAAAAAA", "partner-1"


def entry(entry_id: str, amount: int, kind: EntryKind = EntryKind.COMMISSION, **fields: Any) -> dict[str, Any]:
    return {"entry_id": entry_id, "kind": kind.value, "amount": amount, "currency": "EUR", **fields}


def wallet(balance: int, count: int, **fields: Any) -> dict[str, Any]:
    return {"balance": balance, "entry_count": count, "currency": "EUR", **fields}


# -- views and input -------------------------------------------------------------------------------


def test_a_partner_without_entries_has_an_empty_wallet_in_the_programme_currency() -> None:
    view = ledger.Wallet.held(ORG, PID, None, "EUR").model_dump(mode="json")
    assert view == {
        "org_id": ORG,
        "partner_id": PID,
        "currency": "EUR",
        "minor_units": 2,
        "balance": 0,
        "available": 0,
        "open_request": None,
        "entry_count": 0,
        "last_entry_at": None,
        "updated_at": None,
    }
    assert ledger.Wallet.held(ORG, PID, None, None).currency is None
    assert ledger.Wallet.held(ORG, PID, None, None).minor_units is None


def test_the_open_request_is_held_back_from_the_available_balance() -> None:
    held = wallet(5000, 3, open_request_id="R1", open_request_amount=1200)
    view = ledger.Wallet.held(ORG, PID, held, "USD").model_dump(mode="json")
    assert (view["currency"], view["balance"], view["available"]) == ("EUR", 5000, 3800)
    assert view["open_request"] == {"request_id": "R1", "amount": 1200}


def test_who_on_the_staff_corrected_or_paid_is_left_out_of_the_partners_entry_and_export() -> None:
    stored = entry(
        "P-R1",
        -700,
        EntryKind.PAYOUT,
        org_id=ORG,
        partner_id=PID,
        at="2026-01-02T00:00:00.000Z",
        recorded_at="2026-01-02T00:00:00.000Z",
        description="Payout (request R1)",
        details={"request_id": "R1", "by": "user:u1"},
    )
    assert ledger.LedgerEntry.of(stored).details == {"request_id": "R1", "by": "user:u1"}
    assert ledger.PartnerLedgerEntry.of(stored).details == {"request_id": "R1"}
    own = list(csv.reader(io.StringIO(ledger.csv_text([stored], ledger.PARTNER_CSV_COLUMNS))))
    assert own[0] == [c for c in ledger.CSV_COLUMNS if c != "by"] and "user:u1" not in own[1]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": 0, "reason": "x"}, "amount"),
        ({"amount": 1.5, "reason": "x"}, "amount"),
        ({"amount": "100", "reason": "x"}, "amount"),
        ({"amount": 10**12 + 1, "reason": "x"}, "amount"),
        ({"amount": 5, "reason": "  "}, "reason"),
        ({"amount": 5, "reason": "a\nb"}, "reason"),
        ({"amount": 5, "reason": "x" * 501}, "reason"),
        ({"amount": 5}, "reason"),
    ],
)
def test_a_correction_needs_a_non_zero_integer_and_a_one_line_reason(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        ledger.Correction.model_validate(body)
    assert {e["loc"][0] for e in refused.value.errors()} == {field}
    assert ledger.Correction.model_validate({"amount": -(10**12), "reason": " ok "}).reason == "ok"


def test_the_csv_keeps_signs_and_defuses_formulas() -> None:
    rows = [
        entry(
            "C-1",
            2500,
            at="2026-01-01T00:00:00.000Z",
            description="Commission, level 1, deal =HYPERLINK()",
            details={"deal_id": "D1", "stage_id": "S1", "level": 1},
        ),
        entry(
            "E-2",
            -700,
            EntryKind.CORRECTION,
            at="2026-01-02T00:00:00.000Z",
            description="Correction: @x",
            details={"reason": "-1+1", "by": "user:u1"},
        ),
    ]
    table = list(csv.reader(io.StringIO(ledger.csv_text(rows))))
    assert table[0] == list(ledger.CSV_COLUMNS)
    first, second = (dict(zip(ledger.CSV_COLUMNS, r, strict=True)) for r in table[1:])
    assert (first["amount"], first["level"], first["deal_id"]) == ("2500", "1", "D1")
    assert first["description"] == "Commission, level 1, deal =HYPERLINK()"
    assert (second["amount"], second["reason"], second["by"]) == ("-700", "'-1+1", "user:u1")
    assert ledger.csv_text([]) == ",".join(ledger.CSV_COLUMNS) + "\r\n"
    assert [csv_cells.cell(v) for v in ("=1", "+1", "@A", "\tx", "ok", None, -5, True)] == [
        "'=1",
        "'+1",
        "'@A",
        "'\tx",
        "ok",
        "",
        -5,
        "True",
    ]
