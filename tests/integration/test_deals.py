"""Workflows and deals over HTTP, staff side: partner credit, racing stage changes, sharing with its e-mail,
notes, and files uploaded through presigned POSTs to the local S3."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import pytest
import requests
from common.partners.partner_records import PartnerStatus, account_key, node_key, settings_key
from common.platform import db

from tests.integration.support.actors import REP_PERMISSIONS, Actor, Organisation, new_organisation, new_user
from tests.integration.support.partners import new_partner

CONTACT = {"first_name": "Jane", "last_name": "Doe", "email": "jane@customer.example", "phone": "+1 555 0100"}
STAGES = ["New", "Contacted", "Application", "Approved", "Settled", "Lost"]


@dataclass
class DealsOrg:
    org: Organisation
    manager: Actor  # holds deals:manage
    workflow: dict[str, Any]

    @property
    def org_id(self) -> str:
        return self.org.org_id

    @property
    def broker(self) -> Actor:
        return self.org.reps[0]

    def stage(self, name: str) -> str:
        return next(s["stage_id"] for s in self.workflow["stages"] if s["name"] == name)


@pytest.fixture(scope="module")
def team(stack: Any) -> DealsOrg:
    org = new_organisation(stack, reps=2)
    manager = new_user(stack, "deal-manager")
    granted = org.admin.put(f"/orgs/{org.org_id}/members/{manager.user_id}", {"permissions": ["deals:manage"]})
    assert granted.status_code == 200, granted.text
    # The broker credits partners and values deals.
    broker = f"/orgs/{org.org_id}/members/{org.reps[0].user_id}"
    money = org.admin.put(broker, {"permissions": [*REP_PERMISSIONS, "deals:money"]})
    assert money.status_code == 200, money.text
    created = manager.post(
        f"/orgs/{org.org_id}/workflows", {"name": "Home loans", "stages": [{"name": n} for n in STAGES]}
    )
    assert created.status_code == 201, created.text
    return DealsOrg(org, manager, created.json())


def new_deal(team: DealsOrg, actor: Actor | None = None, **fields: Any) -> dict[str, Any]:
    body = {"workflow_id": team.workflow["workflow_id"], "contacts": [CONTACT], **fields}
    created = (actor or team.broker).post(f"/orgs/{team.org_id}/deals", body)
    assert created.status_code == 201, created.text
    return created.json()


def save_settings(org_id: str, **settings: Any) -> None:
    db.put({**settings_key(org_id), "entity": "programme_settings", "org_id": org_id, **settings})


def node_of(org_id: str, partner: Actor) -> db.Item:
    item = db.get(node_key(org_id, partner.user_id), consistent=True)
    assert item is not None
    return item


def test_workflows_need_deals_manage_to_create(stack: Any, team: DealsOrg) -> None:
    path = f"/orgs/{team.org_id}/workflows"
    refused = team.broker.post(path, {"name": "Mine", "stages": [{"name": "One"}]})
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    listed = team.broker.get(path).json()["items"]
    assert team.workflow["workflow_id"] in [w["workflow_id"] for w in listed]
    outsider = new_user(stack, "outsider")  # a member of no organisation
    assert outsider.get(f"{path}/{team.workflow['workflow_id']}").status_code == 404


def test_a_staff_deal_credited_to_a_live_partner_makes_them_active(stack: Any, team: DealsOrg) -> None:
    partner = new_partner(stack, team.org_id, brokers=[team.broker.user_id], status=PartnerStatus.LIVE)
    deal = new_deal(team, partner_id=partner.user_id, value={"amount": 450_000_00, "currency": "AUD"})
    assert deal["credited_partner_id"] == partner.user_id and deal["partner_ids"] == [partner.user_id]
    assert node_of(team.org_id, partner)["status"] == "ACTIVE"
    listed = partner.get(f"/orgs/{team.org_id}/portal/deals").json()["items"]
    assert [(d["deal_id"], d["credited_to_you"]) for d in listed] == [(deal["deal_id"], True)]


def test_an_ended_partner_is_not_credited_and_nothing_is_written(stack: Any, team: DealsOrg) -> None:
    partner = new_partner(stack, team.org_id, brokers=[team.broker.user_id], status=PartnerStatus.ENDED)
    before = team.manager.get(f"/orgs/{team.org_id}/deals", params={"limit": 100}).json()["items"]
    body = {"workflow_id": team.workflow["workflow_id"], "contacts": [CONTACT], "partner_id": partner.user_id}
    refused = team.broker.post(f"/orgs/{team.org_id}/deals", body)
    assert refused.status_code == 409, refused.text
    after = team.manager.get(f"/orgs/{team.org_id}/deals", params={"limit": 100}).json()["items"]
    assert after == before
    assert node_of(team.org_id, partner)["status"] == "ENDED"


def test_only_the_owner_or_a_deal_manager_acts_on_a_deal(team: DealsOrg) -> None:
    deal = new_deal(team)
    other = team.org.reps[1]
    path = f"/orgs/{team.org_id}/deals/{deal['deal_id']}"
    assert other.get(path).status_code == 403
    assert other.post(f"{path}/stage", {"stage_id": team.stage("Contacted")}).status_code == 403
    assert team.manager.get(path).status_code == 200
    own = team.broker.get(f"/orgs/{team.org_id}/deals").json()["items"]
    assert deal["deal_id"] in [d["deal_id"] for d in own]
    assert deal["deal_id"] not in [d["deal_id"] for d in other.get(f"/orgs/{team.org_id}/deals").json()["items"]]
    wrong_stage = team.broker.post(f"{path}/stage", {"stage_id": "0" * 26})
    assert wrong_stage.status_code == 422
    assert [e["field"] for e in wrong_stage.json()["errors"]] == ["body.stage_id"]


def test_racing_stage_changes_from_one_version_have_one_winner(team: DealsOrg) -> None:
    deal = new_deal(team)
    path = f"/orgs/{team.org_id}/deals/{deal['deal_id']}/stage"
    targets = STAGES[1:]

    def move(name: str) -> int:
        return team.broker.post(path, {"stage_id": team.stage(name), "version": 1}).status_code

    with ThreadPoolExecutor(len(targets)) as pool:
        statuses = list(pool.map(move, targets))
    assert sorted(statuses) == [200] + [409] * (len(targets) - 1)
    winner = targets[statuses.index(200)]
    stored = team.broker.get(f"/orgs/{team.org_id}/deals/{deal['deal_id']}").json()
    assert (stored["stage_name"], stored["version"]) == (winner, 2)
    assert [e["stage_name"] for e in stored["stage_history"]] == ["New", winner]


def test_racing_stage_changes_keep_the_history_in_step_with_the_stage(team: DealsOrg) -> None:
    deal = new_deal(team)
    path = f"/orgs/{team.org_id}/deals/{deal['deal_id']}/stage"
    targets = STAGES[1:] * 2

    def move(name: str) -> int:
        return team.broker.post(path, {"stage_id": team.stage(name)}).status_code

    with ThreadPoolExecutor(len(targets)) as pool:
        statuses = list(pool.map(move, targets))
    assert set(statuses) <= {200, 409}
    stored = team.broker.get(f"/orgs/{team.org_id}/deals/{deal['deal_id']}").json()
    history = stored["stage_history"]
    # Every change that went through is one history entry, chained from the stage before it.
    assert len(history) == stored["version"]
    assert history[-1]["stage_id"] == stored["stage_id"]
    assert all(later["from_stage_id"] == earlier["stage_id"] for earlier, later in pairwise(history))


def test_the_deal_shared_email_follows_the_org_setting_and_the_partners_choice(stack: Any, team: DealsOrg) -> None:
    org_id = team.org_id
    chooser = new_partner(stack, org_id, brokers=[team.broker.user_id])
    silent = new_partner(stack, org_id, brokers=[team.broker.user_id])
    save_settings(org_id, deal_shared_email=True, partner_notification_types=["deal_shared"])
    chose = chooser.put(f"/orgs/{org_id}/portal/notifications", {"types": ["deal_shared"]})
    assert chose.status_code == 200, chose.text

    def emails_to(partner: Actor) -> list[dict[str, Any]]:
        account = db.get(account_key(partner.user_id))
        assert account is not None
        return [m for m in stack.outbox() if account["email"] in m["to"] and "shared a deal" in m["subject"]]

    first = new_deal(team, title="Smith refinance")
    for partner in (chooser, silent):
        shared = team.broker.put(f"/orgs/{org_id}/deals/{first['deal_id']}/partners/{partner.user_id}")
        assert shared.status_code == 201, shared.text
    assert team.broker.put(f"/orgs/{org_id}/deals/{first['deal_id']}/partners/{chooser.user_id}").status_code == 200
    stack.wait_for_streams()
    mails = emails_to(chooser)
    assert len(mails) == 1
    assert "Smith refinance" in mails[0]["body"] and first["deal_id"] in mails[0]["body"]
    assert emails_to(silent) == []

    # The organisation turns the e-mail off: the partner's choice alone sends nothing.
    save_settings(org_id, deal_shared_email=False, partner_notification_types=["deal_shared"])
    second = new_deal(team)
    assert team.broker.put(f"/orgs/{org_id}/deals/{second['deal_id']}/partners/{chooser.user_id}").status_code == 201
    stack.wait_for_streams()
    assert len(emails_to(chooser)) == 1


def test_staff_notes_reach_partners_only_when_shared(stack: Any, team: DealsOrg) -> None:
    partner = new_partner(stack, team.org_id, brokers=[team.broker.user_id])
    deal = new_deal(team, partner_id=partner.user_id)
    staff_notes = f"/orgs/{team.org_id}/deals/{deal['deal_id']}/notes"
    portal_notes = f"/orgs/{team.org_id}/portal/deals/{deal['deal_id']}/notes"
    hidden = team.broker.post(staff_notes, {"body": "valuation came in low"}).json()
    visible = team.broker.post(staff_notes, {"body": "approved in principle", "shared_with_partners": True}).json()
    assert [n["note_id"] for n in partner.get(portal_notes).json()["items"]] == [visible["note_id"]]
    shared = team.broker.patch(f"{staff_notes}/{hidden['note_id']}", {"shared_with_partners": True})
    assert shared.status_code == 200 and shared.json()["shared_with_partners"] is True
    assert {n["note_id"] for n in partner.get(portal_notes).json()["items"]} == {hidden["note_id"], visible["note_id"]}


def policy_conditions(upload: dict[str, Any]) -> list[Any]:
    return json.loads(base64.b64decode(upload["fields"]["policy"]))["conditions"]


def test_a_file_goes_up_through_the_presigned_post_and_comes_back_through_its_link(team: DealsOrg) -> None:
    deal = new_deal(team)
    content = b"%PDF-1.4 payslip\n"
    path = f"/orgs/{team.org_id}/deals/{deal['deal_id']}/files"
    granted = team.broker.post(
        path, {"name": "payslip März.pdf", "content_type": "application/pdf", "size": len(content)}
    )
    assert granted.status_code == 201, granted.text
    upload = granted.json()["upload"]
    assert ["content-length-range", 1, len(content)] in policy_conditions(upload)
    sent = requests.post(
        upload["url"], data=upload["fields"], files={"file": ("payslip.pdf", content, "application/pdf")}, timeout=30
    )
    assert sent.status_code in (200, 201, 204), sent.text
    listed = team.broker.get(path).json()["items"]
    assert [(f["name"], f["size"]) for f in listed] == [("payslip März.pdf", len(content))]
    fetched = requests.get(listed[0]["download_url"], timeout=30)
    assert fetched.status_code == 200 and fetched.content == content


def test_oversized_or_disallowed_files_get_no_upload(team: DealsOrg) -> None:
    deal = new_deal(team)
    path = f"/orgs/{team.org_id}/deals/{deal['deal_id']}/files"
    too_big = team.broker.post(path, {"name": "scan.pdf", "content_type": "application/pdf", "size": 10 * 2**20 + 1})
    assert too_big.status_code == 422 and [e["field"] for e in too_big.json()["errors"]] == ["body.size"]
    wrong = team.broker.post(path, {"name": "setup.exe", "content_type": "application/octet-stream", "size": 100})
    assert wrong.status_code == 422 and [e["field"] for e in wrong.json()["errors"]] == ["body.content_type"]
    assert team.broker.get(path).json()["items"] == []
