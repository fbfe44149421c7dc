"""The From address of a partner's invitations.

A partner's own sender address is used only once its owner proved it (a link e-mailed to that address,
followed) and only in an organisation that allows its domain (portal settings), which must be one of the
deployment's sender domains (the SES identities the functions may send from). Otherwise an invitation
goes from the system's address with the inviter named in the display name ("<inviter> via <organisation>")
and replies going to the inviter's confirmed account address.

A new sender address is unconfirmed until its link is followed; the link is bound to that address, so it
confirms no other, and a later change of address makes it useless. An address outside the deployment's
sender domains could never be used, so it is refused (422) and no link goes out to it.

    sender confirmation request  PARTNER#<partnerId> / SENDER_CONFIRMATION#<id>  (the stream e-mails the link)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from email.utils import formataddr
from typing import Any

from pydantic import Field

from common.partners.partner_records import account_key, partner_pk
from common.platform import clock, db, ids
from common.platform import emailed_links as access_tokens
from common.platform.answers import Answer
from common.platform.email import send_email
from common.platform.errors import Conflict, DomainError, NotFound, invalid
from common.platform.notices import once
from common.platform.observability import logger
from common.platform.settings import Deployment, Portal, SenderDomains, get_settings
from common.platform.table_schema import TTL_ATTRIBUTE

ENTITY = "sender_confirmation"
PURPOSE: access_tokens.Purpose = "sender_confirmation"
# A confirmation link goes to a sender address at most this often: the address is anyone's, and each
# setting of it (or sending the same unconfirmed one again) e-mails it.
RESEND_INTERVAL = timedelta(minutes=1)
REQUEST_KEPT = timedelta(days=30)
# SES's answers for a From address it will not send from: the system's address is used instead.
REFUSED_BY_SES = frozenset({"MessageRejected", "MailFromDomainNotVerifiedException", "AccessDeniedException"})
# Display names are cut to this length, so a From header stays readable.
DISPLAY_NAME_LENGTH = 100


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].casefold()


def deployment_allows(address: str) -> bool:
    """Whether the address is under one of the deployment's sender domains (which SES lets us send from)."""
    return domain_of(address) in get_settings(SenderDomains).sender_domain_set


def allowed_domains(domains: Iterable[str]) -> list[str]:
    """An organisation's allowed sender domains, sorted; each must be one of the deployment's (else 422)."""
    wanted = sorted(set(domains))
    offered = get_settings(SenderDomains).sender_domain_set
    refused = [domain for domain in wanted if domain not in offered]
    if refused:
        offer = ", ".join(sorted(offered)) or "none"
        raise invalid(
            "body.allowed_sender_domains",
            f"not a sender domain of this deployment: {', '.join(refused)} (it offers: {offer})",
        )
    return wanted


# -- the account's sender address ------------------------------------------------------------------


def request_item(partner_id: str, email: str) -> db.Item:
    """A request to e-mail a confirmation link to the sender address `email` (the stream sends it)."""
    confirmation_id = ids.new_id()
    now = clock.now()
    return {
        "pk": partner_pk(partner_id),
        "sk": f"SENDER_CONFIRMATION#{confirmation_id}",
        "entity": ENTITY,
        "confirmation_id": confirmation_id,
        "partner_id": partner_id,
        "email": email,
        "requested_at": clock.iso(now),
        TTL_ATTRIBUTE: int((now + REQUEST_KEPT).timestamp()),
    }


def account_fields(account: db.Item, address: str | None) -> tuple[dict[str, Any], db.Item | None]:
    """What setting the sender address to `address` (None: clearing it) writes on the account (a None value
    removes the attribute), and the confirmation request to write with it, if a link must go out.

    The account's own confirmed address needs no link. Sending the address already set but unconfirmed
    asks for a new link. An address outside the deployment's sender domains is refused (422): nothing would
    ever be sent from it, and a link to it would only mail a stranger."""
    if address is None:
        return {"sender_email": None, "sender_email_confirmed": None}, None
    address = address.strip().casefold()
    if not deployment_allows(address):
        offer = ", ".join(sorted(get_settings(SenderDomains).sender_domain_set)) or "none"
        raise invalid("body.sender_email", f"is not under a sender domain of this deployment (it offers: {offer})")
    if address == account.get("sender_email") and account.get("sender_email_confirmed"):
        return {}, None
    if account.get("email_confirmed") and address == str(account.get("email", "")).casefold():
        return {"sender_email": address, "sender_email_confirmed": True}, None
    fields = {"sender_email": address, "sender_email_confirmed": False, "sender_confirmation_sent_at": clock.now_iso()}
    return fields, request_item(str(account["partner_id"]), address)


def resend_condition() -> tuple[str, dict[str, Any]]:
    """The account condition (and its values) that holds a new link back within RESEND_INTERVAL."""
    cutoff = clock.iso(clock.now() - RESEND_INTERVAL)
    condition = "(attribute_not_exists(sender_confirmation_sent_at) OR sender_confirmation_sent_at < :sender_cutoff)"
    return condition, {":sender_cutoff": cutoff}


