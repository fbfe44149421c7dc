"""Partner teams in-process: the referrals handler, common.teams.roster and common.teams.team_customers over the table
(moto). Teams and members, visibility of the customer list, statuses, re-assignment, the overdue listing."""

from __future__ import annotations

from typing import Any

import pytest
from common.orgs import access, organisations
from common.platform import db, ids
from common.teams import membership, roster, team_customers
from common.teams.team_model import (
    TeamRole,
    phone_key,
    phone_link_key,
    team_customer_key,
    team_member_key,
    team_org_key,
)

from tests.support import Call, api_caller, body_of
from tests.unit.conftest import FrozenClock

ADMIN, MANAGER, REFERRER, STAFF = "staff-admin", "staff-teams", "staff-referrals", "staff-plain"
LEADER, TEAM_ADMIN, M1, M2, OUTSIDER = "user-leader", "user-admin", "user-m1", "user-m2", "user-outsider"
PHONES = {LEADER: "+15550100001", TEAM_ADMIN: "+15550100002", M1: "+15550100003", M2: "+15550100004"}


@pytest.fixture
def call() -> Call:
    return api_caller("referrals")


def new_org(name: str = "Acme Realty") -> str:
    org_id: str = organisations.create_organisation(organisations.NewOrganisation(name=name), ADMIN)["org_id"]
    admin = access.Member(org_id, ADMIN, "admin", frozenset())
    for user, permissions in (
        (MANAGER, [access.Permission.MANAGE_TEAMS]),
        (REFERRER, [access.Permission.MANAGE_REFERRALS]),
        (STAFF, []),
    ):
        organisations.put_member(org_id, admin, user, organisations.MembershipChange(permissions=permissions))
    return org_id


@pytest.fixture
def org() -> str:
    return new_org()


def leader_body(**fields: Any) -> dict[str, Any]:
    return {"user_id": LEADER, "phone": PHONES[LEADER], "display_name": "Lea Leader", "email": "lea@team.example"} | (
        fields
    )


def create_team(call: Call, org_id: str, name: str = "North Team") -> str:
    answer = call("POST", f"/orgs/{org_id}/teams", user=MANAGER, body={"name": name, "leader": leader_body()})
    assert answer["statusCode"] == 201, answer
    return str(body_of(answer)["team_id"])


def put_member(call: Call, org_id: str, team_id: str, user: str, role: str = "member", by: str = LEADER, **more: Any):
    payload = {"role": role, "phone": PHONES.get(user, "+15550109999"), "display_name": user.title()} | more
    return call("PUT", f"/orgs/{org_id}/teams/{team_id}/members/{user}", user=by, body=payload)


@pytest.fixture
def team(call: Call, org: str) -> str:
    team_id = create_team(call, org)
    assert put_member(call, org, team_id, TEAM_ADMIN, "admin")["statusCode"] == 201
    assert put_member(call, org, team_id, M1)["statusCode"] == 201
    assert put_member(call, org, team_id, M2, by=TEAM_ADMIN)["statusCode"] == 201
    return team_id


def add_customer(org_id: str, team_id: str, assignee: str, first_name: str = "Cleo") -> str:
    """A customer as an accepted referral request adds it (the acceptance's own transaction items)."""
    item = team_customers.new_customer_item(
        org_id,
        team_id,
        customer={"first_name": first_name, "last_name": "Client", "phone": "+15550200000"},
        summary="Looking for a 3-bed house",
        assignee_id=assignee,
        actor=f"user:{assignee}",
        request_id=ids.new_id(),
    )
    db.transact(team_customers.new_customer_actions(item), on_cancel=lambda failed: AssertionError(failed))
    return str(item["customer_id"])


def customers_seen(call: Call, org_id: str, team_id: str, user: str, **query: str) -> list[str]:
    answer = call("GET", f"/orgs/{org_id}/teams/{team_id}/customers", user=user, query=query or None)
    assert answer["statusCode"] == 200, answer
    return sorted(c["customer_id"] for c in body_of(answer)["items"])


def count_of(org_id: str, team_id: str, user: str) -> int:
    member = db.get(team_member_key(org_id, team_id, user))
    assert member is not None
    return int(member["customer_count"])


