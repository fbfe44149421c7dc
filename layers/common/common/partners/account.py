"""A partner's own account, across organisations: details, display preferences, the sender address of
their invitations, and a change of e-mail address (which takes effect only once the new address is
confirmed through the link sent to it).

Notification choices are per organisation and live on the nodes (not here)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from common.orgs.access import Principal, org_key, require_user
from common.partners import sender_addresses
from common.partners.account_links import Purpose, confirmation_item
from common.partners.partner_caller import refuse_unconfirmed
from common.partners.partner_records import PartnerStatus, account_key, display_name, partner_pk
from common.platform import clock, db, listings
from common.platform.answers import Answer, Timestamp
from common.platform.errors import Conflict, DomainError, NotFound, invalid
from common.platform.validation import Email, Phone, ShortText

# A confirmation e-mail is sent again at most this often (the link is the same kind; the newest works).
RESEND_INTERVAL = timedelta(minutes=1)


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"dark_mode": True}]})
    dark_mode: bool


class AccountChange(BaseModel):
    """Only the fields sent change; sender_email or phone sent as null are cleared. A new sender_email is
    unconfirmed until the link e-mailed to it is followed (common.partners.sender_addresses); it must be an
    address under one of the deployment's sender domains."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"first_name": "Pat", "phone": "+15550100", "preferences": {"dark_mode": True}},
                {"sender_email": "pat@partners-own.example"},
            ]
        },
    )
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    phone: Phone | None = None
    preferences: Preferences | None = None
    sender_email: Email | None = None


class EmailChange(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"email": "pat.new@example.org"}]})
    email: Email


class Account(Answer):
    """A partner's own account, the same in every organisation."""

    partner_id: str
    first_name: str
    last_name: str
    name: str
    email: str
    phone: str | None = None
    email_confirmed: bool
    pending_email: str | None = Field(None, description="a new address waiting for confirmation")
    sender_email: str | None = Field(
        None, description="the From address the partner asked for their invitations (used once confirmed)"
    )
    sender_email_confirmed: bool = Field(
        False, description="whether the link e-mailed to sender_email was followed (false: pending)"
    )
    preferences: Preferences
    created_at: Timestamp
    updated_at: Timestamp
    version: int


class PartnerOrganisation(Answer):
    """An organisation the caller is a partner of, with their place in it."""

    org_id: str
    org_name: str | None
    status: PartnerStatus
    level: int | None = None
    terms_version: int | None = None
    notifications: list[str] = Field(default_factory=list)


class AccountWithOrganisations(Answer):
    account: Account
    organisations: list[PartnerOrganisation]


class EmailChangeStarted(Answer):
    email: str = Field(description="the address in use until the new one is confirmed")
    pending_email: str


class ConfirmationSent(Answer):
    email: str
    purpose: Purpose = Field(description="registration (the account's address) or change (a new address)")


def own_account(principal: Principal, *, confirming: bool = False, client: Any = None) -> db.Item:
    """The caller's partner account; 404 without one, 403 while the address is unconfirmed (except to
    confirm it)."""
    require_user(principal)
    account = db.get(account_key(principal.subject), consistent=True, client=client)
    if account is None:
        raise NotFound("you have no partner account")
    if not confirming:
        refuse_unconfirmed(account)
    return account


def account_with_organisations(principal: Principal, *, client: Any = None) -> AccountWithOrganisations:
    """The account and the organisations the caller is a partner of: one query of their partition, then
    the organisations' names. Readable while the address is unconfirmed (it shows `email_confirmed`, so
    the portal can offer to send the link again); nothing else is until it is confirmed."""
    require_user(principal)
    pages = listings.pages(
        key_condition="pk = :pk",
        values={":pk": partner_pk(principal.subject), ":account": "partner_account", ":node": "partner_node"},
        filter_expression="entity IN (:account, :node)",
        consistent=True,
        client=client,
    )
    items = [item for page in pages for item in page]
    account = next((i for i in items if i["entity"] == "partner_account"), None)
    if account is None:
        raise NotFound("you have no partner account")
    nodes = [i for i in items if i["entity"] == "partner_node" and not i.get("removed_at")]
    names = {o["org_id"]: o.get("name") for o in db.batch_get([org_key(n["org_id"]) for n in nodes], client=client)}
    return AccountWithOrganisations(
        account=Account.of(account),
        organisations=[PartnerOrganisation.of(n, org_name=names.get(n["org_id"])) for n in nodes],
    )


