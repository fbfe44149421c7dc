"""Deals: created by staff or by partners in the portal, moved through their workflow's stages, shared with
partners. Every change is one conditional write or one transaction; a deal's stage and its history change
in the same write, so the history never disagrees with the stage.

    deal              ORG#<org>#DEAL#<dealId> / DEAL
                      gsi1 ORG#<org>#DEALS / <createdAt>#<dealId>                 every deal, newest first
                      gsi2 ORG#<org>#DEALS#OWNER#<ownerId> / <createdAt>#<dealId> a staff user's deals
    share             ORG#<org>#DEAL#<dealId> / SHARE#<partnerId>
                      gsi1 ORG#<org>#PARTNER#<partnerId>#DEALS / <sharedAt>#<dealId>  a partner's deals
    partner workflow  ORG#<org>#PARTNER#<partnerId>#WORKFLOWS / WORKFLOW#<workflowId>
                      (a workflow the partner has a deal in, for the portal's workflow list)

Staff: a deal's owner acts on their deals, deals:manage on every deal. Partners reach a deal only through
its share with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from common.orgs import workflows
from common.orgs.access import Member, Permission, member_key
from common.partners import brokers
from common.partners.partner_records import LEAD_STATUSES, PartnerCaller, lead_actions, node_key
from common.platform import clock, db, history, ids
from common.platform.currencies import CurrencyCode, with_minor_units
from common.platform.errors import Conflict, DomainError, Forbidden, NotFound, invalid
from common.platform.validation import Email, EntityId, Phone, ShortText, UserRef

MAX_CONTACTS = 20
MAX_AMOUNT_MINOR = 10**15
# A deal keeps the ids of the partners it is shared with: this many at most (409 beyond), about 13 KB.
MAX_SHARES = 100
# A deal's n-th stage change is entry n of its stage history (the creation is 0). The deal keeps the newest
# entries (each at most about 1.3 KB), older ones move to pages `HISTORY#<first>` in its partition.
STAGE_HISTORY = history.Bound("stage_history", limit=50, keep=25, pages_at=lambda deal: (deal["pk"], "HISTORY#"))


class DealChanged(Conflict):
    code, title = "deal-changed", "The deal changed meanwhile"

    def __init__(self, detail: str, current: db.Item | None = None) -> None:  # names the version it is at
        super().__init__(detail, conflicting_ids=[current["version"]] if current and "version" in current else [])


# -- input -----------------------------------------------------------------------------------------


class StaffContact(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    first_name: ShortText
    last_name: ShortText
    email: Email | None = None
    phone: Phone | None = None


class PortalContact(BaseModel):
    """A partner's contact: every field is required (seed 002)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    first_name: ShortText
    last_name: ShortText
    email: Email
    phone: Phone


class DealValue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_MINOR, description="minor units (cents)")]
    currency: Annotated[CurrencyCode, Field(description="ISO 4217")]


class NewDeal(BaseModel):
    """A deal entered by staff."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    workflow_id: EntityId
    title: ShortText | None = None
    contacts: list[StaffContact] = Field(min_length=1, max_length=MAX_CONTACTS)
    owner_id: UserRef | None = Field(None, description="a member of the organisation; the caller by default")
    value: DealValue | None = None
    partner_id: UserRef | None = Field(
        None, description="credit the deal to this partner (their lead) and share it with them"
    )


class NewPortalDeal(BaseModel):
    """A deal entered by a partner, in the organisation's default workflow."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    title: ShortText | None = None
    contacts: list[PortalContact] = Field(min_length=1, max_length=MAX_CONTACTS)
    owner_id: UserRef | None = Field(None, description="one of your brokers (portal/brokers); the first by default")


class StageChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stage_id: EntityId
    version: int | None = Field(
        None, ge=1, description="the deal's version this change is based on: refused (409) if it changed since"
    )


# -- keys ------------------------------------------------------------------------------------------


def deal_pk(org_id: str, deal_id: str) -> str:
    return f"ORG#{org_id}#DEAL#{deal_id}"


def deal_key(org_id: str, deal_id: str) -> db.Key:
    return {"pk": deal_pk(org_id, deal_id), "sk": "DEAL"}


def share_key(org_id: str, deal_id: str, partner_id: str) -> db.Key:
    return {"pk": deal_pk(org_id, deal_id), "sk": f"SHARE#{partner_id}"}


def partner_deals_listing(org_id: str, partner_id: str) -> str:
    return f"ORG#{org_id}#PARTNER#{partner_id}#DEALS"


def partner_workflows_pk(org_id: str, partner_id: str) -> str:
    return f"ORG#{org_id}#PARTNER#{partner_id}#WORKFLOWS"