# -- teams and members ------------------------------------------------------------------------------


def test_creating_a_team_writes_team_leader_phone_and_org_marker(call: Call, org: str) -> None:
    team_id = create_team(call, org)
    leader = db.get(team_member_key(org, team_id, LEADER))
    assert leader is not None and (leader["role"], leader["eligible"], leader["paused"]) == ("leader", True, False)
    link = db.get(phone_link_key(PHONES[LEADER], org, team_id))
    assert link is not None and link["user_id"] == LEADER
    assert db.get(team_org_key(org)) is not None
    listed = body_of(call("GET", f"/orgs/{org}/teams", user=REFERRER))["items"]
    assert [(t["team_id"], t["leader_id"]) for t in listed] == [(team_id, LEADER)]
    mine = body_of(call("GET", "/me/teams", user=LEADER))["items"]
    assert [(t["org_id"], t["team_id"], t["role"], t["team_name"]) for t in mine] == [
        (org, team_id, "leader", "North Team")
    ]


def test_bad_team_input_names_each_field_and_writes_nothing(call: Call, org: str) -> None:
    answer = call(
        "POST",
        f"/orgs/{org}/teams",
        user=MANAGER,
        body={"name": "", "leader": leader_body(phone="555-0100", email="not-an-address"), "extra": 1},
    )
    assert answer["statusCode"] == 422
    fields = {e["field"] for e in body_of(answer)["errors"]}
    assert {"body.name", "body.leader.phone", "body.leader.email", "body.extra"} <= fields
    assert body_of(call("GET", f"/orgs/{org}/teams", user=MANAGER))["items"] == []
    assert db.get(team_org_key(org)) is None


def test_team_routes_refuse_outsiders_and_missing_permissions(call: Call, org: str, team: str) -> None:
    other = new_org("Other Realty")
    assert (
        call("POST", f"/orgs/{org}/teams", user=STAFF, body={"name": "X", "leader": leader_body()})["statusCode"] == 403
    )
    assert (
        call("POST", f"/orgs/{org}/teams", user=OUTSIDER, body={"name": "X", "leader": leader_body()})["statusCode"]
        == 404
    )
    assert call("GET", f"/orgs/{org}/teams", user=STAFF)["statusCode"] == 403
    assert call("GET", f"/orgs/{org}/teams/{team}", user=STAFF)["statusCode"] == 403
    assert call("GET", f"/orgs/{org}/teams/{team}", user=OUTSIDER)["statusCode"] == 404
    # The same team under another organisation does not exist, whoever asks.
    assert call("GET", f"/orgs/{other}/teams/{team}", user=LEADER)["statusCode"] == 404
    assert call("GET", f"/orgs/{other}/teams/{team}", user=ADMIN)["statusCode"] == 404
    assert call("GET", f"/orgs/{org}/teams/not-an-id", user=LEADER)["statusCode"] == 422


def test_the_leader_and_admins_see_every_member_a_member_only_themselves(call: Call, org: str, team: str) -> None:
    def members(user: str) -> list[str]:
        answer = call("GET", f"/orgs/{org}/teams/{team}", user=user)
        assert answer["statusCode"] == 200, answer
        return sorted(m["user_id"] for m in body_of(answer)["members"])

    everyone = sorted([LEADER, TEAM_ADMIN, M1, M2])
    assert members(LEADER) == members(TEAM_ADMIN) == members(MANAGER) == members(REFERRER) == everyone
    assert members(M1) == [M1]


def test_members_are_managed_by_the_leader_admins_and_staff_only(call: Call, org: str, team: str) -> None:
    assert put_member(call, org, team, "user-new", by=M1)["statusCode"] == 403
    assert put_member(call, org, team, "user-new", by=REFERRER)["statusCode"] == 403
    assert put_member(call, org, team, "user-new", by=MANAGER)["statusCode"] == 201
    changed = put_member(call, org, team, "user-new", by=TEAM_ADMIN, display_name="Renamed", eligible=False)
    assert changed["statusCode"] == 200 and body_of(changed)["eligible"] is False
    assert body_of(changed)["version"] == 2


