"""Partner teams' standards: standing and what it allows, its bounded history, the day counts an offer's
text, open and attempt leave (once each), scorecard rates, routing by area, and the daily standards job's
samples and flags."""

from __future__ import annotations

from typing import Any

import pytest
from common.integrations import catalogue, change_events
from common.orgs.access import Member
from common.platform import db
from common.platform.errors import InvalidInput
from common.teams import (
    referral_acceptance,
    referral_offers,
    referral_requests,
    routing,
    scorecard,
    standards,
    standards_sweep,
    standing,
    team_stats,
)
from common.teams.referral_requests import NewReferralRequest
from common.teams.routing import TeamAreas
from common.teams.standing import StandingChange, StandingValue, TeamNotOfferable, TeamRemoved
from common.teams.team_model import offer_key, team_key

from local.twilio_fake import FakeTwilio
from tests.unit.teams.test_referral_requests import AMY, LEADER, ORG, STAFF, create, twilio  # noqa: F401
from tests.unit.teams.test_referral_requests import team as team_fixture

team = team_fixture
ACTOR = f"user:{STAFF}"


# -- standing --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "offerable", "accepts"),
    [
        ({}, True, True),
        ({"standing": "probation"}, True, True),
        ({"standing": "paused"}, False, True),
        ({"standing": "removed"}, False, False),
        ({"standing": "good", "fee_pause_count": 1}, False, True),
        ({"standing": "good", "fee_pause_count": 0}, True, True),
    ],
)
def test_what_standing_allows(item: dict[str, Any], offerable: bool, accepts: bool) -> None:
    assert standing.offerable(item) is offerable
    assert standing.may_accept(item) is accepts


def test_standing_history_is_bounded_and_whole(team: dict[str, Any]) -> None:
    for n in range(25):
        value = [StandingValue.PROBATION, StandingValue.GOOD][n % 2]
        standing.set_standing(ORG, team["team_id"], StandingChange(standing=value, reason=f"change {n}"), ACTOR)
    stored = db.get(team_key(ORG, team["team_id"]), consistent=True)
    assert stored is not None and stored["standing"] == "probation" and stored["version"] == 26
    assert len(stored["standing_history"]) <= standing.HISTORY.limit
    entries, cursor = standing.standing_history(ORG, team["team_id"], limit=100)
    assert cursor is None and [e["reason"] for e in entries] == [f"change {n}" for n in reversed(range(25))]
    assert entries[-1]["previous"] == "good"


def test_a_paused_team_is_offered_nothing_and_a_removed_one_accepts_nothing(team: dict[str, Any]) -> None:
    open_request = create(team)
    standing.set_standing(ORG, team["team_id"], StandingChange(standing=StandingValue.PAUSED, reason="late"), ACTOR)
    with pytest.raises(TeamNotOfferable, match="standing is paused"):
        create(team)
    standing.set_standing(ORG, team["team_id"], StandingChange(standing=StandingValue.REMOVED, reason="gone"), ACTOR)
    with pytest.raises(TeamRemoved):
        referral_acceptance.accept(ORG, open_request["request_id"], AMY, via="dashboard")


def test_a_team_paused_for_fees_is_offered_nothing(team: dict[str, Any]) -> None:
    db.update(team_key(ORG, team["team_id"]), expression="SET fee_pause_count = :n", values={":n": 2})
    with pytest.raises(TeamNotOfferable, match="fees"):
        create(team)


def test_a_standing_change_is_an_event_of_the_team(team: dict[str, Any]) -> None:
    before = db.get(team_key(ORG, team["team_id"]), consistent=True)
    after = standing.set_standing(ORG, team["team_id"], StandingChange(standing="probation", reason="low"), ACTOR)
    assert change_events._team(before, after) == [(catalogue.TEAM_STANDING_CHANGED, after["standing_changed_at"])]
    assert change_events._team(after, {**after, "name": "Renamed"}) == []


# -- counts --------------------------------------------------------------------------------------------


def day_counts(team_id: str, day: str, user_id: str | None = None) -> dict[str, Any]:
    key = (
        team_stats.member_day_key(ORG, team_id, day, user_id) if user_id else team_stats.team_day_key(ORG, team_id, day)
    )
    return db.get(key, consistent=True) or {}


