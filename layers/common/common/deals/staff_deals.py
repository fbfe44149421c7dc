"""Deals on the staff side: create one (optionally credited to a partner), list them, move one to another
stage of its workflow, share one with a partner. The keys, guards and views are deal_records'."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from common.deals.deal_records import (
    MAX_CONTACTS,
    STAGE_HISTORY,
    DealChanged,
    DealValue,
    all_deals_listing,
    deal_item,
    deal_key,
    id_collision,
    lead_refusal,
    owner_deals_listing,
    share_actions,
    staff_deal,
    stage_entry,
)
from common.orgs import workflows
from common.orgs.access import Member, Permission, member_key
from common.partners.partner_records import node_key, record_lead
from common.platform import clock, db, history, ids, listings
from common.platform.errors import Conflict, DomainError, Forbidden, NotFound, invalid
from common.platform.validation import Email, EntityId, Phone, ShortText, UserRef

# A deal keeps the ids of the partners it is shared with: this many at most (409 beyond), about 13 KB.
MAX_SHARES = 100


class StaffContact(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {"first_name": "Casey", "last_name": "Client", "email": "casey@example.org", "phone": "+15550199"}
            ]
        },
    )
    first_name: ShortText
    last_name: ShortText
    email: Email | None = None
    phone: Phone | None = None


class NewDeal(BaseModel):
    """A deal entered by staff."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "workflow_id": "01JD8X3Q4T6Y8Z0A2B4C6D8E0F",
                    "title": "Casey Client: 3-bed house",
                    "contacts": [{"first_name": "Casey", "last_name": "Client", "phone": "+15550199"}],
                    "value": {"amount": 250000, "currency": "EUR"},
                    "partner_id": "5e2f8a1c-3b7d-4e9f-8c6a-1d4b7e0f2a93",
                }
            ]
        },
    )
    workflow_id: EntityId
    title: ShortText | None = None
    contacts: list[StaffContact] = Field(min_length=1, max_length=MAX_CONTACTS)
    owner_id: UserRef | None = Field(None, description="a member of the organisation; the caller by default")
    value: DealValue | None = None
    partner_id: UserRef | None = Field(
        None, description="credit the deal to this partner (their lead) and share it with them"
    )


class StageChange(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"stage_id": "01JD8X4A2B3C4D5E6F7G8H9J0K", "version": 3}]}
    )
    stage_id: EntityId
    version: int | None = Field(
        None, ge=1, description="the deal's version this change is based on: refused (409) if it changed since"
    )


def create_deal(org_id: str, member: Member, new: NewDeal, *, client: Any = None) -> db.Item:
    """A staff deal at its workflow's first stage. With a partner, the deal is credited to and shared with
    them and counts as their lead (LIVE or LAPSED becomes ACTIVE), all in one transaction."""
    owner_id = new.owner_id or member.user_id
    if owner_id != member.user_id and not member.can(Permission.MANAGE_DEALS):
        raise Forbidden(f"creating a deal for another user needs {Permission.MANAGE_DEALS.value}")
    if (new.value is not None or new.partner_id) and not member.can(Permission.DEAL_MONEY):
        raise Forbidden(f"a deal's value or credited partner needs {Permission.DEAL_MONEY.value}")
    workflow = workflows.find_workflow(org_id, new.workflow_id, client=client)
    if workflow is None:
        raise invalid("body.workflow_id", "no such workflow in this organisation")
    actor = member.actor
    contacts = [c.model_dump(exclude_none=True) for c in new.contacts]
    deal = deal_item(
        org_id,
        workflow,
        title=new.title,
        contacts=contacts,
        owner_id=owner_id,
        value=new.value,
        partner_id=new.partner_id,
        actor=actor,
    )
    actions = [db.tx_put(deal, condition="attribute_not_exists(pk)")]
    owner_at = partner_at = -1
    if owner_id != member.user_id:
        owner_at = len(actions)
        actions.append(db.tx_check(member_key(org_id, owner_id), condition="attribute_exists(pk)"))
    if new.partner_id:
        actions += share_actions(deal, new.partner_id, actor, deal["created_at"])
        partner_at = len(actions)
        actions.append(record_lead(org_id, new.partner_id))

    def refusal(failed: list[db.Item | None]) -> DomainError:
        if owner_at >= 0 and failed[owner_at] is not None:
            return invalid("body.owner_id", "is not a member of this organisation")
        if partner_at >= 0 and failed[partner_at] is not None:
            return lead_refusal(failed[partner_at], new.partner_id or "")
        return id_collision()

    db.transact(actions, on_cancel=refusal, client=client)
    return deal


