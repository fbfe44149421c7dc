"""Leads: intake from partner companies, manual entry, listings, the queue, actions, returns."""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit
from common.leads import actions, customers, intake, queue, reads, returns
from common.leads.companies import get_company
from common.leads.model import LeadStatus, intake_view, public_view
from common.orgs.access import Permission
from common.platform.db import without_storage
from common.platform.errors import Conflict, Forbidden, NotFound
from common.platform.observability import metrics
from common.platform.settings import LeadIntake, get_settings
from common.web.route_params import Cursor, Id, Limit, caller, member_of, page

from leads import responses as r

router = APIGatewayHttpRouter()

NO_LEAD = "The caller is not a member of the organisation, or there is no such lead"
ACTION_REFUSED = "The lead is pending and the caller lacks leads:view_pending, or it is assigned to another user"
NOT_ASSIGNED_OR_PENDING = "The lead is neither assigned nor pending, or changed meanwhile"
ASSIGNED_TO_OTHER = "The lead is assigned to another user (or the caller is not a staff user)"


def _page(items: list[dict[str, Any]], next_cursor: str | None) -> dict[str, Any]:
    return page([public_view(i, with_history=False) for i in items], next_cursor)


@router.post(
    "/orgs/<org_id>/partner-companies/<company_id>/leads",
    summary="A partner company posts a lead (client-credentials token with the lead-intake scope)",
    description="Idempotent on external_id: 201 when the lead is created, 200 with the existing lead after.",
    tags=["lead intake"],
    responses=r.answers(
        r.body(r.IntakeReceipt, "The lead was created", 201),
        r.body(r.IntakeReceipt, "The external_id was posted before: the lead created then"),
        forbidden="Not a partner company's client-credentials token with the lead-intake scope",
        not_found="No such partner company for these credentials",
        conflict="The company is not set up to sell leads, or the same external_id is being posted concurrently",
        invalid=r.INVALID + " (or neither phone nor email)",
    ),
)
def post_lead(org_id: Id, company_id: Id, body: Annotated[intake.IntakeLead, Body()]) -> tuple[dict[str, Any], int]:
    principal = caller(router)
    if principal.kind != "machine" or get_settings(LeadIntake).lead_intake_scope not in principal.scopes:
        raise Forbidden("lead intake needs a partner company's client-credentials token")
    try:
        company = get_company(org_id, company_id)
    except NotFound:
        company = None
    # Credentials of another company (or organisation) must not reveal whether this company exists.
    if company is None or company.get("client_id") != principal.client_id:
        raise NotFound(f"partner company {company_id} not found")
    if not company.get("sells_leads"):
        raise Conflict("this partner company is not set up to sell leads")
    lead, created = intake.intake_lead(org_id, company, body)
    if created:
        metrics.add_metric(name="LeadsReceived", unit=MetricUnit.Count, value=1)
    return intake_view(lead), 201 if created else 200


@router.post(
    "/orgs/<org_id>/leads",
    summary="Enter a lead by hand",
    tags=["leads"],
    responses=r.answers(
        r.body(r.Lead, "The lead", 201),
        forbidden=r.missing(Permission.CREATE_LEADS),
        not_found=r.NOT_A_MEMBER,
        conflict="A generated id collided; retry",
        invalid=r.INVALID + " (or neither phone nor email)",
    ),
)
def enter_lead(org_id: Id, body: Annotated[intake.ManualLead, Body()]) -> tuple[dict[str, Any], int]:
    member = member_of(router, org_id, Permission.CREATE_LEADS)
    return public_view(intake.enter_lead(org_id, member, body)), 201


