"""Registration over HTTP against the local stack, as the portal does it: from an invitation (a token that
works once, for its address only, until it expires), through a referral link (signed in, but every action
refused until the e-mailed confirmation), racing registrations, and the partner's e-mail change."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
import requests

from local.stack import LocalStack
from tests.integration.support.actors import PASSWORD, Actor, user_id_of
from tests.integration.test_programme import (
    INVITE,
    Programme,
    invitee_email,
    mails_to,
    new_programme,
    partner_ids,
    token_in,
)

NEW_PASSWORD = "Registered-Passw0rd!"


@pytest.fixture
def org(stack: LocalStack) -> Programme:
    return new_programme(stack)


def public(stack: LocalStack, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(method, stack.url + path, json=body, timeout=30)


def signs_in(stack: LocalStack, email: str, password: str) -> str | None:
    try:
        return stack.user_token(email, password)
    except Exception:
        return None


def invite(org: Programme, inviter: Actor, email: str, **fields: Any) -> str:
    created = inviter.post(f"{org.path}/programme/invitations", {**INVITE, "email": email, **fields})
    assert created.status_code == 201, created.text
    [mail] = mails_to(org.stack, email)
    return token_in(mail)


def referral_body(code: str, email: str, **fields: Any) -> dict[str, Any]:
    return {
        "code": code,
        "first_name": "Rex",
        "last_name": "Referred",
        "email": email,
        "phone": "+1 555 0199",
        "password": NEW_PASSWORD,
        **fields,
    }


# -- from an invitation ----------------------------------------------------------------------------


def test_an_invitation_registers_once_for_its_address_and_the_partner_appears_under_the_inviter(
    org: Programme, stack: LocalStack
) -> None:
    inviter = org.partner()
    email = invitee_email()
    token = invite(org, inviter, email)
    preview = public(stack, "GET", f"/public/invitations/{token}")
    assert preview.status_code == 200, preview.text
    assert (preview.json()["email"], preview.json()["first_name"]) == (email, "Ivy")

    registered = public(stack, "POST", "/public/registrations/invitation", {"token": token, "password": NEW_PASSWORD})
    assert registered.status_code == 201, registered.text
    partner_id = registered.json()["partner_id"]
    assert registered.json()["email_confirmed"] is True
    # The portal signs in with Cognito itself: the invited address and the password just set.
    token_of_partner = signs_in(stack, email, NEW_PASSWORD)
    assert token_of_partner
    partner = Actor(stack.url, token_of_partner, partner_id)
    me = partner.get(f"{org.path}/programme/me")
    assert me.status_code == 200, me.text
    assert me.json()["sponsor"]["partner_id"] == inviter.user_id
    assert partner.get("/me/partner").json()["account"]["email"] == email
    assert partner_ids(inviter.get(f"{org.path}/programme/partners")) == {partner_id}

    again = public(stack, "POST", "/public/registrations/invitation", {"token": token, "password": "Other-Passw0rd!!"})
    assert (again.status_code, again.json()["type"]) == (409, "/problems/token-used")
    assert signs_in(stack, email, "Other-Passw0rd!!") is None
    assert public(stack, "GET", f"/public/invitations/{token}").json()["type"] == "/problems/token-used"
    assert public(stack, "GET", f"/public/invitations/{'A' * 43}").status_code == 404


def test_an_invitation_token_does_not_work_after_expiry(org: Programme, stack: LocalStack) -> None:
    email = invitee_email()
    token = invite(org, org.partner(), email)
    original = stack.clock_offset
    try:
        stack.advance_clock(15 * 24 * 3600)
        expired = public(stack, "POST", "/public/registrations/invitation", {"token": token, "password": NEW_PASSWORD})
        assert (expired.status_code, expired.json()["type"]) == (409, "/problems/token-expired")
        assert public(stack, "GET", f"/public/invitations/{token}").json()["type"] == "/problems/token-expired"
    finally:
        stack.set_clock_offset(original)
    assert signs_in(stack, email, NEW_PASSWORD) is None


def test_racing_uses_of_one_invitation_have_one_winner(org: Programme, stack: LocalStack) -> None:
    email = invitee_email()
    token = invite(org, org.partner(), email)
    passwords = [f"Racer-{n}-Passw0rd!" for n in range(6)]
    answers: dict[str, int] = {}

    def register(password: str) -> None:
        response = public(stack, "POST", "/public/registrations/invitation", {"token": token, "password": password})
        answers[password] = response.status_code

    threads = [threading.Thread(target=register, args=(p,)) for p in passwords]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [p for p, status in answers.items() if status == 201]
    assert len(winners) == 1 and sorted(answers.values()) == [201] + [409] * 5
    assert [p for p in passwords if signs_in(stack, email, p)] == winners


def test_registering_needs_the_current_terms_when_published(org: Programme, stack: LocalStack) -> None:
    from tests.integration.test_terms import publish

    email = invitee_email()
    token = invite(org, org.partner(), email)
    version = publish(org)
    refused = public(stack, "POST", "/public/registrations/invitation", {"token": token, "password": NEW_PASSWORD})
    assert refused.status_code == 409 and refused.json()["conflicting_ids"] == [str(version)]
    assert [e["field"] for e in refused.json()["errors"]] == ["body.accept_terms_version"]
    body = {"token": token, "password": NEW_PASSWORD, "accept_terms_version": version}
    assert public(stack, "POST", "/public/registrations/invitation", body).status_code == 201


# -- through a referral link -----------------------------------------------------------------------


def test_a_referral_registration_is_signed_in_but_refused_until_the_email_is_confirmed(
    org: Programme, stack: LocalStack
) -> None:
    referrer = org.partner()
    code = referrer.get(f"{org.path}/programme/me").json()["referral_code"]
    landing = public(stack, "GET", f"/public/referrals/{code}")
    assert landing.status_code == 200 and landing.json()["org_name"] == "Programme org"
    email = invitee_email()
    registered = public(stack, "POST", "/public/registrations/referral", referral_body(code, email))
    assert registered.status_code == 202, registered.text
    assert registered.json() == {"org_id": org.org_id, "email": email}
    token_of_partner = signs_in(stack, email, NEW_PASSWORD)
    assert token_of_partner, "signed in at once"
    partner = Actor(stack.url, token_of_partner, user_id_of(stack, email))
    for response in (
        partner.get(f"{org.path}/programme/me"),
        partner.get(f"{org.path}/programme/partners"),
        partner.post(f"{org.path}/programme/invitations", {**INVITE, "email": invitee_email()}),
        partner.patch("/me/partner", {"first_name": "Rexy"}),
    ):
        assert (response.status_code, response.json()["type"]) == (403, "/problems/email-not-confirmed")
        assert "confirm your e-mail" in response.json()["detail"]
    # Their own account reads, showing what waits for confirmation.
    assert partner.get("/me/partner").json()["account"]["email_confirmed"] is False

    [mail] = mails_to(stack, email)  # sent at once
    confirmed = public(stack, "POST", "/public/email-confirmations", {"token": token_in(mail)})
    assert confirmed.status_code == 200, confirmed.text
    assert partner.get(f"{org.path}/programme/me").status_code == 200
    assert partner_ids(referrer.get(f"{org.path}/programme/partners")) == {partner.user_id}


def test_racing_registrations_of_one_address_create_one_account(org: Programme, stack: LocalStack) -> None:
    code = org.partner().get(f"{org.path}/programme/me").json()["referral_code"]
    email = invitee_email()
    passwords = [f"Racer-{n}-Passw0rd!" for n in range(6)]
    answers: dict[str, requests.Response] = {}

    def register(password: str) -> None:
        body = referral_body(code, email, password=password)
        answers[password] = public(stack, "POST", "/public/registrations/referral", body)

    threads = [threading.Thread(target=register, args=(p,)) for p in passwords]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # One answer for all (it tells nothing about the address); one password wins.
    assert {(r.status_code, r.text) for r in answers.values()} == {(202, answers[passwords[0]].text)}
    assert len([p for p in passwords if signs_in(stack, email, p)]) == 1
    # One account, one confirmation link; the losers' attempts are told once (one a day).
    assert sorted(m["subject"] for m in mails_to(stack, email)) == [
        "Confirm your e-mail address",
        "Someone tried to register with your e-mail address",
    ]


def test_bad_registrations_are_refused_naming_each_field(stack: LocalStack) -> None:
    weak = public(stack, "POST", "/public/registrations/referral", referral_body("abc", "nope", password="short"))
    assert weak.status_code == 422
    assert {e["field"] for e in weak.json()["errors"]} == {"body.code", "body.email", "body.password"}
    unknown = public(stack, "POST", "/public/registrations/referral", referral_body("zzzzzzzzzzzz", invitee_email()))
    assert unknown.status_code == 404


# -- the partner's account -------------------------------------------------------------------------


def test_an_email_change_needs_the_new_address_confirmed(org: Programme, stack: LocalStack) -> None:
    partner = org.partner()
    old = partner.get("/me/partner").json()["account"]["email"]
    new = f"moved-{uuid.uuid4().hex[:8]}@it.example"
    started = partner.post("/me/partner/email", {"email": new})
    assert started.status_code == 202, started.text
    assert partner.get("/me/partner").json()["account"]["email"] == old
    [mail] = mails_to(stack, new)
    assert public(stack, "POST", "/public/email-confirmations", {"token": token_in(mail)}).status_code == 200
    account = partner.get("/me/partner").json()["account"]
    assert (account["email"], account.get("pending_email")) == (new, None)
    assert signs_in(stack, new, PASSWORD)
