"""A partner company's "sells customers to you" side, written onto its item as the company model holds it
(`sells_customers`, `customer_purchase: {office_location, purchase_notification_emails}`, `active`), and a
customer as a selling company's system posts it."""

from __future__ import annotations

from typing import Any

from common.leads.companies import company_key
from common.platform.db import serialize, serialize_values

OFFICE = "Austin"
ADDRESS = {"line1": "1 Main Street", "city": "Austin", "state": "TX", "postal_code": "73301", "country": "US"}


def sell_customers(stack: Any, org_id: str, company_id: str, *, emails: list[str] | None = None, **fields: Any) -> None:
    """Switch the company's customer side on (or set `fields` of it: `active`, `sells_customers`)."""
    emails = [f"customers-{org_id.lower()}@buyer.example"] if emails is None else emails
    side = {
        "sells_customers": True,
        "customer_purchase": {"office_location": OFFICE, "purchase_notification_emails": emails},
    }
    side |= fields
    stack.client("dynamodb").update_item(
        TableName=stack.table_name,
        Key=serialize(company_key(org_id, company_id)),
        UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(side))),
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeNames={f"#f{i}": name for i, name in enumerate(side)},
        ExpressionAttributeValues=serialize_values({f":v{i}": value for i, value in enumerate(side.values())}),
    )


def customer(external_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "first_name": "Jane",
        "last_name": "Doe",
        "phone": "+15125550100",
        "email": "jane@customer.example",
        "address": ADDRESS,
        "account_number": f"ACC-{external_id}",
        "monthly_amount": 4999,
        "activation_fee": 9900,
        "currency": "USD",
        "contract_term_months": 36,
        "service_flags": ["monitoring"],
        "emergency_contacts": [{"name": "John Doe", "phone": "+15125550101", "relation": "husband"}],
        **fields,
    }
