"""Sender addresses of invitations over HTTP against the local stack: an address SES could send from is not
used until its owner follows the link e-mailed to it and the organisation allows its domain; otherwise the
invitation goes from the system's address naming the inviter. The stack's sender domains are
local.stack.SENDER_DOMAINS (domain identities in its SES, as any tenant's could be)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from local.stack import SENDER_DOMAINS, LocalStack
from tests.integration.support.actors import Actor
from tests.integration.test_programme import INVITE, Programme, invitee_email, mails_to, new_programme, token_in

ALLOWED, NOT_ALLOWED = SENDER_DOMAINS


@pytest.fixture
def org(stack: LocalStack) -> Programme:
    programme = new_programme(stack)
    allowed = programme.admin.put(f"{programme.path}/portal-settings", {"allowed_sender_domains": [ALLOWED]})
    assert allowed.status_code == 200, allowed.text
    return programme


def an_address(domain: str) -> str:
    return f"sender-{uuid.uuid4().hex[:10]}@{domain}"


def confirm(stack: LocalStack, token: str) -> requests.Response:
    return requests.post(f"{stack.url}/public/sender-confirmations", json={"token": token}, timeout=30)


def set_sender(partner: Actor, address: str | None) -> dict[str, Any]:
    changed = partner.patch("/me/partner", {"sender_email": address})
    assert changed.status_code == 200, changed.text
    return dict(changed.json())


def link_to(stack: LocalStack, address: str) -> str:
    """The token of the newest confirmation link e-mailed to `address` (from the system's address)."""
    mails = mails_to(stack, address)
    assert mails and mails[-1]["from"] == stack.email_from, mails
    assert "/confirm-sender?token=" in mails[-1]["body"]
    return token_in(mails[-1])


def invitation_from(org: Programme, inviter: Actor) -> str:
    """Invite someone; the From of the invitation e-mail they get."""
    email = invitee_email()
    created = inviter.post(f"{org.path}/programme/invitations", {**INVITE, "email": email})
    assert created.status_code == 201, created.text
    [mail] = mails_to(org.stack, email)
    assert mail["subject"] == INVITE["subject"] and INVITE["body"] in mail["body"]
    return str(mail["from"])


def on_behalf(stack: LocalStack) -> str:
    return f"Pat Partner via Programme org <{stack.email_from}>"


def test_a_verified_address_is_not_used_until_its_owner_confirms_it(org: Programme, stack: LocalStack) -> None:
    # Another tenant's address, verified in SES and under a domain this organisation allows.
    victim = an_address(ALLOWED)
    stack.client("sesv2").create_email_identity(EmailIdentity=victim)
    partner = org.partner()
    pending = set_sender(partner, victim)
    assert (pending["sender_email"], pending["sender_email_confirmed"]) == (victim, False)
    assert invitation_from(org, partner) == on_behalf(stack)
    shown = partner.get("/me/partner").json()["account"]
    assert (shown["sender_email"], shown["sender_email_confirmed"]) == (victim, False)

    # Whoever reads that mailbox decides: following the link lets the invitations go from it.
    confirmed = confirm(stack, link_to(stack, victim))
    assert confirmed.status_code == 200, confirmed.text
    # What the link confirmed, nothing about the account that asked (the mailbox's holder is anyone).
    assert confirmed.json() == {"sender_email": victim, "sender_email_confirmed": True}
    assert partner.get("/me/partner").json()["account"]["sender_email_confirmed"] is True
    assert invitation_from(org, partner) == victim
    assert confirm(stack, link_to(stack, victim)).status_code == 409  # used

    # Changed, the new address is pending again and the invitations go from the system's address.
    stack.advance_clock(61)
    other = an_address(ALLOWED)
    assert set_sender(partner, other)["sender_email_confirmed"] is False
    assert invitation_from(org, partner) == on_behalf(stack)
    assert set_sender(partner, None)["sender_email"] is None
    assert invitation_from(org, partner) == on_behalf(stack)


def test_a_confirmed_address_of_a_domain_the_organisation_does_not_allow_is_not_used(
    org: Programme, stack: LocalStack
) -> None:
    partner = org.partner()
    address = an_address(NOT_ALLOWED)  # a sender domain of the deployment, not allowed here
    set_sender(partner, address)
    assert confirm(stack, link_to(stack, address)).status_code == 200
    assert invitation_from(org, partner) == on_behalf(stack)

    allowed = org.admin.put(f"{org.path}/portal-settings", {"allowed_sender_domains": [ALLOWED, NOT_ALLOWED]})
    assert allowed.status_code == 200, allowed.text
    assert invitation_from(org, partner) == address
    # The same confirmed address in another organisation that allows nothing: the system's address.
    elsewhere = new_programme(stack)
    there = elsewhere.partner()
    set_sender(there, address)
    assert confirm(stack, link_to(stack, address)).status_code == 200
    assert invitation_from(elsewhere, there) == on_behalf(stack)


def test_a_confirmation_link_confirms_only_the_address_it_was_sent_to(org: Programme, stack: LocalStack) -> None:
    partner = org.partner()
    first, second = an_address(ALLOWED), an_address(ALLOWED)
    set_sender(partner, first)
    first_token = link_to(stack, first)
    stack.advance_clock(61)  # a new link goes out at most once a minute
    set_sender(partner, second)

    refused = confirm(stack, first_token)
    assert refused.status_code == 409, refused.text
    account = partner.get("/me/partner").json()["account"]
    assert (account["sender_email"], account["sender_email_confirmed"]) == (second, False)
    assert invitation_from(org, partner) == on_behalf(stack)
    # Nor is it an e-mail confirmation link, or the other way round.
    second_token = link_to(stack, second)
    wrong_kind = requests.post(f"{stack.url}/public/email-confirmations", json={"token": second_token}, timeout=30)
    assert wrong_kind.status_code == 404
    assert confirm(stack, second_token).status_code == 200
    assert invitation_from(org, partner) == second


def test_links_to_a_sender_address_go_out_at_most_once_a_minute(org: Programme, stack: LocalStack) -> None:
    partner = org.partner()
    address = an_address(ALLOWED)
    set_sender(partner, address)
    again = partner.patch("/me/partner", {"sender_email": an_address(ALLOWED)})
    assert again.status_code == 409, again.text
    assert partner.get("/me/partner").json()["account"]["sender_email"] == address
    assert len(mails_to(stack, address)) == 1


def test_an_organisation_allows_only_the_deployments_sender_domains(org: Programme, stack: LocalStack) -> None:
    path = f"{org.path}/portal-settings"
    refused = org.admin.put(path, {"allowed_sender_domains": [ALLOWED, "gmail.com"]})
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["body.allowed_sender_domains"]
    settings = org.admin.get(path).json()
    assert settings["allowed_sender_domains"] == [ALLOWED]  # unchanged
    assert settings["offered_sender_domains"] == sorted(SENDER_DOMAINS)
    staff = org.staff([])
    assert staff.put(path, {"allowed_sender_domains": [ALLOWED, NOT_ALLOWED]}).status_code == 403


def test_an_address_outside_the_deployments_sender_domains_is_refused_and_nothing_is_mailed(
    org: Programme, stack: LocalStack
) -> None:
    partner = org.partner()
    before = partner.get("/me/partner").json()["account"]
    for address in (an_address("elsewhere.example"), an_address(f"mail.{ALLOWED}")):
        refused = partner.patch("/me/partner", {"sender_email": address})
        assert refused.status_code == 422, refused.text
        assert [e["field"] for e in refused.json()["errors"]] == ["body.sender_email"]
        assert mails_to(stack, address) == []
    assert partner.get("/me/partner").json()["account"] == before
