"""At-most-once side effects from an at-least-once stream.

Before acting, a consumer claims a notice with a deterministic key (a conditional put). A redelivered
record finds the claim and does nothing. If the action fails, the claim is released so the retry acts.
A claim left unfinished (the function was stopped between claiming and acting) fails the redelivered
record, so it is retried, and goes stale after a while: then it is claimed again and the side effect
happens (perhaps twice, never not at all; records that exhaust their retries wait in the failure queue).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from common.platform import clock, db, ids
from common.platform.errors import Conflict

# Longer than any consumer runs (their timeout is a minute): an unfinished claim this old was abandoned.
STALE_AFTER = timedelta(minutes=2)


class _Claimed(Conflict):
    pass


class NoticeInProgress(Exception):
    """Another delivery of the record is acting right now (or was stopped mid-way and its claim is not
    stale yet): fail this record so it is retried, rather than treat the side effect as done."""


def notice_key(owner_pk: str, name: str) -> db.Key:
    return {"pk": owner_pk, "sk": f"NOTICE#{name}"}


def once(owner_pk: str, name: str, action: Callable[[], dict[str, Any]], *, client: Any = None) -> bool:
    """Run `action` unless the notice `name` of `owner_pk` was already done. Returns whether it ran.
    What `action` returns (e.g. a message id) is recorded on the notice."""
    key = notice_key(owner_pk, name)
    try:
        db.put(
            # A claim id of its own: two claims in the same millisecond must not look like one write.
            {**key, "entity": "notice", "claimed_at": clock.now_iso(), "claim_id": ids.new_id()},
            condition="attribute_not_exists(pk) OR (attribute_not_exists(done_at) AND claimed_at < :stale)",
            values={":stale": clock.iso(clock.now() - STALE_AFTER)},
            on_conflict=_Claimed(name),
            client=client,
        )
    except _Claimed:
        existing = db.get(key, consistent=True, client=client)
        if existing is not None and "done_at" not in existing:
            raise NoticeInProgress(name) from None
        return False
    try:
        outcome = action()
    except Exception:
        db.delete(key, client=client)
        raise
    db.update(
        key,
        expression="SET done_at = :at, outcome = :outcome",
        values={":at": clock.now_iso(), ":outcome": outcome},
        client=client,
    )
    return True
