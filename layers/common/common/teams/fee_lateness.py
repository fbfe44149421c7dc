"""Late referral fees in the daily sweep: reminders to the team's leader, late fees, and the pause.

The sweep (`hand_on`) reads each organisation's FEES_DUE index (gsi3: a fee is in it while it is open and
owes, sorted by the next moment it needs the sweep) up to now, and hands each page on to its work queue as
one FEE_JOB message, so its reads grow with the fees needing work, not with all fees. The work (`work`)
reads the message's fees again (a fee paid meanwhile is out) and for each still due:
- reminds the leader (text and e-mail) of the latest reminder day passed that was not sent, once: a notice
  per fee, reminder and channel in the team's fees partition; then counts the reminder on the fee;
- charges each late fee due (`late_fee_bps` of the outstanding amount at `late_fee_every_days` overdue and
  every as many after): one ledger transaction per period with a guard item LATE#<fee>#<period> put
  `attribute_not_exists`, so however many sweeps run (and deliveries repeat) a period is charged once;
- once the fee is more than `pause_after_days` overdue: marks it `pause_counted` and adds 1 to the team's
  `fee_pause_count` in one transaction conditioned on the mark being absent (common.teams.standing treats a
  count above 0 as paused for new referrals; the payment that brings the fee to 0 takes it back).
Every write moves the fee's place in the index to its next action (common.teams.fee_model.next_action_at).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from common.platform import clock, db, listings, notices, sms
from common.platform.currencies import format_amount
from common.platform.email import send_email
from common.platform.errors import Conflict
from common.platform.observability import logger
from common.platform.sweep_counts import Counts, WorkCounts
from common.teams import fee_ledger
from common.teams import fee_model as fm
from common.teams.fee_ledger import Done, Write
from common.teams.team_model import orgs_with_teams, phone_key, team_key, team_member_key

JOB = "fees"
PAGE_SIZE = 100
CHANNELS = ("text", "email")


@dataclass
class FeeSweepCounts(Counts):
    orgs: int = 0
    due: int = 0  # fees needing work now
    items_read: int = 0
    handed_on: int = 0


@dataclass
class FeeWorkCounts(WorkCounts):
    reminded: int = 0  # leaders reminded now (per fee and reminder)
    late_fees: int = 0  # late fees charged now
    paused: int = 0  # fees counted towards their team's pause now
    failed: int = 0  # reminders not sent now (tried again with the message)

    @property
    def unfinished(self) -> bool:
        return self.failed > 0 or self.left > 0


def hand_on(
    send: Callable[[dict[str, Any]], None], now: datetime | None = None, *, client: Any = None
) -> FeeSweepCounts:
    cutoff = clock.iso(now or clock.now())
    counts = FeeSweepCounts()
    for org_id in _orgs(counts, client):
        counts.orgs += 1
        due = listings.IndexKey("gsi3", fm.fees_due_partition(org_id), sort_below=cutoff)
        for items in listings.index_pages(due, limit=PAGE_SIZE, client=client):
            counts.items_read += len(items)
            counts.due += len(items)
            if items:
                send({"job": JOB, "org_id": org_id, "fees": [[i["team_id"], i["fee_id"]] for i in items]})
                counts.handed_on += 1
    return counts


def _orgs(counts: FeeSweepCounts, client: Any) -> Iterator[str]:
    for items in orgs_with_teams(client=client):
        counts.items_read += len(items)
        yield from (i["org_id"] for i in items)


def _open(fee: db.Item | None) -> bool:
    return bool(fee) and fee.get("status") == fm.FeeStatus.OPEN.value and int(fee.get("outstanding", 0)) > 0  # type: ignore[union-attr]


def work(message: dict[str, Any], *, in_time: Callable[[], bool] = lambda: True, client: Any = None) -> FeeWorkCounts:
    org_id = message["org_id"]
    keys = [fm.fee_key(org_id, team_id, fee_id) for team_id, fee_id in message["fees"]]
    counts = FeeWorkCounts(due=len(keys))
    fees = db.batch_get(keys, consistent=True, client=client)
    counts.items_read += len(fees)
    now = clock.now_iso()
    due = [f for f in fees if _open(f) and str(f.get("next_action_at", "~")) <= now]
    for done, fee in enumerate(due):
        if not in_time():
            counts.left = len(due) - done
            break
        _remind(fee, now, counts, client)
        _charge_late_fees(fee, now, counts, client)
        _count_pause(fee, now, counts, client)
    return counts


# -- reminders -------------------------------------------------------------------------------------


def _remind(fee: db.Item, now: str, counts: FeeWorkCounts, client: Any) -> None:
    days = list(fee["terms"].get("reminder_days") or [])
    done = int(fee.get("reminders_done", 0))
    passed = [i for i in range(done, len(days)) if fm.at_days(fee["due_at"], int(days[i])) <= now]
    if not passed:
        return
    latest = passed[-1]  # reminders whose day passed unsent (a sweep missed) are not sent late
    org_id, team_id = fee["org_id"], fee["team_id"]
    team = db.get(team_key(org_id, team_id), client=client)
    leader = team and db.get(team_member_key(org_id, team_id, team["leader_id"]), client=client)
    if team and leader:
        phone = db.get(phone_key(leader["phone"]), client=client) or {}
        sent = _send(fee, team, leader, bool(phone.get("opted_out")), latest, int(days[latest]), counts, client)
        if not sent:
            return
        counts.reminded += 1
    after = {**fee, "reminders_done": latest + 1}
    _set_due(
        fee, after, "reminders_done = :done", {":done": latest + 1}, "reminders_done = :read", {":read": done}, client
    )


def _send(
    fee: db.Item,
    team: db.Item,
    leader: db.Item,
    opted_out: bool,
    index: int,
    day: int,
    counts: FeeWorkCounts,
    client: Any,
) -> bool:
    """Text and e-mail the leader once each (a notice per fee, reminder and channel); False when a send
    failed (the message is retried for it)."""
    amount = format_amount(int(fee["outstanding"]), str(fee["currency"]))
    due_day = str(fee["due_at"])[:10]
    when = "is due today" if day == 0 else (f"is due on {due_day}" if day < 0 else f"was due on {due_day}")
    side, close_date = str(fee["closing_id"]).split("-", 2)[1:]
    text = f"Referral fee reminder: {team['name']} owes {amount} for the {side} closing of {close_date}; it {when}."
    owner = fm.fees_pk(fee["org_id"], fee["team_id"])
    ok = True
    channels: list[tuple[str, Callable[[], dict[str, Any]]]] = []
    if not opted_out:
        channels.append(("text", lambda: {"sid": sms.send_text(leader["phone"], text)}))
    if leader.get("email"):
        body = (
            f"Hello {leader['display_name']},\n\nThe referral fee of {amount} for the closing "
            f"{fee['closing_id']} {when}. Please arrange payment, quoting the closing.\n"
        )
        channels.append(("email", lambda: {"message_id": send_email([leader["email"]], f"Referral fee {when}", body)}))
    for channel, action in channels:
        try:
            notices.done_once(owner, f"FEE#{fee['fee_id']}#R{index}#{channel}", action, client=client)
        except Exception as error:
            counts.failed += 1
            ok = False
            logger.warning(
                "fee reminder not sent",
                extra={
                    "org_id": fee["org_id"],
                    "team_id": fee["team_id"],
                    "fee_id": fee["fee_id"],
                    "error": type(error).__name__,
                },
            )
    return ok


def _set_due(
    fee: db.Item,
    after: dict[str, Any],
    sets: str,
    values: dict[str, Any],
    condition: str,
    condition_values: dict[str, Any],
    client: Any,
) -> bool:
    """Update the fee (`sets`) with its next action moved, conditioned on it still being open."""
    due = fm.due_fields(after)
    expression = f"SET {sets}"
    vals = {**values, **condition_values, ":open": fm.FeeStatus.OPEN.value}
    if due:
        expression += ", next_action_at = :next, gsi3pk = :g3pk, gsi3sk = :g3sk"
        vals |= {":next": due["next_action_at"], ":g3pk": due["gsi3pk"], ":g3sk": due["gsi3sk"]}
    else:
        expression += " REMOVE next_action_at, gsi3pk, gsi3sk"
    try:
        db.update(
            fm.fee_key(fee["org_id"], fee["team_id"], fee["fee_id"]),
            expression=expression,
            condition=f"{condition} AND #status = :open",
            names={"#status": "status"},
            values=vals,
            on_conflict=Conflict("changed meanwhile"),
            client=client,
        )
    except Conflict:
        return False
    return True


# -- late fees -------------------------------------------------------------------------------------


def periods_due(fee: db.Item, now: str) -> int:
    """How many late-fee periods have begun by `now`."""
    every = int(fee["terms"]["late_fee_every_days"])
    periods = 0
    while fm.at_days(fee["due_at"], every * (periods + 1)) <= now:
        periods += 1
    return periods


def _charge_late_fees(fee: db.Item, now: str, counts: FeeWorkCounts, client: Any) -> None:
    if int(fee["terms"].get("late_fee_bps", 0)) <= 0:
        return
    for period in range(int(fee.get("late_periods", 0)) + 1, periods_due(fee, now) + 1):
        charged = charge_late_fee(fee["org_id"], fee["team_id"], fee["fee_id"], period, client=client)
        counts.late_fees += bool(charged)


def charge_late_fee(org_id: str, team_id: str, fee_id: str, period: int, *, client: Any = None) -> bool:
    """The late fee of one period, once: the guard, the entry, the fee and the balance in one transaction.
    Returns whether this call charged it."""

    def decide() -> Write | Done:
        fee = db.get(fm.fee_key(org_id, team_id, fee_id), consistent=True, client=client)
        if not _open(fee) or int(fee.get("late_periods", 0)) >= period:  # type: ignore[union-attr]
            return Done(False)
        assert fee is not None
        amount = (int(fee["outstanding"]) * int(fee["terms"]["late_fee_bps"]) + fm.BPS // 2) // fm.BPS
        guard = {
            **fm.late_guard_key(org_id, team_id, fee_id, period),
            "entity": "fee_late_guard",
            "org_id": org_id,
            "team_id": team_id,
            "fee_id": fee_id,
            "period": period,
            "amount": amount,
            "at": clock.now_iso(),
        }
        extra = {"late_periods": period, "late_fees": int(fee.get("late_fees", 0)) + amount}
        entries = []
        if amount > 0:
            entries.append(
                fee_ledger.entry_fields(
                    fm.FeeEntryKind.LATE_FEE, fm.late_entry_id(fee_id, period), amount, fee, "system", period=period
                )
            )
        actions = [
            db.tx_put(guard, condition="attribute_not_exists(pk)"),
            *fee_ledger.outstanding_change(fee, amount, extra=extra),
        ]
        return Write(actions, entries, str(fee["currency"]), result=True, refused=lambda failed: None)

    return bool(fee_ledger.run(org_id, team_id, decide, client=client))


# -- the pause -------------------------------------------------------------------------------------


def _count_pause(fee: db.Item, now: str, counts: FeeWorkCounts, client: Any) -> None:
    current = db.get(fm.fee_key(fee["org_id"], fee["team_id"], fee["fee_id"]), consistent=True, client=client)
    if not _open(current) or current.get("pause_counted"):  # type: ignore[union-attr]
        return
    assert current is not None
    if fm.at_days(current["due_at"], int(current["terms"]["pause_after_days"]), after=True) > now:
        return
    after = {**current, "pause_counted": True}
    due = fm.due_fields(after)
    expression = "SET pause_counted = :true, paused_at = :now"
    values: dict[str, Any] = {":true": True, ":now": now, ":open": fm.FeeStatus.OPEN.value, ":zero": 0, ":false": False}
    if due:
        expression += ", next_action_at = :next, gsi3pk = :g3pk, gsi3sk = :g3sk"
        values |= {":next": due["next_action_at"], ":g3pk": due["gsi3pk"], ":g3sk": due["gsi3sk"]}
    else:
        expression += " REMOVE next_action_at, gsi3pk, gsi3sk"
    mark = db.tx_update(
        fm.fee_key(current["org_id"], current["team_id"], current["fee_id"]),
        expression=expression,
        condition="#status = :open AND outstanding > :zero AND (attribute_not_exists(pause_counted) "
        "OR pause_counted = :false)",
        names={"#status": "status"},
        values=values,
    )
    try:
        db.transact(
            [mark, fee_ledger.pause_count(current["org_id"], current["team_id"], 1)],
            on_cancel=lambda failed: Conflict("counted or paid meanwhile"),
            client=client,
        )
    except Conflict:
        return
    counts.paused += 1
