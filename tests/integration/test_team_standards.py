"""Partner teams' performance standards over HTTP against the local stack: a scorecard made of a scripted
history (offers texted, requests opened on the dashboard, acceptances won and lost by text and on the
dashboard, closings, and the daily sweep's compliance samples with the clock moved), the sweep's flags for
staff; standing set by staff with its history, and what paused and removed teams may not do; referral
requests routed by area, by standing and close rate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from common.platform import db
from common.teams.team_model import team_key

from local.stack import LocalStack
from tests.integration.support.actors import Actor, new_user
from tests.integration.test_sms_webhook import text
from tests.integration.test_team_reminders import DAY, sweep
from tests.integration.test_teams import CLOSING, Team, new_team, phone


def create_request(team: Team, first_name: str = "Robin") -> dict[str, Any]:
    created = team.staff.post(
        f"/orgs/{team.org_id}/referral-requests",
        {"team_id": team.team_id, "customer": {"first_name": first_name, "last_name": "Buyer"}, "summary": "3 beds"},
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


def request_path(team: Team, request: dict[str, Any]) -> str:
    return f"/orgs/{team.org_id}/referral-requests/{request['request_id']}"


def scorecard(team: Team, actor: Actor) -> dict[str, Any]:
    answer = actor.get(f"{team.path}/scorecard")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def numbers(rates: dict[str, Any]) -> dict[str, Any]:
    keys = ("offered", "opened", "attempted", "accepted", "closed", "open_customers", "compliant_customers")
    return {k: rates[k] for k in keys}


def test_a_scorecard_from_offers_opens_attempts_closings_and_samples(stack: LocalStack) -> None:
    team = new_team(stack)
    for quiet in (team.leader, team.admin):  # only m1 and m2 get the texts
        path = f"{team.path}/members/{quiet.user_id}/eligibility"
        assert team.staff.put(path, {"eligible": False}).status_code == 200
    offset = stack.clock_offset
    try:
        first, second, third = create_request(team, "Ann"), create_request(team, "Ben"), create_request(team, "Cy")
        stack.wait_for_streams()
        texts = [t["body"] for t in stack.texts() if t["to"] == team.phones[team.m1.user_id]]
        assert any(f"/orgs/{team.org_id}/referrals/{first['request_id']}" in body for body in texts)

        # m1 opens the first twice (one open) and accepts it; opens the second, which m2 takes by text (m2's
        # YES is an open and an attempt), then tries it on the dashboard and loses (an attempt); the third
        # nobody opens.
        for _ in range(2):
            assert team.m1.get(request_path(team, first)).status_code == 200
        assert team.m1.post(f"{request_path(team, first)}/accept").status_code == 200
        assert team.m1.get(request_path(team, second)).status_code == 200
        assert "You got it" in (text(stack, f"YES {second['code']}", team.phones[team.m2.user_id]) or "")
        lost = team.m1.post(f"{request_path(team, second)}/accept")
        assert lost.status_code == 409 and lost.json()["type"] == "/problems/referral-taken"
        closed = close(team.m1, f"{team.path}/customers/{first['request_id']}")
        assert closed.status_code == 200, closed.text

        sweep(stack)  # today's sample: Ben's customer open and on time
        stack.advance_clock(8 * DAY)
        sweep(stack)  # eight days on: Ben's customer overdue

        card = scorecard(team, team.leader)
        assert numbers(card["team"]) == {
            "offered": 6,
            "opened": 3,
            "attempted": 3,
            "accepted": 2,
            "closed": 1,
            "open_customers": 2,
            "compliant_customers": 1,
        }
        assert card["team"]["open_rate"] == 50.0 and card["team"]["attempt_rate"] == 100.0
        assert card["team"]["compliance_rate"] == 50.0 and card["team"]["close_rate"] == 50.0
        assert card["team"]["sampled_days"] == 2
        assert card["below_standard"] == ["open_rate", "compliance_rate"]
        assert card["standards"] == {"window_days": 90, "open_rate": 75, "attempt_rate": 75, "compliance_rate": 80}
        members = {m["user_id"]: numbers(m) for m in card["members"]}
        assert members[team.m1.user_id] == {
            "offered": 3,
            "opened": 2,
            "attempted": 2,
            "accepted": 1,
            "closed": 1,
            "open_customers": 0,
            "compliant_customers": 0,
        }
        assert members[team.m2.user_id] == {
            "offered": 3,
            "opened": 1,
            "attempted": 1,
            "accepted": 1,
            "closed": 0,
            "open_customers": 2,
            "compliant_customers": 1,
        }
        offers = team.staff.get(request_path(team, third)).json()["offers"]
        assert [o["opened_at"] for o in offers] == [None, None]

        # The sweep judged the complete days (the first day's sample only): the open rate flags the team.
        flagged = team.staff.get(f"/orgs/{team.org_id}/teams/below-standard").json()["items"]
        assert [(f["team_id"], f["below_standard"], f["standing"]) for f in flagged] == [
            (team.team_id, ["open_rate"], "good")
        ]
        assert team.leader.get(f"/orgs/{team.org_id}/teams/below-standard").status_code in (403, 404)

        # Lower standards clear the flag on the next day's sweep; the scorecard follows them at once.
        lower = {"open_rate": 40, "compliance_rate": 40}
        assert team.staff.put(f"/orgs/{team.org_id}/teams/standards", lower).json()["open_rate"] == 40
        assert scorecard(team, team.staff)["below_standard"] == []
        stack.advance_clock(DAY)
        sweep(stack)
        assert team.staff.get(f"/orgs/{team.org_id}/teams/below-standard").json()["items"] == []

        # Who reads it: staff, the leader and admins; not a member, not staff without teams:manage.
        assert team.admin.get(f"{team.path}/scorecard").status_code == 200
        assert team.m1.get(f"{team.path}/scorecard").status_code == 403
        assert team.plain_staff.get(f"{team.path}/scorecard").status_code == 403
    finally:
        stack.set_clock_offset(offset)


# -- standing and routing ------------------------------------------------------------------------------


@dataclass
class Org:
    org_id: str
    staff: Actor
    leaders: dict[str, Actor] = field(default_factory=dict)  # team id -> its leader

    def team_path(self, team_id: str) -> str:
        return f"/orgs/{self.org_id}/teams/{team_id}"


def new_org(stack: LocalStack) -> Org:
    owner = new_user(stack, "owner", operator=True)
    created = owner.post("/orgs", {"name": "Standards org"})
    assert created.status_code == 201, created.text
    return Org(created.json()["org_id"], owner)


def add_team(stack: LocalStack, org: Org, name: str, areas: list[str]) -> str:
    leader = new_user(stack, "leader")
    answer = org.staff.post(
        f"/orgs/{org.org_id}/teams",
        {"name": name, "leader": {"user_id": leader.user_id, "phone": phone(), "display_name": name}},
    )
    assert answer.status_code == 201, answer.text
    team_id = answer.json()["team_id"]
    org.leaders[team_id] = leader
    set_areas = org.staff.put(f"{org.team_path(team_id)}/areas", {"areas": areas})
    assert set_areas.status_code == 200 and set_areas.json()["areas"] == areas, set_areas.text
    return str(team_id)


def request_for(org: Org, **target: Any) -> Any:
    return org.staff.post(
        f"/orgs/{org.org_id}/referral-requests",
        {**target, "customer": {"first_name": "Dee", "last_name": "Buyer"}, "summary": "2 beds"},
    )


def accept_and_close(org: Org, team_id: str, *, accepted: int, closed: int) -> None:
    leader = org.leaders[team_id]
    for n in range(accepted):
        created = request_for(org, team_id=team_id)
        assert created.status_code == 201, created.text
        request_id = created.json()["request_id"]
        assert leader.post(f"/orgs/{org.org_id}/referral-requests/{request_id}/accept").status_code == 200
        if n < closed:
            closed_now = close(leader, f"{org.team_path(team_id)}/customers/{request_id}")
            assert closed_now.status_code == 200, closed_now.text


def close(actor: Actor, customer_path: str) -> Any:
    """Close the customer with its closing (the day it was referred: never in the future, never before)."""
    referred = actor.get(customer_path).json()["created_at"][:10]
    return actor.post(f"{customer_path}/status", {"status": "closed", "closing": {**CLOSING, "close_date": referred}})


def set_standing(org: Org, team_id: str, standing: str) -> dict[str, Any]:
    answer = org.staff.put(f"{org.team_path(team_id)}/standing", {"standing": standing, "reason": f"now {standing}"})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_routing_by_area_standing_and_close_rate_and_what_standing_refuses(stack: LocalStack) -> None:
    org = new_org(stack)
    fair = add_team(stack, org, "Fair", ["Springfield"])
    best = add_team(stack, org, "Best", ["springfield", "Shelbyville"])
    probation = add_team(stack, org, "Probation", ["SPRINGFIELD"])
    paused = add_team(stack, org, "Paused", ["Springfield"])
    removed = add_team(stack, org, "Removed", ["Springfield"])
    add_team(stack, org, "Elsewhere", ["Capital City"])
    offset = stack.clock_offset
    try:
        accept_and_close(org, fair, accepted=2, closed=1)
        accept_and_close(org, best, accepted=1, closed=1)
        accept_and_close(org, probation, accepted=1, closed=1)
        accept_and_close(org, paused, accepted=2, closed=0)
        open_request = org.staff.post(
            f"/orgs/{org.org_id}/referral-requests",
            {
                "team_id": removed,
                "customer": {"first_name": "Al", "last_name": "B"},
                "summary": "x",
                "expires_in_minutes": 7 * 24 * 60,
            },
        ).json()
        stack.advance_clock(DAY)
        sweep(stack)  # yesterday's acceptances and closings make each team's close rate

        assert set_standing(org, probation, "probation")["standing"] == "probation"
        assert set_standing(org, paused, "paused")["offerable"] is False
        set_standing(org, removed, "removed")
        history = org.staff.get(f"{org.team_path(removed)}/standing-history").json()["items"]
        assert [(e["standing"], e["previous"], e["reason"]) for e in history] == [("removed", "good", "now removed")]

        routed = request_for(org, area="Springfield")
        assert routed.status_code == 201, routed.text
        route = routed.json()["route"]
        assert routed.json()["team_id"] == best and route["position"] == 0 and route["area"] == "Springfield"
        assert [(c["team_id"], c["standing"], c["close_rate"]) for c in route["candidates"]] == [
            (best, "good", 100.0),
            (fair, "good", 50.0),
            (probation, "probation", 100.0),
        ]

        # Unaccepted in time, it is offered on to the route's next team (here on an attempt past its expiry).
        short = request_for(org, area="Springfield", expires_in_minutes=5).json()
        stack.advance_clock(6 * 60)
        late_yes = org.leaders[best].post(f"/orgs/{org.org_id}/referral-requests/{short['request_id']}/accept")
        assert late_yes.status_code == 409 and late_yes.json()["type"] == "/problems/referral-expired"
        stack.wait_for_streams()
        expired = org.staff.get(f"/orgs/{org.org_id}/referral-requests/{short['request_id']}").json()
        onward = org.staff.get(f"/orgs/{org.org_id}/referral-requests/{expired['rerouted_to']}").json()
        assert (onward["team_id"], onward["route"]["position"], onward["rerouted_from"]) == (
            fair,
            1,
            short["request_id"],
        )

        # Paused for fees (the fees' counter on the team): the next good team; then probation; then none.
        db.update(team_key(org.org_id, best), expression="SET fee_pause_count = :one", values={":one": 1})
        assert request_for(org, area="springfield").json()["team_id"] == fair
        set_standing(org, fair, "paused")
        assert request_for(org, area="SPRINGFIELD").json()["team_id"] == probation
        set_standing(org, probation, "removed")
        none_left = request_for(org, area="Springfield")
        assert none_left.status_code == 409 and none_left.json()["type"] == "/problems/team-not-offerable"
        assert request_for(org, area="Nowhere").status_code == 409

        # A paused or removed team is offered nothing; a removed team accepts nothing; a paused team still
        # works its customers.
        refused = request_for(org, team_id=paused)
        assert refused.status_code == 409 and "paused" in refused.json()["detail"]
        assert "removed" in request_for(org, team_id=removed).json()["detail"]
        late = org.leaders[removed].post(f"/orgs/{org.org_id}/referral-requests/{open_request['request_id']}/accept")
        assert late.status_code == 409 and late.json()["type"] == "/problems/team-removed"
        customers = org.leaders[paused].get(f"{org.team_path(paused)}/customers").json()["items"]
        update = f"{org.team_path(paused)}/customers/{customers[0]['customer_id']}/status"
        assert org.leaders[paused].post(update, {"status": "contacted"}).status_code == 200
    finally:
        stack.set_clock_offset(offset)


def test_bad_input_is_422_naming_the_field_and_changes_nothing(stack: LocalStack) -> None:
    org = new_org(stack)
    team_id = add_team(stack, org, "Only", ["Springfield"])
    both = request_for(org, team_id=team_id, area="Springfield")
    assert both.status_code == 422 and [e["field"] for e in both.json()["errors"]] == ["body.area"]
    neither = request_for(org)
    assert neither.status_code == 422 and [e["field"] for e in neither.json()["errors"]] == ["body.team_id"]
    long_area = request_for(org, area="x" * 101)
    assert long_area.status_code == 422 and "body.area" in {e["field"] for e in long_area.json()["errors"]}

    path = org.team_path(team_id)
    cases = [
        (f"{path}/standing", {"standing": "gone", "reason": "x"}, "body.standing"),
        (f"{path}/standing", {"standing": "paused", "reason": ""}, "body.reason"),
        (f"{path}/standing", {"standing": "paused"}, "body.reason"),
        (f"{path}/areas", {"areas": [f"area {n}" for n in range(21)]}, "body.areas"),
        (f"{path}/areas", {"areas": [""]}, "body.areas.0"),
        (f"/orgs/{org.org_id}/teams/standards", {"open_rate": 101}, "body.open_rate"),
        (f"/orgs/{org.org_id}/teams/standards", {"window_days": 1000}, "body.window_days"),
        (f"/orgs/{org.org_id}/teams/standards", {"compliance_rate": "80"}, "body.compliance_rate"),
    ]
    for route, body, named in cases:
        answer = org.staff.put(route, body)
        assert answer.status_code == 422, (route, body, answer.text)
        assert named in {e["field"] for e in answer.json()["errors"]}, (named, answer.text)
    team = org.staff.get(path).json()
    assert (team["standing"], team["areas"], team["version"]) == ("good", ["Springfield"], 2)
    assert org.staff.get(f"/orgs/{org.org_id}/teams/standards").json()["version"] == 0
    assert org.staff.get(f"{path}/standing-history").json()["items"] == []
