"""The 7-day rule (seed 000: "Customer list updates must be done at least every 7 days").

Every open customer sits in its organisation's due index (gsi3 ORG#<org>#CUSTOMERS_DUE, sorted by the time
it falls due); closed and lost customers are not in it. The daily sweep lists the organisations that have
teams (TEAM_ORGS), reads each one's index up to now, and for each customer due texts the assignee (unless
their number opted out) and e-mails them where they have an address, then sends each team's leader one
digest of the team's overdue customers. Its reads grow with the customers due, not with all customers.

Every message is a notice named with the day (notices.once): however often the sweep runs in a day, a
customer's assignee hears about it at most once per channel and a leader gets one digest per team.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from pydantic import Field

from common.platform import clock, db, listings, notices, sms
from common.platform.answers import Answer, Timestamp
from common.platform.email import send_email
from common.platform.observability import logger
from common.teams.team_model import due_partition, orgs_with_teams, phone_key, team_key, team_member_key, team_pk

PAGE_SIZE = 100
# Notices of a day's messages are kept a little longer than the day they guard, then DynamoDB drops them.
NOTICE_KEPT_FOR = timedelta(days=3)
DIGEST_LINES = 50


@dataclass
class ReminderCounts:
    orgs: int = 0  # organisations with teams
    due: int = 0  # customers past their update date
    reminded: int = 0  # of those, whose assignee got a reminder from this run
    digests: int = 0  # teams whose leader got a digest from this run
    failed: int = 0  # messages that could not be sent (tried again by the next run)
    items_read: int = 0  # items DynamoDB returned to the sweep's reads

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _org_ids(counts: ReminderCounts, client: Any) -> Iterator[str]:
    for items in orgs_with_teams(client=client):
        counts.items_read += len(items)
        yield from (i["org_id"] for i in items)


def due_customers(org_id: str, cutoff: str, *, client: Any = None) -> Iterator[list[db.Item]]:
    """Pages of the organisation's open customers whose update date is before `cutoff`, oldest first."""
    yield from listings.index_pages(
        listings.IndexKey("gsi3", due_partition(org_id), sort_below=cutoff), limit=PAGE_SIZE, client=client
    )


def _read(keys: list[db.Key], counts: ReminderCounts, client: Any) -> dict[tuple[str, str], db.Item]:
    unique = list({(k["pk"], k["sk"]): k for k in keys}.values())
    found = db.batch_get(unique, client=client) if unique else []
    counts.items_read += len(found)
    return {(i["pk"], i["sk"]): i for i in found}


def _at(key: db.Key) -> tuple[str, str]:
    return key["pk"], key["sk"]


def sweep(*, client: Any = None) -> ReminderCounts:
    counts = ReminderCounts()
    now = clock.now()
    cutoff, day = clock.iso(now), now.date().isoformat()
    for org_id in _org_ids(counts, client):
        counts.orgs += 1
        due: list[db.Item] = []
        for page in due_customers(org_id, cutoff, client=client):
            counts.items_read += len(page)
            due += page
        if due:
            _remind_org(org_id, due, day, counts, client)
    return counts


def _remind_org(org_id: str, due: list[db.Item], day: str, counts: ReminderCounts, client: Any) -> None:
    """Three batched reads for the whole organisation (teams and assignees; leaders; phones), then the
    messages."""
    counts.due += len(due)
    by_team: dict[str, list[db.Item]] = defaultdict(list)
    for customer in due:
        by_team[customer["team_id"]].append(customer)
    found = _read(
        [team_key(org_id, t) for t in by_team] + [team_member_key(org_id, c["team_id"], c["assignee_id"]) for c in due],
        counts,
        client,
    )
    leader_keys = {
        t: team_member_key(org_id, t, team["leader_id"])
        for t in by_team
        if (team := found.get(_at(team_key(org_id, t)))) is not None
    }
    found |= _read([k for k in leader_keys.values() if _at(k) not in found], counts, client)
    members = [m for m in found.values() if m.get("entity") == "team_member"]
    found |= _read([phone_key(m["phone"]) for m in members], counts, client)

    def opted_out(member: db.Item) -> bool:
        return bool(found.get(_at(phone_key(member["phone"])), {}).get("opted_out"))

    for team_id, customers in by_team.items():
        team = found.get(_at(team_key(org_id, team_id)))
        if team is None:
            continue
        names: dict[str, str] = {}
        for customer in customers:
            member = found.get(_at(team_member_key(org_id, team_id, customer["assignee_id"])))
            if member is None:
                continue  # the leader's digest still lists the customer
            names[member["user_id"]] = member["display_name"]
            sent = _remind(team, customer, member, opted_out(member), day, counts, client)
            counts.reminded += sent
        leader = found.get(_at(leader_keys[team_id]))
        if leader is not None:
            counts.digests += _digest(team, customers, leader, opted_out(leader), names, day, counts, client)


