"""Organisations and staff memberships."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from common.orgs import access
from common.orgs.access import Permission, Role, member_key, org_key
from common.platform import clock, db, ids, listings
from common.platform.answers import Answer, Timestamp
from common.platform.errors import Conflict, DomainError, Forbidden, NotFound, invalid
from common.platform.validation import SINGLE_LINE, USER_ID_PATTERN, ShortText


class NewOrganisation(BaseModel):
    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [{"name": "Acme Security"}]}
    )
    name: ShortText


class MembershipChange(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "role": "staff",
                    "permissions": ["leads:request", "leads:return"],
                    "display_name": "Sam Rep",
                    "superior_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
                }
            ]
        },
    )
    role: Role = "staff"
    permissions: list[Permission] = Field(default_factory=list, max_length=len(Permission))
    display_name: Annotated[str, StringConstraints(max_length=200), SINGLE_LINE] | None = None
    # The staff hierarchy: whom this user reports to. Joining the partner programme is top-down along it.
    superior_id: str | None = Field(default=None, pattern=USER_ID_PATTERN, description="whom the member reports to")


class Organisation(NewOrganisation, Answer):
    """An organisation as every route answers it."""

    model_config = Answer.model_config
    org_id: str
    parent_id: str | None = Field(None, description="the parent organisation; null for a top-level one")
    created_at: Timestamp
    created_by: str


class CallerMembership(Answer):
    role: Role
    permissions: list[Permission]


class MemberOrganisation(Organisation):
    """An organisation as its member reads it: with the caller's own membership."""

    membership: CallerMembership = Field(description="the caller's role and permissions in it")

    @classmethod
    def seen_by(cls, org: db.Item, member: access.Member) -> MemberOrganisation:
        return cls.of(org, membership=CallerMembership(role=member.role, permissions=sorted(member.permissions)))


class MyOrganisation(CallerMembership):
    """One of the caller's memberships, as "my organisations" lists them."""

    org_id: str
    org_name: str


class Member(MembershipChange, Answer):
    """A staff membership as every route answers it."""

    model_config = Answer.model_config
    org_id: str
    user_id: str
    updated_at: Timestamp


def member_item(org: db.Item, user_id: str, change: MembershipChange, at: str) -> db.Item:
    return {
        **member_key(org["org_id"], user_id),
        "entity": "member",
        "org_id": org["org_id"],
        "org_name": org["name"],
        "user_id": user_id,
        "role": change.role,
        "permissions": sorted({p.value for p in change.permissions}),
        "display_name": change.display_name,
        "superior_id": change.superior_id,
        "updated_at": at,
        # A user's own memberships, for "my organisations".
        "gsi2pk": _memberships_of(user_id),
        "gsi2sk": org["org_id"],
    }


def _memberships_of(user_id: str) -> str:
    return f"USER#{user_id}#MEMBERSHIPS"


def organisation_item(org_id: str, name: str, creator_id: str, at: str, parent_id: str | None = None) -> db.Item:
    """A new organisation, counting its creator as its one admin (the creator's membership is written in
    the same transaction)."""
    return {
        **org_key(org_id),
        "entity": "organisation",
        "org_id": org_id,
        "name": name,
        "parent_id": parent_id,
        "admin_count": 1,
        "created_at": at,
        "created_by": creator_id,
    }


def create_organisation(new: NewOrganisation, creator_id: str, *, client: Any = None) -> db.Item:
    """The organisation and its creator's admin membership, in one transaction. The organisation counts
    its admins, so that removing or demoting the last one can be refused atomically."""
    at = clock.now_iso()
    org = organisation_item(ids.new_id(), new.name, creator_id, at)
    admin = member_item(org, creator_id, MembershipChange(role="admin"), at)

    def _collision(_: list[db.Item | None]) -> DomainError:
        return Conflict("organisation id collision; retry")

    db.transact(
        [
            db.tx_put(org, condition="attribute_not_exists(pk)"),
            db.tx_put(admin, condition="attribute_not_exists(pk)"),
        ],
        on_cancel=_collision,
        client=client,
    )
    return org


