"""The writes of the commission cascade: a deal's commission record and the ledger entries of a payment or
its reversal, in ONE TransactWriteItems per deal change. The record is what makes the cascade at most once:

    deal commission  ORG#<org>#DEAL#<dealId> / COMMISSION   (entity deal_commission)
        paid_stages   stage ids that have paid (a stage pays at most once per deal)
        live          whether a payment is in force (not reversed): then no other stage pays
        live_stage, live_entries [{partner_id, level, amount, entry_id}]   what a reversal undoes
        computations  every decision with its breakdown: stage, changed_at, plan version, currency, levels,
                      total, action paid | reversed | nothing-to-pay (and why)
        changes       "<changedAt>#<stageId>" of every change recorded, so a redelivered change records nothing

A payment's transaction holds the record update (condition: no record yet, or nothing live and this stage
never paid) and, per paid level, the entry (deterministic id, put only if absent) and its wallet's balance:
a redelivered record, a re-processed batch or a deal moving back and forth fails the record's condition and
changes nothing. A reversal is conditioned on the payment it undoes being the live one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from . import clock, db, deals, wallet_model
from .errors import Conflict, DomainError
from .observability import logger, metrics
from .wallet_model import Entry, EntryKind

# Changes that paid nothing are recorded up to this many (each holds a full breakdown); payments and their
# reversals are bounded by the workflow's stages, so the record stays far below DynamoDB's 400 KB.
MAX_UNPAID_RECORDED = 40


@dataclass(frozen=True)
class Change:
    """A deal's move to a stage that computes or reverses commission, as the stream record tells it."""

    org_id: str
    deal_id: str
    stage_id: str
    stage_name: str
    changed_at: str  # the moment of the change: the plan in force then applies, and entries carry it

    @property
    def key(self) -> str:
        return f"{self.changed_at}#{self.stage_id}"


class _AlreadyDone(Conflict):
    """The record's condition failed: this change (or an equivalent one) was already handled."""


def record_key(org_id: str, deal_id: str) -> db.Key:
    return {"pk": deals.deal_pk(org_id, deal_id), "sk": "COMMISSION"}


def record_view(deal_id: str, record: db.Item | None) -> dict[str, Any]:
    """What was paid or reversed on a deal and why; empty when the cascade never acted on it."""
    record = record or {}
    return {
        "deal_id": deal_id,
        "currency": record.get("currency"),
        "paid_stages": list(record.get("paid_stages") or []),
        "live": bool(record.get("live")),
        "live_stage": record.get("live_stage"),
        "live_entries": list(record.get("live_entries") or []),
        "computations": list(record.get("computations") or []),
    }


def computation(
    change: Change,
    action: str,
    *,
    plan_version: int | None,
    currency: str | None,
    levels: list[dict[str, Any]],
    reason: str | None = None,
) -> dict[str, Any]:
    return {
        "stage_id": change.stage_id,
        "stage_name": change.stage_name,
        "changed_at": change.changed_at,
        "action": action,
        "reason": reason,
        "plan_version": plan_version,
        "currency": currency,
        "levels": levels,
        "total": sum(int(level["amount"]) for level in levels),
        "processed_at": clock.now_iso(),
    }


def _record_update(change: Change, expression: str, condition: str, values: dict[str, Any]) -> dict[str, Any]:
    return db.tx_update(
        record_key(change.org_id, change.deal_id),
        expression="SET entity = :entity, org_id = :org, deal_id = :deal, updated_at = :now, "
        "computations = list_append(if_not_exists(computations, :empty), :computation), "
        "changes = list_append(if_not_exists(changes, :empty), :change), " + expression + " ADD version :one",
        condition=condition,
        values={
            ":entity": "deal_commission",
            ":org": change.org_id,
            ":deal": change.deal_id,
            ":now": clock.now_iso(),
            ":empty": [],
            ":change": [change.key],
            ":one": 1,
            **values,
        },
    )


def _write(change: Change, actions: list[dict[str, Any]]) -> bool:
    """One transaction; False when the record's condition failed (already done), any other refusal raises."""

    def refusal(failed: list[db.Item | None]) -> DomainError:
        if failed[0] is not None:
            return _AlreadyDone(f"deal {change.deal_id}: change {change.key} already handled")
        return Conflict(f"deal {change.deal_id}: commission entries refused at positions {_failed_at(failed)}")

    try:
        db.transact(actions, on_cancel=refusal)
    except _AlreadyDone:
        logger.info("commission change already handled", extra=_ids(change))
        return False
    return True


def _failed_at(failed: list[db.Item | None]) -> list[int]:
    return [i for i, item in enumerate(failed) if item is not None]


def _ids(change: Change) -> dict[str, str]:
    return {"org_id": change.org_id, "deal_id": change.deal_id, "stage_id": change.stage_id}