def test_a_phone_number_belongs_to_one_member_of_a_team(call: Call, org: str, team: str) -> None:
    taken = put_member(call, org, team, "user-new", phone=PHONES[M1])
    assert taken["statusCode"] == 409
    assert db.get(team_member_key(org, team, "user-new")) is None
    # A member changing number frees the old one and takes the new one.
    moved = put_member(call, org, team, M1, phone="+15550100099")
    assert moved["statusCode"] == 200
    assert db.get(phone_link_key(PHONES[M1], org, team)) is None
    assert db.get(phone_link_key("+15550100099", org, team))["user_id"] == M1  # type: ignore[index]
    assert put_member(call, org, team, "user-new", phone=PHONES[M1])["statusCode"] == 201
    # The same number may be in another team.
    second = create_team(call, org, "South Team")
    assert put_member(call, org, second, M1, phone=PHONES[M1])["statusCode"] == 201


def test_only_staff_change_the_leader(call: Call, org: str, team: str) -> None:
    promoted = put_member(call, org, team, M1, role="leader")
    assert promoted["statusCode"] == 409 and body_of(promoted)["conflicting_ids"] == [LEADER]
    assert put_member(call, org, team, LEADER, role="admin", by=MANAGER)["statusCode"] == 409
    assert put_member(call, org, team, LEADER, role="leader", display_name="Lea L.")["statusCode"] == 200
    path = f"/orgs/{org}/teams/{team}/leader"
    assert call("PUT", path, user=LEADER, body={"user_id": M1})["statusCode"] == 403
    assert call("PUT", path, user=MANAGER, body={"user_id": OUTSIDER})["statusCode"] == 422
    changed = call("PUT", path, user=MANAGER, body={"user_id": M1})
    assert changed["statusCode"] == 200 and body_of(changed)["leader_id"] == M1
    roles = {m["user_id"]: m["role"] for m in membership.team_members(org, team)}
    assert (roles[M1], roles[LEADER]) == ("leader", "member")


def test_eligibility_is_chosen_by_the_leader_and_admins(call: Call, org: str, team: str) -> None:
    path = f"/orgs/{org}/teams/{team}/members/{M1}/eligibility"
    assert call("PUT", path, user=M2, body={"eligible": False})["statusCode"] == 403
    assert call("PUT", path, user=M1, body={"eligible": False})["statusCode"] == 403
    answer = call("PUT", path, user=TEAM_ADMIN, body={"eligible": False})
    assert answer["statusCode"] == 200 and body_of(answer)["eligible"] is False
    assert call("PUT", path, user=LEADER, body={"eligible": True})["statusCode"] == 200
    assert call("PUT", path, user=LEADER, body={"eligible": "maybe"})["statusCode"] == 422
    missing = f"/orgs/{org}/teams/{team}/members/{OUTSIDER}/eligibility"
    assert call("PUT", missing, user=LEADER, body={"eligible": True})["statusCode"] == 404


def test_pausing_and_opting_out_and_the_phone_partition(call: Call, org: str, team: str) -> None:
    paused = membership.set_paused(org, team, M1, True, f"user:{M1}")
    assert paused["paused"] is True
    assert db.get(team_member_key(org, team, M2))["paused"] is False  # type: ignore[index]
    second = create_team(call, org, "South Team")
    assert put_member(call, org, second, M1)["statusCode"] == 201
    record, links = membership.phone_memberships(PHONES[M1])
    assert record is None and sorted(link["team_id"] for link in links) == sorted([team, second])
    membership.set_opted_out(PHONES[M1], True)
    record, links = membership.phone_memberships(PHONES[M1])
    assert membership.opted_out(record) and len(links) == 2
    membership.set_opted_out(PHONES[M1], False)
    assert not membership.opted_out(db.get(phone_key(PHONES[M1])))
    with pytest.raises(roster.NotFound):
        membership.set_paused(org, team, OUTSIDER, True, "system")


