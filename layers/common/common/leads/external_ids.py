"""A record a partner company posts under its own id (a lead, a customer), written once per external id.

The record and a guard item keyed by (company, external id) are written in one transaction, the guard right
after the record; a repost, concurrent or not, fails on the guard and gets the first record back instead of a
second one. The guard names the record it stands for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from common.platform import db
from common.platform.errors import Conflict, DomainError

# Writes the new record with the guard given, in one transaction; its cancellation goes to the handler.
WriteWithGuard = Callable[[db.Item, db.CancelHandler], None]
GUARD_POSITION = 1  # the guard's place in the transaction: right after the record


class _Reposted(Conflict):
    """The external id was claimed already."""


def write_once(
    guard_key: db.Key,
    *,
    entity: str,
    id_field: str,
    record: db.Item,
    created_at: str,
    write: WriteWithGuard,
    record_key: Callable[[str], db.Key],
    client: Any = None,
) -> tuple[db.Item, bool]:
    """Write `record` (through `write`, with its guard) unless the external id was claimed before: then the
    first record. Returns the record and whether it was written now."""
    guard = {**guard_key, "entity": entity, id_field: record[id_field], "created_at": created_at}
    named: list[str | None] = []

    def on_cancel(failed: list[db.Item | None]) -> DomainError:
        found = failed[GUARD_POSITION] if len(failed) > GUARD_POSITION else None
        named.append(found.get(id_field) if found else None)
        return _Reposted("external id already used")

    try:
        write(guard, on_cancel)
    except _Reposted:
        first = first_record(guard_key, id_field, record_key, named[0] if named else None, client=client)
        if first is None:
            raise Conflict("the external id is being registered by a concurrent request; retry") from None
        return first, False
    return record, True


def first_record(
    guard_key: db.Key,
    id_field: str,
    record_key: Callable[[str], db.Key],
    record_id: str | None = None,
    *,
    client: Any = None,
) -> db.Item | None:
    """The record the external id's guard names (read from the guard unless DynamoDB returned it)."""
    if record_id is None:
        guard = db.get(guard_key, consistent=True, client=client)
        record_id = guard[id_field] if guard else None
    return db.get(record_key(record_id), consistent=True, client=client) if record_id else None
