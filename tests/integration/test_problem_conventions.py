"""One convention for refusals: every problem names its request path (`instance`), whichever layer answers
it; a conflict that stands on other items names them in `conflicting_ids`; and one rule answers one status
and problem type through every route that enforces it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from common.partners.partner_records import PartnerStatus
from twilio.request_validator import RequestValidator

from local.stack import TWILIO_AUTH_TOKEN, LocalStack
from tests.integration.support.actors import Actor, Organisation, new_organisation, new_user
from tests.integration.support.partners import new_partner
from tests.integration.test_programme import new_programme
from tests.integration.test_sms_webhook import inbound, new_phone, webhook_url
from tests.integration.test_terms import publish


def problem(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = dict(response.json())
    assert body["type"] == f"/problems/{code}", body
    assert body["instance"] == requests.utils.urlparse(response.request.url).path
    return body


def ok(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


@pytest.fixture(scope="module")
def org(stack: LocalStack) -> Organisation:
    return new_organisation(stack, reps=1)


# -- instance, from every layer that answers a problem ----------------------------------------------


def test_a_domain_refusal_and_an_unknown_route_name_their_path(org: Organisation) -> None:
    path = f"/orgs/{org.org_id}"
    problem(org.admin.get(f"{path}/leads/01JD0000000000000000000000"), 404, "lead-not-found")
    problem(org.reps[0].post(f"{path}/partner-companies", {"name": "Seller"}), 403, "forbidden")
    problem(org.admin.get(f"{path}/no-such-thing"), 404, "not-found")


def test_validation_and_unreadable_bodies_name_their_path(org: Organisation) -> None:
    path = f"/orgs/{org.org_id}/message-templates"
    invalid = problem(org.admin.post(path, {"name": "", "x": 1}), 422, "invalid-input")
    assert {"body.x", "body.name"} <= {e["field"] for e in invalid["errors"]}
    unreadable = org.admin.call("POST", path, data=b'{"name": ', headers={"Content-Type": "application/json"})
    problem(unreadable, 400, "malformed-body")
    wrong_type = org.admin.call("POST", path, data=b"name=x", headers={"Content-Type": "text/plain"})
    problem(wrong_type, 415, "unsupported-media-type")


def test_an_idempotency_key_reused_names_the_key_and_the_path(org: Organisation) -> None:
    path, key = f"/orgs/{org.org_id}/message-templates", uuid.uuid4().hex
    template = {"name": "Thanks", "subject": "Thanks", "body": "Thanks for the lead"}
    ok(org.admin.post(path, template, headers={"Idempotency-Key": key}), 201)
    reused = org.admin.post(path, {**template, "name": "Other"}, headers={"Idempotency-Key": key})
    assert problem(reused, 422, "idempotency-key-reused")["conflicting_ids"] == [key]


def test_the_twilio_webhook_names_its_path(stack: LocalStack) -> None:
    url = webhook_url(stack)
    unsigned = requests.post(url, data=inbound("YES 1234", new_phone()), timeout=30)
    problem(unsigned, 403, "forbidden")
    params = {**inbound("YES 1234", new_phone()), "MessageSid": "not-a-sid"}
    signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(url, params)
    malformed = requests.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=30)
    problem(malformed, 400, "malformed-body")


# -- conflicts name what they stand on ---------------------------------------------------------------


def test_an_existing_partner_and_a_changed_deal_are_named(org: Organisation) -> None:
    path = f"/orgs/{org.org_id}"
    new = {
        "first_name": "Pat",
        "last_name": "Partner",
        "email": f"{uuid.uuid4().hex[:8]}@it.example",
        "phone": "+1 555 0101",
    }
    partner_id = ok(org.admin.post(f"{path}/partners", new), 201)["partner_id"]
    again = problem(org.admin.post(f"{path}/partners", {**new, "first_name": "Twin"}), 409, "conflict")
    assert again["conflicting_ids"] == [partner_id]

    workflow = ok(org.admin.post(f"{path}/workflows", {"name": "Flow", "stages": [{"name": "A"}, {"name": "B"}]}), 201)
    body = {"workflow_id": workflow["workflow_id"], "contacts": [{"first_name": "Casey", "last_name": "Client"}]}
    deal = ok(org.admin.post(f"{path}/deals", body), 201)
    move = {"stage_id": workflow["stages"][1]["stage_id"], "version": deal["version"] + 5}
    stale = problem(org.admin.post(f"{path}/deals/{deal['deal_id']}/stage", move), 409, "deal-changed")
    assert stale["conflicting_ids"] == [str(deal["version"])]


def test_an_open_payout_request_is_named(stack: LocalStack, org: Organisation) -> None:
    path = f"/orgs/{org.org_id}"
    plan = {"currency": "AUD", "levels": [{"rule": "percentage", "percent": "10"}]}
    ok(org.admin.post(f"{path}/commission-plan/versions", plan), 201)
    payee = new_partner(stack, org.org_id)
    ok(org.admin.post(f"{path}/wallets/{payee.user_id}/corrections", {"amount": 1_000, "reason": "seed"}), 201)
    first = ok(payee.post(f"{path}/portal/payout-requests", {"amount": 100}), 201)
    second = problem(payee.post(f"{path}/portal/payout-requests", {"amount": 100}), 409, "payout-request-open")
    assert second["conflicting_ids"] == [first["request_id"]]


@dataclass
class Team:
    org: Organisation
    path: str
    leader: Actor
    admin: Actor
    member: Actor

    def put_member(self, user: Actor, role: str, by: Actor | None = None) -> requests.Response:
        body = {"role": role, "phone": new_phone(), "display_name": "Someone"}
        return (by or self.org.admin).put(f"{self.path}/members/{user.user_id}", body)


@pytest.fixture
def team(stack: LocalStack, org: Organisation) -> Team:
    leader, admin, member = (new_user(stack, role) for role in ("leader", "team-admin", "member"))
    details = {"user_id": leader.user_id, "phone": new_phone(), "display_name": "Lea Leader"}
    team_id = ok(org.admin.post(f"/orgs/{org.org_id}/teams", {"name": "Conventions", "leader": details}), 201)
    built = Team(org, f"/orgs/{org.org_id}/teams/{team_id['team_id']}", leader, admin, member)
    ok(built.put_member(admin, "admin"), 201)
    ok(built.put_member(member, "member"), 201)
    return built


def referral_request(team: Team) -> str:
    """A new referral request to the team, sent by staff: its id."""
    request = {
        "team_id": team.path.rsplit("/", 1)[1],
        "customer": {"first_name": "Casey", "last_name": "Client"},
        "summary": "3 beds",
    }
    return str(ok(team.org.admin.post(f"/orgs/{team.org.org_id}/referral-requests", request), 201)["request_id"])


def customer_of(team: Team, acceptor: Actor) -> str:
    accepted = acceptor.post(f"/orgs/{team.org.org_id}/referral-requests/{referral_request(team)}/accept")
    return str(ok(accepted)["customer_id"])


def test_a_taken_referral_names_who_took_it(team: Team) -> None:
    org_path = f"/orgs/{team.org.org_id}"
    request_id = referral_request(team)
    ok(team.member.post(f"{org_path}/referral-requests/{request_id}/accept"))
    taken = problem(team.leader.post(f"{org_path}/referral-requests/{request_id}/accept"), 409, "referral-taken")
    assert taken["conflicting_ids"] == [team.member.user_id]


def test_a_member_with_customers_is_not_removed_and_names_them(team: Team) -> None:
    customer_id = customer_of(team, team.member)
    removal = team.leader.call("DELETE", f"{team.path}/members/{team.member.user_id}")
    assert problem(removal, 409, "member-has-customers")["conflicting_ids"] == [customer_id]


# -- one rule, one status and type, through every route ----------------------------------------------


def test_an_admin_never_holds_customers_through_every_route(team: Team) -> None:
    customer_id = customer_of(team, team.member)
    # Re-assigning a customer to an admin: the admin is named.
    moved = team.leader.put(f"{team.path}/customers/{customer_id}/assignee", {"user_id": team.admin.user_id})
    assert problem(moved, 409, "admin-not-assignable")["conflicting_ids"] == [team.admin.user_id]
    # Making a member who holds customers an admin: the customers are named.
    promoted = team.put_member(team.member, "admin", by=team.leader)
    assert problem(promoted, 409, "admin-not-assignable")["conflicting_ids"] == [customer_id]
    # Making the leader, who holds a customer, an admin by handing the team to another member.
    leaders_customer = customer_of(team, team.leader)
    handover = {"user_id": team.member.user_id, "former_leader_role": "admin"}
    refused = team.org.admin.put(f"{team.path}/leader", handover)
    assert problem(refused, 409, "admin-not-assignable")["conflicting_ids"] == [leaders_customer]


def test_only_staff_change_the_leader_through_every_route(team: Team) -> None:
    routes = [
        team.put_member(team.member, "leader", by=team.leader),
        team.put_member(team.leader, "member", by=team.admin),
        team.admin.call("DELETE", f"{team.path}/members/{team.leader.user_id}"),
    ]
    for refused in routes:
        assert problem(refused, 409, "conflict")["conflicting_ids"] == [team.leader.user_id]


def test_accepting_other_terms_than_the_current_ones_is_one_refusal(stack: LocalStack) -> None:
    programme = new_programme(stack)
    version = publish(programme)
    joiner = programme.staff(["programme:join"])
    joined = problem(joiner.post(f"{programme.path}/programme/join", {}), 409, "conflict")
    partner = programme.partner(status=PartnerStatus.LIVE)
    accepted = partner.post(f"{programme.path}/programme/terms/accept", {"version": version + 1})
    refused = problem(accepted, 409, "conflict")
    assert joined["conflicting_ids"] == refused["conflicting_ids"] == [str(version)]
    assert [e["field"] for e in joined["errors"]] == ["body.accept_terms_version"]
    assert [e["field"] for e in refused["errors"]] == ["body.version"]
