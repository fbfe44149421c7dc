"""Which events the table's changes mean (common.integrations.change_events): each catalogued change is made by
the domain itself, against moto, and the records its writes put on the table's stream are read back as the
dispatcher hands them on (tests/unit/integrations/table_stream.py). Each change means exactly its events; a
change that alters nothing an event is about means none."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from common.deals import staff_deals
from common.deals.deal_views import Deal
from common.integrations import catalogue, endpoints, events
from common.integrations.change_events import events_of, on_change
from common.integrations.endpoint_models import NewWebhookEndpoint
from common.integrations.events import Event, event_id
from common.leads import companies, customer_intake, customers, intake
from common.money import commissions, ledger, payout_requests
from common.orgs.access import Member
from common.platform import db, urls
from common.teams import referral_acceptance, referral_expiry, referral_offers, referral_requests, team_customers
from common.teams.referral_requests import NewReferralRequest, ReferralCustomer

from local.twilio_fake import FakeTwilio
from tests.support import OPERATOR, api_caller, body_of, stream_record
from tests.unit import sweeps
from tests.unit.conftest import FrozenClock
from tests.unit.functions.partners import test_programme as programme_tests
from tests.unit.functions.partners import test_registration as registration_tests
from tests.unit.integrations.table_stream import TableStream, published
from tests.unit.money import test_commission_cascade as cascade_tests
from tests.unit.teams import test_reminders as reminder_tests

leads_call = api_caller("leads")
partners_call = api_caller("partners")
ADMIN, REP = "user-admin", "user-rep"


def only(events: list[Event]) -> Event:
    (event,) = events
    return event


def valid(event: Event) -> dict[str, Any]:
    """The event's data, checked against its type's model (as a receiver would read it); every event read from
    the stream is checked against its published JSON Schema too (table_stream.published)."""
    model = catalogue.EVENT_TYPES[event.type].model
    return model.model_validate(event.data).model_dump(mode="json")


# -- leads and customers -------------------------------------------------------------------------------


@pytest.fixture
def lead_org() -> dict[str, str]:
    created = leads_call("POST", "/orgs", user=ADMIN, groups=OPERATOR, body={"name": "Acme Security"})
    org_id = body_of(created)["org_id"]
    permissions = ["leads:request", "leads:return", "leads:create", "leads:view_pending"]
    assert (
        leads_call("PUT", f"/orgs/{org_id}/members/{REP}", user=ADMIN, body={"permissions": permissions})["statusCode"]
        == 200
    )
    return {"org_id": org_id}


def enter_lead(org_id: str, **fields: Any) -> str:
    body = {
        "contact_name": "Jane Doe",
        "phone": "+15550100",
        "email": "jane@example.org",
        "source_id": "self-generated",
        **fields,
    }
    entered = leads_call("POST", f"/orgs/{org_id}/leads", user=REP, body=body)
    assert entered["statusCode"] == 201, entered
    return str(body_of(entered)["lead_id"])


def test_a_leads_changes_are_its_events_and_keeping_it_is_none(
    lead_org: dict[str, str], stream: TableStream, frozen_clock: FrozenClock
) -> None:
    org_id = lead_org["org_id"]

    lead_id = enter_lead(org_id, location="queue")
    received = only(stream.events())
    assert (received.type, received.org_id, received.version) == ("lead.received", org_id, 1)
    assert valid(received)["lead_id"] == lead_id and received.data["status"] == "queued"
    assert received.occurred_at == received.data["received_at"]

    frozen_clock.advance(seconds=1)
    claimed = leads_call("POST", f"/orgs/{org_id}/lead-queue/claims", user=REP)
    assert body_of(claimed)["lead_id"] == lead_id
    event = only(stream.events())
    assert (event.type, event.data["assignee"], event.data["status"]) == ("lead.claimed", REP, "assigned")
    assert event.occurred_at == event.data["updated_at"] == event.data["history"][-1]["at"]

    assert leads_call("POST", f"/orgs/{org_id}/leads/{lead_id}/keep", user=REP)["statusCode"] == 200
    assert stream.events() == []  # kept: nothing an integrator follows changed

    assert leads_call("POST", f"/orgs/{org_id}/leads/{lead_id}/requeue", user=REP, body={})["statusCode"] == 200
    assert [e.type for e in stream.events()] == ["lead.requeued"]
    leads_call("POST", f"/orgs/{org_id}/lead-queue/claims", user=REP)
    assert stream.types() == ["lead.claimed"]
    invalid = leads_call(
        "POST", f"/orgs/{org_id}/leads/{lead_id}/invalidate", user=REP, body={"reason": "Wrong number"}
    )
    assert invalid["statusCode"] == 200, invalid
    event = only(stream.events())
    assert (event.type, valid(event)["invalid_reason"]) == ("lead.invalidated", "Wrong number")


def test_a_conversion_is_the_leads_event_and_the_new_customers(lead_org: dict[str, str], stream: TableStream) -> None:
    org_id = lead_org["org_id"]
    lead_id = enter_lead(org_id, location="queue")
    leads_call("POST", f"/orgs/{org_id}/lead-queue/claims", user=REP)
    stream.read()

    converted = leads_call("POST", f"/orgs/{org_id}/leads/{lead_id}/convert", user=REP)
    assert converted["statusCode"] == 201, converted
    events = {event.type: event for event in stream.events()}
    assert set(events) == {"lead.converted", "customer.created"}
    customer = valid(events["customer.created"])
    assert events["lead.converted"].data["customer_id"] == customer["customer_id"]
    # The customer as staff read it, `is_partner` looked up as every answer of a customer does.
    assert customer == body_of(converted)["customer"]
    assert (customer["is_partner"], customer["source"]["lead_id"]) == (False, lead_id)
    assert events["customer.created"].occurred_at == customer["created_at"]


def test_a_customer_sold_to_us_is_received_not_created(lead_org: dict[str, str], stream: TableStream) -> None:
    org_id = lead_org["org_id"]
    company = companies.create_company(org_id, companies.NewCompany(name="Alarm Dealer"), ADMIN)
    company |= {"sells_customers": True, "customer_purchase": {"office_location": "Austin"}}
    example = customer_intake.PurchasedCustomer.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]
    posted = customer_intake.PurchasedCustomer.model_validate({**example, "campaign_id": None})
    stream.read()

    customer, created = customer_intake.intake_customer(org_id, company, posted)
    assert created
    event = only(stream.events())
    assert (event.type, event.version, event.occurred_at) == ("customer.received", 1, customer["created_at"])
    data = valid(event)
    assert data == customers.StaffCustomer.of({**customer, "is_partner": False}).model_dump(mode="json")
    assert (data["origin"], data["office_location"], data["owner"]) == ("purchased", "Austin", None)
    assert data["account"]["minor_units"] == 2 and data["source"]["lead_id"] is None

    assert customer_intake.intake_customer(org_id, company, posted)[1] is False
    # The repost's transaction was cancelled: no second customer (moto streams a cancelled put, AWS does not).
    listed, _ = customers.list_customers(org_id, Member(org_id, ADMIN, "admin", frozenset()))
    assert [c["customer_id"] for c in listed] == [customer["customer_id"]]


def test_a_return_to_the_company_is_an_event_of_each_lead_returned(
    lead_org: dict[str, str], stream: TableStream
) -> None:
    org_id = lead_org["org_id"]
    company = companies.create_company(
        org_id,
        companies.NewCompany(name="Acme Leads", sells_leads=True, default_lead_location="pending"),
        ADMIN,
    )
    first, _ = intake.intake_lead(
        org_id, company, intake.IntakeLead(external_id="A-1", contact_name="Ann", phone="+15550101")
    )
    second, _ = intake.intake_lead(
        org_id, company, intake.IntakeLead(external_id="A-2", contact_name="Bob", phone="+15550102")
    )
    assert stream.types() == ["lead.received", "lead.received"]

    returned = leads_call(
        "POST",
        f"/orgs/{org_id}/lead-returns",
        user=REP,
        body={"lead_ids": [first["lead_id"], second["lead_id"]], "comments": "Not in our area"},
    )
    assert returned["statusCode"] == 200, returned
    events = stream.events()
    assert [(e.type, e.data["lead_id"]) for e in events] == [
        ("lead.returned", first["lead_id"]),
        ("lead.returned", second["lead_id"]),
    ]
    assert valid(events[0])["returned"]["comments"] == "Not in our area"
    assert len({e.id for e in events}) == 2  # two changes (records) of one transaction: two ids


# -- partners and the programme ------------------------------------------------------------------------


@pytest.mark.cognito
def test_a_partners_arrival_status_and_removal_are_events_and_an_edit_is_none(
    stream: TableStream, frozen_clock: FrozenClock
) -> None:
    org = programme_tests.new_org()
    manager = org.staff("manager", ["partners:manage"])
    body = {"first_name": "Pat", "last_name": "Partner", "email": "pat@partner.example", "phone": "+15550100"}
    stream.read()

    added = partners_call("POST", f"{org.path}/partners", user=manager, body=body)
    assert added["statusCode"] == 201, added
    partner_id = body_of(added)["partner_id"]
    event = only([e for e in stream.events() if e.type.startswith("partner.")])
    assert (event.type, valid(event)["partner_id"], event.data["origin"]) == ("partner.added", partner_id, "added")
    assert event.data == body_of(added)  # the partner as staff read it

    frozen_clock.advance(seconds=1)
    path = f"{org.path}/partners/{partner_id}"
    assert partners_call("PATCH", path, user=manager, body={"first_name": "Patricia"})["statusCode"] == 200
    assert stream.events() == []  # an edit changes no status
    ended = partners_call("POST", f"{path}/status", user=manager, body={"status": "ENDED"})
    assert ended["statusCode"] == 200, ended
    event = only(stream.events())
    assert (event.type, event.data["status"], event.occurred_at) == (
        "partner.status_changed",
        "ENDED",
        event.data["updated_at"],
    )

    assert partners_call("DELETE", path, user=manager)["statusCode"] == 204
    assert [(e.type, e.data["partner_id"]) for e in stream.events()] == [("partner.removed", partner_id)]
    # Added again: the node put back over the removed one is an arrival.
    again = partners_call("POST", f"{org.path}/partners", user=manager, body=body)
    assert again["statusCode"] == 201, again
    assert [e.type for e in stream.events() if e.type.startswith("partner.")] == ["partner.added"]


@pytest.mark.cognito
def test_joining_inviting_and_registering_are_the_programmes_events(stream: TableStream) -> None:
    org = programme_tests.new_org()
    boss = org.staff("boss", ["programme:join"])
    programme_tests.put_partner(org.org_id, "p1")
    stream.read()

    joined = partners_call("POST", f"{org.path}/programme/join", user=boss, body={})
    assert joined["statusCode"] == 201, joined
    event = only(stream.events())
    assert (event.type, event.data["partner_id"], event.data["origin"]) == ("programme.joined", boss, "joined")
    valid(event)

    token = registration_tests.invitation_token(org)  # p1 invites (and the stream's e-mail sends the link)
    event = only(stream.events())
    invitation = valid(event)
    assert (event.type, invitation["inviter_id"], invitation["state"]) == ("programme.invited", "p1", "sent")
    assert event.occurred_at == invitation["created_at"]

    body = {"token": token, "password": registration_tests.PASSWORD}
    assert partners_call("POST", "/public/registrations/invitation", body=body)["statusCode"] == 201
    registered = [e for e in stream.events() if e.type.startswith(("programme.", "partner."))]
    assert [(e.type, e.data["origin"], e.data["upline"]) for e in registered] == [
        ("programme.registered", "invitation", ["p1"])
    ]
    referred = registration_tests._referral(org, email="rex@referred.example")
    assert referred["statusCode"] == 202, referred
    registered = [e for e in stream.events() if e.type.startswith(("programme.", "partner."))]
    assert [(e.type, e.data["origin"], e.data["email"]) for e in registered] == [
        ("programme.registered", "referral", "rex@referred.example")
    ]


# -- deals and money -----------------------------------------------------------------------------------


def test_a_deals_life_and_the_money_it_moves_are_events(stream: TableStream, frozen_clock: FrozenClock) -> None:
    programme = cascade_tests.Programme()
    credited, upline = programme.partners[0], programme.partners[1]
    stream.read()

    deal = programme.deal()
    events = stream.events()
    assert [e.type for e in events] == ["deal.created", "partner.status_changed"]  # a credited lead: ACTIVE
    assert valid(events[0]) == Deal.of(deal).model_dump(mode="json")
    assert (events[1].data["partner_id"], events[1].data["status"]) == (credited, "ACTIVE")

    frozen_clock.advance(seconds=1)
    [(old, new)] = programme.moves(deal, "Won")
    moved = only(stream.events())
    assert (moved.type, moved.data["stage_name"]) == ("deal.stage_changed", "Won")
    assert moved.occurred_at == moved.data["stage_history"][-1]["at"]
    commissions.on_change(old, new)  # the payouts consumer's cascade
    paid = [e for e in stream.events() if e.type.startswith("commission.")]
    assert [(e.type, e.data["partner_id"], e.data["amount"]) for e in paid] == [
        ("commission.paid", partner, amount)
        for partner, amount in zip(programme.partners, cascade_tests.PAID, strict=True)
    ]
    assert all(valid(e)["kind"] == "commission" and e.occurred_at == e.data["recorded_at"] for e in paid)

    staff_deals.share_deal(programme.org_id, deal["deal_id"], programme.admin, upline)
    shared = only(stream.events())
    assert (shared.type, shared.data["partner_ids"]) == ("deal.shared", [credited, upline])

    request = payout_requests.request_payout(
        programme.org_id, credited, payout_requests.NewPayoutRequest(amount=60_000)
    )
    requested = only(stream.events())
    assert (requested.type, valid(requested)["status"], requested.data["partner_name"]) == (
        "payout.requested",
        "pending",
        "Level 1",
    )
    payout_requests.pay(programme.org_id, request["request_id"], ADMIN)
    settled = only(stream.events())  # the payout's own ledger entry is told by the request
    assert (settled.type, settled.data["status"], settled.data["settled_by"]) == (
        "payout.paid",
        "paid",
        f"user:{ADMIN}",
    )
    again = payout_requests.request_payout(programme.org_id, credited, payout_requests.NewPayoutRequest(amount=1_000))
    stream.read()
    payout_requests.reject(programme.org_id, again["request_id"], ADMIN, payout_requests.Rejection(reason="No invoice"))
    rejected = only(stream.events())
    assert (rejected.type, rejected.data["reject_reason"]) == ("payout.rejected", "No invoice")
    assert rejected.occurred_at == rejected.data["settled_at"]

    [(old, new)] = programme.moves(deal, "Cancelled")
    assert stream.types() == ["deal.stage_changed"]
    commissions.on_change(old, new)
    reversed_ = [e for e in stream.events() if e.type.startswith("commission.")]
    assert [(e.type, e.data["amount"]) for e in reversed_] == [
        ("commission.reversed", -amount) for amount in cascade_tests.PAID
    ]

    correction = ledger.Correction(amount=2_500, reason="Referral fee agreed separately")
    ledger.correct(programme.org_id, upline, programme.admin, correction)
    corrected = only(stream.events())
    assert (corrected.type, corrected.data["details"]["reason"], corrected.data["amount"]) == (
        "wallet.corrected",
        "Referral fee agreed separately",
        2_500,
    )


# -- partner teams and referrals ----------------------------------------------------------------------


def test_a_referrals_life_and_its_customers_are_events(
    twilio: FakeTwilio, stream: TableStream, frozen_clock: FrozenClock
) -> None:
    org_id, team_id = reminder_tests.new_team()
    customer = ReferralCustomer(first_name="Casey", last_name="Client", email="casey@client.example")
    new = NewReferralRequest(team_id=team_id, customer=customer, summary="3-bed house", expires_in_minutes=60)
    stream.read()

    request = referral_requests.create(org_id, new, ADMIN)
    created = only(stream.events())
    assert (created.type, valid(created)["status"], created.data["code"]) == (
        "referral_request.created",
        "open",
        request["code"],
    )
    assert referral_offers.offer_request(request) == len(reminder_tests.PHONES)  # every eligible member
    offered = stream.events()
    assert {e.type for e in offered} == {"referral_request.offered"}
    assert sorted(e.data["history"][-1]["user_id"] for e in offered) == sorted(reminder_tests.PHONES)
    assert len({e.id for e in offered}) == len(offered)
    assert all(e.occurred_at == e.data["history"][-1]["at"] for e in offered)

    frozen_clock.advance(minutes=5)
    referral_acceptance.accept(org_id, request["request_id"], reminder_tests.M1, via="dashboard")
    events = {e.type: e for e in stream.events()}
    assert set(events) == {"referral_request.accepted", "team_customer.assigned"}
    accepted, assigned = valid(events["referral_request.accepted"]), valid(events["team_customer.assigned"])
    assert (accepted["status"], accepted["assignee_id"]) == ("accepted", reminder_tests.M1)
    assert (assigned["assignee_id"], assigned["status"], assigned["overdue"]) == (reminder_tests.M1, "new", False)
    assert assigned["is_partner"] is None  # looked up by reads only, as on the answers of changes

    customer_id = assigned["customer_id"]
    leader = reminder_tests.caller_for(org_id, team_id, reminder_tests.LEADER)
    team_customers.reassign(leader, customer_id, team_customers.Reassignment(user_id=reminder_tests.M2))
    event = only(stream.events())
    assert (event.type, event.data["assignee_id"]) == ("team_customer.assigned", reminder_tests.M2)
    member = reminder_tests.caller_for(org_id, team_id, reminder_tests.M2)
    team_customers.update_status(
        member, customer_id, team_customers.CustomerStatusChange(status="new", note="Left a message")
    )
    assert stream.events() == []  # the same status again, with a note: no change of status
    team_customers.update_status(member, customer_id, team_customers.CustomerStatusChange(status="contacted"))
    event = only(stream.events())
    assert (event.type, event.data["status"]) == ("team_customer.status_changed", "contacted")

    frozen_clock.advance(days=8)
    reminder_tests.sweep()
    overdue = [e for e in stream.events() if e.type.startswith("team_customer.")]
    assert [(e.type, e.data["overdue"]) for e in overdue] == [("team_customer.overdue", True)]
    assert overdue[0].occurred_at == f"{frozen_clock.moment:%Y-%m-%dT%H:%M:%S}.000Z"
    frozen_clock.advance(days=1)
    reminder_tests.sweep()
    assert [e for e in stream.events() if e.type.startswith("team_customer.")] == []  # once per due date


def test_a_request_nobody_accepted_expires_as_an_event(stream: TableStream, frozen_clock: FrozenClock) -> None:
    org_id, team_id = reminder_tests.new_team()
    customer = ReferralCustomer(first_name="Casey", last_name="Client")
    new = NewReferralRequest(team_id=team_id, customer=customer, summary="Flat to rent", expires_in_minutes=5)
    request = referral_requests.create(org_id, new, ADMIN)
    stream.read()

    frozen_clock.advance(minutes=6)
    sweeps.run(referral_expiry.hand_on, {referral_expiry.JOB: referral_expiry.work})
    expired = only(stream.events())
    assert (expired.type, valid(expired)["request_id"], expired.data["status"]) == (
        "referral_request.expired",
        request["request_id"],
        "expired",
    )


# -- the record itself ---------------------------------------------------------------------------------


def test_a_redelivered_record_means_the_same_events_and_another_record_others(
    lead_org: dict[str, str], stream: TableStream
) -> None:
    enter_lead(lead_org["org_id"])
    (record,) = stream.read()

    first, again = events_of(record), events_of(copy.deepcopy(record))
    assert first == again
    assert only(first).id == event_id(record["eventID"], "lead.received")
    other = {**record, "eventID": "another-change"}
    assert only(events_of(other)).id != only(first).id


def test_an_organisation_without_endpoints_records_no_events_and_one_with_an_endpoint_does(
    lead_org: dict[str, str], stream: TableStream
) -> None:
    org_id = lead_org["org_id"]
    enter_lead(org_id)
    (unheard,) = stream.read()
    on_change(unheard)
    assert events.between(org_id, "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z")[0] == []

    new = NewWebhookEndpoint(url="https://crm.example.com/hooks", event_types=["lead.received"], enabled=False)
    endpoints.create_endpoint(org_id, new, ADMIN, policy=urls.OutboundPolicy(allow_loopback=False))
    enter_lead(org_id, phone="+15550101")
    heard = [
        record for record in stream.read() if (db.stream_images(record["dynamodb"])[1] or {}).get("entity") == "lead"
    ]
    on_change(heard[-1])
    (recorded,) = events.between(org_id, "2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z")[0]
    assert recorded.id == only(events_of(heard[-1])).id


def test_without_its_own_time_an_event_takes_the_records(stream: TableStream) -> None:
    org_id, team_id = reminder_tests.new_team()
    stream.read()
    reminder_tests.add_customer(org_id, team_id, reminder_tests.M1)
    (inserted,) = [r for r in stream.read() if r["dynamodb"]["NewImage"]["entity"]["S"] == "team_customer"]
    customer = db.stream_images(inserted["dynamodb"])[1]
    assert customer is not None
    # Noted overdue by a sweep that did not record when (an older item): the record's time stands.
    noted = {**customer, team_customers.OVERDUE_FOR: customer["due_at"]}
    record = stream_record("MODIFY", noted, customer, seq=7)
    record["dynamodb"]["ApproximateCreationDateTime"] = 1_796_600_000

    event = published(only(events_of(record)))
    assert (event.type, event.occurred_at) == ("team_customer.overdue", "2026-12-06T23:33:20.000Z")
    assert valid(event)["overdue"] is True  # as of that time: it was due on 2026-11-29


def test_a_removal_a_change_without_its_old_image_and_other_entities_mean_nothing(
    lead_org: dict[str, str], stream: TableStream
) -> None:
    lead_id = enter_lead(lead_org["org_id"], location="queue")
    leads_call("POST", f"/orgs/{lead_org['org_id']}/lead-queue/claims", user=REP)
    records = stream.read()
    claimed = next(r for r in records if r["eventName"] == "MODIFY")
    assert only(events_of(claimed)).type == "lead.claimed"

    cut = copy.deepcopy(claimed)
    del cut["dynamodb"]["OldImage"]
    cut["dynamodb"]["OldImageOmitted"] = True  # as the dispatcher sends a change too large with both
    assert events_of(cut) == []
    removed = {**copy.deepcopy(claimed), "eventName": "REMOVE"}
    removed["dynamodb"] = {k: v for k, v in claimed["dynamodb"].items() if k != "NewImage"}
    assert events_of(removed) == []
    membership = [r for r in records if r["dynamodb"]["NewImage"]["entity"]["S"] != "lead"]
    assert all(events_of(r) == [] for r in membership)
    assert lead_id