def _all_deals(org_id: str) -> str:
    return f"ORG#{org_id}#DEALS"


def _owner_deals(org_id: str, owner_id: str) -> str:
    return f"ORG#{org_id}#DEALS#OWNER#{owner_id}"


# -- who may act -------------------------------------------------------------------------------------


def can_act(member: Member, deal: db.Item) -> bool:
    return member.can(Permission.MANAGE_DEALS) or deal.get("owner_id") == member.user_id


def staff_deal(org_id: str, deal_id: str, member: Member, *, consistent: bool = False, client: Any = None) -> db.Item:
    """The deal, for its owner or a deal manager (403 for other members)."""
    deal = db.get(deal_key(org_id, deal_id), consistent=consistent, client=client)
    if deal is None:
        raise NotFound(f"deal {deal_id} not found")
    if not can_act(member, deal):
        raise Forbidden(f"deal {deal_id} belongs to another user; acting on it needs {Permission.MANAGE_DEALS.value}")
    return deal


def staff_guard(org_id: str, deal_id: str, member: Member) -> dict[str, Any]:
    """A transaction item: the deal exists and the member may act on it."""
    if member.can(Permission.MANAGE_DEALS):
        return db.tx_check(deal_key(org_id, deal_id), condition="attribute_exists(pk)")
    return db.tx_check(
        deal_key(org_id, deal_id),
        condition="attribute_exists(pk) AND owner_id = :me",
        values={":me": member.user_id},
    )


def partner_guard(org_id: str, deal_id: str, partner_id: str) -> dict[str, Any]:
    """A transaction item: the deal is shared with the partner."""
    return db.tx_check(share_key(org_id, deal_id, partner_id), condition="attribute_exists(pk)")


def guard_refusal(deal_id: str, current: db.Item | None) -> DomainError:
    """Why a guard failed, from the item returned with the failure (empty: no deal, or not shared)."""
    if not current or current.get("sk") != "DEAL":
        return NotFound(f"deal {deal_id} not found")
    return Forbidden(f"deal {deal_id} belongs to another user; acting on it needs {Permission.MANAGE_DEALS.value}")


def require_shared(caller: PartnerCaller, deal_id: str, *, client: Any = None) -> db.Item:
    share = db.get(share_key(caller.org_id, deal_id, caller.partner_id), consistent=True, client=client)
    if share is None:
        raise NotFound(f"deal {deal_id} not found")
    return share


# -- items -----------------------------------------------------------------------------------------


def _history_entry(actor: str, stage: Mapping[str, Any], at: str, from_stage_id: str | None) -> dict[str, Any]:
    """`commission` is the stage's commission setting at that moment: the stream record of the change
    carries it, so editing the stage's setting later changes nothing already moved."""
    entry = {
        "at": at,
        "by": actor,
        "stage_id": stage["stage_id"],
        "stage_name": stage["name"],
        "commission": workflows.commission_of(stage),
    }
    return entry | ({"from_stage_id": from_stage_id} if from_stage_id else {})


def _deal_item(
    org_id: str,
    workflow: db.Item,
    *,
    title: str | None,
    contacts: list[dict[str, Any]],
    owner_id: str,
    value: DealValue | None,
    partner_id: str | None,
    actor: str,
) -> db.Item:
    deal_id = ids.new_id()
    at = clock.now_iso()
    stage = workflows.first_stage(workflow)
    first = contacts[0]
    return {
        **deal_key(org_id, deal_id),
        "entity": "deal",
        "org_id": org_id,
        "deal_id": deal_id,
        "workflow_id": workflow["workflow_id"],
        # Stage names are copied: a workflow's stages never change, and views need no workflow read.
        "stage_id": stage["stage_id"],
        "stage_name": stage["name"],
        # The setting of the stage the deal is at; creating a deal is not a stage change and pays nothing.
        "stage_commission": workflows.commission_of(stage),
        "stage_history": [_history_entry(actor, stage, at, None)],
        "title": title or f"{first['first_name']} {first['last_name']}",
        "contacts": contacts,
        "owner_id": owner_id,
        "value": value.model_dump() if value else None,
        "credited_partner_id": partner_id,
        "partner_ids": [partner_id] if partner_id else [],
        "created_by": actor,
        "created_at": at,
        "updated_at": at,
        "version": 1,
        "gsi1pk": _all_deals(org_id),
        "gsi1sk": f"{at}#{deal_id}",
        "gsi2pk": _owner_deals(org_id, owner_id),
        "gsi2sk": f"{at}#{deal_id}",
    }