def get_organisation(org_id: str, *, client: Any = None) -> db.Item:
    item = db.get(org_key(org_id), client=client)
    if item is None:
        raise NotFound(f"organisation {org_id} not found")
    return item


def list_my_memberships(
    user_id: str, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[db.Item], str | None]:
    return listings.query_index(
        listings.IndexKey("gsi2", _memberships_of(user_id)),
        cursor=cursor,
        limit=limit,
        client=client,
    )


def _authorise(actor: access.Member, current: db.Item | None, change: MembershipChange | None) -> None:
    """Admins manage every membership. A member manager manages only staff memberships within their own
    permissions: nobody can hand out (or take away) more than they hold, or make anyone an admin."""
    if actor.role == "admin":
        return
    if (change is not None and change.role == "admin") or (current is not None and current["role"] == "admin"):
        raise Forbidden("only an admin can grant, change or remove admin memberships")
    beyond = {p.value for p in (change.permissions if change else [])} | set(
        current.get("permissions", []) if current else []
    )
    beyond -= actor.permissions
    if beyond:
        raise Forbidden(f"permissions you do not hold yourself: {', '.join(sorted(beyond))}")


def _admins_change(org_id: str, delta: int) -> dict[str, Any]:
    # Demoting or removing an admin needs another admin left; adding one needs the organisation to exist.
    condition = "admin_count > :one" if delta < 0 else "attribute_exists(pk)"
    values = {":delta": delta} | ({":one": 1} if delta < 0 else {})
    return db.tx_update(org_key(org_id), expression="ADD admin_count :delta", condition=condition, values=values)


def _current_state(org_id: str, user_id: str, client: Any) -> tuple[db.Item, db.Item | None]:
    items = db.batch_get([org_key(org_id), member_key(org_id, user_id)], consistent=True, client=client)
    org = next((i for i in items if i["sk"] == "ORG"), None)
    if org is None:
        raise NotFound(f"organisation {org_id} not found")
    return org, next((i for i in items if i["sk"] != "ORG"), None)


def _membership_refusal(failed: list[db.Item | None]) -> DomainError:
    if failed[0] is not None:
        return Conflict("the membership changed meanwhile; retry")
    return Conflict("an organisation keeps at least one admin")


def put_member(
    org_id: str, actor: access.Member, user_id: str, change: MembershipChange, *, client: Any = None
) -> db.Item:
    if change.superior_id == user_id:
        raise invalid("body.superior_id", "a user cannot be their own superior")
    org, current = _current_state(org_id, user_id, client)
    _authorise(actor, current, change)
    item = member_item(org, user_id, change, clock.now_iso())
    if current is None:
        write = db.tx_put(item, condition="attribute_not_exists(pk)")
    else:
        write = db.tx_put(
            item,
            condition="#role = :was AND updated_at = :seen",
            names={"#role": "role"},
            values={":was": current["role"], ":seen": current["updated_at"]},
        )
    was_admin, is_admin = bool(current and current["role"] == "admin"), change.role == "admin"
    actions = [write] + ([_admins_change(org_id, 1 if is_admin else -1)] if was_admin != is_admin else [])
    db.transact(actions, on_cancel=_membership_refusal, client=client)
    return item


def remove_member(org_id: str, actor: access.Member, user_id: str, *, client: Any = None) -> None:
    """Removing the last admin would lock everyone out of the organisation's settings, so it is refused."""
    _, current = _current_state(org_id, user_id, client)
    if current is None:
        raise NotFound(f"member {user_id} not found")
    _authorise(actor, current, None)
    # Conditioned on the membership as read: a change made meanwhile (say, an admin granting more) wins.
    delete = db.tx_delete(
        member_key(org_id, user_id),
        condition="#role = :was AND updated_at = :seen",
        names={"#role": "role"},
        values={":was": current["role"], ":seen": current["updated_at"]},
    )
    actions = [delete] + ([_admins_change(org_id, -1)] if current["role"] == "admin" else [])
    db.transact(actions, on_cancel=_membership_refusal, client=client)


def list_members(
    org_id: str, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[db.Item], str | None]:
    return listings.query_prefix(f"ORG#{org_id}", "MEMBER#", cursor=cursor, limit=limit, client=client)
