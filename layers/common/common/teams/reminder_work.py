"""The reminders and digests the daily sweep hands on (common.teams.reminders), sent by the sweep's work function.

A reminder message names up to REMINDERS_PER_MESSAGE customers of one organisation. `remind` reads them again
(a customer updated since the sweep is no longer due), their teams and the notices of that day, notes on each
customer still due that it is overdue (once per due date: team_customers.note_overdue), then reads the
assignees and their numbers' opt-outs, and texts each assignee (unless their number opted out) and e-mails
them where they have an address. A digest message names a team, how many of its customers are due and the
oldest of them; `digest` texts the leader the count and e-mails the list.

Every message is a notice named with the day (notices.done_once), in the team's partition: however often a
work message is delivered and however often the sweep runs in a day, an assignee hears about a customer at
most once per channel and a leader gets one digest per team. A message's notices are read with its
customers, so a redelivery or a second run sends nothing and writes nothing for what was sent. What could
not be sent now (Twilio or SES failing, or another delivery sending it right now) is counted `failed`, after
trying the rest: the work function reports the message failed, and its retry sends only what is not sent
yet. A text Twilio refuses for good (an invalid number) is recorded on its notice and not retried. Work of
an earlier day is dropped: that day's sweep has handed on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from common.platform import clock, db, notices, sms
from common.platform.email import send_email
from common.platform.observability import logger
from common.platform.sweep_counts import WorkCounts
from common.teams import team_customers
from common.teams.reminders import DIGEST_LINES
from common.teams.team_model import phone_key, team_customer_key, team_key, team_member_key, team_pk

# Notices of a day's messages are kept a little longer than the day they guard, then DynamoDB drops them.
NOTICE_KEPT_FOR = timedelta(days=3)
CHANNELS = ("text", "email")

InTime = Callable[[], bool]


@dataclass
class ReminderWorkCounts(WorkCounts):
    # `due`: the customers the message named (a digest's: the team's customers due); `left`: customers (or a
    # digest) not tried.
    reminded: int = 0  # customers whose assignee got a reminder now
    digests: int = 0  # leaders who got their digest now
    failed: int = 0  # messages not sent now (tried again with the work message)
    refused: int = 0  # texts Twilio refused for good (not tried again)
    stale: int = 0  # customers (or a digest) of an earlier day's work, dropped

    @property
    def unfinished(self) -> bool:
        return self.failed > 0 or self.left > 0


def _at(key: db.Key) -> tuple[str, str]:
    return key["pk"], key["sk"]


def _read(keys: list[db.Key], counts: ReminderWorkCounts, client: Any) -> dict[tuple[str, str], db.Item]:
    unique = list({_at(k): k for k in keys}.values())
    found = db.batch_get(unique, client=client) if unique else []
    counts.items_read += len(found)
    return {_at(i): i for i in found}


def _stale(day: str, counts: ReminderWorkCounts, named: int) -> bool:
    if day == clock.now().date().isoformat():
        return False
    counts.stale = named
    return True


def _still_due(customer: db.Item, cutoff: str) -> bool:
    return "gsi3pk" in customer and str(customer.get("due_at")) < cutoff


def _reminder_notice(day: str, customer_id: str, channel: str) -> str:
    return f"REMINDER#{day}#{customer_id}#{channel}"


def _digest_notice(day: str, channel: str) -> str:
    return f"DIGEST#{day}#{channel}"


def _done(found: dict[tuple[str, str], db.Item], owner: str, names: list[str]) -> set[str]:
    """Which of the notices `names` of `owner` were read done."""
    return {n for n in names if "done_at" in found.get(_at(notices.notice_key(owner, n)), {})}


def _opted_out(found: dict[tuple[str, str], db.Item], member: db.Item) -> bool:
    return bool(found.get(_at(phone_key(member["phone"])), {}).get("opted_out"))


def remind(message: dict[str, Any], *, in_time: InTime = lambda: True, client: Any = None) -> ReminderWorkCounts:
    """Remind the assignees of one message's customers that are still due, while `in_time()` says there is
    time for one more; the rest are counted `left`. Three batched reads: the customers, their teams and the
    day's notices; the assignees; their numbers."""
    named: list[tuple[str, str]] = [(team_id, customer_id) for team_id, customer_id in message["customers"]]
    counts = ReminderWorkCounts(due=len(named))
    org_id, day = message["org_id"], message["day"]
    if _stale(day, counts, len(named)):
        return counts
    names = {c: [_reminder_notice(day, c, channel) for channel in CHANNELS] for _, c in named}
    found = _read(
        [team_customer_key(org_id, t, c) for t, c in named]
        + [team_key(org_id, t) for t in dict.fromkeys(t for t, _ in named)]
        + [notices.notice_key(team_pk(org_id, t), n) for t, c in named for n in names[c]],
        counts,
        client,
    )
    customers = [
        customer
        for t, c in named
        if (customer := found.get(_at(team_customer_key(org_id, t, c)))) is not None
        and _still_due(customer, message["cutoff"])
    ]

    # Noted on the customer once per due date (what tells the stream it became overdue), before reminding.
    for customer in customers:
        team_customers.note_overdue(customer, client=client)

    def assignee_key(customer: db.Item) -> db.Key:
        return team_member_key(org_id, customer["team_id"], customer["assignee_id"])

    found |= _read([assignee_key(c) for c in customers], counts, client)
    members = [m for m in found.values() if m.get("entity") == "team_member"]
    found |= _read([phone_key(m["phone"]) for m in members], counts, client)
    for tried, customer in enumerate(customers):
        if not in_time():
            counts.left = len(customers) - tried
            break
        team = found.get(_at(team_key(org_id, customer["team_id"])))
        member = found.get(_at(assignee_key(customer)))
        if team is None or member is None:
            continue  # the leader's digest still lists the customer
        done = _done(found, team_pk(org_id, team["team_id"]), names[customer["customer_id"]])
        counts.reminded += _remind(team, customer, member, _opted_out(found, member), day, done, counts, client)
    return counts


