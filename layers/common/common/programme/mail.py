"""The programme's e-mails, from the table's stream: invitations, e-mail confirmation links and sender
address confirmation links (common.partners.sender_addresses).

Each is sent once per item (notices), and the single-use token it carries is made here, as it is sent, so
the token exists only in the e-mail. An invitation goes out from the inviter's own sender address when the
invitation recorded one (confirmed, and allowed by the organisation); otherwise, or when SES refuses it,
from the system's address naming the inviter, with replies going to the inviter.

A record may arrive late or again: the item as it is now decides. An invitation accepted or expired by
then is not sent, nor a confirmation link for an address that is no longer the one to confirm (confirmed
already, or replaced by a newer change): such a link could only be refused.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from common.orgs.access import org_key
from common.partners import sender_addresses
from common.partners.partner_records import account_key
from common.platform import db
from common.platform import emailed_links as access_tokens
from common.platform.email import send_email
from common.platform.notices import once
from common.platform.observability import logger
from common.platform.settings import Portal, get_settings
from common.programme.invitations import invitation_key, invitation_state


def on_change(old: db.Item | None, new: db.Item | None) -> None:
    if new is None or old is not None:
        return  # only new items send (or a change that came without its old image: the item decides)
    if new.get("entity") == "invitation":
        send_invitation(new)
    elif new.get("entity") == "email_confirmation":
        send_confirmation(new)
    elif new.get("entity") == sender_addresses.ENTITY:
        sender_addresses.send_confirmation(new)


def _send(invitation: db.Item, subject: str, body: str, ses: Any, client: Any) -> dict[str, Any]:
    """Send from the inviter's own address when the invitation recorded one and the deployment still sends
    from its domain; else (or when SES refuses it) from the system's address naming the inviter."""
    to = [invitation["email"]]
    own = invitation.get("sender_email")
    if own and sender_addresses.deployment_allows(own):
        try:
            return {"message_id": send_email(to, subject, body, sender=own, client=ses), "from": "inviter"}
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in sender_addresses.REFUSED_BY_SES:
                raise
            logger.warning("sender address refused by SES; the system address is used")
    org = db.get(org_key(invitation["org_id"]), client=client) or {}
    sender = sender_addresses.on_behalf(invitation.get("inviter_name"), org.get("name"))
    reply_to = [invitation["reply_to"]] if invitation.get("reply_to") else None
    return {"message_id": send_email(to, subject, body, sender=sender, reply_to=reply_to, client=ses), "from": "system"}


def invitation_message(invitation: db.Item, token: str) -> tuple[str, str]:
    link = f"{get_settings(Portal).portal_url}/register?token={token}"
    body = "\n".join(
        [
            invitation["body"],
            "",
            f"Register here: {link}",
            f"The link is for {invitation['email']} only, works once, and expires on "
            f"{access_tokens.expires_on('invitation')}.",
        ]
    )
    return invitation["subject"], body


def send_invitation(invitation: db.Item, *, client: Any = None, ses: Any = None) -> bool:
    current = db.get(invitation_key(invitation["org_id"], invitation["invitation_id"]), consistent=True, client=client)
    if current is None or invitation_state(current) != "sent":
        logger.info(
            "invitation e-mail not sent: accepted or expired", extra={"invitation_id": invitation["invitation_id"]}
        )
        return False

    def _action() -> dict[str, Any]:
        token = access_tokens.issue(
            "invitation",
            email=invitation["email"],
            data={"org_id": invitation["org_id"], "invitation_id": invitation["invitation_id"]},
            client=client,
        )
        subject, body = invitation_message(invitation, token)
        return _send(invitation, subject, body, ses, client)

    sent = once(invitation["pk"], "invitation", _action, client=client)
    logger.info("invitation e-mail", extra={"invitation_id": invitation["invitation_id"], "sent": sent})
    return sent


def confirmation_message(request: db.Item, token: str) -> tuple[str, str]:
    link = f"{get_settings(Portal).portal_url}/confirm?token={token}"
    lead = (
        "Please confirm the new e-mail address of your partner account."
        if request.get("purpose") == "change"
        else "Welcome! Please confirm your e-mail address to start using your partner account."
    )
    body = "\n".join(
        [
            lead,
            "",
            f"Confirm here: {link}",
            f"The link works once and expires on {access_tokens.expires_on('email_confirmation')}. "
            "If you did not ask for this, ignore this e-mail.",
        ]
    )
    return "Confirm your e-mail address", body


def confirmation_wanted(request: db.Item, account: db.Item | None) -> bool:
    """Whether the request's address still waits for confirmation on the account: a change's pending
    address, or an unconfirmed registration address (what confirming the link will check)."""
    if account is None:
        return False
    email = str(request["email"]).casefold()
    if request.get("purpose") == "change":
        return str(account.get("pending_email") or "").casefold() == email
    return not account.get("email_confirmed") and str(account.get("email") or "").casefold() == email


def send_confirmation(request: db.Item, *, client: Any = None, ses: Any = None) -> bool:
    account = db.get(account_key(request["partner_id"]), consistent=True, client=client)
    if not confirmation_wanted(request, account):
        logger.info(
            "confirmation e-mail not sent: nothing to confirm", extra={"confirmation_id": request["confirmation_id"]}
        )
        return False

    def _action() -> dict[str, Any]:
        token = access_tokens.issue(
            "email_confirmation",
            email=request["email"],
            data={
                "partner_id": request["partner_id"],
                "confirmation_id": request["confirmation_id"],
                "purpose": request["purpose"],
            },
            client=client,
        )
        subject, body = confirmation_message(request, token)
        return {"message_id": send_email([request["email"]], subject, body, client=ses)}

    sent = once(request["pk"], f"email_confirmation:{request['confirmation_id']}", _action, client=client)
    logger.info("confirmation e-mail", extra={"confirmation_id": request["confirmation_id"], "sent": sent})
    return sent
