"""The work queue: a staff member claims the next ready lead, highest priority first, then the one ready
the longest. Each lead goes to exactly one claimer.

With queue hours set, a lead is served only within them in its own time zone. Leads are queued ready at
their next opening already (intake, put back), so the ready range holds leads outside their hours only where
the hours closed on them while they waited: the claim skips such a lead and moves it to its next opening (a
conditional write that keeps it queued), so it is read once per closing, not by every claim after."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from common.leads.companies import QueuePriority
from common.leads.model import (
    HISTORY,
    LeadStatus,
    LeadUnavailable,
    assignee_listing,
    history_entry,
    lead_key,
    listing_order,
    queue_partition,
    ready_positions,
    status_listing,
)
from common.leads.queue_settings import QueueSettings, read_settings
from common.leads.time_zones import Hours
from common.orgs.access import Member
from common.platform import clock, db, history, ids, listings

_CLAIM_BATCH = 10
_LOWEST = QueuePriority.NORMAL
# Leads whose hours closed that one claim moves on; past it the claim answers that none is ready and the
# next claims go on, so a claim's cost stays bounded however many leads an evening closes on at once.
MOVES_PER_CLAIM = 50


class _MovesSpent(Exception):
    pass


def claim_next(
    org_id: str, member: Member, *, settings: QueueSettings | None = None, client: Any = None
) -> db.Item | None:
    """Assign the next ready lead to the caller: highest priority first, then the one that has been
    ready the longest, within its queue hours. The index read may be stale; the conditional write decides,
    so each lead goes to exactly one claimer and a loser moves on to the next candidate. `settings`: the
    queue settings if the caller read them (`queue_settings.claimant`), else they are read here."""
    settings = settings or read_settings(org_id, client=client)
    moment = clock.now()
    now = clock.iso(moment)
    open_hours = settings.hours()
    hours = _OpenHours(org_id, settings, open_hours, moment, client) if open_hours else None
    try:
        return _claim(org_id, member, now, hours, client)
    except _MovesSpent:
        return None


def _claim(org_id: str, member: Member, now: str, hours: _OpenHours | None, client: Any) -> db.Item | None:
    # Usually one read: the queue is sorted by priority, then readiness, so the ready leads come back in
    # claim order. Leads of a higher priority deferred to later sort among them and are filtered out.
    _, last_ready = ready_positions(_LOWEST, now)
    candidates, more = listings.query_index(
        listings.IndexKey("gsi3", queue_partition(org_id), sort_at_most=last_ready),
        filter_expression="available_at <= :now",
        filter_values={":now": now},
        limit=_CLAIM_BATCH,
        one_read=True,
        client=client,
    )
    lead = _claim_first(org_id, candidates, member, now, hours, client)
    if lead is not None or more is None:
        return lead
    # The page held deferred or just-taken leads: read each priority's ready range exactly, so the cost
    # stays bounded however many leads wait for a later contact time.
    for priority in (QueuePriority.HIGH, QueuePriority.MEDIUM, QueuePriority.NORMAL):
        ready = listings.IndexKey("gsi3", queue_partition(org_id), sort_between=ready_positions(priority, now))
        cursor: str | None = None
        while True:
            candidates, cursor = listings.query_index(ready, limit=_CLAIM_BATCH, cursor=cursor, client=client)
            lead = _claim_first(org_id, candidates, member, now, hours, client)
            if lead is not None:
                return lead
            if cursor is None:
                break
    return None


def _claim_first(
    org_id: str, candidates: list[db.Item], member: Member, now: str, hours: _OpenHours | None, client: Any
) -> db.Item | None:
    for candidate in candidates:
        if hours is not None and not hours.serve(candidate):
            continue  # outside its hours: moved to its next opening
        try:
            return _assign(org_id, candidate["lead_id"], member, now, client=client)
        except LeadUnavailable:
            continue  # taken by a concurrent claim: the next candidate
    return None


def _assign(org_id: str, lead_id: str, member: Member, now: str, *, client: Any) -> db.Item:
    # Each claim attempt has its own id: a retried request (same id) finds its own claim applied, while
    # two racing claims by the same user (different ids) stay two different attempts.
    claim_id = ids.new_id()
    event = history_entry(member.actor, "claimed", now)

    def write(addition: history.Addition) -> db.Item:
        return history.update(
            lead_key(org_id, lead_id),
            addition,
            expression=(
                "SET #status = :assigned, assignee = :user, assigned_at = :now, updated_at = :now, claim_id = :claim,"
                f" version = version + :one, {addition.expression},"
                " gsi1pk = :g1pk, gsi1sk = :g1sk, gsi2pk = :g2pk, gsi2sk = :g1sk REMOVE gsi3pk, gsi3sk"
            ),
            condition=f"#status = :queued AND available_at <= :now AND {addition.condition}",
            names={"#status": "status"},
            values={
                ":assigned": LeadStatus.ASSIGNED.value,
                ":queued": LeadStatus.QUEUED.value,
                ":user": member.user_id,
                ":now": now,
                ":one": 1,
                ":g1pk": status_listing(org_id, LeadStatus.ASSIGNED),
                ":g1sk": listing_order(now, lead_id),
                ":g2pk": assignee_listing(org_id, member.user_id),
                ":claim": claim_id,
            },
            # This very claim applied by an attempt whose answer was lost: ours. Anything else: someone was faster.
            on_conflict=lambda current: (
                None
                if current and current.get("claim_id") == claim_id
                else LeadUnavailable(f"lead {lead_id} was claimed by someone else")
            ),
            client=client,
        )

    return history.attempt(history.Addition(HISTORY, [event]), write)


@dataclass
class _OpenHours:
    """The queue hours at the moment of one claim: which candidates they let through, and the moves of
    those they do not (each lead keeps its place among the leads of its next opening)."""

    org_id: str
    settings: QueueSettings
    hours: Hours
    moment: datetime
    client: Any
    moves: int = 0

    def serve(self, candidate: db.Item) -> bool:
        zone = self.settings.zone_of(candidate)[0]
        if self.hours.contain(self.moment, zone):
            return True
        if self.moves >= MOVES_PER_CLAIM:
            raise _MovesSpent
        self.moves += 1
        place = self.settings.queue_place(candidate, self.moment)  # its next opening
        lead_id = candidate["lead_id"]
        # Claimed, moved or changed by someone else meanwhile: then not ours to move.
        with contextlib.suppress(LeadUnavailable):
            db.update(
                lead_key(self.org_id, lead_id),
                expression="SET available_at = :opening, gsi3sk = :position",
                condition="#status = :queued AND gsi3sk = :seen",
                names={"#status": "status"},
                values={
                    ":opening": place["available_at"],
                    ":position": place["gsi3sk"],
                    ":queued": LeadStatus.QUEUED.value,
                    ":seen": candidate["gsi3sk"],
                },
                on_conflict=LeadUnavailable(f"lead {lead_id} changed meanwhile"),
                client=self.client,
            )
        return False
