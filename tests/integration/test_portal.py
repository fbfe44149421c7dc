"""The partner portal over HTTP, as signed-in partners use it: only deals shared with them, their own deals in
the default workflow, notes, files and notification choices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import requests
from common.partners.partner_records import PartnerStatus, node_key, settings_key
from common.platform import db

from tests.integration.support.actors import Actor, Organisation, new_organisation, new_user
from tests.integration.support.partners import new_partner

CONTACT = {"first_name": "Jane", "last_name": "Doe", "email": "jane@customer.example", "phone": "+1 555 0100"}


@dataclass
class Portal:
    org: Organisation
    manager: Actor
    default: dict[str, Any]  # the workflow partners create deals in
    other: dict[str, Any]  # another workflow

    @property
    def org_id(self) -> str:
        return self.org.org_id

    @property
    def brokers(self) -> list[Actor]:
        return self.org.reps

    def partner(self, stack: Any, **options: Any) -> Actor:
        options.setdefault("brokers", [b.user_id for b in self.brokers])
        return new_partner(stack, self.org_id, **options)


def save_settings(org_id: str, **settings: Any) -> None:
    db.put({**settings_key(org_id), "entity": "programme_settings", "org_id": org_id, **settings})


@pytest.fixture(scope="module")
def portal(stack: Any) -> Portal:
    org = new_organisation(stack, reps=2)
    manager = new_user(stack, "deal-manager")
    assert org.admin.put(f"/orgs/{org.org_id}/members/{manager.user_id}", {"permissions": ["deals:manage"]}).ok
    workflows = []
    for name in ("Referrals", "Commercial"):
        created = manager.post(
            f"/orgs/{org.org_id}/workflows", {"name": name, "stages": [{"name": "New"}, {"name": "Won"}]}
        )
        assert created.status_code == 201, created.text
        workflows.append(created.json())
    save_settings(
        org.org_id,
        default_workflow_id=workflows[0]["workflow_id"],
        deal_shared_email=True,
        partner_notification_types=["deal_shared", "note_shared"],
    )
    return Portal(org, manager, *workflows)


def portal_deal(portal: Portal, partner: Actor, **fields: Any) -> dict[str, Any]:
    created = partner.post(f"/orgs/{portal.org_id}/portal/deals", {"contacts": [CONTACT], **fields})
    assert created.status_code == 201, created.text
    return created.json()


def status_of(portal: Portal, partner: Actor) -> str:
    node = db.get(node_key(portal.org_id, partner.user_id), consistent=True)
    assert node is not None
    return str(node["status"])


def test_a_partner_deal_is_owned_by_one_of_their_brokers_and_makes_them_active(stack: Any, portal: Portal) -> None:
    partner = portal.partner(stack, status=PartnerStatus.LIVE)
    deal = portal_deal(portal, partner, title="Kitchen renovation")
    assert deal["workflow_id"] == portal.default["workflow_id"]
    assert deal["stage"]["name"] == "New" and [s["name"] for s in deal["stage_history"]] == ["New"]
    assert deal["owner_id"] == min(b.user_id for b in portal.brokers)  # the first broker (brokers are sorted)
    assert deal["credited_to_you"] is True
    assert status_of(portal, partner) == "ACTIVE"
    chosen = max(portal.brokers, key=lambda b: b.user_id)
    second = portal_deal(portal, partner, owner_id=chosen.user_id)
    assert second["owner_id"] == chosen.user_id
    # The chosen broker owns it: it is among their deals.
    owned = chosen.get(f"/orgs/{portal.org_id}/deals").json()["items"]
    assert [(d["deal_id"], d["created_by"]) for d in owned][:1] == [(second["deal_id"], f"partner:{partner.user_id}")]


def test_a_lapsed_partner_is_active_again_with_a_deal(stack: Any, portal: Portal) -> None:
    partner = portal.partner(stack, status=PartnerStatus.LAPSED)
    portal_deal(portal, partner)
    assert status_of(portal, partner) == "ACTIVE"


def test_the_owner_must_be_one_of_the_partners_brokers(stack: Any, portal: Portal) -> None:
    partner = portal.partner(stack, brokers=[portal.brokers[0].user_id])
    refused = partner.post(
        f"/orgs/{portal.org_id}/portal/deals", {"contacts": [CONTACT], "owner_id": portal.manager.user_id}
    )
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["body.owner_id"]
    alone = portal.partner(stack, brokers=[])
    assert alone.post(f"/orgs/{portal.org_id}/portal/deals", {"contacts": [CONTACT]}).status_code == 409


def test_a_partner_deal_names_each_missing_contact_field_and_writes_nothing(stack: Any, portal: Portal) -> None:
    partner = portal.partner(stack)
    path = f"/orgs/{portal.org_id}/portal/deals"
    none = partner.post(path, {"contacts": []})
    assert none.status_code == 422 and [e["field"] for e in none.json()["errors"]] == ["body.contacts"]
    missing = partner.post(path, {"contacts": [{"first_name": "Joe"}, {**CONTACT, "email": "not-an-address"}]})
    assert missing.status_code == 422
    assert missing.headers["content-type"] == "application/problem+json"
    assert {e["field"] for e in missing.json()["errors"]} == {
        "body.contacts.0.last_name",
        "body.contacts.0.email",
        "body.contacts.0.phone",
        "body.contacts.1.email",
    }
    assert partner.get(path).json()["items"] == []
    assert status_of(portal, partner) == "LIVE"


def test_a_partner_never_reads_another_partners_deal(stack: Any, portal: Portal) -> None:
    owner, stranger = portal.partner(stack), portal.partner(stack)
    deal = portal_deal(portal, owner)
    base = f"/orgs/{portal.org_id}/portal/deals/{deal['deal_id']}"
    assert stranger.get(base).status_code == 404
    assert stranger.get(f"{base}/notes").status_code == 404
    assert stranger.post(f"{base}/notes", {"body": "hello"}).status_code == 404
    assert stranger.get(f"{base}/files").status_code == 404
    assert deal["deal_id"] not in [
        d["deal_id"] for d in stranger.get(f"/orgs/{portal.org_id}/portal/deals").json()["items"]
    ]
    # Nor a deal of another organisation, nor the portal of an organisation they are not a partner of.
    elsewhere = new_organisation(stack, reps=0)
    assert owner.get(f"/orgs/{elsewhere.org_id}/portal/deals").status_code == 404


def test_a_deal_added_by_a_broker_shows_in_the_partners_deals_and_workflows(stack: Any, portal: Portal) -> None:
    partner = portal.partner(stack)
    names = [w["name"] for w in partner.get(f"/orgs/{portal.org_id}/portal/workflows").json()["items"]]
    assert names == ["Referrals"]
    broker = portal.brokers[0]
    created = broker.post(
        f"/orgs/{portal.org_id}/deals", {"workflow_id": portal.other["workflow_id"], "contacts": [CONTACT]}
    )
    assert created.status_code == 201, created.text
    deal = created.json()
    assert broker.put(f"/orgs/{portal.org_id}/deals/{deal['deal_id']}/partners/{partner.user_id}").status_code == 201
    workflows = partner.get(f"/orgs/{portal.org_id}/portal/workflows").json()["items"]
    assert [(w["name"], w["is_default"]) for w in workflows] == [("Referrals", True), ("Commercial", False)]
    listed = partner.get(f"/orgs/{portal.org_id}/portal/deals", params={"workflow_id": portal.other["workflow_id"]})
    assert [(d["deal_id"], d["stage"]["name"], d["credited_to_you"]) for d in listed.json()["items"]] == [
        (deal["deal_id"], "New", False)
    ]
    # The broker moves it on: the partner follows its progress.
    won = next(s["stage_id"] for s in portal.other["stages"] if s["name"] == "Won")
    assert broker.post(f"/orgs/{portal.org_id}/deals/{deal['deal_id']}/stage", {"stage_id": won}).status_code == 200
    seen = partner.get(f"/orgs/{portal.org_id}/portal/deals/{deal['deal_id']}").json()
    assert seen["stage"]["name"] == "Won" and [s["name"] for s in seen["stage_history"]] == ["New", "Won"]
    assert "partner_ids" not in seen


def test_a_partner_never_sees_an_unshared_note(stack: Any, portal: Portal) -> None:
    partner, other = portal.partner(stack), portal.partner(stack)
    deal = portal_deal(portal, partner)
    broker = next(b for b in portal.brokers if b.user_id == deal["owner_id"])
    assert broker.put(f"/orgs/{portal.org_id}/deals/{deal['deal_id']}/partners/{other.user_id}").status_code == 201
    staff_notes = f"/orgs/{portal.org_id}/deals/{deal['deal_id']}/notes"
    portal_notes = f"/orgs/{portal.org_id}/portal/deals/{deal['deal_id']}/notes"
    unshared = broker.post(staff_notes, {"body": "internal: check the valuation"}).json()
    shared = broker.post(staff_notes, {"body": "all documents received", "shared_with_partners": True}).json()
    mine = partner.post(portal_notes, {"body": "the client is away next week"})
    assert mine.status_code == 201, mine.text
    seen = {n["note_id"] for n in partner.get(portal_notes).json()["items"]}
    assert seen == {shared["note_id"], mine.json()["note_id"]}
    # Another partner on the same deal sees the shared note only: not the first partner's, never the unshared.
    assert {n["note_id"] for n in other.get(portal_notes).json()["items"]} == {shared["note_id"]}
    staff_seen = {n["note_id"] for n in broker.get(staff_notes).json()["items"]}
    assert staff_seen == {unshared["note_id"], shared["note_id"], mine.json()["note_id"]}
    # Unsharing takes it away again.
    assert broker.patch(f"{staff_notes}/{shared['note_id']}", {"shared_with_partners": False}).status_code == 200
    assert {n["note_id"] for n in other.get(portal_notes).json()["items"]} == set()


def test_partner_files_go_up_through_the_presigned_post(stack: Any, portal: Portal) -> None:
    partner = portal.partner(stack)
    deal = portal_deal(portal, partner)
    path = f"/orgs/{portal.org_id}/portal/deals/{deal['deal_id']}/files"
    content = b"name,amount\nJane,100\n"
    granted = partner.post(path, {"name": "figures.csv", "content_type": "text/csv", "size": len(content)})
    assert granted.status_code == 201, granted.text
    upload = granted.json()["upload"]
    sent = requests.post(
        upload["url"], data=upload["fields"], files={"file": ("figures.csv", content, "text/csv")}, timeout=30
    )
    assert sent.status_code in (200, 201, 204), sent.text
    listed = partner.get(path).json()["items"]
    assert [f["name"] for f in listed] == ["figures.csv"]
    assert requests.get(listed[0]["download_url"], timeout=30).content == content
    # The broker sees the partner's file too.
    broker = next(b for b in portal.brokers if b.user_id == deal["owner_id"])
    staff_files = broker.get(f"/orgs/{portal.org_id}/deals/{deal['deal_id']}/files").json()["items"]
    assert [f["uploaded_by"] for f in staff_files] == [f"partner:{partner.user_id}"]
    too_big = partner.post(path, {"name": "big.pdf", "content_type": "application/pdf", "size": 11 * 2**20})
    assert too_big.status_code == 422 and [e["field"] for e in too_big.json()["errors"]] == ["body.size"]
    wrong = partner.post(path, {"name": "photo.gif", "content_type": "image/gif", "size": 100})
    assert wrong.status_code == 422 and [e["field"] for e in wrong.json()["errors"]] == ["body.content_type"]


def test_notification_choices_are_limited_to_what_the_org_offers(stack: Any, portal: Portal) -> None:
    partner = portal.partner(stack)
    path = f"/orgs/{portal.org_id}/portal/notifications"
    assert partner.get(path).json() == {"types": [], "offered": ["deal_shared", "note_shared"]}
    refused = partner.put(path, {"types": ["deal_stage_changed"]})
    assert refused.status_code == 422 and [e["field"] for e in refused.json()["errors"]] == ["body.types"]
    saved = partner.put(path, {"types": ["note_shared", "deal_shared"]})
    assert saved.status_code == 200 and saved.json()["types"] == ["deal_shared", "note_shared"]
    assert partner.get(path).json()["types"] == ["deal_shared", "note_shared"]


def test_an_unconfirmed_partner_cannot_use_the_portal(stack: Any, portal: Portal) -> None:
    partner = portal.partner(stack, email_confirmed=False)
    refused = partner.get(f"/orgs/{portal.org_id}/portal/deals")
    assert refused.status_code == 403
    assert refused.json()["type"] == "/problems/email-not-confirmed"


def test_brokers_without_a_display_name_are_named_by_their_place_never_by_address_or_id(
    stack: Any, portal: Portal
) -> None:
    partner = portal.partner(stack)
    listed = partner.get(f"/orgs/{portal.org_id}/portal/brokers")
    assert listed.status_code == 200, listed.text
    first, second = sorted(b.user_id for b in portal.brokers)  # in the order assigned (brokers are sorted)
    assert listed.json() == {
        "items": [{"user_id": first, "display_name": "Broker 1"}, {"user_id": second, "display_name": "Broker 2"}]
    }
