"""Wallets and their ledger as staff and partners see them: balances, histories newest first, manual
corrections, and the CSV export. Keys and the write every ledger change is made of live in wallet_model.

A partner has a wallet item from their first entry on; before that their balance is 0. A partner removed
from the organisation keeps their wallet and history: staff still see it and may still correct it (a
balance earned before the removal is still owed, or still to be written off).

Who on the staff corrected a balance or paid a request (an entry's `details.by`) is for staff only, as it is
on payout requests: a partner's own entries (PartnerLedgerEntry) and export (PARTNER_CSV_COLUMNS) leave it out.

The CSV export comes in pages of up to EXPORT_MAX_ROWS rows, oldest first; the response carries the
cursor of the next page in the NEXT_CURSOR_HEADER header (absent on the last page).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, field_validator

from common.money import plans
from common.money import wallets as wallet_model
from common.money.in_currency import InCurrency
from common.money.wallets import Entry, EntryKind
from common.orgs.access import Member
from common.partners.partner_caller import PartnerCaller
from common.partners.partner_records import node_key
from common.platform import clock, db, ids, listings
from common.platform.answers import Answer, Timestamp
from common.platform.csv_cells import cell
from common.platform.currencies import money_fields
from common.platform.errors import Conflict, DomainError, NotFound
from common.platform.validation import SINGLE_LINE

MAX_CORRECTION = 10**12
EXPORT_MAX_ROWS = 5000
NEXT_CURSOR_HEADER = "X-Next-Cursor"

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), SINGLE_LINE]


class Correction(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"amount": -5000, "reason": "Referral fee agreed separately"}]}
    )
    amount: Annotated[
        StrictInt,
        Field(ge=-MAX_CORRECTION, le=MAX_CORRECTION, description="signed minor units, never 0: added to the balance"),
    ]
    reason: Annotated[Reason, Field(description="why: kept in the entry, shown to the partner")]

    @field_validator("amount")
    @classmethod
    def _not_zero(cls, amount: int) -> int:
        if amount == 0:
            raise ValueError("must not be 0")
        return amount


# -- answers ---------------------------------------------------------------------------------------


class OpenRequest(Answer):
    request_id: str
    amount: int = Field(description="minor units, held back from the available balance")


class Wallet(InCurrency):
    """A partner's wallet as they see it: the empty one (balance 0) before their first entry."""

    org_id: str
    partner_id: str
    currency: str | None = Field(None, description="ISO 4217; null before the organisation has a commission plan")
    balance: int = Field(description="minor units: the sum of the wallet's ledger entries (may be negative)")
    available: int = Field(description="the balance less the open payout request")
    open_request: OpenRequest | None
    entry_count: int
    last_entry_at: Timestamp | None = None
    updated_at: Timestamp | None = Field(None, description="null while the partner has no entries")

    @classmethod
    def held(
        cls, org_id: str, partner_id: str, wallet: Mapping[str, Any] | None, currency: str | None, **fields: Any
    ) -> Self:
        """The wallet item, or the empty wallet of a partner without entries (in `currency`, the programme's)."""
        wallet = wallet or {}
        balance = int(wallet.get("balance", 0))
        request_id = wallet.get("open_request_id")
        open_amount = int(wallet.get("open_request_amount", 0)) if request_id else 0
        return cls.of(
            wallet,
            org_id=org_id,
            partner_id=partner_id,
            currency=wallet.get("currency", currency),
            balance=balance,
            available=balance - open_amount,
            open_request={"request_id": request_id, "amount": open_amount} if request_id else None,
            entry_count=int(wallet.get("entry_count", 0)),
            **fields,
        )


class StaffWallet(Wallet):
    """A wallet as staff see it: with its partner's name and status."""

    name: str | None = Field(description="the partner's name")
    status: str | None = Field(description="the partner's status")
    removed: bool = Field(description="removed from the organisation: the wallet and its history are kept")

    @classmethod
    def of_partner(
        cls,
        org_id: str,
        partner_id: str,
        node: Mapping[str, Any] | None,
        wallet: Mapping[str, Any] | None,
        currency: str | None = None,
    ) -> Self:
        node = node or {}
        return cls.held(
            org_id,
            partner_id,
            wallet,
            currency,
            name=node.get("name"),
            status=node.get("status"),
            removed=bool(node.get("removed_at")),
        )


# What only staff see of an entry's details: who on the staff corrected the balance or paid the request.
STAFF_ONLY_DETAILS = ("by",)


class LedgerEntry(InCurrency):
    """A ledger entry as staff see it."""

    org_id: str
    partner_id: str
    entry_id: str
    kind: EntryKind
    amount: int = Field(description="signed minor units")
    currency: str = Field(description="ISO 4217")
    at: Timestamp = Field(description="when it happened: the deal's stage change, the correction, the payment")
    recorded_at: Timestamp
    description: str
    details: dict[str, Any] = Field(
        description="what explains it: deal, stage, level and rule; a correction's reason; who on the staff "
        "corrected or paid it (by: user:<id>)"
    )


