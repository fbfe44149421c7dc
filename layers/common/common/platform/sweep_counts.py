"""What the daily sweep's parts count: each part's counters are a dataclass of ints, logged and turned into
metrics by name (`as_dict`); the work of one message also says whether it was left unfinished."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Counts:
    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class WorkCounts(Counts):
    """The work of one message: what it named, what was read, and what the time left undone (the message is
    tried again for it)."""

    due: int = 0  # what the message named
    left: int = 0  # not tried: the time ran out
    items_read: int = 0  # items DynamoDB returned

    @property
    def unfinished(self) -> bool:
        return self.left > 0