def test_an_offer_counts_once_opened_once_and_an_attempt_opens_it(team: dict[str, Any], twilio: FakeTwilio) -> None:  # noqa: F811
    request = create(team)
    texted = referral_offers.offer_request(request)
    day = request["created_at"][:10]
    assert day_counts(team["team_id"], day)["offered"] == texted == 2  # the leader and Amy
    assert team_stats.mark_opened(request, AMY) is True
    assert team_stats.mark_opened(request, AMY) is False
    assert team_stats.record_attempt(request, LEADER) is True  # never opened: the attempt is its open
    assert team_stats.record_attempt(request, LEADER) is False
    assert team_stats.mark_opened(request, "u-ben") is False  # not offered
    counts = day_counts(team["team_id"], day)
    assert (counts["offered"], counts["opened"], counts["attempted"]) == (2, 2, 1)
    leader = day_counts(team["team_id"], day, LEADER)
    assert (leader["offered"], leader["opened"], leader["attempted"]) == (1, 1, 1)
    offer = db.get(offer_key(ORG, request["request_id"], AMY), consistent=True)
    assert offer is not None and offer["opened_at"] and "attempted_at" not in offer


def test_rates_and_what_falls_below_the_standards() -> None:
    days = [
        {"offered": 4, "opened": 3, "attempted": 1, "accepted": 2, "closed": 1},
        {"open_customers": 4, "compliant_customers": 3, "sampled_at": "x"},
        {"offered": 4, "opened": 1, "open_customers": 4, "compliant_customers": 4, "sampled_at": "y"},
    ]
    rates = scorecard.Rates.of_days(days)
    assert (rates.open_rate, rates.attempt_rate, rates.compliance_rate, rates.close_rate) == (50.0, 25.0, 87.5, 50.0)
    assert rates.sampled_days == 2
    assert rates.below(standards.Standards()) == ["open_rate", "attempt_rate"]
    empty = scorecard.Rates.of_days([])
    assert empty.open_rate is None and empty.below(standards.Standards()) == []


def test_standards_default_until_set() -> None:
    assert standards.get_standards(ORG).model_dump(exclude={"org_id"}) == {
        "window_days": 90,
        "open_rate": 75,
        "attempt_rate": 75,
        "compliance_rate": 80,
        "updated_at": None,
        "updated_by": None,
        "version": 0,
    }
    standards.put_standards(ORG, standards.Standards(open_rate=60), ACTOR)
    assert standards.get_standards(ORG).open_rate == 60


# -- routing -------------------------------------------------------------------------------------------


def new_team(name: str, areas: list[str], **team_fields: Any) -> str:
    from common.teams import roster

    staff = Member(ORG, STAFF, "admin", frozenset())
    leader = roster.NewLeader(user_id=f"lead-{name}", phone=f"+1555100{len(name):04d}", display_name=name)
    created, _ = roster.create_team(ORG, staff, roster.NewTeam(name=name, leader=leader))
    routing.set_areas(ORG, created["team_id"], TeamAreas(areas=areas), ACTOR)
    if team_fields:
        sets = ", ".join(f"{k} = :{k}" for k in team_fields)
        db.update(
            team_key(ORG, created["team_id"]),
            expression=f"SET {sets}",
            values={f":{k}": v for k, v in team_fields.items()},
        )
    return str(created["team_id"])


def close_rate(team_id: str, value: str) -> None:
    db.put(
        {**routing.current_rates_key(ORG, team_id), "team_id": team_id, "close_rate": team_stats.storable(float(value))}
    )


def by_area(area: str) -> dict[str, Any]:
    new = NewReferralRequest.model_validate(
        {"area": area, "customer": {"first_name": "Jo", "last_name": "B"}, "summary": "2 beds"}
    )
    return referral_requests.create(ORG, new, STAFF)


def test_routing_offers_good_teams_by_close_rate_then_probation_never_paused() -> None:
    low, high = new_team("Low", ["Springfield"]), new_team("High", ["springfield", "Ogdenville"])
    new_team("Trial", ["Springfield"], standing="probation")
    new_team("Stopped", ["Springfield"], standing="paused")
    new_team("Owing", ["Springfield"], fee_pause_count=1)
    unrated = new_team("Unrated", ["Springfield"])
    close_rate(low, "20.5")
    close_rate(high, "60")
    order = [(c.team_id, c.standing, c.close_rate) for c in routing.candidates(ORG, "SPRINGFIELD")]
    assert [o[0] for o in order[:3]] == [high, low, unrated] and order[3][1] == "probation" and len(order) == 4
    request = by_area("Springfield")
    assert request["team_id"] == high and request["route"]["position"] == 0
    # Areas taken off a team stop routing to it.
    routing.set_areas(ORG, high, TeamAreas(areas=["Ogdenville"]), ACTOR)
    assert by_area("springfield")["team_id"] == low
    with pytest.raises(TeamNotOfferable):
        by_area("Nowhere")


