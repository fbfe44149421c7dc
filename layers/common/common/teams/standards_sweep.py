"""The daily standards job (issue 23), in the daily sweep: the sweep (`hand_on`) lists the organisations with
teams and each one's teams (its team listing, gsi1: small items), and hands on one sample message per
organisation and one rates message per page of TEAMS_PER_MESSAGE teams; the work function does them:

- sample (`sample`): the organisation's open customers (its due index, gsi3: only open customers are in
  it) counted per team and per assignee, open and updated within 7 days (not yet due), written as the day's
  sample on the team's and the member's day items (common.teams.team_stats; once per day and item);
- rates (`rates`): each team's rates over the window of complete days ending yesterday (at most
  `window_days` day items per team, never the offers), kept as the team's current rates (the close rate
  routing orders by), and the team flagged for staff when a rate is under the organisation's standards
  (the flag is removed once it no longer is). Standing is never changed here: staff decide.

    current rates   ORG#<org>#TEAM#<team>#STATS / CURRENT          entity "team_rates"
    flag            ORG#<org>#TEAMS_BELOW_STANDARD / TEAM#<team>   entity "team_below_standard"

Every write is a put of the day's figures or a conditional write, so a message delivered twice, or a second
sweep the same day, changes nothing more.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from common.platform import clock, db, listings
from common.platform.answers import Answer
from common.platform.sweep_counts import Counts, WorkCounts
from common.teams import team_stats
from common.teams.membership import teams_listing
from common.teams.reminders import due_customers
from common.teams.routing import current_rates_key
from common.teams.scorecard import RateName, Rates
from common.teams.standards import Standards, get_standards
from common.teams.standing import StandingValue, standing_of
from common.teams.team_model import orgs_with_teams, team_key

SAMPLE_JOB = "standards-sample"
RATES_JOB = "standards-rates"
TEAMS_PER_MESSAGE = 100


def flags_partition(org_id: str) -> str:
    return f"ORG#{org_id}#TEAMS_BELOW_STANDARD"


def flag_key(org_id: str, team_id: str) -> db.Key:
    return {"pk": flags_partition(org_id), "sk": f"TEAM#{team_id}"}


@dataclass
class StandardsCounts(Counts):
    orgs: int = 0  # organisations with teams
    teams: int = 0  # their teams
    items_read: int = 0  # items DynamoDB returned to the sweep's reads
    handed_on: int = 0  # messages handed on


@dataclass
class SampleCounts(WorkCounts):
    teams: int = 0  # teams with open customers
    sampled: int = 0  # day items given their sample now (not already sampled today)


@dataclass
class RatesCounts(WorkCounts):
    flagged: int = 0  # teams under a standard
    cleared: int = 0  # flags removed: the team meets the standards again


def hand_on(send: Callable[[dict[str, Any]], None], *, client: Any = None) -> StandardsCounts:
    counts = StandardsCounts()
    day = clock.now().date().isoformat()
    for page in orgs_with_teams(client=client):
        counts.items_read += len(page)
        for org_id in (str(i["org_id"]) for i in page):
            counts.orgs += 1
            send({"job": SAMPLE_JOB, "org_id": org_id, "day": day, "cutoff": clock.now_iso()})
            counts.handed_on += 1
            for team_ids in _team_pages(org_id, counts, client):
                send({"job": RATES_JOB, "org_id": org_id, "day": day, "teams": team_ids})
                counts.handed_on += 1
    return counts


def _team_pages(org_id: str, counts: StandardsCounts, client: Any) -> Iterator[list[str]]:
    for page in listings.index_pages(
        listings.IndexKey("gsi1", teams_listing(org_id)), limit=TEAMS_PER_MESSAGE, client=client
    ):
        counts.items_read += len(page)
        counts.teams += len(page)
        if page:
            yield [str(t["team_id"]) for t in page]


# -- the work ----------------------------------------------------------------------------------------


def sample(message: dict[str, Any], *, in_time: Callable[[], bool] = lambda: True, client: Any = None) -> SampleCounts:
    """The day's compliance sample of the organisation's teams and members with open customers."""
    org_id, day, cutoff = message["org_id"], message["day"], message["cutoff"]
    counts = SampleCounts()
    open_count: Counter[tuple[str, str | None]] = Counter()
    compliant: Counter[tuple[str, str | None]] = Counter()
    for page in due_customers(org_id, "~", client=client):  # every open customer ("~" sorts after any time)
        counts.items_read += len(page)
        for customer in page:
            on_time = str(customer.get("due_at") or "") > cutoff
            for who in ((customer["team_id"], None), (customer["team_id"], customer.get("assignee_id"))):
                open_count[who] += 1
                compliant[who] += on_time
    counts.due = len(open_count)
    counts.teams = sum(1 for _, user in open_count if user is None)
    # What an earlier delivery of the message sampled is skipped on one BatchGetItem per 100 day items, so a
    # message the time cut short continues where it stopped instead of trying every write again.
    pending = sorted(open_count, key=lambda who: (who[0], who[1] or ""))
    keys = [_day_key(org_id, team_id, day, user_id) for team_id, user_id in pending]
    sampled = {(i["pk"], i["sk"]) for i in db.batch_get(keys, consistent=True, client=client) if "sampled_at" in i}
    pending = [who for who, key in zip(pending, keys, strict=True) if (key["pk"], key["sk"]) not in sampled]
    for done, (team_id, user_id) in enumerate(pending):
        if not in_time():
            counts.left = len(pending) - done
            break
        counts.sampled += team_stats.write_sample(
            org_id, team_id, day, open_count[(team_id, user_id)], compliant[(team_id, user_id)], user_id, client=client
        )
    return counts


def _day_key(org_id: str, team_id: str, day: str, user_id: str | None) -> db.Key:
    if user_id:
        return team_stats.member_day_key(org_id, team_id, day, user_id)
    return team_stats.team_day_key(org_id, team_id, day)


def rates(message: dict[str, Any], *, in_time: Callable[[], bool] = lambda: True, client: Any = None) -> RatesCounts:
    """The named teams' rates over the window of complete days, kept as their current rates, and their flags
    for staff set or removed."""
    org_id = message["org_id"]
    standards = get_standards(org_id, client=client)
    last = date.fromisoformat(message["day"]) - timedelta(days=1)
    first = last - timedelta(days=standards.window_days - 1)
    team_ids = list(message["teams"])
    counts = RatesCounts(due=len(team_ids))
    keys = [k for t in team_ids for k in (team_key(org_id, t), flag_key(org_id, t))]
    found = db.batch_get(keys, client=client)
    counts.items_read += len(found)
    teams = {i["team_id"]: i for i in found if i["sk"] == "TEAM"}
    flagged = {i["team_id"] for i in found if i["pk"] == flags_partition(org_id)}
    for done, team_id in enumerate(team_ids):
        if not in_time():
            counts.left = len(team_ids) - done
            break
        team = teams.get(team_id)
        if team is None:
            continue
        days = team_stats.team_days(org_id, team_id, first.isoformat(), last.isoformat(), client=client)
        counts.items_read += len(days)
        team_rates = Rates.of_days(days)
        below = team_rates.below(standards)
        _keep_current(org_id, team_id, team_rates, message["day"], client=client)
        if below:
            _flag(org_id, team, team_rates, below, standards, message["day"], client=client)
            counts.flagged += 1
        elif team_id in flagged:
            db.delete(flag_key(org_id, team_id), client=client)
            counts.cleared += 1
    return counts


def _keep_current(org_id: str, team_id: str, team_rates: Rates, day: str, *, client: Any) -> None:
    db.put(
        {
            **current_rates_key(org_id, team_id),
            "entity": "team_rates",
            "org_id": org_id,
            "team_id": team_id,
            "day": day,
            **team_stats.storable(team_rates.model_dump(exclude_none=True)),
        },
        client=client,
    )


def _flag(
    org_id: str,
    team: db.Item,
    team_rates: Rates,
    below: list[RateName],
    standards: Standards,
    day: str,
    *,
    client: Any,
) -> None:
    db.put(
        {
            **flag_key(org_id, team["team_id"]),
            "entity": "team_below_standard",
            "org_id": org_id,
            "team_id": team["team_id"],
            "name": team.get("name"),
            "standing": standing_of(team).value,
            "below_standard": below,
            "day": day,
            "window_days": standards.window_days,
            "rates": team_stats.storable(team_rates.model_dump(exclude_none=True)),
            "flagged_at": clock.now_iso(),
        },
        client=client,
    )


# -- staff read the flags ----------------------------------------------------------------------------


class BelowStandardTeam(Answer):
    team_id: str
    name: str | None
    standing: StandingValue
    below_standard: list[RateName]
    day: str
    window_days: int
    rates: Rates


def below_standard(
    org_id: str, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[db.Item], str | None]:
    """The teams the last sweep found under a standard, by team id."""
    return listings.query(
        key_condition="pk = :pk", values={":pk": flags_partition(org_id)}, cursor=cursor, limit=limit, client=client
    )
