"""Removal requests: a team member asks to remove a customer from the team's list with a reason; staff with
teams:manage list the open ones and decide them (reassign to another team, or close as lost). Thin handlers
over common.teams.removal_requests."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit
from common.orgs.access import Permission
from common.platform.answers import Page, page_of
from common.platform.observability import metrics
from common.teams import membership, removal_requests
from common.teams.removal_requests import RemovalRequest
from common.web.openapi_docs import INVALID, NOT_A_MEMBER, answers, missing, ok
from common.web.route_params import PAGE_LIMIT, Cursor, Id, Limit, caller, member_of

router = APIGatewayHttpRouter()

NO_CUSTOMER = (
    "No such team, or the caller is neither in it nor staff of the organisation; or no such customer, or (for a "
    "member) it is not assigned to them"
)


@router.post(
    "/orgs/<org_id>/teams/<team_id>/customers/<customer_id>/removal-requests",
    summary="Ask to remove a customer from the team's list, with a reason (hand-offs and bad fits go to staff; "
    "other reasons close it as lost at once)",
    tags=["team customers"],
    status_code=201,
    responses=answers(
        ok("The request (decided already unless staff decide it)", 201),
        forbidden="Not in the team, or neither the customer's assignee nor the team's leader or an admin",
        not_found=NO_CUSTOMER,
        conflict="The customer has an open removal request (removal-request-open) or is closed or lost "
        "(customer-finished)",
        invalid=INVALID,
    ),
)
def request_removal(
    org_id: Id, team_id: Id, customer_id: Id, new: Annotated[removal_requests.NewRemovalRequest, Body()]
) -> RemovalRequest:
    team_caller = membership.team_caller(caller(router), org_id, team_id)
    request = removal_requests.request_removal(team_caller, customer_id, new)
    metrics.add_metric(name="RemovalRequests", unit=MetricUnit.Count, value=1)
    return RemovalRequest.of(request)


@router.get(
    "/orgs/<org_id>/teams/removal-requests",
    summary="The open removal requests staff are to decide, oldest first",
    tags=["team customers"],
    responses=answers(
        ok("A page of open requests"),
        forbidden=missing(Permission.MANAGE_TEAMS),
        not_found=NOT_A_MEMBER,
        invalid="The cursor or limit is not valid",
    ),
)
def open_requests(org_id: Id, cursor: Cursor = None, limit: Limit = PAGE_LIMIT) -> Page[RemovalRequest]:
    member_of(router, org_id, Permission.MANAGE_TEAMS)
    items, next_cursor = removal_requests.open_requests(org_id, cursor=cursor, limit=limit)
    return page_of(RemovalRequest, items, next_cursor)


@router.post(
    "/orgs/<org_id>/teams/removal-requests/<removal_id>/decision",
    summary="Decide an open removal request: reassign the customer to another team (it joins that list as new, "
    "with its history) or close it as lost",
    tags=["team customers"],
    responses=answers(
        ok("The decided request"),
        forbidden=missing(Permission.MANAGE_TEAMS),
        not_found=NOT_A_MEMBER + "; or no such removal request",
        conflict="Decided already, or the customer changed meanwhile (removal-decided), or it is closed "
        "(customer-finished), or the team to reassign to is offered no referrals (team-not-offerable)",
        invalid=INVALID + " (or the team to reassign to is missing, unknown or the same)",
    ),
)
def decide(org_id: Id, removal_id: Id, decision: Annotated[removal_requests.RemovalDecision, Body()]) -> RemovalRequest:
    staff = member_of(router, org_id, Permission.MANAGE_TEAMS)
    decided = removal_requests.decide(staff, org_id, removal_id, decision)
    metrics.add_metric(name="RemovalDecisions", unit=MetricUnit.Count, value=1)
    return RemovalRequest.of(decided)
