"""Referral requests over HTTP against the local stack: staff create them, the stream consumer texts the
team through the loopback Twilio, members race to accept from the dashboard, requests expire."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from common.teams import membership

from local.stack import LocalStack
from tests.integration.support.actors import Actor, new_user


def new_phone() -> str:
    return f"+1555{secrets.randbelow(10**7):07d}"


@dataclass
class Team:
    org_id: str
    team_id: str
    staff: Actor
    leader: Actor
    members: dict[str, Actor] = field(default_factory=dict)
    phones: dict[str, str] = field(default_factory=dict)  # user id -> phone

    @property
    def requests_path(self) -> str:
        return f"/orgs/{self.org_id}/referral-requests"

    def texts_to(self, stack: LocalStack) -> dict[str, list[str]]:
        """The bodies texted to each of the team's people (by user id)."""
        user_of = {phone: user for user, phone in self.phones.items()}
        sent: dict[str, list[str]] = {}
        for message in stack.texts():
            if message["to"] in user_of:
                sent.setdefault(user_of[message["to"]], []).append(message["body"])
        return sent


def new_team(stack: LocalStack, *, members: dict[str, dict[str, Any]]) -> Team:
    """An organisation whose admin is the programme staff, and a team: its leader and the named members
    (each a Cognito user: {"role": "member" | "admin", "eligible": bool})."""
    staff = new_user(stack, "staff", operator=True)
    created = staff.post("/orgs", {"name": "Referrals org"})
    assert created.status_code == 201, created.text
    org_id = created.json()["org_id"]
    leader = new_user(stack, "leader")
    phones = {leader.user_id: new_phone()}
    team = staff.post(
        f"/orgs/{org_id}/teams",
        {
            "name": "North",
            "leader": {"user_id": leader.user_id, "phone": phones[leader.user_id], "display_name": "Lee"},
        },
    )
    assert team.status_code == 201, team.text
    result = Team(org_id, team.json()["team_id"], staff, leader, phones=phones)
    for name, details in members.items():
        actor = new_user(stack, name)
        phone = phones[actor.user_id] = new_phone()
        put = staff.put(
            f"/orgs/{org_id}/teams/{result.team_id}/members/{actor.user_id}",
            {"display_name": name, "phone": phone, **details},
        )
        assert put.status_code in (200, 201), put.text
        result.members[name] = actor
    return result


def referral(team: Team, **overrides: Any) -> dict[str, Any]:
    return {
        "team_id": team.team_id,
        "customer": {"first_name": "Robin", "last_name": "Buyer", "phone": "+15559990000", "email": "r@buyer.example"},
        "summary": "Wants a 3-bed house near the school",
        **overrides,
    }


def create(team: Team, **overrides: Any) -> dict[str, Any]:
    created = team.staff.post(team.requests_path, referral(team, **overrides))
    assert created.status_code == 201, created.text
    return created.json()


def test_ten_members_accepting_at_once_one_wins(stack: LocalStack) -> None:
    team = new_team(stack, members={f"m{i}": {"role": "member", "eligible": True} for i in range(10)})
    request = create(team)
    path = f"{team.requests_path}/{request['request_id']}/accept"

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda actor: actor.post(path), team.members.values()))

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [409] * 9, [a.text for a in answers]
    assert {a.json()["type"] for a in answers if a.status_code == 409} == {"/problems/referral-taken"}
    [won] = [a.json() for a in answers if a.status_code == 200]
    winner = next(a for a in team.members.values() if a.user_id == won["accepted_by"])
    assert won["assignee_id"] == winner.user_id

    customers = team.leader.get(f"/orgs/{team.org_id}/teams/{team.team_id}/customers").json()["items"]
    assert [c["customer_id"] for c in customers] == [won["customer_id"]]
    assert customers[0]["assignee_id"] == winner.user_id
    stored = team.staff.get(f"{team.requests_path}/{request['request_id']}").json()
    assert stored["status"] == "accepted" and stored["accepted_by"] == winner.user_id
    assert [e["event"] for e in stored["history"]].count("accepted") == 1


