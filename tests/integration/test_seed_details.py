"""The product pages' last details over HTTP against the local stack: customers marked when they are partners
(staff list and team list), "your partners" with each partner's balance, the brokers a partner may name as a
deal's owner, notification choices limited to the types offered, ISO 4217 currencies with their minor units,
and an unconfirmed partner reading their own account and nothing else."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
import requests
from common.partners.partner_records import org_email_item
from common.platform import db

from local.stack import LocalStack
from tests.integration.support.actors import Actor, Organisation, new_organisation
from tests.integration.support.authorization_matrix import ACCESS, ALLOWED, Kind
from tests.integration.support.partners import new_partner
from tests.integration.test_payouts import new_programme
from tests.integration.test_teams import new_team

pytestmark = pytest.mark.integration

CONTACT = {"first_name": "Jane", "last_name": "Doe", "email": "jane@customer.example", "phone": "+1 555 0100"}


def an_address(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@it.example"


def fields_of(problem: requests.Response) -> list[str]:
    return [e["field"] for e in problem.json()["errors"]]


# -- customers and their partner flag ----------------------------------------------------------------


def converted_by(org: Organisation, actor: Actor, email: str) -> str:
    """A lead entered by `actor` into the queue, claimed and converted by them: the customer's id."""
    lead = {"contact_name": "Casey Customer", "email": email, "location": "queue", "source_id": "self-generated"}
    entered = actor.post(f"/orgs/{org.org_id}/leads", lead)
    assert entered.status_code == 201, entered.text
    claimed = actor.post(f"/orgs/{org.org_id}/lead-queue/claims")
    assert claimed.status_code == 200, claimed.text
    converted = actor.post(f"/orgs/{org.org_id}/leads/{claimed.json()['lead_id']}/convert")
    assert converted.status_code == 201, converted.text
    return str(converted.json()["customer"]["customer_id"])


def test_the_customer_list_marks_customers_whose_address_is_a_partners_as_of_each_answer(stack: LocalStack) -> None:
    org = new_organisation(stack, reps=1)
    rep, path = org.reps[0], f"/orgs/{org.org_id}/customers"
    later_partner, never_partner = an_address("customer"), an_address("customer")
    mine = converted_by(org, rep, later_partner)
    theirs = converted_by(org, org.admin, never_partner)
    # Lead administrators list every customer, newest first; others their own only.
    everyone = org.admin.get(path)
    assert everyone.status_code == 200, everyone.text
    assert [(c["customer_id"], c["is_partner"]) for c in everyone.json()["items"]] == [(theirs, False), (mine, False)]
    assert [c["customer_id"] for c in rep.get(path).json()["items"]] == [mine]
    first = org.admin.get(path, params={"limit": 1}).json()
    rest = org.admin.get(path, params={"limit": 1, "cursor": first["next_cursor"]}).json()
    assert [c["customer_id"] for c in first["items"] + rest["items"]] == [theirs, mine]
    # The address becomes a partner's after the customer was made: the list says so at once.
    added = org.admin.post(
        f"/orgs/{org.org_id}/partners",
        {"first_name": "Casey", "last_name": "Customer", "email": later_partner.upper(), "phone": "+1 555 0102"},
    )
    assert added.status_code == 201, added.text
    flags = {c["customer_id"]: c["is_partner"] for c in org.admin.get(path).json()["items"]}
    assert flags == {mine: True, theirs: False}
    assert rep.get(path).json()["items"][0]["is_partner"] is True
    assert org.admin.get(f"{path}/{mine}").json()["is_partner"] is True
    # Removed from the organisation, the partner no longer marks the customer.
    removed = org.admin.call("DELETE", f"/orgs/{org.org_id}/partners/{added.json()['partner_id']}")
    assert removed.status_code == 204, removed.text
    assert {c["customer_id"]: c["is_partner"] for c in org.admin.get(path).json()["items"]}[mine] is False


