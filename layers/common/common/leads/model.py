"""The lead record (seed 001): its statuses and errors, its contact data, its keys, its history bound and
what callers see of it.

    lead          ORG#<org>#LEAD#<lead> / LEAD
                  gsi1 ORG#<org>#LEADS#<status> / <changedAt>#<lead>       the leads in one status
                  gsi2 ORG#<org>#ASSIGNEE#<user> / <assignedAt>#<lead>     an assignee's leads (while assigned)
                  gsi3 ORG#<org>#QUEUE / <rank>#<availableAt>#<lead>       the work queue (while queued)
    external id   ORG#<org>#COMPANY#<company>#EXT#<external> / EXTERNAL_ID  a company's reference, taken once

Every change of a lead is one conditional write (or one transaction) that also appends to its history; the
lead keeps its newest entries, older ones move to pages (`HISTORY#<first>` in the lead's partition,
common.platform.history). The side effects (e-mails) follow from the table's stream. A lead is answered as
a `Lead` (with its newest history entries) or, in listings, a `LeadSummary`."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.config import JsonDict

from common.leads.companies import LeadLocation, QueuePriority
from common.leads.time_zones import ZoneSource
from common.platform import db, history
from common.platform.answers import Answer, Timestamp
from common.platform.errors import Conflict, Forbidden, NotFound
from common.platform.validation import SINGLE_LINE, Email, LongText, Phone, ShortText


class LeadStatus(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    CONVERTED = "converted"
    INVALID = "invalid"
    RETURNED = "returned"
    SOLD = "sold"


class LeadNotFound(NotFound):
    code = "lead-not-found"


class LeadUnavailable(Conflict):
    code = "lead-unavailable"
    title = "The lead is not in a state that allows this"


class LeadAssignedToOther(Forbidden):
    code = "lead-assigned-to-another-user"
    title = "Only the assignee or a lead administrator may act on this lead"


class LeadNotReturnable(Conflict):
    code = "lead-not-returnable"
    title = "Only leads bought from a partner company can be returned"


TIME_ZONE_GIVEN = (
    "the lead's IANA time zone, in which the queue hours are read; left out: from its address (a US state or "
    "territory, a Canadian province or territory, a country of one zone), else the organisation's fallback"
)
ADDRESS_EXAMPLE: JsonDict = {"line1": "1 Main Street", "city": "Springfield", "postal_code": "12345", "country": "US"}
CONTACT_EXAMPLE: JsonDict = {"contact_name": "Jane Doe", "phone": "+15550100", "email": "jane@example.org"}


class Address(BaseModel):
    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [ADDRESS_EXAMPLE]}
    )
    line1: ShortText
    line2: ShortText | None = None
    city: ShortText | None = None
    region: ShortText | None = None
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20), SINGLE_LINE] | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None


class LeadContact(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{**CONTACT_EXAMPLE, "address": ADDRESS_EXAMPLE, "notes": "Best after 5pm"}]},
    )
    contact_name: ShortText
    phone: Phone | None = None
    email: Email | None = None
    address: Address | None = None
    notes: LongText | None = None


# -- keys ------------------------------------------------------------------------------------------


def lead_key(org_id: str, lead_id: str) -> db.Key:
    return {"pk": f"ORG#{org_id}#LEAD#{lead_id}", "sk": "LEAD"}


def external_id_key(org_id: str, company_id: str, external_id: str) -> db.Key:
    return {"pk": f"ORG#{org_id}#COMPANY#{company_id}#EXT#{external_id}", "sk": "EXTERNAL_ID"}


def status_listing(org_id: str, status: LeadStatus) -> str:
    """The gsi1 partition of the leads in one status."""
    return f"ORG#{org_id}#LEADS#{status.value}"


def assignee_listing(org_id: str, user_id: str) -> str:
    """The gsi2 partition of the leads assigned to one user."""
    return f"ORG#{org_id}#ASSIGNEE#{user_id}"


def listing_order(at: str, lead_id: str) -> str:
    """The sort key in the status and assignee listings: when the lead entered it."""
    return f"{at}#{lead_id}"


def queue_partition(org_id: str) -> str:
    """The gsi3 partition of the organisation's work queue."""
    return f"ORG#{org_id}#QUEUE"


