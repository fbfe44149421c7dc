"""Partners on the staff side over HTTP against the local stack: adding (one account per e-mail address,
also under racing requests), enterprises, portal settings, the login e-mail from the stream, removal, and
the customer's partner flag."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from common.partners.partner_records import org_email_key
from common.platform import db

from tests.integration.support.actors import Actor, new_user

pytestmark = pytest.mark.integration


@dataclass
class StaffOrg:
    org_id: str
    admin: Actor
    manager: Actor  # partners:manage
    broker: Actor  # staff, no permissions
    viewer: Actor  # staff, no permissions


def staff_org(stack: Any) -> StaffOrg:
    admin = new_user(stack, "admin", operator=True)
    created = admin.post("/orgs", {"name": "Referral org"})
    assert created.status_code == 201, created.text
    org_id = created.json()["org_id"]
    manager, broker, viewer = new_user(stack, "manager"), new_user(stack, "broker"), new_user(stack, "viewer")
    for member, permissions in ((manager, ["partners:manage"]), (broker, []), (viewer, [])):
        joined = admin.put(f"/orgs/{org_id}/members/{member.user_id}", {"permissions": permissions})
        assert joined.status_code == 200, joined.text
    return StaffOrg(org_id, admin, manager, broker, viewer)


def an_address() -> str:
    return f"referrer-{uuid.uuid4().hex[:10]}@it.example"


def partner_body(email: str, **fields: Any) -> dict[str, Any]:
    return {"first_name": "Pat", "last_name": "Referrer", "email": email, "phone": "+1 555 0102", **fields}


def add_partner(org: StaffOrg, email: str | None = None, **fields: Any) -> dict[str, Any]:
    added = org.manager.post(f"/orgs/{org.org_id}/partners", partner_body(email or an_address(), **fields))
    assert added.status_code == 201, added.text
    return added.json()  # type: ignore[no-any-return]


def mail_to(stack: Any, address: str) -> list[dict[str, Any]]:
    stack.wait_for_streams()
    return [m for m in stack.outbox() if address in m["to"]]


def cognito_users(stack: Any, email: str) -> list[dict[str, Any]]:
    found = stack.client("cognito-idp").list_users(UserPoolId=stack.user_pool_id, Filter=f'email = "{email}"')
    return list(found["Users"])


@pytest.fixture(scope="module")
def org(stack: Any) -> StaffOrg:
    return staff_org(stack)


def test_the_login_email_goes_out_on_the_first_assignment_only(stack: Any, org: StaffOrg) -> None:
    email = an_address()
    partner = add_partner(org, email)
    assert mail_to(stack, email) == []  # assigned to nobody: no login e-mail
    path = f"/orgs/{org.org_id}/partners/{partner['partner_id']}"
    assigned = org.manager.put(f"{path}/brokers", {"brokers": [org.broker.user_id]})
    assert assigned.status_code == 200 and assigned.json()["brokers"] == [org.broker.user_id]
    (mail,) = mail_to(stack, email)
    assert "/activate?token=" in mail["body"]
    org.manager.put(f"{path}/brokers", {"brokers": []})
    org.manager.put(f"{path}/brokers", {"brokers": [org.broker.user_id, org.admin.user_id]})
    assert len(mail_to(stack, email)) == 1


def test_no_login_email_when_the_organisation_turned_it_off(stack: Any) -> None:
    quiet = staff_org(stack)
    assert quiet.manager.put(f"/orgs/{quiet.org_id}/portal-settings", {"partner_added_email": False}).status_code == 200
    email = an_address()
    add_partner(quiet, email, brokers=[quiet.broker.user_id])
    assert mail_to(stack, email) == []


def test_the_same_address_twice_is_a_conflict_and_one_account(stack: Any, org: StaffOrg) -> None:
    email = an_address()
    first = add_partner(org, email)
    again = org.manager.post(f"/orgs/{org.org_id}/partners", partner_body(email.upper(), first_name="Twin"))
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
    assert [u["Username"] for u in cognito_users(stack, email)] == [first["partner_id"]]


def test_racing_adds_of_one_address_make_one_partner(stack: Any, org: StaffOrg) -> None:
    email = an_address()
    with ThreadPoolExecutor(6) as pool:
        answers = list(
            pool.map(lambda _: org.manager.post(f"/orgs/{org.org_id}/partners", partner_body(email)), range(6))
        )
    assert sorted(a.status_code for a in answers) == [201] + [409] * 5
    assert len(cognito_users(stack, email)) == 1


def test_refusals_other_org_permission_and_bad_input(stack: Any, org: StaffOrg) -> None:
    outsider = staff_org(stack)
    email = an_address()
    assert outsider.manager.post(f"/orgs/{org.org_id}/partners", partner_body(email)).status_code == 404
    assert org.viewer.post(f"/orgs/{org.org_id}/partners", partner_body(email)).status_code == 403
    bad = org.manager.post(
        f"/orgs/{org.org_id}/partners",
        {"first_name": "", "last_name": "X", "email": email, "phone": "call me", "brokers": ["nobody"]},
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"body.first_name", "body.phone"}
    strangers = org.manager.post(f"/orgs/{org.org_id}/partners", partner_body(email, brokers=["nobody"]))
    assert strangers.status_code == 422 and strangers.json()["errors"][0]["field"] == "body.brokers"
    assert cognito_users(stack, email) == [] and db.get(org_email_key(org.org_id, email)) is None
    partner = add_partner(org)
    path = f"/orgs/{org.org_id}/partners/{partner['partner_id']}"
    assert outsider.manager.get(path).status_code == 404
    assert org.viewer.get(path).status_code == 403
    assert org.manager.patch(path, {"phone": "call me"}).status_code == 422


def test_edit_remove_and_the_activity_that_stays(stack: Any, org: StaffOrg) -> None:
    email = an_address()
    partner = add_partner(org, email)
    path = f"/orgs/{org.org_id}/partners/{partner['partner_id']}"
    edited = org.manager.patch(path, {"first_name": "Patricia"})
    assert edited.status_code == 200 and edited.json()["name"] == "Patricia Referrer"
    assert org.manager.call("DELETE", path).status_code == 204
    assert org.manager.call("DELETE", path).status_code == 404
    assert org.manager.get(path).status_code == 404
    listed = org.manager.get(f"/orgs/{org.org_id}/partners").json()["items"]
    assert partner["partner_id"] not in [p["partner_id"] for p in listed]
    activity = org.manager.get(f"{path}/activity")
    assert activity.status_code == 200
    assert [e["action"] for e in activity.json()["items"]] == ["removed", "edited", "added"]
    assert db.get(org_email_key(org.org_id, email)) is None
    assert len(cognito_users(stack, email)) == 1  # the account stays


def test_a_child_organisation_reuses_the_parents_partner(stack: Any, org: StaffOrg) -> None:
    partner = add_partner(org)
    assert org.manager.post(f"/orgs/{org.org_id}/children", {"name": "Branch"}).status_code == 403
    created = org.admin.post(f"/orgs/{org.org_id}/children", {"name": "Branch"})
    assert created.status_code == 201, created.text
    child_id = created.json()["org_id"]
    assert created.json()["parent_id"] == org.org_id
    children = org.viewer.get(f"/orgs/{org.org_id}/children").json()["items"]
    assert child_id in [c["org_id"] for c in children]
    assert org.admin.get(f"/orgs/{child_id}").json()["membership"]["role"] == "admin"
    joined = org.admin.post(f"/orgs/{child_id}/partners/existing", {"partner_id": partner["partner_id"]})
    assert joined.status_code == 201, joined.text
    assert joined.json()["partner_id"] == partner["partner_id"] and joined.json()["origin"] == "existing"
    again = org.admin.post(f"/orgs/{child_id}/partners", partner_body(partner["email"]))
    assert again.status_code == 409
    unknown = org.admin.post(f"/orgs/{child_id}/partners/existing", {"partner_id": org.viewer.user_id})
    assert unknown.status_code == 404
    # Added by e-mail in another organisation: the same account too.
    elsewhere = staff_org(stack)
    added = elsewhere.manager.post(f"/orgs/{elsewhere.org_id}/partners", partner_body(partner["email"]))
    assert added.status_code == 201 and added.json()["partner_id"] == partner["partner_id"]


def test_portal_settings(stack: Any, org: StaffOrg) -> None:
    path = f"/orgs/{org.org_id}/portal-settings"
    assert org.viewer.get(path).status_code == 200
    assert org.viewer.put(path, {}).status_code == 403
    missing = org.manager.put(path, {"default_workflow_id": "01J00000000000000000000000"})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "body.default_workflow_id"
    workflow = org.admin.post(f"/orgs/{org.org_id}/workflows", {"name": "Referrals", "stages": [{"name": "New"}]})
    assert workflow.status_code == 201, workflow.text
    workflow_id = workflow.json()["workflow_id"]
    saved = org.manager.put(
        path,
        {"default_workflow_id": workflow_id, "deal_shared_email": False, "partner_notification_types": ["note_shared"]},
    )
    assert saved.status_code == 200, saved.text
    read = org.viewer.get(path).json()
    assert (read["default_workflow_id"], read["deal_shared_email"], read["partner_notification_types"]) == (
        workflow_id,
        False,
        ["note_shared"],
    )
    assert org.manager.put(path, {"partner_notification_types": ["pager"]}).status_code == 422


def test_a_customer_is_flagged_when_their_address_belongs_to_a_partner(stack: Any, org: StaffOrg) -> None:
    email = an_address()
    entered = org.admin.post(
        f"/orgs/{org.org_id}/leads",
        {"contact_name": "Casey Customer", "email": email, "location": "queue", "source_id": "self-generated"},
    )
    assert entered.status_code == 201, entered.text
    claimed = org.admin.post(f"/orgs/{org.org_id}/lead-queue/claims")
    assert claimed.status_code == 200, claimed.text
    converted = org.admin.post(f"/orgs/{org.org_id}/leads/{claimed.json()['lead_id']}/convert")
    assert converted.status_code == 201, converted.text
    customer_path = f"/orgs/{org.org_id}/customers/{converted.json()['customer']['customer_id']}"
    assert converted.json()["customer"]["is_partner"] is False
    assert org.admin.get(customer_path).json()["is_partner"] is False
    add_partner(org, email)  # the customer becomes a partner afterwards
    assert org.admin.get(customer_path).json()["is_partner"] is True
