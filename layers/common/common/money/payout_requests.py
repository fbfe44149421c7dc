"""Payout requests (seed 004): a partner asks to be paid part of their balance; staff pay it or reject it.

    request  ORG#<org>#PAYOUT#<req> / REQUEST     entity "payout_request" (keys in common.money.wallets)
             gsi1 ORG#<org>#PAYOUTS#<status> / <requestedAt>#<req>            staff, by status, newest first
             gsi2 ORG#<org>#WALLET#<partner>#PAYOUTS / <requestedAt>#<req>    the partner's own, newest first

A partner has at most one unsettled request: the wallet names it (open_request_id, open_request_amount).
Every command is one transaction of the request and the wallet, so the two never disagree:
- request: put the request + mark the wallet, if it has no open request and its balance covers the amount;
- pay:     the request pending -> paid + the payout entry (negative amount) and its wallet update, which
           also closes the open request, if the balance still covers it (common.money.wallets.entry_actions);
- reject:  the request pending -> rejected with the reason + close the open request (no ledger entry).
The first of racing commands wins by these conditions; the others are refused from the items the
cancelled transaction returns, without another read.

Who on the staff settled a request (settled_by) is for staff only: the partner's view (PayoutRequest) does
not declare it, staff's (StaffPayoutRequest) does.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from common.money import plans
from common.money.in_currency import InCurrency
from common.money.wallets import (
    BalanceInsufficient,
    Entry,
    EntryKind,
    PayoutRequestOpen,
    PayoutSettled,
    PayoutStatus,
    entry_actions,
    partner_payouts_listing,
    payout_entry_id,
    payout_key,
    payouts_listing,
    wallet_key,
)
from common.orgs.access import user_actor
from common.partners.partner_records import node_key
from common.platform import clock, db, ids, listings
from common.platform.answers import Answer, Timestamp
from common.platform.errors import Conflict, DomainError, NotFound
from common.platform.validation import SINGLE_LINE

S = PayoutStatus
MAX_AMOUNT = 10**12

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), SINGLE_LINE]


class NewPayoutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"amount": 100000}]})
    amount: Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT, description="minor units of the wallet's currency")]


class Rejection(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "No invoice attached: send one and request again"}]}
    )
    reason: Reason = Field(description="why the request is rejected: the partner reads it in the e-mail")


class _OurOwnWrite(Conflict):
    """The transaction was applied by an earlier attempt of this very call (its answer was lost)."""


def _transact(actions: list[dict[str, Any]], refusal: db.CancelHandler, client: Any) -> None:
    """One transaction; its refusal from the items the cancellation returns, unless they show it applied."""
    with contextlib.suppress(_OurOwnWrite):
        db.transact(actions, on_cancel=refusal, client=client)


# -- answers ---------------------------------------------------------------------------------------


class PayoutRequest(NewPayoutRequest, InCurrency):
    """A payout request as its partner sees it: who on the staff settled it is not theirs to see."""

    # An answer (extra attributes ignored), without the input's example.
    model_config = Answer.model_config
    org_id: str
    request_id: str
    partner_id: str
    currency: str = Field(description="ISO 4217: the programme's")
    status: PayoutStatus
    requested_at: Timestamp
    settled_at: Timestamp | None = Field(None, description="when it was paid or rejected")
    reject_reason: str | None = None


class StaffPayoutRequest(PayoutRequest):
    """A payout request as staff see it: who settled it, and the partner's name."""

    settled_by: str | None = Field(None, description="user:<id> of who paid or rejected it")
    partner_name: str | None = Field(None, description="null when the partner is no longer in the organisation")


class WalletSummary(Answer):
    balance: int = Field(description="minor units")
    available: int = Field(description="the balance less the open request's amount")
    open_request_id: str | None = None


class PayoutRequestDetail(StaffPayoutRequest):
    """One request with what staff decide on: the partner's wallet as it is now."""

    wallet: WalletSummary = Field(description="the partner's wallet as it is now")


def _available(wallet: db.Item) -> int:
    return int(wallet.get("balance", 0)) - int(wallet.get("open_request_amount", 0))


# -- request ---------------------------------------------------------------------------------------


