"""A partner team's standing (issue 23): good, probation, paused or removed, set by staff with a reason and
kept in a bounded history on the team item; and what standing allows.

    team            ORG#<org>#TEAM#<team> / TEAM     standing (absent: good), standing_reason,
                                                     standing_changed_at, standing_changed_by,
                                                     standing_history (the newest entries),
                                                     fee_pause_count (the fees' pause: absent means 0)
    history page    ORG#<org>#TEAM#<team> / STANDING_HISTORY#<first>   older entries (common.platform.history)

Staff set it; nothing sets it by itself (the daily sweep only flags teams below standard, see
common.teams.standards_sweep). The fees part pauses a team for new referrals on its own counter
(`fee_pause_count`, more than 45 days overdue): it never writes `standing`, and `offerable` reads both.
- good, probation: offered referrals (routing by area offers good teams first);
- paused: offered none, still works its customers and may accept what was offered before;
- removed: offered none and its members accept nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from common.platform import clock, db, history
from common.platform.answers import Answer, Timestamp
from common.platform.errors import Conflict, NotFound
from common.platform.validation import MULTI_LINE
from common.teams.team_model import team_key


class StandingValue(StrEnum):
    GOOD = "good"
    PROBATION = "probation"
    PAUSED = "paused"
    REMOVED = "removed"


OFFERABLE_STANDINGS = frozenset({StandingValue.GOOD, StandingValue.PROBATION})
# Short entries (a reason of at most 1000 characters): 20 of them stay far below DynamoDB's 400 KB.
HISTORY = history.Bound("standing_history", limit=20, keep=10, pages_at=lambda team: (team["pk"], "STANDING_HISTORY#"))
FEE_PAUSE_COUNT = "fee_pause_count"

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000), MULTI_LINE]


class TeamNotOfferable(Conflict):
    code = "team-not-offerable"
    title = "The team is offered no referrals"


class TeamRemoved(Conflict):
    code = "team-removed"
    title = "The team was removed from the programme"


def standing_of(team: Mapping[str, Any]) -> StandingValue:
    return StandingValue(team.get("standing") or StandingValue.GOOD)


def fee_paused(team: Mapping[str, Any]) -> bool:
    return int(team.get(FEE_PAUSE_COUNT) or 0) > 0


def why_not_offerable(team: Mapping[str, Any]) -> str | None:
    """Why the team may be offered no new referral (None: it may): its standing, or its overdue fees."""
    standing = standing_of(team)
    if standing not in OFFERABLE_STANDINGS:
        return f"standing is {standing.value}"
    if fee_paused(team):
        return "paused for fees more than 45 days overdue"
    return None


def offerable(team: Mapping[str, Any]) -> bool:
    """Good or on probation, and not paused for overdue fees."""
    return why_not_offerable(team) is None


def may_accept(team: Mapping[str, Any]) -> bool:
    """A removed team's members accept nothing; a paused team may still take what it was offered."""
    return standing_of(team) != StandingValue.REMOVED


def refuse_unless_offerable(team: Mapping[str, Any]) -> None:
    reason = why_not_offerable(team)
    if reason is not None:
        raise TeamNotOfferable(
            f"team {team['team_id']} is offered no referrals: {reason}", conflicting_ids=[team["team_id"]]
        )


def offerable_condition() -> tuple[str, dict[str, Any]]:
    """A condition on the team item holding a write to the team being offerable (for a transaction's check)."""
    return (
        "attribute_exists(pk) AND (attribute_not_exists(standing) OR standing IN (:st_good, :st_probation)) "
        f"AND (attribute_not_exists({FEE_PAUSE_COUNT}) OR {FEE_PAUSE_COUNT} <= :st_zero)",
        {":st_good": StandingValue.GOOD.value, ":st_probation": StandingValue.PROBATION.value, ":st_zero": 0},
    )


# -- staff set it ----------------------------------------------------------------------------------


class StandingChange(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"standing": "probation", "reason": "Open rate 52% over 90 days"}]},
    )
    standing: StandingValue
    reason: Reason = Field(description="why: kept in the team's standing history")


class StandingEntry(Answer):
    at: Timestamp
    by: str = Field(description="user:<id>")
    standing: StandingValue
    previous: StandingValue
    reason: str


def set_standing(org_id: str, team_id: str, change: StandingChange, actor: str, *, client: Any = None) -> db.Item:
    """Record the team's standing with its reason (one UpdateItem, with a page of the history when full);
    the same standing again is recorded too (a new reason). Returns the team as written."""
    team = db.get(team_key(org_id, team_id), consistent=True, client=client)
    if team is None:
        raise NotFound(f"team {team_id} not found")
    at = clock.now_iso()
    entry = {
        "at": at,
        "by": actor,
        "standing": change.standing.value,
        "previous": standing_of(team).value,
        "reason": change.reason,
    }

    values = {":standing": change.standing.value, ":reason": change.reason, ":at": at, ":by": actor, ":one": 1}
    sets = (
        "standing = :standing, standing_reason = :reason, standing_changed_at = :at, standing_changed_by = :by, "
        "updated_at = :at"
    )
    if HISTORY.attribute not in team:  # the first change starts the history (the team was made without one)
        return db.update(
            team_key(org_id, team_id),
            expression=f"SET {sets}, {HISTORY.attribute} = :entries ADD version :one",
            condition=f"attribute_exists(pk) AND attribute_not_exists({HISTORY.attribute})",
            values={**values, ":entries": [entry]},
            on_conflict=Conflict(f"the standing of team {team_id} changed meanwhile; retry"),
            client=client,
        )

    def write(addition: history.Addition) -> db.Item:
        return history.update(
            team_key(org_id, team_id),
            addition,
            expression=f"SET {sets}, {addition.expression} ADD version :one",
            condition=f"attribute_exists(pk) AND {addition.condition}",
            values=values,
            on_conflict=NotFound(f"team {team_id} not found"),
            client=client,
        )

    return history.attempt(history.Addition(HISTORY, [entry], team), write)


def standing_history(
    org_id: str, team_id: str, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[dict[str, Any]], str | None]:
    """The team's whole standing history, newest first."""
    team = db.get(team_key(org_id, team_id), consistent=True, client=client)
    if team is None:
        raise NotFound(f"team {team_id} not found")
    return history.listing(HISTORY, team, cursor=cursor, limit=limit, client=client)
