"""What the customer list's routes answer, built from the stored team customers: a customer with its newest
history and whether it is overdue (and, on reads, whether it is a partner), and its history entries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Self

from pydantic import Field

from common.leads.customers import IS_PARTNER, flag_partners
from common.platform import clock
from common.platform.answers import Answer, Timestamp
from common.teams.referral_requests import ReferralCustomer
from common.teams.removal_model import OpenRemoval, RemovalReason
from common.teams.team_model import CustomerStatus


class CustomerHistoryEntry(Answer):
    at: Timestamp
    by: str = Field(description="user:<id>")
    event: Literal["created", "status", "assigned"]
    status: CustomerStatus | None = None
    note: str | None = None
    assignee_id: str | None = None
    from_assignee_id: str | None = None
    reason: RemovalReason | None = Field(None, description="why it was removed (closed as lost, or moved here)")
    from_team_id: str | None = Field(None, description="the team it was reassigned from (on its entry here)")


class TeamCustomer(Answer):
    org_id: str
    team_id: str
    customer_id: str = Field(description="the id of the referral request it came from")
    request_id: str
    customer: ReferralCustomer = Field(description="the customer's details from the referral request")
    summary: str
    status: CustomerStatus
    assignee_id: str
    assigned_at: Timestamp
    last_updated_at: Timestamp = Field(description="the last status update; due again 7 days later")
    due_at: Timestamp | None = Field(None, description="null once closed or lost")
    overdue: bool
    history: list[CustomerHistoryEntry] = Field(
        description="the newest entries, oldest first; all of them: .../history"
    )
    history_archived: int | None = Field(None, description="how many older entries only .../history lists")
    is_partner: bool | None = Field(
        None, description=IS_PARTNER + " (on the list and the single read; null on the answers of changes)"
    )
    removal_request: OpenRemoval | None = Field(None, description="the removal request staff are to decide")
    lost_reason: RemovalReason | None = Field(None, description="why it was removed as lost")
    created_at: Timestamp = Field(description="when it joined this team's list (the referral, or a reassignment)")
    version: int

    @classmethod
    def of_item(cls, item: Mapping[str, Any]) -> Self:
        """The customer as stored, overdue as of now."""
        due = item.get("due_at")
        return cls.of(item, overdue=bool(due and due < clock.now_iso()))


def _email(item: Mapping[str, Any]) -> Any:
    return (item.get("customer") or {}).get("email")


def flagged(org_id: str, items: Sequence[Mapping[str, Any]], *, client: Any = None) -> list[TeamCustomer]:
    """The customers, each with is_partner (common.leads.customers) for the customer's address."""
    return [TeamCustomer.of_item(item) for item in flag_partners(org_id, items, _email, client=client)]