def pay(change: Change, *, plan_version: int, currency: str, levels: list[dict[str, Any]]) -> int:
    """Pay the levels with an amount: one entry each, the record made live. Returns the entries written
    (0 when the change was already handled)."""
    paid = [level for level in levels if level["amount"] > 0]
    entries = [
        Entry(
            org_id=change.org_id,
            partner_id=level["partner_id"],
            entry_id=wallet_model.commission_entry_id(change.deal_id, change.stage_id, level["level"]),
            kind=EntryKind.COMMISSION,
            amount=int(level["amount"]),
            currency=currency,
            at=change.changed_at,
            description=f"Commission, level {level['level']}, deal {change.deal_id} at {change.stage_name}",
            details={"deal_id": change.deal_id, "stage_id": change.stage_id, "stage_name": change.stage_name}
            | {k: level[k] for k in ("level", "rule", "base", "percent", "fixed", "cap", "capped", "plan_version")},
        )
        for level in paid
    ]
    live = [
        {"partner_id": e.partner_id, "level": e.details["level"], "amount": e.amount, "entry_id": e.entry_id}
        for e in entries
    ]
    record = _record_update(
        change,
        "currency = :currency, paid_stages = list_append(if_not_exists(paid_stages, :empty), :stages), "
        "live = :true, live_stage = :stage, live_entries = :live",
        "attribute_not_exists(pk) OR (live = :false AND NOT contains(paid_stages, :stage) "
        "AND NOT contains(changes, :key))",
        {
            ":key": change.key,
            ":currency": currency,
            ":stages": [change.stage_id],
            ":true": True,
            ":false": False,
            ":stage": change.stage_id,
            ":live": live,
            ":computation": [computation(change, "paid", plan_version=plan_version, currency=currency, levels=levels)],
        },
    )
    if not _write(change, [record, *(a for e in entries for a in wallet_model.entry_actions(e))]):
        return 0
    metrics.add_metric(name="CommissionEntries", unit=MetricUnit.Count, value=len(entries))
    logger.info("commission paid", extra=_ids(change) | {"entries": len(entries), "plan_version": plan_version})
    return len(entries)


def record_unpaid(change: Change, record: db.Item | None, decision: dict[str, Any]) -> None:
    """A change that pays nothing (no plan in force, every level skipped): its breakdown is recorded, so
    "why nothing" can be told, once per change."""
    if len((record or {}).get("computations") or []) >= MAX_UNPAID_RECORDED:
        logger.info("commission decision not recorded: the record is full", extra=_ids(change))
        return
    update = _record_update(
        change,
        "live = if_not_exists(live, :false), paid_stages = if_not_exists(paid_stages, :empty)",
        "attribute_not_exists(pk) OR NOT contains(changes, :key)",
        {":false": False, ":key": change.key, ":computation": [decision]},
    )
    if _write(change, [update]):
        logger.info("commission: nothing to pay", extra=_ids(change) | {"reason": decision["reason"]})


def reverse(change: Change, record: db.Item) -> int:
    """Undo the live payment: a reversing entry per paid level (the balance may go negative), the record
    no longer live. Returns the entries written (0 when nothing was live or it was already reversed)."""
    if not record.get("live"):
        return 0
    paid_stage, currency = str(record["live_stage"]), str(record["currency"])
    entries = [
        Entry(
            org_id=change.org_id,
            partner_id=live["partner_id"],
            entry_id=wallet_model.reversal_entry_id(change.deal_id, paid_stage, int(live["level"])),
            kind=EntryKind.REVERSAL,
            amount=-int(live["amount"]),
            currency=currency,
            at=change.changed_at,
            description=f"Reversal of the level {live['level']} commission, deal {change.deal_id} "
            f"at {change.stage_name}",
            details={
                "deal_id": change.deal_id,
                "stage_id": change.stage_id,
                "stage_name": change.stage_name,
                "level": live["level"],
                "paid_stage_id": paid_stage,
                "reversed_entry_id": live["entry_id"],
            },
        )
        for live in record.get("live_entries") or []
    ]
    levels = [
        {"level": e.details["level"], "partner_id": e.partner_id, "amount": e.amount, "entry_id": e.entry_id}
        for e in entries
    ]
    update = _record_update(
        change,
        "live = :false, live_entries = :empty REMOVE live_stage",
        "live = :true AND live_stage = :paid",
        {
            ":false": False,
            ":true": True,
            ":paid": paid_stage,
            ":computation": [
                computation(change, "reversed", plan_version=None, currency=currency, levels=levels)
                | {"reversed_stage_id": paid_stage}
            ],
        },
    )
    if not _write(change, [update, *(a for e in entries for a in wallet_model.entry_actions(e))]):
        return 0
    metrics.add_metric(name="CommissionsReversed", unit=MetricUnit.Count, value=len(entries))
    logger.info("commission reversed", extra=_ids(change) | {"entries": len(entries), "paid_stage_id": paid_stage})
    return len(entries)
