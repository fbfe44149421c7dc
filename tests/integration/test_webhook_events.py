"""The event stream end to end, over HTTP against the local stack: an organisation's admin subscribes an endpoint
to every event, the organisation's people and systems make changes through the API, and a receiver on
127.0.0.1 verifying with the Standard Webhooks library gets exactly one signed delivery per event, its body
valid against the type's published JSON Schema (docs/events). Three organisations make every catalogued
change between them: leads (received, claimed, requeued, converted, invalidated, returned) and customers;
partners (added, status changed, removed) and the programme (joined, invited, registered); deals (created,
moved, shared), commissions (paid, reversed), a wallet correction and payouts (requested, paid, rejected);
referral requests (created, offered, accepted, expired) and team customers (assigned, status changed, overdue).
Then what an admin does with the deliveries over HTTP: the log, a resend, a replay, a test event; and an
endpoint that fails every delivery for five days is disabled, its admins told, and once enabled again gets
what failed."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests
from common.integrations import events
from common.integrations.events import Event
from common.platform import clock
from jsonschema import Draft202012Validator

from local import event_schemas
from local.stack import LocalStack
from tests.integration.support import webhook_receiver
from tests.integration.support.actors import Actor, Organisation, lead, new_organisation
from tests.integration.support.partners import new_partner
from tests.integration.support.webhook_receiver import Receiver, listening
from tests.integration.test_programme import Programme, invitee_email
from tests.integration.test_referrals import create, new_team
from tests.integration.test_registration import NEW_PASSWORD, invite, public

# This process on the stack's clock (the last test moves it), as a fixture here.
stack_clock = webhook_receiver.stack_clock

CONTACT = {"first_name": "Jane", "last_name": "Doe", "email": "jane@customer.example", "phone": "+1 555 0100"}
STAGES = [{"name": "New"}, {"name": "Won", "commission": "compute"}]
PLAN = {"currency": "AUD", "levels": [{"rule": "percentage", "percent": "10"}]}
DEAL_VALUE = {"amount": 1_000_000, "currency": "AUD"}
PAYOUT = 50_000
# What the changes below mean, each once. A staff-added partner is `partner.added`, and so is the partner put in
# place to sign in (tests.integration.support.partners writes its node as staff adding it would); crediting
# that LIVE partner with the deal makes them ACTIVE; the stage that computes commission pays level 1.
EXPECTED_EVENTS = {
    "lead.received": 1,
    "lead.claimed": 1,
    "lead.converted": 1,
    "customer.created": 1,
    "partner.added": 2,
    "partner.status_changed": 1,
    "deal.created": 1,
    "deal.stage_changed": 1,
    "commission.paid": 1,
    "payout.requested": 1,
    "payout.paid": 1,
}
WAIT = 60.0


def ok(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


@dataclass
class Scenario:
    org_id: str
    admin: Actor
    endpoint_id: str
    receiver: Receiver

    @property
    def endpoint(self) -> str:
        return f"/orgs/{self.org_id}/webhooks/{self.endpoint_id}"

    def recorded(self) -> list[Event]:
        """Every event of the organisation, oldest first."""
        found: list[Event] = []
        cursor = None
        while True:
            page, cursor = events.between(
                self.org_id, "2000-01-01T00:00:00.000Z", "2100-01-01T00:00:00.000Z", cursor=cursor
            )
            found += page
            if cursor is None:
                return found

    def log(self) -> list[dict[str, Any]]:
        """The endpoint's delivery log as its admin reads it, newest first."""
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 100}
        while True:
            page = ok(self.admin.get(f"{self.endpoint}/deliveries", params=params))
            items += page["items"]
            if not page["next_cursor"]:
                return items
            params["cursor"] = page["next_cursor"]


def published_schema(event_type: str, version: int) -> dict[str, Any]:
    return json.loads((event_schemas.SCHEMAS_DIR / f"{event_type}.v{version}.json").read_text())


def subscribe_to_everything(stack: LocalStack, org_id: str, admin: Actor, receiver: Receiver) -> str:
    """The organisation's admin subscribes the receiver to every event type, once what was set up before has
    gone through; the endpoint's id."""
    stack.wait_for_streams(WAIT)
    subscribed = {"url": receiver.url, "event_types": ["all"], "description": "CRM sync"}
    created = ok(admin.post(f"/orgs/{org_id}/webhooks", subscribed), 201)
    receiver.secrets.append(created["secret"])
    return str(created["endpoint_id"])


