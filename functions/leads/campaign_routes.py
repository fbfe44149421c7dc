"""Campaigns of partner companies, and the sources a lead or customer may be given."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from common.leads import campaigns, sources
from common.orgs.access import Permission
from common.platform.answers import Page, page_of
from common.platform.errors import Forbidden
from common.web.openapi_docs import NOT_A_MEMBER, answers, missing, no_content, ok
from common.web.route_params import PAGE_LIMIT, Cursor, Id, Limit, member_of

router = APIGatewayHttpRouter()

MANAGER = missing(Permission.MANAGE_COMPANIES)
NO_COMPANY = "The caller is not a member of the organisation, or there is no such partner company"
NO_CAMPAIGN = "The caller is not a member of the organisation, or there is no such partner company or campaign"
CAMPAIGNS = "/orgs/<org_id>/partner-companies/<company_id>/campaigns"


@router.post(
    CAMPAIGNS,
    summary="Add a campaign to a partner company",
    tags=["partner companies"],
    status_code=201,
    responses=answers(
        ok("The campaign", 201),
        forbidden=MANAGER,
        not_found=NO_COMPANY,
        conflict="Another campaign of the company has this sender_campaign_id (conflicting_ids names it)",
        invalid=f"The request has invalid fields, or the company has {campaigns.MAX_CAMPAIGNS_PER_COMPANY} "
        "campaigns already",
    ),
)
def create_campaign(org_id: Id, company_id: Id, body: Annotated[campaigns.NewCampaign, Body()]) -> campaigns.Campaign:
    member = member_of(router, org_id, Permission.MANAGE_COMPANIES)
    return campaigns.Campaign.of(campaigns.create_campaign(org_id, company_id, body, member.user_id))


@router.get(
    CAMPAIGNS,
    summary="List a partner company's campaigns, newest first",
    tags=["partner companies"],
    responses=answers(
        ok("A page of campaigns"), forbidden=MANAGER, not_found=NOT_A_MEMBER, invalid="The cursor or limit is not valid"
    ),
)
def list_campaigns(
    org_id: Id, company_id: Id, cursor: Cursor = None, limit: Limit = PAGE_LIMIT
) -> Page[campaigns.Campaign]:
    member_of(router, org_id, Permission.MANAGE_COMPANIES)
    return page_of(campaigns.Campaign, *campaigns.list_campaigns(org_id, company_id, cursor=cursor, limit=limit))


@router.get(
    f"{CAMPAIGNS}/<campaign_id>",
    summary="Get a campaign",
    tags=["partner companies"],
    responses=answers(ok("The campaign"), forbidden=MANAGER, not_found=NO_CAMPAIGN),
)
def get_campaign(org_id: Id, company_id: Id, campaign_id: Id) -> campaigns.Campaign:
    member_of(router, org_id, Permission.MANAGE_COMPANIES)
    return campaigns.Campaign.of(campaigns.get_campaign(org_id, company_id, campaign_id))


@router.patch(
    f"{CAMPAIGNS}/<campaign_id>",
    summary="Change a campaign",
    tags=["partner companies"],
    responses=answers(
        ok("The campaign as changed"),
        forbidden=MANAGER,
        not_found=NO_CAMPAIGN,
        conflict="Another campaign of the company has this sender_campaign_id (conflicting_ids names it), or the "
        "campaign kept changing meanwhile",
        invalid="The request has invalid fields (e.g. clearing the name or the direction)",
    ),
)
def update_campaign(
    org_id: Id, company_id: Id, campaign_id: Id, body: Annotated[campaigns.CampaignPatch, Body()]
) -> campaigns.Campaign:
    member = member_of(router, org_id, Permission.MANAGE_COMPANIES)
    changed = campaigns.update_campaign(org_id, company_id, campaign_id, body, member.user_id)
    return campaigns.Campaign.of(changed)


@router.delete(
    f"{CAMPAIGNS}/<campaign_id>",
    summary="Delete a campaign (leads and customers that came in it keep its id and name)",
    tags=["partner companies"],
    responses=answers(
        no_content("Deleted"),
        forbidden=MANAGER,
        not_found=NO_CAMPAIGN,
        conflict="The campaign kept changing meanwhile; retry",
    ),
)
def delete_campaign(org_id: Id, company_id: Id, campaign_id: Id) -> tuple[str, int]:
    member_of(router, org_id, Permission.MANAGE_COMPANIES)
    campaigns.delete_campaign(org_id, company_id, campaign_id)
    return "", 204


@router.get(
    "/orgs/<org_id>/sources",
    summary="List what may be picked as a lead's or customer's source: the self-generated source first, then "
    "the active partner companies that sell them, by name",
    tags=["leads"],
    responses=answers(
        ok("A page of sources"),
        forbidden=f"Missing both {Permission.CREATE_LEADS.value} and {Permission.MANAGE_COMPANIES.value} "
        "(or not a staff user)",
        not_found=NOT_A_MEMBER,
        invalid="`for`, the cursor or the limit is not valid",
    ),
)
def list_sources(
    org_id: Id,
    for_: Annotated[
        sources.SourceFor, Query(alias="for", description="leads: companies that sell leads; customers: customers")
    ] = sources.SourceFor.LEADS,
    cursor: Cursor = None,
    limit: Limit = PAGE_LIMIT,
) -> Page[sources.Source]:
    member = member_of(router, org_id)
    if not (member.can(Permission.CREATE_LEADS) or member.can(Permission.MANAGE_COMPANIES)):
        raise Forbidden(f"listing sources needs {Permission.CREATE_LEADS.value} or {Permission.MANAGE_COMPANIES.value}")
    return page_of(sources.Source, *sources.list_sources(org_id, for_, cursor=cursor, limit=limit))
