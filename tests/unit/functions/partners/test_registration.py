"""Registration, e-mail confirmation, activation and the partner's own account, in-process (the partners
API handler and moto). The stream is driven by hand through programme_mail.on_change."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from common.partners.partner_records import account_item, account_key, node_key, org_email_key, partner_pk
from common.platform import db, emailed_links, listings
from common.platform.settings import UserPool, get_settings
from common.programme import mail as programme_mail
from common.programme import registration_attempts
from common.programme.invitations import invitation_key

from tests.support import body_of
from tests.unit.conftest import FrozenClock
from tests.unit.functions.partners.test_programme import (
    INVITE,
    Org,
    api_call,
    cognito_user,
    new_org,
    node,
    publish_terms,
    put_partner,
    sent_mail,
    table_count,
    token_in,
)

# These tests create users or app clients in the user pool.
pytestmark = pytest.mark.cognito

PASSWORD = "Partner-Passw0rd!"


@pytest.fixture
def org() -> Org:
    org = new_org()
    put_partner(org.org_id, "p1")
    return org


def _pool() -> str:
    return get_settings(UserPool).user_pool_id


def cognito_user_of(email: str) -> dict[str, Any]:
    user = boto3.client("cognito-idp").admin_get_user(UserPoolId=_pool(), Username=email)
    return {"status": user["UserStatus"], **{a["Name"]: a["Value"] for a in user["UserAttributes"]}}


def signs_in(email: str, password: str) -> bool:
    cognito = boto3.client("cognito-idp")
    client_id = cognito.create_user_pool_client(
        UserPoolId=_pool(), ClientName="portal", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    try:
        cognito.initiate_auth(
            ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": email, "PASSWORD": password}
        )
    except cognito.exceptions.NotAuthorizedException:
        return False
    return True


def sub_of(email: str) -> str:
    return str(cognito_user_of(email)["sub"])


def mails_to(email: str) -> list[Any]:
    return [m for m in sent_mail() if m.destinations["ToAddresses"] == [email]]


def stream_partition(partner_id: str) -> None:
    """Feed the new items of a partner's partition to the consumer, as the stream would."""
    items, _ = listings.query(key_condition="pk = :pk", values={":pk": partner_pk(partner_id)}, consistent=True)
    for item in items:
        programme_mail.on_change(None, item)
        registration_attempts.on_change(None, item)


def invitation_token(org: Org, inviter: str = "p1", **fields: Any) -> str:
    created = api_call("POST", f"{org.path}/programme/invitations", user=inviter, body={**INVITE, **fields})
    assert created["statusCode"] == 201, created
    invitation = db.get(invitation_key(org.org_id, body_of(created)["invitation_id"]), consistent=True)
    assert invitation is not None
    programme_mail.on_change(None, invitation)
    return token_in(mails_to(invitation["email"])[-1])


# -- from an invitation ----------------------------------------------------------------------------


def test_an_invitation_prefills_the_form_and_needs_only_a_password(org: Org) -> None:
    token = invitation_token(org)
    preview = api_call("GET", f"/public/invitations/{token}")
    assert preview["statusCode"] == 200, preview
    assert body_of(preview) | {"expires_at": None} == {
        "org_id": org.org_id,
        "org_name": "Acme Referrals",
        "first_name": "Ivy",
        "last_name": "Invitee",
        "email": "ivy@invitee.example",
        "phone": "+15550123",
        "level_zero": False,
        "expires_at": None,
    }
    registered = api_call("POST", "/public/registrations/invitation", body={"token": token, "password": PASSWORD})
    assert registered["statusCode"] == 201, registered
    answer = body_of(registered)
    partner_id = answer["partner_id"]
    assert answer == {"partner_id": partner_id, "org_id": org.org_id, "email_confirmed": True, "existing_login": False}
    placed = node(org.org_id, partner_id)
    assert (placed["origin"], placed["sponsor_id"], placed["upline"], placed["status"]) == (
        "invitation",
        "p1",
        ["p1"],
        "LIVE",
    )
    account = db.get(account_key(partner_id), consistent=True)
    assert account and account["email_confirmed"] and account["password_set"]
    user = cognito_user_of("ivy@invitee.example")
    assert (user["status"], user["email_verified"]) == ("CONFIRMED", "true")
    assert signs_in("ivy@invitee.example", PASSWORD)
    # The partner is in the inviter's "your partners".
    listed = body_of(api_call("GET", f"{org.path}/programme/partners", user="p1"))["items"]
    assert [i["partner_id"] for i in listed] == [partner_id]


