"""The purchase notification of a customer a partner company sold us: one e-mail per purchase to the addresses
of the company's customer side (`customer_purchase.purchase_notification_emails`), sent by the leads consumer
from the customer's arrival in the table's stream, once whatever the redeliveries (a notice on the customer)."""

from __future__ import annotations

from typing import Any

from common.leads.companies import get_company
from common.leads.customer_intake import ORIGIN
from common.platform import db
from common.platform.currencies import format_amount
from common.platform.email import send_email
from common.platform.notices import once
from common.platform.observability import logger

NOTICE = "purchase"


def purchase_due(old: db.Item | None, new: db.Item) -> bool:
    """A purchased customer as it arrived (customers are put once; their later changes tell nothing new)."""
    return old is None and new.get("entity") == "customer" and new.get("origin") == ORIGIN


def purchase_message(customer: db.Item, company: db.Item) -> tuple[str, str]:
    source, account = customer["source"], customer.get("account") or {}
    currency = account.get("currency", "")
    subject = f"New customer from {company['name']}: {source['external_id']}"
    lines = [
        f"{company['name']} sold you a customer.",
        "",
        f"Customer: {customer['customer_id']} (their reference {source['external_id']})",
        f"Name: {customer.get('contact', {}).get('contact_name', '-')}",
        f"Account: {account.get('account_number', '-')}",
        f"Office: {customer.get('office_location') or '-'}",
        f"Received: {customer['created_at']}",
    ]
    if currency:
        lines[-1:-1] = [
            f"Monthly: {format_amount(account['monthly_amount'], currency)}",
            f"Activation fee: {format_amount(account['activation_fee'], currency)}",
            f"Contract term: {account['contract_term_months']} months",
        ]
    return subject, "\n".join(lines)


def send_purchase_notification(customer: db.Item, *, client: Any = None, ses: Any = None) -> bool:
    """Whether this call sent it: not when the company has no addresses, nor when it was sent before."""
    company = get_company(customer["org_id"], customer["source"]["company_id"], client=client)
    recipients = list((company.get("customer_purchase") or {}).get("purchase_notification_emails") or [])
    if not recipients:
        return False
    subject, body = purchase_message(customer, company)
    sent = once(
        customer["pk"],
        NOTICE,
        lambda: {"message_id": send_email(recipients, subject, body, client=ses)},
        client=client,
    )
    logger.info("customer purchase notification", extra={"customer_id": customer["customer_id"], "sent": sent})
    return sent


def on_change(old: db.Item | None, new: db.Item | None) -> None:
    """The leads consumer's reaction: a purchased customer gets its notification, once."""
    if new is not None and purchase_due(old, new):
        send_purchase_notification(new)
