"""Removal requests: decided at once for most reasons, open for staff for hand-offs and bad fits; one open
request per customer; staff close as lost or move the customer to another team (history carried, assignee
counts kept); the events each outcome means."""

from __future__ import annotations

from typing import Any

import pytest
from common.integrations import change_events
from common.orgs.access import Member
from common.platform import db
from common.platform.errors import Forbidden, InvalidInput
from common.teams import membership, removal_requests, roster, team_customers
from common.teams.removal_requests import (
    CustomerFinished,
    NewRemovalRequest,
    RemovalDecided,
    RemovalDecision,
    RemovalRequestOpen,
)
from common.teams.team_model import team_customer_key, team_member_key
from pydantic import ValidationError

ORG = "01J000000000000000000000RG"
STAFF = Member(ORG, "staff-1", "admin", frozenset())
LEADER, AMY, BEN, OTHER_LEADER = "u-leader", "u-amy", "u-ben", "u-other"


def _team(name: str, leader: str, phone: str) -> dict[str, Any]:
    new = roster.NewTeam(name=name, leader=roster.NewLeader(user_id=leader, phone=phone, display_name=name))
    team, _ = roster.create_team(ORG, STAFF, new)
    return team


def _caller(team: dict[str, Any], user_id: str) -> membership.TeamCaller:
    member = db.get(team_member_key(ORG, team["team_id"], user_id))
    return membership.TeamCaller(ORG, team["team_id"], user_id, team, member, None)