def test_texts_go_to_eligible_members_never_to_paused_or_opted_out_ones(stack: LocalStack) -> None:
    team = new_team(
        stack,
        members={
            "amy": {"role": "member", "eligible": True},
            "ben": {"role": "member", "eligible": False},
            "cal": {"role": "member", "eligible": True},
            "dot": {"role": "member", "eligible": True},
            "eve": {"role": "admin", "eligible": True},
            "fay": {"role": "admin", "eligible": False},
        },
    )
    m = team.members
    membership.set_paused(team.org_id, team.team_id, m["cal"].user_id, True, f"user:{m['cal'].user_id}")
    membership.set_opted_out(team.phones[m["dot"].user_id], True)

    request = create(team)
    stack.wait_for_streams()

    sent = team.texts_to(stack)
    assert sorted(sent) == sorted([team.leader.user_id, m["amy"].user_id, m["eve"].user_id])
    assert all(len(bodies) == 1 for bodies in sent.values())
    body = sent[m["amy"].user_id][0]
    assert f"YES {request['code']}" in body and "Robin" in body and "3-bed" in body
    assert "Buyer" not in body and "+1555999" not in body and "buyer.example" not in body

    stored = team.staff.get(f"{team.requests_path}/{request['request_id']}").json()
    assert sorted(o["user_id"] for o in stored["offers"]) == sorted(sent)
    assert all(o["status"] == "queued" and o["message_sid"].startswith("SM") for o in stored["offers"])
    assert [e["event"] for e in stored["history"]].count("offered") == 3


def test_a_twilio_outage_is_retried_and_each_member_gets_one_text(stack: LocalStack) -> None:
    team = new_team(stack, members={"amy": {"role": "member"}, "ben": {"role": "member"}})
    stack.wait_for_streams()
    invocations = stack.invocation_count("ReferralsEvents")
    stack.twilio.fail_next(2, status=503)
    request = create(team)
    stack.wait_for_streams(timeout=30)
    assert stack.invocation_count("ReferralsEvents") - invocations >= 2  # the failed record was delivered again

    sent = team.texts_to(stack)
    assert sorted(sent) == sorted([team.leader.user_id, *(a.user_id for a in team.members.values())])
    assert all(len(bodies) == 1 for bodies in sent.values())
    offers = team.staff.get(f"{team.requests_path}/{request['request_id']}").json()["offers"]
    assert len(offers) == 3 and {o["status"] for o in offers} == {"queued"}


def test_a_number_twilio_refuses_is_recorded_and_not_retried(stack: LocalStack) -> None:
    team = new_team(stack, members={})
    stack.wait_for_streams()
    stack.twilio.fail_next(1, status=400)
    request = create(team)
    stack.wait_for_streams(timeout=30)

    assert team.texts_to(stack) == {}
    stored = team.staff.get(f"{team.requests_path}/{request['request_id']}").json()
    assert [(o["user_id"], o["status"], o["error_code"]) for o in stored["offers"]] == [
        (team.leader.user_id, "refused", "21211")
    ]
    assert "offer_refused" in [e["event"] for e in stored["history"]]