def test_a_request_names_a_team_or_an_area_never_both() -> None:
    both = NewReferralRequest.model_validate(
        {
            "team_id": "01J000000000000000000000TM",
            "area": "X",
            "customer": {"first_name": "J", "last_name": "B"},
            "summary": "s",
        }
    )
    with pytest.raises(InvalidInput) as refused:
        referral_requests.create(ORG, both, STAFF)
    assert refused.value.errors[0].field == "body.area"
    neither = NewReferralRequest.model_validate({"customer": {"first_name": "J", "last_name": "B"}, "summary": "s"})
    with pytest.raises(InvalidInput) as refused:
        referral_requests.create(ORG, neither, STAFF)
    assert refused.value.errors[0].field == "body.team_id"


# -- the daily job -------------------------------------------------------------------------------------


def test_the_daily_job_samples_open_customers_and_flags_teams_below_standard(
    team: dict[str, Any], frozen_clock: Any
) -> None:
    request = create(team)
    referral_acceptance.accept(ORG, request["request_id"], AMY, via="dashboard")
    sent: list[dict[str, Any]] = []
    standards_sweep.hand_on(sent.append)
    jobs = {m["job"]: m for m in sent}
    assert jobs[standards_sweep.RATES_JOB]["teams"] == [team["team_id"]]
    done = standards_sweep.sample(jobs[standards_sweep.SAMPLE_JOB])
    assert (done.teams, done.sampled) == (1, 2)
    assert standards_sweep.sample(jobs[standards_sweep.SAMPLE_JOB]).sampled == 0  # once a day
    today = frozen_clock.moment.date().isoformat()
    assert day_counts(team["team_id"], today)["open_customers"] == 1
    assert day_counts(team["team_id"], today, AMY)["compliant_customers"] == 1

    # Offered but never opened: the next day's job flags the team, and clears the flag once it meets them.
    team_stats.add_counts(ORG, team["team_id"], today, {"offered": 4, "opened": 1, "attempted": 1})
    frozen_clock.advance(days=1)
    sent.clear()
    standards_sweep.hand_on(sent.append)
    rates = next(m for m in sent if m["job"] == standards_sweep.RATES_JOB)
    assert standards_sweep.rates(rates).flagged == 1
    flags, _ = standards_sweep.below_standard(ORG)
    assert [(f["team_id"], f["below_standard"]) for f in flags] == [(team["team_id"], ["open_rate"])]
    assert db.get(routing.current_rates_key(ORG, team["team_id"]))["close_rate"] == 0  # type: ignore[index]
    standards.put_standards(ORG, standards.Standards(open_rate=25), ACTOR)
    assert standards_sweep.rates(rates).cleared == 1
    assert standards_sweep.below_standard(ORG)[0] == []


def test_an_expired_request_for_an_area_is_offered_on_once(frozen_clock: Any) -> None:
    from common.teams import referral_expiry

    first, second = new_team("First", ["Springfield"]), new_team("Second", ["Springfield"])
    close_rate(first, "90")
    request = by_area("Springfield")
    assert request["team_id"] == first
    frozen_clock.advance(minutes=121)
    assert referral_expiry.expire(request)
    expired = db.get(referral_requests.referral_key(ORG, request["request_id"]), consistent=True)
    referral_expiry.on_change(request, expired)
    onward = db.get(referral_requests.referral_key(ORG, request["request_id"]), consistent=True)
    assert onward is not None and onward["rerouted_to"]
    successor = referral_requests.get(ORG, onward["rerouted_to"])
    assert (successor["team_id"], successor["route"]["position"], successor["rerouted_from"]) == (
        second,
        1,
        request["request_id"],
    )
    assert referral_requests.reroute(expired) is None  # a redelivery offers it on no further
    assert referral_requests.reroute({**successor, "status": "expired"}) is None  # the last candidate
