"""Partner commissions across the programme structure: the breakdown rule (a pure function), the reads it
needs (shared with the preview staff see on a deal, common.money.commission_views), and the cascade the stream
drives when a deal changes stage.

The breakdown, per level of the plan version (level 1 = the partner credited on the deal, level n = the
(n-1)th partner of their upline): a percentage level pays value x percent / 100 truncated toward zero to
minor units, then at most its cap; a fixed level pays its amount, at most its cap. Truncation never rounds
up, so a deal's entries never add up to more than the plan's exact amounts (and a version's percentages
add up to at most 100). A level is skipped, with its reason, when there is no partner there, the partner
is not (or no longer) in the organisation, is ENDED or ARCHIVED, the deal has no value (percentage), the
deal's currency is not the plan's, or the amount rounds to 0.

The cascade (on_change) brings a deal's commission record up to the newest stage change a stream record
carries, for a deal credited to a partner. Each change is decided by its number in the deal's history, not
by when its record arrives: a change the record already applied (or an older one) is ignored, a compute
change pays while nothing is live, a reverse change reverses what is live; the image's history holds every
earlier change, so one that arrives late was already taken into account. A payment uses the plan version
in force at the moment of its change. Reads: one BatchGetItem (credited partner's node, plan, the deal's
commission record), then one of the upline nodes the version's levels need (skipped when none are).
Writes: one transaction per change that pays or reverses (commission_cascade). The partners' statuses and
the structure are those at processing time, normally a moment after the change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from common.deals import deal_records
from common.money import cascade, plans
from common.money.cascade import Change
from common.orgs.workflows import StageCommission
from common.partners.partner_records import PartnerStatus, node_key
from common.platform import db, history
from common.platform.observability import logger

NOT_EARNING = (PartnerStatus.ENDED.value, PartnerStatus.ARCHIVED.value)
NO_PLAN = "no commission plan is in force"


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
    node: db.Item | None  # the credited partner's


def read(org_id: str, deal_id: str, credited_id: str, *, client: Any = None) -> Reading:
    """One round trip: the credited partner's node, the plan and the deal's commission record."""
    keys = [
        node_key(org_id, credited_id),
        plans.plan_key(org_id),
        cascade.record_key(org_id, deal_id),
    ]
    found = {(i["pk"], i["sk"]): i for i in db.batch_get(keys, consistent=True, client=client)}
    node, plan, record = (found.get((k["pk"], k["sk"])) for k in keys)
    return Reading(plan, record, node)


def structure(
    org_id: str, credited_id: str, node: db.Item | None, version: Mapping[str, Any] | None, *, client: Any = None
) -> tuple[list[str], dict[str, db.Item]]:
    """The chain (the credited partner, then their upline) and the nodes the version's levels need: a
    second round trip only when the version has levels above 1 and there is an upline."""
    chain = [credited_id, *((node or {}).get("upline") or [])]
    nodes = {credited_id: node} if node else {}
    levels = len(version["levels"]) if version else 0
    wanted = [p for p in dict.fromkeys(chain[1:levels]) if p != credited_id]
    if wanted:
        upline_nodes = db.batch_get([node_key(org_id, p) for p in wanted], consistent=True, client=client)
        nodes |= {n["partner_id"]: n for n in upline_nodes}
    return chain, nodes


# -- the cascade -----------------------------------------------------------------------------------

ACTING = (StageCommission.COMPUTE.value, StageCommission.REVERSE.value)


def changes_of(old: db.Item | None, new: db.Item | None) -> list[Change]:
    """The deal's stage changes to compute or reverse stages, oldest first, from the entries its new image
    holds (each carries the stage's setting when the deal moved there; older ones are in the deal's
    history pages, `archived_changes`). Empty for anything else: not a deal, no credited partner, or a
    record that is no stage change (e.g. a share: no newer change). The old image only tells that; it may be
    missing (a change too large to travel with both)."""
    if new is None or new.get("entity") != deal_records.DEAL_ENTITY or not new.get("credited_partner_id"):
        return []
    history = new.get("stage_history")
    if new.get("stage_commission") in ACTING:
        last = history[-1] if isinstance(history, list) and history else None
        if not isinstance(last, dict) or last.get("stage_id") != new["stage_id"] or not last.get("at"):
            raise ValueError(f"deal {new.get('deal_id')}: its stage change has no history entry")
    newest = deal_records.STAGE_HISTORY.newest(new)
    if not isinstance(history, list) or (old is not None and deal_records.STAGE_HISTORY.newest(old) >= newest):
        return []
    return _acting(new, deal_records.STAGE_HISTORY.numbered(new))


def _acting(deal: db.Item, numbered: Sequence[tuple[int, db.Item]]) -> list[Change]:
    return [
        Change(
            org_id=str(deal["org_id"]),
            deal_id=str(deal["deal_id"]),
            number=number,
            stage_id=str(entry["stage_id"]),
            stage_name=str(entry.get("stage_name") or ""),
            changed_at=str(entry["at"]),
            setting=str(entry["commission"]),
        )
        for number, entry in numbered
        if number > 0 and entry.get("commission") in ACTING
    ]


def archived_changes(deal: db.Item, applied: int, *, client: Any = None) -> list[Change]:
    """The acting changes newer than `applied` that the deal image no longer holds: read from its history
    pages (consistent: they are written with the deal), oldest first. None to read when the record is
    behind by less than the image holds."""
    numbers = range(applied + 1, deal_records.STAGE_HISTORY.archived(deal))
    found = history.older(deal_records.STAGE_HISTORY, deal, numbers, client=client)
    return _acting(deal, sorted(found.items()))


def _acts(change: Change, live: bool) -> bool:
    """A compute change pays while nothing is live; a reverse change reverses a live payment."""
    return live == (change.setting == StageCommission.REVERSE.value)


def next_change(changes: list[Change], record: db.Item | None, history: list[db.Item], first: int = 0) -> Change | None:
    """The first change newer than the record's that acts. The others change nothing and are passed over,
    so the deal's changes applied in any order, and again, end as they would in order, once. `history` is
    the image's own entries, the first of them numbered `first`."""
    live = bool((record or {}).get("live"))
    applied = cascade.applied_change(record, history, first)
    return next((c for c in changes if c.number > applied and _acts(c, live)), None)