def update_account(principal: Principal, change: AccountChange, *, client: Any = None) -> Account:
    """Save the fields sent, conditioned on the account as read (a concurrent change answers 409). Names
    and phone reach the organisations' records through the stream. A sender address to confirm is saved
    with its confirmation request in one transaction, at most once a minute (409 sooner)."""
    account = own_account(principal, client=client)
    sent = change.model_fields_set
    for name in ("first_name", "last_name", "preferences"):
        if name in sent and getattr(change, name) is None:
            raise invalid(f"body.{name}", "cannot be null")
    if not sent:
        return Account.of(account)
    new: dict[str, Any] = {name: getattr(change, name) for name in sent - {"preferences", "sender_email"}}
    if change.preferences is not None:
        new["preferences"] = {**account.get("preferences", {}), **change.preferences.model_dump()}
    request = None
    if "sender_email" in sent:
        sender_fields, request = sender_addresses.account_fields(account, change.sender_email)
        new.update(sender_fields)
    first = str(new.get("first_name", account.get("first_name", "")))
    last = str(new.get("last_name", account.get("last_name", "")))
    new["name"] = display_name(first, last)
    new["updated_at"] = clock.now_iso()
    # Attribute names go through placeholders: some (name) are reserved words in expressions.
    sets = [f"#{name} = :{name}" for name, value in new.items() if value is not None]
    removes = [f"#{name}" for name, value in new.items() if value is None]
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "") + " ADD version :one"
    names = {f"#{name}": name for name in new}
    values = {**{f":{k}": v for k, v in new.items() if v is not None}, ":seen": account["version"], ":one": 1}
    changed = Conflict("your account changed meanwhile: reload and retry")
    if request is None:
        saved = db.update(
            account_key(principal.subject),
            expression=expression,
            condition="version = :seen",
            names=names,
            values=values,
            on_conflict=changed,
            client=client,
        )
        return Account.of(saved)
    held_back, cutoff = sender_addresses.resend_condition()
    update = db.tx_update(
        account_key(principal.subject),
        expression=expression,
        condition=f"version = :seen AND {held_back}",
        names=names,
        values={**values, **cutoff},
    )

    def _refusal(failed: list[db.Item | None]) -> DomainError:
        if failed[0] is not None and failed[0].get("version") == account["version"]:
            return sender_addresses.too_soon()
        return changed

    db.transact([update, db.tx_put(request, condition="attribute_not_exists(pk)")], on_cancel=_refusal, client=client)
    # The transaction answers no image: the account as read with this change applied.
    saved = {k: v for k, v in {**account, **new}.items() if v is not None}
    return Account.of(saved, version=account["version"] + 1)


def request_email_change(principal: Principal, change: EmailChange, *, client: Any = None) -> EmailChangeStarted:
    """Start a change of address: it waits as pending_email until the link sent to it is followed."""
    account = own_account(principal, client=client)
    email = change.email.lower()
    if email == str(account.get("email", "")).casefold():
        raise invalid("body.email", "is already your address")
    at = clock.now_iso()
    pending = db.tx_update(
        account_key(principal.subject),
        expression="SET pending_email = :email, confirmation_sent_at = :at, updated_at = :at",
        condition="version = :seen",
        values={":email": email, ":at": at, ":seen": account["version"]},
    )
    request = db.tx_put(confirmation_item(principal.subject, email, "change"), condition="attribute_not_exists(pk)")

    def _refusal(_: list[db.Item | None]) -> DomainError:
        return Conflict("your account changed meanwhile: retry")

    db.transact([pending, request], on_cancel=_refusal, client=client)
    return EmailChangeStarted(email=account["email"], pending_email=email)


def resend_confirmation(principal: Principal, *, client: Any = None) -> ConfirmationSent:
    """Send the confirmation link again: for the unconfirmed address, or else for a pending new one. At
    most once a minute."""
    account = own_account(principal, confirming=True, client=client)
    purpose: Purpose
    if not account.get("email_confirmed"):
        email, purpose = str(account["email"]), "registration"
    elif account.get("pending_email"):
        email, purpose = str(account["pending_email"]), "change"
    else:
        raise Conflict("your e-mail address is already confirmed")
    now = clock.now()
    stamp = db.tx_update(
        account_key(principal.subject),
        expression="SET confirmation_sent_at = :at",
        condition="attribute_exists(pk) "
        "AND (attribute_not_exists(confirmation_sent_at) OR confirmation_sent_at < :cutoff)",
        values={":at": clock.iso(now), ":cutoff": clock.iso(now - RESEND_INTERVAL)},
    )
    request = confirmation_item(principal.subject, email, purpose)

    def _refusal(_: list[db.Item | None]) -> DomainError:
        return Conflict("a confirmation e-mail was sent less than a minute ago: check your inbox, or wait a minute")

    db.transact([stamp, db.tx_put(request, condition="attribute_not_exists(pk)")], on_cancel=_refusal, client=client)
    return ConfirmationSent(email=email, purpose=purpose)