def _once(team: db.Item, name: str, action: Callable[[], dict[str, Any]], counts: ReminderCounts, client: Any) -> bool:
    """Send one message at most once (per its name); a failure is counted, logged by ids only, and left to
    the next run."""
    owner = team_pk(team["org_id"], team["team_id"])
    try:
        ran = notices.done_once(owner, name, action, keep_for=NOTICE_KEPT_FOR, client=client).acted
    except notices.NoticeInProgress:
        return False  # another run is sending it right now
    except Exception as error:
        counts.failed += 1
        logger.warning(
            "team reminder not sent",
            extra={"org_id": team["org_id"], "team_id": team["team_id"], "notice": name, "error": type(error).__name__},
        )
        return False
    return ran


def _first_name(customer: db.Item) -> str:
    details = customer.get("customer") or {}
    return str(details.get("first_name") or "a customer")


def _full_name(customer: db.Item) -> str:
    details = customer.get("customer") or {}
    return " ".join(str(details[k]) for k in ("first_name", "last_name") if details.get(k)) or "a customer"


def _remind(
    team: db.Item, customer: db.Item, member: db.Item, opted_out: bool, day: str, counts: ReminderCounts, client: Any
) -> bool:
    """Remind the assignee of one customer due: by text and by e-mail, each once a day."""
    status = str(customer["status"]).replace("_", " ")
    since = str(customer["due_at"])[:10]
    name = f"REMINDER#{day}#{customer['customer_id']}"
    text = (
        f"Reminder: please update {_first_name(customer)} ({status}) in the {team['name']} customer list; "
        f"the update was due {since}."
    )
    sent = False
    if not opted_out:
        sent |= _once(team, f"{name}#text", lambda: {"sid": sms.send_text(member["phone"], text)}, counts, client)
    if member.get("email"):
        subject = f"Customer update due: {_full_name(customer)}"
        body = (
            f"Hello {member['display_name']},\n\n"
            f'{_full_name(customer)} in the {team["name"]} customer list is at status "{status}" and was due '
            f"for an update on {since}. Customer list updates must be done at least every 7 days: please record "
            f"the customer's current status.\n"
        )
        email = member["email"]
        sent |= _once(team, f"{name}#email", lambda: {"message_id": send_email([email], subject, body)}, counts, client)
    return sent


def _digest(
    team: db.Item,
    customers: list[db.Item],
    leader: db.Item,
    opted_out: bool,
    names: dict[str, str],
    day: str,
    counts: ReminderCounts,
    client: Any,
) -> bool:
    """The leader's daily digest of the team's overdue customers: by e-mail with the list, by text with
    the count, each once a day."""
    name = f"DIGEST#{day}"
    count = len(customers)
    sent = False
    if not opted_out:
        text = (
            f"{team['name']}: {count} customer{'s' if count != 1 else ''} overdue for a status update. "
            "Please check the customer list."
        )
        sent |= _once(team, f"{name}#text", lambda: {"sid": sms.send_text(leader["phone"], text)}, counts, client)
    if leader.get("email"):
        lines = [
            f"- {_full_name(c)}: {str(c['status']).replace('_', ' ')}, assigned to "
            f"{names.get(c['assignee_id'], c['assignee_id'])}, due {str(c['due_at'])[:10]}"
            for c in customers[:DIGEST_LINES]
        ]
        if count > DIGEST_LINES:
            lines.append(f"... and {count - DIGEST_LINES} more")
        body = (
            f"Hello {leader['display_name']},\n\n{count} customer{'s' if count != 1 else ''} in the "
            f"{team['name']} customer list {'are' if count != 1 else 'is'} overdue for a status update "
            "(updates are due at least every 7 days):\n\n" + "\n".join(lines) + "\n"
        )
        email = leader["email"]
        subject = f"{team['name']}: {count} overdue customer{'s' if count != 1 else ''}"
        sent |= _once(team, f"{name}#email", lambda: {"message_id": send_email([email], subject, body)}, counts, client)
    return sent


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
