"""New leads: posted by a partner company's system (deduplicated on its external id, attributed to one of its
campaigns by the company's own campaign id) or entered by hand by staff, who name the lead's source (the
self-generated one or a company that sells leads, common.leads.sources); each goes to the pending list or
straight into the work queue. The company posting is checked first (`selling_company`) and gets a receipt
(`IntakeReceipt`), not our work on the lead."""

from __future__ import annotations

import contextlib
from datetime import datetime
from functools import partial
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints

from common.leads import campaigns, duplicates, external_ids, queue_settings, sources
from common.leads.campaigns import SenderCampaignId
from common.leads.companies import LeadLocation, QueuePriority, company_actor, find_company
from common.leads.model import (
    ADDRESS_EXAMPLE,
    CONTACT_EXAMPLE,
    TIME_ZONE_GIVEN,
    LeadContact,
    LeadStatus,
    external_id_key,
    history_entry,
    lead_key,
    listing_order,
    queue_partition,
    queue_position,
    status_listing,
)
from common.leads.time_zones import ZoneName
from common.orgs.access import Member, Principal
from common.platform import clock, db, ids
from common.platform.answers import Answer, Timestamp
from common.platform.errors import Conflict, DomainError, FieldError, Forbidden, InvalidInput, NotFound, invalid
from common.platform.settings import LeadIntake, get_settings
from common.platform.validation import SINGLE_LINE, EntityId, Instant

# A company's own id of what it posts: a lead's, a customer's, a campaign's.
EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,99}$"
ExternalId = Annotated[str, StringConstraints(pattern=EXTERNAL_ID_PATTERN)]


class IntakeLead(LeadContact):
    """A lead posted by a partner company's system."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "external_id": "A-1001",
                    **CONTACT_EXAMPLE,
                    "address": ADDRESS_EXAMPLE,
                    "requested_location": "queue",
                    "contact_not_before": "2026-12-08T09:00:00Z",
                    "campaign_id": "SPRING-26",
                }
            ]
        }
    )
    external_id: ExternalId
    requested_location: LeadLocation | None = None
    contact_not_before: Instant | None = None
    campaign_id: SenderCampaignId | None = Field(
        None, description="the company's own id of one of its inbound campaigns (sender_campaign_id)"
    )
    time_zone: ZoneName | None = Field(None, description=TIME_ZONE_GIVEN)
    source_id: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), SINGLE_LINE] | None = Field(
        None,
        description="the Source ID we gave the sender: this company's id, as in the path (another instance of this "
        "product selling to us names it); left out by most senders",
    )


class ManualLead(LeadContact):
    """A lead entered by hand by staff."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **CONTACT_EXAMPLE,
                    "source_id": sources.SELF_GENERATED,
                    "location": "queue",
                    "priority": "high",
                    "notes": "Walk-in",
                }
            ]
        }
    )
    source_id: sources.SourceId = Field(
        description=f'"{sources.SELF_GENERATED}" or an active partner company that sells leads '
        "(GET /orgs/{org_id}/sources?for=leads)"
    )
    campaign_id: EntityId | None = Field(None, description="one of the source company's inbound campaigns")
    location: LeadLocation = LeadLocation.PENDING
    priority: QueuePriority = QueuePriority.NORMAL
    contact_not_before: Instant | None = None
    time_zone: ZoneName | None = Field(None, description=TIME_ZONE_GIVEN)


class IntakeReceipt(Answer):
    """What a partner company gets back for a lead it posted: its reference and ours, not our work on it."""

    lead_id: str
    external_id: str
    company_id: str
    received_at: Timestamp


# What a partner company's system may post: leads, or customers (the company's two selling sides).
SellingSide = Literal["leads", "customers"]


def require_intake_token(principal: Principal) -> None:
    """The caller is a partner company's system: a client-credentials token with the lead-intake scope."""
    if principal.kind != "machine" or get_settings(LeadIntake).lead_intake_scope not in principal.scopes:
        raise Forbidden("this route needs a partner company's client-credentials token")


