"""The writes of the commission cascade: a deal's commission record and the ledger entries of a payment or
its reversal, in ONE TransactWriteItems per deal change. The record is what makes the cascade correct
whatever order the deal's changes arrive in, and however often:

    deal commission  ORG#<org>#DEAL#<dealId> / COMMISSION   (entity deal_commission)
        applied_change  the number of the newest stage change of the deal the record has applied (a deal's
                        n-th stage change is entry n of its stage history, deal_records.STAGE_HISTORY, whether
                        the deal still holds it or a history page does); an older or equal change is ignored
        live            whether a payment is in force (not reversed): then no compute change pays
        live_stage, live_change, live_entries [{partner_id, level, amount, entry_id}]   what a reversal undoes
        paid_stages     the stages that paid, in order (a stage again when the deal re-entered it): the newest
                        MAX_RECORDED of them, the older only counted in paid_stages_omitted
        computations    the decisions with their breakdowns (at most MAX_RECORDED, then only counted in
                        computations_omitted): change, stage, changed_at, plan version, currency, levels,
                        total, action paid | reversed | nothing-to-pay (and why)
        version         one more with every write: each write is conditioned on the version it was decided on

Every write is conditioned on the record's version as read, so of two deliveries deciding at once one writes
and the other re-reads and finds the change applied. A payment's transaction holds the record update and,
per paid level, the entry (deterministic id naming the deal, stage, change and level; put only if absent)
and its wallet's balance. A reversal's entries are named after the entries they reverse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from common.deals import deal_records
from common.money import wallets
from common.money.wallets import Entry, EntryKind
from common.platform import clock, db
from common.platform.errors import Conflict, DomainError
from common.platform.observability import logger, metrics

# Each decision holds a full breakdown (at most 10 levels); this many keep the record far below DynamoDB's
# 400 KB however often a deal moves back and forth. The ledger entries explain every payment either way.
MAX_RECORDED = 60


@dataclass(frozen=True)
class Change:
    """A deal's stage change to a stage that computes or reverses commission, as its history entry tells it."""

    org_id: str
    deal_id: str
    number: int  # the deal's n-th stage change: its position in stage_history (the creation is 0)
    stage_id: str
    stage_name: str
    changed_at: str  # the moment of the change: the plan in force then applies, and entries carry it
    setting: str  # compute or reverse: the stage's setting when the deal moved


class RecordChanged(Conflict):
    """The record's condition failed: another delivery wrote it since it was read."""


def record_key(org_id: str, deal_id: str) -> db.Key:
    return {"pk": deal_records.deal_pk(org_id, deal_id), "sk": "COMMISSION"}


def applied_change(record: db.Item | None, history: Sequence[db.Item], first: int = 0) -> int:
    """The newest change the record applied. A record written before changes were numbered lists the
    changes it handled as "<changedAt>#<stageId>": the newest of those in the deal's history (`history`
    holding its entries from number `first` on)."""
    if record is None:
        return 0
    if "applied_change" in record:
        return int(record["applied_change"])
    handled = set(record.get("changes") or [])
    held = enumerate(history, start=first)
    return max((n for n, e in held if f"{e.get('at')}#{e.get('stage_id')}" in handled), default=0)


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
        "change": change.number,
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


def _record_update(
    change: Change, record: db.Item | None, expression: str, decision: dict[str, Any], values: dict[str, Any]
) -> dict[str, Any]:
    """The record's part of a change's transaction: the change applied and its decision recorded (while
    there is room), conditioned on the record being as read."""
    recorded = len((record or {}).get("computations") or []) < MAX_RECORDED
    sets = "SET entity = :entity, org_id = :org, deal_id = :deal, updated_at = :now, applied_change = :number"
    if recorded:
        sets += ", computations = list_append(if_not_exists(computations, :empty), :computation)"
    adds = " ADD version :one" + ("" if recorded else ", computations_omitted :one")
    condition = "attribute_not_exists(pk)" if record is None else "version = :seen"
    return db.tx_update(
        record_key(change.org_id, change.deal_id),
        expression=sets + (f", {expression}" if expression else "") + adds,
        condition=condition,
        values={
            ":entity": "deal_commission",
            ":org": change.org_id,
            ":deal": change.deal_id,
            ":now": clock.now_iso(),
            ":number": change.number,
            ":empty": [],
            ":one": 1,
            **({":computation": [decision]} if recorded else {}),
            **({} if record is None else {":seen": record["version"]}),
            **values,
        },
    )