def test_the_team_customer_list_marks_partners_too(stack: LocalStack) -> None:
    team = new_team(stack)
    partner_address, other_address = an_address("team-customer"), an_address("team-customer")
    made = []
    for email in (partner_address, other_address):
        customer = {"first_name": "Cleo", "last_name": "Client", "email": email}
        offer = {"team_id": team.team_id, "customer": customer, "summary": "2 beds"}
        request = team.staff.post(f"/orgs/{team.org_id}/referral-requests", offer)
        assert request.status_code == 201, request.text
        accepted = team.m1.post(f"/orgs/{team.org_id}/referral-requests/{request.json()['request_id']}/accept")
        assert accepted.status_code == 200, accepted.text
        made.append(request.json()["request_id"])
    listed = team.leader.get(f"{team.path}/customers")
    assert listed.status_code == 200, listed.text
    assert {c["customer_id"]: c["is_partner"] for c in listed.json()["items"]} == {made[0]: False, made[1]: False}
    # The first customer's address becomes a partner's (the partner's e-mail guard, as adding a partner writes it).
    db.put(org_email_item(team.org_id, partner_address, "partner-of-the-team-org"))
    flags = {c["customer_id"]: c["is_partner"] for c in team.m1.get(f"{team.path}/customers").json()["items"]}
    assert flags == {made[0]: True, made[1]: False}
    assert team.leader.get(f"{team.path}/customers/{made[0]}").json()["is_partner"] is True


# -- "your partners" with their balances --------------------------------------------------------------


def test_your_partners_shows_each_partners_balance_only_with_the_balances_permission(stack: LocalStack) -> None:
    programme = new_programme(stack)
    org_id, admin = programme.org_id, programme.admin
    sponsor = programme.partner
    earner = new_partner(stack, org_id, upline=[sponsor.user_id])
    newcomer = new_partner(stack, org_id, upline=[sponsor.user_id])
    corrected = admin.post(f"/orgs/{org_id}/wallets/{earner.user_id}/corrections", {"amount": 1234, "reason": "bonus"})
    assert corrected.status_code == 201, corrected.text
    path = f"/orgs/{org_id}/programme/partners"
    downline = sponsor.get(path)
    assert downline.status_code == 200, downline.text
    # A partner sees their downline, not its balances (seed 004 puts the Wallet column with that permission).
    assert {p["partner_id"] for p in downline.json()["items"]} == {earner.user_id, newcomer.user_id}
    assert all("wallet" not in p for p in downline.json()["items"])
    # A recruit sees no one above them; an admin (every permission) sees everyone's balance.
    assert earner.get(path).json()["items"] == []
    everyone = {p["partner_id"]: p["wallet"] for p in admin.get(path).json()["items"]}
    assert everyone[earner.user_id] == {"balance": 1234, "currency": "EUR", "minor_units": 2}
    assert everyone[sponsor.user_id] is None and everyone[newcomer.user_id] is None  # no ledger entry yet


# -- the brokers a partner chooses a deal's owner from ------------------------------------------------


def broker_portal(stack: LocalStack) -> tuple[Organisation, Actor]:
    """An organisation with a default workflow for partners' deals, two named brokers and a partner assigned to
    both of them."""
    org = new_organisation(stack, reps=2)
    base = f"/orgs/{org.org_id}"
    for number, rep in enumerate(org.reps, start=1):
        named = org.admin.put(
            f"{base}/members/{rep.user_id}", {"permissions": ["leads:request"], "display_name": f"Broker {number}"}
        )
        assert named.status_code == 200, named.text
    workflow = org.admin.post(f"{base}/workflows", {"name": "Referrals", "stages": [{"name": "New"}, {"name": "Won"}]})
    assert workflow.status_code == 201, workflow.text
    saved = org.admin.put(f"{base}/portal-settings", {"default_workflow_id": workflow.json()["workflow_id"]})
    assert saved.status_code == 200, saved.text
    partner = new_partner(stack, org.org_id, brokers=[r.user_id for r in org.reps])
    return org, partner