def test_an_admins_acceptance_lands_on_the_leader(stack: LocalStack) -> None:
    team = new_team(stack, members={"ada": {"role": "admin", "eligible": False}})
    request = create(team)
    accepted = team.members["ada"].post(f"{team.requests_path}/{request['request_id']}/accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["assignee_id"] == team.leader.user_id

    mine = team.leader.get(f"/orgs/{team.org_id}/teams/{team.team_id}/customers").json()["items"]
    assert [(c["customer_id"], c["assignee_id"]) for c in mine] == [
        (accepted.json()["customer_id"], team.leader.user_id)
    ]


def test_a_member_not_eligible_cannot_accept(stack: LocalStack) -> None:
    team = new_team(stack, members={"ben": {"role": "member", "eligible": False}})
    request = create(team)
    refused = team.members["ben"].post(f"{team.requests_path}/{request['request_id']}/accept")
    assert refused.status_code == 403 and refused.json()["type"] == "/problems/referral-not-eligible"
    assert team.staff.get(f"{team.requests_path}/{request['request_id']}").json()["status"] == "open"


def test_after_its_time_a_request_is_expired_for_staff_and_refuses_acceptance(stack: LocalStack) -> None:
    team = new_team(stack, members={"amy": {"role": "member"}})
    request = create(team, expires_in_minutes=5)
    path = f"{team.requests_path}/{request['request_id']}"
    assert team.staff.get(path).json()["status"] == "open"

    stack.advance_clock(5 * 60 + 1)

    assert team.staff.get(path).json()["status"] == "expired"  # shown as expired before anything writes it
    listed = team.staff.get(team.requests_path, params={"status": "expired"}).json()["items"]
    assert [i["request_id"] for i in listed] == [request["request_id"]]
    refused = team.members["amy"].post(f"{path}/accept")
    assert refused.status_code == 409 and refused.json()["type"] == "/problems/referral-expired"
    stored = team.staff.get(path).json()
    assert stored["status"] == "expired" and [e["event"] for e in stored["history"]][-1] == "expired"
    assert team.leader.get(f"/orgs/{team.org_id}/teams/{team.team_id}/customers").json()["items"] == []


def test_bad_input_names_each_field_and_writes_nothing(stack: LocalStack) -> None:
    team = new_team(stack, members={})
    bad = team.staff.post(
        team.requests_path,
        referral(team, summary="", expires_in_minutes=10081, customer={"first_name": "Robin", "email": "nope"}),
    )
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert {"body.summary", "body.expires_in_minutes", "body.customer.last_name", "body.customer.email"} <= fields
    unknown = team.staff.post(team.requests_path, referral(team, team_id="01J0000000000000000000TEAM"))
    assert unknown.status_code == 422 and [e["field"] for e in unknown.json()["errors"]] == ["body.team_id"]
    assert team.staff.get(team.requests_path).json()["items"] == []


def test_other_org_is_404_and_missing_permission_403(stack: LocalStack) -> None:
    team = new_team(stack, members={"amy": {"role": "member"}})
    request = create(team)
    outsider = new_team(stack, members={}).staff
    assert outsider.get(team.requests_path).status_code == 404
    assert outsider.post(team.requests_path, referral(team)).status_code == 404
    assert outsider.get(f"{team.requests_path}/{request['request_id']}").status_code == 404
    assert outsider.post(f"{team.requests_path}/{request['request_id']}/accept").status_code == 404

    clerk = new_user(stack, "clerk")
    assert team.staff.put(f"/orgs/{team.org_id}/members/{clerk.user_id}", {"permissions": []}).status_code == 200
    assert clerk.post(team.requests_path, referral(team)).status_code == 403
    assert clerk.get(team.requests_path).status_code == 403
    assert clerk.get(f"{team.requests_path}/{request['request_id']}").status_code == 403

    # A team member sees what the text said, not the customer's details.
    seen = team.members["amy"].get(f"{team.requests_path}/{request['request_id']}")
    assert seen.status_code == 200 and seen.json()["customer"] == {"first_name": "Robin"}
    assert team.members["amy"].get(team.requests_path).status_code == 404


@pytest.mark.parametrize("status", ["open", "accepted"])
def test_listing_filters_by_status(stack: LocalStack, status: str) -> None:
    team = new_team(stack, members={"amy": {"role": "member"}})
    first, second = create(team), create(team)
    team.members["amy"].post(f"{team.requests_path}/{first['request_id']}/accept")
    listed = team.staff.get(team.requests_path, params={"status": status, "team_id": team.team_id}).json()["items"]
    expected = second if status == "open" else first
    assert [i["request_id"] for i in listed] == [expected["request_id"]]
