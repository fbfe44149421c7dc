"""Who is who in partner teams, and the reads every team module shares: the team, its memberships, a
phone number's memberships and opt-out, listings; the caller of a team's routes and the reader of a
referral request (member, staff or both); pausing and opting out, which the SMS webhook writes.

Members are Cognito users with their own login; their user id is their `sub`. Staff with teams:manage or
referrals:manage read every team; a team's leader and admins see and manage the whole team; a member
sees themselves and the customers assigned to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from common.orgs.access import (
    Member,
    Permission,
    Principal,
    member_from_item,
    member_key,
    require_member,
    require_user,
    user_actor,
)
from common.partners.partner_caller import refuse_unconfirmed
from common.partners.partner_records import account_key
from common.platform import clock, db, listings
from common.platform.errors import Forbidden, NotFound
from common.teams.team_model import TeamRole, phone_key, referral_key, team_key, team_member_key, team_pk

# -- reads -----------------------------------------------------------------------------------------


def find_team(org_id: str, team_id: str, *, consistent: bool = False, client: Any = None) -> db.Item | None:
    return db.get(team_key(org_id, team_id), consistent=consistent, client=client)


def get_team(org_id: str, team_id: str, *, consistent: bool = False, client: Any = None) -> db.Item:
    """The team; NotFound (404) when the organisation has no such team."""
    team = find_team(org_id, team_id, consistent=consistent, client=client)
    if team is None:
        raise NotFound(f"team {team_id} not found")
    return team


def find_team_member(
    org_id: str, team_id: str, user_id: str, *, consistent: bool = False, client: Any = None
) -> db.Item | None:
    return db.get(team_member_key(org_id, team_id, user_id), consistent=consistent, client=client)


def get_team_member(
    org_id: str, team_id: str, user_id: str, *, consistent: bool = False, client: Any = None
) -> db.Item:
    """The user's membership of the team; NotFound (404) when they are not in it."""
    membership = find_team_member(org_id, team_id, user_id, consistent=consistent, client=client)
    if membership is None:
        raise NotFound(f"user {user_id} is not a member of team {team_id}")
    return membership


def team_members(org_id: str, team_id: str, *, consistent: bool = False, client: Any = None) -> list[db.Item]:
    """Every membership of the team (leader, admins, members): one query of the team's partition (more
    pages only past 1 MB of members)."""
    return listings.all_with_prefix(team_pk(org_id, team_id), "MEMBER#", consistent=consistent, client=client)


def phone_memberships(phone: str, *, client: Any = None) -> tuple[db.Item | None, list[db.Item]]:
    """A number's opt-out record (None: never opted in or out) and its links to the members it is, one per
    team: one query of the phone's partition."""
    items, cursor = listings.query(key_condition="pk = :pk", values={":pk": phone_key(phone)["pk"]}, client=client)
    while cursor is not None:
        more, cursor = listings.query(
            key_condition="pk = :pk", values={":pk": phone_key(phone)["pk"]}, cursor=cursor, client=client
        )
        items += more
    record = next((i for i in items if i["sk"] == "PHONE"), None)
    return record, [i for i in items if i["sk"].startswith("TEAM#")]


def opted_out(phone_item: db.Item | None) -> bool:
    return bool(phone_item and phone_item.get("opted_out"))


def list_teams(
    org_id: str, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[db.Item], str | None]:
    """The organisation's teams by name."""
    return listings.query_index(
        listings.IndexKey("gsi1", teams_listing(org_id)), cursor=cursor, limit=limit, client=client
    )


def my_teams(
    user_id: str, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[db.Item], str | None]:
    """The user's memberships across organisations and teams (each carries its team's name)."""
    return listings.query_index(
        listings.IndexKey("gsi2", user_teams(user_id)), cursor=cursor, limit=limit, client=client
    )


# -- who calls -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamCaller:
    """A caller of a team's routes: a member of the team (any role), staff of its organisation, or both."""

    org_id: str
    team_id: str
    user_id: str
    team: db.Item
    membership: db.Item | None
    staff: Member | None

    @property
    def role(self) -> TeamRole | None:
        return TeamRole(self.membership["role"]) if self.membership else None

    @property
    def manages_teams(self) -> bool:
        return self.staff is not None and self.staff.can(Permission.MANAGE_TEAMS)

    @property
    def leads(self) -> bool:
        """The team's leader or an admin: sees the whole team, manages members, assigns customers."""
        return self.role in (TeamRole.LEADER, TeamRole.ADMIN)

    @property
    def sees_all(self) -> bool:
        staff_reader = self.staff is not None and (
            self.staff.can(Permission.MANAGE_TEAMS) or self.staff.can(Permission.MANAGE_REFERRALS)
        )
        return self.leads or staff_reader

    @property
    def actor(self) -> str:
        return user_actor(self.user_id)