def assert_each_event_delivered_once(scenario: Scenario, expected: dict[str, int]) -> None:
    """The organisation's events are the ones expected, and the receiver got each once, signed (verified by the
    Standard Webhooks library), its body the event and valid against its type's published schema."""
    recorded = scenario.recorded()
    received = list(scenario.receiver.requests)

    assert dict(Counter(e.type for e in recorded)) == expected
    # Exactly one delivery per event: each webhook-id once, and no delivery of anything else.
    assert sorted(r["headers"]["webhook-id"] for r in received) == sorted(e.id for e in recorded)
    assert sorted(scenario.receiver.processed) == sorted(e.id for e in recorded)
    by_id = {e.id: e for e in recorded}
    for request in received:
        assert request["verified"] == [True]
        body = json.loads(request["body"])
        event = by_id[request["headers"]["webhook-id"]]
        assert body == event.model_dump(mode="json") and body["org_id"] == scenario.org_id
        Draft202012Validator(published_schema(body["type"], body["version"])).validate(body)


def drive_the_changes(stack: LocalStack, org: Organisation) -> None:
    """The changes, each through the API as its actor makes it."""
    org_path, admin, rep = f"/orgs/{org.org_id}", org.admin, org.reps[0]
    # A lead posted by the partner company, claimed from the queue and converted.
    lead_id = ok(org.company.post(org.intake_path, lead("EVENTS-1", email="jane@example.org")), 201)["lead_id"]
    assert ok(rep.post(f"{org_path}/lead-queue/claims"))["lead_id"] == lead_id
    ok(rep.post(f"{org_path}/leads/{lead_id}/convert"), 201)
    # A partner added by staff.
    partner_body = {"first_name": "Pat", "last_name": "Added", "email": "pat.added@it.example", "phone": "+1 555 0102"}
    ok(admin.post(f"{org_path}/partners", partner_body), 201)
    # A partner who signs in, credited with a deal that moves to a stage paying commission.
    partner = new_partner(stack, org.org_id)
    workflow = ok(admin.post(f"{org_path}/workflows", {"name": "Referrals", "stages": STAGES}), 201)
    ok(admin.post(f"{org_path}/commission-plan/versions", PLAN), 201)
    body = {"workflow_id": workflow["workflow_id"], "contacts": [CONTACT], "partner_id": partner.user_id}
    deal = ok(admin.post(f"{org_path}/deals", {**body, "value": DEAL_VALUE}), 201)
    won = next(s["stage_id"] for s in workflow["stages"] if s["name"] == "Won")
    ok(admin.post(f"{org_path}/deals/{deal['deal_id']}/stage", {"stage_id": won}))
    stack.wait_for_streams(WAIT)  # the commission is paid into the partner's wallet from the stage change
    # The partner asks for part of it, and staff pay it.
    requested = ok(partner.post(f"{org_path}/portal/payout-requests", {"amount": PAYOUT}), 201)
    ok(admin.post(f"{org_path}/payout-requests/{requested['request_id']}/pay"))
    stack.wait_for_streams(WAIT)


@pytest.fixture(scope="module")
def scenario(stack: LocalStack) -> Iterator[Scenario]:
    with listening(stack) as receiver:
        org = new_organisation(stack, reps=1)
        endpoint_id = subscribe_to_everything(stack, org.org_id, org.admin, receiver)
        drive_the_changes(stack, org)
        yield Scenario(org.org_id, org.admin, endpoint_id, receiver)


def test_every_change_is_delivered_once_signed_and_valid_against_its_published_schema(scenario: Scenario) -> None:
    assert_each_event_delivered_once(scenario, EXPECTED_EVENTS)


def test_the_log_shows_each_delivery_succeeded_at_its_first_attempt(scenario: Scenario) -> None:
    recorded = scenario.recorded()
    log = scenario.log()

    assert sorted(d["event_id"] for d in log) == sorted(e.id for e in recorded)
    assert {d["status"] for d in log} == {"succeeded"}
    assert all([a["status_code"] for a in d["attempts"]] == [204] for d in log)
    assert [d["occurred_at"] for d in log] == sorted((d["occurred_at"] for d in log), reverse=True)


