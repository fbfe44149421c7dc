"""Commission plans and a deal's commissions: staff with the manage-balances permission add plan versions,
read the plan, preview a deal's commissions across the structure, and read what the cascade paid or
reversed on a deal and why. Thin handlers over common.money.plans and common.money.commissions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from common.money import cascade as commission_cascade
from common.money import commissions, plans
from common.orgs.access import Permission
from common.platform.currencies import MINOR_UNITS_DESCRIPTION
from common.web.openapi_docs import INVALID, NOT_A_MEMBER, Open, answers, body, missing
from common.web.route_params import Id, member_of
from pydantic import ConfigDict, Field

router = APIGatewayHttpRouter()

MANAGERS = missing(Permission.PROGRAMME_MANAGE_BALANCES)
NO_DEAL = NOT_A_MEMBER + "; or no such deal in the organisation"


# -- documented answers (the routes return plain dicts) --------------------------------------------


class NumberedPlanLevel(plans.PlanLevel):
    """A level as set (PlanLevel; percent answered as exact decimal text, e.g. 12.5) and its number."""

    model_config = ConfigDict(extra="allow")
    level: int = Field(description="1: the partner credited on the deal, 2: their sponsor, ...")


class PlanVersion(Open):
    version: int
    effective_from: datetime
    created_at: datetime
    created_by: str
    levels: list[NumberedPlanLevel]


class Plan(Open):
    org_id: str
    currency: str = Field(description="ISO 4217: the currency of every wallet of the programme")
    minor_units: int | None = Field(description=MINOR_UNITS_DESCRIPTION)
    version_count: int
    in_force: int | None = Field(description="the version in force now; null before the first takes effect")
    versions: list[PlanVersion] = Field(description="newest first")


class LevelRow(Open):
    level: int
    partner_id: str | None = Field(description="null: no partner at this level of the structure")
    rule: Literal["percentage", "fixed"]
    base: int | None = Field(description="percentage rule: the deal value, minor units")
    percent: str | None
    fixed: int | None = Field(description="fixed rule: the level's amount, minor units")
    cap: int | None
    capped: bool = Field(description="the cap lowered the amount")
    amount: int = Field(description="minor units; percentages are truncated toward zero; 0 when skipped")
    plan_version: int
    skipped_reason: str | None = Field(description="why the level pays nothing; null when it pays")


class PreviewRow(LevelRow):
    partner_name: str | None


class PreviewStage(Open):
    stage_id: str
    name: str
    commission: str | None = Field(description="the setting the deal moved here with")


class Preview(Open):
    deal_id: str
    stage: PreviewStage
    credited_partner_id: str | None
    plan_version: int | None = Field(description="the version in force now")
    currency: str | None
    minor_units: int | None = Field(description=MINOR_UNITS_DESCRIPTION)
    levels: list[PreviewRow]
    total: int
    already_paid: bool = Field(description="a payment of the deal is in force: no stage pays until it is reversed")
    reason: str | None = Field(description="why nothing is forecast: no credited partner, no plan in force")


class Computation(Open):
    change: int = Field(description="the deal's stage change decided: its position in the deal's stage history")
    stage_id: str
    stage_name: str
    changed_at: datetime = Field(description="the moment of the stage change: the plan version in force then applied")
    action: Literal["paid", "reversed", "nothing-to-pay"]
    reason: str | None
    plan_version: int | None
    currency: str | None
    minor_units: int | None = Field(description=MINOR_UNITS_DESCRIPTION)
    levels: list[dict[str, Any]] = Field(description="the breakdown rows; for a reversal the entries reversed")
    total: int
    processed_at: datetime


class LiveEntry(Open):
    partner_id: str
    level: int
    amount: int
    entry_id: str


class DealCommissions(Open):
    deal_id: str
    currency: str | None
    minor_units: int | None = Field(description=MINOR_UNITS_DESCRIPTION)
    applied_change: int = Field(description="the newest stage change of the deal applied (0: none yet)")
    paid_stages: list[str] = Field(
        description="the stages that paid, in order; a stage the deal re-entered after a reversal pays again"
    )
    live: bool = Field(description="a payment is in force (not reversed)")
    live_stage: str | None
    live_change: int | None = Field(description="the stage change whose payment is in force")
    live_entries: list[LiveEntry]
    computations: list[Computation] = Field(
        description=f"the decisions of the cascade on the deal, oldest first (the first "
        f"{commission_cascade.MAX_RECORDED}; the ledger entries explain every payment and reversal)"
    )


# -- routes ----------------------------------------------------------------------------------------


@router.post(
    "/orgs/<org_id>/commission-plan/versions",
    summary="Add a commission plan version, in force from its effective date (now or later)",
    description="Versions are never edited: a change is a new version. The first version fixes the programme's "
    "currency. The version in force at the moment of a deal's stage change computes its commissions.",
    tags=["commissions"],
    responses=answers(
        body(Plan, "The plan with the new version", 201),
        forbidden=MANAGERS,
        not_found=NOT_A_MEMBER,
        conflict="Another version was added meanwhile, or the plan holds 100 versions",
        invalid=INVALID + " (a level's fields do not fit its rule, the percentages add up to more than 100, "
        "the currency is not the plan's, or effective_from is in the past)",
    ),
)
def add_plan_version(org_id: Id, new: Annotated[plans.NewPlanVersion, Body()]) -> tuple[dict[str, Any], int]:
    member = member_of(router, org_id, Permission.PROGRAMME_MANAGE_BALANCES)
    plan = plans.add_version(org_id, new, member.actor)
    return plans.view(plan), 201


@router.get(
    "/orgs/<org_id>/commission-plan",
    summary="Get the commission plan: its currency, its versions and the one in force now",
    tags=["commissions"],
    responses=answers(
        body(Plan, "The plan"),
        forbidden=MANAGERS,
        not_found=NOT_A_MEMBER + "; or the organisation has no plan yet",
    ),
)
def get_plan(org_id: Id) -> dict[str, Any]:
    member_of(router, org_id, Permission.PROGRAMME_MANAGE_BALANCES)
    return plans.view(plans.get_plan(org_id))


@router.get(
    "/orgs/<org_id>/deals/<deal_id>/commission-preview",
    summary="Preview a deal's commissions across the partner structure with the plan version in force now",
    description="For each level: the partner, the rule, the base, the rate or amount, the cap, the amount and "
    "the plan version, or why it is skipped. The same computation the cascade pays with.",
    tags=["commissions"],
    responses=answers(body(Preview, "The forecast"), forbidden=MANAGERS, not_found=NO_DEAL),
)
def preview(org_id: Id, deal_id: Id) -> dict[str, Any]:
    member_of(router, org_id, Permission.PROGRAMME_MANAGE_BALANCES)
    return commissions.preview(org_id, deal_id)


@router.get(
    "/orgs/<org_id>/deals/<deal_id>/commissions",
    summary="What the cascade paid or reversed on a deal, and why",
    description="Empty (nothing paid, no computations) when the cascade never acted on the deal.",
    tags=["commissions"],
    responses=answers(
        body(DealCommissions, "The deal's commission record"), forbidden=MANAGERS, not_found=NOT_A_MEMBER
    ),
)
def deal_commissions(org_id: Id, deal_id: Id) -> dict[str, Any]:
    member_of(router, org_id, Permission.PROGRAMME_MANAGE_BALANCES)
    return commissions.deal_commissions(org_id, deal_id)
