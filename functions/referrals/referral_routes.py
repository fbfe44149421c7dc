"""Referral requests: programme staff offer a customer to a partner team (texted to its eligible members
off the request path), follow what became of it, and team members accept from the dashboard. Thin
handlers over common.teams.referral_requests and common.teams.referral_acceptance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit
from common.orgs.access import (
    Member,
    Permission,
    member_from_item,
    member_key,
    require_member,
    require_user,
)
from common.partners.partner_caller import refuse_unconfirmed
from common.partners.partner_records import account_key
from common.platform import db
from common.platform.errors import Forbidden, NotFound
from common.platform.observability import metrics
from common.platform.validation import ENTITY_ID_PATTERN, USER_ID_PATTERN
from common.teams import referral_acceptance, referral_offers, referral_requests
from common.teams.team_model import ReferralStatus, referral_key, team_key, team_member_key
from common.web.openapi_docs import INVALID, NOT_A_MEMBER, Open, Page, answers, body, missing
from common.web.route_params import Cursor, Id, Limit, caller, page
from pydantic import ConfigDict, Field

router = APIGatewayHttpRouter()

StatusFilter = Annotated[
    Literal["open", "accepted", "expired"] | None,
    Query(description="only requests in this status (an open request past its expiry counts as expired)"),
]
TeamFilter = Annotated[str | None, Query(pattern=ENTITY_ID_PATTERN, description="only this team's requests")]
CreatorFilter = Annotated[str | None, Query(pattern=USER_ID_PATTERN, description="only requests this user created")]

NO_REQUEST = "No such request, or the caller is neither staff of the organisation nor in the request's team"
UNCONFIRMED = "a team member whose partner account waits for its e-mail confirmation (email-not-confirmed)"
READERS = (
    f"Missing the {Permission.MANAGE_REFERRALS.value} permission and not in the request's team (or not a staff "
    f"user), or {UNCONFIRMED}"
)


# -- documented answers (the routes return plain dicts) --------------------------------------------


class ReferralHistoryEntry(Open):
    at: datetime
    event: str = Field(
        description="created, offered, offer_refused, delivery_failed, reply, accepted or expired; "
        "re-assignments of the customer are in the customer's history"
    )
    by: str = Field(description="user:<id> or system")
    user_id: str | None = Field(None, description="the member an offer or delivery is about")


class Offer(Open):
    user_id: str
    status: str = Field(description="queued, refused (by Twilio, not retried) or Twilio's delivery status")
    message_sid: str | None = None
    error_code: str | None = None
    offered_at: datetime | None = None


class ReferralRequest(referral_requests.NewReferralRequest):
    """A request as made (NewReferralRequest) and what became of it."""

    model_config = ConfigDict(extra="allow")
    org_id: str
    request_id: str
    code: str = Field(description="the short code members reply with: YES <code>")
    status: ReferralStatus = Field(description="as of now: an open request past expires_at is expired")
    expires_at: datetime
    created_by: str
    created_at: datetime
    accepted_by: str | None = None
    accepted_at: datetime | None = None
    accepted_via: Literal["dashboard", "sms"] | None = None
    assignee_id: str | None = Field(None, description="who the customer was assigned to on acceptance")
    customer_id: str | None = Field(None, description="the customer in the team's list")
    history: list[ReferralHistoryEntry] = Field(
        description="the newest entries, oldest first; all of them: .../history"
    )
    history_archived: int | None = Field(None, description="how many older entries only .../history lists")


class ReferralRequestWithOffers(ReferralRequest):
    offers: list[Offer] = Field(description="one per member texted")


class ReferralPage(Page):
    items: list[ReferralRequest]


class ReferralHistoryPage(Page):
    items: list[ReferralHistoryEntry] = Field(description="newest first")


class FirstName(Open):
    first_name: str


class OfferedReferral(Open):
    """What a team member sees of a request: what the text said."""

    org_id: str
    request_id: str
    team_id: str
    customer: FirstName
    summary: str
    code: str
    status: ReferralStatus
    expires_at: datetime
    accepted_by: str | None = None


class Acceptance(OfferedReferral):
    customer_id: str
    assignee_id: str = Field(description="the acceptor, or the team's leader when a leader or admin accepted")


# -- who calls -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reader:
    """Who reads a request: the request, the caller's staff membership, their membership of the request's
    team, and the team when an acceptance needs it."""

    request: db.Item
    staff: Member | None
    membership: db.Item | None
    team: db.Item | None = None


def _staff_or_team_member(org_id: str, request_id: str, *, with_team: bool = False) -> _Reader:
    """The request, the caller's staff membership and partner account, and their membership of the
    request's team (with the team itself when `with_team`): two consistent reads. Neither staff of the
    organisation nor in the team (or no such request): 404. In the team only, with a partner account whose
    address is unconfirmed: 403."""
    principal = caller(router)
    require_user(principal)
    keys = [referral_key(org_id, request_id), member_key(org_id, principal.subject), account_key(principal.subject)]
    found = {(i["pk"], i["sk"]): i for i in db.batch_get(keys, consistent=True)}
    request, staff_item, account = (found.get((k["pk"], k["sk"])) for k in keys)
    staff = member_from_item(staff_item) if staff_item else None
    membership = team = None
    if request is not None:
        in_team = [team_member_key(org_id, request["team_id"], principal.subject)]
        if with_team:
            in_team.append(team_key(org_id, request["team_id"]))
        read = {i["sk"]: i for i in db.batch_get(in_team, consistent=True)}
        membership, team = read.get(in_team[0]["sk"]), read.get("TEAM")
    if request is None or (staff is None and membership is None):
        raise NotFound(f"referral request {request_id} not found")
    if staff is None:
        refuse_unconfirmed(account)
    return _Reader(request, staff, membership, team)


def _staff(org_id: str) -> Member:
    return require_member(caller(router), org_id, Permission.MANAGE_REFERRALS)


# -- routes ----------------------------------------------------------------------------------------


@router.post(
    "/orgs/<org_id>/referral-requests",
    summary="Offer a customer to a team: texted to its eligible members, first to accept gets it",
    tags=["referral requests"],
    responses=answers(
        body(ReferralRequestWithOffers, "The open request with its short code (no offer is sent yet)", 201),
        forbidden=missing(Permission.MANAGE_REFERRALS),
        not_found=NOT_A_MEMBER,
        conflict="No free short code or a generated id collided; retry",
        invalid=INVALID + " (or team_id is not a team of the organisation)",
    ),
)
def create_request(
    org_id: Id, new: Annotated[referral_requests.NewReferralRequest, Body()]
) -> tuple[dict[str, Any], int]:
    member = _staff(org_id)
    item = referral_requests.create(org_id, new, member.user_id)
    metrics.add_metric(name="ReferralRequestsCreated", unit=MetricUnit.Count, value=1)
    # Offers are texted by the stream consumer afterwards: a read answers them; none at this moment.
    return {**referral_requests.view(item), "offers": []}, 201


@router.get(
    "/orgs/<org_id>/referral-requests",
    summary="List the organisation's referral requests, newest first",
    tags=["referral requests"],
    responses=answers(
        body(ReferralPage, "A page of requests (filters apply within a page: it may come back short)"),
        forbidden=missing(Permission.MANAGE_REFERRALS),
        not_found=NOT_A_MEMBER,
        invalid="A filter, the cursor or the limit is not valid",
    ),
)
def list_requests(
    org_id: Id,
    status: StatusFilter = None,
    team_id: TeamFilter = None,
    created_by: CreatorFilter = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    _staff(org_id)
    items, next_cursor = referral_requests.list_requests(
        org_id, status=status, team_id=team_id, created_by=created_by, cursor=cursor, limit=limit
    )
    return page([referral_requests.view(i) for i in items], next_cursor)


@router.get(
    "/orgs/<org_id>/referral-requests/<request_id>",
    summary="Get a referral request: staff see all of it with its offers, team members what the text said",
    tags=["referral requests"],
    responses=answers(
        body(
            ReferralRequestWithOffers | OfferedReferral,
            "The whole request with its offers for staff who manage referrals; what the text said for a "
            "team member it was offered to",
        ),
        forbidden=READERS,
        not_found=NO_REQUEST,
    ),
)
def get_request(org_id: Id, request_id: Id) -> dict[str, Any]:
    reader = _staff_or_team_member(org_id, request_id)
    if reader.staff is not None and reader.staff.can(Permission.MANAGE_REFERRALS):
        offers = referral_offers.offers(org_id, request_id)
        return {**referral_requests.view(reader.request), "offers": [referral_offers.view(o) for o in offers]}
    if reader.membership is None:
        raise Forbidden(f"missing permission {Permission.MANAGE_REFERRALS.value}")
    return referral_requests.member_view(reader.request)


@router.get(
    "/orgs/<org_id>/referral-requests/<request_id>/history",
    summary="A referral request's whole history, newest first",
    tags=["referral requests"],
    responses=answers(
        body(ReferralHistoryPage, "A page of the history"),
        forbidden=missing(Permission.MANAGE_REFERRALS),
        not_found=NOT_A_MEMBER + ", or there is no such request",
        invalid="The cursor or limit is not valid",
    ),
)
def request_history(org_id: Id, request_id: Id, cursor: Cursor = None, limit: Limit = 50) -> dict[str, Any]:
    _staff(org_id)
    items, next_cursor = referral_requests.request_history(org_id, request_id, cursor=cursor, limit=limit)
    return page(items, next_cursor)


@router.post(
    "/orgs/<org_id>/referral-requests/<request_id>/accept",
    summary="Accept a referral from the dashboard: the first acceptance wins",
    tags=["referral requests"],
    responses=answers(
        body(Acceptance, "Accepted: the customer is in the team's list (accepting again answers the same)"),
        forbidden=f"Not in the request's team, a member not eligible for referrals, or {UNCONFIRMED}",
        not_found=NO_REQUEST,
        conflict="Already taken by someone else (referral-taken), or expired (referral-expired)",
    ),
)
def accept_request(org_id: Id, request_id: Id) -> dict[str, Any]:
    reader = _staff_or_team_member(org_id, request_id, with_team=True)
    if reader.membership is None:
        raise Forbidden("only members of the request's team accept it")
    # The request and the membership as read above: the acceptance's transaction holds to them.
    accepted = referral_acceptance.accept_as_read(reader.request, reader.team, reader.membership, via="dashboard")
    if reader.request["status"] != ReferralStatus.ACCEPTED:
        metrics.add_metric(name="ReferralsAccepted", unit=MetricUnit.Count, value=1)
    return {
        **referral_requests.member_view(accepted),
        "customer_id": accepted["customer_id"],
        "assignee_id": accepted["assignee_id"],
    }
