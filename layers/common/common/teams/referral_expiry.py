"""Expiry of referral requests nobody accepted in time: one request (when an acceptance attempt finds it
past its time), or every due one: the daily sweep reads each organisation's expiring index (gsi3) up to now
and hands each page of due requests on (`hand_on`), and the sweep's work function expires those still open
(`work`), each with one conditional UpdateItem, so a message delivered twice expires nothing twice."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from common.platform import clock, db, history, listings
from common.platform.errors import Conflict
from common.platform.observability import logger
from common.platform.sweep_counts import Counts, WorkCounts
from common.teams.referral_requests import HISTORY, expiring_partition, history_entry, reroute
from common.teams.team_model import ReferralStatus, orgs_with_teams, referral_key

S = ReferralStatus
# Index entries per query, and so requests per message handed on.
PAGE_SIZE = 100
# The work messages' "job".
JOB = "expire"


def expire(request: db.Item, *, client: Any = None) -> bool:
    """Mark an open request past its expiry as expired (one conditional UpdateItem). Its code needs no
    write: a code whose time is up is free for the team's next request. Returns whether this call did."""
    now = clock.now_iso()
    entry = history_entry("expired", "system", expires_at=request["expires_at"])

    def write(addition: history.Addition) -> db.Item:
        return history.update(
            referral_key(request["org_id"], request["request_id"]),
            addition,
            expression=(
                f"SET #status = :expired, expired_at = :now, updated_at = :now, {addition.expression} "
                "REMOVE gsi3pk, gsi3sk"
            ),
            condition=f"#status = :open AND expires_at <= :now AND {addition.condition}",
            names={"#status": "status"},
            values={":expired": S.EXPIRED.value, ":open": S.OPEN.value, ":now": now},
            on_conflict=Conflict("not open or not due"),
            client=client,
        )

    try:
        # The request as read (the expiry index's copy may be behind: its history is decided again then).
        history.attempt(history.Addition(HISTORY, [entry], request), write)
    except Conflict:
        return False
    return True


@dataclass
class ExpiryCounts(Counts):
    orgs: int = 0  # organisations with teams
    due: int = 0  # open requests past their expiry
    items_read: int = 0  # items DynamoDB returned to the sweep's queries
    handed_on: int = 0  # messages (pages of due requests) handed on


@dataclass
class ExpiredCounts(WorkCounts):
    expired: int = 0  # of the requests the message named, marked expired now


def hand_on(send: Callable[[dict[str, Any]], None], now: datetime | None = None, *, client: Any = None) -> ExpiryCounts:
    """For each organisation with teams, read its open requests past their expiry (one query of its
    expiring index up to now: reads grow with what is due, not with all requests) and `send` one message
    per page of them."""
    cutoff = clock.iso(now or clock.now())
    counts = ExpiryCounts()
    for org_id in _orgs_with_teams(counts, client):
        counts.orgs += 1
        due = listings.IndexKey("gsi3", expiring_partition(org_id), sort_below=cutoff)
        for items in listings.index_pages(due, limit=PAGE_SIZE, client=client):
            counts.items_read += len(items)
            counts.due += len(items)
            if items:
                send({"job": JOB, "org_id": org_id, "requests": [i["request_id"] for i in items]})
                counts.handed_on += 1
    return counts


def work(message: dict[str, Any], *, in_time: Callable[[], bool] = lambda: True, client: Any = None) -> ExpiredCounts:
    """Expire the requests of one message that are still open and past their expiry, while `in_time()` says
    there is time for one more; the rest are counted `left` (the message is retried for them)."""
    org_id = message["org_id"]
    keys = [referral_key(org_id, request_id) for request_id in message["requests"]]
    counts = ExpiredCounts(due=len(keys))
    requests = db.batch_get(keys, client=client)
    counts.items_read += len(requests)
    now = clock.now_iso()
    due = [r for r in requests if r.get("status") == S.OPEN.value and str(r.get("expires_at")) <= now]
    for done, request in enumerate(due):
        if not in_time():
            counts.left = len(due) - done
            break
        counts.expired += expire(request, client=client)
    return counts


def _orgs_with_teams(counts: ExpiryCounts, client: Any) -> Iterator[str]:
    for items in orgs_with_teams(client=client):
        counts.items_read += len(items)
        yield from (i["org_id"] for i in items)


def on_change(old: db.Item | None, new: db.Item | None) -> None:
    """The referrals consumer's reaction to a request made for an area that just expired: it is offered on
    to the next team of its route (common.teams.referral_requests.reroute, once)."""
    if old is None or not new or new.get("entity") != "referral_request" or not new.get("route"):
        return
    if new.get("status") != S.EXPIRED or old.get("status") == S.EXPIRED:
        return
    onward = reroute(new)
    logger.info(
        "expired request offered on",
        extra={"request_id": new["request_id"], "rerouted_to": onward["request_id"] if onward else None},
    )
