"""Lambda event-filtering patterns for DynamoDB stream records.

A pattern is a nested dict mirroring the record; each leaf is a list of accepted values (any one matches)
or of content filters: {"prefix": s}, {"exists": bool}, {"anything-but": value or list}. Records that
match no pattern are dropped before batching, as Lambda drops them. Any other filter is rejected at
start-up rather than silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

_MISSING = object()
_CONTENT_FILTERS = {"prefix", "exists", "anything-but"}


def validate(pattern: Mapping[str, Any]) -> None:
    for key, rule in pattern.items():
        if isinstance(rule, Mapping):
            validate(rule)
        elif isinstance(rule, list):
            for accepted in rule:
                if isinstance(accepted, Mapping) and (len(accepted) != 1 or set(accepted) - _CONTENT_FILTERS):
                    raise ValueError(f"unsupported filter on {key!r}: {accepted}")
        else:
            raise ValueError(f"filter on {key!r} must be a list of values or a nested pattern")


def _accepts(accepted: Any, value: Any) -> bool:
    if not isinstance(accepted, Mapping):
        return value is not _MISSING and value == accepted
    if "exists" in accepted:
        return (value is not _MISSING) == bool(accepted["exists"])
    if value is _MISSING:
        return False
    if "prefix" in accepted:
        return isinstance(value, str) and value.startswith(accepted["prefix"])
    excluded = accepted["anything-but"]
    return value not in (excluded if isinstance(excluded, list) else [excluded])


def _leaf_matches(rule: Sequence[Any], value: Any) -> bool:
    # An array in the record matches when any of its elements does.
    values = value if isinstance(value, list) else [value]
    return any(_accepts(accepted, v) for accepted in rule for v in values)


def matches(pattern: Mapping[str, Any], record: Any) -> bool:
    for key, rule in pattern.items():
        value = record.get(key, _MISSING) if isinstance(record, Mapping) else _MISSING
        if isinstance(rule, Mapping):
            if not isinstance(value, Mapping) or not matches(rule, value):
                return False
        elif not _leaf_matches(rule, value):
            return False
    return True


def matches_any(patterns: Sequence[Mapping[str, Any]], record: Any) -> bool:
    """No patterns means no filtering; several patterns are alternatives."""
    return not patterns or any(matches(p, record) for p in patterns)
