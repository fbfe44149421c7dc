"""The consumers' reactions other than the commission cascade, under what queues and redrives do: a change
arrives late, more than once, after a newer one, or without its old image. Images come from real writes
(moto); each e-mail goes out once per logical event, never about a state the item has since left, and
copies end with the newest data."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from common.leads import mail
from common.leads.companies import NewCompany, create_company
from common.leads.intake import IntakeLead, intake_lead
from common.leads.model import lead_key
from common.leads.returns import ReturnLeads, return_leads
from common.money import payout_mail
from common.orgs import organisations
from common.orgs.access import Member
from common.partners import lifecycle, staff_partners
from common.partners import mail as partner_mail
from common.partners.account_links import confirmation_item
from common.partners.partner_records import (
    PartnerStatus,
    account_item,
    account_key,
    node_item,
    node_key,
    org_email_item,
    org_email_key,
    settings_key,
)
from common.platform import db
from common.programme import mail as programme_mail
from common.programme.invitations import invitation_key
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from tests.unit.conftest import FrozenClock

ADMIN, PARTNER = "user-admin", "partner-pat"
Images = tuple[db.Item | None, db.Item]


def sent() -> list[Any]:
    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


def every_order(changes: list[Images]) -> Iterator[list[Images]]:
    """Each order of the changes, each change thrice in a row, and also without its old image."""
    for order in itertools.permutations(changes):
        yield [(old if n < 2 else None, new) for change in order for n, (old, new) in enumerate([change] * 3)]


@pytest.fixture
def org_id() -> str:
    return str(organisations.create_organisation(organisations.NewOrganisation(name="Acme"), ADMIN)["org_id"])


def admin(org_id: str) -> Member:
    return Member(org_id, ADMIN, "admin", frozenset())


# -- leads: purchase and return e-mails -------------------------------------------------------------


def test_purchase_and_return_mails_go_once_whatever_the_order(org_id: str) -> None:
    company = create_company(
        org_id,
        NewCompany(
            name="Seller Ltd",
            sells_leads=True,
            purchase_notification_emails=["buying@acme.example"],
            return_notification_emails=["returns@seller.example"],
        ),
        ADMIN,
    )
    for n, order in enumerate(itertools.permutations(range(2))):
        arrived, _ = intake_lead(
            org_id, company, IntakeLead(external_id=f"X-{n}", contact_name="Jo", phone="+15550100")
        )
        return_leads(org_id, admin(org_id), ReturnLeads(lead_ids=[arrived["lead_id"]], comments="wrong number"))
        returned = db.get(lead_key(org_id, arrived["lead_id"]), consistent=True)
        assert returned is not None
        changes: list[Images] = [(None, arrived), (arrived, returned)]
        for _ in range(3):
            for old, new in [(None, returned), *(changes[i] for i in order)]:  # first: without its old image
                if mail.purchase_due(old, new):
                    mail.send_purchase_notification(new)
                if mail.return_due(old, new):
                    mail.send_return_notification(new)
        mails = [m for m in sent() if f"X-{n}" in m.subject]
        assert sorted(m.destinations["ToAddresses"][0] for m in mails) == [
            "buying@acme.example",
            "returns@seller.example",
        ]
        purchase = next(m for m in mails if m.subject.startswith("New lead"))
        assert f"Placed in: {arrived['status']}" in purchase.body  # where it was placed on arrival


# -- payouts: the settled-request e-mail ------------------------------------------------------------


def test_a_settled_request_is_mailed_once_also_without_its_old_image(org_id: str) -> None:
    db.put(
        {
            **account_item(
                partner_id=PARTNER,
                first_name="Pat",
                last_name="P",
                email="pat@p.example",
                phone=None,
                email_confirmed=True,
            )
        }
    )
    pending = {
        "pk": f"ORG#{org_id}#PAYOUT#R1",
        "sk": "REQUEST",
        "entity": "payout_request",
        "org_id": org_id,
        "request_id": "R1",
        "partner_id": PARTNER,
        "amount": 1_000,
        "currency": "EUR",
        "status": "pending",
    }
    paid = {**pending, "status": "paid"}
    for changes in every_order([(None, pending), (pending, paid)]):
        for old, new in changes:
            payout_mail.on_change(old, new)
    assert [m.subject for m in sent()] == ["Acme paid your payout request of 10.00 EUR"]
    rejected = {**pending, "pk": f"ORG#{org_id}#PAYOUT#R2", "request_id": "R2", "status": "rejected"}
    for _ in range(3):
        payout_mail.on_change(None, rejected)  # only ever seen without its old image
    assert len(sent()) == 2 and sent()[-1].subject.startswith("Acme rejected")


# -- partners: copies of the account, the login and terms e-mails -----------------------------------


def add_partner(org_id: str, status: PartnerStatus = PartnerStatus.LIVE, email: str = "pat@p.example") -> db.Item:
    details: dict[str, Any] = {"first_name": "Pat", "last_name": "P", "email": email, "phone": None}
    account = account_item(partner_id=PARTNER, email_confirmed=True, **details)
    if db.get(account_key(PARTNER)) is None:
        db.put(account)
    node = node_item(org_id=org_id, partner_id=PARTNER, status=status, origin="added", actor="system", **details)
    db.put(node)
    db.put(org_email_item(org_id, email, PARTNER))
    return node


def account_change(expression: str, values: dict[str, Any]) -> Images:
    before = db.get(account_key(PARTNER), consistent=True)
    after = db.update(
        account_key(PARTNER),
        expression=expression + " ADD version :one",
        names={"#n": "name"} if "#n" in expression else None,
        values={**values, ":one": 1},
    )
    return before, after


def test_a_nodes_copy_of_the_account_ends_as_the_newest_account(org_id: str) -> None:
    other = str(organisations.create_organisation(organisations.NewOrganisation(name="Second"), ADMIN)["org_id"])
    add_partner(org_id)
    add_partner(other)
    changes = [
        account_change("SET first_name = :f, #n = :n", {":f": "Patricia", ":n": "Patricia P"}),
        account_change("SET email = :e", {":e": "patricia@new.example"}),
        account_change("SET email = :e, phone = :p", {":e": "trish@new.example", ":p": "+15550101"}),
    ]
    for deliveries in every_order(changes):  # in order first; then older images after the newest
        for old, new in deliveries:
            partner_mail.on_change(old, new)
        for org in (org_id, other):
            node = db.get(node_key(org, PARTNER), consistent=True) or {}
            assert (node["name"], node["email"], node["phone"]) == ("Patricia P", "trish@new.example", "+15550101")
            assert (db.get(org_email_key(org, "trish@new.example")) or {}).get("partner_id") == PARTNER
            assert db.get(org_email_key(org, "patricia@new.example")) is None
            assert db.get(org_email_key(org, "pat@p.example")) is None
            assert [e["action"] for e in node["history"]].count("details_changed") == 1  # the newest, copied once


def test_an_address_another_partner_holds_stays_behind_and_the_rest_is_copied(org_id: str) -> None:
    add_partner(org_id)
    db.put(org_email_item(org_id, "taken@p.example", "someone-else"))
    change = account_change("SET email = :e, phone = :p", {":e": "taken@p.example", ":p": "+15550102"})
    partner_mail.on_change(*change)
    node = db.get(node_key(org_id, PARTNER), consistent=True) or {}
    assert (node["email"], node["phone"]) == ("pat@p.example", "+15550102")
    assert (db.get(org_email_key(org_id, "taken@p.example")) or {})["partner_id"] == "someone-else"
    assert (db.get(org_email_key(org_id, "pat@p.example")) or {})["partner_id"] == PARTNER


def node_change(org_id: str, write: Any) -> Images:
    before = db.get(node_key(org_id, PARTNER), consistent=True)
    write()
    after = db.get(node_key(org_id, PARTNER), consistent=True)
    assert after is not None
    return before, after


def test_the_login_mail_goes_once_and_not_after_the_partner_left(org_id: str) -> None:
    add_partner(org_id)
    assigned = node_change(org_id, lambda: staff_partners.set_brokers(org_id, PARTNER, [ADMIN], "user:x"))
    removed = node_change(org_id, lambda: staff_partners.remove_partner(org_id, PARTNER, "user:x"))
    for deliveries in every_order([assigned, removed]):
        for old, new in deliveries:
            partner_mail.on_change(old, new)
    assert sent() == []  # assigned, but removed before the record was handled

    other = str(organisations.create_organisation(organisations.NewOrganisation(name="Second"), ADMIN)["org_id"])
    add_partner(other)
    first = node_change(other, lambda: staff_partners.set_brokers(other, PARTNER, [ADMIN], "user:x"))
    cleared = node_change(other, lambda: staff_partners.set_brokers(other, PARTNER, [], "user:x"))
    again = node_change(other, lambda: staff_partners.set_brokers(other, PARTNER, [ADMIN], "user:x"))
    for deliveries in every_order([first, cleared, again]):
        for old, new in deliveries:
            partner_mail.on_change(old, new)
    assert [m.subject for m in sent()] == ["Your partner portal access for Second"]


def test_the_login_decision_is_made_once_when_the_setting_is_off(org_id: str) -> None:
    db.put({**settings_key(org_id), "entity": "programme_settings", "partner_added_email": False})
    add_partner(org_id)
    assigned = node_change(org_id, lambda: staff_partners.set_brokers(org_id, PARTNER, [ADMIN], "user:x"))
    partner_mail.on_change(*assigned)
    db.put({**settings_key(org_id), "entity": "programme_settings", "partner_added_email": True})
    renamed = node_change(
        org_id, lambda: db.update(node_key(org_id, PARTNER), expression="ADD version :one", values={":one": 1})
    )
    partner_mail.on_change(None, renamed[1])  # a later change, without its old image
    partner_mail.on_change(*assigned)  # the assignment, redelivered
    assert sent() == []


def test_the_terms_mail_goes_once_per_sending_and_not_once_accepted(org_id: str) -> None:
    db.put({**settings_key(org_id), "entity": "programme_settings", "current_terms_version": 2})
    add_partner(org_id, PartnerStatus.PROSPECT)
    terms_sent = node_change(org_id, lambda: lifecycle.send_terms(org_id, PARTNER, "user:x"))
    for old, new in [terms_sent, terms_sent, (None, terms_sent[1])]:
        partner_mail.on_change(old, new)
    assert [m.subject for m in sent()] == ["Acme: the partner programme terms"]

    other = str(organisations.create_organisation(organisations.NewOrganisation(name="Second"), ADMIN)["org_id"])
    db.put({**settings_key(other), "entity": "programme_settings", "current_terms_version": 1})
    add_partner(other, PartnerStatus.PROSPECT)
    late = node_change(other, lambda: lifecycle.send_terms(other, PARTNER, "user:x"))
    signed = node_change(other, lambda: lifecycle.terms_signed(other, PARTNER, "user:x"))
    for deliveries in every_order([late, signed]):
        for old, new in deliveries:
            partner_mail.on_change(old, new)
    assert len(sent()) == 1  # signed before the record was handled: nothing to ask for any more


# -- the programme: invitations and confirmation links ----------------------------------------------


def invitation(org_id: str, invitation_id: str, expires_at: str, **extra: Any) -> db.Item:
    item = {
        **invitation_key(org_id, invitation_id),
        "entity": "invitation",
        "org_id": org_id,
        "invitation_id": invitation_id,
        "email": f"{invitation_id.lower()}@invitee.example",
        "subject": f"Join us ({invitation_id})",
        "body": "Hello",
        "expires_at": expires_at,
        **extra,
    }
    db.put(item)
    return item


def test_an_invitation_goes_once_and_not_once_accepted_or_expired(org_id: str, frozen_clock: FrozenClock) -> None:
    later, earlier = "2030-01-01T00:00:00.000Z", "2020-01-01T00:00:00.000Z"
    fresh = invitation(org_id, "FRESH", later)
    invitation(org_id, "TAKEN", later, accepted_at=earlier)
    expired = invitation(org_id, "GONE", earlier)
    for new in (fresh, fresh, db.get(invitation_key(org_id, "TAKEN")) or {}, expired, fresh):
        programme_mail.on_change(None, new)
    assert [m.subject for m in sent()] == ["Join us (FRESH)"]


def test_a_confirmation_link_goes_once_and_not_for_an_address_replaced_since(org_id: str) -> None:
    add_partner(org_id)
    db.update(account_key(PARTNER), expression="SET pending_email = :e", values={":e": "first@new.example"})
    first = confirmation_item(PARTNER, "first@new.example", "change")
    db.update(account_key(PARTNER), expression="SET pending_email = :e", values={":e": "second@new.example"})
    second = confirmation_item(PARTNER, "second@new.example", "change")
    registration = confirmation_item(PARTNER, "pat@p.example", "registration")  # confirmed already
    for request in (second, first, second, registration, first):
        db.put(request)
        programme_mail.on_change(None, request)
    assert [m.destinations["ToAddresses"] for m in sent()] == [["second@new.example"]]
