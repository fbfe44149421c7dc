"""What the team routes answer about teams and their members, built from the stored items: a team, a
membership, a team with the members its caller may see, and a user's own teams."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Self

from pydantic import Field

from common.platform.answers import Answer, Timestamp
from common.teams.membership import TeamCaller, team_members
from common.teams.roster import MemberDetails
from common.teams.team_model import TeamRole


class Team(Answer):
    org_id: str
    team_id: str
    name: str
    leader_id: str = Field(description="the leader's user id")
    created_by: str = Field(description="user:<id>")
    created_at: Timestamp
    updated_at: Timestamp
    version: int


class TeamMember(MemberDetails, Answer):
    """A membership: the member's details as set (MemberDetails) and their place in the team."""

    model_config = Answer.model_config
    org_id: str
    team_id: str
    team_name: str
    user_id: str = Field(description="the member's user subject")
    role: TeamRole
    eligible: bool = Field(description="receives referral texts")
    paused: bool = Field(description="paused themselves (PAUSE by text); the team is not paused")
    customer_count: int = Field(description="customers assigned to the member")
    joined_at: Timestamp
    updated_at: Timestamp
    version: int


class TeamWithMembers(Team):
    members: list[TeamMember] = Field(description="everyone for staff, the leader and admins; a member sees themselves")

    @classmethod
    def of_team(cls, team: Mapping[str, Any], members: Iterable[Mapping[str, Any]]) -> Self:
        return cls.of(team, members=TeamMember.each(members))


class MyTeam(Answer):
    """One of the caller's memberships, in any organisation."""

    org_id: str
    team_id: str
    team_name: str
    role: TeamRole
    eligible: bool
    paused: bool
    display_name: str
    joined_at: Timestamp


def team_seen_by(caller: TeamCaller, *, client: Any = None) -> TeamWithMembers:
    """The team with the members its caller sees: all of them (one query of the team) for the leader, the
    admins and staff who read teams (TeamCaller.sees_all); a member sees themselves only."""
    if caller.sees_all:
        members = team_members(caller.org_id, caller.team_id, consistent=True, client=client)
    else:
        members = [caller.membership] if caller.membership else []
    return TeamWithMembers.of_team(caller.team, members)
