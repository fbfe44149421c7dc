"""What every change of a lead's status shares (the assignee's actions and returns): which statuses a
member may act on, why a conditional change was refused, and the update that moves the lead to its new
status and listing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common.leads.model import (
    LeadAssignedToOther,
    LeadNotFound,
    LeadStatus,
    LeadUnavailable,
    listing_order,
    status_listing,
)
from common.orgs.access import Member, Permission
from common.platform import db, history
from common.platform.errors import DomainError, Forbidden

# The attributes of a lead's assignment, removed when it leaves its assignee.
UNASSIGN = ("assignee", "assigned_at", "gsi2pk", "gsi2sk")


def allowed_from(member: Member, statuses: tuple[LeadStatus, ...]) -> list[LeadStatus]:
    """Pending leads are acted on only with the pending-leads permission (or as lead administrator)."""
    if member.can(Permission.VIEW_PENDING_LEADS) or member.can(Permission.MANAGE_LEADS):
        return list(statuses)
    return [s for s in statuses if s is not LeadStatus.PENDING]


def refusal(
    lead_id: str, action: str, member: Member, statuses: tuple[LeadStatus, ...]
) -> Callable[[db.Item | None], DomainError]:
    """Why a conditional change failed, told from the item DynamoDB returned with the failure."""

    def explain(current: db.Item | None) -> DomainError:
        if current is None:
            return LeadNotFound(f"lead {lead_id} not found")
        status = LeadStatus(current["status"])
        if status not in statuses:
            return LeadUnavailable(f"lead {lead_id} is {status.value}; it cannot be {action}")
        if status is LeadStatus.PENDING and not allowed_from(member, (status,)):
            return Forbidden(f"missing permission {Permission.VIEW_PENDING_LEADS.value}")
        if (
            status is LeadStatus.ASSIGNED
            and current.get("assignee") != member.user_id
            and not member.can(Permission.MANAGE_LEADS)
        ):
            return LeadAssignedToOther(f"lead {lead_id} is assigned to another user")
        return LeadUnavailable(f"lead {lead_id} changed while it was being {action}; retry")

    return explain


def status_update(
    org_id: str,
    lead_id: str,
    to_status: LeadStatus,
    now: str,
    addition: history.Addition,
    *,
    set_fields: dict[str, Any] | None = None,
    set_expressions: tuple[str, ...] = (),
    remove: tuple[str, ...] = (),
) -> tuple[str, dict[str, str], dict[str, Any]]:
    """The update every change of a lead makes: new status (and its listing key), version, history entry,
    plus the change's own fields. Returns expression, names and values (the addition's condition is the
    caller's to add)."""
    names = {"#status": "status"}
    values: dict[str, Any] = {
        ":to": to_status.value,
        ":now": now,
        ":one": 1,
        ":g1pk": status_listing(org_id, to_status),
        ":g1sk": listing_order(now, lead_id),
        **addition.values,
    }
    sets = [
        "#status = :to",
        "updated_at = :now",
        "version = version + :one",
        addition.expression,
        "gsi1pk = :g1pk",
        "gsi1sk = :g1sk",
        *set_expressions,
    ]
    for i, (field, value) in enumerate((set_fields or {}).items()):
        names[f"#s{i}"] = field
        values[f":s{i}"] = value
        sets.append(f"#s{i} = :s{i}")
    return "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(remove) if remove else ""), names, values