def digest(message: dict[str, Any], *, in_time: InTime = lambda: True, client: Any = None) -> ReminderWorkCounts:
    """Send one team's leader the day's digest of the team's overdue customers. Three batched reads: the
    team, the customers listed and the day's notices; the leader and the assignees; the leader's number."""
    counts = ReminderWorkCounts(due=int(message["overdue"]))
    org_id, team_id, day = message["org_id"], message["team_id"], message["day"]
    if _stale(day, counts, 1):
        return counts
    owner = team_pk(org_id, team_id)
    names = [_digest_notice(day, channel) for channel in CHANNELS]
    listed = [team_customer_key(org_id, team_id, c) for c in message["customers"]]
    found = _read([team_key(org_id, team_id), *listed, *(notices.notice_key(owner, n) for n in names)], counts, client)
    team = found.get(_at(team_key(org_id, team_id)))
    if team is None:
        return counts
    customers = [c for key in listed if (c := found.get(_at(key))) is not None]
    due = [c for c in customers if _still_due(c, message["cutoff"])]
    # The count as the sweep read it, less the listed customers updated since.
    overdue = counts.due - (len(message["customers"]) - len(due))
    leader_key = team_member_key(org_id, team_id, team["leader_id"])
    assignees = [team_member_key(org_id, team_id, c["assignee_id"]) for c in due]
    found |= _read([leader_key, *assignees], counts, client)
    leader = found.get(_at(leader_key))
    if leader is None or overdue <= 0:
        return counts
    found |= _read([phone_key(leader["phone"])], counts, client)
    if not in_time():
        counts.left = 1
        return counts
    members = {m["user_id"]: m["display_name"] for key in assignees if (m := found.get(_at(key))) is not None}
    done = _done(found, owner, names)
    counts.digests += _digest(team, due, overdue, leader, _opted_out(found, leader), members, day, done, counts, client)
    return counts


def _text(phone: str, body: str) -> dict[str, Any]:
    """Send a text; a number Twilio refuses for good is the outcome, not a failure (it is not retried)."""
    try:
        return {"sid": sms.send_text(phone, body)}
    except sms.SmsRefused as refusal:
        return {"refused": str(refusal.code or refusal.status)}


