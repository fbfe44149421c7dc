"""Customers sold to us: a partner company that sells customers posts each one with its machine credentials
(common.leads.intake.selling_company, side "customers"), deduplicated on its own external id, and it lands as a
customer of the organisation in the company's office location, with its account (common.leads.customer_accounts).
The company gets a receipt (`CustomerReceipt`); the purchase notification follows from the table's stream
(common.leads.customer_mail).

    customer external id   ORG#<org>#COMPANY#<company>#CUSTOMER_EXT#<external> / EXTERNAL_ID
                           the company's reference of a customer, taken once (apart from its leads' references)
"""

from __future__ import annotations

from functools import partial
from typing import Any

from pydantic import ConfigDict, Field

from common.leads import campaigns, external_ids
from common.leads.companies import company_actor
from common.leads.customer_accounts import ACCOUNT_EXAMPLE, ADDRESS_EXAMPLE, AccountDetails, CustomerAddress
from common.leads.customers import customer_indexes, customer_key
from common.leads.intake import ExternalId
from common.platform import clock, db, ids
from common.platform.answers import Answer, Timestamp
from common.platform.errors import InvalidInput, invalid
from common.platform.validation import E164, Email, EntityId

ORIGIN = "purchased"  # StaffCustomer.origin of the customers posted here


def customer_external_id_key(org_id: str, company_id: str, external_id: str) -> db.Key:
    return {"pk": f"ORG#{org_id}#COMPANY#{company_id}#CUSTOMER_EXT#{external_id}", "sk": "EXTERNAL_ID"}


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
        "source": {
            "kind": "partner_company",
            "source_id": company_id,
            "company_id": company_id,
            "external_id": posted.external_id,
            **(campaign or {}),
        },
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
    record_key = partial(customer_key, org_id)
    campaign = None
    try:
        if posted.campaign_id:
            campaign = campaigns.attribute(org_id, company_id, posted.campaign_id, client=client)
    except InvalidInput:
        # A repost still gets the first customer, even if its campaign has gone since.
        first = external_ids.first_record(guard_key, "customer_id", record_key, client=client)
        if first is None:
            raise
        return first, False
    item = _customer_item(org_id, company, posted, campaign)

    def write(guard: db.Item, on_cancel: db.CancelHandler) -> None:
        puts = [db.tx_put(new, condition="attribute_not_exists(pk)") for new in (item, guard)]
        db.transact(puts, on_cancel=on_cancel, client=client)

    return external_ids.write_once(
        guard_key,
        entity="customer_external_id",
        id_field="customer_id",
        record=item,
        created_at=item["created_at"],
        write=write,
        record_key=record_key,
        client=client,
    )