def test_an_invitation_token_works_once_and_not_after_expiry(org: Org, frozen_clock: FrozenClock) -> None:
    token = invitation_token(org)
    first = api_call("POST", "/public/registrations/invitation", body={"token": token, "password": PASSWORD})
    assert first["statusCode"] == 201
    again = api_call("POST", "/public/registrations/invitation", body={"token": token, "password": PASSWORD})
    assert (again["statusCode"], body_of(again)["type"]) == (409, "/problems/token-used")
    used = api_call("GET", f"/public/invitations/{token}")
    assert (used["statusCode"], body_of(used)["type"]) == (409, "/problems/token-used")

    late = invitation_token(org, email="late@invitee.example")
    frozen_clock.advance(days=15)
    expired = api_call("POST", "/public/registrations/invitation", body={"token": late, "password": PASSWORD})
    assert (expired["statusCode"], body_of(expired)["type"]) == (409, "/problems/token-expired")
    assert db.get(org_email_key(org.org_id, "late@invitee.example")) is None
    unknown = api_call("GET", f"/public/invitations/{'x' * 43}")
    assert unknown["statusCode"] == 404


def test_a_level_zero_invitation_registers_at_the_top(org: Org) -> None:
    inviter = org.staff("inviter", ["programme:invite_level_zero"])
    token = invitation_token(org, inviter, level_zero=True)
    registered = body_of(
        api_call("POST", "/public/registrations/invitation", body={"token": token, "password": PASSWORD})
    )
    placed = node(org.org_id, registered["partner_id"])
    assert (placed["level"], placed["upline"], placed.get("sponsor_id")) == (0, [], None)


def test_registering_requires_accepting_the_current_terms(org: Org) -> None:
    token = invitation_token(org)
    version = publish_terms(org)
    before = table_count()
    refused = api_call("POST", "/public/registrations/invitation", body={"token": token, "password": PASSWORD})
    assert refused["statusCode"] == 409
    assert [e["field"] for e in body_of(refused)["errors"]] == ["body.accept_terms_version"]
    assert table_count() == before
    body = {"token": token, "password": PASSWORD, "accept_terms_version": version}
    registered = body_of(api_call("POST", "/public/registrations/invitation", body=body))
    assert node(org.org_id, registered["partner_id"])["terms_version"] == version


def test_an_existing_sign_in_keeps_its_password(org: Org) -> None:
    cognito_user("ivy@invitee.example", password="Own-Passw0rd!!")
    token = invitation_token(org)
    registered = api_call("POST", "/public/registrations/invitation", body={"token": token, "password": PASSWORD})
    assert body_of(registered)["existing_login"] is True
    assert signs_in("ivy@invitee.example", "Own-Passw0rd!!") and not signs_in("ivy@invitee.example", PASSWORD)


def test_bad_registrations_name_each_field_and_write_nothing(org: Org) -> None:
    before = table_count()
    weak = api_call("POST", "/public/registrations/invitation", body={"token": "short", "password": "weak"})
    assert weak["statusCode"] == 422
    assert {e["field"] for e in body_of(weak)["errors"]} == {"body.token", "body.password"}
    referral = api_call(
        "POST",
        "/public/registrations/referral",
        body={"code": "!!", "first_name": "", "email": "nope", "phone": "1", "password": PASSWORD},
    )
    assert {e["field"] for e in body_of(referral)["errors"]} == {
        "body.code",
        "body.first_name",
        "body.last_name",
        "body.email",
        "body.phone",
    }
    assert table_count() == before


# -- through a referral link -----------------------------------------------------------------------


def _referral(org: Org, **fields: Any) -> dict[str, Any]:
    code = body_of(api_call("GET", f"{org.path}/programme/me", user="p1"))["referral_code"]
    body = {
        "code": code,
        "first_name": "Rex",
        "last_name": "Referred",
        "email": "rex@referred.example",
        "phone": "+15550199",
        "password": PASSWORD,
        **fields,
    }
    return api_call("POST", "/public/registrations/referral", body=body)


