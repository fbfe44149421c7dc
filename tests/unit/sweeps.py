"""A daily sweep run in-process in its two halves: what it hands on (the messages, in a list instead of the
work queue), then each message's work, as the sweep's work function would do it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Message = dict[str, Any]


def handed_on(hand_on: Callable[..., Any], **kwargs: Any) -> tuple[Any, list[Message]]:
    """The sweep's counts and the messages it handed on."""
    messages: list[Message] = []
    counts = hand_on(messages.append, **kwargs)
    return counts, messages


@dataclass
class Run:
    sweep: dict[str, int]  # the sweep's counts
    messages: list[Message]
    work: dict[str, int]  # the work's counts, summed over the messages

    def __getattr__(self, name: str) -> int:
        return self.work.get(name, 0)


def work_through(messages: list[Message], jobs: Mapping[str, Callable[..., Any]], **kwargs: Any) -> dict[str, int]:
    total: Counter[str] = Counter()
    for message in messages:
        total.update(jobs[message["job"]](message, **kwargs).as_dict())
    return dict(total)


def run(hand_on: Callable[..., Any], jobs: Mapping[str, Callable[..., Any]]) -> Run:
    counts, messages = handed_on(hand_on)
    return Run(counts.as_dict(), messages, work_through(messages, jobs))