def test_acceptance_assigns_a_members_own_and_a_leaders_or_admins_to_the_leader(org: str, team: str) -> None:
    team_item = membership.get_team(org, team)
    assert membership.get_team_member(org, team, M1)["role"] == TeamRole.MEMBER
    assert [
        team_customers.assignee_for(membership.get_team_member(org, team, u), team_item)
        for u in (M1, TEAM_ADMIN, LEADER)
    ] == [M1, LEADER, LEADER]
    with pytest.raises(roster.NotFound):
        membership.get_team_member(org, team, OUTSIDER)


# -- the customer list ------------------------------------------------------------------------------


def test_a_member_sees_only_their_customers_the_leader_and_admins_all(call: Call, org: str, team: str) -> None:
    mine, theirs = add_customer(org, team, M1), add_customer(org, team, M2)
    assert customers_seen(call, org, team, M1) == [mine]
    assert customers_seen(call, org, team, M2) == [theirs]
    for user in (LEADER, TEAM_ADMIN, REFERRER):
        assert customers_seen(call, org, team, user) == sorted([mine, theirs])
    assert call("GET", f"/orgs/{org}/teams/{team}/customers/{theirs}", user=M1)["statusCode"] == 404
    assert call("GET", f"/orgs/{org}/teams/{team}/customers/{mine}", user=M1)["statusCode"] == 200
    assert call("GET", f"/orgs/{org}/teams/{team}/customers/{theirs}", user=TEAM_ADMIN)["statusCode"] == 200
    assert call("GET", f"/orgs/{org}/teams/{team}/customers/{mine}", user=OUTSIDER)["statusCode"] == 404
    assert (count_of(org, team, M1), count_of(org, team, M2)) == (1, 1)


def test_status_updates_keep_history_and_move_the_due_date(
    call: Call, org: str, team: str, frozen_clock: FrozenClock
) -> None:
    customer = add_customer(org, team, M1)
    first_due = db.get(team_customer_key(org, team, customer))["gsi3sk"]  # type: ignore[index]
    frozen_clock.advance(days=3)
    path = f"/orgs/{org}/teams/{team}/customers/{customer}/status"
    answer = call("POST", path, user=M1, body={"status": "contacted", "note": "Called, viewing Tuesday"})
    assert answer["statusCode"] == 200, answer
    updated = body_of(answer)
    assert updated["status"] == "contacted" and updated["overdue"] is False
    # Every field of a history entry is answered, null where the event has none.
    assert updated["history"][-1] | {"at": None} == {
        "at": None,
        "by": f"user:{M1}",
        "event": "status",
        "status": "contacted",
        "note": "Called, viewing Tuesday",
        "assignee_id": None,
        "from_assignee_id": None,
        "reason": None,
        "from_team_id": None,
    }
    stored = db.get(team_customer_key(org, team, customer))
    assert stored is not None and stored["gsi3sk"] > first_due and stored["gsi3sk"].startswith("2026-12-02T09:00")
    assert stored["last_updated_at"].startswith("2026-11-25T09:00")
    # Another member cannot touch it (it does not exist for them); the leader and admins can.
    assert call("POST", path, user=M2, body={"status": "lost"})["statusCode"] == 404
    assert call("POST", path, user=TEAM_ADMIN, body={"status": "showing"})["statusCode"] == 200
    assert call("POST", path, user=REFERRER, body={"status": "showing"})["statusCode"] == 403


def test_closed_and_lost_customers_leave_the_due_index(call: Call, org: str, team: str) -> None:
    customer = add_customer(org, team, M1)
    path = f"/orgs/{org}/teams/{team}/customers/{customer}/status"
    closing = {
        "close_date": "2026-11-22",
        "side": "buy",
        "sale_price": 30_000_000,
        "commission": 900_000,
        "currency": "USD",
    }
    assert call("POST", path, user=M1, body={"status": "closed", "closing": closing})["statusCode"] == 200
    stored = db.get(team_customer_key(org, team, customer))
    assert stored is not None and "gsi3pk" not in stored and "due_at" not in stored
    assert call("POST", path, user=M1, body={"status": "under_contract"})["statusCode"] == 200
    assert "gsi3pk" in db.get(team_customer_key(org, team, customer))  # type: ignore[operator]
    assert call("POST", path, user=LEADER, body={"status": "lost"})["statusCode"] == 200
    assert "gsi3pk" not in db.get(team_customer_key(org, team, customer))  # type: ignore[operator]


