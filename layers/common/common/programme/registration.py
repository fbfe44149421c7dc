"""Registration of partners from outside the organisation, and the e-mailed links that finish an account:
e-mail confirmation and activation.

Order of a registration (one account per e-mail address, also under races):
1. the Cognito user of the address (partner_identity.ensure_user; Cognito keeps one per address);
2. ONE transaction: the account (PARTNER#<sub> / ACCOUNT, only if absent), the node, the organisation's
   e-mail guard, the invitation token spent or the referrer checked, the terms version checked, the
   node's referral code, and for a referral the e-mail confirmation request;
3. only the transaction's winner sets the password (permanent) and, for an invitation, marks the address
   verified; then the account is marked password_set. A loser's password is never set.
An invitation's answer carries the partner id and organisation (the token proved the address; a loser gets
409). A referral registration answers the same whether or not the address already has a sign-in, so it
tells nobody which addresses do: a sign-in it finds (or loses a race to) is left untouched and its address
is told by e-mail instead (common.programme.registration_attempts). The portal then signs in with Cognito itself.

    email confirmation request  PARTNER#<partnerId> / EMAIL_CONFIRMATION#<id>  (the stream e-mails the link)
"""

from __future__ import annotations

import string
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from common.partners.identity import (
    NEW_USER_STATUS,
    ensure_user,
    has_password,
    set_password,
    user_details,
    verify_email,
)
from common.partners.partner_records import (
    PartnerStatus,
    account_item,
    account_key,
    node_item,
    node_key,
    org_email_item,
    partner_pk,
    settings_key,
    settings_of,
)
from common.platform import clock, db, emailed_links, ids
from common.platform.errors import Conflict, DomainError, NotFound
from common.platform.observability import logger
from common.platform.table_schema import TTL_ATTRIBUTE
from common.platform.validation import Email, Phone, ShortText
from common.programme import registration_attempts
from common.programme.invitations import (
    ReferralCode,
    invitation_by_token,
    invitation_key,
    new_referral_code,
    referral_put,
    referrer,
)
from common.programme.structure import node_write, placement, sponsor_check
from common.programme.terms import required_acceptance, terms_changed, terms_check

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
TermsVersion = Annotated[int | None, Field(None, ge=1, description="the current terms version, when one is published")]