class PartnerLedgerEntry(LedgerEntry):
    """A ledger entry as its partner sees it: who on the staff corrected or paid it is not theirs to see."""

    details: dict[str, Any] = Field(description="what explains it: deal, stage, level and rule; a correction's reason")

    @field_validator("details")
    @classmethod
    def _without_staff_ids(cls, details: dict[str, Any]) -> dict[str, Any]:
        return {name: value for name, value in details.items() if name not in STAFF_ONLY_DETAILS}


# -- reads -----------------------------------------------------------------------------------------


def _plan_currency(plan: Mapping[str, Any] | None) -> str | None:
    return str(plan["currency"]) if plan else None


def _read(org_id: str, partner_id: str, *, client: Any) -> tuple[db.Item | None, db.Item | None, db.Item | None]:
    """The partner's node, wallet and the organisation's plan: one consistent BatchGetItem."""
    keys = [
        node_key(org_id, partner_id),
        wallet_model.wallet_key(org_id, partner_id),
        plans.plan_key(org_id),
    ]
    found = {(i["pk"], i["sk"]): i for i in db.batch_get(keys, consistent=True, client=client)}
    node, wallet, plan = (found.get((k["pk"], k["sk"])) for k in keys)
    return node, wallet, plan


def _not_a_partner(partner_id: str) -> NotFound:
    return NotFound(f"partner {partner_id} not found")


def staff_wallet(org_id: str, partner_id: str, *, client: Any = None) -> StaffWallet:
    """A partner's wallet with their name and status; 404 for someone who never was a partner here."""
    node, wallet, plan = _read(org_id, partner_id, client=client)
    if node is None:
        raise _not_a_partner(partner_id)
    return StaffWallet.of_partner(org_id, partner_id, node, wallet, _plan_currency(plan))


def own_wallet(caller: PartnerCaller, *, client: Any = None) -> Wallet:
    keys = [wallet_model.wallet_key(caller.org_id, caller.partner_id), plans.plan_key(caller.org_id)]
    found = {i["sk"]: i for i in db.batch_get(keys, consistent=True, client=client)}
    plan = found.get(keys[1]["sk"])
    return Wallet.held(caller.org_id, caller.partner_id, found.get("WALLET"), _plan_currency(plan))


def list_wallets(
    org_id: str, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[StaffWallet], str | None]:
    """The organisation's wallets by partner id (gsi1), each with its partner's name and status from one
    BatchGetItem of their nodes."""
    wallets, next_cursor = listings.query_index(
        listings.IndexKey("gsi1", wallet_model.wallets_listing(org_id)),
        cursor=cursor,
        limit=limit,
        client=client,
    )
    partner_ids = [w["partner_id"] for w in wallets]
    nodes = {n["partner_id"]: n for n in db.batch_get([node_key(org_id, p) for p in partner_ids], client=client)}
    views = [StaffWallet.of_partner(org_id, w["partner_id"], nodes.get(w["partner_id"]), w) for w in wallets]
    return views, next_cursor


def balances(org_id: str, partner_ids: Iterable[str], *, client: Any = None) -> dict[str, dict[str, Any]]:
    """Each listed partner's balance ("your partners", seed 004: its Wallet column): one BatchGetItem of the
    page's wallets. A partner without one is absent: no entry yet, the balance is 0."""
    keys = [wallet_model.wallet_key(org_id, p) for p in dict.fromkeys(partner_ids)]
    found = db.batch_get(keys, client=client) if keys else []
    return {w["partner_id"]: {"balance": int(w.get("balance", 0)), **money_fields(w.get("currency"))} for w in found}


def require_partner_node(org_id: str, partner_id: str, *, client: Any = None) -> db.Item:
    """The partner's node (also a removed partner's: their ledger is kept); 404 if they never were one."""
    node = db.get(node_key(org_id, partner_id), client=client)
    if node is None:
        raise _not_a_partner(partner_id)
    return node


def list_entries(
    org_id: str, partner_id: str, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[db.Item], str | None]:
    """A wallet's entries, newest first (by when they happened), read consistently."""
    return listings.query(
        key_condition="pk = :pk AND begins_with(sk, :prefix)",
        values={":pk": wallet_model.wallet_pk(org_id, partner_id), ":prefix": wallet_model.ENTRY_PREFIX},
        newest_first=True,
        consistent=True,
        cursor=cursor,
        limit=limit,
        client=client,
    )


def staff_entries(
    org_id: str, partner_id: str, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[db.Item], str | None]:
    """Staff's read of a partner's ledger, newest first: 404 for someone who never was a partner here."""
    require_partner_node(org_id, partner_id, client=client)
    return list_entries(org_id, partner_id, cursor=cursor, limit=limit, client=client)


