"""Partner teams (seed 000): the team, its leader, admins and members, their phones, who receives referral
texts, and who a caller is in a team.

Items (keys in team_model):
    team            entity "team": name, leader_id, version
    team member     entity "team_member": role, phone, email, display_name, eligible, paused,
                    customer_count (customers assigned, kept by the writes that assign them), team_name
    phone link      entity "team_phone": which member a number is in one team (unique within the team)
    phone           entity "phone": opted_out (STOP / START), for every team the number is in
    orgs with teams entity "team_org": the reminder sweep's list of organisations

Members are Cognito users with their own login; their user id is their `sub`. Staff with teams:manage run
teams; a team's leader and admins manage its members; only staff change who the leader is.

This module holds the commands on teams and members; the reads, the caller and pausing/opting out are
common.teams.membership's.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonDict

from common.orgs.access import Member, Permission
from common.platform import clock, db, ids, listings
from common.platform.errors import Conflict, DomainError, Forbidden, NotFound, invalid
from common.platform.validation import E164, Email, ShortText, UserRef
from common.teams.membership import (
    TeamCaller,
    find_team_member,
    get_team_member,
    require_manager,
    teams_listing,
    user_teams,
)
from common.teams.team_model import (
    NAMED_CUSTOMERS,
    AdminNotAssignable,
    TeamRole,
    assignee_index,
    phone_link_key,
    team_key,
    team_member_key,
    team_org_key,
)

# E.164: a plus, then up to 15 digits, no separators: the form Twilio sends and expects.


class HasCustomers(Conflict):
    code = "member-has-customers"
    title = "The member still has customers assigned"


# -- input -----------------------------------------------------------------------------------------


# A member's user id in the examples: a Cognito sign-in's subject.
_EXAMPLE_USER = "2f6c4a8e-1b7d-4c3e-9a5f-0d8e7b6a5c41"
_EXAMPLE_MEMBER: JsonDict = {"phone": "+15550101", "email": "mo.member@example.org", "display_name": "Mo Member"}
_EXAMPLE_LEADER: JsonDict = {"user_id": _EXAMPLE_USER, "phone": "+15550100", "display_name": "Lea Leader"}


class MemberDetails(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{**_EXAMPLE_MEMBER, "eligible": True}]},
    )
    phone: E164 = Field(description="E.164, unique within the team; referral texts and reminders go here")
    email: Email | None = Field(None, description="reminders are also e-mailed here")
    display_name: ShortText
    eligible: bool | None = Field(None, description="receives referral texts; true for a new member by default")


class NewLeader(MemberDetails):
    model_config = ConfigDict(json_schema_extra={"examples": [_EXAMPLE_LEADER]})
    user_id: UserRef = Field(description="the leader's user id (their sign-in subject)")


class NewTeam(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"name": "North Shore Homes", "leader": _EXAMPLE_LEADER}]},
    )
    name: ShortText
    leader: NewLeader


class MemberChange(MemberDetails):
    model_config = ConfigDict(json_schema_extra={"examples": [{**_EXAMPLE_MEMBER, "role": "member", "eligible": True}]})
    role: Literal["leader", "admin", "member"] = Field(
        description="admin or member; leader only for the current leader (staff change the leader apart)"
    )


class Eligibility(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"eligible": False}]})
    eligible: bool


class LeaderChange(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"user_id": _EXAMPLE_USER, "former_leader_role": "member"}]}
    )
    user_id: UserRef = Field(description="a member of the team, who becomes its leader")
    former_leader_role: Literal["admin", "member"] = Field(
        "member", description="what the former leader becomes; admin only without customers"
    )


# -- items -----------------------------------------------------------------------------------------


def _member_item(
    team: db.Item,
    user_id: str,
    role: TeamRole,
    details: MemberDetails,
    *,
    at: str,
    actor: str,
    previous: db.Item | None,
) -> db.Item:
    org_id, team_id = team["org_id"], team["team_id"]
    eligible = details.eligible if details.eligible is not None else (previous or {}).get("eligible", True)
    return {
        **team_member_key(org_id, team_id, user_id),
        "entity": "team_member",
        "org_id": org_id,
        "team_id": team_id,
        "team_name": team["name"],
        "user_id": user_id,
        "role": role.value,
        "phone": details.phone,
        "email": details.email,
        "display_name": details.display_name,
        "eligible": eligible,
        "paused": (previous or {}).get("paused", False),
        "customer_count": (previous or {}).get("customer_count", 0),
        "joined_at": (previous or {}).get("joined_at", at),
        "updated_at": at,
        "updated_by": actor,
        "version": (previous or {}).get("version", 0) + 1,
        "gsi2pk": user_teams(user_id),
        "gsi2sk": f"{org_id}#{team_id}",
    }


def _phone_link(org_id: str, team_id: str, user_id: str, phone: str) -> db.Item:
    return {
        **phone_link_key(phone, org_id, team_id),
        "entity": "team_phone",
        "org_id": org_id,
        "team_id": team_id,
        "user_id": user_id,
        "phone": phone,
    }


def _leader_changes_apart(team: db.Item) -> Conflict:
    """One rule for making, unmaking and removing the leader: only staff change who it is (PUT .../leader)."""
    detail = "the leader is changed only by staff making another member the leader"
    return Conflict(detail, conflicting_ids=[team["leader_id"]])


def _phone_taken(link: db.Item) -> DomainError:
    # The number itself stays out of the answer (and so out of logs): the caller sent it.
    holder = [link["user_id"]] if link.get("user_id") else []
    return Conflict("another member of the team has the number in body.phone", conflicting_ids=holder)


# -- commands --------------------------------------------------------------------------------------


def create_team(org_id: str, member: Member, new: NewTeam, *, client: Any = None) -> tuple[db.Item, db.Item]:
    """The team, its leader's membership, the leader's phone link and the organisation's place in the
    reminder sweep's list: one transaction. Returns the team and the leader's membership."""
    team_id = ids.new_id()
    at = clock.now_iso()
    actor = member.actor
    team = {
        **team_key(org_id, team_id),
        "entity": "team",
        "org_id": org_id,
        "team_id": team_id,
        "name": new.name,
        "leader_id": new.leader.user_id,
        "created_by": actor,
        "created_at": at,
        "updated_at": at,
        "version": 1,
        "gsi1pk": teams_listing(org_id),
        "gsi1sk": f"{new.name.casefold()}#{team_id}",
    }
    leader = _member_item(team, new.leader.user_id, TeamRole.LEADER, new.leader, at=at, actor=actor, previous=None)
    db.transact(
        [
            db.tx_put(team, condition="attribute_not_exists(pk)"),
            db.tx_put(leader, condition="attribute_not_exists(pk)"),
            db.tx_put(_phone_link(org_id, team_id, new.leader.user_id, new.leader.phone)),
            db.tx_update(
                team_org_key(org_id),
                expression="SET entity = :entity, org_id = :org, first_team_at = if_not_exists(first_team_at, :at)",
                values={":entity": "team_org", ":org": org_id, ":at": at},
            ),
        ],
        on_cancel=lambda failed: Conflict("team id collision; retry"),
        client=client,
    )
    return team, leader


def put_member(caller: TeamCaller, user_id: str, change: MemberChange, *, client: Any = None) -> tuple[db.Item, bool]:
    """Add a member or change one (role, phone, e-mail, name, eligibility): the membership and its phone
    link in one transaction, conditioned on the membership as read. Returns it and whether it is new."""
    require_manager(caller)
    org_id, team_id = caller.org_id, caller.team_id
    previous = find_team_member(org_id, team_id, user_id, consistent=True, client=client)
    is_leader = caller.team["leader_id"] == user_id
    if (change.role == TeamRole.LEADER) != is_leader:
        raise _leader_changes_apart(caller.team)
    role = TeamRole(change.role)
    at = clock.now_iso()
    item = _member_item(caller.team, user_id, role, change, at=at, actor=caller.actor, previous=previous)
    if previous is None:
        member_write = db.tx_put(item, condition="attribute_not_exists(pk)")
    else:
        condition = "version = :version"
        values: dict[str, Any] = {":version": previous["version"]}
        if role == TeamRole.ADMIN and previous["role"] != TeamRole.ADMIN:
            # An admin is never assigned a customer: one with customers keeps their role until re-assigned.
            condition += " AND (attribute_not_exists(customer_count) OR customer_count <= :zero)"
            values[":zero"] = 0
        member_write = db.tx_put(item, condition=condition, values=values)
    actions = [
        member_write,
        # The team still exists, with the leader read (a leader change meanwhile is decided again).
        db.tx_check(
            team_key(org_id, team_id),
            condition="attribute_exists(pk) AND leader_id = :leader",
            values={":leader": caller.team["leader_id"]},
        ),
    ]
    phone_at = -1
    if previous is None or previous["phone"] != change.phone:
        phone_at = len(actions)
        actions.append(
            db.tx_put(
                _phone_link(org_id, team_id, user_id, change.phone),
                condition="attribute_not_exists(pk) OR user_id = :me",
                values={":me": user_id},
            )
        )
        if previous is not None:
            actions.append(
                db.tx_delete(
                    phone_link_key(previous["phone"], org_id, team_id),
                    condition="attribute_not_exists(pk) OR user_id = :me",
                    values={":me": user_id},
                )
            )

    def refusal(failed: list[db.Item | None]) -> DomainError:
        if phone_at >= 0 and failed[phone_at] is not None:
            return _phone_taken(failed[phone_at] or {})
        current = failed[0]
        if current and previous and current.get("version") == previous["version"]:
            return _holds_customers(org_id, team_id, user_id, client=client)
        if failed[1] is not None and not failed[1]:
            return NotFound(f"team {team_id} not found")
        return Conflict(f"the membership of user {user_id} changed meanwhile; retry")

    db.transact(actions, on_cancel=refusal, client=client)
    return item, previous is None


def set_eligible(caller: TeamCaller, user_id: str, eligible: bool, *, client: Any = None) -> db.Item:
    """Whether the member receives referral texts: the team's leader and admins (or staff) decide."""
    require_manager(caller)
    return db.update(
        team_member_key(caller.org_id, caller.team_id, user_id),
        expression="SET eligible = :eligible, updated_at = :at, updated_by = :by ADD version :one",
        condition="attribute_exists(pk)",
        values={":eligible": eligible, ":at": clock.now_iso(), ":by": caller.actor, ":one": 1},
        on_conflict=NotFound(f"user {user_id} is not a member of team {caller.team_id}"),
        client=client,
    )


