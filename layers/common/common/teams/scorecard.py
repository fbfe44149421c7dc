"""A team's scorecard (issue 23): its rates and those of each member over the organisation's rolling window,
with the numbers that make each rate, set against the organisation's standards. Built from the day items
of common.teams.team_stats: one query of the team's days (at most one item a day) and one of its members'.

- open rate: opened / offered;
- attempted acceptance rate: attempted / opened;
- compliance rate: the daily samples' compliant customers / open customers, summed over the window (each
  day weighs what it sampled);
- close rate: closed / accepted (customers closed in the window against customers accepted in it).

A rate whose denominator is 0 is null and meets its standard: no offers is no evidence against a team.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import Field

from common.platform import clock
from common.platform.answers import Answer
from common.teams import team_stats
from common.teams.standards import Standards

RateName = Literal["open_rate", "attempt_rate", "compliance_rate"]


def rate(part: int, whole: int) -> float | None:
    """part / whole in %, one decimal; None when there is no whole."""
    return round(100 * part / whole, 1) if whole else None


class Rates(Answer):
    offered: int = Field(description="texts offering a request that went out")
    opened: int = Field(description="of those, opened by their member (the dashboard, or an attempt)")
    attempted: int = Field(description="of those, that their member tried to accept (won or not)")
    open_rate: float | None = Field(None, description="opened / offered, in %; null without offers")
    attempt_rate: float | None = Field(None, description="attempted / opened, in %; null without opens")
    sampled_days: int = Field(description="days the daily sweep sampled the open customers")
    open_customers: int = Field(description="open customers, summed over the sampled days")
    compliant_customers: int = Field(description="of those, updated within 7 days, summed over the sampled days")
    compliance_rate: float | None = Field(None, description="compliant / open customers, in %; null without any")
    accepted: int = Field(description="customers accepted (a member: assigned to them on acceptance)")
    closed: int = Field(description="customers moved to closed (a member: theirs)")
    close_rate: float | None = Field(None, description="closed / accepted, in %; null without acceptances")

    @classmethod
    def of_days(cls, days: Iterable[Mapping[str, Any]]) -> Rates:
        totals = dict.fromkeys((*team_stats.COUNTERS, *team_stats.SAMPLES), 0)
        sampled = 0
        for day in days:
            for name in totals:
                totals[name] += int(day.get(name) or 0)
            sampled += "sampled_at" in day
        return cls(
            **totals,
            open_rate=rate(totals["opened"], totals["offered"]),
            attempt_rate=rate(totals["attempted"], totals["opened"]),
            sampled_days=sampled,
            compliance_rate=rate(totals["compliant_customers"], totals["open_customers"]),
            close_rate=rate(totals["closed"], totals["accepted"]),
        )

    def below(self, standards: Standards) -> list[RateName]:
        """The rates under the standards (a null rate is not)."""
        short: list[RateName] = []
        for name in ("open_rate", "attempt_rate", "compliance_rate"):
            value = getattr(self, name)
            if value is not None and value < getattr(standards, name):
                short.append(name)
        return short


class MemberRates(Rates):
    user_id: str


class Scorecard(Answer):
    org_id: str
    team_id: str
    first_day: str = Field(description="the window's first day (UTC), inclusive")
    last_day: str = Field(description="the window's last day (UTC): today")
    standards: Standards = Field(description="the organisation's standards the rates are set against")
    team: Rates
    below_standard: list[RateName] = Field(description="the team's rates under the standards")
    members: list[MemberRates] = Field(description="each member with something counted in the window, by user id")


def window(standards: Standards, today: date | None = None) -> tuple[str, str]:
    """The window's first and last days: the last `window_days` days up to today."""
    last = today or clock.now().date()
    return (last - timedelta(days=standards.window_days - 1)).isoformat(), last.isoformat()


def team_rates(org_id: str, team_id: str, standards: Standards, *, client: Any = None) -> Rates:
    """The team's rates only (the sweep's read: at most `window_days` items)."""
    first, last = window(standards)
    return Rates.of_days(team_stats.team_days(org_id, team_id, first, last, client=client))


def scorecard(org_id: str, team_id: str, standards: Standards, *, client: Any = None) -> Scorecard:
    first, last = window(standards)
    team = Rates.of_days(team_stats.team_days(org_id, team_id, first, last, client=client))
    per_member: dict[str, list[Mapping[str, Any]]] = {}
    for item in team_stats.member_days(org_id, team_id, first, last, client=client):
        per_member.setdefault(str(item["user_id"]), []).append(item)
    members = [
        MemberRates(user_id=user_id, **Rates.of_days(days).model_dump()) for user_id, days in sorted(per_member.items())
    ]
    return Scorecard(
        org_id=org_id,
        team_id=team_id,
        first_day=first,
        last_day=last,
        standards=Standards(**standards.model_dump(include=set(Standards.model_fields))),
        team=team,
        below_standard=team.below(standards),
        members=members,
    )