def queue_position(priority: QueuePriority, available_at: str, lead_id: str) -> str:
    """Sort key in the queue: priority rank first (1 = high), then when the lead became ready."""
    return f"{priority.rank}#{available_at}#{lead_id}"


def ready_positions(priority: QueuePriority, now: str) -> tuple[str, str]:
    """The first and last queue positions of the leads of one priority that are ready at `now`."""
    return f"{priority.rank}#", f"{priority.rank}#{now}#~"


# -- history and answers -----------------------------------------------------------------------------

# A lead's entries are short (a reason of at most 500 characters; long comments only on the return, after
# which nothing changes), so 50 of them stay far below DynamoDB's 400 KB.
HISTORY = history.Bound("history", limit=50, keep=25, pages_at=lambda item: (item["pk"], "HISTORY#"))


def history_entry(actor: str, action: str, at: str, **detail: Any) -> dict[str, Any]:
    return {"at": at, "actor": actor, "action": action, **{k: v for k, v in detail.items() if v is not None}}


class HistoryEvent(Answer):
    """One entry of a lead's history: who did what and when, with the details of that change."""

    at: Timestamp
    actor: str = Field(description="user:<id> or company:<id>")
    action: str = Field(description="received, claimed, kept, requeued, marked_invalid, converted, returned or sold")
    status: LeadStatus | None = Field(None, description="received: the status the lead arrived in")
    location: LeadLocation | None = Field(None, description="received: where the lead was placed")
    contact_not_before: Timestamp | None = Field(None, description="requeued: the new contact time, if any")
    reason: str | None = Field(None, description="marked_invalid: why")
    comments: str | None = Field(None, description="returned: the call center's comments, if any")
    customer_id: str | None = Field(None, description="converted: the customer it became")
    company_id: str | None = Field(None, description="sold: the partner company it was sold to")
    sale_id: str | None = Field(None, description="sold: the sale")


class LeadSource(Answer):
    """Where a lead came from: posted by a partner company, or entered by hand by staff (from the self-generated
    source or a company that sells leads), with the campaign it came in, if any."""

    kind: Literal["partner_company", "manual"]
    source_id: str | None = Field(
        None, description='"self-generated" or the partner company\'s id (null for leads kept before sources)'
    )
    company_id: str | None = Field(None, description="the partner company the lead came from, if any")
    external_id: str | None = Field(None, description="partner_company leads: the company's own reference")
    entered_by: str | None = Field(None, description="manual leads: the staff user who entered it")
    campaign_id: str | None = Field(None, description="the company's campaign the lead came in (our id)")
    campaign_name: str | None = Field(None, description="the campaign's name when the lead came in")


class LeadReturn(Answer):
    at: Timestamp
    by: str
    comments: str | None = None


class Sale(Answer):
    """Whom a lead or customer was sold to, when, by whom and how; the receiver's id once its system answered
    a post with one."""

    sale_id: str = Field(description="also the `webhook-id` of every post of the sale")
    company_id: str = Field(description="the partner company it was sold to")
    sold_at: Timestamp
    sold_by: str = Field(description="the staff user who sold it")
    method: Literal["post", "email"] = Field(description="how it reached the company: posted or e-mailed")
    receiver_id: str | None = Field(
        None, description="post: the id the company's system gave it (its lead or customer id), once it answered"
    )


class LeadSummary(Answer):
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
    contact_not_before: Timestamp | None = None
    available_at: Timestamp = Field(description="queued: when it is (next) served")
    time_zone: str | None = Field(None, description="its IANA time zone (null: received before zones were kept)")
    time_zone_source: ZoneSource | None = Field(
        None, description="where its time zone came from: given with it, its address, the organisation's fallback"
    )
    received_at: Timestamp
    updated_at: Timestamp
    version: int
    assignee: str | None = None
    assigned_at: Timestamp | None = None
    kept_at: Timestamp | None = None
    invalid_reason: str | None = None
    customer_id: str | None = None
    returned: LeadReturn | None = None
    sale: Sale | None = None


class Lead(LeadSummary):
    """A lead as read, entered, claimed or changed: with its newest history entries."""

    history: list[HistoryEvent] = Field(description="the newest entries, oldest first; all of them: .../history")
    history_archived: int | None = Field(None, description="how many older entries only .../history lists")