# -- corrections -----------------------------------------------------------------------------------


def correct(org_id: str, partner_id: str, member: Member, correction: Correction, *, client: Any = None) -> db.Item:
    """Append a correction entry and move the balance: one TransactWriteItems of the entry, the wallet and
    a check that the partner (removed or not) is still known here. The currency is the wallet's, or the
    programme's for a first entry (409 without a commission plan)."""
    node, wallet, plan = _read(org_id, partner_id, client=client)
    if node is None:
        raise _not_a_partner(partner_id)
    currency = (wallet or {}).get("currency") or _plan_currency(plan)
    if currency is None:
        raise plans.NoCommissionPlan("set up a commission plan first: it fixes the currency of the programme's wallets")
    entry = Entry(
        org_id=org_id,
        partner_id=partner_id,
        entry_id=ids.new_id(),
        kind=EntryKind.CORRECTION,
        amount=correction.amount,
        currency=str(currency),
        at=clock.now_iso(),
        description=f"Correction: {correction.reason}",
        details={"reason": correction.reason, "by": member.actor},
    )
    put, wallet_write = wallet_model.entry_actions(entry)

    def refusal(failed: list[db.Item | None]) -> DomainError:
        if failed[2] is not None:
            return _not_a_partner(partner_id)
        if failed[1] is not None:
            return Conflict("the wallet holds another currency than the programme's")
        return Conflict("entry id collision; retry")

    db.transact(
        [put, wallet_write, db.tx_check(node_key(org_id, partner_id), condition="attribute_exists(pk)")],
        on_cancel=refusal,
        client=client,
    )
    return db.deserialize(put["Put"]["Item"])


# -- CSV export ------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "at",
    "partner_id",
    "entry_id",
    "kind",
    "amount",
    "currency",
    "description",
    "deal_id",
    "stage_id",
    "level",
    "request_id",
    "reason",
    "by",
    "recorded_at",
)
# A partner's own export: without who on the staff corrected or paid (STAFF_ONLY_DETAILS).
PARTNER_CSV_COLUMNS = tuple(column for column in CSV_COLUMNS if column not in STAFF_ONLY_DETAILS)
# Where a cell comes from: the entry itself, else its details.
_FROM_ENTRY = frozenset({"at", "partner_id", "entry_id", "kind", "amount", "currency", "description", "recorded_at"})


def csv_text(entries: Iterable[Mapping[str, Any]], columns: tuple[str, ...] = CSV_COLUMNS) -> str:
    """The header row and one row per entry (amounts in minor units, signed)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for entry in entries:
        details = entry.get("details") or {}
        writer.writerow(cell(entry.get(c) if c in _FROM_ENTRY else details.get(c)) for c in columns)
    return out.getvalue()


def _wallet_page(
    org_id: str, partner_id: str, columns: tuple[str, ...], *, cursor: str | None, limit: int, client: Any
) -> tuple[str, str | None]:
    items, next_cursor = listings.query(
        key_condition="pk = :pk AND begins_with(sk, :prefix)",
        values={":pk": wallet_model.wallet_pk(org_id, partner_id), ":prefix": wallet_model.ENTRY_PREFIX},
        consistent=True,
        cursor=cursor,
        limit=limit,
        client=client,
    )
    return csv_text(items, columns), next_cursor


def export_wallet(
    org_id: str, partner_id: str, *, cursor: str | None = None, limit: int = EXPORT_MAX_ROWS, client: Any = None
) -> tuple[str, str | None]:
    """Staff's export of a partner's ledger: a page as CSV, oldest first, with the next page's cursor; 404
    for someone who never was a partner here."""
    require_partner_node(org_id, partner_id, client=client)
    return _wallet_page(org_id, partner_id, CSV_COLUMNS, cursor=cursor, limit=limit, client=client)


def export_own(
    org_id: str, partner_id: str, *, cursor: str | None = None, limit: int = EXPORT_MAX_ROWS, client: Any = None
) -> tuple[str, str | None]:
    """A partner's export of their own ledger: as staff's, without who on the staff corrected or paid."""
    return _wallet_page(org_id, partner_id, PARTNER_CSV_COLUMNS, cursor=cursor, limit=limit, client=client)


def export_organisation(
    org_id: str, *, cursor: str | None = None, limit: int = EXPORT_MAX_ROWS, client: Any = None
) -> tuple[str, str | None]:
    """A page of the organisation's whole ledger as CSV, oldest first (gsi1), with the next page's cursor."""
    items, next_cursor = listings.query_index(
        listings.IndexKey("gsi1", wallet_model.ledger_listing(org_id)),
        cursor=cursor,
        limit=limit,
        client=client,
    )
    return csv_text(items), next_cursor
