"""The shape of deals in the table, shared by the deal modules: keys, the items a new deal and a share
write, and who may act on a deal (how staff and partners see one: deal_views.py). Deals are created by staff
(staff_deals.py) or by partners in the portal (partner_deals.py), moved through their workflow's stages and
shared with partners. Every change is one conditional write or one transaction; a deal's stage and its
history change in the same write, so the history never disagrees with the stage.

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
from common.orgs.access import Member, Permission
from common.partners.partner_caller import PartnerCaller
from common.partners.partner_records import LEAD_STATUSES
from common.platform import clock, db, history, ids
from common.platform.currencies import CurrencyCode
from common.platform.errors import Conflict, DomainError, Forbidden, NotFound, invalid

MAX_CONTACTS = 20
MAX_AMOUNT_MINOR = 10**15
# A deal's n-th stage change is entry n of its stage history (the creation is 0). The deal keeps the newest
# entries (each at most about 1.3 KB), older ones move to pages `HISTORY#<first>` in its partition.
STAGE_HISTORY = history.Bound("stage_history", limit=50, keep=25, pages_at=lambda deal: (deal["pk"], "HISTORY#"))


class DealChanged(Conflict):
    code, title = "deal-changed", "The deal changed meanwhile"

    def __init__(self, detail: str, current: db.Item | None = None) -> None:  # names the version it is at
        super().__init__(detail, conflicting_ids=[current["version"]] if current and "version" in current else [])


class DealValue(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"amount": 250000, "currency": "EUR"}]})
    amount: Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_MINOR, description="minor units (cents)")]
    currency: Annotated[CurrencyCode, Field(description="ISO 4217")]


# -- keys ------------------------------------------------------------------------------------------


DEAL_ENTITY = "deal"


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


def all_deals_listing(org_id: str) -> str:
    return f"ORG#{org_id}#DEALS"


def owner_deals_listing(org_id: str, owner_id: str) -> str:
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


def stage_entry(actor: str, stage: Mapping[str, Any], at: str, from_stage_id: str | None) -> dict[str, Any]:
    """One entry of a deal's stage history. `commission` is the stage's commission setting at that moment:
    the stream record of the change carries it, so editing the stage's setting later changes nothing
    already moved."""
    entry = {
        "at": at,
        "by": actor,
        "stage_id": stage["stage_id"],
        "stage_name": stage["name"],
        "commission": workflows.commission_of(stage),
    }
    return entry | ({"from_stage_id": from_stage_id} if from_stage_id else {})


def deal_item(
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
    """A new deal at its workflow's first stage."""
    deal_id = ids.new_id()
    at = clock.now_iso()
    stage = workflows.first_stage(workflow)
    first = contacts[0]
    return {
        **deal_key(org_id, deal_id),
        "entity": DEAL_ENTITY,
        "org_id": org_id,
        "deal_id": deal_id,
        "workflow_id": workflow["workflow_id"],
        # Stage names are copied: a workflow's stages never change, and views need no workflow read.
        "stage_id": stage["stage_id"],
        "stage_name": stage["name"],
        # The setting of the stage the deal is at; creating a deal is not a stage change and pays nothing.
        "stage_commission": workflows.commission_of(stage),
        "stage_history": [stage_entry(actor, stage, at, None)],
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
        "gsi1pk": all_deals_listing(org_id),
        "gsi1sk": f"{at}#{deal_id}",
        "gsi2pk": owner_deals_listing(org_id, owner_id),
        "gsi2sk": f"{at}#{deal_id}",
    }


def share_actions(deal: db.Item, partner_id: str, actor: str, at: str) -> list[dict[str, Any]]:
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


def id_collision() -> DomainError:
    return Conflict("deal id collision; retry")


def lead_refusal(node: db.Item | None, partner_id: str) -> DomainError:
    """Why crediting a new deal to the partner failed, from their node as returned with the failure."""
    if not node:
        return invalid("body.partner_id", "is not a partner of this organisation")
    if node.get("removed_at"):
        return Conflict(f"partner {partner_id} was removed from the organisation")
    if node.get("status") in LEAD_STATUSES:
        return Conflict(f"partner {partner_id} changed meanwhile; retry")
    return Conflict(f"partner {partner_id} is {node.get('status')}: only a current partner is credited with a deal")
