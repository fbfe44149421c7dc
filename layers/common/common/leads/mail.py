"""The e-mails that follow lead changes: purchase notifications and return notifications."""

from __future__ import annotations

from typing import Any

from common.leads.companies import get_company
from common.leads.model import LeadStatus
from common.orgs.organisations import get_organisation
from common.orgs.templates import PLACEHOLDER, find_template, render
from common.platform import db
from common.platform.email import send_email
from common.platform.notices import once
from common.platform.observability import logger


def purchase_due(old: db.Item | None, new: db.Item) -> bool:
    """A lead from a company, as it arrived: version 1 (not a later change that came without its old image),
    so the e-mail says where the lead was placed on arrival."""
    return old is None and new.get("version") == 1 and bool(new.get("company_id"))


def return_due(old: db.Item | None, new: db.Item) -> bool:
    """A returned lead. Returned is final, so an image of it without its old one is the same return (the
    notice makes it one e-mail)."""
    returned = LeadStatus.RETURNED.value
    return new.get("status") == returned and (old or {}).get("status") != returned


def _placeholders(lead: db.Item, company: db.Item, comments: str, org_name: str) -> dict[str, str]:
    contact = lead.get("contact", {})
    return {
        "org.name": org_name,
        "company.name": company.get("name", ""),
        "company.contact_person": company.get("contact_person", ""),
        "lead.id": lead["lead_id"],
        "lead.external_id": lead.get("external_id", ""),
        "lead.contact_name": contact.get("contact_name", ""),
        "lead.received_at": lead.get("received_at", ""),
        "lead.returned_at": (lead.get("returned") or {}).get("at", ""),
        "comments": comments,
    }


def purchase_message(lead: db.Item, company: db.Item) -> tuple[str, str]:
    contact = lead.get("contact", {})
    subject = f"New lead from {company['name']}: {lead.get('external_id', lead['lead_id'])}"
    body = "\n".join(
        [
            f"{company['name']} sold you a lead.",
            "",
            f"Lead: {lead['lead_id']} (their reference {lead.get('external_id', '-')})",
            f"Contact: {contact.get('contact_name', '-')}",
            f"Received: {lead['received_at']}",
            f"Placed in: {lead['status']} (priority {lead['priority']})",
        ]
    )
    return subject, body


def return_message(lead: db.Item, company: db.Item, template: db.Item | None, org_name: str = "") -> tuple[str, str]:
    """The auto-response template, when the company has one, is the message; otherwise a standard one.
    Call-center comments go with it only when the company's setting allows it."""
    raw_comments = ((lead.get("returned") or {}).get("comments") or "").strip()
    comments = raw_comments if company.get("include_comments_with_returns") else ""
    values = _placeholders(lead, company, comments, org_name)
    if template:
        subject, body = render(template["subject"], values), render(template["body"], values)
        uses_comments = "comments" in PLACEHOLDER.findall(template["body"])
    else:
        subject = f"Lead returned: {lead.get('external_id', lead['lead_id'])}"
        body = "\n".join(
            [
                f"We are returning the lead you sent us with reference {lead.get('external_id', '-')}.",
                f"Contact: {values['lead.contact_name']}",
                f"Received: {values['lead.received_at']}, returned: {values['lead.returned_at']}",
            ]
        )
        uses_comments = False
    if comments and not uses_comments:
        body += f"\n\nComments from our call center:\n{comments}"
    return subject, body


def _send_once(
    lead: db.Item, notice: str, recipients: list[str], message: tuple[str, str], client: Any, ses: Any
) -> bool:
    subject, body = message
    sent = once(
        lead["pk"], notice, lambda: {"message_id": send_email(recipients, subject, body, client=ses)}, client=client
    )
    logger.info(f"{notice} notification", extra={"lead_id": lead["lead_id"], "sent": sent})
    return sent


def send_purchase_notification(lead: db.Item, *, client: Any = None, ses: Any = None) -> bool:
    company = get_company(lead["org_id"], lead["company_id"], client=client)
    recipients = list(company.get("purchase_notification_emails") or [])
    if not recipients:
        return False
    return _send_once(lead, "purchase", recipients, purchase_message(lead, company), client, ses)


def send_return_notification(lead: db.Item, *, client: Any = None, ses: Any = None) -> bool:
    company = get_company(lead["org_id"], lead["company_id"], client=client)
    recipients = list(company.get("return_notification_emails") or [])
    if not recipients:
        return False
    template_id = company.get("auto_response_template_id")
    template = find_template(lead["org_id"], template_id, client=client) if template_id else None
    org_name = get_organisation(lead["org_id"], client=client)["name"] if template else ""
    return _send_once(lead, "return", recipients, return_message(lead, company, template, org_name), client, ses)


def on_change(old: db.Item | None, new: db.Item | None) -> None:
    """The leads consumer's reaction: a lead bought or returned gets its notification, once."""
    if new is None or new.get("entity") != "lead":
        return
    if purchase_due(old, new):
        send_purchase_notification(new)
    if return_due(old, new):
        send_return_notification(new)
