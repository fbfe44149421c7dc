"""(being written)"""

from __future__ import annotations

from . import db


def on_change(old: db.Item | None, new: db.Item | None) -> None:
    return None
