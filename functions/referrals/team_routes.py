"""Partner teams: creating teams, their members and who receives referral texts; the team's shared customer
list (statuses, notes, re-assignment); the teams with overdue customers; a member's own teams. Thin handlers
over common.teams.roster, common.teams.membership, common.teams.team_customers and common.teams.reminders,
answering with the models of common.teams.team_views and common.teams.customer_views."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit
from common.orgs.access import Permission
from common.partners.partner_caller import require_confirmed
from common.platform.answers import Page, page_of
from common.platform.observability import metrics
from common.teams import closings, customer_views, membership, reminders, roster, team_customers, team_views
from common.teams.team_model import CustomerStatus
from common.web.openapi_docs import INVALID, NOT_A_MEMBER, answers, missing, no_content, ok
from common.web.route_params import PAGE_LIMIT, Cursor, Id, Limit, UserId, caller, member_of

router = APIGatewayHttpRouter()

# Path ids are checked before anything is read: a malformed id is a 422 naming the parameter.

READERS = (
    f"Missing the {Permission.MANAGE_TEAMS.value} or {Permission.MANAGE_REFERRALS.value} permission "
    "(or not a staff user)"
)
NO_TEAM = "No such team, or the caller is neither in it nor staff of the organisation"
MANAGERS = (
    f"The caller is neither the team's leader nor one of its admins nor staff with {Permission.MANAGE_TEAMS.value}"
)
NO_CUSTOMER = NO_TEAM + "; or no such customer, or (for a member) it is not assigned to them"


def _caller(org_id: str, team_id: str) -> membership.TeamCaller:
    return membership.team_caller(caller(router), org_id, team_id)


# -- teams -----------------------------------------------------------------------------------------


@router.post(
    "/orgs/<org_id>/teams",
    summary="Create a team with its leader",
    tags=["teams"],
    status_code=201,
    responses=answers(
        ok("The team and its leader", 201),
        forbidden=missing(Permission.MANAGE_TEAMS),
        not_found=NOT_A_MEMBER,
        conflict="A generated id collided; retry",
        invalid=INVALID,
    ),
)
def create_team(org_id: Id, new: Annotated[roster.NewTeam, Body()]) -> team_views.TeamWithMembers:
    member = member_of(router, org_id, Permission.MANAGE_TEAMS)
    team, leader = roster.create_team(org_id, member, new)
    metrics.add_metric(name="TeamsCreated", unit=MetricUnit.Count, value=1)
    return team_views.TeamWithMembers.of_team(team, [leader])


@router.get(
    "/orgs/<org_id>/teams",
    summary="List the organisation's teams by name",
    tags=["teams"],
    responses=answers(
        ok("A page of teams"), forbidden=READERS, not_found=NOT_A_MEMBER, invalid="The cursor is not valid"
    ),
)
def list_teams(org_id: Id, cursor: Cursor = None, limit: Limit = PAGE_LIMIT) -> Page[team_views.Team]:
    membership.require_staff_reader(caller(router), org_id)
    items, next_cursor = membership.list_teams(org_id, cursor=cursor, limit=limit)
    return page_of(team_views.Team, items, next_cursor)


# Registered before /teams/<team_id>: "overdue" is never taken for a team id.
@router.get(
    "/orgs/<org_id>/teams/overdue",
    summary="Teams with customers past their 7-day update, most overdue first",
    tags=["teams"],
    responses=answers(ok("The teams with overdue customers"), forbidden=READERS, not_found=NOT_A_MEMBER),
)
def overdue_teams(org_id: Id) -> reminders.OverdueTeams:
    membership.require_staff_reader(caller(router), org_id)
    return reminders.overdue_teams(org_id)


@router.get(
    "/orgs/<org_id>/teams/<team_id>",
    summary="Get a team with its members (a member sees themselves only)",
    tags=["teams"],
    responses=answers(ok("The team"), forbidden=READERS, not_found=NO_TEAM),
)
def get_team(org_id: Id, team_id: Id) -> team_views.TeamWithMembers:
    return team_views.team_seen_by(_caller(org_id, team_id))


@router.put(
    "/orgs/<org_id>/teams/<team_id>/leader",
    summary="Make another member the team's leader",
    tags=["teams"],
    responses=answers(
        ok("The team with its new leader"),
        forbidden=missing(Permission.MANAGE_TEAMS),
        not_found=NO_TEAM,
        conflict="The former leader still has customers and was to become an admin (admin-not-assignable), or the "
        "team changed meanwhile",
        invalid=INVALID + " (or the user is not a member of the team)",
    ),
)
def change_leader(org_id: Id, team_id: Id, change: Annotated[roster.LeaderChange, Body()]) -> team_views.Team:
    return team_views.Team.of(roster.change_leader(_caller(org_id, team_id), change))


@router.put(
    "/orgs/<org_id>/teams/<team_id>/members/<user_id>",
    summary="Add a member or admin to the team, or change one",
    tags=["teams"],
    responses=answers(
        ok("The membership, changed"),
        ok("The membership, added", 201),
        forbidden=MANAGERS,
        not_found=NO_TEAM,
        conflict="The phone number is another member's in this team, a member was to become or stop being the "
        "leader (staff change the leader), a member with customers was to become an admin (admin-not-assignable), "
        "or the membership changed meanwhile",
        invalid=INVALID,
    ),
)
def put_member(
    org_id: Id, team_id: Id, user_id: UserId, change: Annotated[roster.MemberChange, Body()]
) -> tuple[team_views.TeamMember, int]:
    member, added = roster.put_member(_caller(org_id, team_id), user_id, change)
    return team_views.TeamMember.of(member), 201 if added else 200


@router.delete(
    "/orgs/<org_id>/teams/<team_id>/members/<user_id>",
    summary="Remove a member from the team (their customers re-assigned first)",
    tags=["teams"],
    responses=answers(
        no_content("Removed"),
        forbidden=MANAGERS,
        not_found=NO_TEAM + "; or the user is not in it",
        conflict="The member still has customers assigned, is the leader, or changed meanwhile",
    ),
)
def remove_member(org_id: Id, team_id: Id, user_id: UserId) -> tuple[None, int]:
    roster.remove_member(_caller(org_id, team_id), user_id)
    return None, 204


@router.put(
    "/orgs/<org_id>/teams/<team_id>/members/<user_id>/eligibility",
    summary="Choose whether a member receives referral texts",
    tags=["teams"],
    responses=answers(
        ok("The membership"),
        forbidden=MANAGERS,
        not_found=NO_TEAM + "; or the user is not in it",
        invalid=INVALID,
    ),
)
def set_eligibility(
    org_id: Id, team_id: Id, user_id: UserId, change: Annotated[roster.Eligibility, Body()]
) -> team_views.TeamMember:
    return team_views.TeamMember.of(roster.set_eligible(_caller(org_id, team_id), user_id, change.eligible))


@router.get(
    "/me/teams",
    summary="The caller's teams, in every organisation, by organisation id, then team id",
    tags=["teams"],
    responses=answers(
        ok("A page of the caller's memberships"),
        forbidden="Machine credentials have no teams, or the caller's partner account waits for its e-mail "
        "confirmation (email-not-confirmed)",
        invalid="The cursor is not valid",
    ),
)
def my_teams(cursor: Cursor = None, limit: Limit = PAGE_LIMIT) -> Page[team_views.MyTeam]:
    principal = caller(router)
    require_confirmed(principal)
    items, next_cursor = membership.my_teams(principal.subject, cursor=cursor, limit=limit)
    return page_of(team_views.MyTeam, items, next_cursor)


# -- the customer list -----------------------------------------------------------------------------


@router.get(
    "/orgs/<org_id>/teams/<team_id>/customers",
    summary="The team's customer list, newest first (a member: the customers assigned to them)",
    tags=["team customers"],
    responses=answers(
        ok("A page of customers"),
        forbidden=READERS,
        not_found=NO_TEAM,
        invalid="The status, cursor or limit is not valid",
    ),
)
def list_customers(
    org_id: Id,
    team_id: Id,
    status: Annotated[CustomerStatus | None, Query(description="only customers in this status")] = None,
    overdue: Annotated[bool, Query(description="only customers past their 7-day update")] = False,
    cursor: Cursor = None,
    limit: Limit = PAGE_LIMIT,
) -> Page[customer_views.TeamCustomer]:
    caller = _caller(org_id, team_id)
    items, next_cursor = team_customers.list_customers(
        caller, status=status, overdue=overdue, cursor=cursor, limit=limit
    )
    return page_of(customer_views.TeamCustomer, customer_views.flagged(org_id, items), next_cursor)


@router.get(
    "/orgs/<org_id>/teams/<team_id>/customers/<customer_id>",
    summary="A customer of the team, with its history",
    tags=["team customers"],
    responses=answers(ok("The customer"), forbidden=READERS, not_found=NO_CUSTOMER),
)
def get_customer(org_id: Id, team_id: Id, customer_id: Id) -> customer_views.TeamCustomer:
    customer = team_customers.get_customer(_caller(org_id, team_id), customer_id)
    return customer_views.flagged(org_id, [customer])[0]


@router.get(
    "/orgs/<org_id>/teams/<team_id>/customers/<customer_id>/history",
    summary="A customer's whole history, newest first",
    tags=["team customers"],
    responses=answers(
        ok("A page of the history, newest first"),
        forbidden=READERS,
        not_found=NO_CUSTOMER,
        invalid="The cursor or limit is not valid",
    ),
)
def customer_history(
    org_id: Id, team_id: Id, customer_id: Id, cursor: Cursor = None, limit: Limit = PAGE_LIMIT
) -> Page[customer_views.CustomerHistoryEntry]:
    caller = _caller(org_id, team_id)
    items, next_cursor = team_customers.customer_history(caller, customer_id, cursor=cursor, limit=limit)
    return page_of(customer_views.CustomerHistoryEntry, items, next_cursor)


@router.post(
    "/orgs/<org_id>/teams/<team_id>/customers/<customer_id>/status",
    summary="Update a customer's status, with an optional note (due again 7 days later); closing it records "
    "its closing, which owes a referral fee",
    tags=["team customers"],
    responses=answers(
        ok("The customer"),
        forbidden="Neither the customer's assignee nor the team's leader or an admin",
        not_found=NO_CUSTOMER,
        conflict="The customer's history kept changing meanwhile; retry. Closing: the closing is recorded with "
        "other figures (closing-exists), or the customer is closed already (customer-closed: .../closings)",
        invalid=INVALID + " (closed needs its closing, other statuses take none)",
    ),
)
def update_status(
    org_id: Id, team_id: Id, customer_id: Id, change: Annotated[team_customers.CustomerStatusChange, Body()]
) -> customer_views.TeamCustomer:
    caller = _caller(org_id, team_id)
    if change.closing is not None:
        updated = closings.close_customer(caller, customer_id, change.closing, change.note)
    else:
        updated = team_customers.update_status(caller, customer_id, change)
    metrics.add_metric(name="CustomerStatusUpdates", unit=MetricUnit.Count, value=1)
    return customer_views.TeamCustomer.of_item(updated)


@router.put(
    "/orgs/<org_id>/teams/<team_id>/customers/<customer_id>/assignee",
    summary="Re-assign a customer to the team's leader or a member (never an admin)",
    tags=["team customers"],
    responses=answers(
        ok("The customer"),
        forbidden=MANAGERS,
        not_found=NO_CUSTOMER,
        conflict="The user is a team admin (admin-not-assignable), or the customer changed meanwhile; read it "
        "again and retry",
        invalid=INVALID + " (or the user is not in the team)",
    ),
)
def reassign(
    org_id: Id, team_id: Id, customer_id: Id, change: Annotated[team_customers.Reassignment, Body()]
) -> customer_views.TeamCustomer:
    return customer_views.TeamCustomer.of_item(team_customers.reassign(_caller(org_id, team_id), customer_id, change))
