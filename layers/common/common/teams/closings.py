"""Closings and their referral fees. A team records a closing when it closes a referred customer
(the status route's `closing`), or a further one of a customer already closed (a customer may close twice:
buy and sell, or again within the window). Each closing owes one fee, computed once from the agreement
version in force when the customer was referred: rate x commission, at least the minimum (in its currency),
due `due_days_after_close` after the close date; a closing after the window owes nothing and says why.

    closing  ORG#<org>#TEAM#<team>#FEES / CLOSING#<closingId>   entity "team_closing"
    fee      ORG#<org>#TEAM#<team>#FEES / FEE#<closingId>       entity "team_fee"

The closing's id is `<customer>-<side>-<closeDate>`: a redelivered request or racing ones name the same
items, and one TransactWriteItems writes the customer's status (conditioned on the version read), the
closing and the fee (`attribute_not_exists`), the fee's ledger entry and the team's balance
(common.teams.fee_ledger). Whoever loses a race reads again and finds the closing: the same figures are
the same closing (its answer, nothing written), other figures are 409 `closing-exists`; corrections go
through `correct`, which adjusts the fee with an explained adjustment entry.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from common.platform import clock, db, history
from common.platform.errors import Conflict, DomainError, Forbidden, NotFound, invalid
from common.teams import fee_agreements, fee_ledger, team_stats
from common.teams import fee_model as fm
from common.teams.fee_ledger import Done, Write
from common.teams.membership import TeamCaller
from common.teams.team_customers import HISTORY, get_customer
from common.teams.team_model import CustomerStatus, team_customer_key

FEE_ENTITY = "team_fee"
CLOSING_ENTITY = "team_closing"
FIGURES = ("sale_price", "commission", "currency")


class ClosingExists(Conflict):
    code = "closing-exists"
    title = "This closing is recorded with other figures"


class CustomerClosed(Conflict):
    code = "customer-closed"
    title = "The customer is closed already"


class CustomerNotClosed(Conflict):
    code = "customer-not-closed"
    title = "Only a closed customer has further closings"


class FeeSettled(Conflict):
    code = "fee-settled"
    title = "The fee was written off, or would owe less than was paid"


def _day(moment: str) -> date:
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).date()


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def fee_amount(commission: int, currency: str, terms: dict[str, Any]) -> tuple[int, int | None]:
    """The fee on a commission: rate x commission rounded half up, at least the minimum when the minimum is
    in the commission's currency. Returns the amount and the minimum that applied (None: none did)."""
    computed = (commission * int(terms["rate_bps"]) + fm.BPS // 2) // fm.BPS
    minimum = terms.get("minimum_fee") if terms.get("currency") == currency else None
    if minimum is not None and computed < int(minimum):
        return int(minimum), int(minimum)
    return computed, None


def new_fee(
    org_id: str, team_id: str, customer: dict[str, Any], closing: fm.Closing, closing_id: str, actor: str
) -> dict[str, Any]:
    """The fee a closing owes under the agreement in force when its customer was referred."""
    referred_at = str(customer["created_at"])
    terms = fee_agreements.in_force(org_id, team_id, referred_at, consistent=True)
    window_end = _midnight(_day(referred_at)) + timedelta(days=int(terms["window_days"]) + 1)
    amount, minimum = fee_amount(closing.commission, closing.currency, terms)
    breakdown = {
        "scope": terms["scope"],
        "agreement_id": terms.get("version_id"),
        "version": terms.get("effective_from"),
        "rate_bps": int(terms["rate_bps"]),
        "base": closing.commission,
        "minimum_fee": minimum,
        "computed": (closing.commission * int(terms["rate_bps"]) + fm.BPS // 2) // fm.BPS,
    }
    due = _midnight(closing.close_date) + timedelta(days=int(terms["due_days_after_close"]))
    at = clock.now_iso()
    fee: dict[str, Any] = {
        **fm.fee_key(org_id, team_id, closing_id),
        "entity": FEE_ENTITY,
        "org_id": org_id,
        "team_id": team_id,
        "fee_id": closing_id,
        "closing_id": closing_id,
        "customer_id": customer["customer_id"],
        "currency": closing.currency,
        "amount": amount,
        "late_fees": 0,
        "outstanding": amount,
        "status": fm.FeeStatus.OPEN.value if amount > 0 else fm.FeeStatus.PAID.value,
        "due_at": clock.iso(due),
        "referred_at": referred_at,
        "breakdown": breakdown,
        "terms": {
            **{k: terms[k] for k in ("reminder_days", "late_fee_bps", "late_fee_every_days", "pause_after_days")},
            "minimum_fee": terms.get("minimum_fee") if terms.get("currency") == closing.currency else None,
        },
        "reminders_done": 0,
        "late_periods": 0,
        "pause_counted": False,
        "created_at": at,
        "created_by": actor,
        "version": 1,
    }
    if _midnight(closing.close_date) >= window_end:
        last_day = (window_end - timedelta(days=1)).date().isoformat()
        fee |= {"amount": 0, "outstanding": 0, "status": fm.FeeStatus.NONE.value}
        fee["reason"] = (
            f"closed on {closing.close_date.isoformat()}, after the {terms['window_days']}-day window from the "
            f"referral on {_day(referred_at).isoformat()} (it ended on {last_day})"
        )
    return fee | fm.due_fields(fee)


def closing_item(org_id: str, team_id: str, customer_id: str, closing: fm.Closing, closing_id: str, actor: str) -> dict:
    return {
        **fm.closing_key(org_id, team_id, closing_id),
        "entity": CLOSING_ENTITY,
        "org_id": org_id,
        "team_id": team_id,
        "closing_id": closing_id,
        "customer_id": customer_id,
        "close_date": closing.close_date.isoformat(),
        "side": closing.side.value,
        "sale_price": closing.sale_price,
        "commission": closing.commission,
        "currency": closing.currency,
        "recorded_at": clock.now_iso(),
        "recorded_by": actor,
        "version": 1,
    }


def _same(existing: dict[str, Any], closing: fm.Closing) -> bool:
    return all(existing.get(k) == getattr(closing, k) for k in FIGURES)


def _check(customer: dict[str, Any], closing: fm.Closing) -> None:
    if closing.close_date > clock.now().date():
        raise invalid("body.closing.close_date", "must not be in the future")
    if closing.close_date < _day(str(customer["created_at"])):
        raise invalid("body.closing.close_date", "must not be before the customer was referred")


def _read(caller: TeamCaller, customer_id: str, closing_id: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    customer = get_customer(caller, customer_id)
    if not (caller.leads or customer.get("assignee_id") == caller.user_id):
        raise Forbidden("only the customer's assignee or the team's leader or admins record its closings")
    existing = db.get(fm.closing_key(caller.org_id, caller.team_id, closing_id), consistent=True)
    return customer, existing


def _writes(caller: TeamCaller, customer: dict[str, Any], closing: fm.Closing, closing_id: str) -> Write:
    """The closing, its fee and the fee's entry (none for a fee of 0)."""
    org_id, team_id = caller.org_id, caller.team_id
    fee = new_fee(org_id, team_id, customer, closing, closing_id, caller.actor)
    entries = []
    if fee["amount"] > 0:
        entries.append(
            fee_ledger.entry_fields(fm.FeeEntryKind.FEE, f"fee-{closing_id}", fee["amount"], fee, caller.actor)
        )
    actions = [
        db.tx_put(
            closing_item(org_id, team_id, customer["customer_id"], closing, closing_id, caller.actor),
            condition="attribute_not_exists(pk)",
        ),
        db.tx_put(fee, condition="attribute_not_exists(pk)"),
    ]

    def refused(failed: list[db.Item | None]) -> DomainError | None:
        found = failed[0]
        if found and not _same(found, closing):
            return ClosingExists(
                f"closing {closing_id} is recorded with other figures; correct it instead", conflicting_ids=[closing_id]
            )
        return None  # decided again: the closing (or the customer) as written meanwhile

    return Write(actions, entries, closing.currency, result=fee, refused=refused)


def close_customer(caller: TeamCaller, customer_id: str, closing: fm.Closing, note: str | None = None) -> db.Item:
    """Move the customer to `closed` with its closing: the customer's status (out of the due index, with a
    history entry naming the closing), the closing, its fee and ledger entry in one transaction."""
    closing_id = fm.closing_id_of(customer_id, closing.side.value, closing.close_date)

    def decide() -> Write | Done:
        customer, existing = _read(caller, customer_id, closing_id)
        if existing is not None:
            if not _same(existing, closing):
                raise ClosingExists(
                    f"closing {closing_id} is recorded with other figures; correct it instead",
                    conflicting_ids=[closing_id],
                )
            if customer["status"] == CustomerStatus.CLOSED.value:
                return Done(customer)
        elif customer["status"] == CustomerStatus.CLOSED.value:
            raise CustomerClosed(f"customer {customer_id} is closed: record a further closing at .../closings")
        _check(customer, closing)
        write = _writes(caller, customer, closing, closing_id)
        if existing is not None:  # reopened and closed again with the same closing: its fee stands
            write.actions, write.entries = [], []
        entry: dict[str, Any] = {
            "at": clock.now_iso(),
            "by": caller.actor,
            "event": "status",
            "status": CustomerStatus.CLOSED.value,
            "closing_id": closing_id,
        }
        if note:
            entry["note"] = note
        addition = history.Addition(HISTORY, [entry], customer)
        update = db.tx_update(
            team_customer_key(caller.org_id, caller.team_id, customer_id),
            expression="SET #status = :closed, last_updated_at = :at, updated_by = :by, version = version + :one, "
            f"{addition.expression} REMOVE due_at, gsi3pk, gsi3sk",
            condition=f"version = :version AND {addition.condition}",
            names={"#status": "status"},
            values={
                ":closed": CustomerStatus.CLOSED.value,
                ":at": entry["at"],
                ":by": caller.actor,
                ":one": 1,
                ":version": customer["version"],
                **addition.values,
            },
        )
        closed = addition.applied(
            {
                **customer,
                "status": CustomerStatus.CLOSED.value,
                "last_updated_at": entry["at"],
                "updated_by": caller.actor,
                "version": customer["version"] + 1,
            }
        )
        for name in ("due_at", "gsi3pk", "gsi3sk"):
            closed.pop(name, None)
        own = write.refused
        # A customer's first closing counts in the team's and the assignee's standards (close rate), in the
        # same transaction: a redelivery or a lost race counts nothing.
        counted = (
            team_stats.count_actions(
                caller.org_id, caller.team_id, team_stats.today(), {"closed": 1}, customer.get("assignee_id")
            )
            if existing is None
            else []
        )
        write.actions = [*write.actions, update, *addition.pages(), *counted]
        write.refused = lambda failed: own(failed[:2]) if existing is None else None
        write.result = closed
        return write

    return fee_ledger.run(caller.org_id, caller.team_id, decide)


def add_closing(caller: TeamCaller, customer_id: str, closing: fm.Closing) -> dict[str, Any]:
    """A further closing of a customer already closed: the closing, its fee and entry, with the customer
    held to `closed` in the same transaction. Returns the fee."""
    closing_id = fm.closing_id_of(customer_id, closing.side.value, closing.close_date)

    def decide() -> Write | Done:
        customer, existing = _read(caller, customer_id, closing_id)
        if existing is not None:
            if not _same(existing, closing):
                raise ClosingExists(
                    f"closing {closing_id} is recorded with other figures; correct it instead",
                    conflicting_ids=[closing_id],
                )
            return Done(db.get(fm.fee_key(caller.org_id, caller.team_id, closing_id), consistent=True))
        if customer["status"] != CustomerStatus.CLOSED.value:
            raise CustomerNotClosed(f"customer {customer_id} is not closed: close it with its status and closing")
        _check(customer, closing)
        write = _writes(caller, customer, closing, closing_id)
        write.actions.append(
            db.tx_check(
                team_customer_key(caller.org_id, caller.team_id, customer_id),
                condition="#status = :closed",
                names={"#status": "status"},
                values={":closed": CustomerStatus.CLOSED.value},
            )
        )
        own = write.refused
        write.refused = lambda failed: own(failed[:1])
        return write

    return fee_ledger.run(caller.org_id, caller.team_id, decide)


def get_closing(org_id: str, team_id: str, closing_id: str) -> db.Item:
    item = db.get(fm.closing_key(org_id, team_id, closing_id), consistent=True)
    if item is None:
        raise NotFound(f"closing {closing_id} not found")
    return item


def correct(org_id: str, team_id: str, closing_id: str, correction: fm.ClosingCorrection, actor: str) -> db.Item:
    """New figures for a closing: its fee recomputed with the terms it was computed with, the difference an
    adjustment entry explained by the correction's note, all in one transaction conditioned on the closing's
    version and the fee's outstanding amount as read. A fee written off is not corrected (409), nor one that
    would come to less than was already paid (409: refund outside, then adjust). Returns the fee."""

    def decide() -> Write | Done:
        keys = [fm.closing_key(org_id, team_id, closing_id), fm.fee_key(org_id, team_id, closing_id)]
        found = {i["sk"]: i for i in db.batch_get(keys, consistent=True)}
        closing, fee = found.get(keys[0]["sk"]), found.get(keys[1]["sk"])
        if closing is None or fee is None:
            raise NotFound(f"closing {closing_id} not found")
        if fee["status"] == fm.FeeStatus.WRITTEN_OFF.value:
            raise FeeSettled(f"the fee of closing {closing_id} was written off", conflicting_ids=[closing_id])
        version = int(closing["version"]) + 1
        at = clock.now_iso()
        change = {
            "at": at,
            "by": actor,
            "note": correction.note,
            "version": version,
            **{f"from_{k}": closing[k] for k in ("sale_price", "commission")},
            "sale_price": correction.sale_price,
            "commission": correction.commission,
        }
        closing_update = db.tx_update(
            fm.closing_key(org_id, team_id, closing_id),
            expression="SET sale_price = :price, commission = :commission, version = :next, corrected_at = :at, "
            "corrections = list_append(if_not_exists(corrections, :none), :change)",
            condition="version = :read",
            values={
                ":price": correction.sale_price,
                ":commission": correction.commission,
                ":next": version,
                ":at": at,
                ":none": [],
                ":change": [change],
                ":read": closing["version"],
            },
        )
        if fee["status"] == fm.FeeStatus.NONE.value:
            return Write([closing_update], result={**fee, "base_corrected": True})
        breakdown = dict(fee["breakdown"])
        terms = {
            "rate_bps": breakdown["rate_bps"],
            "minimum_fee": fee["terms"].get("minimum_fee"),
            "currency": fee["currency"],
        }
        amount, minimum = fee_amount(correction.commission, str(fee["currency"]), terms)
        delta = amount - int(fee["amount"])
        if int(fee["outstanding"]) + delta < 0:
            raise FeeSettled(
                f"the fee would come to {amount}, less than the {int(fee['amount']) - int(fee['outstanding'])} "
                "already paid or adjusted",
                conflicting_ids=[closing_id],
            )
        breakdown |= {
            "base": correction.commission,
            "minimum_fee": minimum,
            "computed": (correction.commission * int(breakdown["rate_bps"]) + fm.BPS // 2) // fm.BPS,
        }
        if delta == 0:
            return Write(
                [closing_update, *fee_ledger.outstanding_change(fee, 0, extra={"breakdown": breakdown})],
                result={**fee, "breakdown": breakdown},
            )
        extra = {"amount": amount, "breakdown": breakdown}
        entry = fee_ledger.entry_fields(
            fm.FeeEntryKind.ADJUSTMENT, f"corr-{closing_id}-{version}", delta, fee, actor, at=at, note=correction.note
        )
        result = {**fee, **extra, "outstanding": int(fee["outstanding"]) + delta}
        return Write(
            [closing_update, *fee_ledger.outstanding_change(fee, delta, extra=extra)],
            [entry],
            str(fee["currency"]),
            result=result,
        )

    fee_ledger.run(org_id, team_id, decide)
    return db.get(fm.fee_key(org_id, team_id, closing_id), consistent=True) or {}
