"""The retry schedule: the waits the issue names, lengthened by at most 20% and never shortened, so retries
always cover three days, in at most 11 attempts; hops of at most SQS's 15 minutes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from common.integrations import delivery_schedule as schedule

NAMED = [
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    *[timedelta(hours=14)] * 4,
]


class Extreme(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


def test_the_waits_are_the_named_ones_then_the_end() -> None:
    assert [schedule.wait_after(n, Extreme(0.0)) for n in range(1, 11)] == NAMED
    assert schedule.wait_after(11) is None and schedule.MAX_ATTEMPTS == 11


@pytest.mark.parametrize("seed", range(20))
def test_jitter_lengthens_each_wait_by_at_most_a_fifth(seed: int) -> None:
    rng = random.Random(seed)
    for n, named in enumerate(NAMED, start=1):
        wait = schedule.wait_after(n, rng)
        assert wait is not None and named <= wait <= named * 1.2


def test_retries_cover_at_least_three_days_and_not_much_more() -> None:
    shortest = sum((w for n in range(1, 11) if (w := schedule.wait_after(n, Extreme(0.0)))), timedelta())
    longest = sum((w for n in range(1, 11) if (w := schedule.wait_after(n, Extreme(0.9999)))), timedelta())
    assert shortest == schedule.RETRY_SPAN >= timedelta(days=3)
    assert longest < timedelta(days=4, hours=9)


def test_a_hop_is_whole_seconds_up_to_fifteen_minutes() -> None:
    now = datetime(2026, 11, 22, 9, tzinfo=UTC)
    assert schedule.hop_delay(now + timedelta(seconds=4.2), now) == 5  # never early
    assert schedule.hop_delay(now + timedelta(hours=14), now) == 900
    assert schedule.hop_delay(now - timedelta(seconds=3), now) == 0


def test_waiting_for_a_slot_doubles_up_to_fifteen_minutes() -> None:
    low, high = Extreme(0.0), Extreme(0.9999)
    assert [schedule.slot_wait(n, low) for n in range(1, 5)] == [4, 8, 16, 32]
    assert all(schedule.slot_wait(n, high) <= 900 for n in range(40))
    assert schedule.slot_wait(30, low) == 900