def test_bad_status_input_is_422_and_changes_nothing(call: Call, org: str, team: str) -> None:
    customer = add_customer(org, team, M1)
    path = f"/orgs/{org}/teams/{team}/customers/{customer}/status"
    answer = call("POST", path, user=M1, body={"status": "sold", "note": "x" * 5000})
    assert answer["statusCode"] == 422
    assert {e["field"] for e in body_of(answer)["errors"]} == {"body.status", "body.note"}
    assert db.get(team_customer_key(org, team, customer))["version"] == 1  # type: ignore[index]
    listing = call("GET", f"/orgs/{org}/teams/{team}/customers", user=LEADER, query={"status": "sold"})
    assert listing["statusCode"] == 422


def test_filters_by_status_and_overdue(call: Call, org: str, team: str, frozen_clock: FrozenClock) -> None:
    old, fresh = add_customer(org, team, M1), add_customer(org, team, M1)
    frozen_clock.advance(days=6)
    call("POST", f"/orgs/{org}/teams/{team}/customers/{fresh}/status", user=M1, body={"status": "showing"})
    frozen_clock.advance(days=2)
    assert customers_seen(call, org, team, LEADER, overdue="true") == [old]
    assert customers_seen(call, org, team, M1, overdue="true") == [old]
    assert customers_seen(call, org, team, M1, status="showing") == [fresh]
    assert customers_seen(call, org, team, M2, overdue="true") == []


def test_reassignment_never_to_an_admin(call: Call, org: str, team: str) -> None:
    customer = add_customer(org, team, M1)
    path = f"/orgs/{org}/teams/{team}/customers/{customer}/assignee"
    refused = call("PUT", path, user=LEADER, body={"user_id": TEAM_ADMIN})
    assert refused["statusCode"] == 409
    problem = body_of(refused)
    assert problem["type"] == "/problems/admin-not-assignable" and problem["conflicting_ids"] == [TEAM_ADMIN]
    assert call("PUT", path, user=LEADER, body={"user_id": OUTSIDER})["statusCode"] == 422
    assert call("PUT", path, user=M1, body={"user_id": M2})["statusCode"] == 403
    assert db.get(team_customer_key(org, team, customer))["assignee_id"] == M1  # type: ignore[index]

    moved = call("PUT", path, user=TEAM_ADMIN, body={"user_id": M2})
    assert moved["statusCode"] == 200
    entry = body_of(moved)["history"][-1]
    assert (entry["event"], entry["assignee_id"], entry["from_assignee_id"]) == ("assigned", M2, M1)
    assert customers_seen(call, org, team, M1) == [] and customers_seen(call, org, team, M2) == [customer]
    assert (count_of(org, team, M1), count_of(org, team, M2)) == (0, 1)
    # To the leader, then a stale write (the version read is gone) changes nothing.
    assert call("PUT", path, user=LEADER, body={"user_id": LEADER})["statusCode"] == 200
    assert (count_of(org, team, M2), count_of(org, team, LEADER)) == (0, 1)


def test_an_admin_with_no_customers_only_and_a_member_with_customers_stays(call: Call, org: str, team: str) -> None:
    customer = add_customer(org, team, M1)
    promotion = put_member(call, org, team, M1, role="admin")
    assert promotion["statusCode"] == 409 and body_of(promotion)["type"] == "/problems/admin-not-assignable"
    assert body_of(promotion)["conflicting_ids"] == [customer]
    removal = call("DELETE", f"/orgs/{org}/teams/{team}/members/{M1}", user=LEADER)
    assert removal["statusCode"] == 409 and body_of(removal)["type"] == "/problems/member-has-customers"
    assert body_of(removal)["conflicting_ids"] == [customer]
    assert call("DELETE", f"/orgs/{org}/teams/{team}/members/{LEADER}", user=MANAGER)["statusCode"] == 409
    path = f"/orgs/{org}/teams/{team}/customers/{customer}/assignee"
    assert call("PUT", path, user=LEADER, body={"user_id": M2})["statusCode"] == 200
    assert call("DELETE", f"/orgs/{org}/teams/{team}/members/{M1}", user=M2)["statusCode"] == 403
    assert call("DELETE", f"/orgs/{org}/teams/{team}/members/{M1}", user=LEADER)["statusCode"] == 204
    assert db.get(team_member_key(org, team, M1)) is None
    assert db.get(phone_link_key(PHONES[M1], org, team)) is None
    assert call("DELETE", f"/orgs/{org}/teams/{team}/members/{M1}", user=LEADER)["statusCode"] == 404
    # An admin is never the assignee of a new customer either.
    admin_item = team_customers.new_customer_item(
        org, team, customer={}, summary="s", assignee_id=TEAM_ADMIN, actor="system", request_id=ids.new_id()
    )
    with pytest.raises(AssertionError):
        db.transact(team_customers.new_customer_actions(admin_item), on_cancel=lambda failed: AssertionError(failed))


