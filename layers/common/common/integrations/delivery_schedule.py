"""When a delivery is attempted: at once, then after each failure a little later, for at least three days.

The waits after the 1st to 10th failed attempts are RETRY_WAITS, each lengthened by up to JITTER of itself
(never shortened, so the schedule never ends before three days), which spreads the retries of many
deliveries that failed together (an endpoint that was down) instead of sending them back in one burst. The
11th failure ends the delivery (`failed`, kept): MAX_ATTEMPTS bounds the attempts log. A test event is
attempted once.

SQS delays a message by at most MAX_DELAY, so a longer wait is several hops of at most that (`hop_delay`).
"""

from __future__ import annotations

import math
import random
from datetime import datetime, timedelta

RETRY_WAITS: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=14),
    timedelta(hours=14),
    timedelta(hours=14),
)
MAX_ATTEMPTS = len(RETRY_WAITS) + 1
JITTER = 0.2
# The shortest time retries cover (the sum of the waits without jitter: 3 days, 1 hour and 35 minutes).
RETRY_SPAN = sum(RETRY_WAITS, timedelta())
MAX_DELAY = 900  # seconds: SQS's longest DelaySeconds
# A delivery whose endpoint has every attempt slot taken waits, doubling from this, up to MAX_DELAY.
SLOT_WAIT_FIRST = 2


def wait_after(failed_attempts: int, rng: random.Random | None = None) -> timedelta | None:
    """How long after its `failed_attempts`-th failed attempt a delivery is attempted again; None once it has
    failed MAX_ATTEMPTS times."""
    if failed_attempts >= MAX_ATTEMPTS:
        return None
    wait = RETRY_WAITS[failed_attempts - 1]
    return wait * (1 + JITTER * (rng or random).random())


def hop_delay(due: datetime, now: datetime) -> int:
    """The DelaySeconds of a message that should arrive at `due`: whole seconds (rounded up, so it never
    arrives early by a fraction), at most MAX_DELAY; a later due time takes more hops."""
    return max(0, min(MAX_DELAY, math.ceil((due - now).total_seconds())))


def slot_wait(waits: int, rng: random.Random | None = None) -> int:
    """The DelaySeconds of a delivery's `waits`-th wait for one of its endpoint's attempt slots (jittered
    by up to half)."""
    base = min(MAX_DELAY, SLOT_WAIT_FIRST * 2 ** min(waits, 10))
    return min(MAX_DELAY, math.ceil(base * (1 + 0.5 * (rng or random).random())))