def request_payout(org_id: str, partner_id: str, new: NewPayoutRequest, *, client: Any = None) -> db.Item:
    """File the partner's request: one transaction, refused when a request is open (409
    payout-request-open) or the balance does not cover the amount (409 balance-insufficient)."""
    amount = new.amount
    currency = plans.programme_currency(org_id, client=client)
    request_id, at = ids.new_id(), clock.now_iso()
    item = {
        **payout_key(org_id, request_id),
        "entity": "payout_request",
        "org_id": org_id,
        "request_id": request_id,
        "partner_id": partner_id,
        "amount": amount,
        "currency": currency,
        "status": S.PENDING.value,
        "requested_at": at,
        "updated_at": at,
        "gsi1pk": payouts_listing(org_id, S.PENDING.value),
        "gsi1sk": f"{at}#{request_id}",
        "gsi2pk": partner_payouts_listing(org_id, partner_id),
        "gsi2sk": f"{at}#{request_id}",
    }

    def refusal(failed: list[db.Item | None]) -> DomainError:
        if failed[0] is not None:  # a fresh id is never taken: the request is there from a lost attempt
            return _OurOwnWrite(request_id)
        wallet = failed[1] or {}
        if wallet.get("open_request_id"):
            open_id = wallet["open_request_id"]
            return PayoutRequestOpen(f"payout request {open_id} is not settled yet", conflicting_ids=[open_id])
        if wallet and wallet.get("currency") != currency:
            return Conflict(f"the wallet holds {wallet.get('currency')}, the programme pays in {currency}")
        return BalanceInsufficient(
            f"the available balance is {_available(wallet)} (minor units of {currency}); requested {amount}"
        )

    _transact(
        [
            db.tx_put(item, condition="attribute_not_exists(pk)"),
            db.tx_update(
                wallet_key(org_id, partner_id),
                expression="SET open_request_id = :rid, open_request_amount = :amount, updated_at = :now",
                condition="attribute_exists(pk) AND attribute_not_exists(open_request_id) "
                "AND currency = :currency AND balance >= :amount",
                values={":rid": request_id, ":amount": amount, ":currency": currency, ":now": at},
            ),
        ],
        refusal,
        client,
    )
    return item


# -- reads -----------------------------------------------------------------------------------------


def find(org_id: str, request_id: str, *, client: Any = None) -> db.Item:
    item = db.get(payout_key(org_id, request_id), consistent=True, client=client)
    if item is None:
        raise NotFound(f"payout request {request_id} not found")
    return item


def partner_requests(
    org_id: str, partner_id: str, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[db.Item], str | None]:
    """A partner's requests in the organisation, newest first."""
    return listings.query_index(
        listings.IndexKey("gsi2", partner_payouts_listing(org_id, partner_id)),
        newest_first=True,
        cursor=cursor,
        limit=limit,
        client=client,
    )


def list_requests(
    org_id: str, status: PayoutStatus, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[StaffPayoutRequest], str | None]:
    """The organisation's requests in one status, newest first, each with its partner's name (one
    BatchGetItem of their nodes)."""
    items, next_cursor = listings.query_index(
        listings.IndexKey("gsi1", payouts_listing(org_id, status.value)),
        newest_first=True,
        cursor=cursor,
        limit=limit,
        client=client,
    )
    return with_names(org_id, items, client=client), next_cursor


def with_names(org_id: str, items: list[db.Item], *, client: Any = None) -> list[StaffPayoutRequest]:
    """Requests as staff see them, each with its partner's name (one BatchGetItem of their nodes)."""
    partner_ids = sorted({i["partner_id"] for i in items})
    nodes = db.batch_get([node_key(org_id, p) for p in partner_ids], client=client) if partner_ids else []
    names = {n["partner_id"]: n.get("name") for n in nodes}
    return [StaffPayoutRequest.of(i, partner_name=names.get(i["partner_id"])) for i in items]


def as_staff_see_it(org_id: str, request: db.Item, *, client: Any = None) -> StaffPayoutRequest:
    """One request (e.g. as paying or rejecting it left it) as staff see it, with its partner's name."""
    [named] = with_names(org_id, [request], client=client)
    return named


def detail(org_id: str, request_id: str, *, client: Any = None) -> PayoutRequestDetail:
    """One request with its partner's name and wallet (balance, open request): what staff decide on."""
    request = find(org_id, request_id, client=client)
    partner_id = request["partner_id"]
    keys = [node_key(org_id, partner_id), wallet_key(org_id, partner_id)]
    found = {i["sk"]: i for i in db.batch_get(keys, consistent=True, client=client)}
    node, wallet = found.get(keys[0]["sk"]), found.get(keys[1]["sk"]) or {}
    summary = WalletSummary(
        balance=int(wallet.get("balance", 0)),
        available=_available(wallet),
        open_request_id=wallet.get("open_request_id"),
    )
    return PayoutRequestDetail.of(request, partner_name=(node or {}).get("name"), wallet=summary)


