"""At-most-once side effects from an at-least-once stream.

Before acting, a consumer claims a notice with a deterministic key (a conditional put). A redelivered
record finds the claim and does nothing. If the action fails, the claim is released so the retry acts.
A claim left unfinished (the function was stopped between claiming and acting) goes stale after a while
and may then be claimed again, so the side effect is not lost for good.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from . import clock, db
from .errors import Conflict

# Longer than any consumer runs (their timeout is a minute): an unfinished claim this old was abandoned.
STALE_AFTER = timedelta(minutes=5)


class _AlreadyDone(Conflict):
    pass


def notice_key(owner_pk: str, name: str) -> db.Key:
    return {"pk": owner_pk, "sk": f"NOTICE#{name}"}


def once(owner_pk: str, name: str, action: Callable[[], dict[str, Any]], *, client: Any = None) -> bool:
    """Run `action` unless the notice `name` of `owner_pk` was already done. Returns whether it ran.
    What `action` returns (e.g. a message id) is recorded on the notice."""
    key = notice_key(owner_pk, name)
    try:
        db.put(
            {**key, "entity": "notice", "claimed_at": clock.now_iso()},
            condition="attribute_not_exists(pk) OR (attribute_not_exists(done_at) AND claimed_at < :stale)",
            values={":stale": clock.iso(clock.now() - STALE_AFTER)},
            on_conflict=_AlreadyDone(name),
            client=client,
        )
    except _AlreadyDone:
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