def _share_actions(deal: db.Item, partner_id: str, actor: str, at: str) -> list[dict[str, Any]]:
    """Put the share (only if absent) and note the deal's workflow among the partner's workflows."""
    org_id, deal_id, workflow_id = deal["org_id"], deal["deal_id"], deal["workflow_id"]
    share = {
        **share_key(org_id, deal_id, partner_id),
        "entity": "deal_share",
        "org_id": org_id,
        "deal_id": deal_id,
        "partner_id": partner_id,
        "workflow_id": workflow_id,
        "shared_by": actor,
        "shared_at": at,
        "gsi1pk": partner_deals_listing(org_id, partner_id),
        "gsi1sk": f"{at}#{deal_id}",
    }
    marker = db.tx_update(
        {"pk": partner_workflows_pk(org_id, partner_id), "sk": f"WORKFLOW#{workflow_id}"},
        expression="SET entity = :entity, org_id = :org, partner_id = :partner, workflow_id = :workflow, "
        "first_deal_at = if_not_exists(first_deal_at, :at)",
        values={
            ":entity": "partner_workflow",
            ":org": org_id,
            ":partner": partner_id,
            ":workflow": workflow_id,
            ":at": at,
        },
    )
    return [db.tx_put(share, condition="attribute_not_exists(pk)"), marker]


def _collision(failed: list[db.Item | None]) -> DomainError:
    return Conflict("deal id collision; retry")


