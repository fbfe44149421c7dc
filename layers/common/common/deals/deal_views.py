"""How a deal is answered: staff see the whole deal and its stage history; a partner sees a deal shared with
them without who else it is shared with, nor staff ids in its history (when it moved and where to)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from pydantic import Field

from common.deals.staff_deals import StaffContact
from common.orgs.workflows import StageCommission
from common.platform import db
from common.platform.answers import Answer, Timestamp
from common.platform.currencies import MINOR_UNITS_DESCRIPTION, with_minor_units


class DealAmount(Answer):
    """A deal's value as answered: the amount and currency as entered (deal_records.DealValue; not derived
    from it, so a value stored under older rules is still answered) and the currency's minor units."""

    amount: int = Field(description="minor units (cents)")
    currency: str = Field(description="ISO 4217")
    minor_units: int | None = Field(description=MINOR_UNITS_DESCRIPTION)


class StageHistoryEntry(Answer):
    """A stage change as staff see it."""

    at: Timestamp
    by: str = Field(description="user:<id> or partner:<id>")
    stage_id: str
    stage_name: str
    commission: StageCommission | None = Field(
        None, description="the stage's commission setting at the moment of the change"
    )
    from_stage_id: str | None = Field(None, description="null for the deal's creation")


class Deal(Answer):
    """A deal as staff see it."""

    org_id: str
    deal_id: str
    workflow_id: str
    stage_id: str
    stage_name: str
    stage_commission: StageCommission | None = Field(
        None,
        description="the commission setting of the current stage when the deal moved there (copied, so a later "
        "change of the setting changes nothing already moved); creating a deal pays nothing",
    )
    stage_history: list[StageHistoryEntry] = Field(
        description="the newest stage changes, oldest first; all of them: .../stage-history"
    )
    stage_history_archived: int | None = Field(None, description="how many older changes only .../stage-history lists")
    title: str
    # A partner's deal has all four contact fields (partner_deals.PortalContact); staff's may have fewer.
    contacts: list[StaffContact]
    owner_id: str
    value: DealAmount | None = None
    credited_partner_id: str | None = Field(None, description="the partner the deal counts for")
    partner_ids: list[str] = Field(description="the partners the deal is shared with")
    created_by: str = Field(description="user:<id> or partner:<id>")
    created_at: Timestamp
    updated_at: Timestamp
    version: int

    @classmethod
    def of(cls, item: Mapping[str, Any], **fields: Any) -> Self:
        return super().of(item, **{"value": with_minor_units(item.get("value")), **fields})


class CurrentStage(Answer):
    stage_id: str
    name: str


class StageReached(Answer):
    """A stage change as a partner sees it: when, and which stage (not who moved it)."""

    at: Timestamp
    stage_id: str
    name: str

    @classmethod
    def of(cls, item: Mapping[str, Any], **fields: Any) -> Self:
        return super().of({"name": item.get("stage_name"), **item}, **fields)


class PortalDealSummary(Answer):
    """A deal shared with the partner, as their listing shows it."""

    org_id: str
    deal_id: str
    workflow_id: str
    title: str
    contacts: list[StaffContact]
    value: DealAmount | None = None
    stage: CurrentStage
    owner_id: str = Field(description="the broker who owns the deal")
    credited_to_you: bool = Field(description="whether the deal counts as the partner's own lead")
    created_at: Timestamp
    updated_at: Timestamp


class PortalDeal(PortalDealSummary):
    """A deal shared with the partner, with its stage history."""

    stage_history: list[StageReached] = Field(description="the newest stage changes; all of them: .../stage-history")


def _portal_fields(deal: db.Item, partner_id: str) -> dict[str, Any]:
    return {
        "value": with_minor_units(deal.get("value")),
        "stage": {"stage_id": deal["stage_id"], "name": deal["stage_name"]},
        "credited_to_you": deal.get("credited_partner_id") == partner_id,
    }


def portal_summary(deal: db.Item, partner_id: str) -> PortalDealSummary:
    return PortalDealSummary.of(deal, **_portal_fields(deal, partner_id))


def portal_deal_view(deal: db.Item, partner_id: str) -> PortalDeal:
    return PortalDeal.of(
        deal, **_portal_fields(deal, partner_id), stage_history=StageReached.each(deal.get("stage_history", []))
    )
