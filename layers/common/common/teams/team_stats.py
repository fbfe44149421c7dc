"""The counts a team's scorecard is made of (issue 23): per day, per team and per member, written by the
command that causes them, so a scorecard reads a window of small day items and never the offers.

    team day     ORG#<org>#TEAM#<team>#STATS / TEAM#<yyyy-mm-dd>            entity "team_stats_day"
    member day   ORG#<org>#TEAM#<team>#STATS / MEMBER#<yyyy-mm-dd>#<user>   entity "team_stats_day"

Counters (ADD, absent = 0):
- offered, opened, attempted: texts that went out (not those Twilio refused), the offers opened by their
  member, the offers their member tried to accept. All three count on the day the request was made, so an
  open or an attempt days later still pairs with its offer in the same window.
- accepted: customers the team accepted (the assignee's for a member), on the day of the acceptance, in the
  acceptance's own transaction.
- closed: customers moved to closed (the assignee's), on the day of the closing.
- open_customers, compliant_customers: the daily sweep's sample of the open customers and of those updated
  within 7 days (written once per day and item: `sampled_at`).

Each offer records its open and attempt once (`opened_at`, `attempted_at`: conditional writes in one
transaction with the counters), so a member reading a request twice or replying YES twice counts once. An
attempt is an open too (a member who replies YES read the offer). Day items expire (TTL) after KEEP, beyond
the longest window an organisation may set.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from common.platform import clock, db, listings
from common.platform.errors import Conflict, DomainError
from common.platform.table_schema import TTL_ATTRIBUTE
from common.teams.team_model import offer_key, team_pk

# Longer than the longest standards window (common.teams.standards.MAX_WINDOW_DAYS) plus a margin.
KEEP = timedelta(days=400)
COUNTERS = ("offered", "opened", "attempted", "accepted", "closed")
SAMPLES = ("open_customers", "compliant_customers")
ENTITY = "team_stats_day"


def stats_pk(org_id: str, team_id: str) -> str:
    return f"{team_pk(org_id, team_id)}#STATS"


def team_day_key(org_id: str, team_id: str, day: str) -> db.Key:
    return {"pk": stats_pk(org_id, team_id), "sk": f"TEAM#{day}"}


def member_day_key(org_id: str, team_id: str, day: str, user_id: str) -> db.Key:
    return {"pk": stats_pk(org_id, team_id), "sk": f"MEMBER#{day}#{user_id}"}


def storable(value: Any) -> Any:
    """`value` with its floats (the rates) as Decimals, which DynamoDB's serializer takes."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, list):
        return [storable(v) for v in value]
    if isinstance(value, dict):
        return {k: storable(v) for k, v in value.items()}
    return value


def today() -> str:
    return clock.now().date().isoformat()


def day_of(timestamp: str) -> str:
    """The UTC day of one of our ISO timestamps."""
    return timestamp[:10]


def _expires(day: str) -> int:
    start = datetime.combine(date.fromisoformat(day), time(), tzinfo=clock.now().tzinfo)
    return int((start + KEEP).timestamp())


def _day_update(
    key: db.Key, org_id: str, team_id: str, day: str, counts: Mapping[str, int], user_id: str | None
) -> dict[str, Any]:
    names = {f"#c{n}": name for n, name in enumerate(counts)}
    values: dict[str, Any] = {f":c{n}": value for n, value in enumerate(counts.values())}
    values |= {":entity": ENTITY, ":org": org_id, ":team": team_id, ":day": day, ":ttl": _expires(day)}
    sets = f"entity = :entity, org_id = :org, team_id = :team, #day = :day, {TTL_ATTRIBUTE} = :ttl"
    names["#day"] = "day"
    if user_id is not None:
        sets += ", user_id = :user"
        values[":user"] = user_id
    adds = ", ".join(f"#c{n} :c{n}" for n in range(len(counts)))
    return db.tx_update(key, expression=f"SET {sets} ADD {adds}", names=names, values=values)


def count_actions(
    org_id: str, team_id: str, day: str, counts: Mapping[str, int], user_id: str | None = None
) -> list[dict[str, Any]]:
    """Transaction items adding `counts` to the team's day, and to the member's day when `user_id` is given."""
    actions = [_day_update(team_day_key(org_id, team_id, day), org_id, team_id, day, counts, None)]
    if user_id is not None:
        actions.append(
            _day_update(member_day_key(org_id, team_id, day, user_id), org_id, team_id, day, counts, user_id)
        )
    return actions


