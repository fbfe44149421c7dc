"""Sender addresses of invitations, in-process (the partners API handler and moto): a new address waits for
the link e-mailed to it, the link confirms that address only, organisations allow domains among the
deployment's, and invitations go from the system's address naming the inviter otherwise. The stream is
driven by hand through programme_mail.on_change."""

from __future__ import annotations

import importlib
from email.utils import parseaddr
from typing import Any

import boto3
import pytest
from common.partners.partner_records import account_key, partner_pk
from common.platform import db, listings
from common.programme import mail as programme_mail

from tests.support import body_of
from tests.unit.conftest import SENDER, FrozenClock
from tests.unit.functions.partners.test_programme import (
    INVITE,
    Org,
    api_call,
    new_org,
    put_partner,
    sent_mail,
    token_in,
)

# The organisation is made with users in the user pool.
pytestmark = pytest.mark.cognito

OFFERED = "partner.example,other.example"


@pytest.fixture(autouse=True)
def deployment_domains(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENDER_DOMAINS", OFFERED)
    importlib.import_module("common.platform.settings").get_settings.cache_clear()


@pytest.fixture
def org() -> Org:
    org = new_org()
    put_partner(org.org_id, "p1")  # p1@partner.example, confirmed
    return org


def set_sender(address: str | None, user: str = "p1") -> dict[str, Any]:
    return api_call("PATCH", "/me/partner", user=user, body={"sender_email": address})


def account(user: str = "p1") -> dict[str, Any]:
    return dict(body_of(api_call("GET", "/me/partner", user=user))["account"])


def requests_of(partner_id: str) -> list[dict[str, Any]]:
    items, _ = listings.query(
        key_condition="pk = :pk AND begins_with(sk, :sk)",
        values={":pk": partner_pk(partner_id), ":sk": "SENDER_CONFIRMATION#"},
    )
    return items


def link_sent_to(address: str, partner_id: str = "p1") -> str:
    """Stream the partner's newest confirmation request; the token of the link it e-mailed to `address`."""
    programme_mail.on_change(None, requests_of(partner_id)[-1])
    [mail] = [m for m in sent_mail() if m.destinations["ToAddresses"] == [address]][-1:]
    assert mail.source == SENDER and "/confirm-sender?token=" in mail.body
    return token_in(mail)


def confirm(token: str) -> dict[str, Any]:
    return api_call("POST", "/public/sender-confirmations", body={"token": token})


def allow(org: Org, domains: list[str]) -> dict[str, Any]:
    return api_call("PUT", f"{org.path}/portal-settings", user=org.admin, body={"allowed_sender_domains": domains})


def invitation_mail(org: Org, email: str, user: str = "p1", **fields: Any) -> tuple[Any, dict[str, Any]]:
    """Invite `email`, stream the invitation; the mail sent and what SES was asked (its Reply-To)."""
    created = api_call(
        "POST", f"{org.path}/programme/invitations", user=user, body={**INVITE, "email": email, **fields}
    )
    assert created["statusCode"] == 201, created
    calls: list[dict[str, Any]] = []
    ses = boto3.client("sesv2")
    ses.meta.events.register("provide-client-params.sesv2.SendEmail", lambda params, **_: calls.append(params))
    key = {"pk": f"ORG#{org.org_id}#INVITATION#{body_of(created)['invitation_id']}", "sk": "INVITATION"}
    item = db.get(key, consistent=True)
    assert item is not None
    programme_mail.send_invitation(item, ses=ses)
    [mail] = [m for m in sent_mail() if m.destinations["ToAddresses"] == [email]]
    [call] = calls
    return mail, call


# -- the account's sender address ------------------------------------------------------------------


def test_a_new_sender_address_is_pending_until_its_link_is_followed(org: Org) -> None:
    changed = set_sender("Me@Partner.example")
    assert changed["statusCode"] == 200, changed
    assert (body_of(changed)["sender_email"], body_of(changed)["sender_email_confirmed"]) == (
        "me@partner.example",
        False,
    )
    assert (account()["sender_email"], account()["sender_email_confirmed"]) == ("me@partner.example", False)
    assert "sender_confirmation_sent_at" not in account()
    token = link_sent_to("me@partner.example")

    confirmed = confirm(token)
    assert confirmed["statusCode"] == 200, confirmed
    # The answer says what was confirmed, nothing about the account that asked.
    assert body_of(confirmed) == {"sender_email": "me@partner.example", "sender_email_confirmed": True}
    assert account()["sender_email_confirmed"] is True
    assert body_of(confirm(token))["type"] == "/problems/token-used"
    # Sent again, the confirmed address stays confirmed and no new link goes out.
    assert body_of(set_sender("me@partner.example"))["sender_email_confirmed"] is True
    assert len(requests_of("p1")) == 1


def test_a_link_confirms_only_the_address_it_was_sent_to(org: Org, frozen_clock: FrozenClock) -> None:
    assert set_sender("first@partner.example")["statusCode"] == 200
    first = link_sent_to("first@partner.example")
    frozen_clock.advance(minutes=2)
    assert set_sender("second@partner.example")["statusCode"] == 200

    refused = confirm(first)
    assert refused["statusCode"] == 409, refused
    assert (account()["sender_email"], account()["sender_email_confirmed"]) == ("second@partner.example", False)
    # Streamed late, the first request sends nothing: its address is no longer the one to confirm.
    assert not programme_mail.on_change(None, requests_of("p1")[0])
    # Other links do not confirm sender addresses, nor this one an account's e-mail address.
    assert confirm("x" * 43)["statusCode"] == 404
    second = link_sent_to("second@partner.example")
    assert api_call("POST", "/public/email-confirmations", body={"token": second})["statusCode"] == 404
    assert confirm(second)["statusCode"] == 200
    assert account()["sender_email"] == "second@partner.example" and account()["sender_email_confirmed"] is True


def test_links_go_out_at_most_once_a_minute(org: Org, frozen_clock: FrozenClock) -> None:
    assert set_sender("a@partner.example")["statusCode"] == 200
    soon = set_sender("b@partner.example")
    assert soon["statusCode"] == 409, soon
    assert account()["sender_email"] == "a@partner.example"
    assert len(requests_of("p1")) == 1
    frozen_clock.advance(seconds=61)
    again = set_sender("a@partner.example")  # the pending address sent again: a new link
    assert again["statusCode"] == 200 and body_of(again)["sender_email_confirmed"] is False
    assert len(requests_of("p1")) == 2


def test_the_accounts_own_address_needs_no_link_and_null_clears(org: Org) -> None:
    own = body_of(set_sender("p1@partner.example"))
    assert (own["sender_email"], own["sender_email_confirmed"]) == ("p1@partner.example", True)
    assert requests_of("p1") == []
    cleared = body_of(set_sender(None))
    assert (cleared["sender_email"], cleared["sender_email_confirmed"]) == (None, False)
    stored = db.get(account_key("p1"), consistent=True)
    assert account()["sender_email"] is None and stored is not None and "sender_email" not in stored


def test_an_address_outside_the_deployments_sender_domains_is_refused_and_nothing_is_sent(org: Org) -> None:
    before = db.get(account_key("p1"), consistent=True)
    # Another domain, a subdomain of an offered one (domains match exactly), a look-alike: none could ever be
    # sent from, so no link goes to them.
    for address in ("someone@elsewhere.example", "me@mail.partner.example", "p1@partner.example.org"):
        refused = set_sender(address)
        assert refused["statusCode"] == 422, refused
        assert [e["field"] for e in body_of(refused)["errors"]] == ["body.sender_email"]
    assert db.get(account_key("p1"), consistent=True) == before
    assert requests_of("p1") == [] and sent_mail() == []


# -- the organisation's allowed domains ------------------------------------------------------------


def test_an_organisation_allows_only_the_deployments_sender_domains(org: Org) -> None:
    refused = allow(org, ["partner.example", "elsewhere.example"])
    assert refused["statusCode"] == 422, refused
    assert [e["field"] for e in body_of(refused)["errors"]] == ["body.allowed_sender_domains"]
    assert "elsewhere.example" in body_of(refused)["errors"][0]["message"]
    assert allow(org, ["not a domain"])["statusCode"] == 422
    saved = allow(org, ["Partner.Example", "partner.example"])
    assert saved["statusCode"] == 200, saved
    read = body_of(api_call("GET", f"{org.path}/portal-settings", user=org.admin))
    assert read["allowed_sender_domains"] == ["partner.example"]
    assert read["offered_sender_domains"] == ["other.example", "partner.example"]


# -- invitations -----------------------------------------------------------------------------------


def confirmed_sender(address: str) -> None:
    assert set_sender(address)["statusCode"] == 200
    assert confirm(link_sent_to(address))["statusCode"] == 200


def test_a_confirmed_address_of_an_allowed_domain_sends_the_invitations(org: Org) -> None:
    boto3.client("ses").verify_domain_identity(Domain="partner.example")
    confirmed_sender("me@partner.example")
    assert allow(org, ["partner.example"])["statusCode"] == 200
    mail, call = invitation_mail(org, "ivy@invitee.example")
    assert mail.source == "me@partner.example" and mail.subject == INVITE["subject"]
    assert "ReplyToAddresses" not in call


def test_otherwise_the_system_address_names_the_inviter_and_takes_replies_for_them(org: Org) -> None:
    boto3.client("ses").verify_domain_identity(Domain="other.example")
    confirmed_sender("me@other.example")
    assert allow(org, ["partner.example"])["statusCode"] == 200  # not other.example
    mail, call = invitation_mail(org, "ivy@invitee.example")
    assert parseaddr(mail.source) == ("Pat p1 via Acme Referrals", SENDER)
    assert call["ReplyToAddresses"] == ["p1@partner.example"]
    assert INVITE["body"] in mail.body


def test_an_unconfirmed_address_never_sends_even_where_allowed(org: Org) -> None:
    boto3.client("ses").verify_email_identity(EmailAddress="boss@partner.example")  # verified in SES: not enough
    assert set_sender("boss@partner.example")["statusCode"] == 200
    assert allow(org, ["partner.example"])["statusCode"] == 200
    mail, _ = invitation_mail(org, "ivy@invitee.example")
    assert parseaddr(mail.source)[1] == SENDER


def test_a_staff_inviter_without_a_partner_account_is_named_by_their_membership(org: Org) -> None:
    inviter = org.staff("lead", ["programme:invite_level_zero"])
    mail, call = invitation_mail(org, "ivy@invitee.example", user=inviter, level_zero=True)
    assert parseaddr(mail.source) == ("Sam Staff via Acme Referrals", SENDER)
    assert "ReplyToAddresses" not in call