def _write(change: Change, actions: list[dict[str, Any]]) -> None:
    """One transaction. RecordChanged when the record is no longer as read; any other refusal raises too."""

    def refusal(failed: list[db.Item | None]) -> DomainError:
        if failed[0] is not None:
            return RecordChanged(f"deal {change.deal_id}: its commission record changed meanwhile")
        return Conflict(f"deal {change.deal_id}: commission entries refused at positions {_failed_at(failed)}")

    db.transact(actions, on_cancel=refusal)


def _failed_at(failed: list[db.Item | None]) -> list[int]:
    return [i for i, item in enumerate(failed) if item is not None]


def _ids(change: Change) -> dict[str, Any]:
    return {"org_id": change.org_id, "deal_id": change.deal_id, "stage_id": change.stage_id, "change": change.number}


def pay(
    change: Change, record: db.Item | None, *, plan_version: int, currency: str, levels: list[dict[str, Any]]
) -> int:
    """Pay the levels with an amount: one entry each, the record made live. Returns the entries written."""
    paid = [level for level in levels if level["amount"] > 0]
    entries = [
        Entry(
            org_id=change.org_id,
            partner_id=level["partner_id"],
            entry_id=wallets.commission_entry_id(change.deal_id, change.stage_id, change.number, level["level"]),
            kind=EntryKind.COMMISSION,
            amount=int(level["amount"]),
            currency=currency,
            at=change.changed_at,
            description=f"Commission, level {level['level']}, deal {change.deal_id} at {change.stage_name}",
            details={"deal_id": change.deal_id, "stage_id": change.stage_id, "stage_name": change.stage_name}
            | {"change": change.number}
            | {k: level[k] for k in ("level", "rule", "base", "percent", "fixed", "cap", "capped", "plan_version")},
        )
        for level in paid
    ]
    live = [
        {"partner_id": e.partner_id, "level": e.details["level"], "amount": e.amount, "entry_id": e.entry_id}
        for e in entries
    ]
    decision = computation(change, "paid", plan_version=plan_version, currency=currency, levels=levels)
    # The record is written as read (its version): the list of paid stages keeps its newest entries.
    paid_stages = [*((record or {}).get("paid_stages") or []), change.stage_id]
    omitted = max(0, len(paid_stages) - MAX_RECORDED)
    update = _record_update(
        change,
        record,
        "currency = :currency, paid_stages = :stages, live = :true, live_stage = :stage, live_change = :number, "
        "live_entries = :live"
        + (", paid_stages_omitted = if_not_exists(paid_stages_omitted, :zero) + :omitted" if omitted else ""),
        decision,
        {
            ":currency": currency,
            ":stages": paid_stages[omitted:],
            ":true": True,
            ":stage": change.stage_id,
            ":live": live,
        }
        | ({":zero": 0, ":omitted": omitted} if omitted else {}),
    )
    _write(change, [update, *(a for e in entries for a in wallets.entry_actions(e))])
    metrics.add_metric(name="CommissionEntries", unit=MetricUnit.Count, value=len(entries))
    logger.info("commission paid", extra=_ids(change) | {"entries": len(entries), "plan_version": plan_version})
    return len(entries)


def record_unpaid(change: Change, record: db.Item | None, decision: dict[str, Any]) -> None:
    """A compute change that pays nothing (no plan in force, every level skipped): applied, with its
    breakdown, so "why nothing" can be told and the change is never decided again."""
    update = _record_update(
        change,
        record,
        "live = if_not_exists(live, :false), paid_stages = if_not_exists(paid_stages, :empty)",
        decision,
        {":false": False},
    )
    _write(change, [update])
    logger.info("commission: nothing to pay", extra=_ids(change) | {"reason": decision["reason"]})


def reverse(change: Change, record: db.Item) -> int:
    """Undo the live payment: a reversing entry per paid level (the balance may go negative), the record
    no longer live. Returns the entries written."""
    paid_stage, currency = str(record["live_stage"]), str(record["currency"])
    entries = [
        Entry(
            org_id=change.org_id,
            partner_id=live["partner_id"],
            entry_id=wallets.reversal_entry_id(str(live["entry_id"])),
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
                "change": change.number,
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
    decision = computation(change, "reversed", plan_version=None, currency=currency, levels=levels) | {
        "reversed_stage_id": paid_stage,
        "reversed_change": record.get("live_change"),
    }
    update = _record_update(
        change,
        record,
        "live = :false, live_entries = :empty REMOVE live_stage, live_change",
        decision,
        {":false": False},
    )
    _write(change, [update, *(a for e in entries for a in wallets.entry_actions(e))])
    metrics.add_metric(name="CommissionsReversed", unit=MetricUnit.Count, value=len(entries))
    logger.info("commission reversed", extra=_ids(change) | {"entries": len(entries), "paid_stage_id": paid_stage})
    return len(entries)