@pytest.fixture
def teams(aws: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    north = _team("North", LEADER, "+15550000001")
    south = _team("South", OTHER_LEADER, "+15550000009")
    staff_caller = membership.TeamCaller(ORG, north["team_id"], STAFF.user_id, north, None, STAFF)
    for user, number in ((AMY, "+15550000003"), (BEN, "+15550000004")):
        roster.put_member(staff_caller, user, roster.MemberChange(role="member", phone=number, display_name=user))
    return north, south


def _customer(team: dict[str, Any], assignee: str, request_id: str) -> dict[str, Any]:
    item = team_customers.new_customer_item(
        ORG,
        team["team_id"],
        customer={"first_name": "Cleo", "last_name": "Client", "email": "cleo@example.org"},
        summary="3 beds",
        assignee_id=assignee,
        actor=f"user:{assignee}",
        request_id=request_id,
    )
    db.transact(team_customers.new_customer_actions(item), on_cancel=lambda f: AssertionError(f))
    return item


def _count(team: dict[str, Any], user: str) -> int:
    return int(db.get(team_member_key(ORG, team["team_id"], user))["customer_count"])


def _change(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    images = {"NewImage": db.serialize(new), "ApproximateCreationDateTime": 1_780_000_000}
    if old is not None:
        images["OldImage"] = db.serialize(old)
    return {"eventID": "e1", "eventName": "INSERT" if old is None else "MODIFY", "dynamodb": images}


def test_a_reason_for_no_staff_closes_the_customer_as_lost_at_once(teams: Any) -> None:
    north, _ = teams
    customer = _customer(north, AMY, "01J00000000000000000000C01")
    request = removal_requests.request_removal(
        _caller(north, AMY), customer["customer_id"], NewRemovalRequest(reason="no_contact", notes="5 calls")
    )
    assert (request["status"], request["outcome"]) == ("decided", "lost")
    stored = db.get(team_customer_key(ORG, north["team_id"], customer["customer_id"]))
    assert (stored["status"], stored["lost_reason"]) == ("lost", "no_contact")
    assert "gsi3pk" not in stored and "removal_request" not in stored
    assert stored["history"][-1] | {} == {**stored["history"][-1], "status": "lost", "reason": "no_contact"}
    events = change_events.events_of(_change(None, db.get(removal_requests.removal_key(ORG, request["removal_id"]))))
    assert [e.type for e in events] == ["team_customer.removal_requested", "team_customer.removed"]
    assert events[1].data["outcome"] == "lost" and events[1].data["customer"]["email"] == "cleo@example.org"
    with pytest.raises(CustomerFinished):
        removal_requests.request_removal(
            _caller(north, LEADER), customer["customer_id"], NewRemovalRequest(reason="bad_fit")
        )


def test_only_the_assignee_or_the_leader_asks(teams: Any) -> None:
    north, _ = teams
    customer = _customer(north, AMY, "01J00000000000000000000C02")
    from common.platform.errors import NotFound

    with pytest.raises(NotFound):  # Ben sees only his own customers
        removal_requests.request_removal(
            _caller(north, BEN), customer["customer_id"], NewRemovalRequest(reason="bad_fit")
        )
    staff_only = membership.TeamCaller(ORG, north["team_id"], STAFF.user_id, north, None, STAFF)
    with pytest.raises(Forbidden):
        removal_requests.request_removal(staff_only, customer["customer_id"], NewRemovalRequest(reason="bad_fit"))


def test_bad_input_is_refused_by_the_models() -> None:
    with pytest.raises(ValidationError) as unknown:
        NewRemovalRequest.model_validate({"reason": "moved_to_mars"})
    assert unknown.value.errors()[0]["loc"] == ("reason",)
    with pytest.raises(ValidationError) as long:
        NewRemovalRequest.model_validate({"reason": "no_contact", "notes": "x" * 1001})
    assert long.value.errors()[0]["loc"] == ("notes",)


def test_a_hand_off_waits_for_staff_once_and_staff_reassign_it_to_another_team(teams: Any) -> None:
    north, south = teams
    customer = _customer(north, AMY, "01J00000000000000000000C03")
    team_customers.update_status(
        _caller(north, AMY), customer["customer_id"], team_customers.CustomerStatusChange(status="contacted")
    )
    request = removal_requests.request_removal(
        _caller(north, AMY), customer["customer_id"], NewRemovalRequest(reason="active_hand_off")
    )
    assert request["status"] == "open"
    with pytest.raises(RemovalRequestOpen):
        removal_requests.request_removal(
            _caller(north, LEADER), customer["customer_id"], NewRemovalRequest(reason="bad_fit")
        )
    listed, _ = removal_requests.open_requests(ORG)
    assert [r["removal_id"] for r in listed] == [request["removal_id"]]
    with pytest.raises(InvalidInput):
        removal_requests.decide(STAFF, ORG, request["removal_id"], RemovalDecision(outcome="reassigned"))
    with pytest.raises(InvalidInput):
        removal_requests.decide(
            STAFF, ORG, request["removal_id"], RemovalDecision(outcome="reassigned", team_id=north["team_id"])
        )
    before = db.get(removal_requests.removal_key(ORG, request["removal_id"]))
    decided = removal_requests.decide(
        STAFF, ORG, request["removal_id"], RemovalDecision(outcome="reassigned", team_id=south["team_id"])
    )
    assert (decided["outcome"], decided["to_team_id"]) == ("reassigned", south["team_id"])
    assert db.get(team_customer_key(ORG, north["team_id"], customer["customer_id"])) is None
    moved = db.get(team_customer_key(ORG, south["team_id"], customer["customer_id"]))
    assert (moved["status"], moved["assignee_id"], moved["version"]) == ("new", OTHER_LEADER, 1)
    assert [e["event"] for e in moved["history"]] == ["created", "status", "created"]
    assert moved["history"][-1]["from_team_id"] == north["team_id"]
    assert (_count(north, AMY), _count(south, OTHER_LEADER)) == (0, 1)
    assert removal_requests.open_requests(ORG)[0] == []
    after = db.get(removal_requests.removal_key(ORG, request["removal_id"]))
    assert [e.type for e in change_events.events_of(_change(before, after))] == ["team_customer.removed"]
    with pytest.raises(RemovalDecided):
        removal_requests.decide(STAFF, ORG, request["removal_id"], RemovalDecision(outcome="lost"))
    south_caller = _caller(south, OTHER_LEADER)
    history, _ = team_customers.customer_history(south_caller, customer["customer_id"])
    assert len(history) == 3


def test_staff_close_a_bad_fit_as_lost(teams: Any) -> None:
    north, _ = teams
    customer = _customer(north, AMY, "01J00000000000000000000C04")
    request = removal_requests.request_removal(
        _caller(north, LEADER), customer["customer_id"], NewRemovalRequest(reason="bad_fit")
    )
    decided = removal_requests.decide(STAFF, ORG, request["removal_id"], RemovalDecision(outcome="lost", note="ok"))
    assert (decided["outcome"], decided["decision_note"]) == ("lost", "ok")
    stored = db.get(team_customer_key(ORG, north["team_id"], customer["customer_id"]))
    assert (stored["status"], stored["lost_reason"], _count(north, AMY)) == ("lost", "bad_fit", 1)
