"""Expiry of referral requests nobody accepted in time: one request (when an acceptance attempt finds it
past its time), or every due one (the daily sweep, over each organisation's expiring index, gsi3)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from common.platform import clock, db, history, listings
from common.platform.errors import Conflict
from common.teams.referral_requests import HISTORY, expiring_partition, history_entry
from common.teams.team_model import ReferralStatus, orgs_with_teams, referral_key

S = ReferralStatus
PAGE_SIZE = 100


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
class ExpiryCounts:
    orgs: int = 0
    due: int = 0
    expired: int = 0
    items_read: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"orgs": self.orgs, "due": self.due, "expired": self.expired, "items_read": self.items_read}


def expire_due(now: datetime | None = None, *, client: Any = None) -> ExpiryCounts:
    """Expire every open request past its expiry: for each organisation with teams, one query of its
    expiring index up to now (reads grow with what is due, not with all requests)."""
    cutoff = clock.iso(now or clock.now())
    counts = ExpiryCounts()
    for org_id in _orgs_with_teams(counts, client):
        counts.orgs += 1
        due = listings.IndexKey("gsi3", expiring_partition(org_id), sort_below=cutoff)
        for items in listings.index_pages(due, limit=PAGE_SIZE, client=client):
            counts.items_read += len(items)
            for item in items:
                counts.due += 1
                counts.expired += expire(item, client=client)
    return counts


def _orgs_with_teams(counts: ExpiryCounts, client: Any) -> Iterator[str]:
    for items in orgs_with_teams(client=client):
        counts.items_read += len(items)
        yield from (i["org_id"] for i in items)
