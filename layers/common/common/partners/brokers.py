"""The brokers assigned to a partner: staff members of the organisation, checked to be members when staff
assign them (staff_partners.set_brokers, adding_partners), and as the partner sees them in the portal: to
choose the owner of a deal they register (seed 002). A partner sees of them only their ids and names; a
broker whose membership ended is not one any more.

A broker's name is their membership's `display_name` (admins set it with the membership); a membership
without one is named by its place in the list ("Broker 2"), never by an e-mail address or a user id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from common.orgs.access import member_key
from common.partners.partner_caller import PartnerCaller
from common.platform import db
from common.platform.answers import Answer
from common.platform.errors import Conflict, DomainError, FieldError, InvalidInput, invalid
from common.platform.validation import UserRef

MAX_BROKERS = 10

Brokers = list[UserRef]


def check_brokers(org_id: str, brokers: Sequence[str], *, client: Any = None) -> list[dict[str, Any]]:
    """Brokers are staff members of the organisation: one BatchGetItem of their memberships (422 naming
    those that are not), and a condition per broker for the write, so a membership removed meanwhile
    fails it."""
    wanted = sorted(set(brokers))
    if not wanted:
        return []
    found = {
        i["user_id"] for i in db.batch_get([member_key(org_id, b) for b in wanted], consistent=True, client=client)
    }
    strangers = [b for b in wanted if b not in found]
    if strangers:
        raise invalid("body.brokers", f"not staff members of this organisation: {', '.join(strangers)}")
    return [db.tx_check(member_key(org_id, b), condition="attribute_exists(pk)") for b in wanted]


def broker_gone() -> DomainError:
    return invalid("body.brokers", "a broker stopped being a member of this organisation meanwhile")


class PortalBroker(Answer):
    user_id: str = Field(description="the broker's user id: a deal's owner_id")
    display_name: str = Field(
        description="as the organisation names its staff member (the membership's display_name), else "
        '"Broker <n>" by their place in this list'
    )


class PortalBrokerList(Answer):
    items: list[PortalBroker] = Field(description="in the order assigned: the first owns a new deal by default")


def _still_members(caller: PartnerCaller, client: Any) -> list[db.Item]:
    """The memberships of the partner's brokers who are still staff of the organisation, in the order
    assigned: one BatchGetItem."""
    assigned = list(dict.fromkeys(caller.node.get("brokers") or []))
    keys = [member_key(caller.org_id, b) for b in assigned]
    members = {m["user_id"]: m for m in db.batch_get(keys, client=client)} if keys else {}
    return [members[b] for b in assigned if b in members]


def portal_brokers(caller: PartnerCaller, *, client: Any = None) -> PortalBrokerList:
    """The partner's brokers as the portal lists them: ids and names only."""
    return PortalBrokerList(
        items=[
            PortalBroker(user_id=m["user_id"], display_name=m.get("display_name") or f"Broker {place}")
            for place, m in enumerate(_still_members(caller, client), start=1)
        ]
    )


class OwnerGone(InvalidInput):
    """The deal's owner stopped being a member of the organisation (the transaction's check failed)."""


def deal_owner(
    caller: PartnerCaller, owner_id: str | None, *, read_memberships: bool = False, client: Any = None
) -> tuple[str, dict[str, Any]]:
    """The owner of a deal the partner registers: the broker they name (422 body.owner_id unless one of
    theirs), else their first broker; with the check, for the deal's transaction, that the owner is still a
    member (its failure is OwnerGone). The first broker is taken unread, the check standing for the read;
    `read_memberships` (after OwnerGone) skips brokers whose membership ended. 409 when none is left."""
    if owner_id is not None and owner_id not in (caller.node.get("brokers") or []):
        raise invalid("body.owner_id", "is not one of your brokers (see the portal's brokers)")
    if owner_id is None:
        if read_memberships:
            brokers = [str(m["user_id"]) for m in _still_members(caller, client)]
        else:
            brokers = list(dict.fromkeys(caller.node.get("brokers") or []))
        if not brokers:
            raise Conflict("no broker is assigned to you in this organisation yet")
        owner_id = brokers[0]
    return owner_id, db.tx_check(member_key(caller.org_id, owner_id), condition="attribute_exists(pk)")


def owner_gone() -> OwnerGone:
    message = "this broker is no longer a member of the organisation"
    return OwnerGone(f"body.owner_id: {message}", errors=[FieldError("body.owner_id", message)])
