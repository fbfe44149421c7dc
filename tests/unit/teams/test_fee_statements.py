"""Monthly fee statements read the team's receivable ledger (entries written here directly, in the fees'
shape): totals per kind and currency, the opening balance from the last entry before the month, the closing
balance, CSV rows equal to the entries, a PDF; who may read them."""

from __future__ import annotations

import csv
import io
import re
import zlib
from typing import Any

import pytest
from common.orgs.access import Principal
from common.platform import db
from common.platform.errors import Forbidden, NotFound
from common.teams import fee_statements

ORG, TEAM = "01J000000000000000000000RG", "01J0000000000000000000TEAM"
PK = fee_statements.fees_partition(ORG, TEAM)


def entry(at: str, entry_id: str, kind: str, amount: int, balance_after: int, currency: str = "USD") -> db.Item:
    return {
        "pk": PK,
        "sk": f"ENTRY#{at}#{entry_id}",
        "entity": "fee_entry",
        "org_id": ORG,
        "team_id": TEAM,
        "entry_id": entry_id,
        "kind": kind,
        "amount": amount,
        "currency": currency,
        "fee_id": "c1-buy-2026-04-30",
        "reference": "=HYPERLINK()" if kind == "payment" else None,
        "at": at,
        "balance_after": balance_after,
        "by": "user:staff",
    }


@pytest.fixture
def ledger(aws: Any) -> list[db.Item]:
    items = [
        entry("2026-04-30T10:00:00.000Z", "e1", "fee", 90000, 90000),
        entry("2026-04-30T11:00:00.000Z", "x1", "fee", 5000, 5000, "EUR"),
        entry("2026-05-01T00:00:00.000Z", "e2", "payment", -40000, 50000),
        entry("2026-05-15T00:00:00.000Z", "e3", "late_fee", 1500, 51500),
        entry("2026-05-20T00:00:00.000Z", "e4", "adjustment", -500, 51000),
        entry("2026-05-31T23:59:59.999Z", "e5", "write_off", -1000, 50000),
        entry("2026-06-01T00:00:00.000Z", "e6", "payment", -50000, 0),
    ]
    for item in items:
        db.put({k: v for k, v in item.items() if v is not None})
    for currency, balance in (("USD", 0), ("EUR", 5000)):
        db.put({"pk": PK, "sk": f"BALANCE#{currency}", "entity": "fee_balance", "balance": balance, "version": 3})
    return items


def test_the_months_totals_opening_and_closing_per_currency(ledger: list[db.Item]) -> None:
    answer = fee_statements.statement(ORG, {"team_id": TEAM, "name": "North"}, "2026-05")
    eur, usd = answer.currencies
    assert (eur.currency, eur.opening_balance, eur.closing_balance, eur.entries) == ("EUR", 5000, 5000, [])
    assert (usd.opening_balance, usd.fees, usd.late_fees, usd.payments, usd.adjustments, usd.write_offs) == (
        90000,
        0,
        1500,
        -40000,
        -500,
        -1000,
    )
    assert usd.closing_balance == 50000 == usd.entries[-1].balance_after
    assert [e.entry_id for e in usd.entries] == ["e2", "e3", "e4", "e5"]
    empty = fee_statements.statement(ORG, {"team_id": TEAM, "name": "North"}, "2026-03")
    assert [(c.currency, c.opening_balance, c.closing_balance) for c in empty.currencies] == [
        ("EUR", 0, 0),
        ("USD", 0, 0),
    ]


def test_csv_rows_are_the_entries_and_the_pdf_says_the_closing_balance(ledger: list[db.Item]) -> None:
    answer = fee_statements.statement(ORG, {"team_id": TEAM, "name": "Nörth Ω"}, "2026-05")
    rows = list(csv.DictReader(io.StringIO(fee_statements.csv_text(answer))))
    assert [(r["entry_id"], int(r["amount"]), int(r["balance_after"])) for r in rows] == [
        ("e2", -40000, 50000),
        ("e3", 1500, 51500),
        ("e4", -500, 51000),
        ("e5", -1000, 50000),
    ]
    assert rows[0]["reference"] == "'=HYPERLINK()" and "by" not in rows[0]
    pdf = fee_statements.pdf_bytes(answer)
    assert pdf.startswith(b"%PDF")
    assert "500.00 USD" in pdf_text(pdf)


def pdf_text(pdf: bytes) -> str:
    """The text of the PDF's content streams (fpdf2 compresses them with zlib)."""
    texts = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            texts.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            texts.append(stream.decode("latin-1"))
    return "".join(texts)


def test_who_reads(aws: Any) -> None:
    from common.orgs.access import member_key
    from common.teams.team_model import team_key, team_member_key

    db.put({**team_key(ORG, TEAM), "entity": "team", "team_id": TEAM, "name": "North"})
    for user, role in (("lea", "leader"), ("adm", "admin"), ("amy", "member")):
        db.put({**team_member_key(ORG, TEAM, user), "entity": "team_member", "user_id": user, "role": role})
    db.put(
        {
            **member_key(ORG, "fin"),
            "entity": "member",
            "org_id": ORG,
            "user_id": "fin",
            "role": "staff",
            "permissions": ["fees:manage"],
        }
    )
    db.put(
        {
            **member_key(ORG, "ops"),
            "entity": "member",
            "org_id": ORG,
            "user_id": "ops",
            "role": "staff",
            "permissions": ["teams:manage"],
        }
    )

    def who(user: str) -> Principal:
        return Principal(user, "user", "client", frozenset())

    for user in ("lea", "adm", "fin"):
        assert fee_statements.require_reader(who(user), ORG, TEAM)["team_id"] == TEAM
    for user in ("amy", "ops"):
        with pytest.raises(Forbidden):
            fee_statements.require_reader(who(user), ORG, TEAM)
    with pytest.raises(NotFound):
        fee_statements.require_reader(who("stranger"), ORG, TEAM)
