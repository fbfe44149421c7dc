"""A team's monthly fee statement: per currency, the opening balance, the month's fees,
late fees, payments, adjustments and write-offs, the closing balance, and the entries themselves; as JSON,
CSV or a PDF (fpdf2).

It reads only the team's receivable ledger as the fees write it (docs/data-model.md):

    ledger entry   ORG#<org>#TEAM#<team>#FEES / ENTRY#<at>#<entry>   entity "fee_entry": kind, signed amount
                   (positive: the team owes more), currency, fee_id, reference, note, period, balance_after
    balance        ORG#<org>#TEAM#<team>#FEES / BALANCE#<currency>   which currencies the team has owed in

The month's entries are one range of the partition (`ENTRY#<month>-01T00:00:00` up to the next month's
start); a currency's opening balance is the `balance_after` of its last entry before the month, read newest
first from the month's start until every currency of the team is found (one short read for a team with one
currency). The closing balance is the opening balance plus the month's entries, so the statement's totals
are the ledger's by construction.

Leaders and admins of the team read their own team's statements; staff with fees:manage read every team's.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from pydantic import Field

from common.orgs.access import Permission, Principal, member_from_item, member_key, require_user
from common.partners.partner_caller import refuse_unconfirmed
from common.partners.partner_records import account_key
from common.platform import clock, db, listings
from common.platform.answers import Answer, Timestamp
from common.platform.csv_cells import cell
from common.platform.currencies import format_amount
from common.platform.errors import Forbidden, NotFound
from common.teams.team_model import TeamRole, team_key, team_member_key, team_pk

if TYPE_CHECKING:
    from fpdf import FPDF

MONTH_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
# The kinds of ledger entries, and the statement's total each one adds to.
TOTALS = {"fee": "fees", "late_fee": "late_fees", "payment": "payments", "adjustment": "adjustments"}
TOTALS["write_off"] = "write_offs"
CSV_COLUMNS = (
    "currency",
    "at",
    "kind",
    "entry_id",
    "fee_id",
    "amount",
    "balance_after",
    "reference",
    "note",
    "period",
)
# Entries read per round trip while looking for each currency's opening balance.
_OPENING_PAGE = 25


def fees_partition(org_id: str, team_id: str) -> str:
    return f"{team_pk(org_id, team_id)}#FEES"


# -- answer ----------------------------------------------------------------------------------------


class StatementEntry(Answer):
    entry_id: str
    at: Timestamp
    kind: str = Field(description="fee, late_fee, payment, adjustment or write_off")
    amount: int = Field(description="signed minor units: positive adds to what the team owes")
    currency: str
    fee_id: str | None = None
    reference: str | None = None
    note: str | None = None
    period: int | str | None = Field(None, description="the late fee's period")
    balance_after: int = Field(description="what the team owed in this currency after the entry")


class CurrencyStatement(Answer):
    currency: str
    opening_balance: int = Field(description="minor units owed at the start of the month")
    fees: int
    late_fees: int
    payments: int = Field(description="signed: payments lower the balance")
    adjustments: int
    write_offs: int = Field(description="signed: write-offs lower the balance")
    closing_balance: int = Field(description="opening balance plus the month's entries")
    entries: list[StatementEntry] = Field(description="the month's entries, oldest first")


class FeeStatement(Answer):
    org_id: str
    team_id: str
    team_name: str
    month: str = Field(description="yyyy-mm, in UTC")
    period_start: Timestamp
    period_end: Timestamp = Field(description="exclusive: the next month's start")
    generated_at: Timestamp
    currencies: list[CurrencyStatement] = Field(description="every currency the team owed in by the month's end")


# -- who reads -------------------------------------------------------------------------------------


def require_reader(principal: Principal, org_id: str, team_id: str, *, client: Any = None) -> db.Item:
    """The team, for its leader or an admin, or staff with fees:manage: one consistent BatchGetItem (team,
    the caller's team membership, staff membership and partner account). Neither in the team nor staff (or
    no such team): 404; a plain member, or staff without fees:manage: 403."""
    require_user(principal)
    me = principal.subject
    keys = [team_key(org_id, team_id), team_member_key(org_id, team_id, me), member_key(org_id, me), account_key(me)]
    found = {(i["pk"], i["sk"]): i for i in db.batch_get(keys, consistent=True, client=client)}
    team, membership, staff_item, account = (found.get((k["pk"], k["sk"])) for k in keys)
    staff = member_from_item(staff_item) if staff_item else None
    if team is None or (membership is None and staff is None):
        raise NotFound(f"team {team_id} not found")
    if staff is not None and staff.can(Permission.MANAGE_FEES):
        return team
    if staff is None:
        refuse_unconfirmed(account)
    if membership is not None and membership.get("role") in (TeamRole.LEADER, TeamRole.ADMIN):
        return team
    raise Forbidden(f"only the team's leader, its admins or staff with {Permission.MANAGE_FEES.value}")


# -- the statement ---------------------------------------------------------------------------------


def month_bounds(month: str) -> tuple[str, str]:
    """The month's first instant and the next month's, as the entries' sort keys compare them."""
    year, number = (int(part) for part in month.split("-"))
    start = date(year, number, 1)
    end = date(year + number // 12, number % 12 + 1, 1)
    return f"{start.isoformat()}T00:00:00", f"{end.isoformat()}T00:00:00"


def statement(org_id: str, team: Mapping[str, Any], month: str, *, client: Any = None) -> FeeStatement:
    team_id = str(team["team_id"])
    start, end = month_bounds(month)
    partition = fees_partition(org_id, team_id)
    entries = list(_month_entries(partition, start, end, client=client))
    balances = listings.all_with_prefix(partition, "BALANCE#", consistent=True, client=client)
    currencies = {str(balance["sk"]).removeprefix("BALANCE#") for balance in balances}
    currencies |= {str(e["currency"]) for e in entries}
    openings = _openings(partition, start, currencies, client=client)
    return FeeStatement(
        org_id=org_id,
        team_id=team_id,
        team_name=str(team.get("name") or ""),
        month=month,
        period_start=f"{start}.000Z",
        period_end=f"{end}.000Z",
        generated_at=clock.now_iso(),
        currencies=[
            summarise(currency, openings.get(currency, 0), [e for e in entries if e["currency"] == currency])
            for currency in sorted(currencies)
        ],
    )


def summarise(currency: str, opening: int, entries: Sequence[Mapping[str, Any]]) -> CurrencyStatement:
    totals = dict.fromkeys(TOTALS.values(), 0)
    for entry in entries:
        totals[TOTALS[str(entry["kind"])]] += int(entry["amount"])
    return CurrencyStatement(
        currency=currency,
        opening_balance=opening,
        closing_balance=opening + sum(totals.values()),
        entries=[StatementEntry.of(entry) for entry in entries],
        **totals,
    )


def _month_entries(partition: str, start: str, end: str, *, client: Any) -> Iterable[db.Item]:
    """The month's entries, oldest first (a month of one team's ledger: a few pages at most)."""
    for page in listings.pages(
        key_condition="pk = :pk AND sk BETWEEN :start AND :end",
        values={":pk": partition, ":start": f"ENTRY#{start}", ":end": f"ENTRY#{end}"},
        consistent=True,
        client=client,
    ):
        yield from (item for item in page if str(item["sk"]) < f"ENTRY#{end}")


def _openings(partition: str, start: str, currencies: set[str], *, client: Any) -> dict[str, int]:
    """Each currency's balance after its last entry before the month; a currency not found has none (0)."""
    openings: dict[str, int] = {}
    if not currencies:
        return openings
    for page in listings.pages(
        key_condition="pk = :pk AND sk BETWEEN :first AND :start",
        values={":pk": partition, ":first": "ENTRY#", ":start": f"ENTRY#{start}"},
        newest_first=True,
        consistent=True,
        limit=1 if len(currencies) == 1 else _OPENING_PAGE,
        client=client,
    ):
        for item in page:
            openings.setdefault(str(item["currency"]), int(item["balance_after"]))
        if currencies <= set(openings):
            break
    return openings


# -- CSV and PDF -----------------------------------------------------------------------------------


def csv_text(answer: FeeStatement) -> str:
    """The header row and one row per entry, by currency then oldest first (amounts in signed minor units)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for currency in answer.currencies:
        for entry in currency.entries:
            row = entry.model_dump()
            writer.writerow(cell(row.get(column)) for column in CSV_COLUMNS)
    return out.getvalue()


def _latin1(text: str) -> str:
    # The PDF's core font (Helvetica) covers Latin-1: other characters show as "?".
    return text.encode("latin-1", "replace").decode("latin-1")


def pdf_bytes(answer: FeeStatement) -> bytes:
    """The statement as a PDF: the summary per currency, then its entries."""
    # Imported here: fpdf2 (with fonttools and Pillow) takes about 300 ms to import, which only a PDF pays.
    from fpdf import FPDF

    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_title(_latin1(f"Referral fee statement {answer.month}"))
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=14)
    pdf.cell(0, 8, _latin1(f"Referral fee statement {answer.month}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    pdf.cell(0, 6, _latin1(f"Team: {answer.team_name} ({answer.team_id})"), new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, f"Period: {answer.period_start} to {answer.period_end} (UTC)", new_x="LMARGIN", new_y="NEXT")
    if not answer.currencies:
        pdf.cell(0, 8, "No fees owed.", new_x="LMARGIN", new_y="NEXT")
    for currency in answer.currencies:
        _currency_section(pdf, currency)
    return bytes(pdf.output())


def _currency_section(pdf: FPDF, statement: CurrencyStatement) -> None:
    code = statement.currency
    pdf.ln(4)
    pdf.set_font("Helvetica", style="B", size=12)
    pdf.cell(0, 8, f"Currency {code}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    lines = (
        ("Opening balance", statement.opening_balance),
        ("Fees", statement.fees),
        ("Late fees", statement.late_fees),
        ("Payments", statement.payments),
        ("Adjustments", statement.adjustments),
        ("Write-offs", statement.write_offs),
        ("Closing balance", statement.closing_balance),
    )
    for label, amount in lines:
        pdf.cell(60, 6, label)
        pdf.cell(0, 6, format_amount(amount, code), align="R", new_x="LMARGIN", new_y="NEXT")
    if not statement.entries:
        return
    pdf.ln(2)
    widths = (34, 22, 52, 36, 36)
    pdf.set_font("Helvetica", style="B", size=9)
    for width, title in zip(widths, ("Date", "Kind", "Fee / reference", "Amount", "Balance"), strict=True):
        pdf.cell(width, 6, title, border="B")
    pdf.ln()
    pdf.set_font("Helvetica", size=9)
    for entry in statement.entries:
        what = entry.fee_id or ""
        if entry.reference:
            what = f"{what} / {entry.reference}" if what else entry.reference
        row = (
            entry.at[:10],
            entry.kind,
            _latin1(what)[:40],
            format_amount(entry.amount, code),
            format_amount(entry.balance_after, code),
        )
        for width, text in zip(widths, row, strict=True):
            pdf.cell(width, 6, text, align="R" if width == 36 else "L")
        pdf.ln()
