"""Commission plans and a deal's commissions: staff with the manage-balances permission add plan versions,
read the plan, preview a deal's commissions across the structure, and read what the cascade paid or
reversed on a deal and why. Thin handlers over common.money.plans and common.money.commission_views."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from common.money import commission_views, plans
from common.orgs.access import Permission
from common.web.openapi_docs import INVALID, NOT_A_MEMBER, answers, missing, ok
from common.web.route_params import Id, member_of

router = APIGatewayHttpRouter()

MANAGERS = missing(Permission.PROGRAMME_MANAGE_BALANCES)
NO_DEAL = NOT_A_MEMBER + "; or no such deal in the organisation"


@router.post(
    "/orgs/<org_id>/commission-plan/versions",
    summary="Add a commission plan version, in force from its effective date (now or later)",
    description="Versions are never edited: a change is a new version. The first version fixes the programme's "
    "currency. The version in force at the moment of a deal's stage change computes its commissions.",
    tags=["commissions"],
    status_code=201,
    responses=answers(
        ok("The plan with the new version", 201),
        forbidden=MANAGERS,
        not_found=NOT_A_MEMBER,
        conflict="Another version was added meanwhile, or the plan holds 100 versions",
        invalid=INVALID + " (a level's fields do not fit its rule, the percentages add up to more than 100, "
        "the currency is not the plan's, or effective_from is in the past)",
    ),
)
def add_plan_version(org_id: Id, new: Annotated[plans.NewPlanVersion, Body()]) -> plans.Plan:
    member = member_of(router, org_id, Permission.PROGRAMME_MANAGE_BALANCES)
    return plans.Plan.now(plans.add_version(org_id, new, member.actor))


@router.get(
    "/orgs/<org_id>/commission-plan",
    summary="Get the commission plan: its currency, its versions and the one in force now",
    tags=["commissions"],
    responses=answers(
        ok("The plan"),
        forbidden=MANAGERS,
        not_found=NOT_A_MEMBER + "; or the organisation has no plan yet",
    ),
)
def get_plan(org_id: Id) -> plans.Plan:
    member_of(router, org_id, Permission.PROGRAMME_MANAGE_BALANCES)
    return plans.Plan.now(plans.get_plan(org_id))


@router.get(
    "/orgs/<org_id>/deals/<deal_id>/commission-preview",
    summary="Preview a deal's commissions across the partner structure with the plan version in force now",
    description="For each level: the partner, the rule, the base, the rate or amount, the cap, the amount and "
    "the plan version, or why it is skipped. The same computation the cascade pays with.",
    tags=["commissions"],
    responses=answers(ok("The forecast"), forbidden=MANAGERS, not_found=NO_DEAL),
)
def preview(org_id: Id, deal_id: Id) -> commission_views.Preview:
    member_of(router, org_id, Permission.PROGRAMME_MANAGE_BALANCES)
    return commission_views.preview(org_id, deal_id)


@router.get(
    "/orgs/<org_id>/deals/<deal_id>/commissions",
    summary="What the cascade paid or reversed on a deal, and why",
    description="Empty (nothing paid, no computations) when the cascade never acted on the deal.",
    tags=["commissions"],
    responses=answers(ok("The deal's commission record"), forbidden=MANAGERS, not_found=NOT_A_MEMBER),
)
def deal_commissions(org_id: Id, deal_id: Id) -> commission_views.DealCommissions:
    member_of(router, org_id, Permission.PROGRAMME_MANAGE_BALANCES)
    return commission_views.deal_commissions(org_id, deal_id)