def test_a_resend_delivers_the_same_event_again_under_its_webhook_id(stack: LocalStack, scenario: Scenario) -> None:
    (paid,) = [d for d in scenario.log() if d["event_type"] == "payout.paid"]
    before = len(scenario.receiver.requests)

    resent = ok(scenario.admin.post(f"{scenario.endpoint}/deliveries/{paid['delivery_id']}/resend"), 202)
    assert resent["status"] == "pending"
    stack.wait_for_streams(WAIT)

    (again,) = scenario.receiver.requests[before:]
    assert again["headers"]["webhook-id"] == paid["event_id"] and again["verified"] == [True]
    assert scenario.receiver.processed.count(paid["event_id"]) == 1  # the receiver deduplicated it
    log = ok(scenario.admin.get(f"{scenario.endpoint}/deliveries/{paid['delivery_id']}"))
    assert log["status"] == "succeeded" and log["attempt_count"] == 2


def test_a_replay_delivers_every_event_of_the_range_again(stack: LocalStack, scenario: Scenario) -> None:
    recorded = scenario.recorded()
    start = recorded[0].occurred_at
    end = clock.iso(datetime.fromisoformat(recorded[-1].occurred_at) + timedelta(milliseconds=1))
    before = len(scenario.receiver.requests)

    replayed = ok(scenario.admin.post(f"{scenario.endpoint}/replay", {"start": start, "end": end}), 202)
    assert (replayed["deliveries"], replayed["more"]) == (len(recorded), False)
    stack.wait_for_streams(WAIT)

    again = scenario.receiver.requests[before:]
    assert sorted(r["headers"]["webhook-id"] for r in again) == sorted(e.id for e in recorded)
    assert all(r["verified"] == [True] for r in again)
    assert len(scenario.receiver.processed) == len(recorded)  # nothing processed twice


def test_a_test_event_reaches_the_endpoint_as_published(stack: LocalStack, scenario: Scenario) -> None:
    before = len(scenario.receiver.requests)

    sent = ok(scenario.admin.post(f"{scenario.endpoint}/test"), 202)
    stack.wait_for_streams(WAIT)

    (request,) = scenario.receiver.requests[before:]
    body = json.loads(request["body"])
    assert request["verified"] == [True] and body["id"] == sent["event_id"]
    assert body["type"] == "webhook.test" and body["data"]["endpoint_id"] == scenario.endpoint_id
    Draft202012Validator(published_schema("webhook.test", body["version"])).validate(body)
    log = ok(scenario.admin.get(f"{scenario.endpoint}/deliveries/{sent['delivery_id']}"))
    assert log["status"] == "succeeded"


# -- the other changes ---------------------------------------------------------------------------------

STAGES_BOTH_WAYS = [*STAGES, {"name": "Lost", "commission": "reverse"}]
# Three leads from the partner company (one requeued for later, one invalid, one returned to the company); a
# partner added, ended and removed; a staff member joining the programme, a partner inviting someone who
# registers; a deal credited to that partner (who becomes ACTIVE), shared with the registered one, paying
# commission and taking it back; a correction; a payout requested and rejected.
MORE_EXPECTED_EVENTS = {
    "lead.received": 3,
    "lead.claimed": 2,
    "lead.requeued": 1,
    "lead.invalidated": 1,
    "lead.returned": 1,
    "partner.added": 2,
    "partner.status_changed": 2,
    "partner.removed": 1,
    "programme.joined": 1,
    "programme.invited": 1,
    "programme.registered": 1,
    "deal.created": 1,
    "deal.shared": 1,
    "deal.stage_changed": 2,
    "commission.paid": 1,
    "commission.reversed": 1,
    "wallet.corrected": 1,
    "payout.requested": 1,
    "payout.rejected": 1,
}
REFERRAL_EXPECTED_TYPES = {
    "referral_request.created": 2,
    "referral_request.accepted": 1,
    "referral_request.expired": 1,
    "team_customer.assigned": 2,
    "team_customer.status_changed": 1,
    "team_customer.overdue": 1,
}


