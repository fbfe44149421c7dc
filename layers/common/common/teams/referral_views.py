"""What the referral request routes answer, built from the stored request: the whole request for staff
(with its offers on a read), what the text said for a member of its team, and its history entries."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Self

from pydantic import Field

from common.orgs.access import Permission, Principal
from common.platform.answers import Answer, Timestamp
from common.platform.errors import Forbidden
from common.teams.membership import request_reader
from common.teams.referral_offers import offers
from common.teams.referral_requests import NewReferralRequest, Via, effective_status
from common.teams.routing import Route
from common.teams.team_model import ReferralStatus
from common.teams.team_stats import mark_opened


class ReferralHistoryEntry(Answer):
    """A line of the request's history; the details each event carries, null elsewhere."""

    at: Timestamp
    event: str = Field(
        description="created, offered, offer_refused, delivery_failed, reply, accepted or expired; "
        "re-assignments of the customer are in the customer's history"
    )
    by: str = Field(description="user:<id> or system")
    user_id: str | None = Field(None, description="the member an offer or delivery is about")
    code: str | None = Field(None, description="created: the short code")
    expires_at: Timestamp | None = Field(None, description="created and expired: when the request expires")
    message_sid: str | None = Field(None, description="the text it is about (Twilio's MessageSid)")
    status: str | None = Field(None, description="delivery_failed: Twilio's delivery status")
    error_code: str | None = Field(None, description="offer_refused and delivery_failed: Twilio's error code")
    outcome: str | None = Field(None, description="reply: what became of a reply that won nothing")
    via: Via | None = Field(None, description="accepted: where")
    assignee_id: str | None = Field(None, description="accepted: who the customer was assigned to")
    customer_id: str | None = Field(None, description="accepted: the customer in the team's list")


class Offer(Answer):
    user_id: str
    status: str = Field(description="queued, refused (by Twilio, not retried) or Twilio's delivery status")
    message_sid: str | None = None
    error_code: str | None = None
    offered_at: Timestamp | None = None
    opened_at: Timestamp | None = Field(None, description="when the member first opened the request")
    attempted_at: Timestamp | None = Field(None, description="when the member first tried to accept it (won or not)")


class ReferralRequest(NewReferralRequest, Answer):
    """A request as made (NewReferralRequest) and what became of it."""

    model_config = Answer.model_config
    org_id: str
    request_id: str
    team_id: str = Field(description="the team it is offered to (for an area: the one its route chose)")
    route: Route | None = Field(None, description="for a request made for an area: how its team was chosen")
    rerouted_to: str | None = Field(
        None, description="made for an area and expired unaccepted: the request offering it to the route's next team"
    )
    rerouted_from: str | None = Field(None, description="the expired request this one offers on")
    code: str = Field(description="the short code members reply with: YES <code>")
    status: ReferralStatus = Field(description="as of now: an open request past expires_at is expired")
    expires_at: Timestamp
    created_by: str
    created_at: Timestamp
    accepted_by: str | None = None
    accepted_at: Timestamp | None = None
    accepted_via: Via | None = None
    assignee_id: str | None = Field(None, description="who the customer was assigned to on acceptance")
    customer_id: str | None = Field(None, description="the customer in the team's list")
    history: list[ReferralHistoryEntry] = Field(
        description="the newest entries, oldest first; all of them: .../history"
    )
    history_archived: int | None = Field(None, description="how many older entries only .../history lists")

    @classmethod
    def of_item(cls, item: Mapping[str, Any]) -> Self:
        """The request as stored, with its status as of now."""
        return cls.of(item, status=effective_status(item))


class ReferralRequestWithOffers(ReferralRequest):
    offers: list[Offer] = Field(description="one per member texted")

    @classmethod
    def with_offers(cls, item: Mapping[str, Any], offer_items: Iterable[Mapping[str, Any]]) -> Self:
        return cls.of(item, status=effective_status(item), offers=Offer.each(offer_items))


class FirstName(Answer):
    first_name: str


class OfferedReferral(Answer):
    """What a team member sees of a request: what the text said."""

    org_id: str
    request_id: str
    team_id: str
    customer: FirstName
    summary: str
    code: str
    status: ReferralStatus
    expires_at: Timestamp
    accepted_by: str | None = None

    @classmethod
    def of_item(cls, item: Mapping[str, Any], **fields: Any) -> Self:
        """What the text said, with the status as of now; no more personal data than the first name."""
        return cls.of(item, customer=FirstName.of(item["customer"]), status=effective_status(item), **fields)


class Acceptance(OfferedReferral):
    customer_id: str
    assignee_id: str = Field(description="the acceptor, or the team's leader when a leader or admin accepted")


def request_seen_by(
    principal: Principal, org_id: str, request_id: str, *, client: Any = None
) -> ReferralRequestWithOffers | OfferedReferral:
    """The request as its reader may see it: whole, with its offers, for staff who manage referrals; what
    the text said for a member of its team, whose offer this marks opened. Anyone else: 404 (or 403 for
    staff without the permission)."""
    reader = request_reader(principal, org_id, request_id, client=client)
    if reader.manages_referrals:
        return ReferralRequestWithOffers.with_offers(reader.request, offers(org_id, request_id, client=client))
    if reader.membership is None:
        raise Forbidden(f"missing permission {Permission.MANAGE_REFERRALS.value}")
    # A member reading the request offered to them opened it (the first time counts: common.teams.team_stats).
    mark_opened(reader.request, reader.membership["user_id"], client=client)
    return OfferedReferral.of_item(reader.request)
