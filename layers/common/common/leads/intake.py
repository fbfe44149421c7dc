"""New leads: posted by a partner company's system (deduplicated on its external id) or entered by hand by
staff; each goes to the pending list or straight into the work queue."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import StringConstraints

from common.leads.companies import LeadLocation, QueuePriority, company_actor
from common.leads.model import (
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
from common.orgs.access import Member
from common.platform import clock, db, ids
from common.platform.errors import Conflict, DomainError, FieldError, InvalidInput
from common.platform.validation import Instant

ExternalId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,99}$")]


class IntakeLead(LeadContact):
    """A lead posted by a partner company's system."""

    external_id: ExternalId
    requested_location: LeadLocation | None = None
    contact_not_before: Instant | None = None


class ManualLead(LeadContact):
    """A lead entered by hand by staff."""

    location: LeadLocation = LeadLocation.PENDING
    priority: QueuePriority = QueuePriority.NORMAL
    contact_not_before: Instant | None = None


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
    so reposting it (also concurrently) returns the first lead instead of creating a second.
    Returns the lead and whether it was created now."""
    _require_reach(lead)
    default = LeadLocation(company.get("default_lead_location", LeadLocation.PENDING.value))
    location = default if company.get("force_default_location") else (lead.requested_location or default)
    company_id = company["company_id"]
    item = _new_lead_item(
        org_id,
        lead,
        location=location,
        priority=QueuePriority(company.get("queue_priority", QueuePriority.NORMAL.value)),
        contact_not_before=lead.contact_not_before,
        source={"kind": "partner_company", "company_id": company_id, "external_id": lead.external_id},
        actor=company_actor(company_id),
    )
    guard_key = external_id_key(org_id, company_id, lead.external_id)
    guard = {
        **guard_key,
        "entity": "external_id",
        "lead_id": item["lead_id"],
        "created_at": item["received_at"],
    }

    existing: list[str | None] = []

    def _on_cancel(failed: list[db.Item | None]) -> DomainError:
        existing.append(failed[1].get("lead_id") if failed[1] else None)
        return Conflict("external id already used")

    try:
        db.transact(
            [
                db.tx_put(item, condition="attribute_not_exists(pk)"),
                db.tx_put(guard, condition="attribute_not_exists(pk)"),
            ],
            on_cancel=_on_cancel,
            client=client,
        )
    except Conflict:
        # The guard names the first lead; read it (from the guard itself if DynamoDB did not return it).
        existing_id = existing[0] if existing else None
        if existing_id is None:
            stored = db.get(guard_key, consistent=True, client=client)
            existing_id = stored["lead_id"] if stored else None
        first = db.get(lead_key(org_id, existing_id), consistent=True, client=client) if existing_id else None
        if first is None:
            raise Conflict("the external id is being registered by a concurrent request; retry") from None
        return first, False
    return item, True


def enter_lead(org_id: str, member: Member, lead: ManualLead, *, client: Any = None) -> db.Item:
    _require_reach(lead)
    item = _new_lead_item(
        org_id,
        lead,
        location=lead.location,
        priority=lead.priority,
        contact_not_before=lead.contact_not_before,
        source={"kind": "manual", "entered_by": member.user_id},
        actor=member.actor,
    )
    db.put(
        item,
        condition="attribute_not_exists(pk)",
        on_conflict=Conflict("lead id collision; retry"),
        client=client,
    )
    return item
