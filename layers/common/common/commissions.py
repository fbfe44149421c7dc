"""Partner commissions across the programme structure: the breakdown rule (a pure function), the reads it
needs, the preview staff see on a deal, and the cascade the stream drives when a deal changes stage.

The breakdown, per level of the plan version (level 1 = the partner credited on the deal, level n = the
(n-1)th partner of their upline): a percentage level pays value x percent / 100 truncated toward zero to
minor units, then at most its cap; a fixed level pays its amount, at most its cap. Truncation never rounds
up, so a deal's entries never add up to more than the plan's exact amounts (and a version's percentages
add up to at most 100). A level is skipped, with its reason, when there is no partner there, the partner
is not (or no longer) in the organisation, is ENDED or ARCHIVED, the deal has no value (percentage), the
deal's currency is not the plan's, or the amount rounds to 0.

The cascade (on_change) acts on a deal's move to a stage whose setting was "compute" or "reverse" when it
moved, for a deal credited to a partner. It uses the plan version in force at the moment of the change
(the last stage_history entry), not when the record is processed. Reads: one BatchGetItem (credited
partner's node, plan, the deal's commission record), then one of the upline nodes the version's levels
need (skipped when none are). Writes: one transaction (commission_cascade). The partners' statuses and the
structure are those at processing time, normally a moment after the change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from . import clock, commission_cascade, commission_plans, db, deals
from .commission_cascade import Change
from .errors import NotFound
from .partner_model import PartnerStatus, node_key
from .workflows import StageCommission

NOT_EARNING = (PartnerStatus.ENDED.value, PartnerStatus.ARCHIVED.value)
NO_PLAN = "no commission plan is in force"
NOT_CREDITED = "the deal is not credited to a partner"


# -- the rule (pure) -------------------------------------------------------------------------------


def level_amount(rule: str, *, base: int | None, percent: str | None, fixed: int | None, cap: int | None) -> int:
    """The uncapped-then-capped amount of one level, in minor units (percentage: truncated toward zero)."""
    if rule == "percentage":
        exact = Decimal(int(base or 0)) * Decimal(str(percent)) / Decimal(100)
        amount = int(exact.to_integral_value(rounding=ROUND_DOWN))
    else:
        amount = int(fixed or 0)
    return min(amount, cap) if cap is not None else amount


def _skip_reason(
    rule: str, partner_id: str | None, node: Mapping[str, Any] | None, value: Mapping[str, Any] | None, currency: str
) -> str | None:
    if partner_id is None:
        return "no partner at this level of the structure"
    if node is None:
        return "not a partner of the organisation"
    if node.get("removed_at"):
        return "removed from the organisation"
    if node.get("status") in NOT_EARNING:
        return f"partner is {node['status']}"
    if value is not None and value.get("currency") != currency:
        return f"the deal's currency ({value.get('currency')}) is not the plan's ({currency})"
    if rule == "percentage" and value is None:
        return "the deal has no value"
    return None


def breakdown(
    version: Mapping[str, Any],
    currency: str,
    value: Mapping[str, Any] | None,
    chain: Sequence[str],
    nodes: Mapping[str, Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """One row per level of the version. `chain` is the credited partner then their upline (sponsor
    first); `nodes` the partners' nodes in the organisation (missing: not a partner there)."""
    rows = []
    for level in version["levels"]:
        number, rule = int(level["level"]), str(level["rule"])
        partner_id = chain[number - 1] if number <= len(chain) else None
        node = nodes.get(partner_id) if partner_id else None
        base = int(value["amount"]) if value is not None and rule == "percentage" else None
        percent = level.get("percent") if rule == "percentage" else None
        fixed = level.get("amount") if rule == "fixed" else None
        cap = level.get("cap")
        reason = _skip_reason(rule, partner_id, node, value, currency)
        amount = 0
        capped = False
        if reason is None:
            uncapped = level_amount(rule, base=base, percent=percent, fixed=fixed, cap=None)
            amount = min(uncapped, cap) if cap is not None else uncapped
            capped = amount < uncapped
            if amount <= 0:
                reason = "the amount rounds to 0"
                amount = 0
        rows.append(
            {
                "level": number,
                "partner_id": partner_id,
                "rule": rule,
                "base": base,
                "percent": percent,
                "fixed": fixed,
                "cap": cap,
                "capped": capped,
                "amount": amount,
                "plan_version": int(version["version"]),
                "skipped_reason": reason,
            }
        )
    return rows


# -- the reads (shared by the preview and the cascade) ---------------------------------------------


@dataclass(frozen=True)
class Reading:
    plan: db.Item | None
    record: db.Item | None
    version: dict[str, Any] | None  # in force at the moment asked for
    chain: list[str]  # the credited partner, then their upline
    nodes: dict[str, db.Item]  # the nodes read: the credited partner's and the upline the levels need


def read(org_id: str, deal_id: str, credited_id: str, at: str, *, upline: bool = True, client: Any = None) -> Reading:
    """Round trip 1: the credited partner's node, the plan and the deal's commission record. Round trip
    2 (only when the version in force at `at` has levels above 1 and there is an upline): their nodes."""
    keys = [
        node_key(org_id, credited_id),
        commission_plans.plan_key(org_id),
        commission_cascade.record_key(org_id, deal_id),
    ]
    found = {(i["pk"], i["sk"]): i for i in db.batch_get(keys, consistent=True, client=client)}
    node, plan, record = (found.get((k["pk"], k["sk"])) for k in keys)
    version = commission_plans.in_force(plan, at)
    chain = [credited_id, *((node or {}).get("upline") or [])]
    nodes = {credited_id: node} if node else {}
    levels = len(version["levels"]) if version else 0
    wanted = [p for p in dict.fromkeys(chain[1:levels]) if p != credited_id] if upline else []
    if wanted:
        upline_nodes = db.batch_get([node_key(org_id, p) for p in wanted], consistent=True, client=client)
        nodes |= {n["partner_id"]: n for n in upline_nodes}
    return Reading(plan, record, version, chain, nodes)


