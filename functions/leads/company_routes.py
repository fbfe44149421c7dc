"""Partner companies and their machine credentials."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from common.leads import companies, credentials
from common.orgs.access import Permission
from common.platform.answers import Page, page_of
from common.web.openapi_docs import NOT_A_MEMBER, answers, missing, ok
from common.web.route_params import PAGE_LIMIT, Cursor, Id, Limit, member_of

router = APIGatewayHttpRouter()

MANAGER = missing(Permission.MANAGE_COMPANIES)
NO_COMPANY = "The caller is not a member of the organisation, or there is no such partner company"


@router.post(
    "/orgs/<org_id>/partner-companies",
    summary="Add a partner company",
    tags=["partner companies"],
    status_code=201,
    responses=answers(
        ok("The partner company", 201),
        forbidden=MANAGER,
        not_found=NOT_A_MEMBER,
        conflict="A generated id collided; retry",
        invalid="The request has invalid fields (e.g. an unknown auto-response template)",
    ),
)
def create_company(org_id: Id, body: Annotated[companies.NewCompany, Body()]) -> companies.PartnerCompany:
    member = member_of(router, org_id, Permission.MANAGE_COMPANIES)
    return companies.PartnerCompany.of(companies.create_company(org_id, body, member.user_id))


@router.get(
    "/orgs/<org_id>/partner-companies",
    summary="List partner companies by name",
    tags=["partner companies"],
    responses=answers(
        ok("A page of partner companies"),
        forbidden=MANAGER,
        not_found=NOT_A_MEMBER,
        invalid="The cursor or limit is not valid",
    ),
)
def list_companies(org_id: Id, cursor: Cursor = None, limit: Limit = PAGE_LIMIT) -> Page[companies.PartnerCompany]:
    member_of(router, org_id, Permission.MANAGE_COMPANIES)
    items, next_cursor = companies.list_companies(org_id, cursor=cursor, limit=limit)
    return page_of(companies.PartnerCompany, items, next_cursor)


@router.get(
    "/orgs/<org_id>/partner-companies/<company_id>",
    summary="Get a partner company",
    tags=["partner companies"],
    responses=answers(ok("The partner company"), forbidden=MANAGER, not_found=NO_COMPANY),
)
def get_company(org_id: Id, company_id: Id) -> companies.PartnerCompany:
    member_of(router, org_id, Permission.MANAGE_COMPANIES)
    return companies.PartnerCompany.of(companies.get_company(org_id, company_id))


@router.patch(
    "/orgs/<org_id>/partner-companies/<company_id>",
    summary="Change a partner company's settings",
    tags=["partner companies"],
    responses=answers(
        ok("The partner company as changed"),
        forbidden=MANAGER,
        not_found=NO_COMPANY,
        invalid="The request has invalid fields (e.g. clearing a setting that must keep a value)",
    ),
)
def update_company(
    org_id: Id, company_id: Id, body: Annotated[companies.CompanyPatch, Body()]
) -> companies.PartnerCompany:
    member = member_of(router, org_id, Permission.MANAGE_COMPANIES)
    return companies.PartnerCompany.of(companies.update_company(org_id, company_id, body, member.user_id))


@router.post(
    "/orgs/<org_id>/partner-companies/<company_id>/credentials",
    summary="Issue (or rotate) the company's client credentials for lead intake; the secret is shown once",
    tags=["partner companies"],
    status_code=201,
    responses=answers(
        ok("The new credentials; they replace any issued before", 201),
        forbidden=MANAGER,
        not_found=NO_COMPANY,
        conflict="The company is not set up to sell leads or customers",
    ),
)
def create_credentials(org_id: Id, company_id: Id) -> credentials.Credentials:
    member_of(router, org_id, Permission.MANAGE_COMPANIES)
    return credentials.issue_credentials(org_id, company_id)
