"""Partner teams over HTTP against the local stack, as the dashboard uses them: teams and members, who
receives referral texts, and the shared customer list (a member sees only their own customers; leaders and
admins see all; statuses; re-assignment, never to an admin)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration.support.actors import Actor, new_user

# A closing as the status route takes it when a customer is closed (its close date: the referral's day).
CLOSING = {"side": "buy", "sale_price": 30_000_000, "commission": 900_000, "currency": "USD"}


def phone() -> str:
    return f"+1555{secrets.randbelow(10**7):07d}"


@dataclass
class Team:
    org_id: str
    team_id: str
    staff: Actor  # teams:manage and referrals:manage
    plain_staff: Actor  # a member of the organisation without those permissions
    leader: Actor
    admin: Actor
    m1: Actor
    m2: Actor
    phones: dict[str, str]
    owner: Actor | None = None  # the organisation's admin (who grants permissions)

    @property
    def path(self) -> str:
        return f"/orgs/{self.org_id}/teams/{self.team_id}"


def member_body(role: str, number: str, **more: Any) -> dict[str, Any]:
    return {"role": role, "phone": number, "display_name": f"A {role}", **more}


def new_team(stack: Any) -> Team:
    owner = new_user(stack, "owner", operator=True)
    created = owner.post("/orgs", {"name": "Team org"})
    assert created.status_code == 201, created.text
    org_id = created.json()["org_id"]
    staff, plain = new_user(stack, "teams"), new_user(stack, "plain")
    grant = {"permissions": ["teams:manage", "referrals:manage"]}
    assert owner.put(f"/orgs/{org_id}/members/{staff.user_id}", grant).status_code == 200
    assert owner.put(f"/orgs/{org_id}/members/{plain.user_id}", {"permissions": []}).status_code == 200
    leader, admin, m1, m2 = (new_user(stack, role) for role in ("leader", "tadmin", "m1", "m2"))
    phones = {a.user_id: phone() for a in (leader, admin, m1, m2)}
    leader_details = {
        "user_id": leader.user_id,
        "phone": phones[leader.user_id],
        "display_name": "Lea Leader",
        "email": f"leader-{leader.user_id[:8]}@team.example",
    }
    answer = staff.post(f"/orgs/{org_id}/teams", {"name": "North Team", "leader": leader_details})
    assert answer.status_code == 201, answer.text
    team = Team(org_id, answer.json()["team_id"], staff, plain, leader, admin, m1, m2, phones, owner)
    for actor, role, by in ((admin, "admin", staff), (m1, "member", leader), (m2, "member", admin)):
        added = by.put(f"{team.path}/members/{actor.user_id}", member_body(role, phones[actor.user_id]))
        assert added.status_code == 201, added.text
    return team


@pytest.fixture
def team(stack: Any) -> Team:
    return new_team(stack)


def accepted_by(team: Team, actor: Actor, first_name: str = "Cleo") -> dict[str, Any]:
    """A referral request for the team, accepted from the dashboard by `actor`: the customer it makes."""
    request = team.staff.post(
        f"/orgs/{team.org_id}/referral-requests",
        {"team_id": team.team_id, "customer": {"first_name": first_name, "last_name": "Client"}, "summary": "3 beds"},
    )
    assert request.status_code == 201, request.text
    request_id = request.json()["request_id"]
    accepted = actor.post(f"/orgs/{team.org_id}/referral-requests/{request_id}/accept")
    assert accepted.status_code == 200, accepted.text
    customer = team.leader.get(f"{team.path}/customers/{request_id}")
    assert customer.status_code == 200, customer.text
    return dict(customer.json())


def seen_by(team: Team, actor: Actor, **params: str) -> list[str]:
    answer = actor.get(f"{team.path}/customers", params=params)
    assert answer.status_code == 200, answer.text
    return sorted(c["customer_id"] for c in answer.json()["items"])


def test_a_team_with_its_leader_listed_for_staff_and_for_its_members(stack: Any, team: Team) -> None:
    listed = team.staff.get(f"/orgs/{team.org_id}/teams").json()["items"]
    assert [(t["team_id"], t["name"], t["leader_id"]) for t in listed] == [
        (team.team_id, "North Team", team.leader.user_id)
    ]
    mine = team.m1.get("/me/teams").json()["items"]
    assert [(t["org_id"], t["team_id"], t["role"]) for t in mine] == [(team.org_id, team.team_id, "member")]
    full = team.admin.get(team.path).json()["members"]
    assert sorted(m["user_id"] for m in full) == sorted(team.phones)
    assert [m["user_id"] for m in team.m1.get(team.path).json()["members"]] == [team.m1.user_id]
    assert team.plain_staff.get(f"/orgs/{team.org_id}/teams").status_code == 403
    assert team.plain_staff.get(team.path).status_code == 403
    outsider = new_user(stack, "outsider")
    assert outsider.get(team.path).status_code == 404
    assert outsider.get(f"/orgs/{team.org_id}/teams").status_code == 404


def test_bad_input_is_422_naming_each_field_and_writes_nothing(stack: Any, team: Team) -> None:
    bad = team.staff.post(
        f"/orgs/{team.org_id}/teams",
        {"name": "", "leader": {"user_id": "x", "phone": "0100", "display_name": "L", "email": "nope"}},
    )
    assert bad.status_code == 422
    assert {"body.name", "body.leader.phone", "body.leader.email"} <= {e["field"] for e in bad.json()["errors"]}
    assert len(team.staff.get(f"/orgs/{team.org_id}/teams").json()["items"]) == 1
    newcomer = new_user(stack, "newcomer")
    wrong = team.leader.put(f"{team.path}/members/{newcomer.user_id}", {"role": "owner", "phone": "+1", "x": 1})
    assert wrong.status_code == 422
    assert {"body.role", "body.phone", "body.display_name", "body.x"} <= {e["field"] for e in wrong.json()["errors"]}
    assert newcomer.get(team.path).status_code == 404


def test_members_phones_and_eligibility(stack: Any, team: Team) -> None:
    newcomer = new_user(stack, "newcomer")
    path = f"{team.path}/members/{newcomer.user_id}"
    assert team.m1.put(path, member_body("member", phone())).status_code == 403
    taken = team.leader.put(path, member_body("member", team.phones[team.m1.user_id]))
    assert taken.status_code == 409
    assert team.leader.put(path, member_body("member", phone())).status_code == 201
    assert team.leader.put(path, member_body("leader", phone())).status_code == 409
    assert (
        team.admin.put(f"{team.path}/members/{team.leader.user_id}", member_body("admin", phone())).status_code == 409
    )

    eligibility = f"{team.path}/members/{team.m1.user_id}/eligibility"
    assert team.m2.put(eligibility, {"eligible": False}).status_code == 403
    answer = team.admin.put(eligibility, {"eligible": False})
    assert answer.status_code == 200 and answer.json()["eligible"] is False
    members = {m["user_id"]: m for m in team.leader.get(team.path).json()["members"]}
    assert members[team.m1.user_id]["eligible"] is False and members[team.m2.user_id]["eligible"] is True
    assert team.leader.put(eligibility, {"eligible": True}).json()["eligible"] is True


def test_a_member_never_sees_another_members_customer(stack: Any, team: Team) -> None:
    first, second = accepted_by(team, team.m1), accepted_by(team, team.m2)
    assert (first["assignee_id"], second["assignee_id"]) == (team.m1.user_id, team.m2.user_id)
    assert seen_by(team, team.m1) == [first["customer_id"]]
    assert seen_by(team, team.m2) == [second["customer_id"]]
    everyone = sorted([first["customer_id"], second["customer_id"]])
    assert seen_by(team, team.leader) == seen_by(team, team.admin) == seen_by(team, team.staff) == everyone
    assert team.m1.get(f"{team.path}/customers/{second['customer_id']}").status_code == 404
    status = f"{team.path}/customers/{second['customer_id']}/status"
    assert team.m1.post(status, {"status": "lost"}).status_code == 404
    assert team.m2.get(f"{team.path}/customers/{second['customer_id']}").json()["status"] == "new"


def test_an_admins_acceptance_lands_on_the_leader_and_admins_are_never_assigned(stack: Any, team: Team) -> None:
    customer = accepted_by(team, team.admin)
    assert customer["assignee_id"] == team.leader.user_id
    path = f"{team.path}/customers/{customer['customer_id']}/assignee"
    refused = team.leader.put(path, {"user_id": team.admin.user_id})
    assert refused.status_code == 409
    assert refused.json()["type"] == "/problems/admin-not-assignable"
    assert team.m1.put(path, {"user_id": team.m1.user_id}).status_code == 403
    moved = team.admin.put(path, {"user_id": team.m1.user_id})
    assert moved.status_code == 200, moved.text
    assert moved.json()["history"][-1]["event"] == "assigned"
    assert seen_by(team, team.m1) == [customer["customer_id"]]
    # A member with customers is neither removed nor made an admin until they are re-assigned.
    member = f"{team.path}/members/{team.m1.user_id}"
    assert team.leader.call("DELETE", member).status_code == 409
    assert team.leader.put(member, member_body("admin", team.phones[team.m1.user_id])).status_code == 409
    assert team.leader.put(path, {"user_id": team.m2.user_id}).status_code == 200
    assert seen_by(team, team.m1) == [] and seen_by(team, team.m2) == [customer["customer_id"]]
    assert team.leader.call("DELETE", member).status_code == 204
    assert team.m1.get(team.path).status_code == 404


def test_status_updates_with_notes_move_the_due_date(stack: Any, team: Team) -> None:
    customer = accepted_by(team, team.m1)
    path = f"{team.path}/customers/{customer['customer_id']}/status"
    offset = stack.clock_offset
    try:
        stack.advance_clock(8 * 86400)
        assert seen_by(team, team.m1, overdue="true") == [customer["customer_id"]]
        updated = team.m1.post(path, {"status": "contacted", "note": "Viewing on Tuesday"})
        assert updated.status_code == 200, updated.text
        body = updated.json()
        assert body["overdue"] is False and body["due_at"] > customer["due_at"]
        assert (body["history"][-1]["status"], body["history"][-1]["note"]) == ("contacted", "Viewing on Tuesday")
        assert seen_by(team, team.m1, overdue="true") == []
        assert seen_by(team, team.leader, status="contacted") == [customer["customer_id"]]
        closing = {**CLOSING, "close_date": customer["created_at"][:10]}
        closed = team.leader.post(path, {"status": "closed", "closing": closing}).json()
        assert closed["due_at"] is None and closed["overdue"] is False
        assert team.m1.post(path, {"status": "sold"}).status_code == 422
    finally:
        stack.set_clock_offset(offset)