# -- the preview -----------------------------------------------------------------------------------


def preview(org_id: str, deal_id: str, *, client: Any = None) -> dict[str, Any]:
    """The commissions the deal would pay now (the version in force now), level by level with the
    partners' names; already_paid: a payment of the deal is in force, so no stage pays until it is
    reversed."""
    deal = db.get(deals.deal_key(org_id, deal_id), client=client)
    if deal is None:
        raise NotFound(f"deal {deal_id} not found")
    stage = {"stage_id": deal["stage_id"], "name": deal["stage_name"], "commission": deal.get("stage_commission")}
    answer: dict[str, Any] = {
        "deal_id": deal_id,
        "stage": stage,
        "credited_partner_id": deal.get("credited_partner_id"),
        "value": deal.get("value"),
        "plan_version": None,
        "currency": None,
        "levels": [],
        "total": 0,
        "already_paid": False,
        "reason": None,
    }
    credited = deal.get("credited_partner_id")
    if not credited:
        return answer | {"reason": NOT_CREDITED}
    reading = read(org_id, deal_id, credited, clock.now_iso(), client=client)
    answer["already_paid"] = bool((reading.record or {}).get("live"))
    if reading.plan is None or reading.version is None:
        return answer | {"reason": NO_PLAN}
    currency = str(reading.plan["currency"])
    rows = breakdown(reading.version, currency, deal.get("value"), reading.chain, reading.nodes)
    named = [r | {"partner_name": (reading.nodes.get(r["partner_id"] or "") or {}).get("name")} for r in rows]
    return answer | {
        "plan_version": reading.version["version"],
        "currency": currency,
        "levels": named,
        "total": sum(r["amount"] for r in rows),
    }


def deal_commissions(org_id: str, deal_id: str, *, client: Any = None) -> dict[str, Any]:
    """The deal's commission record (what was paid or reversed, and why); empty when there is none."""
    record = db.get(commission_cascade.record_key(org_id, deal_id), consistent=True, client=client)
    return commission_cascade.record_view(deal_id, record)


# -- the cascade -----------------------------------------------------------------------------------


def change_of(old: db.Item | None, new: db.Item | None) -> tuple[Change, str] | None:
    """The change the cascade acts on, with its setting (compute or reverse); None for anything else: not
    a deal, a new deal, the same stage (e.g. a share), a stage that does neither, no credited partner."""
    if new is None or old is None or new.get("entity") != "deal" or old.get("stage_id") == new.get("stage_id"):
        return None
    setting = new.get("stage_commission")
    if setting not in (StageCommission.COMPUTE.value, StageCommission.REVERSE.value):
        return None
    if not new.get("credited_partner_id"):
        return None
    history = new.get("stage_history")
    last = history[-1] if isinstance(history, list) and history else None
    if not isinstance(last, dict) or last.get("stage_id") != new["stage_id"] or not last.get("at"):
        raise ValueError(f"deal {new.get('deal_id')}: its stage change has no history entry")
    change = Change(
        org_id=str(new["org_id"]),
        deal_id=str(new["deal_id"]),
        stage_id=str(new["stage_id"]),
        stage_name=str(new.get("stage_name") or ""),
        changed_at=str(last["at"]),
    )
    return change, str(setting)


def on_change(old: db.Item | None, new: db.Item | None) -> None:
    """Reacts to a stream change (old image, new image): pays or reverses a deal's commissions."""
    found = change_of(old, new)
    if found is None or new is None:
        return
    change, setting = found
    computing = setting == StageCommission.COMPUTE.value
    reading = read(change.org_id, change.deal_id, str(new["credited_partner_id"]), change.changed_at, upline=computing)
    record = reading.record or {}
    if change.key in (record.get("changes") or []):
        return  # this very change was handled (a redelivered record)
    if not computing:
        if reading.record is not None:
            commission_cascade.reverse(change, reading.record)
        return
    if record.get("live") or change.stage_id in (record.get("paid_stages") or []):
        return  # a deal is never paid twice at once, nor twice for one stage
    if reading.plan is None or reading.version is None:
        decision = commission_cascade.computation(
            change, "nothing-to-pay", plan_version=None, currency=None, levels=[], reason=NO_PLAN
        )
        commission_cascade.record_unpaid(change, reading.record, decision)
        return
    currency = str(reading.plan["currency"])
    version = int(reading.version["version"])
    rows = breakdown(reading.version, currency, new.get("value"), reading.chain, reading.nodes)
    if any(r["amount"] > 0 for r in rows):
        commission_cascade.pay(change, plan_version=version, currency=currency, levels=rows)
        return
    decision = commission_cascade.computation(
        change,
        "nothing-to-pay",
        plan_version=version,
        currency=currency,
        levels=rows,
        reason="every level was skipped",
    )
    commission_cascade.record_unpaid(change, reading.record, decision)
