"""Partners on the staff side in-process: the partners API handler, the domain modules and moto (table,
Cognito, SES). The stream is driven by hand: partner_mail.on_change gets the images the stream would carry."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from common.partners import mail as partner_mail
from common.partners.partner_records import account_key, node_key, org_email_key, settings_key
from common.platform import db

from tests.support import OPERATOR, FakeContext, api_caller, body_of, http_event
from tests.unit.conftest import PORTAL_URL

# These tests create users or app clients in the user pool.
pytestmark = pytest.mark.cognito

ADMIN, MANAGER, BROKER, VIEWER = "user-admin", "user-manager", "user-broker", "user-viewer"

Call = Callable[..., dict[str, Any]]


@pytest.fixture
def call() -> Call:
    return api_caller("partners", user=MANAGER)


def _new_org(name: str = "Acme Referrals") -> str:
    leads_api = importlib.import_module("leads.api")
    created = leads_api.lambda_handler(
        http_event("POST", "/orgs", user=ADMIN, groups=OPERATOR, body={"name": name}), FakeContext()
    )
    assert created["statusCode"] == 201, created
    org_id: str = body_of(created)["org_id"]
    for user, permissions in ((MANAGER, ["partners:manage"]), (BROKER, []), (VIEWER, [])):
        response = leads_api.lambda_handler(
            http_event("PUT", f"/orgs/{org_id}/members/{user}", user=ADMIN, body={"permissions": permissions}),
            FakeContext(),
        )
        assert response["statusCode"] == 200, response
    return org_id


@pytest.fixture
def org() -> str:
    return _new_org()


def partner_body(**fields: Any) -> dict[str, Any]:
    return {
        "first_name": "Pat",
        "last_name": "Referrer",
        "email": "pat@referrer.example",
        "phone": "+44 20 7946 0958",
        **fields,
    }


def add(call: Call, org_id: str, **fields: Any) -> dict[str, Any]:
    response = call("POST", f"/orgs/{org_id}/partners", body=partner_body(**fields))
    assert response["statusCode"] == 201, response
    return body_of(response)  # type: ignore[no-any-return]


def cognito_users(pool_id: str) -> list[dict[str, Any]]:
    return boto3.client("cognito-idp").list_users(UserPoolId=pool_id)["Users"]  # type: ignore[no-any-return]


def sent_mail() -> list[dict[str, Any]]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


# -- adding ----------------------------------------------------------------------------------------


def test_adding_a_partner_creates_account_node_and_email_guard(call: Call, org: str, aws: dict[str, Any]) -> None:
    partner = add(call, org, brokers=[BROKER])
    partner_id = partner["partner_id"]
    assert partner["status"] == "LIVE" and partner["brokers"] == [BROKER] and partner["origin"] == "added"
    assert "history" not in partner
    account = db.get(account_key(partner_id))
    assert account is not None and account["email_confirmed"] is False
    guard = db.get(org_email_key(org, "PAT@referrer.example"))
    assert guard is not None and guard["partner_id"] == partner_id
    (user,) = cognito_users(aws["pool_id"])
    assert user["Username"] == partner_id and user["UserStatus"] == "FORCE_CHANGE_PASSWORD"


def test_the_same_email_twice_is_a_conflict_and_one_account(call: Call, org: str, aws: dict[str, Any]) -> None:
    add(call, org)
    again = call("POST", f"/orgs/{org}/partners", body=partner_body(email="Pat@Referrer.example", first_name="Other"))
    assert again["statusCode"] == 409
    assert "already a partner" in body_of(again)["detail"]
    assert len(cognito_users(aws["pool_id"])) == 1


def test_a_known_address_reuses_the_account_untouched(call: Call, org: str) -> None:
    first = add(call, org)
    other = _new_org("Second org")
    second = call(
        "POST", f"/orgs/{other}/partners", user=ADMIN, body=partner_body(first_name="Patricia", status="PROSPECT")
    )
    assert second["statusCode"] == 201, second
    assert body_of(second)["partner_id"] == first["partner_id"]
    assert body_of(second)["first_name"] == "Patricia"  # the organisation's own record
    account = db.get(account_key(first["partner_id"]))
    assert account is not None and account["first_name"] == "Pat"


def test_bad_input_names_each_field_and_writes_nothing(call: Call, org: str, aws: dict[str, Any]) -> None:
    response = call(
        "POST",
        f"/orgs/{org}/partners",
        body={"first_name": "", "last_name": "X", "email": "not-an-address", "phone": "abc", "status": "ACTIVE"},
    )
    assert response["statusCode"] == 422
    fields = {e["field"] for e in body_of(response)["errors"]}
    assert {"body.first_name", "body.email", "body.phone", "body.status"} <= fields
    assert cognito_users(aws["pool_id"]) == []


def test_brokers_must_be_staff_members(call: Call, org: str, aws: dict[str, Any]) -> None:
    response = call("POST", f"/orgs/{org}/partners", body=partner_body(brokers=[BROKER, "someone-else"]))
    assert response["statusCode"] == 422
    assert body_of(response)["errors"][0]["field"] == "body.brokers"
    assert "someone-else" in body_of(response)["detail"]
    assert cognito_users(aws["pool_id"]) == []


def test_other_org_is_404_and_missing_permission_403(call: Call, org: str) -> None:
    assert call("POST", f"/orgs/{org}/partners", user="stranger", body=partner_body())["statusCode"] == 404
    assert call("POST", f"/orgs/{org}/partners", user=VIEWER, body=partner_body())["statusCode"] == 403
    assert call("GET", f"/orgs/{org}/partners", user=VIEWER)["statusCode"] == 403
    assert call("GET", f"/orgs/{org}/portal-settings", user=VIEWER)["statusCode"] == 200


def test_a_sponsor_places_the_partner_in_the_structure(call: Call, org: str) -> None:
    top = add(call, org, email="top@referrer.example")
    below = add(call, org, email="below@referrer.example", sponsor_id=top["partner_id"])
    assert below["upline"] == [top["partner_id"]] and below["level"] == 1
    stranger = call("POST", f"/orgs/{org}/partners", body=partner_body(email="x@y.example", sponsor_id="nobody"))
    assert stranger["statusCode"] == 422 and body_of(stranger)["errors"][0]["field"] == "body.sponsor_id"


# -- reading, editing, removing --------------------------------------------------------------------


def test_edit_is_the_organisations_record_and_removal_keeps_history(call: Call, org: str) -> None:
    partner_id = add(call, org)["partner_id"]
    path = f"/orgs/{org}/partners/{partner_id}"
    edited = call("PATCH", path, body={"last_name": "Smith", "phone": None})
    assert edited["statusCode"] == 200, edited
    assert body_of(edited)["name"] == "Pat Smith" and body_of(edited).get("phone") is None
    assert call("PATCH", path, body={})["statusCode"] == 422
    assert call("DELETE", path)["statusCode"] == 204
    assert call("GET", path)["statusCode"] == 404
    assert call("PATCH", path, body={"first_name": "X"})["statusCode"] == 404
    assert call("DELETE", path)["statusCode"] == 404
    assert db.get(org_email_key(org, "pat@referrer.example")) is None
    assert db.get(account_key(partner_id)) is not None
    listed = body_of(call("GET", f"/orgs/{org}/partners"))["items"]
    assert partner_id not in [p["partner_id"] for p in listed]
    actions = [e.get("action") for e in body_of(call("GET", f"{path}/activity"))["items"]]
    assert actions == ["removed", "edited", "added"]
    # Added again later: the same account and node, the history continues.
    again = add(call, org)
    assert again["partner_id"] == partner_id
    actions = [e.get("action") for e in body_of(call("GET", f"{path}/activity"))["items"]]
    assert actions == ["added", "removed", "edited", "added"]


def test_listing_by_status_and_live_without_lead(call: Call, org: str, frozen_clock: Any) -> None:
    live = add(call, org, email="live@r.example")["partner_id"]
    prospect = add(call, org, email="prospect@r.example", status="PROSPECT")["partner_id"]
    archived = add(call, org, email="archived@r.example")["partner_id"]
    call("POST", f"/orgs/{org}/partners/{archived}/status", body={"status": "ARCHIVED", "reason": "moved away"})
    db.update(node_key(org, live), expression="SET last_lead_at = :at", values={":at": "2026-01-01T00:00:00.000Z"})
    frozen_clock.advance(seconds=1)
    fresh = add(call, org, email="fresh@r.example")["partner_id"]

    def ids(**query: str) -> list[str]:
        response = call("GET", f"/orgs/{org}/partners", query=query)
        assert response["statusCode"] == 200, response
        return [p["partner_id"] for p in body_of(response)["items"]]

    assert ids(status="LIVE") == [fresh, live]  # newest first
    assert ids(filter="live_without_lead") == [fresh]
    assert ids(status="PROSPECT") == [prospect]
    assert ids(status="ARCHIVED") == [archived]
    assert set(ids()) == {live, prospect, fresh}
    bad = call("GET", f"/orgs/{org}/partners", query={"status": "PROSPECT", "filter": "live_without_lead"})
    assert bad["statusCode"] == 422
    assert call("GET", f"/orgs/{org}/partners", query={"status": "NOPE"})["statusCode"] == 422


# -- brokers and the login e-mail ------------------------------------------------------------------


def _stream(old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
    partner_mail.on_change(old, new)


def test_login_email_on_first_assignment_only(call: Call, org: str) -> None:
    partner_id = add(call, org)["partner_id"]
    key = node_key(org, partner_id)
    unassigned = db.get(key)
    _stream(None, unassigned)
    assert sent_mail() == []
    response = call("PUT", f"/orgs/{org}/partners/{partner_id}/brokers", body={"brokers": [BROKER]})
    assert response["statusCode"] == 200 and body_of(response)["brokers"] == [BROKER]
    assigned = db.get(key)
    _stream(unassigned, assigned)
    _stream(unassigned, assigned)  # redelivered
    (mail,) = sent_mail()
    assert mail.destinations["ToAddresses"] == ["pat@referrer.example"]
    assert f"{PORTAL_URL}/activate?token=" in mail.body
    call("PUT", f"/orgs/{org}/partners/{partner_id}/brokers", body={"brokers": []})
    cleared = db.get(key)
    call("PUT", f"/orgs/{org}/partners/{partner_id}/brokers", body={"brokers": [ADMIN, BROKER]})
    _stream(cleared, db.get(key))
    assert len(sent_mail()) == 1
    refused = call("PUT", f"/orgs/{org}/partners/{partner_id}/brokers", body={"brokers": ["ghost"]})
    assert refused["statusCode"] == 422


def test_no_login_email_when_the_setting_is_off(call: Call, org: str) -> None:
    saved = call("PUT", f"/orgs/{org}/portal-settings", body={"partner_added_email": False})
    assert saved["statusCode"] == 200 and body_of(saved)["partner_added_email"] is False
    node_id = add(call, org, brokers=[BROKER])["partner_id"]
    _stream(None, db.get(node_key(org, node_id)))
    assert sent_mail() == []


def test_a_partner_with_a_password_is_told_to_sign_in(call: Call, org: str) -> None:
    partner_id = add(call, org)["partner_id"]
    db.update(account_key(partner_id), expression="SET password_set = :t", values={":t": True})
    call("PUT", f"/orgs/{org}/partners/{partner_id}/brokers", body={"brokers": [BROKER]})
    _stream(None, db.get(node_key(org, partner_id)))
    (mail,) = sent_mail()
    assert "activate?token=" not in mail.body and PORTAL_URL in mail.body


# -- portal settings -------------------------------------------------------------------------------


def test_portal_settings_keep_the_terms_version_and_check_the_workflow(call: Call, org: str) -> None:
    db.put({**settings_key(org), "entity": "programme_settings", "current_terms_version": 3})
    missing = "01J00000000000000000000000"
    refused = call("PUT", f"/orgs/{org}/portal-settings", body={"default_workflow_id": missing})
    assert refused["statusCode"] == 422 and body_of(refused)["errors"][0]["field"] == "body.default_workflow_id"
    db.put({"pk": f"ORG#{org}#WORKFLOW#{missing}", "sk": "WORKFLOW", "entity": "workflow"})
    body = {"default_workflow_id": missing, "deal_shared_email": False, "partner_notification_types": ["deal_shared"]}
    saved = call("PUT", f"/orgs/{org}/portal-settings", body=body)
    assert saved["statusCode"] == 200, saved
    read = body_of(call("GET", f"/orgs/{org}/portal-settings", user=VIEWER))
    assert read["default_workflow_id"] == missing and read["current_terms_version"] == 3
    assert read["partner_notification_types"] == ["deal_shared"] and read["deal_shared_email"] is False
    assert call("PUT", f"/orgs/{org}/portal-settings", user=VIEWER, body={})["statusCode"] == 403
    bad = call("PUT", f"/orgs/{org}/portal-settings", body={"partner_notification_types": ["sms"]})
    assert bad["statusCode"] == 422


# -- enterprise ------------------------------------------------------------------------------------


def test_child_organisations_and_an_existing_partner(call: Call, org: str) -> None:
    partner_id = add(call, org)["partner_id"]
    assert call("POST", f"/orgs/{org}/children", user=MANAGER, body={"name": "Branch"})["statusCode"] == 403
    created = call("POST", f"/orgs/{org}/children", user=ADMIN, body={"name": "Branch"})
    assert created["statusCode"] == 201, created
    child = body_of(created)
    assert child["parent_id"] == org
    children = body_of(call("GET", f"/orgs/{org}/children", user=VIEWER))["items"]
    assert [(c["org_id"], c["name"], c["parent_id"]) for c in children] == [(child["org_id"], "Branch", org)]
    joined = call("POST", f"/orgs/{child['org_id']}/partners/existing", user=ADMIN, body={"partner_id": partner_id})
    assert joined["statusCode"] == 201, joined
    assert body_of(joined)["partner_id"] == partner_id and body_of(joined)["origin"] == "existing"
    again = call("POST", f"/orgs/{child['org_id']}/partners/existing", user=ADMIN, body={"partner_id": partner_id})
    assert again["statusCode"] == 409
    unknown = call("POST", f"/orgs/{child['org_id']}/partners/existing", user=ADMIN, body={"partner_id": "nobody"})
    assert unknown["statusCode"] == 404
    # The parent has no parent: nobody joins it this way.
    assert call("POST", f"/orgs/{org}/partners/existing", body={"partner_id": partner_id})["statusCode"] == 404
    assert (
        call("POST", f"/orgs/{child['org_id']}/partners/existing", body={"partner_id": partner_id})["statusCode"] == 404
    )


# -- account details follow to the nodes -----------------------------------------------------------


def test_account_changes_reach_every_node_and_move_the_guards(call: Call, org: str) -> None:
    partner_id = add(call, org)["partner_id"]
    other = _new_org("Second org")
    call("POST", f"/orgs/{other}/partners", user=ADMIN, body=partner_body())
    old = db.get(account_key(partner_id))
    assert old is not None
    new = {**old, "first_name": "Patricia", "email": "patricia@new.example", "phone": None}
    db.put(new)
    _stream(old, new)
    _stream(old, new)  # redelivered: nothing more
    for org_id in (org, other):
        node = db.get(node_key(org_id, partner_id))
        assert node is not None
        assert (node["first_name"], node["email"], node.get("phone")) == ("Patricia", "patricia@new.example", None)
        assert [e["action"] for e in node["history"]].count("details_changed") == 1
        assert db.get(org_email_key(org_id, "pat@referrer.example")) is None
        assert db.get(org_email_key(org_id, "patricia@new.example")) is not None


# -- lifecycle -------------------------------------------------------------------------------------


def _status(call: Call, org: str, partner_id: str, status: str, reason: str | None = None) -> dict[str, Any]:
    body = {"status": status} | ({"reason": reason} if reason else {})
    return call("POST", f"/orgs/{org}/partners/{partner_id}/status", body=body)


def test_every_manual_transition_follows_the_rules(call: Call, org: str) -> None:
    from common.partners.partner_records import MANUAL_TRANSITIONS, PartnerStatus, node_item

    for start, allowed in MANUAL_TRANSITIONS.items():
        for target in PartnerStatus:
            partner_id = f"p-{start.value}-{target.value}".lower()
            node = node_item(
                org_id=org,
                partner_id=partner_id,
                first_name="P",
                last_name="Q",
                email=f"{partner_id}@r.example",
                phone=None,
                status=start,
                origin="added",
                actor="system",
            )
            db.put(node | ({"archived_from": "LIVE"} if start is PartnerStatus.ARCHIVED else {}))
            response = _status(call, org, partner_id, target.value, reason="a reason")
            expected = 200 if target in allowed else 409
            assert response["statusCode"] == expected, (start, target, response)
            if expected == 409:
                assert body_of(response)["type"] == "/problems/status-transition-not-allowed"
            else:
                stored = db.get(node_key(org, partner_id)) or {}
                assert stored["gsi1pk"] == f"ORG#{org}#PARTNERS#{target.value}"
                assert stored["history"][-1]["previous"] == start.value


def test_archiving_needs_a_reason_and_restore_goes_back(call: Call, org: str) -> None:
    partner_id = add(call, org, status="PROSPECT")["partner_id"]
    no_reason = _status(call, org, partner_id, "ARCHIVED")
    assert no_reason["statusCode"] == 422 and body_of(no_reason)["errors"][0]["field"] == "body.reason"
    archived = body_of(_status(call, org, partner_id, "ARCHIVED", reason="not interested"))
    assert (archived["status"], archived["archived_reason"], archived["archived_from"]) == (
        "ARCHIVED",
        "not interested",
        "PROSPECT",
    )
    restored = call("POST", f"/orgs/{org}/partners/{partner_id}/restore")
    assert restored["statusCode"] == 200 and body_of(restored)["status"] == "PROSPECT"
    assert body_of(restored)["archived_reason"] is None
    assert call("POST", f"/orgs/{org}/partners/{partner_id}/restore")["statusCode"] == 409
    node = db.get(node_key(org, partner_id))
    assert node is not None and node["gsi1pk"] == f"ORG#{org}#PARTNERS#PROSPECT"


def test_restoring_an_archived_active_partner_puts_them_back_in_the_lapse_index(call: Call, org: str) -> None:
    from common.partners.partner_records import record_lead

    partner_id = add(call, org)["partner_id"]
    db.transact([record_lead(org, partner_id)], on_cancel=lambda _: AssertionError())
    archived = db.get(node_key(org, partner_id)) or {}
    assert archived["status"] == "ACTIVE" and "gsi3pk" in archived
    _status(call, org, partner_id, "ARCHIVED", reason="paused")
    assert "gsi3pk" not in (db.get(node_key(org, partner_id)) or {})
    call("POST", f"/orgs/{org}/partners/{partner_id}/restore")
    restored = db.get(node_key(org, partner_id)) or {}
    assert restored["status"] == "ACTIVE" and restored["gsi3sk"] == archived["gsi3sk"]


def test_terms_sent_then_signed(call: Call, org: str) -> None:
    partner_id = add(call, org, status="PROSPECT")["partner_id"]
    path = f"/orgs/{org}/partners/{partner_id}"
    assert call("POST", f"{path}/send-terms")["statusCode"] == 409  # nothing published
    db.put({**settings_key(org), "entity": "programme_settings", "current_terms_version": 2})
    before = db.get(node_key(org, partner_id))
    sent = call("POST", f"{path}/send-terms")
    assert sent["statusCode"] == 200 and body_of(sent)["status"] == "PROSPECT_TERMS_SENT"
    assert call("POST", f"{path}/send-terms")["statusCode"] == 409
    _stream(before, db.get(node_key(org, partner_id)))
    (mail,) = sent_mail()
    assert f"{PORTAL_URL}/orgs/{org}/terms" in mail.body
    signed = call("POST", f"{path}/terms-signed")
    assert signed["statusCode"] == 200, signed
    assert (body_of(signed)["status"], body_of(signed)["terms_version"]) == ("LIVE", 2)
    assert call("POST", f"{path}/terms-signed")["statusCode"] == 409


def test_active_and_lapsed_are_never_set_by_hand(call: Call, org: str) -> None:
    partner_id = add(call, org)["partner_id"]
    for status in ("ACTIVE", "LAPSED"):
        assert _status(call, org, partner_id, status)["statusCode"] == 409


def test_contacts_tasks_and_activity(call: Call, org: str, frozen_clock: Any) -> None:
    partner_id = add(call, org, status="PROSPECT")["partner_id"]
    path = f"/orgs/{org}/partners/{partner_id}"
    contacts = []
    for n in range(52):
        frozen_clock.advance(minutes=1)
        response = call("POST", f"{path}/contacts", body={"channel": "phone", "summary": f"call {n}"})
        assert response["statusCode"] == 201, response
        contacts.append(body_of(response)["contact_id"])
    bad = call("POST", f"{path}/contacts", body={"channel": "pigeon", "summary": ""})
    assert {e["field"] for e in body_of(bad)["errors"]} == {"body.channel", "body.summary"}
    listed = body_of(call("GET", f"{path}/contacts"))
    assert [c["contact_id"] for c in listed["items"]] == contacts[::-1][:50] and listed["next_cursor"]
    frozen_clock.advance(minutes=1)
    _status(call, org, partner_id, "LIVE")
    task = call("POST", f"{path}/tasks", body={"title": "Call back", "due_at": "2026-12-01T10:00:00Z"})
    assert task["statusCode"] == 201, task
    task_id = body_of(task)["task_id"]
    done = call("PATCH", f"{path}/tasks/{task_id}", body={"done": True})
    assert done["statusCode"] == 200 and body_of(done)["done"] is True and body_of(done)["done_at"]
    assert [t["task_id"] for t in body_of(call("GET", f"{path}/tasks"))["items"]] == [task_id]
    missing = call("PATCH", f"{path}/tasks/01J00000000000000000000000", body={"done": True})
    assert missing["statusCode"] == 404
    # Activity: newest first, over two pages, every entry once.
    first = body_of(call("GET", f"{path}/activity"))
    second = body_of(call("GET", f"{path}/activity", query={"cursor": first["next_cursor"]}))
    entries = first["items"] + second["items"]
    assert second["next_cursor"] is None and len(entries) == 54  # added, 52 contacts, status change
    assert entries[0]["action"] == "status_changed" and entries[-1]["action"] == "added"
    assert [e["contact_id"] for e in entries if e["kind"] == "contact"] == contacts[::-1]
    assert call("GET", f"{path}/activity", query={"cursor": "garbage"})["statusCode"] == 422
    # Removed: only the activity stays readable.
    call("DELETE", path)
    assert call("POST", f"{path}/contacts", body={"channel": "email", "summary": "x"})["statusCode"] == 404
    assert call("GET", f"{path}/tasks")["statusCode"] == 404
    assert call("PATCH", f"{path}/tasks/{task_id}", body={"done": False})["statusCode"] == 404
    assert call("GET", f"{path}/activity")["statusCode"] == 200


def test_an_address_cognito_refuses_is_invalid_input(call: Call, org: str, aws: dict[str, Any]) -> None:
    response = call("POST", f"/orgs/{org}/partners", body=partner_body(email="odd@address.x1"))
    assert response["statusCode"] == 422 and body_of(response)["errors"][0]["field"] == "body.email"
    assert db.get(org_email_key(org, "odd@address.x1")) is None


def test_an_address_taken_by_another_partner_keeps_the_old_guard(call: Call, org: str) -> None:
    mover = add(call, org)["partner_id"]
    holder = add(call, org, email="taken@referrer.example")["partner_id"]
    old = db.get(account_key(mover)) or {}
    new = {**old, "first_name": "Moved", "email": "taken@referrer.example"}
    db.put(new)
    _stream(old, new)
    node = db.get(node_key(org, mover)) or {}
    assert (node["first_name"], node["email"]) == ("Moved", "pat@referrer.example")
    assert (db.get(org_email_key(org, "pat@referrer.example")) or {})["partner_id"] == mover
    assert (db.get(org_email_key(org, "taken@referrer.example")) or {})["partner_id"] == holder
