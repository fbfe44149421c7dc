"""Leads: intake from partner companies, manual entry, listings, the queue, actions, returns."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit
from common.leads import actions, customers, intake, queue, reads, returns
from common.leads.model import HistoryEvent, Lead, LeadStatus, LeadSummary
from common.orgs.access import Permission
from common.platform.answers import Page, page_of
from common.platform.observability import metrics
from common.web.openapi_docs import INVALID, NOT_A_MEMBER, STAFF_ONLY, answers, missing, no_content, ok
from common.web.route_params import Cursor, Id, Limit, caller, member_of

router = APIGatewayHttpRouter()

NO_LEAD = "The caller is not a member of the organisation, or there is no such lead"
ACTION_REFUSED = "The lead is pending and the caller lacks leads:view_pending, or it is assigned to another user"
NOT_ASSIGNED_OR_PENDING = "The lead is neither assigned nor pending, or changed meanwhile"
ASSIGNED_TO_OTHER = "The lead is assigned to another user (or the caller is not a staff user)"


@router.post(
    "/orgs/<org_id>/partner-companies/<company_id>/leads",
    summary="A partner company posts a lead (client-credentials token with the lead-intake scope)",
    description="Idempotent on external_id: 201 when the lead is created, 200 with the existing lead after.",
    tags=["lead intake"],
    responses=answers(
        ok("The lead was created", 201),
        ok("The external_id was posted before: the lead created then"),
        forbidden="Not a partner company's client-credentials token with the lead-intake scope",
        not_found="No such partner company for these credentials",
        conflict="The company is not set up to sell leads (or is inactive), or the same external_id is being posted "
        "concurrently",
        invalid=INVALID + " (or neither phone nor email)",
    ),
)
def post_lead(
    org_id: Id, company_id: Id, body: Annotated[intake.IntakeLead, Body()]
) -> tuple[intake.IntakeReceipt, int]:
    company = intake.selling_company(org_id, company_id, caller(router))
    lead, created = intake.intake_lead(org_id, company, body)
    if created:
        metrics.add_metric(name="LeadsReceived", unit=MetricUnit.Count, value=1)
    return intake.IntakeReceipt.of(lead), 201 if created else 200


@router.post(
    "/orgs/<org_id>/leads",
    summary="Enter a lead by hand",
    tags=["leads"],
    status_code=201,
    responses=answers(
        ok("The lead", 201),
        forbidden=missing(Permission.CREATE_LEADS),
        not_found=NOT_A_MEMBER,
        conflict="A generated id collided; retry",
        invalid=INVALID + " (or neither phone nor email)",
    ),
)
def enter_lead(org_id: Id, body: Annotated[intake.ManualLead, Body()]) -> Lead:
    member = member_of(router, org_id, Permission.CREATE_LEADS)
    return Lead.of(intake.enter_lead(org_id, member, body))


@router.get(
    "/orgs/<org_id>/leads",
    summary="List leads in one status, newest change first; queued leads in queue order",
    description="Queued leads (status=queued) come in the order of the queue: by priority, high first, then the "
    "lead ready the longest first; a lead deferred to a later contact time sorts by that time among its priority. "
    "Every other status lists the newest change first.",
    tags=["leads"],
    responses=answers(
        ok("A page of leads, without their history"),
        forbidden="Pending and queued leads need leads:view_pending, other statuses leads:manage",
        not_found=NOT_A_MEMBER,
        invalid="The status, cursor or limit is not valid",
    ),
)
def list_leads(
    org_id: Id,
    status: Annotated[LeadStatus, Query()] = LeadStatus.PENDING,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[LeadSummary]:
    member = member_of(router, org_id)
    return page_of(LeadSummary, *reads.list_leads(org_id, member, status, cursor=cursor, limit=limit))


@router.get(
    "/orgs/<org_id>/my-leads",
    summary="Leads assigned to the caller, newest change first",
    tags=["leads"],
    responses=answers(
        ok("A page of leads, without their history"),
        forbidden=STAFF_ONLY,
        not_found=NOT_A_MEMBER,
        invalid="The cursor or limit is not valid",
    ),
)
def my_leads(org_id: Id, cursor: Cursor = None, limit: Limit = 50) -> Page[LeadSummary]:
    member = member_of(router, org_id)
    return page_of(LeadSummary, *reads.list_assigned_to(org_id, member.user_id, cursor=cursor, limit=limit))


@router.get(
    "/orgs/<org_id>/leads/<lead_id>",
    summary="Get a lead with its history",
    tags=["leads"],
    responses=answers(
        ok("The lead"),
        forbidden="The lead is visible to its assignee and lead administrators only",
        not_found=NO_LEAD,
    ),
)
def get_lead(org_id: Id, lead_id: Id) -> Lead:
    member = member_of(router, org_id)
    return Lead.of(reads.get_lead(org_id, lead_id, member))


@router.get(
    "/orgs/<org_id>/leads/<lead_id>/history",
    summary="A lead's whole history, newest first",
    tags=["leads"],
    responses=answers(
        ok("A page of the history, newest first"),
        forbidden="The lead is visible to its assignee and lead administrators only",
        not_found=NO_LEAD,
        invalid="The cursor or limit is not valid",
    ),
)
def lead_history(org_id: Id, lead_id: Id, cursor: Cursor = None, limit: Limit = 50) -> Page[HistoryEvent]:
    member = member_of(router, org_id)
    return page_of(HistoryEvent, *reads.lead_history(org_id, lead_id, member, cursor=cursor, limit=limit))


@router.post(
    "/orgs/<org_id>/lead-queue/claims",
    summary="Request the next ready lead from the queue (204 when none is ready)",
    tags=["lead queue"],
    responses=answers(
        ok("The lead, now assigned to the caller"),
        no_content("No lead is ready"),
        forbidden=missing(Permission.REQUEST_LEADS),
        not_found=NOT_A_MEMBER,
    ),
)
def claim_next(org_id: Id) -> Response[Lead]:
    member = member_of(router, org_id, Permission.REQUEST_LEADS)
    lead = queue.claim_next(org_id, member)
    if lead is None:
        return Response(status_code=204, body=None)
    metrics.add_metric(name="LeadsClaimed", unit=MetricUnit.Count, value=1)
    return Response(status_code=200, content_type="application/json", body=Lead.of(lead))


@router.post(
    "/orgs/<org_id>/leads/<lead_id>/keep",
    summary="Keep an assigned lead",
    tags=["lead actions"],
    responses=answers(
        ok("The lead"),
        forbidden=ASSIGNED_TO_OTHER,
        not_found=NO_LEAD,
        conflict="The lead is not assigned, or changed meanwhile",
    ),
)
def keep(org_id: Id, lead_id: Id) -> Lead:
    return Lead.of(actions.keep(org_id, lead_id, member_of(router, org_id)))


@router.post(
    "/orgs/<org_id>/leads/<lead_id>/requeue",
    summary="Put a lead back in the queue, optionally with a new contact time",
    tags=["lead actions"],
    responses=answers(
        ok("The lead, queued again"),
        forbidden=ACTION_REFUSED,
        not_found=NO_LEAD,
        conflict=NOT_ASSIGNED_OR_PENDING,
        invalid=INVALID,
    ),
)
def requeue(org_id: Id, lead_id: Id, body: Annotated[actions.Requeue, Body()]) -> Lead:
    return Lead.of(actions.requeue(org_id, lead_id, member_of(router, org_id), body))


@router.post(
    "/orgs/<org_id>/leads/<lead_id>/invalidate",
    summary="Mark a lead invalid with a reason",
    tags=["lead actions"],
    responses=answers(
        ok("The lead, marked invalid"),
        forbidden=ACTION_REFUSED,
        not_found=NO_LEAD,
        conflict=NOT_ASSIGNED_OR_PENDING,
        invalid=INVALID,
    ),
)
def invalidate(org_id: Id, lead_id: Id, body: Annotated[actions.Invalidate, Body()]) -> Lead:
    return Lead.of(actions.invalidate(org_id, lead_id, member_of(router, org_id), body))


@router.post(
    "/orgs/<org_id>/leads/<lead_id>/convert",
    summary="Convert an assigned lead to a customer",
    tags=["lead actions"],
    status_code=201,
    responses=answers(
        ok("The converted lead and the new customer", 201),
        forbidden=ASSIGNED_TO_OTHER,
        not_found=NO_LEAD,
        conflict="The lead is not assigned, or changed meanwhile",
    ),
)
def convert(org_id: Id, lead_id: Id) -> actions.Conversion:
    conversion = actions.convert(org_id, lead_id, member_of(router, org_id))
    metrics.add_metric(name="LeadsConverted", unit=MetricUnit.Count, value=1)
    return conversion


@router.post(
    "/orgs/<org_id>/lead-returns",
    summary="Return leads to the partner companies they came from, with optional call-center comments",
    tags=["lead actions"],
    responses=answers(
        ok("Every lead asked for, returned now or before"),
        forbidden="Missing leads:return (or the permission for a pending lead), or a lead is assigned to another user",
        not_found="The caller is not a member of the organisation, or a lead does not exist",
        conflict="A lead did not come from a partner company, cannot be returned in its status, or changed meanwhile",
        invalid=INVALID,
    ),
)
def return_leads(org_id: Id, body: Annotated[returns.ReturnLeads, Body()]) -> returns.ReturnResult:
    member = member_of(router, org_id, Permission.RETURN_LEADS)
    return returns.return_leads(org_id, member, body)


@router.get(
    "/orgs/<org_id>/customers",
    summary="List customers, newest first: every customer with leads:manage, else the caller's own",
    description="Each customer's is_partner is as of this read, as on a single customer.",
    tags=["customers"],
    responses=answers(
        ok("A page of customers"),
        forbidden=STAFF_ONLY,
        not_found=NOT_A_MEMBER,
        invalid="The cursor or limit is not valid",
    ),
)
def list_customers(org_id: Id, cursor: Cursor = None, limit: Limit = 50) -> Page[customers.StaffCustomer]:
    member = member_of(router, org_id)
    return page_of(customers.StaffCustomer, *customers.list_customers(org_id, member, cursor=cursor, limit=limit))


@router.get(
    "/orgs/<org_id>/customers/<customer_id>",
    summary="Get a customer",
    description="is_partner tells whether the customer's e-mail address belongs to a partner of the organisation, "
    "as of this read (also for partners who joined after the customer was created)",
    tags=["customers"],
    responses=answers(
        ok("The customer"),
        forbidden="The customer is visible to its owner and lead administrators only",
        not_found="The caller is not a member of the organisation, or there is no such customer",
    ),
)
def get_customer(org_id: Id, customer_id: Id) -> customers.StaffCustomer:
    member = member_of(router, org_id)
    return customers.StaffCustomer.of(customers.get_customer(org_id, customer_id, member))