def _send(
    team: db.Item,
    name: str,
    done: set[str],
    action: Callable[[], dict[str, Any]],
    counts: ReminderWorkCounts,
    client: Any,
) -> bool:
    """Send one message at most once (per its notice's name); whether it went out now. A failure (or
    another delivery sending it right now) is counted, logged by ids only, and left to the retry."""
    if name in done:
        return False
    try:
        sent = notices.done_once(
            team_pk(team["org_id"], team["team_id"]), name, action, keep_for=NOTICE_KEPT_FOR, client=client
        )
    except Exception as error:
        counts.failed += 1
        logger.warning(
            "team reminder not sent",
            extra={"org_id": team["org_id"], "team_id": team["team_id"], "notice": name, "error": type(error).__name__},
        )
        return False
    if sent.acted and "refused" in sent.outcome:
        counts.refused += 1
        logger.warning(
            "team reminder text refused",
            extra={
                "org_id": team["org_id"],
                "team_id": team["team_id"],
                "notice": name,
                "code": sent.outcome["refused"],
            },
        )
        return False
    return sent.acted


def _first_name(customer: db.Item) -> str:
    details = customer.get("customer") or {}
    return str(details.get("first_name") or "a customer")


def _full_name(customer: db.Item) -> str:
    details = customer.get("customer") or {}
    return " ".join(str(details[k]) for k in ("first_name", "last_name") if details.get(k)) or "a customer"


def _remind(
    team: db.Item,
    customer: db.Item,
    member: db.Item,
    opted_out: bool,
    day: str,
    done: set[str],
    counts: ReminderWorkCounts,
    client: Any,
) -> bool:
    """Remind the assignee of one customer due: by text and by e-mail, each once a day."""
    status = str(customer["status"]).replace("_", " ")
    since = str(customer["due_at"])[:10]
    customer_id = customer["customer_id"]
    text = (
        f"Reminder: please update {_first_name(customer)} ({status}) in the {team['name']} customer list; "
        f"the update was due {since}."
    )
    sent = False
    if not opted_out:
        phone = member["phone"]
        sent |= _send(
            team, _reminder_notice(day, customer_id, "text"), done, lambda: _text(phone, text), counts, client
        )
    if member.get("email"):
        subject = f"Customer update due: {_full_name(customer)}"
        body = (
            f"Hello {member['display_name']},\n\n"
            f'{_full_name(customer)} in the {team["name"]} customer list is at status "{status}" and was due '
            f"for an update on {since}. Customer list updates must be done at least every 7 days: please record "
            f"the customer's current status.\n"
        )
        email = member["email"]
        sent |= _send(
            team,
            _reminder_notice(day, customer_id, "email"),
            done,
            lambda: {"message_id": send_email([email], subject, body)},
            counts,
            client,
        )
    return sent


def _digest(
    team: db.Item,
    customers: list[db.Item],
    count: int,
    leader: db.Item,
    opted_out: bool,
    names: dict[str, str],
    day: str,
    done: set[str],
    counts: ReminderWorkCounts,
    client: Any,
) -> bool:
    """The leader's daily digest of the team's `count` overdue customers (`customers`: the oldest of them):
    by e-mail with the list, by text with the count, each once a day."""
    plural = "s" if count != 1 else ""
    sent = False
    if not opted_out:
        text = f"{team['name']}: {count} customer{plural} overdue for a status update. Please check the customer list."
        phone = leader["phone"]
        sent |= _send(team, _digest_notice(day, "text"), done, lambda: _text(phone, text), counts, client)
    if leader.get("email"):
        lines = [
            f"- {_full_name(c)}: {str(c['status']).replace('_', ' ')}, assigned to "
            f"{names.get(c['assignee_id'], c['assignee_id'])}, due {str(c['due_at'])[:10]}"
            for c in customers[:DIGEST_LINES]
        ]
        if count > len(lines):
            lines.append(f"... and {count - len(lines)} more")
        body = (
            f"Hello {leader['display_name']},\n\n{count} customer{plural} in the "
            f"{team['name']} customer list {'are' if count != 1 else 'is'} overdue for a status update "
            "(updates are due at least every 7 days):\n\n" + "\n".join(lines) + "\n"
        )
        email = leader["email"]
        subject = f"{team['name']}: {count} overdue customer{plural}"
        sent |= _send(
            team,
            _digest_notice(day, "email"),
            done,
            lambda: {"message_id": send_email([email], subject, body)},
            counts,
            client,
        )
    return sent