def test_the_leads_partners_programme_and_money_changes_are_each_delivered_once(stack: LocalStack) -> None:
    with listening(stack) as receiver:
        org = new_organisation(stack, reps=1)
        org_path, admin, rep = f"/orgs/{org.org_id}", org.admin, org.reps[0]
        endpoint_id = subscribe_to_everything(stack, org.org_id, admin, receiver)

        later = ok(org.company.post(org.intake_path, lead("EVENTS-LATER")), 201)["lead_id"]
        assert ok(rep.post(f"{org_path}/lead-queue/claims"))["lead_id"] == later
        ok(rep.post(f"{org_path}/leads/{later}/requeue", {"contact_not_before": "2099-01-01T00:00:00Z"}))
        invalid = ok(org.company.post(org.intake_path, lead("EVENTS-INVALID")), 201)["lead_id"]
        assert ok(rep.post(f"{org_path}/lead-queue/claims"))["lead_id"] == invalid
        ok(rep.post(f"{org_path}/leads/{invalid}/invalidate", {"reason": "Wrong number"}))
        returned = ok(org.company.post(org.intake_path, lead("EVENTS-RETURNED")), 201)["lead_id"]
        ok(admin.post(f"{org_path}/lead-returns", {"lead_ids": [returned], "comments": "Not in our area"}))

        partner_body = {
            "first_name": "Pat",
            "last_name": "Gone",
            "email": "pat.gone@it.example",
            "phone": "+1 555 0104",
        }
        gone = ok(admin.post(f"{org_path}/partners", partner_body), 201)["partner_id"]
        ok(admin.post(f"{org_path}/partners/{gone}/status", {"status": "ENDED"}))
        assert admin.call("DELETE", f"{org_path}/partners/{gone}").status_code == 204

        ok(admin.post(f"{org_path}/programme/join", {}), 201)
        inviter = new_partner(stack, org.org_id)
        programme = Programme(stack, org.org_id, admin)
        token = invite(programme, inviter, invitee_email())
        registered = public(
            stack, "POST", "/public/registrations/invitation", {"token": token, "password": NEW_PASSWORD}
        )
        invitee = ok(registered, 201)["partner_id"]

        workflow = ok(admin.post(f"{org_path}/workflows", {"name": "Referrals", "stages": STAGES_BOTH_WAYS}), 201)
        ok(admin.post(f"{org_path}/commission-plan/versions", PLAN), 201)
        body = {"workflow_id": workflow["workflow_id"], "contacts": [CONTACT], "partner_id": inviter.user_id}
        deal = ok(admin.post(f"{org_path}/deals", {**body, "value": DEAL_VALUE}), 201)
        deal_path = f"{org_path}/deals/{deal['deal_id']}"
        ok(admin.put(f"{deal_path}/partners/{invitee}"), 201)
        stage = {s["name"]: s["stage_id"] for s in workflow["stages"]}
        ok(admin.post(f"{deal_path}/stage", {"stage_id": stage["Won"]}))
        stack.wait_for_streams(WAIT)  # the commission is paid before it is taken back
        ok(admin.post(f"{deal_path}/stage", {"stage_id": stage["Lost"]}))
        stack.wait_for_streams(WAIT)
        correction = {"amount": 20_000, "reason": "Referral fee agreed separately"}
        ok(admin.post(f"{org_path}/wallets/{inviter.user_id}/corrections", correction), 201)
        requested = ok(inviter.post(f"{org_path}/portal/payout-requests", {"amount": 10_000}), 201)
        ok(admin.post(f"{org_path}/payout-requests/{requested['request_id']}/reject", {"reason": "No invoice"}))
        stack.wait_for_streams(WAIT)

        assert_each_event_delivered_once(Scenario(org.org_id, admin, endpoint_id, receiver), MORE_EXPECTED_EVENTS)


