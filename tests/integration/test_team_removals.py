"""Removal requests over HTTP against the local stack: a member removes their customer as lost at once; a
hand-off waits for staff (one open request per customer), who reassign it to another team (it leaves the
first list and joins the second as new, with its history) or close it as lost; bad input writes nothing;
each outcome is an event, delivered once and valid against its published schema."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.integration.support.webhook_receiver import listening
from tests.integration.test_referrals import create
from tests.integration.test_referrals import new_team as referral_team
from tests.integration.test_teams import Team, accepted_by, new_team, seen_by
from tests.integration.test_webhook_events import (
    WAIT,
    Scenario,
    assert_each_event_delivered_once,
    ok,
    subscribe_to_everything,
)


def removal(team: Team, actor: Any, customer_id: str, body: Any) -> Any:
    return actor.post(f"{team.path}/customers/{customer_id}/removal-requests", body)


def test_a_member_removes_their_customer_as_lost_with_a_reason(stack: Any) -> None:
    team = new_team(stack)
    customer = accepted_by(team, team.m1)
    assert removal(team, team.m2, customer["customer_id"], {"reason": "no_contact"}).status_code == 404
    asked = removal(team, team.m1, customer["customer_id"], {"reason": "looking_to_rent", "notes": "Renting first"})
    assert asked.status_code == 201, asked.text
    assert (asked.json()["status"], asked.json()["outcome"]) == ("decided", "lost")
    now = team.leader.get(f"{team.path}/customers/{customer['customer_id']}").json()
    assert (now["status"], now["lost_reason"], now["due_at"]) == ("lost", "looking_to_rent", None)
    again = removal(team, team.leader, customer["customer_id"], {"reason": "bad_fit"})
    assert again.status_code == 409 and again.json()["type"].endswith("/customer-finished")


def test_bad_input_is_422_naming_the_field_and_writes_nothing(stack: Any) -> None:
    team = new_team(stack)
    customer = accepted_by(team, team.m1)
    for body, field in (
        ({"reason": "moved_to_mars"}, "body.reason"),
        ({"reason": "no_contact", "notes": "x" * 1001}, "body.notes"),
        ({"reason": "no_contact", "extra": 1}, "body.extra"),
    ):
        refused = removal(team, team.m1, customer["customer_id"], body)
        assert refused.status_code == 422, refused.text
        assert field in {e["field"] for e in refused.json()["errors"]}
    unchanged = team.leader.get(f"{team.path}/customers/{customer['customer_id']}").json()
    assert (unchanged["status"], unchanged["removal_request"], unchanged["version"]) == ("new", None, 1)
    assert team.staff.get(f"/orgs/{team.org_id}/teams/removal-requests").json()["items"] == []


def test_staff_reassign_a_hand_off_to_another_team_with_its_history(stack: Any) -> None:
    north = new_team(stack)
    customer = accepted_by(north, north.m1)
    cid = customer["customer_id"]
    updated = north.m1.post(f"{north.path}/customers/{cid}/status", {"status": "contacted", "note": "Met"})
    assert updated.status_code == 200, updated.text
    asked = removal(north, north.m1, cid, {"reason": "active_hand_off", "notes": "Moving to Austin"})
    assert asked.status_code == 201 and asked.json()["status"] == "open"
    removal_id = asked.json()["removal_id"]
    twice = removal(north, north.leader, cid, {"reason": "bad_fit"})
    assert twice.status_code == 409 and twice.json()["type"].endswith("/removal-request-open")
    listed = north.staff.get(f"/orgs/{north.org_id}/teams/removal-requests").json()["items"]
    assert [(r["removal_id"], r["customer"]["first_name"]) for r in listed] == [(removal_id, "Cleo")]
    assert north.m1.get(f"/orgs/{north.org_id}/teams/removal-requests").status_code == 404

    # A second team in the same organisation: staff create it with its own leader.
    south_leader = north.m2  # not in use elsewhere: a user may lead another team
    created = north.staff.post(
        f"/orgs/{north.org_id}/teams",
        {
            "name": "South Team",
            "leader": {"user_id": south_leader.user_id, "phone": "+15551234567", "display_name": "Sol"},
        },
    )
    assert created.status_code == 201, created.text
    south_id = created.json()["team_id"]
    decision = f"/orgs/{north.org_id}/teams/removal-requests/{removal_id}/decision"
    missing = north.staff.post(decision, {"outcome": "reassigned"})
    assert missing.status_code == 422 and "body.team_id" in {e["field"] for e in missing.json()["errors"]}
    # A paused team takes no new customer, not even by a reassignment.
    standing = f"/orgs/{north.org_id}/teams/{south_id}/standing"
    assert north.staff.put(standing, {"standing": "paused", "reason": "Below standard"}).status_code == 200
    paused = north.staff.post(decision, {"outcome": "reassigned", "team_id": south_id})
    assert paused.status_code == 409 and paused.json()["type"].endswith("/team-not-offerable"), paused.text
    assert north.staff.put(standing, {"standing": "good", "reason": "Back on track"}).status_code == 200
    moved = north.staff.post(decision, {"outcome": "reassigned", "team_id": south_id, "note": "Austin office"})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["outcome"], moved.json()["to_team_id"]) == ("reassigned", south_id)
    assert cid not in seen_by(north, north.leader)
    south_path = f"/orgs/{north.org_id}/teams/{south_id}"
    joined = south_leader.get(f"{south_path}/customers/{cid}").json()
    assert (joined["status"], joined["assignee_id"]) == ("new", south_leader.user_id)
    history = south_leader.get(f"{south_path}/customers/{cid}/history").json()["items"]
    assert [(h["event"], h.get("note")) for h in history] == [("created", None), ("status", "Met"), ("created", None)]
    assert history[0]["from_team_id"] == north.team_id
    counts = {m["user_id"]: m["customer_count"] for m in north.leader.get(north.path).json()["members"]}
    assert counts[north.m1.user_id] == 0
    assert north.staff.post(decision, {"outcome": "lost"}).status_code == 409
    assert north.staff.get(f"/orgs/{north.org_id}/teams/removal-requests").json()["items"] == []


def test_staff_close_a_bad_fit_as_lost(stack: Any) -> None:
    team = new_team(stack)
    customer = accepted_by(team, team.m1)
    asked = removal(team, team.leader, customer["customer_id"], {"reason": "bad_fit"})
    assert asked.status_code == 201, asked.text
    decision = f"/orgs/{team.org_id}/teams/removal-requests/{asked.json()['removal_id']}/decision"
    assert team.leader.post(decision, {"outcome": "lost"}).status_code == 404  # not staff of the organisation
    assert team.plain_staff.post(decision, {"outcome": "lost"}).status_code == 403
    closed = team.staff.post(decision, {"outcome": "lost"})
    assert closed.status_code == 200, closed.text
    now = team.leader.get(f"{team.path}/customers/{customer['customer_id']}").json()
    assert (now["status"], now["lost_reason"], now["removal_request"]) == ("lost", "bad_fit", None)


def test_each_outcome_is_an_event_delivered_once_with_the_customer_for_a_survey(stack: Any) -> None:
    with listening(stack) as receiver:
        team = referral_team(stack, members={"amy": {"role": "member"}})
        org_path, admin, amy = f"/orgs/{team.org_id}", team.staff, team.members["amy"]
        endpoint_id = subscribe_to_everything(stack, team.org_id, admin, receiver)
        customers = []
        for _ in range(2):
            request = create(team)
            ok(amy.post(f"{team.requests_path}/{request['request_id']}/accept"))
            customers.append(f"{org_path}/teams/{team.team_id}/customers/{request['request_id']}")
        ok(amy.post(f"{customers[0]}/removal-requests", {"reason": "out_of_area", "notes": "Moved"}), 201)
        handed = ok(amy.post(f"{customers[1]}/removal-requests", {"reason": "active_hand_off"}), 201)
        ok(admin.post(f"{org_path}/teams/removal-requests/{handed['removal_id']}/decision", {"outcome": "lost"}))
        stack.wait_for_streams(WAIT)

        scenario = Scenario(team.org_id, admin, endpoint_id, receiver)
        recorded = scenario.recorded()
        removals = [e for e in recorded if e.type.startswith("team_customer.remov")]
        assert Counter(e.type for e in removals) == {"team_customer.removal_requested": 2, "team_customer.removed": 2}
        assert {(e.data["reason"], e.data["outcome"]) for e in removals if e.type == "team_customer.removed"} == {
            ("out_of_area", "lost"),
            ("active_hand_off", "lost"),
        }
        assert all(e.data["customer"]["first_name"] for e in removals)
        types = Counter(e.type for e in recorded)
        assert_each_event_delivered_once(scenario, dict(types))
