"""No item outgrows DynamoDB's 400 KB: histories keep their newest entries on the item and move older ones to
archive pages (common.platform.history), lists that only a user grows are capped. Each kind is driven through many
more appends than its item holds, with the longest entries it accepts, and its size measured as stored."""

from __future__ import annotations

from typing import Any

import pytest
from common.deals import credited_leads, deal_records, staff_deals
from common.leads import model as lead_model
from common.money import cascade
from common.partners.partner_records import NODE_HISTORY, PartnerStatus, node_item, node_key
from common.platform import db, history, listings
from common.teams import delivery_status, referral_acceptance, referral_offers, referral_requests, team_customers
from common.teams.team_model import phone_link_key, referral_key, team_customer_key

from tests.support import Call, api_caller, body_of
from tests.unit.conftest import FrozenClock
from tests.unit.functions.referrals.test_teams import (
    ADMIN,
    LEADER,
    M1,
    M2,
    PHONES,
    add_customer,
    create_team,
    new_org,
    put_member,
)
from tests.unit.money.test_commission_cascade import ADMIN as PROGRAMME_ADMIN
from tests.unit.money.test_commission_cascade import STAGES, Images, Programme, deliver, payment, reversal

# The longest note a status update takes: 4000 characters, each 4 bytes in UTF-8.
LONGEST = "\U0001f600" * 3990
# What a bounded item may reach: well under DynamoDB's 400 KB, whatever else it carries.
ITEM_BUDGET = 200_000


def size_of(key: db.Key) -> int:
    item = db.get(key, consistent=True)
    assert item is not None
    return history.item_bytes(item)


