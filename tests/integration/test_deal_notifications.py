"""Stage-change and shared-note e-mails over HTTP and the local stream: brokers move deals and share notes,
and the partners of the deal who chose these notifications, where the organisation offers them, get one
e-mail each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from common.partners.partner_records import account_key, node_key, settings_key
from common.platform import db

from tests.integration.support.actors import REP_PERMISSIONS, Actor, Organisation, new_organisation
from tests.integration.support.partners import new_partner

CONTACT = {"first_name": "Jane", "last_name": "Doe", "email": "jane@customer.example", "phone": "+1 555 0100"}
ALL_TYPES = ["deal_shared", "deal_stage_changed", "note_shared"]


@dataclass
class Team:
    org: Organisation
    workflow: dict[str, Any]

    @property
    def org_id(self) -> str:
        return self.org.org_id

    @property
    def broker(self) -> Actor:
        return self.org.reps[0]

    def stage(self, name: str) -> str:
        return str(next(s["stage_id"] for s in self.workflow["stages"] if s["name"] == name))

    def partner(self, stack: Any, chosen: list[str]) -> Actor:
        partner = new_partner(stack, self.org_id, brokers=[self.broker.user_id])
        if chosen:
            saved = partner.put(f"/orgs/{self.org_id}/portal/notifications", {"types": chosen})
            assert saved.status_code == 200, saved.text
        return partner

    def deal(self, credited: Actor, *others: Actor) -> dict[str, Any]:
        body = {"workflow_id": self.workflow["workflow_id"], "contacts": [CONTACT], "partner_id": credited.user_id}
        created = self.broker.post(f"/orgs/{self.org_id}/deals", body)
        assert created.status_code == 201, created.text
        deal: dict[str, Any] = created.json()
        for other in others:
            shared = self.broker.put(f"/orgs/{self.org_id}/deals/{deal['deal_id']}/partners/{other.user_id}")
            assert shared.status_code == 201, shared.text
        return deal

    def move(self, deal: dict[str, Any], stage: str) -> None:
        moved = self.broker.post(f"/orgs/{self.org_id}/deals/{deal['deal_id']}/stage", {"stage_id": self.stage(stage)})
        assert moved.status_code == 200, moved.text

    def notes(self, deal: dict[str, Any]) -> str:
        return f"/orgs/{self.org_id}/deals/{deal['deal_id']}/notes"


def new_team(stack: Any, offered: list[str]) -> Team:
    org = new_organisation(stack, reps=1)
    # The broker credits the deals to partners.
    broker = f"/orgs/{org.org_id}/members/{org.reps[0].user_id}"
    money = org.admin.put(broker, {"permissions": [*REP_PERMISSIONS, "deals:money"]})
    assert money.status_code == 200, money.text
    created = org.admin.post(
        f"/orgs/{org.org_id}/workflows", {"name": "Home loans", "stages": [{"name": n} for n in ("New", "Won")]}
    )
    assert created.status_code == 201, created.text
    db.put(
        {
            **settings_key(org.org_id),
            "entity": "programme_settings",
            "org_id": org.org_id,
            "deal_shared_email": True,
            "partner_notification_types": offered,
        }
    )
    return Team(org, created.json())


@pytest.fixture(scope="module")
def team(stack: Any) -> Team:
    return new_team(stack, ALL_TYPES)


def mails_to(stack: Any, partner: Actor, about: str) -> list[dict[str, Any]]:
    account = db.get(account_key(partner.user_id), consistent=True)
    assert account is not None
    return [m for m in stack.outbox() if m["to"] == [account["email"]] and about in m["subject"]]


def test_a_stage_change_mails_the_partners_of_the_deal_who_chose_it(stack: Any, team: Team) -> None:
    chooser = team.partner(stack, ["deal_stage_changed"])
    silent = team.partner(stack, ["note_shared"])
    bystander = team.partner(stack, ["deal_stage_changed"])  # the deal is not shared with them
    deal = team.deal(chooser, silent)
    team.move(deal, "Won")
    stack.wait_for_streams()
    mails = mails_to(stack, chooser, "moved to")
    assert len(mails) == 1
    assert "moved to Won" in mails[0]["subject"]
    assert f"/orgs/{team.org_id}/deals/{deal['deal_id']}" in mails[0]["body"]
    assert CONTACT["email"] not in mails[0]["body"] and "Doe" not in mails[0]["body"]
    assert mails_to(stack, silent, "moved to") == [] and mails_to(stack, bystander, "moved to") == []
    team.move(deal, "New")
    stack.wait_for_streams()
    assert [m["subject"].rsplit(" ", 1)[-1] for m in mails_to(stack, chooser, "moved to")] == ["Won", "New"]
    assert [d for d in stack.dead_letters() if d["function"] == "PartnersEvents"] == []


def test_a_note_mails_the_partners_who_chose_it_once_it_is_shared(stack: Any, team: Team) -> None:
    chooser = team.partner(stack, ["note_shared"])
    silent = team.partner(stack, ["deal_stage_changed"])
    deal = team.deal(chooser, silent)
    hidden = team.broker.post(team.notes(deal), {"body": "valuation came in low"})
    assert hidden.status_code == 201, hidden.text
    own = chooser.post(f"/orgs/{team.org_id}/portal/deals/{deal['deal_id']}/notes", {"body": "called the client"})
    assert own.status_code == 201, own.text
    stack.wait_for_streams()
    assert mails_to(stack, chooser, "shared a note") == []  # an unshared staff note, the partner's own note

    path = f"{team.notes(deal)}/{hidden.json()['note_id']}"
    assert team.broker.patch(path, {"shared_with_partners": True}).status_code == 200
    stack.wait_for_streams()
    mails = mails_to(stack, chooser, "shared a note")
    assert len(mails) == 1
    assert f"/orgs/{team.org_id}/deals/{deal['deal_id']}" in mails[0]["body"]
    assert "valuation" not in mails[0]["body"]

    # Unshared and shared again: nothing new; a note added shared: one more.
    assert team.broker.patch(path, {"shared_with_partners": False}).status_code == 200
    assert team.broker.patch(path, {"shared_with_partners": True}).status_code == 200
    visible = team.broker.post(team.notes(deal), {"body": "approved", "shared_with_partners": True})
    assert visible.status_code == 201, visible.text
    stack.wait_for_streams()
    assert len(mails_to(stack, chooser, "shared a note")) == 2
    assert mails_to(stack, silent, "shared a note") == []
    assert [d for d in stack.dead_letters() if d["function"] == "PartnersEvents"] == []


def test_nothing_is_sent_for_types_the_organisation_does_not_offer(stack: Any) -> None:
    team = new_team(stack, ["deal_shared"])
    partner = team.partner(stack, [])
    # Chosen while the organisation offered them; it offers only deal-shared e-mails now.
    db.update(node_key(team.org_id, partner.user_id), expression="SET notifications = :n", values={":n": ALL_TYPES})
    deal = team.deal(partner)
    team.move(deal, "Won")
    assert team.broker.post(team.notes(deal), {"body": "approved", "shared_with_partners": True}).status_code == 201
    stack.wait_for_streams()
    assert len(mails_to(stack, partner, "shared a deal")) == 1  # the offered one, from the same stream
    assert mails_to(stack, partner, "moved to") == [] and mails_to(stack, partner, "shared a note") == []