def own_company(company: db.Item | None, company_id: str, principal: Principal) -> db.Item:
    """The company the path names, when the caller's credentials are that company's own client. Credentials
    of another company (or organisation) get 404, so they do not reveal whether the company exists."""
    if company is None or company.get("client_id") != principal.client_id:
        raise NotFound(f"partner company {company_id} not found")
    return company


def selling_company(
    org_id: str, company_id: str, principal: Principal, side: SellingSide = "leads", *, client: Any = None
) -> db.Item:
    """The partner company a lead (or a customer: `side`) is posted for, when the caller is that company's
    system (require_intake_token, own_company). A company that does not sell what is posted, or that is
    inactive, is a conflict."""
    require_intake_token(principal)
    company = own_company(find_company(org_id, company_id, client=client), company_id, principal)
    if company.get("active") is False:
        raise Conflict("this partner company is inactive")
    if not company.get(f"sells_{side}"):
        raise Conflict(f"this partner company is not set up to sell {side}")
    return company


def _require_reach(contact: LeadContact) -> None:
    if not contact.phone and not contact.email:
        message = "a lead needs a phone number or an e-mail address"
        raise InvalidInput(message, errors=[FieldError("body.phone", message), FieldError("body.email", message)])


def _new_lead_item(
    org_id: str,
    contact: LeadContact,
    *,
    location: LeadLocation,
    priority: QueuePriority,
    contact_not_before: datetime | None,
    source: dict[str, Any],
    actor: str,
) -> db.Item:
    lead_id = ids.new_id()
    at = clock.now_iso()
    status = LeadStatus.QUEUED if location is LeadLocation.QUEUE else LeadStatus.PENDING
    not_before = clock.iso(contact_not_before) if contact_not_before else None
    available_at = max(at, not_before or at)
    item: db.Item = {
        **lead_key(org_id, lead_id),
        "entity": "lead",
        "org_id": org_id,
        "lead_id": lead_id,
        "status": status.value,
        "location": location.value,
        "priority": priority.value,
        "source": source,
        "company_id": source.get("company_id"),
        "external_id": source.get("external_id"),
        "contact": contact.model_dump(mode="json", include=set(LeadContact.model_fields), exclude_none=True),
        "contact_not_before": not_before,
        "available_at": available_at,
        "received_at": at,
        "updated_at": at,
        "version": 1,
        "history": [history_entry(actor, "received", at, status=status.value, location=location.value)],
        "gsi1pk": status_listing(org_id, status),
        "gsi1sk": listing_order(at, lead_id),
    }
    if status is LeadStatus.QUEUED:
        item |= {"gsi3pk": queue_partition(org_id), "gsi3sk": queue_position(priority, available_at, lead_id)}
    return item


def intake_lead(org_id: str, company: db.Item, lead: IntakeLead, *, client: Any = None) -> tuple[db.Item, bool]:
    """Store a lead posted by a partner company. The external id is claimed in the same transaction,
    so reposting it (also concurrently) returns the first lead instead of creating a second; a repost comes
    before the organisation's duplicate rule. Returns the lead and whether it was created now."""
    _require_reach(lead)
    if lead.source_id is not None and lead.source_id != company["company_id"]:
        raise invalid("body.source_id", "must be this company's id (the one in the path), or left out")
    settings = queue_settings.read_settings(org_id, client=client)
    default = LeadLocation(company.get("default_lead_location", LeadLocation.PENDING.value))
    location = default if company.get("force_default_location") else (lead.requested_location or default)
    company_id = company["company_id"]
    source = {"kind": "partner_company", "source_id": company_id, "company_id": company_id}
    source["external_id"] = lead.external_id
    guard_key = external_id_key(org_id, company_id, lead.external_id)
    record_key = partial(lead_key, org_id)
    if lead.campaign_id is not None:
        try:
            source |= campaigns.attribute(org_id, company_id, lead.campaign_id, client=client)
        except InvalidInput:
            # A repost still gets the first lead, even if its campaign has gone since.
            first = external_ids.first_record(guard_key, "lead_id", record_key, client=client)
            if first is None:
                raise
            return first, False
    item = _new_lead_item(
        org_id,
        lead,
        location=location,
        priority=QueuePriority(company.get("queue_priority", QueuePriority.NORMAL.value)),
        contact_not_before=lead.contact_not_before,
        source=source,
        actor=company_actor(company_id),
    )
    item = settings.placed(item, lead.time_zone)
    guards = _contact_guards(org_id, lead, settings, item)
    return external_ids.write_once(
        guard_key,
        entity="external_id",
        id_field="lead_id",
        record=item,
        created_at=item["received_at"],
        write=lambda guard, on_cancel: _write_new_lead(item, guards, also=[guard], on_cancel=on_cancel, client=client),
        record_key=record_key,
        client=client,
    )