def too_soon() -> Conflict:
    return Conflict("a confirmation link went to a sender address less than a minute ago: wait a minute")


class SenderConfirmed(Answer):
    """What following a sender confirmation link did: the address is confirmed (nothing about its account)."""

    sender_email: str
    sender_email_confirmed: bool = Field(description="true: invitations may go from it where allowed")


def confirm(token: str, *, client: Any = None) -> SenderConfirmed:
    """Follow a sender confirmation link: the account's sender address is confirmed, if it is still the
    address the link was sent to (in the same transaction that spends the token)."""
    record = access_tokens.read(token, PURPOSE, client=client)
    partner_id, email = str(record.get("data", {}).get("partner_id", "")), str(record["email"])
    account = db.get(account_key(partner_id), consistent=True, client=client)
    if account is None:
        raise NotFound("this link is not valid")
    if account.get("sender_email") != email:
        raise Conflict("this address is no longer the account's sender address: use the latest link")
    update = db.tx_update(
        account_key(partner_id),
        expression="SET sender_email_confirmed = :yes, updated_at = :at ADD version :one",
        condition="sender_email = :email",
        values={":yes": True, ":at": clock.now_iso(), ":email": email, ":one": 1},
    )

    def _refusal(failed: list[db.Item | None]) -> DomainError:
        if failed[0] is not None:
            return access_tokens.refusal(failed[0], PURPOSE, email=email)
        return Conflict("the account's sender address changed meanwhile: use the latest link")

    db.transact(
        [access_tokens.use(token, PURPOSE, email=email, by=partner_id), update], on_cancel=_refusal, client=client
    )
    logger.info("sender address confirmed", extra={"partner_id": partner_id})
    return SenderConfirmed(sender_email=email, sender_email_confirmed=True)


# -- invitations -----------------------------------------------------------------------------------


def invitation_sender(account: db.Item | None, settings: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    """What an invitation records about its From: the inviter's own address when it may be used in this
    organisation (else None: the system's), the inviter's name (the account's, else `name`) and the
    address replies go to (the account's, when confirmed)."""
    account = account or {}
    own = account.get("sender_email")
    usable = (
        bool(own)
        and account.get("sender_email_confirmed") is True
        and domain_of(str(own)) in settings.get("allowed_sender_domains", [])
        and deployment_allows(str(own))
    )
    return {
        "sender_email": own if usable else None,
        "inviter_name": account.get("name") or name,
        "reply_to": account.get("email") if account.get("email_confirmed") else None,
    }


def on_behalf(inviter_name: str | None, org_name: str | None) -> str:
    """The system's address with the inviter named: "<inviter> via <organisation>"."""
    display = " via ".join(part for part in (inviter_name, org_name) if part)
    if len(display) > DISPLAY_NAME_LENGTH:
        display = display[: DISPLAY_NAME_LENGTH - 3] + "..."
    system = get_settings(Deployment).email_from
    # formataddr quotes specials and writes non-ASCII names as RFC 2047 encoded words, as SES requires.
    return formataddr((display, system), charset="utf-8") if display else system


# -- the confirmation e-mail (from the stream) -----------------------------------------------------


def confirmation_message(token: str) -> tuple[str, str]:
    link = f"{get_settings(Portal).portal_url}/confirm-sender?token={token}"
    body = "\n".join(
        [
            "A partner programme account asked to send its invitations from this address.",
            "",
            f"To allow it, confirm here: {link}",
            f"The link works once and expires on {access_tokens.expires_on(PURPOSE)}. "
            "If you did not ask for this, ignore this e-mail: nothing is sent from your address without it.",
        ]
    )
    return "Confirm your sender address", body


def confirmation_wanted(request: db.Item, account: db.Item | None) -> bool:
    """Whether the request's address is still the account's unconfirmed sender address."""
    return (
        account is not None
        and account.get("sender_email") == request["email"]
        and not account.get("sender_email_confirmed")
    )


def send_confirmation(request: db.Item, *, client: Any = None, ses: Any = None) -> bool:
    account = db.get(account_key(request["partner_id"]), consistent=True, client=client)
    if not confirmation_wanted(request, account):
        logger.info(
            "sender confirmation not sent: nothing to confirm", extra={"confirmation_id": request["confirmation_id"]}
        )
        return False

    def _action() -> dict[str, Any]:
        token = access_tokens.issue(
            PURPOSE,
            email=request["email"],
            data={"partner_id": request["partner_id"], "confirmation_id": request["confirmation_id"]},
            client=client,
        )
        subject, body = confirmation_message(token)
        return {"message_id": send_email([request["email"]], subject, body, client=ses)}

    sent = once(request["pk"], f"{ENTITY}:{request['confirmation_id']}", _action, client=client)
    logger.info("sender confirmation e-mail", extra={"confirmation_id": request["confirmation_id"], "sent": sent})
    return sent
