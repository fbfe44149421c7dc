"""A partner's activity is their record's history in the one order it was recorded: paged, it never skips an
entry whose time disagrees with its place, and a deal credited to the partner adds its "lead" entry from
the stream, once, without touching the history in the deal's own transaction."""

from __future__ import annotations

from typing import Any

import pytest
from common.deals import credited_leads
from common.partners import lifecycle
from common.partners.partner_records import (
    NODE_HISTORY,
    PartnerStatus,
    append_events,
    history_event,
    node_item,
    node_key,
    record_lead,
)
from common.platform import db

ORG, PARTNER = "01JD0000000000000000000ORG", "partner-busy"


@pytest.fixture
def node() -> dict[str, Any]:
    item = node_item(
        org_id=ORG,
        partner_id=PARTNER,
        first_name="Busy",
        last_name="Partner",
        email="busy@partner.example",
        phone=None,
        status=PartnerStatus.LIVE,
        origin="added",
        actor="user:admin",
    )
    db.put(item)
    return item


def every_page(limit: int) -> list[dict[str, Any]]:
    listed, cursor = [], None
    while True:
        items, cursor = lifecycle.activity(ORG, PARTNER, cursor=cursor, limit=limit)
        listed += items
        if cursor is None:
            return listed


@pytest.mark.parametrize("limit", [1, 2, 3, 7])
def test_pages_keep_entries_whose_times_disagree_with_their_order(node: dict[str, Any], limit: int) -> None:
    # Written in this order, but with times out of order (a retried write landing after a later one, skew):
    # entry 3 is the newest by time though recorded among the oldest.
    times = ["2026-11-22T09:00:05.000Z", "2026-11-22T09:00:01.000Z", "2026-11-22T09:09:00.000Z"]
    times += [f"2026-11-22T09:00:{n:02d}.000Z" for n in range(10, 30)]
    for n, at in enumerate(times):
        append_events(ORG, PARTNER, [{**history_event("edited", "user:admin", fields=[f"f{n}"]), "at": at}])

    listed = every_page(limit)

    # Every entry once, newest recorded first, the node's own "added" last; the archive pages were used.
    assert [e["fields"][0] for e in listed[:-1]] == [f"f{n}" for n in reversed(range(len(times)))]
    assert listed[-1]["action"] == "added"
    assert (db.get(node_key(ORG, PARTNER)) or {}).get(NODE_HISTORY.archived_attribute)


def test_a_credited_deal_makes_the_partner_active_and_adds_its_lead_entry_once(node: dict[str, Any]) -> None:
    db.transact([record_lead(ORG, PARTNER)], on_cancel=lambda _: AssertionError())
    updated = db.get(node_key(ORG, PARTNER)) or {}
    assert updated["status"] == "ACTIVE" and updated["history"] == node["history"]  # no entry in the transaction

    deal = {
        "pk": f"ORG#{ORG}#DEAL#01JD00000000000000000DEAL1",
        "entity": "deal",
        "org_id": ORG,
        "deal_id": "01JD00000000000000000DEAL1",
        "credited_partner_id": PARTNER,
        "created_by": "user:admin",
        "created_at": "2026-11-22T08:59:00.000Z",
    }
    for _ in range(3):  # redelivered
        credited_leads.on_change(None, deal)
    credited_leads.on_change(deal, {**deal, "title": "edited"})  # a later change of the deal adds nothing

    leads = [e for e in every_page(50) if e["action"] == "lead"]
    assert [(e["deal_id"], e["at"], e["actor"]) for e in leads] == [
        ("01JD00000000000000000DEAL1", "2026-11-22T08:59:00.000Z", "user:admin")
    ]


def test_a_logged_contact_is_an_activity_entry_in_the_order_logged(node: dict[str, Any]) -> None:
    lifecycle.add_contact(
        ORG, PARTNER, lifecycle.NewContact(channel="phone", summary="Intro", at="2020-01-01T10:00:00Z"), "user:a"
    )
    append_events(ORG, PARTNER, [history_event("edited", "user:admin", fields=["phone"])])

    listed = every_page(2)

    assert [e["action"] for e in listed] == ["edited", lifecycle.CONTACT_ACTION, "added"]
    assert listed[1]["at"] == "2020-01-01T10:00:00.000Z" and listed[1]["summary"] == "Intro"


def test_the_activity_route_answers_contacts_as_their_own_kind(node: dict[str, Any]) -> None:
    from common.partners.activity_entries import ActivityEntry

    lifecycle.add_contact(ORG, PARTNER, lifecycle.NewContact(channel="email", summary="Sent brochure"), "user:a")
    contact, added = (ActivityEntry.of(e) for e in every_page(5))

    assert (contact.kind, contact.channel, contact.recorded_by) == ("contact", "email", "user:a")
    assert (added.kind, added.recorded_by) == ("history", None)