def test_a_partner_sees_their_brokers_names_only_and_names_one_of_them_as_a_deals_owner(stack: LocalStack) -> None:
    org, partner = broker_portal(stack)
    base = f"/orgs/{org.org_id}"
    first, second = sorted(org.reps, key=lambda r: r.user_id)
    names = {r.user_id: f"Broker {n}" for n, r in enumerate(org.reps, start=1)}
    listed = partner.get(f"{base}/portal/brokers")
    assert listed.status_code == 200, listed.text
    assert listed.json() == {
        "items": [{"user_id": b.user_id, "display_name": names[b.user_id]} for b in (first, second)]
    }
    deals = f"{base}/portal/deals"
    assert partner.post(deals, {"contacts": [CONTACT], "owner_id": second.user_id}).json()["owner_id"] == second.user_id
    stranger = partner.post(deals, {"contacts": [CONTACT], "owner_id": org.supervisor.user_id})
    assert stranger.status_code == 422 and fields_of(stranger) == ["body.owner_id"]
    # A broker who leaves the organisation is no longer listed, nor an owner; the default is the next one.
    left = org.admin.call("DELETE", f"{base}/members/{first.user_id}")
    assert left.status_code in (200, 204), left.text
    assert [b["user_id"] for b in partner.get(f"{base}/portal/brokers").json()["items"]] == [second.user_id]
    gone = partner.post(deals, {"contacts": [CONTACT], "owner_id": first.user_id})
    assert gone.status_code == 422 and fields_of(gone) == ["body.owner_id"]
    assert partner.post(deals, {"contacts": [CONTACT]}).json()["owner_id"] == second.user_id


# -- notification choices among the types offered -----------------------------------------------------


def test_notification_choices_show_only_offered_types_and_keep_withdrawn_ones(stack: LocalStack) -> None:
    org, partner = broker_portal(stack)
    base = f"/orgs/{org.org_id}"
    settings = org.admin.get(f"{base}/portal-settings").json()

    def offer(*types: str) -> None:
        body = {"default_workflow_id": settings["default_workflow_id"], "partner_notification_types": list(types)}
        assert org.admin.put(f"{base}/portal-settings", body).status_code == 200

    path = f"{base}/portal/notifications"
    offer("deal_shared", "note_shared")
    assert partner.put(path, {"types": ["deal_shared", "note_shared"]}).status_code == 200
    offer("deal_shared")  # the organisation withdraws note_shared
    assert partner.get(path).json() == {"types": ["deal_shared"], "offered": ["deal_shared"]}
    refused = partner.put(path, {"types": ["note_shared"]})
    assert refused.status_code == 422 and fields_of(refused) == ["body.types"]
    assert "note_shared" in refused.json()["errors"][0]["message"]
    cleared = partner.put(path, {"types": []})
    assert cleared.status_code == 200 and cleared.json() == {"types": [], "offered": ["deal_shared"]}
    offer("deal_shared", "note_shared")  # offered again: the choice made before it was withdrawn applies again
    assert partner.get(path).json() == {"types": ["note_shared"], "offered": ["deal_shared", "note_shared"]}


# -- ISO 4217 currencies and their minor units --------------------------------------------------------