def every_page(call: Call, path: str, user: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        answer = call("GET", path, user=user, query={"limit": "40", **({"cursor": cursor} if cursor else {})})
        assert answer["statusCode"] == 200, answer
        page = body_of(answer)
        entries += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return entries


@pytest.fixture
def referrals() -> Call:
    return api_caller("referrals")


@pytest.fixture
def leads_api() -> Call:
    return api_caller("leads")


# More than ten times what a customer holds of the longest notes.
NOTES = 90


# -- team customers --------------------------------------------------------------------------------


def test_many_long_status_notes_keep_a_team_customer_bounded_and_listed(
    referrals: Call, frozen_clock: FrozenClock
) -> None:
    org = new_org()
    team = create_team(referrals, org)
    assert put_member(referrals, org, team, M1)["statusCode"] == 201
    customer = add_customer(org, team, M1)
    path = f"/orgs/{org}/teams/{team}/customers/{customer}"
    largest = 0
    for n in range(NOTES):
        frozen_clock.advance(seconds=1)
        user = M1 if n % 3 else LEADER
        answer = referrals("POST", f"{path}/status", user=user, body={"status": "contacted", "note": f"{n} {LONGEST}"})
        assert answer["statusCode"] == 200, answer
        largest = max(largest, size_of(team_customer_key(org, team, customer)))
    assert largest < ITEM_BUDGET

    shown = body_of(referrals("GET", path, user=M1))
    assert len(shown["history"]) <= team_customers.HISTORY.limit
    assert shown["history"][-1]["note"] == f"{NOTES - 1} {LONGEST}"
    assert shown["history_archived"] + len(shown["history"]) == NOTES + 1

    listed = every_page(referrals, f"{path}/history", M1)
    assert [(e["note"] or "").split(" ")[0] for e in listed] == [str(n) for n in reversed(range(NOTES))] + [""]
    assert listed[-1]["event"] == "created"
    # A member who is not the customer's assignee sees neither the customer nor its history.
    assert referrals("GET", f"{path}/history", user="user-m2")["statusCode"] == 404


# -- leads -----------------------------------------------------------------------------------------


def test_a_lead_worked_over_and_over_stays_bounded_and_keeps_its_whole_history(
    leads_api: Call, frozen_clock: FrozenClock
) -> None:
    org = new_org()
    entered = leads_api(
        "POST",
        f"/orgs/{org}/leads",
        user=ADMIN,
        body={"contact_name": "Jo", "phone": "+15550100", "source_id": "self-generated"},
    )
    assert entered["statusCode"] == 201, entered
    lead_id = body_of(entered)["lead_id"]
    path = f"/orgs/{org}/leads/{lead_id}"
    actions = ["received"]

    def act(method: str, route: str, action: str, **kwargs: Any) -> None:
        frozen_clock.advance(seconds=1)
        answer = leads_api(method, route, user=ADMIN, **kwargs)
        assert answer["statusCode"] in (200, 201), answer
        actions.append(action)

    act("POST", f"{path}/requeue", "requeued", body={})
    for n in range(200):
        if n % 10 == 0:
            act("POST", f"/orgs/{org}/lead-queue/claims", "claimed")
        elif n % 10 == 9:
            act("POST", f"{path}/requeue", "requeued", body={})
        else:
            act("POST", f"{path}/keep", "kept")
    stored = db.get(lead_model.lead_key(org, lead_id), consistent=True)
    assert stored is not None and len(stored["history"]) <= lead_model.HISTORY.limit
    assert history.item_bytes(stored) < 50_000

    shown = body_of(leads_api("GET", path, user=ADMIN))
    assert shown["history_archived"] + len(shown["history"]) == len(actions)
    listed = every_page(leads_api, f"{path}/history", ADMIN)
    assert [e["action"] for e in listed] == actions[::-1]
    assert (
        "history"
        not in body_of(leads_api("GET", f"/orgs/{org}/leads", user=ADMIN, query={"status": "queued"}))["items"][0]
    )

    act("POST", f"/orgs/{org}/lead-queue/claims", "claimed")
    act("POST", f"{path}/convert", "converted")
    assert [e["action"] for e in every_page(leads_api, f"{path}/history", ADMIN)] == actions[::-1]


# -- deals and the commission cascade ------------------------------------------------------------------


@pytest.fixture
def programme() -> Programme:
    return Programme()


# Three times what a deal holds.
MOVES = 150


def test_many_stage_moves_keep_a_deal_bounded_and_its_stage_history_listed(
    programme: Programme, frozen_clock: FrozenClock
) -> None:
    partners = api_caller("partners")
    deal = programme.deal()
    path = f"/orgs/{programme.org_id}/deals/{deal['deal_id']}"
    names = ["New"]
    for n in range(MOVES):
        frozen_clock.advance(seconds=1)
        names.append(("Open", "Won", "Cancelled", "Signed")[n % 4])
        answer = partners("POST", f"{path}/stage", user=PROGRAMME_ADMIN, body={"stage_id": programme.stage(names[-1])})
        assert answer["statusCode"] == 200, answer
        stored = programme.read(deal["deal_id"])
        assert len(stored["stage_history"]) <= deal_records.STAGE_HISTORY.limit
    assert history.item_bytes(stored) < 100_000

    shown = body_of(partners("GET", path, user=PROGRAMME_ADMIN))
    assert shown["stage_history_archived"] + len(shown["stage_history"]) == MOVES + 1
    assert shown["stage_history"][-1]["stage_name"] == names[-1]
    listed = every_page(partners, f"{path}/stage-history", PROGRAMME_ADMIN)
    assert [e["stage_name"] for e in listed] == names[::-1]


def expected_ledger(deal: db.Item, settings: list[tuple[str, str]]) -> dict[str, int]:
    """The entries the deal's changes give applied in order, once: (stage id, setting) per change from 1."""
    entries: dict[str, int] = {}
    live: dict[str, int] | None = None
    for number, (stage_id, setting) in enumerate(settings, start=1):
        if setting == "compute" and live is None:
            live = payment(deal, stage_id, number)
            entries |= live
        elif setting == "reverse" and live is not None:
            entries |= reversal(live)
            live = None
    return entries


@pytest.mark.parametrize("order", ["newest first", "newest, then the rest in reverse"])
def test_the_cascade_applies_changes_that_left_the_deal_for_its_history_pages(
    programme: Programme, frozen_clock: FrozenClock, order: str
) -> None:
    deal = programme.deal()
    # Paid and reversed three times, then long moves between stages that pay nothing, then paid again: the
    # last change's image no longer holds the first ones.
    acting = ["Won", "Cancelled", "Signed", "Cancelled", "Won", "Cancelled"]
    names = [*acting, *(("Open", "New")[n % 2] for n in range(deal_records.STAGE_HISTORY.limit)), "Signed"]
    images: list[Images] = []
    for name in names:
        frozen_clock.advance(seconds=1)
        images += programme.moves(deal, name)
    newest = images[-1][1]
    assert deal_records.STAGE_HISTORY.archived(newest) > len(acting)  # the first changes are only in pages now
    settings = dict(STAGES)
    expected = expected_ledger(deal, [(programme.stage(n), settings[n]) for n in names])

    if order == "newest first":
        deliver([images[-1]])  # held-up deliveries of every earlier change arrive after it
        deliver(images)
    else:
        deliver([images[-1], *reversed(images[:-1])])
    assert programme.ledger(deal) == expected
    assert programme.record(deal)["applied_change"] == len(names)  # the last change, the newest that acts


# -- partners --------------------------------------------------------------------------------------


def test_a_partner_changed_over_and_over_stays_bounded_and_its_activity_lists_everything(
    programme: Programme, frozen_clock: FrozenClock
) -> None:
    partners = api_caller("partners")
    org, partner_id = programme.org_id, programme.partners[0]
    path = f"/orgs/{org}/partners/{partner_id}"
    actions = ["added"]
    for _ in range(12):  # deals credited to the partner: each is a lead in its history, from the stream
        frozen_clock.advance(seconds=1)
        credited_leads.on_change(None, programme.deal())
        actions.append("lead")
    frozen_clock.advance(seconds=1)
    contact = {"channel": "phone", "summary": "Called about the new terms"}
    assert partners("POST", f"{path}/contacts", user=PROGRAMME_ADMIN, body=contact)["statusCode"] == 201
    for n in range(40):
        frozen_clock.advance(seconds=1)
        status = ("ENDED", "LIVE")[n % 2]
        body = {"status": status, "reason": f"{n} {LONGEST}"}
        answer = partners("POST", f"{path}/status", user=PROGRAMME_ADMIN, body=body)
        assert answer["statusCode"] == 200, answer
        actions.append("status_changed")
        node = db.get(node_key(org, partner_id), consistent=True)
        assert node is not None and len(node["history"]) <= NODE_HISTORY.limit
        assert history.item_bytes(node) < ITEM_BUDGET

    listed = every_page(partners, f"{path}/activity", PROGRAMME_ADMIN)
    assert [e["kind"] for e in listed].count("contact") == 1
    assert [e["action"] for e in listed if e["kind"] == "history"] == actions[::-1]
    assert [e["reason"].split(" ")[0] for e in listed if e.get("action") == "status_changed"] == [
        str(n) for n in reversed(range(40))
    ]


# -- referral requests -----------------------------------------------------------------------------


def test_a_referral_request_with_many_offers_failures_and_replies_stays_bounded(
    referrals: Call, frozen_clock: FrozenClock
) -> None:
    org = new_org()
    team = create_team(referrals, org)
    for user in (M1, M2):
        assert put_member(referrals, org, team, user)["statusCode"] == 201
    new = referral_requests.NewReferralRequest.model_validate(
        {"team_id": team, "customer": {"first_name": "Cleo", "last_name": "Client"}, "summary": "A 3-bed house"}
    )
    request = referral_requests.create(org, new, ADMIN)
    request_id = request["request_id"]
    events = ["created"]
    for n in range(40):  # a large team: an offer to each member, and some texts that never arrive
        frozen_clock.advance(seconds=1)
        user = f"user-team-{n:03d}"
        referral_offers._record(request, user, {"status": "queued", "sid": f"SM{n:032d}"})
        events.append("offered")
        if n % 2:
            assert delivery_status.record_delivery(org, request_id, user, "undelivered", "30003")
            events.append("delivery_failed")
    frozen_clock.advance(seconds=1)
    referral_acceptance.accept(org, request_id, M1, via="dashboard")
    events.append("accepted")
    link = db.get(phone_link_key(PHONES[M2], org, team), consistent=True)
    assert link is not None
    for n in range(40):  # a member texting all day about a referral that is taken
        frozen_clock.advance(seconds=1)
        outcome = referral_acceptance.accept_by_code(link, request["code"], message_sid=f"SM{n:032d}")
        assert outcome.result == "taken"
        events.append("reply")

    stored = db.get(referral_key(org, request_id), consistent=True)
    assert stored is not None and len(stored["history"]) <= referral_requests.HISTORY.limit
    assert history.item_bytes(stored) < 50_000
    shown = body_of(referrals("GET", f"/orgs/{org}/referral-requests/{request_id}", user=ADMIN))
    assert shown["history_archived"] + len(shown["history"]) == len(events)
    listed = every_page(referrals, f"/orgs/{org}/referral-requests/{request_id}/history", ADMIN)
    assert [e["event"] for e in listed] == events[::-1]


# -- the mechanism: races and items written before the bound -----------------------------------------


def test_an_item_written_before_the_bound_is_archived_in_pages_on_its_next_change(referrals: Call) -> None:
    org = new_org()
    team = create_team(referrals, org)
    assert put_member(referrals, org, team, M1)["statusCode"] == 201
    customer = add_customer(org, team, M1)
    key = team_customer_key(org, team, customer)
    item = db.get(key, consistent=True)
    assert item is not None
    old = [
        {
            "at": f"2026-01-01T00:00:{n // 10:02d}.{n % 10:03d}Z",
            "by": "user:x",
            "event": "status",
            "note": f"{n} {'x' * 1500}",
        }
        for n in range(120)
    ]
    db.put({**item, "history": old})  # 120 entries, 190 KB: past both of the bound's limits
    path = f"/orgs/{org}/teams/{team}/customers/{customer}"
    answer = referrals("POST", f"{path}/status", user=M1, body={"status": "contacted", "note": "and now"})
    assert answer["statusCode"] == 200, answer
    assert size_of(key) < team_customers.HISTORY.max_bytes + 20_000
    pages = listings.all_with_prefix(team_customers.HISTORY.pages_at(item)[0], f"HISTORY#{customer}#", consistent=True)
    assert len(pages) > 1 and all(history.item_bytes(p) < 400_000 for p in pages)
    listed = every_page(referrals, f"{path}/history", M1)
    assert [e["note"].split(" ")[0] for e in listed] == ["and", *(str(n) for n in reversed(range(120)))]


def test_a_write_decided_on_a_read_the_history_outran_is_decided_again(
    referrals: Call, frozen_clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = new_org()
    team = create_team(referrals, org)
    assert put_member(referrals, org, team, M1)["statusCode"] == 201
    customer = add_customer(org, team, M1)
    path = f"/orgs/{org}/teams/{team}/customers/{customer}"

    def update(note: str) -> None:
        frozen_clock.advance(seconds=1)
        answer = referrals("POST", f"{path}/status", user=M1, body={"status": "contacted", "note": note})
        assert answer["statusCode"] == 200, answer

    for n in range(team_customers.HISTORY.limit - 1):
        update(f"{n}")
    stale = db.get(team_customer_key(org, team, customer), consistent=True)  # full: the next update archives
    update("meanwhile")  # another caller's update archives first
    read = team_customers.get_customer
    monkeypatch.setattr(team_customers, "get_customer", lambda *args, **kwargs: stale)
    update("decided on the stale read")
    monkeypatch.setattr(team_customers, "get_customer", read)
    listed = every_page(referrals, f"{path}/history", M1)
    notes = [e.get("note") for e in listed]
    assert notes[:2] == ["decided on the stale read", "meanwhile"]
    assert len(notes) == team_customers.HISTORY.limit + 2  # nothing lost, nothing twice


# -- lists with a hard cap ---------------------------------------------------------------------------


def test_a_deal_is_shared_with_at_most_so_many_partners(programme: Programme, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(staff_deals, "MAX_SHARES", 3)
    partners = api_caller("partners")
    deal = programme.deal()  # shared with the credited partner
    path = f"/orgs/{programme.org_id}/deals/{deal['deal_id']}/partners"
    for partner_id in programme.partners[1:]:
        assert partners("PUT", f"{path}/{partner_id}", user=PROGRAMME_ADMIN)["statusCode"] == 201
    one_more = node_item(
        org_id=programme.org_id,
        partner_id="partner-4",
        first_name="One",
        last_name="More",
        email="partner-4@it.example",
        phone=None,
        status=PartnerStatus.LIVE,
        origin="added",
        actor="system",
    )
    db.put(one_more)
    refused = partners("PUT", f"{path}/partner-4", user=PROGRAMME_ADMIN)
    assert refused["statusCode"] == 409, refused
    assert programme.read(deal["deal_id"])["partner_ids"] == programme.partners
    assert partners("PUT", f"{path}/{programme.partners[1]}", user=PROGRAMME_ADMIN)["statusCode"] == 200


def test_a_commission_record_keeps_its_newest_paid_stages(
    programme: Programme, frozen_clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cascade, "MAX_RECORDED", 2)
    deal = programme.deal()
    for name in ("Won", "Cancelled", "Signed", "Cancelled", "Won"):
        frozen_clock.advance(seconds=1)
        deliver(programme.moves(deal, name))
    record = db.get(cascade.record_key(programme.org_id, deal["deal_id"]), consistent=True)
    assert record is not None
    assert record["paid_stages"] == [programme.stage("Signed"), programme.stage("Won")]
    assert record["paid_stages_omitted"] == 1 and len(record["computations"]) == 2
