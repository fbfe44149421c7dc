"""The lead record (seed 001): its statuses and errors, its contact data, its keys, its history bound and
what callers see of it.

    lead          ORG#<org>#LEAD#<lead> / LEAD
                  gsi1 ORG#<org>#LEADS#<status> / <changedAt>#<lead>       the leads in one status
                  gsi2 ORG#<org>#ASSIGNEE#<user> / <assignedAt>#<lead>     an assignee's leads (while assigned)
                  gsi3 ORG#<org>#QUEUE / <rank>#<availableAt>#<lead>       the work queue (while queued)
    external id   ORG#<org>#COMPANY#<company>#EXT#<external> / EXTERNAL_ID  a company's reference, taken once

Every change of a lead is one conditional write (or one transaction) that also appends to its history; the
lead keeps its newest entries, older ones move to pages (`HISTORY#<first>` in the lead's partition,
common.platform.history). The side effects (e-mails) follow from the table's stream."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints

from common.leads.companies import QueuePriority
from common.platform import db, history
from common.platform.errors import Conflict, Forbidden, NotFound
from common.platform.validation import SINGLE_LINE, Email, LongText, Phone, ShortText


class LeadStatus(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    CONVERTED = "converted"
    INVALID = "invalid"
    RETURNED = "returned"


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


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    line1: ShortText
    line2: ShortText | None = None
    city: ShortText | None = None
    region: ShortText | None = None
    postal_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=20), SINGLE_LINE] | None = None
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None


class LeadContact(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
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


# -- history and views -----------------------------------------------------------------------------

# A lead's entries are short (a reason of at most 500 characters; long comments only on the return, after
# which nothing changes), so 50 of them stay far below DynamoDB's 400 KB.
HISTORY = history.Bound("history", limit=50, keep=25, pages_at=lambda item: (item["pk"], "HISTORY#"))


def history_entry(actor: str, action: str, at: str, **detail: Any) -> dict[str, Any]:
    return {"at": at, "actor": actor, "action": action, **{k: v for k, v in detail.items() if v is not None}}


def public_view(item: db.Item, *, with_history: bool = True) -> dict[str, Any]:
    hidden = () if with_history else ("history", HISTORY.archived_attribute)
    return db.answer_of(item, ("company_id", "external_id", "contact_not_before"), "claim_id", *hidden)


def intake_view(item: db.Item) -> dict[str, Any]:
    """What a partner company sees of a lead it posted: its own reference and ours, not our work on it."""
    return {k: item[k] for k in ("lead_id", "external_id", "company_id", "received_at")}