def test_only_iso_4217_currencies_are_taken_and_money_answers_say_their_minor_units(stack: LocalStack) -> None:
    org, partner = broker_portal(stack)
    base = f"/orgs/{org.org_id}"
    plan = f"{base}/commission-plan/versions"
    level = [{"rule": "percentage", "percent": "10"}]
    for code in ("ABC", "eur", "XAU", "EURO"):
        refused = org.admin.post(plan, {"currency": code, "levels": level})
        assert refused.status_code == 422 and fields_of(refused) == ["body.currency"], (code, refused.text)
    assert org.admin.get(f"{base}/commission-plan").status_code == 404  # nothing was written
    created = org.admin.post(plan, {"currency": "BHD", "levels": level})
    assert created.status_code == 201, created.text
    assert (created.json()["currency"], created.json()["minor_units"]) == ("BHD", 3)

    workflow_id = org.admin.get(f"{base}/portal-settings").json()["default_workflow_id"]
    deal = {"workflow_id": workflow_id, "contacts": [CONTACT], "partner_id": partner.user_id}
    bad = org.admin.post(f"{base}/deals", {**deal, "value": {"amount": 1500, "currency": "XYZ"}})
    assert bad.status_code == 422 and fields_of(bad) == ["body.value.currency"]
    made = org.admin.post(f"{base}/deals", {**deal, "value": {"amount": 1500, "currency": "JPY"}})
    assert made.status_code == 201, made.text
    assert made.json()["value"] == {"amount": 1500, "currency": "JPY", "minor_units": 0}
    assert org.admin.get(f"{base}/deals/{made.json()['deal_id']}").json()["value"]["minor_units"] == 0
    shared = partner.get(f"{base}/portal/deals/{made.json()['deal_id']}").json()
    assert shared["value"] == {"amount": 1500, "currency": "JPY", "minor_units": 0}

    corrected = org.admin.post(f"{base}/wallets/{partner.user_id}/corrections", {"amount": 2500, "reason": "start"})
    assert corrected.status_code == 201, corrected.text
    own = partner.get(f"{base}/portal/wallet").json()
    assert (own["balance"], own["currency"], own["minor_units"]) == (2500, "BHD", 3)
    [entry] = partner.get(f"{base}/portal/wallet/entries").json()["items"]
    assert (entry["currency"], entry["minor_units"]) == ("BHD", 3)
    requested = partner.post(f"{base}/portal/payout-requests", {"amount": 1000})
    assert requested.status_code == 201, requested.text
    assert (requested.json()["currency"], requested.json()["minor_units"]) == ("BHD", 3)
    [pending] = org.admin.get(f"{base}/payout-requests").json()["items"]
    assert pending["minor_units"] == 3
    preview = org.admin.get(f"{base}/deals/{made.json()['deal_id']}/commission-preview").json()
    assert (preview["currency"], preview["minor_units"]) == ("BHD", 3)


# -- an unconfirmed partner reads their account and does nothing else ---------------------------------

# What such a partner may still do: read their account, and ask for the confirmation link again (once a minute,
# tested with the registration).
_STILL_ALLOWED = {"GET /me/partner", "POST /me/partner/confirmation"}


def test_an_unconfirmed_partner_reads_their_account_and_every_other_partner_route_refuses(stack: LocalStack) -> None:
    org, _ = broker_portal(stack)
    unconfirmed = new_partner(stack, org.org_id, brokers=[org.reps[0].user_id], email_confirmed=False)
    own = unconfirmed.get("/me/partner")
    assert own.status_code == 200, own.text
    assert own.json()["account"]["email_confirmed"] is False
    assert [o["org_id"] for o in own.json()["organisations"]] == [org.org_id]
    stub = SimpleNamespace(terms_version=1)  # what the matrix's bodies read of its world
    some_id = "0" * 26
    refused: dict[str, str] = {}
    tried = set()
    for operation, entry in ACCESS.items():
        if entry.policy.answers.get(Kind.PARTNER) != ALLOWED or operation in _STILL_ALLOWED:
            continue
        tried.add(operation)
        method, template = operation.split(" ", 1)
        path = template.replace("{org_id}", org.org_id)
        for name in ("deal_id", "partner_id"):
            path = path.replace("{" + name + "}", some_id)
        sent = entry.body(stub) if callable(entry.body) else entry.body
        answer = unconfirmed.call(method, path, json=sent)
        if answer.status_code != 403 or answer.json().get("type") != "/problems/email-not-confirmed":
            refused[operation] = f"{answer.status_code} {answer.text[:200]}"
    assert refused == {}
    assert {"GET /orgs/{org_id}/programme/me", "GET /orgs/{org_id}/portal/brokers", "PATCH /me/partner"} <= tried
