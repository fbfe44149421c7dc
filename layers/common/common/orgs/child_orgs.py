"""Enterprises: an organisation with child organisations (seed 002). An admin of the parent creates a
child and becomes its admin; the parent keeps a link item per child, so listing them is one query.

    child link  ORG#<parentId> / CHILD#<childId>
    child org   ORG#<childId> / ORG   with parent_id
"""

from __future__ import annotations

from typing import Any

from common.orgs.access import Member, member_key
from common.orgs.organisations import MembershipChange, NewOrganisation, Organisation, member_item, organisation_item
from common.platform import clock, db, ids, listings
from common.platform.errors import Conflict, DomainError, Forbidden


def child_key(parent_id: str, child_id: str) -> db.Key:
    return {"pk": f"ORG#{parent_id}", "sk": f"CHILD#{child_id}"}


def create_child(parent_id: str, member: Member, new: NewOrganisation, *, client: Any = None) -> Organisation:
    """The child organisation, its creator's admin membership and the parent's link to it, in one
    transaction conditioned on the creator still being an admin of the parent."""
    if member.role != "admin":
        raise Forbidden("only an admin of the organisation can create child organisations")
    child_id = ids.new_id()
    at = clock.now_iso()
    org = organisation_item(child_id, new.name, member.user_id, at, parent_id=parent_id)
    link = {
        **child_key(parent_id, child_id),
        "entity": "child_organisation",
        "org_id": parent_id,
        "child_id": child_id,
        "name": new.name,
        "created_at": at,
        "created_by": member.user_id,
    }
    admin = member_item(org, member.user_id, MembershipChange(role="admin"), at)
    still_admin = db.tx_check(
        member_key(parent_id, member.user_id),
        condition="#role = :admin",
        names={"#role": "role"},
        values={":admin": "admin"},
    )

    def _refusal(failed: list[db.Item | None]) -> DomainError:
        if failed[0] is not None:
            return Forbidden("only an admin of the organisation can create child organisations")
        return Conflict("organisation id collision; retry")

    db.transact(
        [
            still_admin,
            db.tx_put(org, condition="attribute_not_exists(pk)"),
            db.tx_put(admin, condition="attribute_not_exists(pk)"),
            db.tx_put(link, condition="attribute_not_exists(pk)"),
        ],
        on_cancel=_refusal,
        client=client,
    )
    return Organisation.of(org)


def list_children(
    parent_id: str, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[Organisation], str | None]:
    """The child organisations by id (oldest first: ids are time-ordered), as organisations answer."""
    links, next_cursor = listings.query_prefix(f"ORG#{parent_id}", "CHILD#", cursor=cursor, limit=limit, client=client)
    children = [Organisation.of(link, org_id=link["child_id"], parent_id=parent_id) for link in links]
    return children, next_cursor