def list_deals(
    org_id: str,
    member: Member,
    *,
    owner_id: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    client: Any = None,
) -> tuple[list[db.Item], str | None]:
    """Newest first: the caller's own deals, or (with deals:manage) everyone's or one owner's."""
    manager = member.can(Permission.MANAGE_DEALS)
    if owner_id and owner_id != member.user_id and not manager:
        raise Forbidden(f"other users' deals need {Permission.MANAGE_DEALS.value}")
    if owner_id is None and manager:
        listing = listings.IndexKey("gsi1", all_deals_listing(org_id))
    else:
        listing = listings.IndexKey("gsi2", owner_deals_listing(org_id, owner_id or member.user_id))
    return listings.query_index(listing, newest_first=True, cursor=cursor, limit=limit, client=client)


def move_deal(org_id: str, deal_id: str, member: Member, change: StageChange, *, client: Any = None) -> db.Item:
    """Move the deal to another stage of its workflow: one UpdateItem conditioned on the version read (or
    the one the caller names), so of racing moves exactly one wins and the others get 409. The target
    stage's commission setting is copied into the deal in the same write (the commission cascade reads it
    from the stream record)."""
    deal = staff_deal(org_id, deal_id, member, consistent=True, client=client)
    version = change.version or deal["version"]
    if version != deal["version"]:
        raise DealChanged(f"deal {deal_id} is at version {deal['version']}, not {version}", deal)
    workflow = workflows.get_workflow(org_id, deal["workflow_id"], client=client)
    stage = workflows.stage_of(workflow, change.stage_id)
    if stage is None:
        raise invalid("body.stage_id", "is not a stage of the deal's workflow")
    # Decided on the setting read here, which is also the one the write copies into the deal.
    if workflows.moves_money(stage) and not member.can(Permission.DEAL_MONEY):
        raise Forbidden(f"a stage that computes or reverses commission needs {Permission.DEAL_MONEY.value}")
    if stage["stage_id"] == deal["stage_id"]:
        return deal
    at = clock.now_iso()
    change_id = ids.new_id()
    entry = stage_entry(member.actor, stage, at, deal["stage_id"])
    addition = history.Addition(STAGE_HISTORY, [entry], deal)
    return history.update(
        deal_key(org_id, deal_id),
        addition,
        expression="SET stage_id = :stage, stage_name = :name, stage_commission = :commission, updated_at = :at, "
        f"change_id = :change, {addition.expression}, version = version + :one",
        condition=f"version = :version AND {addition.condition}",
        values={
            ":stage": stage["stage_id"],
            ":name": stage["name"],
            ":commission": workflows.commission_of(stage),
            ":at": at,
            ":change": change_id,
            ":one": 1,
            ":version": version,
        },
        # This very change, applied by an attempt whose answer was lost, is ours; anything else came between.
        on_conflict=lambda current: (
            None
            if current and current.get("change_id") == change_id
            else DealChanged(f"deal {deal_id} changed meanwhile; reload it and retry", current)
        ),
        decide_again=False,
        client=client,
    )


class _AlreadyShared(Conflict):
    pass


def share_deal(
    org_id: str, deal_id: str, member: Member, partner_id: str, *, client: Any = None
) -> tuple[db.Item, bool]:
    """Share the deal with a partner of the organisation (not removed): the share and the deal's partner
    list in one transaction. Returns the deal and whether it was shared now (False: it already was)."""
    deal = staff_deal(org_id, deal_id, member, client=client)
    shares_full = Conflict(f"deal {deal_id} is shared with {MAX_SHARES} partners, the most a deal is shared with")
    if partner_id not in deal.get("partner_ids", []) and len(deal.get("partner_ids", [])) >= MAX_SHARES:
        raise shares_full
    at = clock.now_iso()
    actions = [
        *share_actions(deal, partner_id, member.actor, at),
        db.tx_update(
            deal_key(org_id, deal_id),
            expression="SET partner_ids = list_append(partner_ids, :partner), updated_at = :at ADD version :one",
            condition="attribute_exists(pk) AND NOT contains(partner_ids, :id) AND size(partner_ids) < :max",
            values={":partner": [partner_id], ":id": partner_id, ":at": at, ":one": 1, ":max": MAX_SHARES},
        ),
        db.tx_check(
            node_key(org_id, partner_id), condition="attribute_exists(pk) AND attribute_not_exists(removed_at)"
        ),
    ]

    def refusal(failed: list[db.Item | None]) -> DomainError:
        if failed[0] is not None:
            return _AlreadyShared(f"deal {deal_id} is already shared with partner {partner_id}")
        if failed[3] is not None:
            return NotFound(f"partner {partner_id} not found")
        if failed[2] and len(failed[2].get("partner_ids") or []) >= MAX_SHARES:
            return shares_full
        return DealChanged(f"deal {deal_id} changed meanwhile; retry")

    try:
        db.transact(actions, on_cancel=refusal, client=client)
    except _AlreadyShared:
        return staff_deal(org_id, deal_id, member, consistent=True, client=client), False
    shared = {
        **deal,
        "partner_ids": [*deal.get("partner_ids", []), partner_id],
        "updated_at": at,
        "version": deal["version"] + 1,
    }
    return shared, True
