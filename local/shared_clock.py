"""The functions' clock: real time plus an offset shared with every worker process."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any


class SharedClock:
    def __init__(self, offset: Any, *, on_move: Callable[[float], Any] | None = None) -> None:
        """`offset` is a multiprocessing.Value("d") the workers read on every `clock.now()`; `on_move` is told
        by how many seconds the clock moved (what else follows the clock: local.delayed_messages)."""
        self._offset = offset
        self._on_move = on_move

    @property
    def offset_seconds(self) -> float:
        return float(self._offset.value)

    def set_offset(self, seconds: float) -> None:
        with self._offset.get_lock():
            moved = float(seconds) - self._offset.value
            self._offset.value = float(seconds)
        self._moved(moved)

    def advance(self, seconds: float) -> None:
        with self._offset.get_lock():
            self._offset.value += float(seconds)
        self._moved(float(seconds))

    def _moved(self, seconds: float) -> None:
        if seconds and self._on_move is not None:
            self._on_move(seconds)

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset_seconds)
