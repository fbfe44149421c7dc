"""Registrations of an address that already has a sign-in. A referral registration answers the same
whatever the address, so it tells nobody which addresses have one, and it leaves an existing sign-in
untouched; the address itself is told by e-mail, from the stream, at most once a day per organisation
however often it is tried.

    registration attempt  PARTNER#<userSub> / REGISTRATION_ATTEMPT#<org>#<day>   (TTL 2 days)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from common.orgs.access import org_key
from common.partners.partner_records import partner_pk
from common.platform import clock, db
from common.platform.email import send_email
from common.platform.errors import Conflict
from common.platform.notices import once
from common.platform.observability import logger
from common.platform.settings import Portal, get_settings
from common.platform.table_schema import TTL_ATTRIBUTE

KEPT = timedelta(days=2)


def attempt_item(user_id: str, email: str, org_id: str) -> db.Item:
    now = clock.now()
    return {
        "pk": partner_pk(user_id),
        "sk": f"REGISTRATION_ATTEMPT#{org_id}#{clock.iso(now)[:10]}",
        "entity": "registration_attempt",
        "user_id": user_id,
        "email": email,
        "org_id": org_id,
        "requested_at": clock.iso(now),
        TTL_ATTRIBUTE: int((now + KEPT).timestamp()),
    }


class _RecordedToday(Conflict):
    pass


def record(user_id: str, email: str, org_id: str, *, client: Any = None) -> None:
    """Record the attempt for the stream to e-mail; one recorded today for this organisation is enough."""
    try:
        db.put(
            attempt_item(user_id, email, org_id),
            condition="attribute_not_exists(pk)",
            on_conflict=_RecordedToday("already recorded today"),
            client=client,
        )
    except _RecordedToday:
        logger.info("registration attempt already told today", extra={"user_id": user_id, "org_id": org_id})
        return
    logger.info("registration attempt of an existing sign-in", extra={"user_id": user_id, "org_id": org_id})


# -- the e-mail (partners consumer) ------------------------------------------------------------------


def on_change(old: db.Item | None, new: db.Item | None) -> None:
    if new is not None and old is None and new.get("entity") == "registration_attempt":
        send_attempt(new)


def attempt_message(org_name: str) -> tuple[str, str]:
    portal = get_settings(Portal).portal_url
    body = "\n".join(
        [
            "Hello,",
            "",
            f"someone tried to register for the partner programme of {org_name} with this e-mail address. "
            "It already has an account with us, so nothing was changed: your sign-in and password stay as "
            "they are.",
            "",
            f"If it was you, sign in to the partner portal with your existing account: {portal}",
            f"If you are not a partner of {org_name} yet, ask the person who shared the link to invite you "
            "by e-mail: the invitation adds you with the account you have.",
            "",
            "If it was not you, ignore this e-mail.",
        ]
    )
    return "Someone tried to register with your e-mail address", body


def send_attempt(attempt: db.Item, *, client: Any = None, ses: Any = None) -> bool:
    """E-mail the address of one recorded attempt, once (notices). Returns whether it was sent now."""
    org = db.get(org_key(attempt["org_id"]), client=client) or {}

    def _send() -> dict[str, Any]:
        subject, body = attempt_message(str(org.get("name", "")))
        return {"message_id": send_email([attempt["email"]], subject, body, client=ses)}

    sent = once(attempt["pk"], attempt["sk"], _send, client=client)
    logger.info("registration attempt e-mail", extra={"user_id": attempt["user_id"], "sent": sent})
    return sent
