"""The 7-day rule (seed 000: "Customer list updates must be done at least every 7 days").

Every open customer sits in its organisation's due index (gsi3 ORG#<org>#CUSTOMERS_DUE, sorted by the time
it falls due); closed and lost customers are not in it. The daily sweep lists the organisations that have
teams (TEAM_ORGS), reads each one's index up to now, and hands the work on (`hand_on`): one message per
REMINDERS_PER_MESSAGE customers due (their assignees are to be reminded), and one per team with customers
due (its leader's digest: how many, and the oldest DIGEST_LINES). Its reads grow with the customers due,
not with all customers. common.teams.reminder_work sends them, each message once a day (notices).

Staff see the same index as the teams with overdue customers (`overdue_teams`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from common.platform import clock, db, listings
from common.platform.answers import Answer, Timestamp
from common.platform.sweep_counts import Counts
from common.teams.team_model import due_partition, orgs_with_teams, team_key

PAGE_SIZE = 100
# Reminders per message handed on: a message is sent within a fraction of the work function's timeout.
REMINDERS_PER_MESSAGE = 25
# Customers a leader's digest lists by name (the oldest due); it counts all of them.
DIGEST_LINES = 50
# The work messages' "job"s.
REMIND_JOB = "remind"
DIGEST_JOB = "digest"


@dataclass
class ReminderCounts(Counts):
    orgs: int = 0  # organisations with teams
    due: int = 0  # customers past their update date
    teams: int = 0  # teams with customers due (each leader gets a digest)
    items_read: int = 0  # items DynamoDB returned to the sweep's reads
    handed_on: int = 0  # messages handed on (pages of reminders, and digests)


@dataclass
class _TeamDue:
    count: int = 0
    oldest: list[str] = field(default_factory=list)  # customer ids, oldest due first


def _org_ids(counts: ReminderCounts, client: Any) -> Iterator[str]:
    for items in orgs_with_teams(client=client):
        counts.items_read += len(items)
        yield from (i["org_id"] for i in items)


def due_customers(org_id: str, cutoff: str, *, client: Any = None) -> Iterator[list[db.Item]]:
    """Pages of the organisation's open customers whose update date is before `cutoff`, oldest first."""
    yield from listings.index_pages(
        listings.IndexKey("gsi3", due_partition(org_id), sort_below=cutoff), limit=PAGE_SIZE, client=client
    )


def hand_on(send: Callable[[dict[str, Any]], None], *, client: Any = None) -> ReminderCounts:
    """Read every organisation's customers due and `send` their reminders, REMINDERS_PER_MESSAGE to a message,
    then one digest message per team with customers due. The messages name the day: its reminders go out
    once that day, and a message delivered on a later day is dropped (that day's sweep has its own)."""
    counts = ReminderCounts()
    now = clock.now()
    cutoff, day = clock.iso(now), now.date().isoformat()
    for org_id in _org_ids(counts, client):
        counts.orgs += 1
        teams: dict[str, _TeamDue] = {}
        for page in due_customers(org_id, cutoff, client=client):
            counts.items_read += len(page)
            counts.due += len(page)
            for customer in page:
                team = teams.setdefault(customer["team_id"], _TeamDue())
                team.count += 1
                if len(team.oldest) < DIGEST_LINES:
                    team.oldest.append(customer["customer_id"])
            for first in range(0, len(page), REMINDERS_PER_MESSAGE):
                customers = [[c["team_id"], c["customer_id"]] for c in page[first : first + REMINDERS_PER_MESSAGE]]
                send({"job": REMIND_JOB, "org_id": org_id, "day": day, "cutoff": cutoff, "customers": customers})
                counts.handed_on += 1
        for team_id, team in teams.items():
            send(
                {
                    "job": DIGEST_JOB,
                    "org_id": org_id,
                    "team_id": team_id,
                    "day": day,
                    "cutoff": cutoff,
                    "overdue": team.count,
                    "customers": team.oldest,
                }
            )
            counts.handed_on += 1
        counts.teams += len(teams)
    return counts


# -- staff: teams with overdue customers ------------------------------------------------------------


class OverdueTeam(Answer):
    team_id: str
    name: str | None = Field(description="null if the team was removed meanwhile")
    leader_id: str | None
    overdue: int = Field(description="customers past their update date")
    oldest_due_at: Timestamp


class OverdueTeams(Answer):
    items: list[OverdueTeam] = Field(description="most overdue first")
    as_of: Timestamp


def overdue_teams(org_id: str, *, client: Any = None) -> OverdueTeams:
    """Teams with customers past their update date, with the count and the oldest due date, most overdue
    first: one query of the organisation's due index (pages of it) and one read of those teams."""
    now = clock.now_iso()
    grouped: dict[str, dict[str, Any]] = {}
    for page in due_customers(org_id, now, client=client):
        for customer in page:  # oldest first: the first of a team is its oldest
            entry = grouped.setdefault(
                customer["team_id"], {"team_id": customer["team_id"], "overdue": 0, "oldest_due_at": customer["due_at"]}
            )
            entry["overdue"] += 1
    found = db.batch_get([team_key(org_id, t) for t in grouped], client=client) if grouped else []
    teams = {t["team_id"]: t for t in found}
    items = [
        OverdueTeam.of(entry, name=teams.get(t, {}).get("name"), leader_id=teams.get(t, {}).get("leader_id"))
        for t, entry in grouped.items()
    ]
    items.sort(key=lambda e: (e.oldest_due_at, e.team_id))
    return OverdueTeams(items=items, as_of=now)