@router.get(
    "/orgs/<org_id>/leads",
    summary="List leads in one status, newest change first; queued leads in queue order",
    description="Queued leads (status=queued) come in the order of the queue: by priority, high first, then the "
    "lead ready the longest first; a lead deferred to a later contact time sorts by that time among its priority. "
    "Every other status lists the newest change first.",
    tags=["leads"],
    responses=r.answers(
        r.body(r.LeadPage, "A page of leads, without their history"),
        forbidden="Pending and queued leads need leads:view_pending, other statuses leads:manage",
        not_found=r.NOT_A_MEMBER,
        invalid="The status, cursor or limit is not valid",
    ),
)
def list_leads(
    org_id: Id,
    status: Annotated[LeadStatus, Query()] = LeadStatus.PENDING,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    member = member_of(router, org_id)
    return _page(*reads.list_leads(org_id, member, status, cursor=cursor, limit=limit))


@router.get(
    "/orgs/<org_id>/my-leads",
    summary="Leads assigned to the caller, newest change first",
    tags=["leads"],
    responses=r.answers(
        r.body(r.LeadPage, "A page of leads, without their history"),
        forbidden=r.STAFF_ONLY,
        not_found=r.NOT_A_MEMBER,
        invalid="The cursor or limit is not valid",
    ),
)
def my_leads(org_id: Id, cursor: Cursor = None, limit: Limit = 50) -> dict[str, Any]:
    member = member_of(router, org_id)
    return _page(*reads.list_assigned_to(org_id, member.user_id, cursor=cursor, limit=limit))


@router.get(
    "/orgs/<org_id>/leads/<lead_id>",
    summary="Get a lead with its history",
    tags=["leads"],
    responses=r.answers(
        r.body(r.Lead, "The lead"),
        forbidden="The lead is visible to its assignee and lead administrators only",
        not_found=NO_LEAD,
    ),
)
def get_lead(org_id: Id, lead_id: Id) -> dict[str, Any]:
    member = member_of(router, org_id)
    return public_view(reads.get_lead(org_id, lead_id, member))


@router.get(
    "/orgs/<org_id>/leads/<lead_id>/history",
    summary="A lead's whole history, newest first",
    tags=["leads"],
    responses=r.answers(
        r.body(r.HistoryPage, "A page of the history"),
        forbidden="The lead is visible to its assignee and lead administrators only",
        not_found=NO_LEAD,
        invalid="The cursor or limit is not valid",
    ),
)
def lead_history(org_id: Id, lead_id: Id, cursor: Cursor = None, limit: Limit = 50) -> dict[str, Any]:
    member = member_of(router, org_id)
    items, next_cursor = reads.lead_history(org_id, lead_id, member, cursor=cursor, limit=limit)
    return page(items, next_cursor)


@router.post(
    "/orgs/<org_id>/lead-queue/claims",
    summary="Request the next ready lead from the queue (204 when none is ready)",
    tags=["lead queue"],
    responses=r.answers(
        r.body(r.Lead, "The lead, now assigned to the caller"),
        r.no_content("No lead is ready"),
        forbidden=r.missing(Permission.REQUEST_LEADS),
        not_found=r.NOT_A_MEMBER,
    ),
)
def claim_next(org_id: Id) -> Response[str]:
    member = member_of(router, org_id, Permission.REQUEST_LEADS)
    lead = queue.claim_next(org_id, member)
    if lead is None:
        return Response(status_code=204, body="")
    metrics.add_metric(name="LeadsClaimed", unit=MetricUnit.Count, value=1)
    return Response(status_code=200, content_type="application/json", body=json.dumps(public_view(lead)))


@router.post(
    "/orgs/<org_id>/leads/<lead_id>/keep",
    summary="Keep an assigned lead",
    tags=["lead actions"],
    responses=r.answers(
        r.body(r.Lead, "The lead"),
        forbidden=ASSIGNED_TO_OTHER,
        not_found=NO_LEAD,
        conflict="The lead is not assigned, or changed meanwhile",
    ),
)
def keep(org_id: Id, lead_id: Id) -> dict[str, Any]:
    return public_view(actions.keep(org_id, lead_id, member_of(router, org_id)))


@router.post(
    "/orgs/<org_id>/leads/<lead_id>/requeue",
    summary="Put a lead back in the queue, optionally with a new contact time",
    tags=["lead actions"],
    responses=r.answers(
        r.body(r.Lead, "The lead, queued again"),
        forbidden=ACTION_REFUSED,
        not_found=NO_LEAD,
        conflict=NOT_ASSIGNED_OR_PENDING,
        invalid=r.INVALID,
    ),
)
def requeue(org_id: Id, lead_id: Id, body: Annotated[actions.Requeue, Body()]) -> dict[str, Any]:
    return public_view(actions.requeue(org_id, lead_id, member_of(router, org_id), body))


@router.post(
    "/orgs/<org_id>/leads/<lead_id>/invalidate",
    summary="Mark a lead invalid with a reason",
    tags=["lead actions"],
    responses=r.answers(
        r.body(r.Lead, "The lead, marked invalid"),
        forbidden=ACTION_REFUSED,
        not_found=NO_LEAD,
        conflict=NOT_ASSIGNED_OR_PENDING,
        invalid=r.INVALID,
    ),
)
def invalidate(org_id: Id, lead_id: Id, body: Annotated[actions.Invalidate, Body()]) -> dict[str, Any]:
    return public_view(actions.invalidate(org_id, lead_id, member_of(router, org_id), body))


@router.post(
    "/orgs/<org_id>/leads/<lead_id>/convert",
    summary="Convert an assigned lead to a customer",
    tags=["lead actions"],
    responses=r.answers(
        r.body(r.Conversion, "The converted lead and the new customer", 201),
        forbidden=ASSIGNED_TO_OTHER,
        not_found=NO_LEAD,
        conflict="The lead is not assigned, or changed meanwhile",
    ),
)
def convert(org_id: Id, lead_id: Id) -> tuple[dict[str, Any], int]:
    lead, customer = actions.convert(org_id, lead_id, member_of(router, org_id))
    metrics.add_metric(name="LeadsConverted", unit=MetricUnit.Count, value=1)
    return {"lead": public_view(lead), "customer": without_storage(customer)}, 201


@router.post(
    "/orgs/<org_id>/lead-returns",
    summary="Return leads to the partner companies they came from, with optional call-center comments",
    tags=["lead actions"],
    responses=r.answers(
        r.body(r.ReturnResult, "Every lead asked for, returned now or before"),
        forbidden="Missing leads:return (or the permission for a pending lead), or a lead is assigned to another user",
        not_found="The caller is not a member of the organisation, or a lead does not exist",
        conflict="A lead did not come from a partner company, cannot be returned in its status, or changed meanwhile",
        invalid=r.INVALID,
    ),
)
def return_leads(org_id: Id, body: Annotated[returns.ReturnLeads, Body()]) -> dict[str, Any]:
    member = member_of(router, org_id, Permission.RETURN_LEADS)
    return {"items": returns.return_leads(org_id, member, body)}


@router.get(
    "/orgs/<org_id>/customers",
    summary="List customers, newest first: every customer with leads:manage, else the caller's own",
    description="Each customer's is_partner is as of this read, as on a single customer.",
    tags=["customers"],
    responses=r.answers(
        r.body(r.StaffCustomerPage, "A page of customers"),
        forbidden=r.STAFF_ONLY,
        not_found=r.NOT_A_MEMBER,
        invalid="The cursor or limit is not valid",
    ),
)
def list_customers(org_id: Id, cursor: Cursor = None, limit: Limit = 50) -> dict[str, Any]:
    items, next_cursor = customers.list_customers(org_id, member_of(router, org_id), cursor=cursor, limit=limit)
    return page([without_storage(i) for i in items], next_cursor)


@router.get(
    "/orgs/<org_id>/customers/<customer_id>",
    summary="Get a customer",
    description="is_partner tells whether the customer's e-mail address belongs to a partner of the organisation, "
    "as of this read (also for partners who joined after the customer was created)",
    tags=["customers"],
    responses=r.answers(
        r.body(r.Customer, "The customer"),
        forbidden="The customer is visible to its owner and lead administrators only",
        not_found="The caller is not a member of the organisation, or there is no such customer",
    ),
)
def get_customer(org_id: Id, customer_id: Id) -> dict[str, Any]:
    member = member_of(router, org_id)
    return without_storage(customers.get_customer(org_id, customer_id, member))
