"""At-most-once side effects from at-least-once deliveries: stream records, and Twilio's webhook posts.

Before acting, a delivery claims a notice with a deterministic key (a conditional put). A redelivery finds
the claim done and does nothing: it gets the outcome the first delivery stored. If the action fails, the
claim is released so the retry acts. A claim left unfinished (the function was stopped between claiming
and acting) refuses redeliveries as in progress (NoticeInProgress: a record is failed and retried, the
webhook answers 503) until it is older than its lease: then it is claimed again and the side effect
happens (perhaps twice, never not at all; records that exhaust their retries wait in the failure queue).
A notice given `keep_for` is deleted by DynamoDB (the table's TTL) that long after its claim.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from common.platform import clock, db, ids
from common.platform.errors import Conflict
from common.platform.table_schema import TTL_ATTRIBUTE

# Longer than any consumer runs (their timeout is a minute): an unfinished claim this old was abandoned.
STALE_AFTER = timedelta(minutes=2)

Outcome = dict[str, Any]


class _Claimed(Conflict):
    pass


class NoticeInProgress(Exception):
    """Another delivery is acting right now (or was stopped mid-way and its claim is not stale yet): this
    one must not treat the side effect as done, nor act; it is to be retried."""


@dataclass(frozen=True)
class Done:
    """A notice done: whether this call acted, and what the action returned (now, or the first time)."""

    acted: bool
    outcome: Outcome


def notice_key(owner_pk: str, name: str) -> db.Key:
    return {"pk": owner_pk, "sk": f"NOTICE#{name}"}


def once(owner_pk: str, name: str, action: Callable[[], Outcome], *, client: Any = None) -> bool:
    """Run `action` unless the notice `name` of `owner_pk` was already done. Returns whether it ran.
    What `action` returns (e.g. a message id) is recorded on the notice."""
    return done_once(owner_pk, name, action, client=client).acted


def done_once(
    owner_pk: str,
    name: str,
    action: Callable[[], Outcome],
    *,
    lease: timedelta = STALE_AFTER,
    keep_for: timedelta | None = None,
    client: Any = None,
) -> Done:
    """`once`, answering the outcome too: the one `action` returns now, or the one an earlier delivery
    stored. `lease` is how long an unfinished claim holds (longer than the function may run)."""
    key = notice_key(owner_pk, name)
    now = clock.now()
    claim_id = ids.new_id()  # a claim id of its own: two claims in the same millisecond must not look like one
    claim: dict[str, Any] = {**key, "entity": "notice", "claimed_at": clock.iso(now), "claim_id": claim_id}
    if keep_for is not None:
        claim[TTL_ATTRIBUTE] = int((now + keep_for).timestamp())
    try:
        db.put(
            claim,
            condition="attribute_not_exists(pk) OR (attribute_not_exists(done_at) AND claimed_at < :stale)",
            values={":stale": clock.iso(now - lease)},
            on_conflict=_Claimed(name),
            client=client,
        )
    except _Claimed:
        existing = db.get(key, consistent=True, client=client)
        if existing is None or "done_at" not in existing:
            # Acting now; or released by a failed delivery meanwhile (or expired, days later): not done.
            raise NoticeInProgress(name) from None
        outcome = existing.get("outcome")
        return Done(False, outcome if isinstance(outcome, dict) else {})
    try:
        outcome = action()
    except Exception:
        with contextlib.suppress(Conflict):  # taken over meanwhile (stale): that claim is not ours to drop
            db.delete(
                key, condition="claim_id = :mine", values={":mine": claim_id}, on_conflict=Conflict(name), client=client
            )
        raise
    db.update(
        key,
        expression="SET done_at = :at, outcome = :outcome",
        values={":at": clock.now_iso(), ":outcome": outcome},
        client=client,
    )
    return Done(True, outcome)