def add_counts(
    org_id: str, team_id: str, day: str, counts: Mapping[str, int], user_id: str | None = None, *, client: Any = None
) -> None:
    db.transact(
        count_actions(org_id, team_id, day, counts, user_id),
        on_cancel=lambda failed: Conflict("counts not added"),
        client=client,
    )


# -- opens and attempts ----------------------------------------------------------------------------


def _mark(request: Mapping[str, Any], user_id: str, attribute: str, counts: Mapping[str, int], *, client: Any) -> bool:
    """Set the offer's `attribute` once (the offer went out as a text and has no such mark yet) and add
    `counts` in the same transaction. Returns whether this call did."""
    org_id, request_id, team_id = request["org_id"], request["request_id"], request["team_id"]
    mark = db.tx_update(
        offer_key(org_id, request_id, user_id),
        expression=f"SET {attribute} = :now",
        condition=f"attribute_exists(message_sid) AND attribute_not_exists({attribute})",
        values={":now": clock.now_iso()},
    )
    day = day_of(request["created_at"])

    def refusal(failed: list[db.Item | None]) -> DomainError:
        return Conflict("not offered, or marked already")

    try:
        db.transact([mark, *count_actions(org_id, team_id, day, counts, user_id)], on_cancel=refusal, client=client)
    except Conflict:
        return False
    return True


def mark_opened(request: Mapping[str, Any], user_id: str, *, client: Any = None) -> bool:
    """The member opened the request offered to them (the first time only)."""
    return _mark(request, user_id, "opened_at", {"opened": 1}, client=client)


def record_attempt(request: Mapping[str, Any], user_id: str, *, client: Any = None) -> bool:
    """The member tried to accept the request offered to them (won, lost the race or too late): marked once,
    and an open if it was not one yet."""
    mark_opened(request, user_id, client=client)
    return _mark(request, user_id, "attempted_at", {"attempted": 1}, client=client)


# -- the daily compliance sample -------------------------------------------------------------------


def write_sample(
    org_id: str,
    team_id: str,
    day: str,
    open_customers: int,
    compliant: int,
    user_id: str | None = None,
    *,
    client: Any = None,
) -> bool:
    """The day's sample of the team's (or the member's) open customers and those updated within 7 days:
    written once per day and item (a second sweep the same day changes nothing). Returns whether it was."""
    key = member_day_key(org_id, team_id, day, user_id) if user_id else team_day_key(org_id, team_id, day)
    values: dict[str, Any] = {
        ":entity": ENTITY,
        ":org": org_id,
        ":team": team_id,
        ":day": day,
        ":ttl": _expires(day),
        ":open": open_customers,
        ":compliant": compliant,
        ":at": clock.now_iso(),
    }
    sets = (
        f"entity = :entity, org_id = :org, team_id = :team, #day = :day, {TTL_ATTRIBUTE} = :ttl, "
        "open_customers = :open, compliant_customers = :compliant, sampled_at = :at"
    )
    if user_id:
        sets += ", user_id = :user"
        values[":user"] = user_id
    try:
        db.update(
            key,
            expression=f"SET {sets}",
            condition="attribute_not_exists(sampled_at)",
            names={"#day": "day"},
            values=values,
            on_conflict=Conflict("sampled already"),
            client=client,
        )
    except Conflict:
        return False
    return True


# -- reads -----------------------------------------------------------------------------------------


def _between(org_id: str, team_id: str, first: str, last: str, *, client: Any) -> list[db.Item]:
    items: list[db.Item] = []
    for page in listings.pages(
        key_condition="pk = :pk AND sk BETWEEN :first AND :last",
        values={":pk": stats_pk(org_id, team_id), ":first": first, ":last": last},
        client=client,
    ):
        items += page
    return items


def team_days(org_id: str, team_id: str, first_day: str, last_day: str, *, client: Any = None) -> list[db.Item]:
    """The team's day items from `first_day` to `last_day` (inclusive): at most one per day."""
    return _between(org_id, team_id, f"TEAM#{first_day}", f"TEAM#{last_day}", client=client)


def member_days(org_id: str, team_id: str, first_day: str, last_day: str, *, client: Any = None) -> list[db.Item]:
    """The members' day items over the days: one per member and day with something counted."""
    return _between(org_id, team_id, f"MEMBER#{first_day}", f"MEMBER#{last_day}#~", client=client)