class InvitationRegistration(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: AccessToken
    password: Password
    accept_terms_version: TermsVersion = None


class ReferralRegistration(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: ReferralCode
    first_name: ShortText
    last_name: ShortText
    email: Email
    phone: Phone
    password: Password
    accept_terms_version: TermsVersion = None


class TokenOnly(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: AccessToken


class Activation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: AccessToken
    password: Password


def _mark_password_set(partner_id: str, client: Any) -> None:
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


# -- registration ----------------------------------------------------------------------------------


class AddressTaken(Conflict):
    """The address has an account, or is a partner of the organisation already."""


def _registration_refusals() -> list[DomainError]:
    """What each of the registration transaction's own items failing means, in the order written."""
    return [
        AddressTaken("this e-mail address is already registered: sign in instead"),
        AddressTaken("this e-mail address is already a partner of this organisation"),
        AddressTaken("this e-mail address is already a partner of this organisation"),
        Conflict("referral code collision: retry"),
        terms_changed(),
        Conflict("the partner you would register under is no longer in the programme"),
    ]


def _register(
    *,
    org_id: str,
    partner_id: str,
    contact: dict[str, Any],
    origin: str,
    sponsor: db.Item | None,
    terms_version: int | None,
    email_confirmed: bool,
    extra: list[tuple[dict[str, Any], Any]],
    client: Any,
) -> None:
    """The registration's one transaction. `extra` pairs further items with what their failure means (an
    error, or a function of the item's current image)."""
    sponsor_id, upline = placement(sponsor)
    code = new_referral_code()
    account = {
        **account_item(partner_id=partner_id, email_confirmed=email_confirmed, **contact),
        "confirmation_sent_at": None if email_confirmed else clock.now_iso(),
    }
    node = node_item(
        org_id=org_id,
        partner_id=partner_id,
        status=PartnerStatus.LIVE,
        origin=origin,
        actor=f"partner:{partner_id}",
        sponsor_id=sponsor_id,
        upline=upline,
        terms_version=terms_version,
        referral_code=code,
        **contact,
    )
    actions = [
        db.tx_put(account, condition="attribute_not_exists(pk)"),
        node_write(node, None),
        db.tx_put(org_email_item(org_id, contact["email"], partner_id), condition="attribute_not_exists(pk)"),
        referral_put(code, org_id, partner_id),
        terms_check(org_id, terms_version),
        *([sponsor_check(sponsor)] if sponsor else []),
    ]
    refusals: list[Any] = _registration_refusals()[: len(actions)]
    for action, refusal in extra:
        actions.append(action)
        refusals.append(refusal)

    def _refusal(failed: list[db.Item | None]) -> DomainError:
        for image, refusal in zip(failed, refusals, strict=True):
            if image is not None:
                return refusal(image) if callable(refusal) else refusal
        return Conflict("the registration could not be completed: retry")

    db.transact(actions, on_cancel=_refusal, client=client)


def _sponsor_of(org_id: str, sponsor_id: str | None, client: Any) -> db.Item | None:
    if sponsor_id is None:
        return None
    sponsor = db.get(node_key(org_id, sponsor_id), consistent=True, client=client)
    if (
        sponsor is None
        or sponsor.get("removed_at")
        or sponsor["status"]
        in (
            PartnerStatus.ENDED.value,
            PartnerStatus.ARCHIVED.value,
        )
    ):
        raise Conflict("the partner who invited you is no longer in the programme")
    return sponsor


def register_by_invitation(request: InvitationRegistration, *, client: Any = None) -> dict[str, Any]:
    """Registration from an e-mailed invitation: the token proves the address, so it counts as confirmed
    and only a password is needed. A person who already has a sign-in (staff, say) keeps their password."""
    record, invitation = invitation_by_token(request.token, client=client)
    org_id = invitation["org_id"]
    settings = settings_of(db.get(settings_key(org_id), consistent=True, client=client))
    terms_version = required_acceptance(settings, request.accept_terms_version)
    sponsor = _sponsor_of(org_id, invitation.get("sponsor_id"), client)
    email = record["email"]
    contact = {
        "first_name": invitation["first_name"],
        "last_name": invitation["last_name"],
        "email": email,
        "phone": invitation.get("phone"),
    }
    partner_id, created = ensure_user(email, email_verified=True, **_identity(contact))
    existing_login = not created and has_password(partner_id)

    def _token_refusal(image: db.Item) -> DomainError:
        return emailed_links.refusal(image, "invitation", email=email)

    accepted = db.tx_update(
        invitation_key(org_id, invitation["invitation_id"]),
        expression="SET accepted_at = :at, partner_id = :partner",
        condition="attribute_not_exists(accepted_at)",
        values={":at": clock.now_iso(), ":partner": partner_id},
    )
    _register(
        org_id=org_id,
        partner_id=partner_id,
        contact=contact,
        origin="invitation",
        sponsor=sponsor,
        terms_version=terms_version,
        email_confirmed=True,
        extra=[
            (emailed_links.use(request.token, "invitation", email=email, by=partner_id), _token_refusal),
            (accepted, emailed_links.TokenUsed("this invitation was already used")),
        ],
        client=client,
    )
    if not existing_login:
        set_password(partner_id, request.password)
    verify_email(partner_id)
    # Either way the login has a password now: a later login e-mail must not offer to choose one.
    _mark_password_set(partner_id, client)
    logger.info("partner registered", extra={"partner_id": partner_id, "org_id": org_id, "origin": "invitation"})
    return {"partner_id": partner_id, "org_id": org_id, "email_confirmed": True, "existing_login": existing_login}


def register_by_referral(request: ReferralRegistration, *, client: Any = None) -> dict[str, Any]:
    """Registration through a participant's referral link: under them, with the address still to be
    confirmed (the confirmation e-mail is requested in the same transaction and goes out at once).

    The answer is the same for every address: an address that already has a sign-in (a password, a
    verified address or an account) keeps it untouched, and is told by e-mail instead."""
    sponsor, settings_item = referrer(request.code, client=client)
    org_id = sponsor["org_id"]
    terms_version = required_acceptance(settings_of(settings_item), request.accept_terms_version)
    email = request.email.lower()
    answer = {"org_id": org_id, "email": email}
    contact = {"first_name": request.first_name, "last_name": request.last_name, "email": email, "phone": request.phone}
    partner_id, created = ensure_user(email, email_verified=False, **_identity(contact))
    if not created:
        # Nothing proves this address: a sign-in that has a password or a verified address stays untouched.
        details = user_details(partner_id)
        if details["status"] != NEW_USER_STATUS or details["email_verified"]:
            registration_attempts.record(partner_id, email, org_id, client=client)
            return answer
    confirmation = confirmation_item(partner_id, email, "registration", org_id)
    try:
        _register(
            org_id=org_id,
            partner_id=partner_id,
            contact=contact,
            origin="referral",
            sponsor=sponsor,
            terms_version=terms_version,
            email_confirmed=False,
            extra=[(db.tx_put(confirmation, condition="attribute_not_exists(pk)"), Conflict("retry"))],
            client=client,
        )
    except AddressTaken:
        # An account already (or a racing registration won): its login is not this request's to set.
        registration_attempts.record(partner_id, email, org_id, client=client)
        return answer
    set_password(partner_id, request.password)
    _mark_password_set(partner_id, client)
    logger.info("partner registered", extra={"partner_id": partner_id, "org_id": org_id, "origin": "referral"})
    return answer


def _identity(contact: dict[str, Any]) -> dict[str, Any]:
    return {"first_name": contact["first_name"], "last_name": contact["last_name"], "phone": contact["phone"]}


# -- e-mailed links --------------------------------------------------------------------------------


def confirm_email(request: TokenOnly, *, client: Any = None) -> dict[str, Any]:
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
    return {"partner_id": partner_id, "email": email, "email_confirmed": True}


def activate(request: Activation, *, client: Any = None) -> dict[str, Any]:
    """Follow the login e-mail's activation link of a partner added by staff: set the first password. A
    login that has one already (it had it before the partner was added, or chose it since) keeps it: 409,
    sign in instead. The answer names the organisation only, not the login."""
    record = emailed_links.read(request.token, "activation", client=client)
    data = record.get("data", {})
    partner_id = data.get("partner_id", "")
    if has_password(partner_id):
        _mark_password_set(partner_id, client)
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
    _mark_password_set(partner_id, client)
    return {"org_id": data.get("org_id"), "activated": True}