# -- settle ----------------------------------------------------------------------------------------


def _settlement(request: db.Item, status: PayoutStatus, by: str, **extra: Any) -> tuple[dict[str, Any], db.Item]:
    """The update that settles a pending request, and the request as it will be after it."""
    at = clock.now_iso()
    changes = {
        "status": status.value,
        "settled_at": at,
        "settled_by": by,
        # Marks the write that settled it: an attempt whose answer was lost (and is retried) is recognised
        # as ours, not as a second settlement. Never answered (no answer model declares it).
        "settle_id": ids.new_id(),
        "updated_at": at,
        "gsi1pk": payouts_listing(request["org_id"], status.value),
        **extra,
    }
    names = {f"#c{i}": k for i, k in enumerate(changes)}
    action = db.tx_update(
        payout_key(request["org_id"], request["request_id"]),
        expression="SET " + ", ".join(f"#c{i} = :c{i}" for i in range(len(changes))),
        condition="#status = :pending",
        names={**names, "#status": "status"},
        values={":pending": S.PENDING.value, **{f":c{i}": v for i, v in enumerate(changes.values())}},
    )
    return action, {**request, **changes}


def _settled_refusal(current: db.Item, settled: db.Item) -> DomainError:
    if current.get("settle_id") == settled["settle_id"]:
        return _OurOwnWrite(settled["request_id"])
    return PayoutSettled(f"the payout request is already {current.get('status', 'gone')}")


def _pending(org_id: str, request_id: str, client: Any) -> db.Item:
    request = find(org_id, request_id, client=client)
    if request["status"] != S.PENDING.value:
        raise PayoutSettled(f"the payout request is already {request['status']}")
    return request


def pay(org_id: str, request_id: str, user_id: str, *, client: Any = None) -> db.Item:
    """Pay a pending request: it becomes paid and the partner's balance drops by its amount through a
    payout entry, in one transaction. Paid or rejected already: 409 payout-settled. The balance no longer
    covers it (a correction since): 409 balance-insufficient, and the request stays pending."""
    request = _pending(org_id, request_id, client)
    by = user_actor(user_id)
    amount, partner_id, currency = int(request["amount"]), request["partner_id"], request["currency"]
    settle, settled = _settlement(request, S.PAID, by)
    entry = Entry(
        org_id=org_id,
        partner_id=partner_id,
        entry_id=payout_entry_id(request_id),
        kind=EntryKind.PAYOUT,
        amount=-amount,
        currency=currency,
        at=settled["settled_at"],
        description=f"Payout (request {request_id})",
        details={"request_id": request_id, "by": by},
    )
    wallet_writes = entry_actions(
        entry,
        condition="open_request_id = :rid AND balance >= :requested",
        also_remove="open_request_id, open_request_amount",
        values={":rid": request_id, ":requested": amount},
    )

    def refusal(failed: list[db.Item | None]) -> DomainError:
        if failed[0] is not None:
            return _settled_refusal(failed[0], settled)
        if failed[1] is not None:  # the payout entry exists: the request was paid
            return PayoutSettled("the payout request is already paid")
        wallet = failed[2] or {}
        if wallet.get("open_request_id") != request_id:
            return Conflict("the wallet does not hold this request open")
        return BalanceInsufficient(
            f"the balance is {wallet.get('balance', 0)} (minor units of {currency}); the request is for {amount}"
        )

    _transact([settle, *wallet_writes], refusal, client)
    return settled


def reject(org_id: str, request_id: str, user_id: str, rejection: Rejection, *, client: Any = None) -> db.Item:
    """Reject a pending request with a reason and close it on the wallet (one transaction, no ledger
    entry): the partner may request again. Settled already: 409 payout-settled."""
    request = _pending(org_id, request_id, client)
    settle, settled = _settlement(request, S.REJECTED, user_actor(user_id), reject_reason=rejection.reason)

    def refusal(failed: list[db.Item | None]) -> DomainError:
        if failed[0] is not None:
            return _settled_refusal(failed[0], settled)
        return Conflict("the wallet does not hold this request open")

    close = db.tx_update(
        wallet_key(org_id, request["partner_id"]),
        expression="SET updated_at = :now REMOVE open_request_id, open_request_amount",
        condition="open_request_id = :rid",
        values={":rid": request_id, ":now": settled["settled_at"]},
    )
    _transact([settle, close], refusal, client)
    return settled