def test_the_referral_and_team_customer_changes_are_each_delivered_once(stack: LocalStack) -> None:
    with listening(stack) as receiver:
        team = new_team(stack, members={"amy": {"role": "member", "eligible": True}, "ben": {"role": "member"}})
        org_path, staff = f"/orgs/{team.org_id}", team.staff  # the organisation's admin
        team_path = f"{org_path}/teams/{team.team_id}"
        amy, ben = team.members["amy"], team.members["ben"]
        endpoint_id = subscribe_to_everything(stack, team.org_id, staff, receiver)

        accepted = create(team)  # offered to the eligible (texted by the referrals consumer)
        stack.wait_for_streams(WAIT)
        ok(amy.post(f"{team.requests_path}/{accepted['request_id']}/accept"))
        customer = f"{team_path}/customers/{accepted['request_id']}"
        ok(team.leader.put(f"{customer}/assignee", {"user_id": ben.user_id}))
        ok(ben.post(f"{customer}/status", {"status": "contacted"}))
        expiring = create(team, expires_in_minutes=5)
        stack.wait_for_streams(WAIT)
        stack.advance_clock(8 * 86400)  # the request expires; the customer is due and overdue
        run = stack.run_schedule("StatusSweep")
        assert run.ok, run.error
        stack.wait_for_streams(WAIT)
        assert ok(staff.get(f"{team.requests_path}/{expiring['request_id']}"))["status"] == "expired"

        scenario = Scenario(team.org_id, staff, endpoint_id, receiver)
        offered = Counter(e.type for e in scenario.recorded())["referral_request.offered"]
        assert offered >= 2  # each request offered to the team's eligible people, one event per offer
        assert_each_event_delivered_once(scenario, {**REFERRAL_EXPECTED_TYPES, "referral_request.offered": offered})


def test_an_endpoint_failing_for_five_days_is_disabled_and_gets_what_failed_once_enabled(stack: LocalStack) -> None:
    with listening(stack) as receiver:
        org = new_organisation(stack, reps=0)
        stack.wait_for_streams(WAIT)
        subscribed = {"url": receiver.url, "event_types": ["partner.added"]}
        created = ok(org.admin.post(f"/orgs/{org.org_id}/webhooks", subscribed), 201)
        receiver.secrets.append(created["secret"])
        endpoint = f"/orgs/{org.org_id}/webhooks/{created['endpoint_id']}"
        receiver.answers = [500]

        def add_partner(n: int) -> None:
            email = f"failing-{n}-{org.org_id.lower()}@it.example"
            body = {"first_name": "Pat", "last_name": f"Failing{n}", "email": email, "phone": "+1 555 0103"}
            ok(org.admin.post(f"/orgs/{org.org_id}/partners", body), 201)
            stack.wait_for_streams(WAIT)

        def six_hours_later() -> dict[str, Any]:
            stack.advance_clock(6 * 3600)
            stack.wait_for_streams(WAIT)
            return ok(org.admin.get(endpoint))

        add_partner(1)
        for _ in range(14):  # three and a half days: the first delivery's schedule ends, failed
            assert six_hours_later()["enabled"] is True
        add_partner(2)
        for _ in range(12):  # its deliveries fail on; the first attempt five days after the first failure
            state = six_hours_later()
            if not state["enabled"]:
                break
        assert (state["enabled"], state["disabled_reason"]) == (False, "failing")
        for _ in range(2):  # what was still pending ends without a request
            six_hours_later()
        requests_while_failing = len(receiver.requests)
        six_hours_later()
        assert len(receiver.requests) == requests_while_failing

        cognito = stack.client("cognito-idp")
        user = cognito.admin_get_user(UserPoolId=stack.user_pool_id, Username=org.admin.user_id)
        address = next(a["Value"] for a in user["UserAttributes"] if a["Name"] == "email")
        told = [m for m in stack.outbox() if m["to"] == [address] and "webhook endpoint was disabled" in m["subject"]]
        assert len(told) == 1

        # Fixed and enabled again, the endpoint is sent what failed, once each.
        receiver.answers = [204]
        assert ok(org.admin.post(f"{endpoint}/enable"))["enabled"] is True
        handed_on = ok(org.admin.post(f"{endpoint}/resend-failed"), 202)
        assert (handed_on["deliveries"], handed_on["more"]) == (2, False)
        stack.wait_for_streams(WAIT)
        delivered = [r["headers"]["webhook-id"] for r in receiver.requests[requests_while_failing:]]
        assert sorted(delivered) == sorted(receiver.processed) and len(set(delivered)) == 2
        assert all(r["verified"] == [True] for r in receiver.requests)
