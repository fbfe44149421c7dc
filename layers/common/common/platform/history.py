"""Bounded histories. An item keeps the newest entries of its history in a list (what its views show and
its stream records carry); when the list is full, its oldest entries move to archive pages in the same
transaction, so no item outgrows DynamoDB's 400 KB however long its history gets. Nothing is dropped: the
pages and the list together are the whole history, its entries numbered from 0 in the order written.

    archive page   <bound's partition> / <bound's prefix><first:08d>     entity "history_page"
                   entries first, first + 1, ... of the owner's history, oldest first

The item counts the entries it moved off in `<list>_archived` (absent while none). A history only grows at
its end and only loses its oldest entries to a page, so that count and the list's size tell its state
exactly. A write adding entries appends while the list has room (`size(list) <= limit - n`: racing appends
all still succeed), and archives when it is full, conditioned on the state it was decided on. A write
refused because the list filled or was archived meanwhile is decided again on the item DynamoDB returned
with the refusal (`attempt`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from typing import Any, TypeVar

from common.platform import clock, db, listings
from common.platform.cursors import cursor_count, cursor_fields, encode_cursor
from common.platform.errors import Conflict, DomainError, invalid

T = TypeVar("T")
Entry = dict[str, Any]
PAGE_ENTITY = "history_page"
# How often a write is decided again because the history changed under it, before it answers 409.
ATTEMPTS = 4
# Archive pages read per round trip when listing.
PAGES_PER_READ = 3
# DynamoDB's limit on the items of one TransactWriteItems.
MAX_TRANSACTION_ITEMS = 100
# What one page holds at most, besides at most a bound's `limit` entries.
PAGE_BYTES = 200_000


@dataclass(frozen=True)
class Bound:
    """How long one kind of item's history list may get: at most `limit` entries, and for kinds whose
    entries can be long also at most `max_bytes` (then every write adding a long entry reads the item
    first; entries added without a read must be short). `limit` times the largest entry, or `max_bytes`,
    must leave the item well under 400 KB. Right after archiving, the list holds at most `keep` entries
    (at least 2) and half of `max_bytes`. `pages_at` names the partition and sort key prefix of the owner's
    pages, from the owner item."""

    attribute: str
    limit: int
    keep: int
    pages_at: Callable[[Mapping[str, Any]], tuple[str, str]]
    max_bytes: int | None = None

    def __post_init__(self) -> None:
        if not 2 <= self.keep < self.limit:
            raise ValueError("a bound keeps at least 2 entries and fewer than its limit")

    @property
    def archived_attribute(self) -> str:
        return f"{self.attribute}_archived"

    def entries(self, item: Mapping[str, Any]) -> list[Entry]:
        return list(item.get(self.attribute) or [])

    def archived(self, item: Mapping[str, Any]) -> int:
        """How many of the item's oldest entries live in pages."""
        return int(item.get(self.archived_attribute) or 0)

    def total(self, item: Mapping[str, Any]) -> int:
        return self.archived(item) + len(self.entries(item))

    def numbered(self, item: Mapping[str, Any]) -> list[tuple[int, Entry]]:
        """The item's own entries with their numbers in the whole history."""
        first = self.archived(item)
        return [(first + i, entry) for i, entry in enumerate(self.entries(item))]

    def newest(self, item: Mapping[str, Any]) -> int:
        """The number of the item's newest entry (-1 for an empty history)."""
        return self.total(item) - 1

    def entry(self, item: Mapping[str, Any], number: int) -> Entry | None:
        """Entry `number`, if the item itself still holds it."""
        index = number - self.archived(item)
        entries = self.entries(item)
        return entries[index] if 0 <= index < len(entries) else None


class Retry(Exception):
    """The history part of a write may be what refused it: decide the write again with `addition`."""

    def __init__(self, addition: Addition) -> None:
        super().__init__("history changed")
        self.addition = addition