def remove_member(caller: TeamCaller, user_id: str, *, client: Any = None) -> None:
    """Remove a member (not the leader) with their phone link. A member with customers assigned keeps
    their place until the customers are re-assigned (409)."""
    require_manager(caller)
    org_id, team_id = caller.org_id, caller.team_id
    if caller.team["leader_id"] == user_id:
        raise _leader_changes_apart(caller.team)
    membership = get_team_member(org_id, team_id, user_id, consistent=True, client=client)
    if held := _assigned_ids(org_id, team_id, user_id, client=client):
        raise HasCustomers(f"user {user_id} has customers assigned: re-assign them first", conflicting_ids=held)

    def refusal(failed: list[db.Item | None]) -> DomainError:
        current = failed[0]
        if not current:
            return NotFound(f"user {user_id} is not a member of team {team_id}")
        if current.get("version") == membership["version"]:
            held = _assigned_ids(org_id, team_id, user_id, client=client)
            return HasCustomers(f"user {user_id} has customers assigned: re-assign them first", conflicting_ids=held)
        return Conflict(f"the membership of user {user_id} changed meanwhile; retry")

    db.transact(
        [
            db.tx_delete(
                team_member_key(org_id, team_id, user_id),
                condition="version = :version AND #role <> :leader "
                "AND (attribute_not_exists(customer_count) OR customer_count <= :zero)",
                names={"#role": "role"},
                values={":version": membership["version"], ":leader": TeamRole.LEADER.value, ":zero": 0},
            ),
            db.tx_delete(
                phone_link_key(membership["phone"], org_id, team_id),
                condition="attribute_not_exists(pk) OR user_id = :me",
                values={":me": user_id},
            ),
        ],
        on_cancel=refusal,
        client=client,
    )


