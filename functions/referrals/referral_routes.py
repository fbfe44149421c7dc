"""Referral requests: programme staff offer a customer to a partner team (texted to its eligible members
off the request path), follow what became of it, and team members accept from the dashboard. Thin
handlers over common.teams.referral_requests and common.teams.referral_acceptance, answering with the models
of common.teams.referral_views."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit
from common.orgs.access import Member, Permission
from common.platform.answers import Page, page_of
from common.platform.observability import metrics
from common.platform.validation import ENTITY_ID_PATTERN, USER_ID_PATTERN
from common.teams import referral_acceptance, referral_requests, referral_views
from common.web.openapi_docs import INVALID, NOT_A_MEMBER, answers, missing, ok
from common.web.route_params import PAGE_LIMIT, Cursor, Id, Limit, caller, member_of

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


def _staff(org_id: str) -> Member:
    return member_of(router, org_id, Permission.MANAGE_REFERRALS)


# -- routes ----------------------------------------------------------------------------------------


@router.post(
    "/orgs/<org_id>/referral-requests",
    summary="Offer a customer to a team, or to the best team serving an area: texted to its eligible members, "
    "first to accept gets it",
    tags=["referral requests"],
    status_code=201,
    responses=answers(
        ok("The open request with its short code (no offer is sent yet)", 201),
        forbidden=missing(Permission.MANAGE_REFERRALS),
        not_found=NOT_A_MEMBER,
        conflict="The team is paused, removed or paused for overdue fees, or no offerable team serves the area "
        "(team-not-offerable, saying why); or no free short code or a generated id collided; retry",
        invalid=INVALID + " (or team_id is not a team of the organisation, or both or neither of team_id and area)",
    ),
)
def create_request(
    org_id: Id, new: Annotated[referral_requests.NewReferralRequest, Body()]
) -> referral_views.ReferralRequestWithOffers:
    member = _staff(org_id)
    item = referral_requests.create(org_id, new, member.user_id)
    metrics.add_metric(name="ReferralRequestsCreated", unit=MetricUnit.Count, value=1)
    # Offers are texted by the stream consumer afterwards: a read answers them; none at this moment.
    return referral_views.ReferralRequestWithOffers.with_offers(item, [])


@router.get(
    "/orgs/<org_id>/referral-requests",
    summary="List the organisation's referral requests, newest first",
    tags=["referral requests"],
    responses=answers(
        ok("A page of requests (filters apply within a page: it may come back short)"),
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
    limit: Limit = PAGE_LIMIT,
) -> Page[referral_views.ReferralRequest]:
    _staff(org_id)
    items, next_cursor = referral_requests.list_requests(
        org_id, status=status, team_id=team_id, created_by=created_by, cursor=cursor, limit=limit
    )
    return page_of(referral_views.ReferralRequest, map(referral_views.ReferralRequest.of_item, items), next_cursor)


@router.get(
    "/orgs/<org_id>/referral-requests/<request_id>",
    summary="Get a referral request: staff see all of it with its offers, team members what the text said",
    tags=["referral requests"],
    responses=answers(
        ok(
            "The whole request with its offers for staff who manage referrals; what the text said for a "
            "team member it was offered to"
        ),
        forbidden=READERS,
        not_found=NO_REQUEST,
    ),
)
def get_request(
    org_id: Id, request_id: Id
) -> referral_views.ReferralRequestWithOffers | referral_views.OfferedReferral:
    return referral_views.request_seen_by(caller(router), org_id, request_id)


@router.get(
    "/orgs/<org_id>/referral-requests/<request_id>/history",
    summary="A referral request's whole history, newest first",
    tags=["referral requests"],
    responses=answers(
        ok("A page of the history, newest first"),
        forbidden=missing(Permission.MANAGE_REFERRALS),
        not_found=NOT_A_MEMBER + ", or there is no such request",
        invalid="The cursor or limit is not valid",
    ),
)
def request_history(
    org_id: Id, request_id: Id, cursor: Cursor = None, limit: Limit = PAGE_LIMIT
) -> Page[referral_views.ReferralHistoryEntry]:
    _staff(org_id)
    items, next_cursor = referral_requests.request_history(org_id, request_id, cursor=cursor, limit=limit)
    return page_of(referral_views.ReferralHistoryEntry, items, next_cursor)


@router.post(
    "/orgs/<org_id>/referral-requests/<request_id>/accept",
    summary="Accept a referral from the dashboard: the first acceptance wins",
    tags=["referral requests"],
    responses=answers(
        ok("Accepted: the customer is in the team's list (accepting again answers the same)"),
        forbidden=f"Not in the request's team, a member not eligible for referrals, or {UNCONFIRMED}",
        not_found=NO_REQUEST,
        conflict="Already taken by someone else (referral-taken), expired (referral-expired), or the team was "
        "removed (team-removed)",
    ),
)
def accept_request(org_id: Id, request_id: Id) -> referral_views.Acceptance:
    return referral_acceptance.accept_on_dashboard(caller(router), org_id, request_id)
