"""CSV cells a spreadsheet opens safely: text starting like a formula gets a leading quote, numbers stay
numbers (signed minor units), None is empty. Every CSV export writes its cells through `cell`."""

from __future__ import annotations

from typing import Any

# A text cell starting with one of these is a formula to a spreadsheet: it is written with a leading quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int):
        text = str(value)
        return f"'{text}" if text.startswith(FORMULA_STARTS) else text
    return value  # amounts and levels stay signed numbers
