"""One injectable clock. Production reads the system time; tests and the local stack swap the source."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_source: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    """Current time, always timezone-aware UTC."""
    return _source().astimezone(UTC)


def set_clock(source: Callable[[], datetime]) -> None:
    global _source
    _source = source


def reset_clock() -> None:
    set_clock(lambda: datetime.now(UTC))


def iso(moment: datetime) -> str:
    """Fixed-width ISO 8601 in UTC with milliseconds, so that string order is time order in sort keys."""
    utc = moment.astimezone(UTC)
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def now_iso() -> str:
    return iso(now())
