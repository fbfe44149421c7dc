"""Reading leads: one lead and its whole history, the listings by status (the pending list, the work queue
in its order) and the leads assigned to a user. Pending and queued leads are for the pending-leads
permission, an assigned lead for its assignee, everything for lead administrators."""

from __future__ import annotations

from typing import Any

from common.leads.model import (
    HISTORY,
    LeadNotFound,
    LeadStatus,
    assignee_listing,
    lead_key,
    queue_partition,
    status_listing,
)
from common.orgs.access import Member, Permission
from common.platform import db, history, listings
from common.platform.errors import Forbidden


def get_lead(org_id: str, lead_id: str, member: Member, *, client: Any = None) -> db.Item:
    item = db.get(lead_key(org_id, lead_id), client=client)
    if item is None:
        raise LeadNotFound(f"lead {lead_id} not found")
    status = LeadStatus(item["status"])
    visible = (
        member.can(Permission.MANAGE_LEADS)
        or item.get("assignee") == member.user_id
        or (status in (LeadStatus.PENDING, LeadStatus.QUEUED) and member.can(Permission.VIEW_PENDING_LEADS))
    )
    if not visible:
        raise Forbidden("this lead is visible to its assignee and lead administrators only")
    return item


def list_leads(
    org_id: str,
    member: Member,
    status: LeadStatus,
    *,
    cursor: str | None = None,
    limit: int = 50,
    client: Any = None,
) -> tuple[list[db.Item], str | None]:
    """Leads in one status, newest change first; queued leads in the queue's order (gsi3): by priority,
    high first, then the longest ready first (leads deferred to a later contact time among them by that
    time). Pending and queued leads need the pending-leads permission; every other status is for lead
    administrators."""
    needed = (
        Permission.VIEW_PENDING_LEADS
        if status in (LeadStatus.PENDING, LeadStatus.QUEUED) and not member.can(Permission.MANAGE_LEADS)
        else Permission.MANAGE_LEADS
    )
    if not member.can(needed):
        raise Forbidden(f"missing permission {needed.value}")
    if status is LeadStatus.QUEUED:
        return listings.query_index(
            listings.IndexKey("gsi3", queue_partition(org_id)), cursor=cursor, limit=limit, client=client
        )
    return listings.query_index(
        listings.IndexKey("gsi1", status_listing(org_id, status)),
        newest_first=True,
        cursor=cursor,
        limit=limit,
        client=client,
    )


def list_assigned_to(
    org_id: str, user_id: str, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[db.Item], str | None]:
    return listings.query_index(
        listings.IndexKey("gsi2", assignee_listing(org_id, user_id)),
        newest_first=True,
        cursor=cursor,
        limit=limit,
        client=client,
    )


def lead_history(
    org_id: str, lead_id: str, member: Member, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[dict[str, Any]], str | None]:
    """The lead's whole history, newest first (the lead itself shows only its newest entries)."""
    lead = get_lead(org_id, lead_id, member, client=client)
    return history.listing(HISTORY, lead, cursor=cursor, limit=limit, client=client)