# -- staff -----------------------------------------------------------------------------------------


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
    actor = f"user:{member.user_id}"
    contacts = [c.model_dump(exclude_none=True) for c in new.contacts]
    deal = _deal_item(
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
        actions += _share_actions(deal, new.partner_id, actor, deal["created_at"])
        partner_at = len(actions)
        # The node is read for its history: when that is full, the older entries move to a page.
        node = db.get(node_key(org_id, new.partner_id), consistent=True, client=client)
        actions += lead_actions(org_id, new.partner_id, deal["deal_id"], actor, node)

    def refusal(failed: list[db.Item | None]) -> DomainError:
        if owner_at >= 0 and failed[owner_at] is not None:
            return invalid("body.owner_id", "is not a member of this organisation")
        if partner_at >= 0 and failed[partner_at] is not None:
            return _lead_refusal(failed[partner_at], new.partner_id or "")
        return _collision(failed)

    db.transact(actions, on_cancel=refusal, client=client)
    return deal


def _lead_refusal(node: db.Item | None, partner_id: str) -> DomainError:
    if not node:
        return invalid("body.partner_id", "is not a partner of this organisation")
    if node.get("removed_at"):
        return Conflict(f"partner {partner_id} was removed from the organisation")
    if node.get("status") in LEAD_STATUSES:
        return Conflict(f"partner {partner_id} changed meanwhile; retry")
    return Conflict(f"partner {partner_id} is {node.get('status')}: only a current partner is credited with a deal")


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
        partition, index = _all_deals(org_id), "gsi1"
    else:
        partition, index = _owner_deals(org_id, owner_id or member.user_id), "gsi2"
    return db.query(
        index=index,
        key_condition=f"{index}pk = :pk",
        values={":pk": partition},
        newest_first=True,
        cursor=cursor,
        limit=limit,
        client=client,
    )


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
    entry = _history_entry(f"user:{member.user_id}", stage, at, deal["stage_id"])
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
    actor = f"user:{member.user_id}"
    actions = [
        *_share_actions(deal, partner_id, actor, at),
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


def staff_view(deal: db.Item) -> dict[str, Any]:
    """The deal as stored (unset fields absent, as when read back), its value with its minor units."""
    shown = {k: v for k, v in db.without_storage(deal, "change_id").items() if v is not None}
    return shown | {"value": with_minor_units(shown["value"])} if "value" in shown else shown


# -- the partner portal ----------------------------------------------------------------------------


def create_portal_deal(caller: PartnerCaller, new: NewPortalDeal, *, client: Any = None) -> db.Item:
    """A partner's deal, in the organisation's default workflow at its first stage, owned by one of the
    partner's brokers, credited to and shared with the partner, and counted as their lead: one
    transaction."""
    workflow_id = caller.settings.get("default_workflow_id")
    workflow = workflows.find_workflow(caller.org_id, workflow_id, client=client) if workflow_id else None
    if workflow is None:
        raise Conflict("the organisation has not chosen a workflow for partners' deals yet")
    try:
        return _create_portal_deal(caller, workflow, new, brokers.deal_owner(caller, new.owner_id), client)
    except brokers.OwnerGone:
        if new.owner_id is not None:
            raise
        # The first broker assigned left the organisation: the first who is still a member.
        owner = brokers.deal_owner(caller, None, read_memberships=True, client=client)
        return _create_portal_deal(caller, workflow, new, owner, client)


def _create_portal_deal(
    caller: PartnerCaller, workflow: db.Item, new: NewPortalDeal, owner: tuple[str, db.Item], client: Any
) -> db.Item:
    owner_id, owner_check = owner
    deal = _deal_item(
        caller.org_id,
        workflow,
        title=new.title,
        contacts=[c.model_dump() for c in new.contacts],
        owner_id=owner_id,
        value=None,
        partner_id=caller.partner_id,
        actor=caller.actor,
    )
    actions = [
        db.tx_put(deal, condition="attribute_not_exists(pk)"),
        *_share_actions(deal, caller.partner_id, caller.actor, deal["created_at"]),
    ]
    lead_at = len(actions)
    actions += lead_actions(caller.org_id, caller.partner_id, deal["deal_id"], caller.actor, caller.node)
    actions.append(owner_check)

    def refusal(failed: list[db.Item | None]) -> DomainError:
        if failed[lead_at] is not None:
            return _lead_refusal(failed[lead_at], caller.partner_id)
        if failed[-1] is not None:
            return brokers.owner_gone()
        return _collision(failed)

    db.transact(actions, on_cancel=refusal, client=client)
    return deal


def portal_view(deal: db.Item, partner_id: str, *, with_history: bool = True) -> dict[str, Any]:
    """What a partner sees of a deal shared with them: not who else it is shared with, nor staff ids in
    its history."""
    view: dict[str, Any] = {
        "org_id": deal["org_id"],
        "deal_id": deal["deal_id"],
        "workflow_id": deal["workflow_id"],
        "title": deal["title"],
        "contacts": deal.get("contacts", []),
        "value": with_minor_units(deal.get("value")),
        "stage": {"stage_id": deal["stage_id"], "name": deal["stage_name"]},
        "owner_id": deal["owner_id"],
        "credited_to_you": deal.get("credited_partner_id") == partner_id,
        "created_at": deal["created_at"],
        "updated_at": deal["updated_at"],
    }
    if with_history:
        view["stage_history"] = [portal_stage_entry(e) for e in deal.get("stage_history", [])]
    return view


def portal_stage_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A stage history entry as partners see it: when, and which stage (not who moved it)."""
    return {"at": entry["at"], "stage_id": entry["stage_id"], "name": entry["stage_name"]}


def portal_deals(
    caller: PartnerCaller,
    *,
    workflow_id: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    client: Any = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """The deals shared with the partner, newest share first, without their history: a page of their
    shares (optionally of one workflow), then one BatchGetItem of those deals."""
    shares, next_cursor = db.query(
        index="gsi1",
        key_condition="gsi1pk = :pk",
        values={
            ":pk": partner_deals_listing(caller.org_id, caller.partner_id),
            **({":workflow": workflow_id} if workflow_id else {}),
        },
        newest_first=True,
        cursor=cursor,
        limit=limit,
        filter_expression="workflow_id = :workflow" if workflow_id else None,
        client=client,
    )
    found = db.batch_get([deal_key(caller.org_id, s["deal_id"]) for s in shares], client=client)
    by_id = {d["deal_id"]: d for d in found}
    items = [
        portal_view(by_id[s["deal_id"]], caller.partner_id, with_history=False) for s in shares if s["deal_id"] in by_id
    ]
    return items, next_cursor


def portal_deal(caller: PartnerCaller, deal_id: str, *, client: Any = None) -> dict[str, Any]:
    """One deal with its stage history, only if it is shared with the partner (404 otherwise)."""
    share, deal = share_key(caller.org_id, deal_id, caller.partner_id), deal_key(caller.org_id, deal_id)
    found = {i["sk"]: i for i in db.batch_get([share, deal], consistent=True, client=client)}
    if share["sk"] not in found or "DEAL" not in found:
        raise NotFound(f"deal {deal_id} not found")
    return portal_view(found["DEAL"], caller.partner_id)


def portal_workflows(caller: PartnerCaller, *, client: Any = None) -> list[db.Item]:
    """The default workflow (where the partner creates deals) and every workflow they have a deal in."""
    default_id = caller.settings.get("default_workflow_id")
    wanted = [default_id] if default_id else []
    markers = db.all_with_prefix(partner_workflows_pk(caller.org_id, caller.partner_id), "WORKFLOW#", client=client)
    wanted += [m["workflow_id"] for m in markers if m["workflow_id"] not in wanted]
    found = db.batch_get([workflows.workflow_key(caller.org_id, w) for w in wanted], client=client)
    by_id = {w["workflow_id"]: w for w in found}
    return [{**by_id[w], "is_default": w == default_id} for w in wanted if w in by_id]