def test_a_referral_registration_waits_for_the_email_confirmation(org: Org) -> None:
    code = body_of(api_call("GET", f"{org.path}/programme/me", user="p1"))["referral_code"]
    landing = body_of(api_call("GET", f"/public/referrals/{code}"))
    assert (landing["org_name"], landing["referrer_name"]) == ("Acme Referrals", "Pat p1")
    registered = _referral(org)
    assert registered["statusCode"] == 202, registered
    assert body_of(registered) == {"org_id": org.org_id, "email": "rex@referred.example"}
    partner_id = sub_of("rex@referred.example")
    assert node(org.org_id, partner_id)["upline"] == ["p1"]
    assert signs_in("rex@referred.example", PASSWORD)
    blocked = api_call("GET", f"{org.path}/programme/me", user=partner_id)
    assert (blocked["statusCode"], body_of(blocked)["type"]) == (403, "/problems/email-not-confirmed")
    mine = api_call("GET", "/me/partner", user=partner_id)  # their own account only, to see what to confirm
    assert mine["statusCode"] == 200 and body_of(mine)["account"]["email_confirmed"] is False
    assert api_call("PATCH", "/me/partner", user=partner_id, body={"first_name": "R"})["statusCode"] == 403

    stream_partition(partner_id)
    confirmation = mails_to("rex@referred.example")
    assert len(confirmation) == 1 and "/confirm?token=" in confirmation[0].body
    confirmed = api_call("POST", "/public/email-confirmations", body={"token": token_in(confirmation[0])})
    assert confirmed["statusCode"] == 200, confirmed
    assert api_call("GET", f"{org.path}/programme/me", user=partner_id)["statusCode"] == 200
    assert cognito_user_of("rex@referred.example")["email_verified"] == "true"


def test_a_referral_registration_never_takes_over_an_existing_sign_in(org: Org) -> None:
    existing = cognito_user("rex@referred.example", password="Own-Passw0rd!!")
    told = _referral(org)
    new = _referral(org, email="new@referred.example")
    # The same answer whether or not the address had a sign-in: it tells nobody which addresses do.
    assert (told["statusCode"], new["statusCode"]) == (202, 202)
    assert body_of(told) == {"org_id": org.org_id, "email": "rex@referred.example"}
    assert body_of(new) == {"org_id": org.org_id, "email": "new@referred.example"}
    assert signs_in("rex@referred.example", "Own-Passw0rd!!") and not signs_in("rex@referred.example", PASSWORD)
    assert db.get(account_key(existing), consistent=True) is None and db.get(node_key(org.org_id, existing)) is None
    stream_partition(existing)
    [mail] = mails_to("rex@referred.example")
    assert "someone tried to register" in mail.body and "/confirm?token=" not in mail.body
    # Trying again the same day mails nothing more; a registered address is told, its password kept.
    assert _referral(org)["statusCode"] == 202
    again = _referral(org, email="new@referred.example", password="Other-Passw0rd!")
    assert (again["statusCode"], body_of(again)) == (202, body_of(new))
    stream_partition(existing)
    assert len(mails_to("rex@referred.example")) == 1
    assert signs_in("new@referred.example", PASSWORD) and not signs_in("new@referred.example", "Other-Passw0rd!")


def test_a_closed_referral_link_does_not_work(org: Org) -> None:
    code = body_of(api_call("GET", f"{org.path}/programme/me", user="p1"))["referral_code"]
    db.update(
        node_key(org.org_id, "p1"), expression="SET #s = :ended", names={"#s": "status"}, values={":ended": "ENDED"}
    )
    assert api_call("GET", f"/public/referrals/{code}")["statusCode"] == 404
    assert api_call("GET", "/public/referrals/abcdefabcdef")["statusCode"] == 404


def test_the_confirmation_can_be_sent_again_once_a_minute(org: Org, frozen_clock: FrozenClock) -> None:
    _referral(org)
    partner_id = sub_of("rex@referred.example")
    too_soon = api_call("POST", "/me/partner/confirmation", user=partner_id)
    assert too_soon["statusCode"] == 409
    frozen_clock.advance(minutes=2)
    again = api_call("POST", "/me/partner/confirmation", user=partner_id)
    assert again["statusCode"] == 202, again
    stream_partition(partner_id)
    tokens = [token_in(m) for m in mails_to("rex@referred.example")]
    assert len(tokens) == 2
    assert api_call("POST", "/public/email-confirmations", body={"token": tokens[-1]})["statusCode"] == 200
    assert api_call("POST", "/me/partner/confirmation", user=partner_id)["statusCode"] == 409  # nothing to confirm


# -- the partner's own account ---------------------------------------------------------------------


