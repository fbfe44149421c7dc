"""The e-mails that follow a sale (common.leads.sales), from the leads consumer: a sale by e-mail sends the
record's fields to the side's `email_addresses`, and every sale, whatever its method, tells the side's
`sale_notification_emails`. Each once per sale, however often the change is delivered (notices under the sold
record, named by the sale id). The addresses are the side's as the e-mail goes out; the method is the sale's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from common.leads.companies import find_company
from common.leads.sales import SIDE_FIELDS, newly_sold, sold_record_id
from common.orgs.organisations import get_organisation
from common.platform import db
from common.platform.email import send_email
from common.platform.notices import once
from common.platform.observability import logger

_KIND = {"leads": "lead", "customers": "customer"}


def _address(address: Mapping[str, Any] | None) -> str:
    if not address:
        return "-"
    parts = ("line1", "line2", "city", "region", "postal_code", "country")
    return ", ".join(str(address[p]) for p in parts if address.get(p))


def record_message(
    record: db.Item, sale: Mapping[str, Any], side: str, settings: Mapping[str, Any], org_name: str
) -> tuple[str, str]:
    """The e-mail that carries a sold record to the company: its fields, our id as their reference."""
    kind, record_id = _KIND[side], sold_record_id(record)[1]
    contact = record.get("contact") or {}
    lines = [
        f"{org_name} sold you a {kind} (sale {sale['sale_id']}, {sale['sold_at']}).",
        "",
        f"Our reference (your external id): {record_id}",
    ]
    if settings.get("source_id"):
        lines.append(f"Source ID: {settings['source_id']}")
    lines += [
        f"Contact: {contact.get('contact_name', '-')}",
        f"Phone: {contact.get('phone') or '-'}",
        f"E-mail: {contact.get('email') or '-'}",
        f"Address: {_address(contact.get('address'))}",
    ]
    if record.get("contact_not_before"):
        lines.append(f"Contact not before: {record['contact_not_before']}")
    if contact.get("notes"):
        lines += ["", "Notes:", str(contact["notes"])]
    return f"{org_name}: {kind} {record_id} sold to you", "\n".join(lines)


def notification_message(
    record: db.Item, sale: Mapping[str, Any], side: str, company: Mapping[str, Any], org_name: str
) -> tuple[str, str]:
    """The Sale Notification: that the record was sold, to whom, when and how (not the record's fields)."""
    kind, record_id = _KIND[side], sold_record_id(record)[1]
    how = "posted to its system" if sale["method"] == "post" else "e-mailed to it"
    company_name = company.get("name", sale["company_id"])
    body = "\n".join(
        [
            f"{org_name} sold {kind} {record_id} to {company_name} at {sale['sold_at']} ({how}).",
            "",
            f"Sale: {sale['sale_id']}",
            f"Contact: {(record.get('contact') or {}).get('contact_name', '-')}",
        ]
    )
    return f"{org_name}: {kind} {record_id} sold to {company_name}", body


def _send_once(
    record: db.Item, notice: str, recipients: list[str], message: tuple[str, str], ses: Any, client: Any
) -> bool:
    subject, body = message
    sent = once(
        record["pk"], notice, lambda: {"message_id": send_email(recipients, subject, body, client=ses)}, client=client
    )
    logger.info("sale e-mail", extra={"notice": notice, "sent": sent})
    return sent


def send_sale_mails(record: db.Item, sale: Mapping[str, Any], *, client: Any = None, ses: Any = None) -> list[str]:
    """The sale's e-mails (each once); returns the notices acted on now."""
    side = sold_record_id(record)[0]
    company = find_company(record["org_id"], sale["company_id"], client=client) or {}
    settings: Mapping[str, Any] = company.get(SIDE_FIELDS[side][1]) or {}
    org_name = str(get_organisation(record["org_id"], client=client).get("name") or record["org_id"])
    done = []
    to_company = list(settings.get("email_addresses") or [])
    if sale["method"] == "email" and to_company:
        notice = f"sale#{sale['sale_id']}"
        if _send_once(record, notice, to_company, record_message(record, sale, side, settings, org_name), ses, client):
            done.append(notice)
    elif sale["method"] == "email":
        logger.warning("sale by e-mail, the side has no address now", extra={"sale_id": sale["sale_id"]})
    to_notify = list(settings.get("sale_notification_emails") or [])
    if to_notify:
        notice = f"sale-notification#{sale['sale_id']}"
        message = notification_message(record, sale, side, company, org_name)
        if _send_once(record, notice, to_notify, message, ses, client):
            done.append(notice)
    return done


def on_change(old: db.Item | None, new: db.Item | None) -> None:
    """The leads consumer's reaction: a lead or customer just sold gets its sale's e-mails, once."""
    sale = newly_sold(old, new)
    if sale is not None and new is not None:
        send_sale_mails(new, sale)
