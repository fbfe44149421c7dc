"""Wallets, their append-only ledger and payout requests: keys, and the two writes every ledger change is
made of. A ledger entry is never edited or deleted; a wallet's balance is the sum of its entries because
each entry is put in the same transaction as the wallet update that adds its amount.

    wallet          ORG#<org>#WALLET#<partnerId> / WALLET                 gsi1 ORG#<org>#WALLETS / <partnerId>
    ledger entry    ORG#<org>#WALLET#<partnerId> / ENTRY#<at>#<entryId>   gsi1 ORG#<org>#LEDGER / <at>#<entryId>
    payout request  ORG#<org>#PAYOUT#<requestId> / REQUEST
                    gsi1 ORG#<org>#PAYOUTS#<status> / <requestedAt>#<requestId>      staff, by status
                    gsi2 ORG#<org>#WALLET#<partnerId>#PAYOUTS / <requestedAt>#<requestId>  a partner's own

The wallet carries the open request (open_request_id, open_request_amount): a partner has at most one,
and the available balance is the balance less its amount.

A wallet holds one currency, the organisation's commission plan currency. Amounts are integer minor units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from common.platform import clock, db
from common.platform.errors import Conflict


class EntryKind(StrEnum):
    COMMISSION = "commission"  # a level of a deal's commission
    REVERSAL = "reversal"  # undoes a commission entry when the deal moves to a "reverse" stage
    CORRECTION = "correction"  # a manual correction by staff, with a reason
    PAYOUT = "payout"  # a paid payout request


class PayoutStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    REJECTED = "rejected"


def wallet_pk(org_id: str, partner_id: str) -> str:
    return f"ORG#{org_id}#WALLET#{partner_id}"


def wallet_key(org_id: str, partner_id: str) -> db.Key:
    return {"pk": wallet_pk(org_id, partner_id), "sk": "WALLET"}


ENTRY_PREFIX = "ENTRY#"


def entry_key(org_id: str, partner_id: str, at: str, entry_id: str) -> db.Key:
    return {"pk": wallet_pk(org_id, partner_id), "sk": f"{ENTRY_PREFIX}{at}#{entry_id}"}


def payout_key(org_id: str, request_id: str) -> db.Key:
    return {"pk": f"ORG#{org_id}#PAYOUT#{request_id}", "sk": "REQUEST"}


def wallets_listing(org_id: str) -> str:
    return f"ORG#{org_id}#WALLETS"


def ledger_listing(org_id: str) -> str:
    return f"ORG#{org_id}#LEDGER"


def payouts_listing(org_id: str, status: str) -> str:
    return f"ORG#{org_id}#PAYOUTS#{status}"


def partner_payouts_listing(org_id: str, partner_id: str) -> str:
    return f"ORG#{org_id}#WALLET#{partner_id}#PAYOUTS"


# Deterministic entry ids: the same deal change and level (or payout request) always names the same entry,
# so a redelivered or repeated write finds it already there instead of paying twice. The change's number
# (its place in the deal's stage history) keeps a stage the deal re-entered apart from its earlier payment.
COMMISSION_PREFIX, REVERSAL_PREFIX = "C-", "R-"


def commission_entry_id(deal_id: str, stage_id: str, change: int, level: int) -> str:
    return f"{COMMISSION_PREFIX}{deal_id}-{stage_id}-{change}-{level}"


def reversal_entry_id(commission_entry_id: str) -> str:
    """A reversal is named after the commission entry it undoes: each is reversed at most once."""
    return REVERSAL_PREFIX + commission_entry_id.removeprefix(COMMISSION_PREFIX)


def payout_entry_id(request_id: str) -> str:
    return f"P-{request_id}"


@dataclass(frozen=True)
class Entry:
    org_id: str
    partner_id: str
    entry_id: str
    kind: EntryKind
    amount: int  # signed minor units
    currency: str
    at: str  # when it happened (the deal's stage change, the correction, the payment): orders the history
    description: str  # one line a partner understands, e.g. "Commission, level 2, deal <title>"
    details: dict[str, Any] = field(default_factory=dict)  # what explains it: deal, stage, level, rule, reason


def entry_item(entry: Entry) -> db.Item:
    key = entry_key(entry.org_id, entry.partner_id, entry.at, entry.entry_id)
    return {
        **key,
        "entity": "ledger_entry",
        "org_id": entry.org_id,
        "partner_id": entry.partner_id,
        "entry_id": entry.entry_id,
        "kind": entry.kind.value,
        "amount": entry.amount,
        "currency": entry.currency,
        "at": entry.at,
        "recorded_at": clock.now_iso(),
        "description": entry.description,
        "details": entry.details,
        "gsi1pk": ledger_listing(entry.org_id),
        "gsi1sk": f"{entry.at}#{entry.entry_id}",
    }


def entry_put(entry: Entry) -> dict[str, Any]:
    """The entry, only if it is not there yet (an entry is never overwritten)."""
    return db.tx_put(entry_item(entry), condition="attribute_not_exists(pk)")


def wallet_update(
    entry: Entry,
    *,
    condition: str | None = None,
    also_set: str = "",
    also_remove: str = "",
    names: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Add the entry's amount to its wallet (created on the first entry), in the transaction that puts the
    entry. The wallet keeps one currency. `condition`, `also_set` and `also_remove` extend the update for
    the write it is part of (a payment also closes the open request, for instance)."""
    wallet_condition = "(attribute_not_exists(currency) OR currency = :currency)"
    if condition:
        wallet_condition += f" AND ({condition})"
    expression = (
        "SET entity = :entity, org_id = :org, partner_id = :partner, currency = :currency, gsi1pk = :listing, "
        "gsi1sk = :partner, updated_at = :now, last_entry_at = :at"
        + (f", {also_set}" if also_set else "")
        + " ADD balance :amount, entry_count :one"
        + (f" REMOVE {also_remove}" if also_remove else "")
    )
    return db.tx_update(
        wallet_key(entry.org_id, entry.partner_id),
        expression=expression,
        condition=wallet_condition,
        names=names,
        values={
            ":entity": "wallet",
            ":org": entry.org_id,
            ":partner": entry.partner_id,
            ":currency": entry.currency,
            ":listing": wallets_listing(entry.org_id),
            ":now": clock.now_iso(),
            ":at": entry.at,
            ":amount": entry.amount,
            ":one": 1,
            **(values or {}),
        },
    )


def entry_actions(entry: Entry, **wallet_extras: Any) -> list[dict[str, Any]]:
    """The two writes of one ledger entry: the entry and its wallet's balance."""
    return [entry_put(entry), wallet_update(entry, **wallet_extras)]


class BalanceInsufficient(Conflict):
    code = "balance-insufficient"
    title = "The balance does not cover the amount"


class PayoutRequestOpen(Conflict):
    code = "payout-request-open"
    title = "A payout request is still open"


class PayoutSettled(Conflict):
    code = "payout-settled"
    title = "The payout request is already settled"
