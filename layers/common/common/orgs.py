"""Organisations and staff memberships."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from . import clock, db, ids
from .auth import Member, Permission, Role, member_from_item, member_key, org_key
from .errors import Conflict, DomainError, NotFound


class NewOrganisation(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: str = Field(min_length=1, max_length=200)


class MembershipChange(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    role: Role = "staff"
    permissions: list[Permission] = Field(default_factory=list, max_length=len(Permission))
    display_name: str | None = Field(default=None, max_length=200)


def _member_item(org_id: str, user_id: str, change: MembershipChange, at: str) -> db.Item:
    return {
        **member_key(org_id, user_id),
        "entity": "member",
        "org_id": org_id,
        "user_id": user_id,
        "role": change.role,
        "permissions": sorted({p.value for p in change.permissions}),
        "display_name": change.display_name,
        "updated_at": at,
    }


def create_organisation(new: NewOrganisation, creator_id: str, *, client: Any = None) -> db.Item:
    """The organisation and its creator's admin membership, in one transaction."""
    org_id = ids.new_id()
    at = clock.now_iso()
    org = {
        **org_key(org_id),
        "entity": "organisation",
        "org_id": org_id,
        "name": new.name,
        "created_at": at,
        "created_by": creator_id,
    }
    admin = _member_item(org_id, creator_id, MembershipChange(role="admin"), at)

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


def put_member(org_id: str, user_id: str, change: MembershipChange, *, client: Any = None) -> Member:
    item = _member_item(org_id, user_id, change, clock.now_iso())
    db.put(item, client=client)
    return member_from_item(item)


def remove_member(org_id: str, user_id: str, *, client: Any = None) -> None:
    """Removing the last admin would lock everyone out of the organisation's settings, so it is refused."""
    target = db.get(member_key(org_id, user_id), consistent=True, client=client)
    if target is None:
        raise NotFound(f"member {user_id} not found")
    if target["role"] == "admin" and not _another_admin(org_id, user_id, client):
        raise Conflict("cannot remove the organisation's last admin")
    db.delete(member_key(org_id, user_id), client=client)


def _another_admin(org_id: str, user_id: str, client: Any) -> bool:
    cursor: str | None = None
    while True:
        members, cursor = list_members(org_id, cursor=cursor, client=client)
        if any(m["role"] == "admin" and m["user_id"] != user_id for m in members):
            return True
        if cursor is None:
            return False


def list_members(org_id: str, *, cursor: str | None = None, client: Any = None) -> tuple[list[db.Item], str | None]:
    return db.query_prefix(f"ORG#{org_id}", "MEMBER#", cursor=cursor, client=client)