def test_the_overdue_listing_groups_by_team(call: Call, org: str, team: str, frozen_clock: FrozenClock) -> None:
    south = create_team(call, org, "South Team")
    assert put_member(call, org, south, M1, by=MANAGER)["statusCode"] == 201
    a, _b = add_customer(org, team, M1), add_customer(org, team, M2)
    frozen_clock.advance(days=1)
    add_customer(org, south, M1)
    closed = add_customer(org, south, M1)
    call(
        "POST",
        f"/orgs/{org}/teams/{south}/customers/{closed}/status",
        user=M1,
        body={
            "status": "closed",
            "closing": {
                "close_date": "2026-11-23",
                "side": "buy",
                "sale_price": 30_000_000,
                "commission": 900_000,
                "currency": "USD",
            },
        },
    )
    assert body_of(call("GET", f"/orgs/{org}/teams/overdue", user=REFERRER))["items"] == []
    frozen_clock.advance(days=7, hours=1)
    call("POST", f"/orgs/{org}/teams/{team}/customers/{a}/status", user=M1, body={"status": "contacted"})
    answer = call("GET", f"/orgs/{org}/teams/overdue", user=MANAGER)
    assert answer["statusCode"] == 200, answer
    items = body_of(answer)["items"]
    assert [(i["team_id"], i["name"], i["overdue"]) for i in items] == [
        (team, "North Team", 1),
        (south, "South Team", 1),
    ]
    assert items[0]["oldest_due_at"].startswith("2026-11-29T09:00")
    assert call("GET", f"/orgs/{org}/teams/overdue", user=STAFF)["statusCode"] == 403
    assert call("GET", f"/orgs/{org}/teams/overdue", user=LEADER)["statusCode"] == 404


def leader_caller(org_id: str, team_id: str) -> membership.TeamCaller:
    return membership.team_caller(access.Principal(LEADER, "user", "portal", frozenset()), org_id, team_id)


def test_a_reassignment_based_on_a_stale_read_changes_nothing(
    org: str, team: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = add_customer(org, team, M1)
    stale = db.get(team_customer_key(org, team, customer))
    caller = leader_caller(org, team)
    team_customers.update_status(caller, customer, team_customers.CustomerStatusChange(status="contacted"))
    monkeypatch.setattr(team_customers, "get_customer", lambda *args, **kwargs: stale)
    with pytest.raises(team_customers.CustomerChanged):
        team_customers.reassign(caller, customer, team_customers.Reassignment(user_id=M2))
    stored = db.get(team_customer_key(org, team, customer))
    assert stored is not None and stored["assignee_id"] == M1 and stored["status"] == "contacted"
    assert (count_of(org, team, M1), count_of(org, team, M2)) == (1, 0)


def test_a_customer_whose_assignee_left_can_still_be_reassigned(org: str, team: str) -> None:
    customer = add_customer(org, team, M1)
    db.delete(team_member_key(org, team, M1))  # as if removed before the counts existed
    moved = team_customers.reassign(leader_caller(org, team), customer, team_customers.Reassignment(user_id=M2))
    assert moved["assignee_id"] == M2 and count_of(org, team, M2) == 1
    assert db.get(team_member_key(org, team, M1)) is None  # no membership is made up for the former assignee
