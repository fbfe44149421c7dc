"""An event: one change an organisation's other systems may consume, stored once per change and delivered
to every webhook endpoint that subscribes to its type.

The envelope is the same for every type (`Event`); its `data` is the answer model the catalogue names for
the type (common.integrations.catalogue), the resource as an admin of the organisation reads it. An event's
id derives from the change that caused it (the stream record's id and the type), so however often a change
is redelivered it is recorded once (a conditional put) and its deliveries carry one `webhook-id`.

Events are kept EVENT_RETENTION (TTL) for replays and resends; one organisation's events are one partition,
newest last, so a time range is one query.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from common.platform import clock, db, listings
from common.platform.answers import Timestamp
from common.platform.errors import Conflict
from common.platform.table_schema import TTL_ATTRIBUTE
from common.platform.validation import EntityId

ENTITY = "event"
EVENT_RETENTION = timedelta(days=30)
ID_PREFIX = "evt_"
ID_LENGTH = 26  # base32 characters of the digest after the prefix
EVENT_ID_PATTERN = rf"^{ID_PREFIX}[a-z2-7]{{{ID_LENGTH}}}$"
# `<resource>.<change>`: lower-case words (joined by underscores) separated by a dot.
TYPE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"
MAX_TYPE_LENGTH = 100
EventId = Annotated[str, StringConstraints(pattern=EVENT_ID_PATTERN)]
EventTypeName = Annotated[str, StringConstraints(max_length=MAX_TYPE_LENGTH, pattern=TYPE_PATTERN)]


class Event(BaseModel):
    """What every delivery's body holds: the envelope, and the resource's data as its type defines it."""

    model_config = ConfigDict(extra="ignore", json_schema_serialization_defaults_required=True)

    id: EventId = Field(description="the event's id, also the `webhook-id` of every delivery of it: deduplicate on it")
    type: EventTypeName = Field(description="`<resource>.<change>`, e.g. `lead.converted`")
    version: int = Field(description="the version of the type's `data` schema")
    org_id: EntityId = Field(description="the organisation whose change it is")
    occurred_at: Timestamp = Field(description="when the change happened")
    data: dict[str, Any] = Field(description="the resource, as the type's schema describes it")


def event_id(change_id: str, event_type: str) -> str:
    """The id of the event of type `event_type` that the change `change_id` (a stream record's eventID) caused:
    the same for every redelivery of that change."""
    digest = hashlib.sha256(f"{change_id}#{event_type}".encode()).digest()
    return ID_PREFIX + base64.b32encode(digest).decode().rstrip("=").lower()[:ID_LENGTH]


def events_partition(org_id: str) -> str:
    return f"ORG#{org_id}#EVENTS"


def event_key(org_id: str, occurred_at: str, event_id: str) -> db.Key:
    return {"pk": events_partition(org_id), "sk": f"EVENT#{occurred_at}#{event_id}"}


def record(event: Event, *, client: Any = None) -> bool:
    """Store the event unless it is stored already; whether this call stored it."""
    item = {
        **event_key(event.org_id, event.occurred_at, event.id),
        "entity": ENTITY,
        **event.model_dump(mode="json"),
        TTL_ATTRIBUTE: int((clock.now() + EVENT_RETENTION).timestamp()),
    }
    try:
        db.put(
            item, condition="attribute_not_exists(pk)", on_conflict=_AlreadyRecorded("recorded already"), client=client
        )
    except _AlreadyRecorded:
        return False
    return True


def get(org_id: str, occurred_at: str, event_id: str, *, client: Any = None) -> Event | None:
    item = db.get(event_key(org_id, occurred_at, event_id), client=client)
    return Event.model_validate(item) if item else None


def between(
    org_id: str, start: str, end: str, *, cursor: str | None = None, limit: int = 100
) -> tuple[list[Event], str | None]:
    """The organisation's events that occurred in [start, end), oldest first, a page at a time."""
    items, next_cursor = listings.query(
        key_condition="pk = :pk AND sk BETWEEN :start AND :end",
        # BETWEEN is inclusive; the end's own second is excluded below.
        values={":pk": events_partition(org_id), ":start": f"EVENT#{start}", ":end": f"EVENT#{end}"},
        cursor=cursor,
        limit=limit,
    )
    return [Event.model_validate(i) for i in items if i["sk"] < f"EVENT#{end}"], next_cursor


class _AlreadyRecorded(Conflict):
    """The event is stored already: an earlier delivery of its change recorded it."""