def test_a_partner_edits_their_account(org: Org, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENDER_DOMAINS", "partner.example")  # a sender address must be under one of them
    get_settings.cache_clear()
    changed = api_call(
        "PATCH",
        "/me/partner",
        user="p1",
        body={"first_name": "Patricia", "preferences": {"dark_mode": True}, "sender_email": "Me@Partner.example"},
    )
    assert changed["statusCode"] == 200, changed
    account = body_of(changed)
    assert (account["name"], account["preferences"], account["sender_email"]) == (
        "Patricia p1",
        {"dark_mode": True},
        "me@partner.example",
    )
    cleared = body_of(api_call("PATCH", "/me/partner", user="p1", body={"sender_email": None}))
    assert cleared["sender_email"] is None
    bad = api_call("PATCH", "/me/partner", user="p1", body={"first_name": None, "preferences": {"dark": 1}})
    assert bad["statusCode"] == 422
    mine = body_of(api_call("GET", "/me/partner", user="p1"))
    assert [o["org_id"] for o in mine["organisations"]] == [org.org_id]
    assert mine["organisations"][0]["org_name"] == "Acme Referrals"
    assert api_call("GET", "/me/partner", user="nobody")["statusCode"] == 404


def test_an_email_change_takes_effect_once_confirmed(org: Org) -> None:
    _referral(org)
    partner_id = sub_of("rex@referred.example")
    stream_partition(partner_id)
    api_call("POST", "/public/email-confirmations", body={"token": token_in(mails_to("rex@referred.example")[0])})
    started = api_call("POST", "/me/partner/email", user=partner_id, body={"email": "rex@new.example"})
    assert started["statusCode"] == 202, started
    account = db.get(account_key(partner_id), consistent=True)
    assert account and (account["email"], account["pending_email"]) == ("rex@referred.example", "rex@new.example")
    stream_partition(partner_id)
    token = token_in(mails_to("rex@new.example")[0])
    assert api_call("POST", "/public/email-confirmations", body={"token": token})["statusCode"] == 200
    account = db.get(account_key(partner_id), consistent=True)
    assert account and account["email"] == "rex@new.example" and "pending_email" not in account
    assert signs_in("rex@new.example", PASSWORD)
    used = api_call("POST", "/public/email-confirmations", body={"token": token})
    assert body_of(used)["type"] == "/problems/token-used"


def test_an_email_change_to_an_address_with_a_sign_in_is_refused_on_confirmation(org: Org) -> None:
    cognito_user("taken@else.example")
    partner_id = cognito_user("p2@partner.example")
    db.put(
        account_item(
            partner_id=partner_id,
            first_name="P",
            last_name="Two",
            email="p2@partner.example",
            phone=None,
            email_confirmed=True,
        )
    )
    assert (
        api_call("POST", "/me/partner/email", user=partner_id, body={"email": "taken@else.example"})["statusCode"]
        == 202
    )
    stream_partition(partner_id)
    refused = api_call(
        "POST", "/public/email-confirmations", body={"token": token_in(mails_to("taken@else.example")[0])}
    )
    assert refused["statusCode"] == 409
    account = db.get(account_key(partner_id), consistent=True)
    assert account and account["email"] == "p2@partner.example"


# -- activation of partners added by staff ---------------------------------------------------------


def test_an_activation_link_sets_the_first_password_once(org: Org) -> None:
    cognito = boto3.client("cognito-idp")
    user = cognito.admin_create_user(
        UserPoolId=_pool(),
        Username="added@partner.example",
        UserAttributes=[{"Name": "email", "Value": "added@partner.example"}],
        MessageAction="SUPPRESS",
    )["User"]
    partner_id = next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub")
    put_partner(org.org_id, partner_id, email_confirmed=False)
    token = emailed_links.issue(
        "activation", email="added@partner.example", data={"partner_id": partner_id, "org_id": org.org_id}
    )
    activated = api_call("POST", "/public/activations", body={"token": token, "password": PASSWORD})
    assert activated["statusCode"] == 200, activated
    assert body_of(activated) == {"org_id": org.org_id, "activated": True}  # not the login's id
    account = db.get(account_key(partner_id), consistent=True)
    assert account and account["email_confirmed"] and account["password_set"]
    assert signs_in("added@partner.example", PASSWORD)
    again = api_call("POST", "/public/activations", body={"token": token, "password": "Other-Passw0rd!"})
    assert body_of(again)["type"] == "/problems/token-used"
    assert not signs_in("added@partner.example", "Other-Passw0rd!")


def test_an_activation_link_never_replaces_a_password_the_login_has(org: Org) -> None:
    # Say a staff member of another organisation, added as a partner before they had an account here.
    partner_id = cognito_user("known@partner.example", password="Own-Passw0rd!!")
    put_partner(org.org_id, partner_id, email_confirmed=False)
    token = emailed_links.issue(
        "activation", email="known@partner.example", data={"partner_id": partner_id, "org_id": org.org_id}
    )
    refused = api_call("POST", "/public/activations", body={"token": token, "password": PASSWORD})
    assert (refused["statusCode"], body_of(refused)["type"]) == (409, "/problems/conflict")
    assert partner_id not in str(body_of(refused))
    assert signs_in("known@partner.example", "Own-Passw0rd!!") and not signs_in("known@partner.example", PASSWORD)
    account = db.get(account_key(partner_id), consistent=True)
    assert account and account["password_set"]  # its next login e-mail says to sign in