def team_caller(principal: Principal, org_id: str, team_id: str, *, client: Any = None) -> TeamCaller:
    """Who the caller is in the team: the team, their membership, their staff membership and their partner
    account in one consistent BatchGetItem. Neither in the team nor staff of the organisation (or no such
    team): 404. In the team only, with a partner account whose address is unconfirmed: 403 (staff access
    stands on the membership an admin granted). Staff without teams:manage or referrals:manage who are
    not in the team: 403."""
    require_user(principal)
    me = principal.subject
    keys = [team_key(org_id, team_id), team_member_key(org_id, team_id, me), member_key(org_id, me), account_key(me)]
    found = {(i["pk"], i["sk"]): i for i in db.batch_get(keys, consistent=True, client=client)}
    team, membership, staff_item, account = (found.get((k["pk"], k["sk"])) for k in keys)
    staff = member_from_item(staff_item) if staff_item else None
    if team is None or (membership is None and staff is None):
        raise NotFound(f"team {team_id} not found")
    if staff is None:
        refuse_unconfirmed(account)
    caller = TeamCaller(org_id, team_id, me, team, membership, staff)
    if membership is None and not caller.sees_all:
        raise Forbidden(f"missing permission {Permission.MANAGE_TEAMS.value} or {Permission.MANAGE_REFERRALS.value}")
    return caller


@dataclass(frozen=True)
class RequestReader:
    """A reader of a referral request: staff of its organisation, a member of its team, or both; with the
    request as read, and its team when an acceptance needs it."""

    request: db.Item
    staff: Member | None
    membership: db.Item | None
    team: db.Item | None = None

    @property
    def manages_referrals(self) -> bool:
        return self.staff is not None and self.staff.can(Permission.MANAGE_REFERRALS)


def request_reader(
    principal: Principal, org_id: str, request_id: str, *, with_team: bool = False, client: Any = None
) -> RequestReader:
    """The request, the caller's staff membership and partner account, and their membership of the
    request's team (with the team itself when `with_team`): two consistent reads. Neither staff of the
    organisation nor in the team (or no such request): 404. In the team only, with a partner account whose
    address is unconfirmed: 403. What each may do with the request is the caller's to decide."""
    require_user(principal)
    me = principal.subject
    keys = [referral_key(org_id, request_id), member_key(org_id, me), account_key(me)]
    found = {(i["pk"], i["sk"]): i for i in db.batch_get(keys, consistent=True, client=client)}
    request, staff_item, account = (found.get((k["pk"], k["sk"])) for k in keys)
    staff = member_from_item(staff_item) if staff_item else None
    membership = team = None
    if request is not None:
        in_team = [team_member_key(org_id, request["team_id"], me)]
        if with_team:
            in_team.append(team_key(org_id, request["team_id"]))
        read = {i["sk"]: i for i in db.batch_get(in_team, consistent=True, client=client)}
        membership, team = read.get(in_team[0]["sk"]), read.get("TEAM")
    if request is None or (staff is None and membership is None):
        raise NotFound(f"referral request {request_id} not found")
    if staff is None:
        refuse_unconfirmed(account)
    return RequestReader(request, staff, membership, team)


def require_manager(caller: TeamCaller) -> None:
    """Managing members: staff with teams:manage, or the team's leader or an admin."""
    if not (caller.manages_teams or caller.leads):
        raise Forbidden(f"only the team's leader, its admins or staff with {Permission.MANAGE_TEAMS.value}")


def require_staff_reader(principal: Principal, org_id: str, *, client: Any = None) -> Member:
    """Staff who may read every team: teams:manage or referrals:manage."""
    member = require_member(principal, org_id, client=client)
    if not (member.can(Permission.MANAGE_TEAMS) or member.can(Permission.MANAGE_REFERRALS)):
        raise Forbidden(f"missing permission {Permission.MANAGE_TEAMS.value} or {Permission.MANAGE_REFERRALS.value}")
    return member


def teams_listing(org_id: str) -> str:
    return f"ORG#{org_id}#TEAMS"


def user_teams(user_id: str) -> str:
    return f"USER#{user_id}#TEAMS"


def set_paused(org_id: str, team_id: str, user_id: str, paused: bool, actor: str, *, client: Any = None) -> db.Item:
    """The member pauses (or resumes) referral texts for themselves in this team; the team is not paused."""
    return db.update(
        team_member_key(org_id, team_id, user_id),
        expression="SET paused = :paused, paused_changed_at = :at, updated_at = :at, updated_by = :by ADD version :one",
        condition="attribute_exists(pk)",
        values={":paused": paused, ":at": clock.now_iso(), ":by": actor, ":one": 1},
        on_conflict=NotFound(f"user {user_id} is not a member of team {team_id}"),
        client=client,
    )


def set_opted_out(phone: str, opted_out: bool, *, client: Any = None) -> db.Item:
    """The number opts out of every text (STOP) or back in (START), whichever teams it is in."""
    return db.update(
        phone_key(phone),
        expression="SET entity = :entity, phone = :phone, opted_out = :out, updated_at = :at",
        values={":entity": "phone", ":phone": phone, ":out": opted_out, ":at": clock.now_iso()},
        client=client,
    )
