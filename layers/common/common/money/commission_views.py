"""What staff read of a deal's commissions: the preview (the breakdown the deal would pay now, with the
partners' names) and the deal's commission record (what the cascade paid or reversed, and why). Both are
built from the same breakdown rows the cascade pays with (common.money.commissions)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from common.deals import deal_records
from common.money import cascade, commissions, plans
from common.money.in_currency import InCurrency
from common.orgs.workflows import StageCommission
from common.platform import clock, db
from common.platform.answers import Answer, Timestamp
from common.platform.errors import NotFound

NOT_CREDITED = "the deal is not credited to a partner"


class LevelRow(Answer):
    """One level of a breakdown (commissions.breakdown): who, by which rule, on what, and how much or why nothing."""

    level: int
    partner_id: str | None = Field(description="null: no partner at this level of the structure")
    rule: Literal["percentage", "fixed"]
    base: int | None = Field(description="percentage rule: the deal value, minor units")
    percent: str | None = Field(description="percentage rule: exact decimal text, e.g. 12.5")
    fixed: int | None = Field(description="fixed rule: the level's amount, minor units")
    cap: int | None = Field(description="the most the level pays on one deal, minor units")
    capped: bool = Field(description="the cap lowered the amount")
    amount: int = Field(description="minor units; percentages are truncated toward zero; 0 when skipped")
    plan_version: int
    skipped_reason: str | None = Field(description="why the level pays nothing; null when it pays")


class PreviewRow(LevelRow):
    partner_name: str | None = Field(description="null when no partner of the organisation is at this level")


class PreviewStage(Answer):
    stage_id: str
    name: str
    commission: StageCommission | None = Field(None, description="the setting the deal moved here with")


class Preview(InCurrency):
    """The commissions the deal would pay now, with the plan version in force now."""

    deal_id: str
    stage: PreviewStage
    credited_partner_id: str | None = None
    plan_version: int | None = Field(None, description="the version in force now")
    levels: list[PreviewRow] = Field(default_factory=list)
    total: int = 0
    already_paid: bool = Field(
        False, description="a payment of the deal is in force: no stage pays until it is reversed"
    )
    reason: str | None = Field(None, description="why nothing is forecast: no credited partner, no plan in force")


def preview(org_id: str, deal_id: str, *, client: Any = None) -> Preview:
    """The breakdown the deal would pay now (the version in force now), level by level with the partners'
    names; already_paid: a payment of the deal is in force, so no stage pays until it is reversed."""
    deal = db.get(deal_records.deal_key(org_id, deal_id), client=client)
    if deal is None:
        raise NotFound(f"deal {deal_id} not found")
    stage = PreviewStage(stage_id=deal["stage_id"], name=deal["stage_name"], commission=deal.get("stage_commission"))
    credited = deal.get("credited_partner_id")
    if not credited:
        return Preview(deal_id=deal_id, stage=stage, reason=NOT_CREDITED)
    reading = commissions.read(org_id, deal_id, credited, client=client)
    already_paid = bool((reading.record or {}).get("live"))
    version = plans.in_force(reading.plan, clock.now_iso())
    if reading.plan is None or version is None:
        return Preview(
            deal_id=deal_id,
            stage=stage,
            credited_partner_id=credited,
            already_paid=already_paid,
            reason=commissions.NO_PLAN,
        )
    currency = str(reading.plan["currency"])
    chain, nodes = commissions.structure(org_id, credited, reading.node, version, client=client)
    rows = commissions.breakdown(version, currency, deal.get("value"), chain, nodes)
    return Preview(
        currency=currency,
        deal_id=deal_id,
        stage=stage,
        credited_partner_id=credited,
        plan_version=version["version"],
        levels=[PreviewRow.of(r, partner_name=(nodes.get(r["partner_id"] or "") or {}).get("name")) for r in rows],
        total=sum(r["amount"] for r in rows),
        already_paid=already_paid,
    )


# -- the record ------------------------------------------------------------------------------------


class LevelEntry(Answer):
    """A level's ledger entry: a payment in force, or the reversal of one."""

    partner_id: str
    level: int
    amount: int = Field(description="signed minor units")
    entry_id: str


class Computation(InCurrency):
    """One decision of the cascade on a deal's stage change."""

    change: int | None = Field(
        None,
        description="the deal's stage change decided: its position in the deal's stage history (null for a "
        "decision recorded before changes were numbered)",
    )
    stage_id: str
    stage_name: str
    changed_at: Timestamp = Field(description="the moment of the stage change: the plan version in force then applied")
    action: Literal["paid", "reversed", "nothing-to-pay"]
    reason: str | None = None
    plan_version: int | None = None
    levels: list[LevelRow] | list[LevelEntry] = Field(
        description="the breakdown's rows; for a reversal the entries it wrote"
    )
    total: int
    processed_at: Timestamp


class DealCommissions(InCurrency):
    """What was paid or reversed on a deal and why; empty when the cascade never acted on it."""

    deal_id: str
    applied_change: int = Field(0, description="the newest stage change of the deal applied (0: none yet)")
    paid_stages: list[str] = Field(
        default_factory=list,
        description="the stages that paid, in order; a stage the deal re-entered after a reversal pays again",
    )
    live: bool = Field(False, description="a payment is in force (not reversed)")
    live_stage: str | None = None
    live_change: int | None = Field(None, description="the stage change whose payment is in force")
    live_entries: list[LevelEntry] = Field(default_factory=list)
    computations: list[Computation] = Field(
        default_factory=list,
        description=f"the decisions of the cascade on the deal, oldest first (the first {cascade.MAX_RECORDED}; the "
        "ledger entries explain every payment and reversal)",
    )


def deal_commissions(org_id: str, deal_id: str, *, client: Any = None) -> DealCommissions:
    """The deal's commission record (what was paid or reversed, and why); empty when there is none."""
    record = db.get(cascade.record_key(org_id, deal_id), consistent=True, client=client)
    return DealCommissions.of(record or {}, deal_id=deal_id)
