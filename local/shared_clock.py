"""The functions' clock: real time plus an offset shared with every worker process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any


class SharedClock:
    def __init__(self, offset: Any) -> None:
        """`offset` is a multiprocessing.Value("d") the workers read on every `clock.now()`."""
        self._offset = offset

    @property
    def offset_seconds(self) -> float:
        return float(self._offset.value)

    def set_offset(self, seconds: float) -> None:
        with self._offset.get_lock():
            self._offset.value = float(seconds)

    def advance(self, seconds: float) -> None:
        with self._offset.get_lock():
            self._offset.value += float(seconds)

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset_seconds)