def enter_lead(org_id: str, member: Member, lead: ManualLead, *, client: Any = None) -> db.Item:
    """A lead staff entered, from the source they named: one a partner company sells counts as that company's
    lead (returned to it, its purchase notification sent) like one it posted."""
    _require_reach(lead)
    settings = queue_settings.read_settings(org_id, client=client)
    source = {
        "kind": "manual",
        "entered_by": member.user_id,
        **sources.manual_source(org_id, lead.source_id, lead.campaign_id, client=client),
    }
    item = _new_lead_item(
        org_id,
        lead,
        location=lead.location,
        priority=lead.priority,
        contact_not_before=lead.contact_not_before,
        source=source,
        actor=member.actor,
    )
    item = settings.placed(item, lead.time_zone)
    guards = _contact_guards(org_id, lead, settings, item)
    if guards is None:  # one PutItem, as ever
        db.put(
            item, condition="attribute_not_exists(pk)", on_conflict=Conflict("lead id collision; retry"), client=client
        )
        return item

    def _on_cancel(failed: list[db.Item | None]) -> DomainError:
        # This very lead, written by an attempt whose answer was lost; or another lead's id.
        ours = failed[0] == db.deserialize(db.serialize(item))
        return _Reposted("written before") if ours else Conflict("lead id collision; retry")

    with contextlib.suppress(_Reposted):
        _write_new_lead(item, guards, also=[], on_cancel=_on_cancel, client=client)
    return item


# -- duplicates --------------------------------------------------------------------------------------


class _Reposted(Conflict):
    """The new lead's own item, or its external id, was there already."""


def _contact_guards(
    org_id: str, lead: LeadContact, settings: queue_settings.QueueSettings, item: db.Item
) -> duplicates.ContactGuards | None:
    return duplicates.guards_for(org_id, lead, settings, datetime.fromisoformat(item["received_at"]))


def _write_new_lead(
    item: db.Item,
    guards: duplicates.ContactGuards | None,
    *,
    also: list[db.Item],
    on_cancel: db.CancelHandler,
    client: Any,
) -> None:
    """One transaction: the lead, the items `also` put with it (each new), and the contact guards of the
    organisation's duplicate rule. `on_cancel` explains a failure of the lead's own items."""
    actions = [db.tx_put(new, condition="attribute_not_exists(pk)") for new in (item, *also)]
    at = item["received_at"]
    duplicates.write_with_guards(actions, guards, lead_id=item["lead_id"], at=at, on_cancel=on_cancel, client=client)


def check_duplicates(org_id: str, lead: LeadContact, *, client: Any = None) -> None:
    """The duplicate check a caller asks for before creating a lead (`.../lead-duplicate-checks`): DuplicateLead
    (409 naming the earlier leads) when creating it would be refused as a duplicate; nothing is written."""
    _require_reach(lead)
    settings = queue_settings.read_settings(org_id, client=client)
    found = duplicates.duplicates_of(org_id, lead, settings, client=client)
    if found:
        raise duplicates.DuplicateLead(found)
