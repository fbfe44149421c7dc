"""Monthly fee statements over HTTP against the local stack: ledger entries in the fees' shape are seeded in
DynamoDB Local, and the statement's totals, CSV rows and PDF agree with them; who may read; a bad month."""

from __future__ import annotations

import csv
import io
from typing import Any

from common.platform import db
from common.teams.fee_statements import fees_partition

from tests.integration.test_teams import Team, new_team
from tests.unit.teams.test_fee_statements import pdf_text

MONTH = "2026-05"


def seed(team: Team) -> list[dict[str, Any]]:
    """A fee in April, then May's payment, late fee, adjustment and write-off, and a June payment."""
    pk = fees_partition(team.org_id, team.team_id)
    plan = [
        ("2026-04-30T10:00:00.000Z", "e1", "fee", 90000, 90000),
        ("2026-05-01T00:00:00.000Z", "e2", "payment", -40000, 50000),
        ("2026-05-15T08:00:00.000Z", "e3", "late_fee", 1500, 51500),
        ("2026-05-20T08:00:00.000Z", "e4", "adjustment", -500, 51000),
        ("2026-05-31T23:59:59.999Z", "e5", "write_off", -1000, 50000),
        ("2026-06-01T00:00:00.000Z", "e6", "payment", -50000, 0),
    ]
    entries = []
    for at, entry_id, kind, amount, balance in plan:
        item = {
            "pk": pk,
            "sk": f"ENTRY#{at}#{entry_id}",
            "entity": "fee_entry",
            "org_id": team.org_id,
            "team_id": team.team_id,
            "entry_id": entry_id,
            "kind": kind,
            "amount": amount,
            "currency": "USD",
            "fee_id": "C1-buy-2026-04-30",
            "reference": f"REF-{entry_id}",
            "at": at,
            "balance_after": balance,
            "by": "user:staff",
        }
        db.put(item)
        entries.append(item)
    db.put({"pk": pk, "sk": "BALANCE#USD", "entity": "fee_balance", "balance": 0, "version": 6})
    return entries


def test_the_statement_equals_the_ledger_as_json_csv_and_pdf(stack: Any) -> None:
    team = new_team(stack)
    entries = seed(team)
    may = [e for e in entries if e["at"].startswith(MONTH)]
    path = f"{team.path}/statements/{MONTH}"
    answer = team.leader.get(path)
    assert answer.status_code == 200, answer.text
    [usd] = answer.json()["currencies"]
    assert usd["opening_balance"] == 90000
    assert usd["closing_balance"] == usd["opening_balance"] + sum(e["amount"] for e in may) == may[-1]["balance_after"]
    by_kind = {kind: sum(e["amount"] for e in may if e["kind"] == kind) for kind in ("payment", "late_fee")}
    assert (usd["payments"], usd["late_fees"], usd["fees"]) == (by_kind["payment"], by_kind["late_fee"], 0)
    assert (usd["adjustments"], usd["write_offs"]) == (-500, -1000)
    assert [e["entry_id"] for e in usd["entries"]] == [e["entry_id"] for e in may]

    as_csv = team.admin.get(path, params={"format": "csv"})
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [(r["entry_id"], int(r["amount"]), r["reference"]) for r in rows] == [
        (e["entry_id"], e["amount"], e["reference"]) for e in may
    ]
    by_accept = team.leader.get(path, headers={"Accept": "text/csv"})
    assert by_accept.headers["content-type"].startswith("text/csv") and by_accept.text == as_csv.text
    assert team.staff.get(path).status_code == 403  # teams:manage is not fees:manage

    as_pdf = team.leader.get(path, params={"format": "pdf"})
    assert as_pdf.status_code == 200 and as_pdf.headers["content-type"] == "application/pdf"
    assert as_pdf.content.startswith(b"%PDF")
    assert "500.00 USD" in pdf_text(as_pdf.content)


def test_who_reads_and_a_bad_month(stack: Any) -> None:
    team = new_team(stack)
    path = f"{team.path}/statements/{MONTH}"
    assert team.m1.get(path).status_code == 403
    assert team.plain_staff.get(path).status_code == 403
    empty = team.admin.get(path)
    assert empty.status_code == 200 and empty.json()["currencies"] == []
    for month in ("2026-13", "2026-5", "26-05"):
        bad = team.leader.get(f"{team.path}/statements/{month}")
        assert bad.status_code == 422 and {e["field"] for e in bad.json()["errors"]} == {"path.month"}
    wrong = team.leader.get(path, params={"format": "xls"})
    assert wrong.status_code == 422 and {e["field"] for e in wrong.json()["errors"]} == {"query.format"}