def _assigned_ids(org_id: str, team_id: str, user_id: str, *, client: Any = None) -> list[str]:
    """Up to NAMED_CUSTOMERS customers of the team assigned to the user (the assignee index: one query)."""
    partition = assignee_index(org_id, team_id, user_id, "", "")["gsi2pk"]
    items, _ = listings.query_index(listings.IndexKey("gsi2", partition), limit=NAMED_CUSTOMERS, client=client)
    return [str(item["gsi2sk"]).rsplit("#", 1)[-1] for item in items]


def _holds_customers(org_id: str, team_id: str, user_id: str, *, client: Any = None) -> AdminNotAssignable:
    held = _assigned_ids(org_id, team_id, user_id, client=client)
    detail = f"user {user_id} has customers assigned: re-assign them before making them an admin"
    return AdminNotAssignable(detail, conflicting_ids=held)


def change_leader(caller: TeamCaller, change: LeaderChange, *, client: Any = None) -> db.Item:
    """Make another member the leader (staff with teams:manage only): the team and both memberships in
    one transaction, each conditioned on what was read. The former leader keeps their customers unless
    they become an admin, which needs them re-assigned first."""
    if not caller.manages_teams:
        raise Forbidden(f"only staff with {Permission.MANAGE_TEAMS.value} change a team's leader")
    org_id, team_id = caller.org_id, caller.team_id
    old_id, new_id = caller.team["leader_id"], change.user_id
    if old_id == new_id:
        return caller.team
    newcomer = find_team_member(org_id, team_id, new_id, consistent=True, client=client)
    if newcomer is None:
        raise invalid("body.user_id", "is not a member of the team")
    at = clock.now_iso()
    common = {":at": at, ":by": caller.actor, ":one": 1}
    former_condition = "#role = :leader"
    former_values: dict[str, Any] = {**common, ":role": change.former_leader_role, ":leader": TeamRole.LEADER.value}
    if change.former_leader_role == TeamRole.ADMIN:
        former_condition += " AND (attribute_not_exists(customer_count) OR customer_count <= :zero)"
        former_values[":zero"] = 0
    actions = [
        db.tx_update(
            team_key(org_id, team_id),
            expression="SET leader_id = :new, updated_at = :at ADD version :one",
            condition="leader_id = :old",
            values={":new": new_id, ":old": old_id, ":at": at, ":one": 1},
        ),
        db.tx_update(
            team_member_key(org_id, team_id, new_id),
            expression="SET #role = :leader, updated_at = :at, updated_by = :by ADD version :one",
            condition="version = :version",
            names={"#role": "role"},
            values={**common, ":leader": TeamRole.LEADER.value, ":version": newcomer["version"]},
        ),
        db.tx_update(
            team_member_key(org_id, team_id, old_id),
            expression="SET #role = :role, updated_at = :at, updated_by = :by ADD version :one",
            condition=former_condition,
            names={"#role": "role"},
            values=former_values,
        ),
    ]

    def refusal(failed: list[db.Item | None]) -> DomainError:
        former = failed[2]
        if former and former.get("role") == TeamRole.LEADER and failed[0] is None and failed[1] is None:
            return _holds_customers(org_id, team_id, old_id, client=client)
        return Conflict(f"team {team_id} or its members changed meanwhile; retry")

    db.transact(actions, on_cancel=refusal, client=client)
    return {**caller.team, "leader_id": new_id, "updated_at": at, "version": caller.team["version"] + 1}
