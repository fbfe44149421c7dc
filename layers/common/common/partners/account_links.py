"""The e-mailed links that finish a partner account: confirming an e-mail address (a registration's, or a
new address the partner changed to) and activating an account staff added (its first password). Also the
password policy and the link token's shape, which registration shares.

    email confirmation request  PARTNER#<partnerId> / EMAIL_CONFIRMATION#<id>  (the stream e-mails the link)
"""

from __future__ import annotations

import string
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from common.partners.identity import has_password, set_password, verify_email
from common.partners.partner_records import account_key, partner_pk
from common.platform import clock, db, emailed_links, ids
from common.platform.answers import Answer
from common.platform.errors import Conflict, DomainError, NotFound
from common.platform.table_schema import TTL_ATTRIBUTE

CONFIRMATION_KEPT = timedelta(days=30)
PASSWORD_SYMBOLS = set("^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ")


def _password_policy(value: str) -> str:
    """The user pool's policy (infra/auth.py), checked before anything is written: a password Cognito
    would refuse must not leave a registered account without one."""
    missing = [
        label
        for label, ok in (
            ("at least 12 characters", len(value) >= 12),
            ("a lower-case letter", any(c in string.ascii_lowercase for c in value)),
            ("an upper-case letter", any(c in string.ascii_uppercase for c in value)),
            ("a digit", any(c in string.digits for c in value)),
            ("a symbol", any(c in PASSWORD_SYMBOLS for c in value)),
        )
        if not ok
    ]
    if missing:
        raise ValueError("needs " + ", ".join(missing))
    if value != value.strip():
        raise ValueError("must not start or end with a space")
    return value


Password = Annotated[str, StringConstraints(max_length=256), AfterValidator(_password_policy)]
AccessToken = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{20,128}$")]


# What an e-mailed link carries (the token is the link's `token` query parameter).
EXAMPLE_TOKEN = "q8Xk2vN4bT7mR1sW9yZ3cF6hJ0dL5pQe"  # noqa: S105 - an example


class TokenOnly(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"token": EXAMPLE_TOKEN}]})
    token: AccessToken


class Activation(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"token": EXAMPLE_TOKEN, "password": "Correct-Horse-42"}]},
    )
    token: AccessToken
    password: Password


class Confirmed(Answer):
    partner_id: str
    email: str
    email_confirmed: bool


class Activated(Answer):
    org_id: str | None = Field(None, description="the organisation whose login e-mail carried the link")
    activated: bool


def mark_password_set(partner_id: str, client: Any) -> None:
    """The login has a password: its later login e-mails never offer to choose one."""
    db.update(
        account_key(partner_id),
        expression="SET password_set = :yes",
        condition="attribute_exists(pk)",
        values={":yes": True},
        client=client,
    )


# -- e-mail confirmation requests ------------------------------------------------------------------

Purpose = Literal["registration", "change"]


def confirmation_item(partner_id: str, email: str, purpose: Purpose, org_id: str | None = None) -> db.Item:
    """A request to e-mail a confirmation link to `email` (the stream consumer sends it at once)."""
    confirmation_id = ids.new_id()
    now = clock.now()
    return {
        "pk": partner_pk(partner_id),
        "sk": f"EMAIL_CONFIRMATION#{confirmation_id}",
        "entity": "email_confirmation",
        "confirmation_id": confirmation_id,
        "partner_id": partner_id,
        "email": email,
        "purpose": purpose,
        "org_id": org_id,
        "requested_at": clock.iso(now),
        TTL_ATTRIBUTE: int((now + CONFIRMATION_KEPT).timestamp()),
    }


# -- following the links ---------------------------------------------------------------------------


def confirm_email(request: TokenOnly, *, client: Any = None) -> Confirmed:
    """Follow a confirmation link: the registration address is confirmed, or a changed address replaces
    the old one (in Cognito first: the new address must be free there)."""
    record = emailed_links.read(request.token, "email_confirmation", client=client)
    data = record.get("data", {})
    partner_id, email = data.get("partner_id", ""), record["email"]
    account = db.get(account_key(partner_id), consistent=True, client=client)
    if account is None:
        raise NotFound("this link is not valid")
    at = clock.now_iso()
    if data.get("purpose") == "change":
        if str(account.get("pending_email") or "").casefold() != email:
            raise Conflict("this address is no longer the one waiting for confirmation: use the latest link")
        verify_email(partner_id, email)
        update = db.tx_update(
            account_key(partner_id),
            expression="SET email = :email, email_confirmed = :yes, updated_at = :at REMOVE pending_email "
            "ADD version :one",
            condition="pending_email = :pending",
            values={":email": email, ":yes": True, ":at": at, ":pending": account["pending_email"], ":one": 1},
        )
    else:
        if str(account.get("email") or "").casefold() != email:
            raise Conflict("the account's address changed since this link was sent: use the latest link")
        update = db.tx_update(
            account_key(partner_id),
            expression="SET email_confirmed = :yes, updated_at = :at ADD version :one",
            condition="email = :email",
            values={":email": account["email"], ":yes": True, ":at": at, ":one": 1},
        )

    def _refusal(failed: list[db.Item | None]) -> DomainError:
        if failed[0] is not None:
            return emailed_links.refusal(failed[0], "email_confirmation", email=email)
        return Conflict("the account's address changed meanwhile: use the latest link")

    db.transact(
        [emailed_links.use(request.token, "email_confirmation", email=email, by=partner_id), update],
        on_cancel=_refusal,
        client=client,
    )
    if data.get("purpose") != "change":
        verify_email(partner_id)
    return Confirmed(partner_id=partner_id, email=email, email_confirmed=True)


def activate(request: Activation, *, client: Any = None) -> Activated:
    """Follow the login e-mail's activation link of a partner added by staff: set the first password. A
    login that has one already (it had it before the partner was added, or chose it since) keeps it: 409,
    sign in instead. The answer names the organisation only, not the login."""
    record = emailed_links.read(request.token, "activation", client=client)
    data = record.get("data", {})
    partner_id = data.get("partner_id", "")
    if has_password(partner_id):
        mark_password_set(partner_id, client)
        raise Conflict("this account already has a password: sign in instead")
    update = db.tx_update(
        account_key(partner_id),
        expression="SET email_confirmed = :yes, updated_at = :at ADD version :one",
        condition="attribute_exists(pk) AND attribute_not_exists(password_set)",
        values={":yes": True, ":at": clock.now_iso(), ":one": 1},
    )

    def _refusal(failed: list[db.Item | None]) -> DomainError:
        if failed[0] is not None:
            return emailed_links.refusal(failed[0], "activation")
        if not failed[1]:
            return NotFound("this link is not valid")
        return Conflict("this account already has a password: sign in instead")

    db.transact(
        [emailed_links.use(request.token, "activation", by=partner_id), update], on_cancel=_refusal, client=client
    )
    set_password(partner_id, request.password)
    verify_email(partner_id)
    mark_password_set(partner_id, client)
    return Activated(org_id=data.get("org_id"), activated=True)
