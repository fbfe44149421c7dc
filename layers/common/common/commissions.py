"""Placeholder: replaced by the real module."""

from __future__ import annotations

from . import db


def on_change(old: db.Item | None, new: db.Item | None) -> None:
    """Reacts to a stream change (old image, new image)."""
