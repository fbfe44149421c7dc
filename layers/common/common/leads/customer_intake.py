"""Customers sold to us: a partner company that sells customers posts each one with its machine credentials
(common.leads.intake.selling_company, side "customers"), deduplicated on its own external id, and it lands as a
customer of the organisation in the company's office location, with its account (common.leads.customer_accounts).
The company gets a receipt (`CustomerReceipt`); the purchase notification follows from the table's stream
(common.leads.customer_mail).

    customer external id   ORG#<org>#COMPANY#<company>#CUSTOMER_EXT#<external> / EXTERNAL_ID
                           the company's reference of a customer, taken once (apart from its leads' references)
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from common.leads.companies import company_actor
from common.leads.customer_accounts import ACCOUNT_EXAMPLE, ADDRESS_EXAMPLE, AccountDetails, CustomerAddress
from common.leads.customers import customer_indexes, customer_key
from common.leads.intake import ExternalId
from common.platform import clock, db, ids
from common.platform.answers import Answer, Timestamp
from common.platform.errors import Conflict, DomainError, InvalidInput, invalid
from common.platform.validation import E164, Email, EntityId

ORIGIN = "purchased"  # StaffCustomer.origin of the customers posted here


def customer_external_id_key(org_id: str, company_id: str, external_id: str) -> db.Key:
    return {"pk": f"ORG#{org_id}#COMPANY#{company_id}#CUSTOMER_EXT#{external_id}", "sk": "EXTERNAL_ID"}


def campaign_ref_key(org_id: str, company_id: str, sender_campaign_id: str) -> db.Key:
    """The guard that names the campaign of a company's own campaign id (written with the campaign)."""
    return {"pk": f"ORG#{org_id}#COMPANY#{company_id}#CAMPAIGN_REF#{sender_campaign_id}", "sk": "CAMPAIGN_REF"}


def attribute_campaign(org_id: str, company_id: str, sender_campaign_id: str, *, client: Any = None) -> dict[str, Any]:
    """The campaign of the company's own campaign id: one GetItem of its guard. An id the company has no
    campaign for (another company's included: the guard is under the company) is a 422 naming the field.
    The one place intake attributes a campaign: campaigns' own attribution replaces this body."""
    guard = db.get(campaign_ref_key(org_id, company_id, sender_campaign_id), client=client)
    if guard is None or not guard.get("campaign_id"):
        raise invalid("body.campaign_id", "no campaign of this partner company has this id")
    return {"campaign_id": guard["campaign_id"], "sender_campaign_id": sender_campaign_id}


class PurchasedCustomer(AccountDetails):
    """A customer a partner company sells us: its contact, its address and its account."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "external_id": "C-1001",
                    "phone": "+15125550100",
                    "email": "jane@example.org",
                    "address": ADDRESS_EXAMPLE,
                    **ACCOUNT_EXAMPLE,
                    "campaign_id": "spring-2027",
                }
            ]
        }
    )
    external_id: ExternalId = Field(description="the company's own id of the customer: posting it again is a no-op")
    phone: E164 = Field(description="E.164: a plus, the country code and the number, e.g. +15125550100")
    email: Email | None = None
    address: CustomerAddress
    campaign_id: ExternalId | None = Field(None, description="the company's own id of one of its campaigns")
    source_id: EntityId | None = Field(None, description="if sent, the source's id: this company's id")


class CustomerReceipt(Answer):
    """What a partner company gets back for a customer it posted: its reference and ours."""

    customer_id: str
    external_id: str
    company_id: str
    received_at: Timestamp


def receipt(customer: db.Item) -> CustomerReceipt:
    source = customer["source"]
    return CustomerReceipt.of(
        customer, external_id=source["external_id"], company_id=source["company_id"], received_at=customer["created_at"]
    )


def _customer_item(
    org_id: str, company: db.Item, posted: PurchasedCustomer, campaign: dict[str, Any] | None
) -> db.Item:
    customer_id = ids.new_id()
    at = clock.now_iso()
    company_id = company["company_id"]
    contact = {
        "contact_name": f"{posted.first_name} {posted.last_name}",
        "phone": posted.phone,
        "email": posted.email,
        "address": posted.address.as_contact_address(),
    }
    item: db.Item = {
        **customer_key(org_id, customer_id),
        "entity": "customer",
        "org_id": org_id,
        "customer_id": customer_id,
        "origin": ORIGIN,
        "contact": {name: value for name, value in contact.items() if value is not None},
        "source": {"kind": "partner_company", "company_id": company_id, "external_id": posted.external_id},
        "account": posted.stored(),
        "office_location": (company.get("customer_purchase") or {}).get("office_location"),
        "campaign_id": campaign["campaign_id"] if campaign else None,
        "created_by": company_actor(company_id),
        "created_at": at,
        **customer_indexes(org_id, customer_id, None, at),
    }
    return {name: value for name, value in item.items() if value is not None}


def intake_customer(
    org_id: str, company: db.Item, posted: PurchasedCustomer, *, client: Any = None
) -> tuple[db.Item, bool]:
    """Store a customer posted by a selling company (selling_company checked it). The external id is claimed
    in the same transaction, so reposting it (also concurrently) returns the first customer instead of making
    a second. Returns the customer and whether it was created now. Nothing is written on a refusal."""
    company_id = company["company_id"]
    if posted.source_id is not None and posted.source_id != company_id:
        raise invalid("body.source_id", "a company posts customers of its own source only: its company id")
    guard_key = customer_external_id_key(org_id, company_id, posted.external_id)
    campaign = None
    try:
        if posted.campaign_id:
            campaign = attribute_campaign(org_id, company_id, posted.campaign_id, client=client)
    except InvalidInput:
        # A repost still gets the first customer, even if its campaign has gone since.
        first = _first_customer(org_id, guard_key, None, client)
        if first is None:
            raise
        return first, False
    item = _customer_item(org_id, company, posted, campaign)
    guard = {
        **guard_key,
        "entity": "customer_external_id",
        "customer_id": item["customer_id"],
        "created_at": item["created_at"],
    }

    existing: list[str | None] = []

    def _on_cancel(failed: list[db.Item | None]) -> DomainError:
        existing.append(failed[1].get("customer_id") if failed[1] else None)
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
        first = _first_customer(org_id, guard_key, existing[0] if existing else None, client)
        if first is None:
            raise Conflict("the external id is being registered by a concurrent request; retry") from None
        return first, False
    return item, True


def _first_customer(org_id: str, guard_key: db.Key, customer_id: str | None, client: Any) -> db.Item | None:
    """The customer the external id's guard names (read from the guard unless DynamoDB returned it)."""
    if customer_id is None:
        stored = db.get(guard_key, consistent=True, client=client)
        customer_id = stored["customer_id"] if stored else None
    return db.get(customer_key(org_id, customer_id), consistent=True, client=client) if customer_id else None
