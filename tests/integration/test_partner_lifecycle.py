"""The partner lifecycle over HTTP against the local stack: manual transitions (every one the rules refuse
answers 409), archive and restore, racing changes, terms sent and signed, the status filters, contacts,
tasks and the activity."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from common.partners.partner_records import MANUAL_TRANSITIONS, PartnerStatus, node_item, settings_key
from common.platform import db

from tests.integration.test_partners import StaffOrg, add_partner, mail_to, staff_org

pytestmark = pytest.mark.integration

S = PartnerStatus


@pytest.fixture(scope="module")
def org(stack: Any) -> StaffOrg:
    return staff_org(stack)


def status(org: StaffOrg, partner_id: str, target: str, reason: str | None = None) -> Any:
    body = {"status": target} | ({"reason": reason} if reason else {})
    return org.manager.post(f"/orgs/{org.org_id}/partners/{partner_id}/status", body)


def deal_for(org: StaffOrg, partner_id: str) -> Any:
    """A staff deal credited to the partner: their lead."""
    workflow = org.admin.post(f"/orgs/{org.org_id}/workflows", {"name": "Referrals", "stages": [{"name": "New"}]})
    assert workflow.status_code == 201, workflow.text
    return org.admin.post(
        f"/orgs/{org.org_id}/deals",
        {
            "workflow_id": workflow.json()["workflow_id"],
            "contacts": [{"first_name": "Casey", "last_name": "Customer"}],
            "partner_id": partner_id,
        },
    )


def test_every_transition_the_rules_refuse_is_a_conflict(org: StaffOrg) -> None:
    for start, allowed in MANUAL_TRANSITIONS.items():
        for target in PartnerStatus:
            # Straight into the table in the start status (ACTIVE and LAPSED are reached only through leads).
            partner_id = f"it-{uuid.uuid4().hex[:12]}"
            node = node_item(
                org_id=org.org_id,
                partner_id=partner_id,
                first_name="P",
                last_name="Q",
                email=f"{partner_id}@it.example",
                phone=None,
                status=start,
                origin="added",
                actor="system",
            )
            db.put(node | ({"archived_from": S.LIVE.value} if start is S.ARCHIVED else {}))
            answer = status(org, partner_id, target.value, reason="the rules")
            assert answer.status_code == (200 if target in allowed else 409), (start, target, answer.text)
            if answer.status_code == 409:
                assert answer.json()["type"] == "/problems/status-transition-not-allowed"
            else:
                assert answer.json()["status"] == target.value


def test_archive_needs_a_reason_and_restore_returns_to_the_status_before(org: StaffOrg) -> None:
    partner_id = add_partner(org, status="PROSPECT")["partner_id"]
    refused = status(org, partner_id, "ARCHIVED")
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "body.reason"
    archived = status(org, partner_id, "ARCHIVED", reason="went elsewhere").json()
    assert (archived["archived_reason"], archived["archived_from"]) == ("went elsewhere", "PROSPECT")
    listed = org.manager.get(f"/orgs/{org.org_id}/partners", params={"status": "ARCHIVED"}).json()["items"]
    assert partner_id in [p["partner_id"] for p in listed]
    everyone = org.manager.get(f"/orgs/{org.org_id}/partners").json()["items"]
    assert partner_id not in [p["partner_id"] for p in everyone]
    restored = org.manager.post(f"/orgs/{org.org_id}/partners/{partner_id}/restore")
    assert restored.status_code == 200 and restored.json()["status"] == "PROSPECT"
    assert org.manager.post(f"/orgs/{org.org_id}/partners/{partner_id}/restore").status_code == 409


def test_racing_status_changes_have_one_winner(org: StaffOrg) -> None:
    # Every racer reads LIVE; once one has ended the partner, the others' writes (conditioned on the status
    # they read) fail, so the partner is ended exactly once.
    partner_id = add_partner(org)["partner_id"]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: status(org, partner_id, "ENDED"), range(8)))
    assert sorted(a.status_code for a in answers) == [200] + [409] * 7
    activity = org.manager.get(f"/orgs/{org.org_id}/partners/{partner_id}/activity").json()["items"]
    assert [e["action"] for e in activity] == ["status_changed", "added"]


def test_terms_sent_by_email_then_signed(stack: Any, org: StaffOrg) -> None:
    partner = add_partner(org, status="PROSPECT")
    path = f"/orgs/{org.org_id}/partners/{partner['partner_id']}"
    assert org.manager.post(f"{path}/send-terms").status_code == 409  # nothing published yet
    db.update(
        settings_key(org.org_id),
        expression="SET entity = if_not_exists(entity, :e), current_terms_version = :v",
        values={":e": "programme_settings", ":v": 1},
    )
    sent = org.manager.post(f"{path}/send-terms")
    assert sent.status_code == 200 and sent.json()["status"] == "PROSPECT_TERMS_SENT"
    (mail,) = mail_to(stack, partner["email"])
    assert f"/orgs/{org.org_id}/terms" in mail["body"]
    assert org.manager.post(f"{path}/send-terms").status_code == 409
    signed = org.manager.post(f"{path}/terms-signed")
    assert signed.status_code == 200 and (signed.json()["status"], signed.json()["terms_version"]) == ("LIVE", 1)
    assert org.manager.post(f"{path}/terms-signed").status_code == 409


def test_filters_by_status_and_live_without_lead(stack: Any) -> None:
    fresh_org = staff_org(stack)
    waiting = add_partner(fresh_org)["partner_id"]
    referring = add_partner(fresh_org)["partner_id"]
    prospect = add_partner(fresh_org, status="PROSPECT")["partner_id"]
    assert deal_for(fresh_org, referring).status_code == 201

    def listed(**params: str) -> list[str]:
        answer = fresh_org.manager.get(f"/orgs/{fresh_org.org_id}/partners", params=params)
        assert answer.status_code == 200, answer.text
        return [p["partner_id"] for p in answer.json()["items"]]

    assert listed(filter="live_without_lead") == [waiting]
    assert listed(status="ACTIVE") == [referring]
    assert listed(status="PROSPECT") == [prospect]
    assert set(listed()) == {waiting, referring, prospect}
    assert (
        fresh_org.manager.get(
            f"/orgs/{fresh_org.org_id}/partners", params={"status": "ENDED", "filter": "live_without_lead"}
        ).status_code
        == 422
    )


def test_contacts_tasks_and_activity(org: StaffOrg) -> None:
    partner_id = add_partner(org, status="PROSPECT")["partner_id"]
    path = f"/orgs/{org.org_id}/partners/{partner_id}"
    logged = org.manager.post(
        f"{path}/contacts", {"channel": "phone", "summary": "Intro call", "at": "2026-01-05T10:00:00Z"}
    )
    assert logged.status_code == 201, logged.text
    bad = org.manager.post(f"{path}/contacts", {"channel": "fax", "summary": "x", "at": "yesterday"})
    assert {e["field"] for e in bad.json()["errors"]} == {"body.channel", "body.at"}
    task = org.manager.post(f"{path}/tasks", {"title": "Send brochure", "due_at": "2030-01-10T09:00:00Z"})
    assert task.status_code == 201, task.text
    done = org.manager.patch(f"{path}/tasks/{task.json()['task_id']}", {"done": True})
    assert done.status_code == 200 and done.json()["done"] is True
    assert [t["title"] for t in org.manager.get(f"{path}/tasks").json()["items"]] == ["Send brochure"]
    assert [c["summary"] for c in org.manager.get(f"{path}/contacts").json()["items"]] == ["Intro call"]
    org.manager.put(f"{path}/brokers", {"brokers": [org.broker.user_id]})
    status(org, partner_id, "LIVE")
    entries = org.manager.get(f"{path}/activity").json()["items"]
    # In the order they were recorded: the contact (back-dated, so its `at` is older) right after "added".
    assert [(e["kind"], e["action"]) for e in entries] == [
        ("history", "status_changed"),
        ("history", "brokers_assigned"),
        ("contact", "contact_logged"),
        ("history", "added"),
    ]
    assert entries[2]["at"] == "2026-01-05T10:00:00.000Z" and entries[2]["recorded_at"] > entries[3]["at"]
    assert org.viewer.get(f"{path}/activity").status_code == 403