@dataclass(frozen=True)
class Addition:
    """The history part of one write adding `new` entries to an item: a SET clause, a condition and their
    values, plus (when archiving) the page puts of the transaction. `base` is the item it is decided on;
    without one (the write reads nothing first) it appends, and a full list is archived on a second try."""

    bound: Bound
    new: Sequence[Entry]
    base: Mapping[str, Any] | None = None

    @property
    def archiving(self) -> bool:
        if self.base is None:
            return False
        after = [*self.bound.entries(self.base), *self.new]
        if len(after) > self.bound.limit:
            return True
        return self.bound.max_bytes is not None and item_bytes(after) > self.bound.max_bytes

    @property
    def _exact(self) -> bool:
        """Conditioned on the history's exact state (as the base has it): when archiving, and always for a
        kind bounded in bytes (racing appends of long entries must not add up past the bound)."""
        return self.base is not None and (self.archiving or self.bound.max_bytes is not None)

    def _cut(self) -> int:
        """How many of the base's entries move to pages."""
        held, new = self.bound.entries(self.base or {}), list(self.new)
        cut = min(len(held), max(0, len(held) + len(new) - self.bound.keep))
        if self.bound.max_bytes is not None:
            while cut < len(held) and item_bytes(held[cut:] + new) > self.bound.max_bytes // 2:
                cut += 1
        return cut

    @property
    def expression(self) -> str:
        name = self.bound.attribute
        if self.archiving:
            return f"{name} = :h_kept, {self.bound.archived_attribute} = :h_archived"
        return f"{name} = list_append({name}, :h_new)"

    @property
    def condition(self) -> str:
        name = self.bound.attribute
        if not self._exact:
            return f"size({name}) <= :h_room"
        archived = self.bound.archived_attribute
        if self.bound.archived(self.base or {}):
            return f"size({name}) = :h_size AND {archived} = :h_was"
        return f"size({name}) = :h_size AND (attribute_not_exists({archived}) OR {archived} = :h_was)"

    @property
    def values(self) -> dict[str, Any]:
        if not self._exact:
            return {":h_new": list(self.new), ":h_room": self.bound.limit - len(self.new)}
        base = self.base or {}
        was = self.bound.archived(base)
        state: dict[str, Any] = {":h_size": len(self.bound.entries(base)), ":h_was": was}
        if not self.archiving:
            return {":h_new": list(self.new), **state}
        return {
            ":h_kept": self.bound.entries(base)[self._cut() :] + list(self.new),
            ":h_archived": was + self._cut(),
            **state,
        }

    def pages(self) -> list[dict[str, Any]]:
        """The page puts of an archiving write (none otherwise): at most `limit` entries and PAGE_BYTES each."""
        if not self.archiving or self.base is None:
            return []
        base = self.base
        moving, first = self.bound.entries(base)[: self._cut()], self.bound.archived(base)
        partition, prefix = self.bound.pages_at(base)
        at = clock.now_iso()
        puts = []
        while moving:
            count = 1
            while count < min(len(moving), self.bound.limit) and item_bytes(moving[: count + 1]) <= PAGE_BYTES:
                count += 1
            page = {
                "pk": partition,
                "sk": f"{prefix}{first:08d}",
                "entity": PAGE_ENTITY,
                "owner_pk": base["pk"],
                "owner_sk": base["sk"],
                "first": first,
                "entries": moving[:count],
                "archived_at": at,
            }
            puts.append(db.tx_put(page, condition="attribute_not_exists(pk)"))
            moving, first = moving[count:], first + count
        return puts

    def applied(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """`item` (the base, with the write's other changes) as this addition leaves it."""
        if self.base is None:
            raise ValueError("only an addition decided on an item knows the item it leaves")
        if not self.archiving:
            archived = self.bound.archived(self.base)
            return {
                **item,
                self.bound.attribute: [*self.bound.entries(self.base), *self.new],
                **({self.bound.archived_attribute: archived} if archived else {}),
            }
        values = self.values
        return {**item, self.bound.attribute: values[":h_kept"], self.bound.archived_attribute: values[":h_archived"]}

    def again(self, current: Mapping[str, Any] | None) -> Addition | None:
        """The addition decided on `current` (the item as a refusal returned it) when the history part may
        be what refused the write; None when it passed, so the write's own condition refused it."""
        if not current or self.bound.attribute not in current:
            return None
        if self._exact:
            base = self.base or {}
            state = (len(self.bound.entries(base)), self.bound.archived(base))
            passed = (len(self.bound.entries(current)), self.bound.archived(current)) == state
        else:
            passed = len(self.bound.entries(current)) + len(self.new) <= self.bound.limit
        return None if passed else Addition(self.bound, self.new, current)

    def check(self, current: Mapping[str, Any] | None) -> None:
        """Raise Retry when the history part may be what refused the write (see `again`)."""
        again = self.again(current)
        if again is not None:
            raise Retry(again)


def carried(bound: Bound, previous: Mapping[str, Any] | None, item: dict[str, Any]) -> list[dict[str, Any]]:
    """A new item replacing `previous` and keeping its history (a record put again): `item` gets the earlier
    entries before its own (and their count in pages); returns the page puts for those that do not fit."""
    if previous is None:
        return []
    addition = Addition(bound, bound.entries(item), previous)
    item.update(addition.applied({}))
    return addition.pages()


def attempt(addition: Addition, write: Callable[[Addition], T]) -> T:
    """Run `write` with the addition, and again with the one a Retry names, a few times at most."""
    for _ in range(ATTEMPTS):
        try:
            return write(addition)
        except Retry as again:
            addition = again.addition
    raise Conflict("the history changed meanwhile, again and again; retry")


class _Applied(Exception):
    def __init__(self, item: db.Item) -> None:
        super().__init__("applied")
        self.item = item


Refusal = DomainError | Callable[[db.Item | None], DomainError | None]


def update(
    key: db.Key,
    addition: Addition,
    *,
    expression: str,
    condition: str,
    values: Mapping[str, Any],
    names: Mapping[str, str] | None = None,
    on_conflict: Refusal,
    decide_again: bool = True,
    client: Any = None,
) -> db.Item:
    """db.update of one item whose expression and condition include the addition's, returning the new item.
    An archiving write is one transaction with its pages (and the item is read back). The refusal is told
    as `on_conflict` tells it (None: this very write applied), unless the history may be what refused it:
    then Retry (run it under `attempt`). A write conditioned on the version it read has nothing to decide
    again (`decide_again=False`): a history changed since means the item did."""
    values = {**values, **addition.values}

    def refusal(current: db.Item | None) -> DomainError | None:
        decided = on_conflict(current) if callable(on_conflict) else on_conflict
        if decided is None:
            return None
        if decide_again:
            addition.check(current)
        return decided

    if not addition.archiving:
        return db.update(
            key,
            expression=expression,
            condition=condition,
            names=names,
            values=values,
            on_conflict=refusal,
            client=client,
        )

    def cancelled(failed: list[db.Item | None]) -> DomainError:
        current = failed[0]
        if current is None:
            return Conflict("the history was archived meanwhile; retry")
        decided = refusal(current or None)
        if decided is None:
            raise _Applied(current)
        return decided

    write = db.tx_update(key, expression=expression, condition=condition, names=names, values=values)
    try:
        db.transact([write, *addition.pages()], on_cancel=cancelled, client=client)
    except _Applied as applied:
        return applied.item
    return db.get(key, consistent=True, client=client) or {}


# -- reading ---------------------------------------------------------------------------------------


def newest_first(
    bound: Bound, item: Mapping[str, Any], *, before: int | None = None, client: Any = None
) -> Iterator[tuple[int, Entry]]:
    """The item's whole history with numbers, newest first, from entry `before` (exclusive) down: its own
    entries, then its pages, read a few at a time (consistent: a page is written with the item)."""
    total = bound.total(item)
    end = total if before is None else min(before, total)
    for number, entry in reversed(bound.numbered(item)):
        if number < end:
            yield number, entry
    top = min(end, bound.archived(item)) - 1
    if top < 0:
        return
    partition, prefix = bound.pages_at(item)
    for pages in listings.pages(
        key_condition="pk = :pk AND sk BETWEEN :low AND :high",
        values={":pk": partition, ":low": prefix, ":high": f"{prefix}{top:08d}"},
        newest_first=True,
        consistent=True,
        limit=PAGES_PER_READ,
        client=client,
    ):
        for page in pages:
            first = int(page["first"])
            for offset in range(len(page["entries"]) - 1, -1, -1):
                if first + offset < end:
                    yield first + offset, page["entries"][offset]


def older(bound: Bound, item: Mapping[str, Any], numbers: range, *, client: Any = None) -> dict[int, Entry]:
    """The entries numbered in `numbers`, wherever they are (the item's own, or its pages)."""
    found: dict[int, Entry] = {}
    if not numbers:
        return found
    for number, entry in newest_first(bound, item, before=numbers.stop, client=client):
        if number < numbers.start:
            break
        found[number] = entry
    return found


def position(cursor: str | None, item: Mapping[str, Any], bound: Bound) -> int:
    """Where a history listing's page starts: below the oldest entry the previous page showed (its
    cursor's `before`), or at the newest entry."""
    total = bound.total(item)
    if cursor is None:
        return total
    before = cursor_count(cursor_fields(cursor), "before")
    if before > total:
        raise invalid("query.cursor", "is not a valid page cursor")
    return before


def listing(
    bound: Bound, item: Mapping[str, Any], *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[Entry], str | None]:
    """A page of the item's whole history, newest first, and the cursor of the next page: entries are
    numbered without gaps, so one follows exactly when the page's oldest is not entry 0."""
    before = position(cursor, item, bound)
    taken = list(islice(newest_first(bound, item, before=before, client=client), limit))
    last = taken[-1][0] if taken else 0
    return [entry for _, entry in taken], (encode_cursor({"before": str(last)}) if last > 0 else None)


def item_bytes(value: Any, name: str = "") -> int:
    """DynamoDB's size of an item (or of one attribute `name` with `value`): names and strings in UTF-8
    bytes, numbers about a byte per two digits, 3 bytes and 1 per element for lists and maps."""
    own = len(name.encode())
    if isinstance(value, Mapping):
        return own + 3 + sum(item_bytes(v, str(k)) + 1 for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return own + 3 + sum(item_bytes(v) + 1 for v in value)
    if isinstance(value, str):
        return own + len(value.encode())
    if isinstance(value, bytes):
        return own + len(value)
    if isinstance(value, (bool, type(None))):
        return own + 1
    if isinstance(value, (int, float, Decimal)):
        digits = len(str(abs(value)).replace(".", "").lstrip("0")) or 1
        return own + (digits + 1) // 2 + 1
    raise TypeError(f"no DynamoDB size for {type(value).__name__}")
