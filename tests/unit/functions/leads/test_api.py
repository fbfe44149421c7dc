"""The leads API end to end in-process: handler, resolver, domain and table (moto)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.support import OPERATOR, Call, api_caller, body_of
from tests.unit.conftest import TABLE

# These tests create users or app clients in the user pool.
pytestmark = pytest.mark.cognito

ADMIN, REP1, REP2, VIEWER = "user-admin", "user-rep-1", "user-rep-2", "user-viewer"
REP_PERMISSIONS = ["leads:request", "leads:return", "leads:create"]
SELF = "self-generated"  # the organisation's own source of hand-entered leads


@pytest.fixture
def call() -> Call:
    return api_caller("leads")


@pytest.fixture
def org(call: Call) -> dict[str, Any]:
    created = call("POST", "/orgs", user=ADMIN, groups=OPERATOR, body={"name": "Acme Security"})
    assert created["statusCode"] == 201, created
    org_id = body_of(created)["org_id"]
    for user, permissions in ((REP1, REP_PERMISSIONS), (REP2, REP_PERMISSIONS), (VIEWER, ["leads:view_pending"])):
        response = call("PUT", f"/orgs/{org_id}/members/{user}", user=ADMIN, body={"permissions": permissions})
        assert response["statusCode"] == 200, response
    company = call(
        "POST",
        f"/orgs/{org_id}/partner-companies",
        user=ADMIN,
        body={
            "name": "Test Lead SELLER",
            "sells_leads": True,
            "default_lead_location": "queue",
            "queue_priority": "high",
            "purchase_notification_emails": ["buying@acme.example"],
            "return_notification_emails": ["returns@seller.example"],
        },
    )
    assert company["statusCode"] == 201, company
    company_id = body_of(company)["company_id"]
    creds = call("POST", f"/orgs/{org_id}/partner-companies/{company_id}/credentials", user=ADMIN)
    assert creds["statusCode"] == 201, creds
    return {"org_id": org_id, "company_id": company_id, "client_id": body_of(creds)["client_id"]}


def intake(call: Call, org: dict[str, Any], external_id: str, **fields: Any) -> dict[str, Any]:
    body = {"external_id": external_id, "contact_name": "Jane Doe", "phone": "+15550100", **fields}
    return call(
        "POST",
        f"/orgs/{org['org_id']}/partner-companies/{org['company_id']}/leads",
        machine=org["client_id"],
        body=body,
    )


def staff_view(call: Call, org: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    return body_of(call("GET", f"/orgs/{org['org_id']}/leads/{body_of(response)['lead_id']}", user=ADMIN))  # type: ignore[no-any-return]


def test_intake_is_idempotent_on_external_id(call: Call, org: dict[str, Any]) -> None:
    first = intake(call, org, "EXT-1")
    again = intake(call, org, "EXT-1", contact_name="Someone Else")
    assert (first["statusCode"], again["statusCode"]) == (201, 200)
    assert body_of(first) == body_of(again)
    assert set(body_of(again)) == {"lead_id", "external_id", "company_id", "received_at"}  # not our work on it
    lead = staff_view(call, org, first)
    assert lead["contact"]["contact_name"] == "Jane Doe"
    assert (lead["status"], lead["priority"]) == ("queued", "high")


def test_intake_location_rules(call: Call, org: dict[str, Any]) -> None:
    path = f"/orgs/{org['org_id']}/partner-companies/{org['company_id']}"
    assert staff_view(call, org, intake(call, org, "R-1", requested_location="pending"))["status"] == "pending"
    assert staff_view(call, org, intake(call, org, "R-2"))["status"] == "queued"
    call("PATCH", path, user=ADMIN, body={"force_default_location": True})
    assert staff_view(call, org, intake(call, org, "R-3", requested_location="pending"))["status"] == "queued"


def test_intake_needs_the_companys_own_credentials(call: Call, org: dict[str, Any]) -> None:
    other = call(
        "POST",
        f"/orgs/{org['org_id']}/partner-companies",
        user=ADMIN,
        body={"name": "Other seller", "sells_leads": True},
    )
    other_id = body_of(other)["company_id"]
    path = f"/orgs/{org['org_id']}/partner-companies/{other_id}/leads"
    wrong_company = call(
        "POST", path, machine=org["client_id"], body={"external_id": "X", "contact_name": "A", "phone": "+15550101"}
    )
    assert wrong_company["statusCode"] == 404
    staff = call("POST", path, user=ADMIN, body={"external_id": "X", "contact_name": "A", "phone": "+15550101"})
    assert staff["statusCode"] == 403


def test_machine_token_on_staff_route_is_403(call: Call, org: dict[str, Any]) -> None:
    response = call("GET", f"/orgs/{org['org_id']}/leads", machine=org["client_id"])
    assert response["statusCode"] == 403
    assert response["headers"]["Content-Type"] == "application/problem+json"


def test_invalid_intake_names_each_field_and_writes_nothing(call: Call, org: dict[str, Any]) -> None:
    bad = intake(call, org, "bad id with spaces", phone="not a phone", email="nope", requested_location="moon")
    assert bad["statusCode"] == 422
    assert bad["headers"]["Content-Type"] == "application/problem+json"
    fields = {e["field"] for e in body_of(bad)["errors"]}
    assert {"body.external_id", "body.phone", "body.email", "body.requested_location"} <= fields
    listing = call("GET", f"/orgs/{org['org_id']}/leads", user=ADMIN, query={"status": "queued"})
    assert body_of(listing)["items"] == []


def test_lead_without_any_contact_method_is_refused(call: Call, org: dict[str, Any]) -> None:
    response = call(
        "POST",
        f"/orgs/{org['org_id']}/partner-companies/{org['company_id']}/leads",
        machine=org["client_id"],
        body={"external_id": "NO-REACH", "contact_name": "Nobody"},
    )
    assert response["statusCode"] == 422
    assert {e["field"] for e in body_of(response)["errors"]} == {"body.phone", "body.email"}


def test_queue_gives_highest_priority_then_oldest_ready(call: Call, org: dict[str, Any], frozen_clock: Any) -> None:
    org_id = org["org_id"]
    normal = call(
        "POST",
        f"/orgs/{org_id}/leads",
        user=REP1,
        body={"contact_name": "Normal", "phone": "+15550102", "location": "queue", "source_id": SELF},
    )
    frozen_clock.advance(minutes=1)
    later = intake(call, org, "LATER", contact_not_before="2026-11-22T12:00:00Z")
    frozen_clock.advance(minutes=1)
    high = intake(call, org, "HIGH")
    claims = [call("POST", f"/orgs/{org_id}/lead-queue/claims", user=REP1) for _ in range(3)]
    assert [body_of(c)["lead_id"] for c in claims[:2]] == [body_of(high)["lead_id"], body_of(normal)["lead_id"]]
    assert claims[2]["statusCode"] == 204  # the deferred lead is not ready yet
    frozen_clock.advance(hours=3)
    ready = call("POST", f"/orgs/{org_id}/lead-queue/claims", user=REP2)
    assert body_of(ready)["lead_id"] == body_of(later)["lead_id"]
    assert body_of(ready)["assignee"] == REP2


def test_only_the_assignee_or_an_admin_acts_on_an_assigned_lead(call: Call, org: dict[str, Any]) -> None:
    org_id = org["org_id"]
    lead_id = body_of(intake(call, org, "A-1"))["lead_id"]
    call("POST", f"/orgs/{org_id}/lead-queue/claims", user=REP1)
    refused = call("POST", f"/orgs/{org_id}/leads/{lead_id}/invalidate", user=REP2, body={"reason": "spam"})
    assert refused["statusCode"] == 403
    assert body_of(refused)["type"] == "/problems/lead-assigned-to-another-user"
    assert call("GET", f"/orgs/{org_id}/leads/{lead_id}", user=REP2)["statusCode"] == 403
    kept = call("POST", f"/orgs/{org_id}/leads/{lead_id}/keep", user=REP1)
    assert kept["statusCode"] == 200
    requeued = call(
        "POST",
        f"/orgs/{org_id}/leads/{lead_id}/requeue",
        user=ADMIN,
        body={"contact_not_before": "2026-11-23T09:00:00Z"},
    )
    assert body_of(requeued)["status"] == "queued" and body_of(requeued)["assignee"] is None
    assert call("POST", f"/orgs/{org_id}/lead-queue/claims", user=REP2)["statusCode"] == 204
    history = [e["action"] for e in body_of(call("GET", f"/orgs/{org_id}/leads/{lead_id}", user=ADMIN))["history"]]
    assert history == ["received", "claimed", "kept", "requeued"]


def test_convert_creates_a_customer_once(call: Call, org: dict[str, Any]) -> None:
    org_id = org["org_id"]
    lead_id = body_of(intake(call, org, "C-1", email="jane@example.org"))["lead_id"]
    call("POST", f"/orgs/{org_id}/lead-queue/claims", user=REP1)
    converted = call("POST", f"/orgs/{org_id}/leads/{lead_id}/convert", user=REP1)
    assert converted["statusCode"] == 201
    customer = body_of(converted)["customer"]
    assert customer["contact"]["email"] == "jane@example.org"
    assert customer["source"] == {
        "kind": "partner_company",
        "source_id": org["company_id"],
        "company_id": org["company_id"],
        "external_id": "C-1",
        "entered_by": None,
        "campaign_id": None,
        "campaign_name": None,
        "lead_id": lead_id,
    }
    again = call("POST", f"/orgs/{org_id}/leads/{lead_id}/convert", user=REP1)
    assert again["statusCode"] == 409
    fetched = call("GET", f"/orgs/{org_id}/customers/{customer['customer_id']}", user=REP1)
    assert body_of(fetched)["customer_id"] == customer["customer_id"]


def test_return_rules(call: Call, org: dict[str, Any]) -> None:
    org_id = org["org_id"]
    bought = body_of(intake(call, org, "RET-1"))["lead_id"]
    manual = body_of(
        call(
            "POST",
            f"/orgs/{org_id}/leads",
            user=REP1,
            body={"contact_name": "Walk-in", "phone": "+15550103", "source_id": SELF},
        )
    )["lead_id"]
    refused = call("POST", f"/orgs/{org_id}/lead-returns", user=REP1, body={"lead_ids": [bought, manual]})
    assert refused["statusCode"] == 409
    assert "did not come from a partner company" in body_of(refused)["detail"]
    assert body_of(call("GET", f"/orgs/{org_id}/leads/{bought}", user=ADMIN))["status"] == "queued"
    returned = call(
        "POST",
        f"/orgs/{org_id}/lead-returns",
        user=REP1,
        body={"lead_ids": [bought], "comments": "number disconnected"},
    )
    assert body_of(returned)["items"] == [{"lead_id": bought, "status": "returned", "changed": True}]
    again = call("POST", f"/orgs/{org_id}/lead-returns", user=REP1, body={"lead_ids": [bought]})
    assert body_of(again)["items"][0]["changed"] is False
    lead = body_of(call("GET", f"/orgs/{org_id}/leads/{bought}", user=ADMIN))
    assert lead["returned"]["comments"] == "number disconnected"
    assert [e["action"] for e in lead["history"]] == ["received", "returned"]


def test_other_orgs_resources_are_404_and_missing_permission_403(call: Call, org: dict[str, Any]) -> None:
    lead_id = body_of(intake(call, org, "ISO-1"))["lead_id"]
    other = body_of(call("POST", "/orgs", user="user-outsider", groups=OPERATOR, body={"name": "Other org"}))["org_id"]
    assert call("GET", f"/orgs/{org['org_id']}/leads/{lead_id}", user="user-outsider")["statusCode"] == 404
    assert call("GET", f"/orgs/{other}/leads/{lead_id}", user="user-outsider")["statusCode"] == 404
    no_perm = call("GET", f"/orgs/{org['org_id']}/leads", user=REP1, query={"status": "pending"})
    assert no_perm["statusCode"] == 403
    assert call("GET", f"/orgs/{org['org_id']}/leads", user=VIEWER, query={"status": "pending"})["statusCode"] == 200


def test_revoked_permission_applies_on_next_request(call: Call, org: dict[str, Any]) -> None:
    org_id = org["org_id"]
    assert call("GET", f"/orgs/{org_id}/leads", user=VIEWER)["statusCode"] == 200
    call("PUT", f"/orgs/{org_id}/members/{VIEWER}", user=ADMIN, body={"permissions": []})
    assert call("GET", f"/orgs/{org_id}/leads", user=VIEWER)["statusCode"] == 403


def test_pending_leads_need_the_permission_to_act(call: Call, org: dict[str, Any]) -> None:
    org_id = org["org_id"]
    lead_id = body_of(intake(call, org, "P-1", requested_location="pending"))["lead_id"]
    refused = call("POST", f"/orgs/{org_id}/leads/{lead_id}/requeue", user=REP1, body={})
    assert refused["statusCode"] == 403
    moved = call("POST", f"/orgs/{org_id}/leads/{lead_id}/requeue", user=VIEWER, body={})
    assert body_of(moved)["status"] == "queued"


def test_no_token_is_401_and_unknown_route_404(call: Call) -> None:
    assert call("GET", "/orgs/01JD0000000000000000000000")["statusCode"] == 401
    assert call("GET", "/nowhere", user=ADMIN)["statusCode"] == 404


def test_an_unexpected_failure_is_a_problem_without_personal_data(
    call: Call, org: dict[str, Any], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("jane@example.org is in this message")

    monkeypatch.setattr("common.leads.intake.intake_lead", broken)
    response = intake(call, org, "BOOM", email="jane@example.org")
    assert response["statusCode"] == 500
    assert body_of(response)["type"] == "/problems/internal"
    (record,) = [r for r in caplog.records if r.getMessage() == "unexpected error"]
    assert record.__dict__["error_type"] == "RuntimeError"
    everything_logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "jane@example.org" not in everything_logged


def test_the_last_admin_cannot_be_removed(call: Call, org: dict[str, Any]) -> None:
    org_id = org["org_id"]
    assert call("DELETE", f"/orgs/{org_id}/members/{ADMIN}", user=ADMIN)["statusCode"] == 409
    call("PUT", f"/orgs/{org_id}/members/{REP1}", user=ADMIN, body={"role": "admin"})
    assert call("DELETE", f"/orgs/{org_id}/members/{ADMIN}", user=ADMIN)["statusCode"] == 204
    assert call("GET", f"/orgs/{org_id}", user=ADMIN)["statusCode"] == 404
    assert call("DELETE", f"/orgs/{org_id}/members/nobody", user=REP1)["statusCode"] == 404


def test_many_deferred_high_priority_leads_do_not_hide_a_ready_one(call: Call, org: dict[str, Any]) -> None:
    org_id = org["org_id"]
    for i in range(25):  # more than one page of the queue read, all high priority, none ready today
        intake(call, org, f"LATER-{i}", contact_not_before="2026-11-30T09:00:00Z")
    ready = call(
        "POST",
        f"/orgs/{org_id}/leads",
        user=REP1,
        body={
            "contact_name": "Now",
            "phone": "+15550104",
            "location": "queue",
            "priority": "normal",
            "source_id": SELF,
        },
    )
    claimed = call("POST", f"/orgs/{org_id}/lead-queue/claims", user=REP2)
    assert body_of(claimed)["lead_id"] == body_of(ready)["lead_id"]
    assert call("POST", f"/orgs/{org_id}/lead-queue/claims", user=REP2)["statusCode"] == 204


def test_only_admins_grant_admin_and_nobody_grants_more_than_they_hold(call: Call, org: dict[str, Any]) -> None:
    org_id = org["org_id"]
    call("PUT", f"/orgs/{org_id}/members/mgr", user=ADMIN, body={"permissions": ["members:manage", "leads:request"]})
    assert call("PUT", f"/orgs/{org_id}/members/mgr", user="mgr", body={"role": "admin"})["statusCode"] == 403
    beyond = call("PUT", f"/orgs/{org_id}/members/{REP1}", user="mgr", body={"permissions": ["leads:manage"]})
    assert beyond["statusCode"] == 403 and "leads:manage" in body_of(beyond)["detail"]
    assert call("DELETE", f"/orgs/{org_id}/members/{ADMIN}", user="mgr")["statusCode"] == 403
    within = call("PUT", f"/orgs/{org_id}/members/new-rep", user="mgr", body={"permissions": ["leads:request"]})
    assert within["statusCode"] == 200


def test_the_last_admin_cannot_step_down(call: Call, org: dict[str, Any]) -> None:
    org_id = org["org_id"]
    demoted = call("PUT", f"/orgs/{org_id}/members/{ADMIN}", user=ADMIN, body={"role": "staff"})
    assert demoted["statusCode"] == 409 and body_of(demoted)["detail"] == "an organisation keeps at least one admin"
    assert call("GET", f"/orgs/{org_id}/members", user=ADMIN)["statusCode"] == 200


def test_only_operators_create_organisations(call: Call, org: dict[str, Any]) -> None:
    for groups in ((), ("sales",)):
        refused = call("POST", "/orgs", user=REP1, groups=groups, body={"name": "Mine"})
        assert refused["statusCode"] == 403 and refused["headers"]["Content-Type"] == "application/problem+json"
        assert "operators" in body_of(refused)["detail"]
    machine = call("POST", "/orgs", machine="client-9", body={"name": "Mine"})
    assert machine["statusCode"] == 403
    assert [o["org_id"] for o in body_of(call("GET", "/orgs", user=REP1))["items"]] == [org["org_id"]]
    created = call("POST", "/orgs", user=REP1, groups=("sales", *OPERATOR), body={"name": "Mine"})
    assert created["statusCode"] == 201, created
    assert body_of(call("GET", f"/orgs/{body_of(created)['org_id']}", user=REP1))["membership"]["role"] == "admin"


def test_my_organisations(call: Call, org: dict[str, Any]) -> None:
    mine = body_of(call("GET", "/orgs", user=REP1))["items"]
    assert mine == [
        {"org_id": org["org_id"], "org_name": "Acme Security", "role": "staff", "permissions": sorted(REP_PERMISSIONS)}
    ]
    assert body_of(call("GET", "/orgs", user="stranger"))["items"] == []


def test_pending_leads_are_returned_only_with_the_permission(call: Call, org: dict[str, Any]) -> None:
    org_id = org["org_id"]
    pending = body_of(intake(call, org, "PEND-RET", requested_location="pending"))["lead_id"]
    refused = call("POST", f"/orgs/{org_id}/lead-returns", user=REP1, body={"lead_ids": [pending]})
    assert refused["statusCode"] == 403
    call(
        "PUT",
        f"/orgs/{org_id}/members/{REP1}",
        user=ADMIN,
        body={"permissions": [*REP_PERMISSIONS, "leads:view_pending"]},
    )
    assert call("POST", f"/orgs/{org_id}/lead-returns", user=REP1, body={"lead_ids": [pending]})["statusCode"] == 200


@pytest.mark.parametrize("moment", ["9999-12-31T23:00:00-05:00", "0999-01-01T00:00:00Z", "2150-01-01T00:00:00Z"])
def test_implausible_contact_times_are_invalid_input(call: Call, org: dict[str, Any], moment: str) -> None:
    response = intake(call, org, "WHEN", contact_not_before=moment)
    assert response["statusCode"] == 422
    assert [e["field"] for e in body_of(response)["errors"]] == ["body.contact_not_before"]


def test_settings_that_always_have_a_value_cannot_be_cleared(call: Call, org: dict[str, Any]) -> None:
    path = f"/orgs/{org['org_id']}/partner-companies/{org['company_id']}"
    refused = call("PATCH", path, user=ADMIN, body={"sells_leads": None, "queue_priority": None, "notes": None})
    assert refused["statusCode"] == 422
    assert {e["field"] for e in body_of(refused)["errors"]} == {"body.sells_leads", "body.queue_priority"}
    assert body_of(call("GET", path, user=ADMIN))["sells_leads"] is True
    assert call("PATCH", path, user=ADMIN, body={"notes": None, "phone": None})["statusCode"] == 200


@pytest.mark.parametrize("bad", ["x" * 3000, "not-an-id", "01jd0000000000000000000000"])
def test_malformed_ids_in_the_path_are_invalid_input(call: Call, org: dict[str, Any], bad: str) -> None:
    response = call("GET", f"/orgs/{org['org_id']}/leads/{bad}", user=ADMIN)
    assert response["statusCode"] == 422
    assert [e["field"] for e in body_of(response)["errors"]] == ["path.lead_id"]
    assert call("GET", f"/orgs/{bad}", user=ADMIN)["statusCode"] == 422


def claim_with_key(call: Call, org: dict[str, Any], key: str, user: str = REP1) -> dict[str, Any]:
    return call("POST", f"/orgs/{org['org_id']}/lead-queue/claims", user=user, headers={"idempotency-key": key})


def test_a_retried_claim_with_the_same_key_gets_the_same_lead(
    call: Call, org: dict[str, Any], frozen_clock: Any
) -> None:
    first_lead = body_of(intake(call, org, "IDEM-0"))["lead_id"]
    frozen_clock.advance(seconds=1)
    second_lead = body_of(intake(call, org, "IDEM-1"))["lead_id"]
    first = claim_with_key(call, org, "claim-attempt-1")
    retried = claim_with_key(call, org, "claim-attempt-1")
    assert body_of(first)["lead_id"] == body_of(retried)["lead_id"] == first_lead
    mine = body_of(call("GET", f"/orgs/{org['org_id']}/my-leads", user=REP1))["items"]
    assert [lead["lead_id"] for lead in mine] == [first_lead]  # the retry claimed nothing more
    assert body_of(claim_with_key(call, org, "claim-attempt-2"))["lead_id"] == second_lead


def test_an_idempotency_key_is_per_caller_and_bound_to_its_body(call: Call, org: dict[str, Any]) -> None:
    intake(call, org, "IDEM-A")
    intake(call, org, "IDEM-B")
    assert claim_with_key(call, org, "same-key", user=REP1)["statusCode"] == 200
    assert claim_with_key(call, org, "same-key", user=REP2)["statusCode"] == 200  # another caller, own key space
    path, key = f"/orgs/{org['org_id']}/leads", {"idempotency-key": "manual-1"}
    first = call(
        "POST", path, user=REP1, body={"contact_name": "A", "phone": "+15550105", "source_id": SELF}, headers=key
    )
    assert first["statusCode"] == 201
    reused = call(
        "POST", path, user=REP1, body={"contact_name": "B", "phone": "+15550106", "source_id": SELF}, headers=key
    )
    assert reused["statusCode"] == 422
    assert body_of(reused)["errors"][0]["field"] == "header.idempotency-key"


def post_with_key(path: str, key: str, user: str = REP1, body: Any = None) -> dict[str, Any]:
    return api_caller("leads")("POST", path, user=user, body=body, headers={"idempotency-key": key})


def test_conflicts_are_not_remembered_so_a_retry_decides_again(call: Call, org: dict[str, Any]) -> None:
    org_id = org["org_id"]
    lead_id = body_of(intake(call, org, "IDEM-409"))["lead_id"]
    too_early = post_with_key(f"/orgs/{org_id}/leads/{lead_id}/convert", "convert-1")
    assert too_early["statusCode"] == 409  # queued, not yet claimed
    call("POST", f"/orgs/{org_id}/lead-queue/claims", user=REP1)
    assert post_with_key(f"/orgs/{org_id}/leads/{lead_id}/convert", "convert-1")["statusCode"] == 201


def test_issued_credentials_are_never_stored_for_replay(call: Call, org: dict[str, Any]) -> None:
    path = f"/orgs/{org['org_id']}/partner-companies/{org['company_id']}/credentials"
    first = post_with_key(path, "creds-1", user=ADMIN)
    second = post_with_key(path, "creds-1", user=ADMIN)
    assert body_of(first)["client_id"] != body_of(second)["client_id"]  # issued again, not replayed
    stored = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]  # moto table of this test only
    assert not any(body_of(first)["client_secret"] in json.dumps(item) for item in stored)
