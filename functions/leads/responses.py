"""What the leads API answers, for its OpenAPI document only: the routes return plain dicts and these models
are never used to validate or serialize them. Object models allow extra fields, so the document does not
claim to list every field an item may carry."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from common.leads.companies import LeadLocation, NewCompany, QueuePriority
from common.leads.customers import IS_PARTNER
from common.leads.model import LeadContact, LeadStatus
from common.orgs.access import Permission, Role
from common.web.openapi_docs import (  # noqa: F401 - the shared documentation helpers, used as r.<name> by the routes
    INVALID,
    NO_INPUT,
    NOT_A_MEMBER,
    PROBLEM_CODES,
    STAFF_ONLY,
    UNAUTHORIZED,
    Problem,
    Responses,
    answers,
    body,
    missing,
    no_content,
    ok,
)
from common.web.openapi_docs import Open as _Open
from pydantic import ConfigDict, Field


class LeadSource(_Open):
    kind: Literal["partner_company", "manual"]
    company_id: str | None = Field(None, description="partner_company leads")
    external_id: str | None = Field(None, description="partner_company leads: the company's own reference")
    entered_by: str | None = Field(None, description="manual leads: the staff user who entered it")


class HistoryEvent(_Open):
    at: datetime
    actor: str = Field(description="user:<id> or company:<id>")
    action: str = Field(description="received, claimed, kept, requeued, marked_invalid, converted or returned")


class LeadReturn(_Open):
    at: datetime
    by: str
    comments: str | None = None


class LeadSummary(_Open):
    """A lead as listed: without its history."""

    org_id: str
    lead_id: str
    status: LeadStatus
    location: LeadLocation
    priority: QueuePriority
    source: LeadSource
    company_id: str | None = None
    external_id: str | None = None
    contact: LeadContact
    contact_not_before: datetime | None = None
    available_at: datetime
    received_at: datetime
    updated_at: datetime
    version: int
    assignee: str | None = None
    assigned_at: datetime | None = None
    kept_at: datetime | None = None
    invalid_reason: str | None = None
    customer_id: str | None = None
    returned: LeadReturn | None = None


class Lead(LeadSummary):
    history: list[HistoryEvent] = Field(description="the newest entries, oldest first; all of them: .../history")
    history_archived: int | None = Field(None, description="how many older entries only .../history lists")


class HistoryPage(_Open):
    items: list[HistoryEvent] = Field(description="newest first")
    next_cursor: str | None = Field(description="pass as cursor for the next page; null on the last page")


class LeadPage(_Open):
    items: list[LeadSummary]
    next_cursor: str | None = Field(description="pass as cursor for the next page; null on the last page")


class IntakeReceipt(_Open):
    """What a partner company gets back for a lead it posted: its reference and ours."""

    lead_id: str
    external_id: str
    company_id: str
    received_at: datetime


class PartnerCompany(NewCompany):
    """A partner company: its settings as created or changed (NewCompany), and what the system keeps."""

    model_config = ConfigDict(extra="allow")
    org_id: str
    company_id: str
    created_at: datetime
    updated_at: datetime
    updated_by: str
    has_credentials: bool = Field(description="whether client credentials for lead intake have been issued")


class PartnerCompanyPage(_Open):
    items: list[PartnerCompany]
    next_cursor: str | None


class Credentials(_Open):
    """Client credentials for lead intake; the secret is shown only here."""

    client_id: str
    client_secret: str
    scope: str
    token_url: str | None = None


class Organisation(_Open):
    """An organisation as every route answers it (common.orgs.organisations.organisation_view)."""

    org_id: str
    name: str
    parent_id: str | None = Field(description="the parent organisation; null for a top-level one")
    created_at: datetime
    created_by: str


class CallerMembership(_Open):
    role: Role
    permissions: list[Permission]


class MemberOrganisation(Organisation):
    membership: CallerMembership = Field(description="the caller's role and permissions in it")


class MyOrganisation(CallerMembership):
    org_id: str
    org_name: str


class MyOrganisationPage(_Open):
    items: list[MyOrganisation]
    next_cursor: str | None


class Membership(CallerMembership):
    org_id: str
    user_id: str


class Member(Membership):
    """A staff membership as every route answers it (common.orgs.organisations.member_view)."""

    display_name: str | None
    superior_id: str | None = Field(description="whom the member reports to")
    updated_at: datetime


class MemberPage(_Open):
    items: list[Member]
    next_cursor: str | None


class CustomerSource(LeadSource):
    lead_id: str = Field(description="the lead the customer was converted from")


class Customer(_Open):
    org_id: str
    customer_id: str
    contact: LeadContact
    source: CustomerSource
    is_partner: bool = Field(description=IS_PARTNER)
    owner: str
    created_by: str
    created_at: datetime


class StaffCustomerPage(_Open):
    items: list[Customer] = Field(description="newest first")
    next_cursor: str | None


class Conversion(_Open):
    lead: Lead
    customer: Customer


class ReturnedLead(_Open):
    lead_id: str
    status: LeadStatus
    changed: bool = Field(description="false when the lead had already been returned")


class ReturnResult(_Open):
    items: list[ReturnedLead]
