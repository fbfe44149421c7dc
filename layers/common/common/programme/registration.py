"""Registration of partners from outside the organisation (the e-mailed links that finish an account, e-mail
confirmation and activation, are common.partners.account_links).

Order of a registration (one account per e-mail address, also under races):
1. the Cognito user of the address (identity.ensure_user; Cognito keeps one per address);
2. ONE transaction: the account (PARTNER#<sub> / ACCOUNT, only if absent), the node, the organisation's
   e-mail guard, the invitation token spent or the referrer checked, the terms version checked, the
   node's referral code, and for a referral the e-mail confirmation request;
3. only the transaction's winner sets the password (permanent) and, for an invitation, marks the address
   verified; then the account is marked password_set. A loser's password is never set.
An invitation's answer carries the partner id and organisation (the token proved the address; a loser gets
409). A referral registration answers the same whether or not the address already has a sign-in, so it
tells nobody which addresses do: a sign-in it finds (or loses a race to) is left untouched and its address
is told by e-mail instead (common.programme.registration_attempts). The portal then signs in with Cognito itself.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from common.partners.account_links import (
    EXAMPLE_TOKEN,
    AccessToken,
    Password,
    confirmation_item,
    mark_password_set,
)
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
    node_item,
    node_key,
    org_email_item,
    partner_actor,
    settings_key,
    settings_of,
)
from common.platform import clock, db, emailed_links
from common.platform.answers import Answer
from common.platform.errors import Conflict, DomainError
from common.platform.observability import logger
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

TermsVersion = Annotated[int | None, Field(None, ge=1, description="the current terms version, when one is published")]


class InvitationRegistration(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"token": EXAMPLE_TOKEN, "password": "Correct-Horse-42", "accept_terms_version": 1}]
        },
    )
    token: AccessToken
    password: Password
    accept_terms_version: TermsVersion = None


class ReferralRegistration(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "code": "k7m2p9x4w3qa",
                    "first_name": "Robin",
                    "last_name": "Referred",
                    "email": "robin@example.org",
                    "phone": "+15550101",
                    "password": "Correct-Horse-42",
                    "accept_terms_version": 1,
                }
            ]
        },
    )
    code: ReferralCode
    first_name: ShortText
    last_name: ShortText
    email: Email
    phone: Phone
    password: Password
    accept_terms_version: TermsVersion = None


class Registered(Answer):
    partner_id: str
    org_id: str
    email_confirmed: bool = Field(description="true: the invitation proved the address")
    existing_login: bool = Field(
        description="the address already had a sign-in: its password was kept (sign in with it, not the one sent)"
    )


class RegistrationPending(Answer):
    org_id: str
    email: str = Field(description="the address registered: the next step is in the e-mail sent to it")


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
        actor=partner_actor(partner_id),
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


def register_by_invitation(request: InvitationRegistration, *, client: Any = None) -> Registered:
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
    mark_password_set(partner_id, client)
    logger.info("partner registered", extra={"partner_id": partner_id, "org_id": org_id, "origin": "invitation"})
    return Registered(partner_id=partner_id, org_id=org_id, email_confirmed=True, existing_login=existing_login)


def register_by_referral(request: ReferralRegistration, *, client: Any = None) -> RegistrationPending:
    """Registration through a participant's referral link: under them, with the address still to be
    confirmed (the confirmation e-mail is requested in the same transaction and goes out at once).

    The answer is the same for every address: an address that already has a sign-in (a password, a
    verified address or an account) keeps it untouched, and is told by e-mail instead."""
    sponsor, settings_item = referrer(request.code, client=client)
    org_id = sponsor["org_id"]
    terms_version = required_acceptance(settings_of(settings_item), request.accept_terms_version)
    email = request.email.lower()
    answer = RegistrationPending(org_id=org_id, email=email)
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
    mark_password_set(partner_id, client)
    logger.info("partner registered", extra={"partner_id": partner_id, "org_id": org_id, "origin": "referral"})
    return answer


def _identity(contact: dict[str, Any]) -> dict[str, Any]:
    return {"first_name": contact["first_name"], "last_name": contact["last_name"], "phone": contact["phone"]}
