"""Partner teams' performance standards and standing: the organisation's standards, a team's scorecard, its
standing and its history, the areas it serves, and the teams the daily sweep found below standard. Thin
handlers over common.teams.standards, common.teams.scorecard, common.teams.standing, common.teams.routing
and common.teams.standards_sweep.

Under /orgs/{orgId}/teams (the gateway's existing prefix for this function: no route of its own), and
included in the API before the team routes: /teams/standards and /teams/below-standard are never taken
for a team id."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from common.orgs.access import Permission
from common.platform.answers import Page, page_of
from common.platform.errors import Forbidden
from common.teams import membership, routing, scorecard, standards, standards_sweep, standing, team_views
from common.web.openapi_docs import INVALID, NOT_A_MEMBER, answers, missing, ok
from common.web.route_params import PAGE_LIMIT, Cursor, Id, Limit, caller, member_of

router = APIGatewayHttpRouter()

NO_TEAM = "No such team, or the caller is neither in it nor staff of the organisation"
READERS = (
    f"Neither staff with {Permission.MANAGE_TEAMS.value} nor the team's leader or one of its admins "
    "(or a team member whose partner account waits for its e-mail confirmation)"
)


def _staff(org_id: str) -> str:
    return member_of(router, org_id, Permission.MANAGE_TEAMS).actor


@router.get(
    "/orgs/<org_id>/teams/standards",
    summary="The organisation's performance standards for its partner teams (the defaults until set)",
    tags=["team standards"],
    responses=answers(ok("The standards"), forbidden=missing(Permission.MANAGE_TEAMS), not_found=NOT_A_MEMBER),
)
def get_standards(org_id: Id) -> standards.OrgStandards:
    _staff(org_id)
    return standards.get_standards(org_id)


@router.put(
    "/orgs/<org_id>/teams/standards",
    summary="Set the organisation's performance standards (a field left out takes its default)",
    tags=["team standards"],
    responses=answers(
        ok("The standards"), forbidden=missing(Permission.MANAGE_TEAMS), not_found=NOT_A_MEMBER, invalid=INVALID
    ),
)
def put_standards(org_id: Id, change: Annotated[standards.Standards, Body()]) -> standards.OrgStandards:
    return standards.put_standards(org_id, change, _staff(org_id))


@router.get(
    "/orgs/<org_id>/teams/below-standard",
    summary="Teams the daily sweep found under a standard, by team id (flags for staff: standing is staff's to set)",
    tags=["team standards"],
    responses=answers(
        ok("A page of flagged teams, by team id"),
        forbidden=missing(Permission.MANAGE_TEAMS),
        not_found=NOT_A_MEMBER,
        invalid="The cursor or limit is not valid",
    ),
)
def below_standard(
    org_id: Id, cursor: Cursor = None, limit: Limit = PAGE_LIMIT
) -> Page[standards_sweep.BelowStandardTeam]:
    _staff(org_id)
    items, next_cursor = standards_sweep.below_standard(org_id, cursor=cursor, limit=limit)
    return page_of(standards_sweep.BelowStandardTeam, items, next_cursor)


@router.get(
    "/orgs/<org_id>/teams/<team_id>/scorecard",
    summary="A team's rates and each member's over the standards' window, with the numbers that make them",
    tags=["team standards"],
    responses=answers(ok("The scorecard"), forbidden=READERS, not_found=NO_TEAM),
)
def get_scorecard(org_id: Id, team_id: Id) -> scorecard.Scorecard:
    team = membership.team_caller(caller(router), org_id, team_id)
    if not (team.manages_teams or team.leads):
        raise Forbidden(
            f"only staff with {Permission.MANAGE_TEAMS.value} and the team's leader and admins read its scorecard"
        )
    return scorecard.scorecard(org_id, team_id, standards.get_standards(org_id))


@router.put(
    "/orgs/<org_id>/teams/<team_id>/standing",
    summary="Set a team's standing with a reason: paused and removed teams are offered no referral",
    tags=["team standards"],
    responses=answers(
        ok("The team"),
        forbidden=missing(Permission.MANAGE_TEAMS),
        not_found=NOT_A_MEMBER + "; or no such team",
        conflict="The team's standing history kept changing meanwhile; retry",
        invalid=INVALID,
    ),
)
def put_standing(org_id: Id, team_id: Id, change: Annotated[standing.StandingChange, Body()]) -> team_views.Team:
    return team_views.Team.of(standing.set_standing(org_id, team_id, change, _staff(org_id)))


@router.get(
    "/orgs/<org_id>/teams/<team_id>/standing-history",
    summary="A team's whole standing history, newest first",
    tags=["team standards"],
    responses=answers(
        ok("A page of the history, newest first"),
        forbidden=missing(Permission.MANAGE_TEAMS),
        not_found=NOT_A_MEMBER + "; or no such team",
        invalid="The cursor or limit is not valid",
    ),
)
def standing_history(
    org_id: Id, team_id: Id, cursor: Cursor = None, limit: Limit = PAGE_LIMIT
) -> Page[standing.StandingEntry]:
    _staff(org_id)
    items, next_cursor = standing.standing_history(org_id, team_id, cursor=cursor, limit=limit)
    return page_of(standing.StandingEntry, items, next_cursor)


@router.put(
    "/orgs/<org_id>/teams/<team_id>/areas",
    summary="Set the areas a team serves: referral requests made for an area are routed among them",
    tags=["team standards"],
    responses=answers(
        ok("The team"),
        forbidden=missing(Permission.MANAGE_TEAMS),
        not_found=NOT_A_MEMBER + "; or no such team",
        conflict="The team changed meanwhile; retry",
        invalid=INVALID,
    ),
)
def put_areas(org_id: Id, team_id: Id, change: Annotated[routing.TeamAreas, Body()]) -> team_views.Team:
    return team_views.Team.of(routing.set_areas(org_id, team_id, change, _staff(org_id)))
