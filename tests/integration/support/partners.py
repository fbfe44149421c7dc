"""Partners for integration tests that need one already in place (signed in, confirmed, in an organisation)
without going through the registration routes, which have tests of their own. The items are the ones the
partner modules write (common.partners.partner_records), put straight into the stack's table."""

from __future__ import annotations

import uuid
from typing import Any

from common.partners.partner_records import PartnerStatus, account_item, node_item, org_email_item
from common.platform import db

from tests.integration.support.actors import PASSWORD, Actor


def new_partner(
    stack: Any,
    org_id: str,
    *,
    brokers: list[str] | None = None,
    status: PartnerStatus = PartnerStatus.LIVE,
    upline: list[str] | None = None,
    terms_version: int | None = None,
    email_confirmed: bool = True,
) -> Actor:
    """A partner of `org_id` with a Cognito login; the actor's user_id is the partner id."""
    email = f"partner-{uuid.uuid4().hex[:10]}@it.example"
    partner_id = stack.create_user(email, PASSWORD)
    details: dict[str, Any] = {"first_name": "Pat", "last_name": "Partner", "email": email, "phone": "+1 555 0101"}
    account = account_item(partner_id=partner_id, email_confirmed=email_confirmed, **details)
    node = node_item(
        org_id=org_id,
        partner_id=partner_id,
        status=status,
        origin="added",
        actor="system",
        sponsor_id=upline[0] if upline else None,
        upline=upline,
        brokers=brokers,
        terms_version=terms_version,
        **details,
    )
    db.put({**account, "password_set": True})
    db.put(node)
    db.put(org_email_item(org_id, email, partner_id))
    return Actor(stack.url, stack.user_token(email, PASSWORD), partner_id)
