"""Routing referrals by area (issue 23): staff name the areas a team serves, and a referral request made for
an area instead of a team goes to the best team serving it: those in good standing first, by close rate,
then those on probation, by close rate; paused, removed or fee-paused teams never.

    team        ORG#<org>#TEAM#<team> / TEAM                 areas: up to MAX_AREAS names, as staff wrote them
    area link   ORG#<org>#AREA#<area casefolded> / TEAM#<team>   entity "team_area": a team serving the area
    standings   ORG#<org>#TEAM#<team>#STATS / CURRENT        entity "team_rates": the team's rates as the
                                                             daily sweep last computed them (close_rate, ...)

The team's areas and its area links change in one transaction, conditioned on the team's version. Routing
reads the area's links (one query) and their teams and rates (one BatchGetItem): its cost grows with the
teams serving the area, never with the offers. The close rate it orders by is the daily sweep's (a team
without one yet comes last in its group).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from common.platform import clock, db, listings
from common.platform.answers import Answer
from common.platform.errors import Conflict, DomainError, NotFound
from common.platform.validation import SINGLE_LINE
from common.teams import standing
from common.teams.standing import StandingValue
from common.teams.team_model import team_key
from common.teams.team_stats import stats_pk

MAX_AREAS = 20
# The teams a request keeps in its route, in the order they were to be offered.
ROUTE_CANDIDATES = 20
AreaName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), SINGLE_LINE]


def area_partition(org_id: str, area: str) -> str:
    return f"ORG#{org_id}#AREA#{area.casefold()}"


def area_link_key(org_id: str, area: str, team_id: str) -> db.Key:
    return {"pk": area_partition(org_id, area), "sk": f"TEAM#{team_id}"}


def current_rates_key(org_id: str, team_id: str) -> db.Key:
    return {"pk": stats_pk(org_id, team_id), "sk": "CURRENT"}


class TeamAreas(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"areas": ["Springfield", "Shelbyville"]}]}
    )
    areas: list[AreaName] = Field(max_length=MAX_AREAS, description="the areas the team serves (compared casefolded)")

    @field_validator("areas")
    @classmethod
    def _distinct(cls, areas: list[str]) -> list[str]:
        seen: set[str] = set()
        distinct = []
        for area in areas:
            if area.casefold() not in seen:
                seen.add(area.casefold())
                distinct.append(area)
        return distinct


def set_areas(org_id: str, team_id: str, change: TeamAreas, actor: str, *, client: Any = None) -> db.Item:
    """Replace the team's areas: the team and the area links added and removed, one transaction held to the
    team's version as read. Returns the team as written."""
    team = db.get(team_key(org_id, team_id), consistent=True, client=client)
    if team is None:
        raise NotFound(f"team {team_id} not found")
    before = {a.casefold(): a for a in team.get("areas") or []}
    after = {a.casefold(): a for a in change.areas}
    at = clock.now_iso()
    actions = [
        db.tx_update(
            team_key(org_id, team_id),
            expression="SET areas = :areas, updated_at = :at, updated_by = :by ADD version :one",
            condition="version = :version",
            values={":areas": change.areas, ":at": at, ":by": actor, ":one": 1, ":version": team["version"]},
        ),
        *(db.tx_delete(area_link_key(org_id, a, team_id)) for a in before if a not in after),
        *(
            db.tx_put(
                {
                    **area_link_key(org_id, name, team_id),
                    "entity": "team_area",
                    "org_id": org_id,
                    "team_id": team_id,
                    "area": name,
                    "added_at": at,
                }
            )
            for key, name in after.items()
            if key not in before or before[key] != name
        ),
    ]

    def refusal(failed: list[db.Item | None]) -> DomainError:
        return Conflict(f"team {team_id} changed meanwhile; retry", conflicting_ids=[team_id])

    db.transact(actions, on_cancel=refusal, client=client)
    return {**team, "areas": change.areas, "updated_at": at, "version": team["version"] + 1}


# -- routing ---------------------------------------------------------------------------------------


class Candidate(Answer):
    team_id: str
    standing: StandingValue
    close_rate: float | None = Field(description="as the daily sweep last computed it; null before its first")


class Route(Answer):
    """How a request made for an area chose its team."""

    area: str
    candidates: list[Candidate] = Field(
        description="the offerable teams serving the area when the request was made, in the order they are "
        "offered: good standing first, then probation, each by close rate"
    )
    position: int = Field(description="the candidate the request is offered to (0: the first)")


def _order(candidate: Candidate) -> tuple[int, float, str]:
    group = 0 if candidate.standing == StandingValue.GOOD else 1
    return group, -(candidate.close_rate if candidate.close_rate is not None else -1.0), candidate.team_id


def candidates(org_id: str, area: str, *, client: Any = None) -> list[Candidate]:
    """The offerable teams serving the area, in the order they are offered."""
    team_ids: list[str] = []
    for page in listings.pages(key_condition="pk = :pk", values={":pk": area_partition(org_id, area)}, client=client):
        team_ids += [str(link["team_id"]) for link in page]
    if not team_ids:
        return []
    keys = [k for t in team_ids for k in (team_key(org_id, t), current_rates_key(org_id, t))]
    found = db.batch_get(keys, consistent=True, client=client)
    teams = {i["team_id"]: i for i in found if i["sk"] == "TEAM"}
    rates = {i["team_id"]: i for i in found if i["sk"] == "CURRENT"}
    chosen = [
        Candidate(
            team_id=team_id,
            standing=standing.standing_of(team),
            close_rate=_close_rate(rates.get(team_id)),
        )
        for team_id, team in teams.items()
        if standing.offerable(team) and area.casefold() in {a.casefold() for a in team.get("areas") or []}
    ]
    return sorted(chosen, key=_order)[:ROUTE_CANDIDATES]


def _close_rate(rates: Mapping[str, Any] | None) -> float | None:
    value = (rates or {}).get("close_rate")
    return float(value) if value is not None else None
