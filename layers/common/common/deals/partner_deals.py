"""Deals in the partner portal: what a partner creates (in the organisation's default workflow, owned by one
of their brokers) and what they see (only deals shared with them, and the workflows those are in). The
keys, guards and views are deal_records'."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from common.deals.deal_records import (
    MAX_CONTACTS,
    deal_item,
    deal_key,
    id_collision,
    lead_refusal,
    partner_deals_listing,
    partner_workflows_pk,
    share_actions,
    share_key,
)
from common.deals.deal_views import PortalDeal, PortalDealSummary, portal_deal_view, portal_summary
from common.orgs import workflows
from common.partners import brokers
from common.partners.partner_caller import PartnerCaller
from common.partners.partner_records import record_lead
from common.platform import db, listings
from common.platform.answers import Answer
from common.platform.errors import Conflict, DomainError, NotFound
from common.platform.validation import Email, Phone, ShortText, UserRef

CONTACT_EXAMPLE: JsonDict = {
    "first_name": "Casey",
    "last_name": "Client",
    "email": "casey@example.org",
    "phone": "+15550199",
}


class PortalContact(BaseModel):
    """A partner's contact: every field is required (seed 002)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [CONTACT_EXAMPLE]},
    )
    first_name: ShortText
    last_name: ShortText
    email: Email
    phone: Phone


class NewPortalDeal(BaseModel):
    """A deal entered by a partner, in the organisation's default workflow."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "title": "Casey Client: 3-bed house",
                    "contacts": [CONTACT_EXAMPLE],
                    "owner_id": "0b7c4e2a-5d1f-4c8e-9a3b-2f6e8d1c4a57",
                }
            ]
        },
    )
    title: ShortText | None = None
    contacts: list[PortalContact] = Field(min_length=1, max_length=MAX_CONTACTS)
    owner_id: UserRef | None = Field(None, description="one of your brokers (portal/brokers); the first by default")


class PortalWorkflow(workflows.Workflow):
    is_default: bool = Field(description="the workflow where the partner creates deals")


class PortalWorkflowList(Answer):
    items: list[PortalWorkflow] = Field(description="the default workflow first")


def create_portal_deal(caller: PartnerCaller, new: NewPortalDeal, *, client: Any = None) -> PortalDeal:
    """A partner's deal, in the organisation's default workflow at its first stage, owned by one of the
    partner's brokers, credited to and shared with the partner, and counted as their lead: one
    transaction."""
    workflow_id = caller.settings.get("default_workflow_id")
    workflow = workflows.find_workflow(caller.org_id, workflow_id, client=client) if workflow_id else None
    if workflow is None:
        raise Conflict("the organisation has not chosen a workflow for partners' deals yet")
    try:
        deal = _create_portal_deal(caller, workflow, new, brokers.deal_owner(caller, new.owner_id), client)
    except brokers.OwnerGone:
        if new.owner_id is not None:
            raise
        # The first broker assigned left the organisation: the first who is still a member.
        owner = brokers.deal_owner(caller, None, read_memberships=True, client=client)
        deal = _create_portal_deal(caller, workflow, new, owner, client)
    return portal_deal_view(deal, caller.partner_id)


def _create_portal_deal(
    caller: PartnerCaller, workflow: db.Item, new: NewPortalDeal, owner: tuple[str, db.Item], client: Any
) -> db.Item:
    owner_id, owner_check = owner
    deal = deal_item(
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
        *share_actions(deal, caller.partner_id, caller.actor, deal["created_at"]),
    ]
    lead_at = len(actions)
    actions.append(record_lead(caller.org_id, caller.partner_id))
    actions.append(owner_check)

    def refusal(failed: list[db.Item | None]) -> DomainError:
        if failed[lead_at] is not None:
            return lead_refusal(failed[lead_at], caller.partner_id)
        if failed[-1] is not None:
            return brokers.owner_gone()
        return id_collision()

    db.transact(actions, on_cancel=refusal, client=client)
    return deal


def portal_deals(
    caller: PartnerCaller,
    *,
    workflow_id: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    client: Any = None,
) -> tuple[list[PortalDealSummary], str | None]:
    """The deals shared with the partner, newest share first, without their history: a page of their
    shares (optionally of one workflow), then one BatchGetItem of those deals."""
    shares, next_cursor = listings.query_index(
        listings.IndexKey("gsi1", partner_deals_listing(caller.org_id, caller.partner_id)),
        filter_expression="workflow_id = :workflow" if workflow_id else None,
        filter_values={":workflow": workflow_id} if workflow_id else None,
        newest_first=True,
        cursor=cursor,
        limit=limit,
        client=client,
    )
    found = db.batch_get([deal_key(caller.org_id, s["deal_id"]) for s in shares], client=client)
    by_id = {d["deal_id"]: d for d in found}
    items = [portal_summary(by_id[s["deal_id"]], caller.partner_id) for s in shares if s["deal_id"] in by_id]
    return items, next_cursor


def portal_deal(caller: PartnerCaller, deal_id: str, *, client: Any = None) -> PortalDeal:
    """One deal with its stage history, only if it is shared with the partner (404 otherwise)."""
    share, deal = share_key(caller.org_id, deal_id, caller.partner_id), deal_key(caller.org_id, deal_id)
    found = {i["sk"]: i for i in db.batch_get([share, deal], consistent=True, client=client)}
    if share["sk"] not in found or "DEAL" not in found:
        raise NotFound(f"deal {deal_id} not found")
    return portal_deal_view(found["DEAL"], caller.partner_id)


def portal_workflows(caller: PartnerCaller, *, client: Any = None) -> PortalWorkflowList:
    """The default workflow (where the partner creates deals) and every workflow they have a deal in."""
    default_id = caller.settings.get("default_workflow_id")
    wanted = [default_id] if default_id else []
    markers = listings.all_with_prefix(
        partner_workflows_pk(caller.org_id, caller.partner_id), "WORKFLOW#", client=client
    )
    wanted += [m["workflow_id"] for m in markers if m["workflow_id"] not in wanted]
    found = db.batch_get([workflows.workflow_key(caller.org_id, w) for w in wanted], client=client)
    by_id = {w["workflow_id"]: w for w in found}
    return PortalWorkflowList(
        items=[PortalWorkflow.of(by_id[w], is_default=w == default_id) for w in wanted if w in by_id]
    )
