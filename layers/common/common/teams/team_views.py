"""What the team routes answer about teams and their members, built from the stored items: a team, a
membership, a team with the members its caller may see, and a user's own teams."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Self

from pydantic import Field

from common.platform.answers import Answer, Timestamp
from common.teams.membership import TeamCaller, team_members
from common.teams.roster import MemberDetails
from common.teams.standing import StandingValue, offerable
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
    standing: StandingValue = Field(StandingValue.GOOD, description="set by staff (teams:manage) with a reason")
    standing_reason: str | None = None
    standing_changed_at: Timestamp | None = None
    areas: list[str] = Field(default_factory=list, description="the areas the team serves (referrals by area)")
    fee_pause_count: int = Field(
        0, description="its fees more than 45 days overdue: while above 0 it is offered no new referral"
    )
    offerable: bool = Field(True, description="offered new referrals: good or probation, and no fee pause")

    @classmethod
    def of(cls, item: Mapping[str, Any], **fields: Any) -> Self:
        return super().of(item, **{"offerable": offerable(item), **fields})


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