# Beyond the changes to apply, how often a delivery re-reads a record another delivery wrote meanwhile.
RACES_TOLERATED = 3


def on_change(old: db.Item | None, new: db.Item | None) -> None:
    """Reacts to a deal change (old image, new image): brings the deal's commission record up to the newest
    change of the image, one transaction per change that pays or reverses."""
    changes = changes_of(old, new)
    if not changes or new is None:
        return
    own, credited = list(new["stage_history"]), str(new["credited_partner_id"])
    first = deal_records.STAGE_HISTORY.archived(new)
    caught_up, rounds = first == 0, 0
    while rounds < len(changes) + RACES_TOLERATED:
        rounds += 1
        reading = read(changes[0].org_id, changes[0].deal_id, credited)
        if not caught_up:
            # The record is behind changes the image no longer holds (a delivery held up meanwhile): those
            # come first, from the deal's history pages.
            applied = cascade.applied_change(reading.record, own, first)
            changes = archived_changes(new, applied) + changes
            caught_up = True
        change = next_change(changes, reading.record, own, first)
        if change is None:
            return  # applied already (a redelivery, an older change), or nothing to do
        try:
            live = _apply(change, reading, new)
        except cascade.RecordChanged:
            logger.info("commission record changed meanwhile: deciding again", extra={"deal_id": change.deal_id})
            continue
        if not any(c.number > change.number and _acts(c, live) for c in changes):
            return
    raise cascade.RecordChanged(f"deal {changes[0].deal_id}: its commission record keeps changing")


def _apply(change: Change, reading: Reading, deal: db.Item) -> bool:
    """Write the change's decision; returns whether a payment is live after it."""
    if change.setting == StageCommission.REVERSE.value:
        cascade.reverse(change, reading.record or {})
        return False
    version = plans.in_force(reading.plan, change.changed_at)
    if reading.plan is None or version is None:
        decision = cascade.computation(
            change, "nothing-to-pay", plan_version=None, currency=None, levels=[], reason=NO_PLAN
        )
        cascade.record_unpaid(change, reading.record, decision)
        return False
    currency, number = str(reading.plan["currency"]), int(version["version"])
    chain, nodes = structure(change.org_id, str(deal["credited_partner_id"]), reading.node, version)
    rows = breakdown(version, currency, deal.get("value"), chain, nodes)
    if any(r["amount"] > 0 for r in rows):
        cascade.pay(change, reading.record, plan_version=number, currency=currency, levels=rows)
        return True
    decision = cascade.computation(
        change, "nothing-to-pay", plan_version=number, currency=currency, levels=rows, reason="every level was skipped"
    )
    cascade.record_unpaid(change, reading.record, decision)
    return False
