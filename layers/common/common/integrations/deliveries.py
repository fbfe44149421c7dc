"""Webhook deliveries: one per event and endpoint, its attempts log, and what an organisation's admins do
with them (the log, a resend, a replay of a time range, a test event, resending what failed).

A delivery item lives in its endpoint's partition, newest event last (`DELIVERY#<occurred_at>#<event id>`),
so the log is one query. It is `pending` until an attempt succeeds (`succeeded`) or the schedule ends
(`failed`, kept as long as its event, and listed in the sparse index of its endpoint's failed deliveries so
"resend what failed" reads those only). Attempts go in rounds: the first round starts when the event is fanned
out; a resend or replay starts another (`round`), with the schedule from the start. The attempts log keeps
the newest MAX_ATTEMPTS attempts (one round's worth); `attempt_count` counts them all.

The attempts themselves are made by the delivery function from the queue (common.integrations
.delivery_attempts); everything here only writes the item and hands messages on (common.integrations
.delivery_queue), so a request never waits on an endpoint.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from common.integrations import delivery_queue, endpoints, events
from common.integrations.delivery_schedule import MAX_ATTEMPTS
from common.integrations.endpoint_models import ALL_EVENTS
from common.integrations.endpoints import TEST_EVENT_TYPE
from common.integrations.events import Event
from common.integrations.outbound import Attempt
from common.platform import clock, db, ids, listings
from common.platform.answers import Answer, Page, Timestamp, page_of
from common.platform.errors import Conflict, NotFound, invalid
from common.platform.table_schema import TTL_ATTRIBUTE

ENTITY = "webhook_delivery"
# A test event (endpoints.TEST_EVENT_TYPE) goes to one endpoint on request and is attempted once; its data is
# WebhookTestData (published with the catalogue's types: common.integrations.event_docs).
TEST_EVENT_VERSION = 1
TEST_EVENT_DESCRIPTION = (
    "A test event, sent to one endpoint when an admin asks for it (never subscribed to): signed like every "
    "delivery, attempted once."
)
# One request hands on at most this many deliveries (replay, resend what failed); the answer says where to go on.
HAND_ON_LIMIT = 1000
FAILED_INDEX = "gsi1"
# The event's time without separators, then its id.
DELIVERY_ID_PATTERN = r"^[0-9]{8}T[0-9]{9}Z_" + events.EVENT_ID_PATTERN.removeprefix("^")
_DELIVERY_ID = re.compile(DELIVERY_ID_PATTERN)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class DeliveryLog(Answer):
    """One event's delivery to one endpoint, with its newest attempts."""

    delivery_id: str = Field(description="the event's time and id: the delivery's place in the endpoint's log")
    endpoint_id: str
    event_id: str = Field(description="the `webhook-id` of every attempt, resends included")
    event_type: str
    occurred_at: Timestamp
    status: DeliveryStatus = Field(
        description="pending: attempted again at next_attempt_at; succeeded: an attempt got a 2xx; failed: "
        "every attempt of the schedule (at least 3 days) failed, or the endpoint was disabled or deleted"
    )
    attempt_count: int = Field(ge=0, description="every attempt made, all rounds")
    attempts: list[Attempt] = Field(
        max_length=MAX_ATTEMPTS, description=f"the newest {MAX_ATTEMPTS} attempts, oldest first"
    )
    next_attempt_at: Timestamp | None = None
    created_at: Timestamp
    updated_at: Timestamp


class WebhookTestData(Answer):
    """The data of a test event: which endpoint it was sent to."""

    endpoint_id: str
    message: str


class ReplayRange(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"start": "2026-11-20T00:00:00Z", "end": "2026-11-21T00:00:00Z"}]},
    )
    start: AwareDatetime = Field(description="the first moment of the range")
    end: AwareDatetime = Field(description="the end of the range (not included)")


class HandedOn(Answer):
    """Deliveries handed on to be attempted again."""

    deliveries: int = Field(ge=0)
    next_start: Timestamp | None = Field(
        description=f"a replay hands on at most {HAND_ON_LIMIT} events; when more remain, replay again from here"
    )
    more: bool = Field(description=f"more remain than the {HAND_ON_LIMIT} one request hands on: ask again")


# -- items -------------------------------------------------------------------------------------------


def deliveries_partition(org_id: str, endpoint_id: str) -> str:
    return f"ORG#{org_id}#WEBHOOK#{endpoint_id}"


def delivery_key(org_id: str, endpoint_id: str, occurred_at: str, event_id: str) -> db.Key:
    return {"pk": deliveries_partition(org_id, endpoint_id), "sk": f"DELIVERY#{occurred_at}#{event_id}"}


def delivery_id(occurred_at: str, event_id: str) -> str:
    return f"{re.sub(r'[-:.]', '', occurred_at)}_{event_id}"


def _parse_delivery_id(value: str) -> tuple[str, str]:
    if not _DELIVERY_ID.match(value):
        raise NotFound(f"no delivery {value}")
    moment, event_id = value.split("_", 1)
    d = moment
    return f"{d[0:4]}-{d[4:6]}-{d[6:8]}T{d[9:11]}:{d[11:13]}:{d[13:15]}.{d[15:18]}Z", event_id


def failed_partition(org_id: str, endpoint_id: str) -> str:
    return f"{deliveries_partition(org_id, endpoint_id)}#FAILED"


def failed_keys(item: db.Item) -> dict[str, str]:
    """The failed-deliveries index keys of a delivery (set while it is failed)."""
    return {"gsi1pk": failed_partition(item["org_id"], item["endpoint_id"]), "gsi1sk": item["sk"]}


def engine_fields(at: str) -> db.Item:
    """What the delivery engine keeps on a new delivery of any kind (common.integrations.delivery_kinds): pending,
    in its first round, due at once."""
    return {
        "status": DeliveryStatus.PENDING.value,
        "round": 1,
        "round_started_at": at,
        "round_attempts": 0,
        "attempt_count": 0,
        "attempts": [],
        "next_attempt_at": at,
        "created_at": at,
        "updated_at": at,
    }


def new_item(org_id: str, endpoint_id: str, occurred_at: str, event_id: str, event_type: str, now: datetime) -> db.Item:
    at = clock.iso(now)
    kept_until = max(now, datetime.fromisoformat(occurred_at.replace("Z", "+00:00"))) + events.EVENT_RETENTION
    return {
        **delivery_key(org_id, endpoint_id, occurred_at, event_id),
        "entity": ENTITY,
        "delivery_id": delivery_id(occurred_at, event_id),
        "org_id": org_id,
        "endpoint_id": endpoint_id,
        "event_id": event_id,
        "event_type": event_type,
        "occurred_at": occurred_at,
        **engine_fields(at),
        # As long as its event: a resend needs the event.
        TTL_ATTRIBUTE: int(kept_until.timestamp()),
    }


def subscribes(endpoint: db.Item, event_type: str) -> bool:
    types = endpoint.get("event_types") or []
    return event_type != TEST_EVENT_TYPE and (ALL_EVENTS in types or event_type in types)


class _Exists(Conflict):
    pass


def create(item: db.Item, *, client: Any = None) -> db.Item | None:
    """Put a new delivery; None when it exists already. Each put is told apart by its own id, so only a retry of
    this very put (its answer lost) counts as this one's success."""
    item = {**item, "creation_id": ids.new_id()}
    try:
        db.put(item, condition="attribute_not_exists(pk)", on_conflict=_Exists("exists"), client=client)
    except _Exists:
        return None
    return item


# -- fan-out -----------------------------------------------------------------------------------------


def fan_out(event: Event, *, client: Any = None, sqs: Any = None) -> int:
    """A delivery of the event to every endpoint that subscribes to its type, each handed to the queue;
    returns how many were created now. A redelivered change creates none twice: the put is conditional,
    and a delivery that exists but was never attempted is handed on again (its first message may have been
    lost; a duplicate message does nothing twice)."""
    now, created, messages = clock.now(), 0, []
    for endpoint in endpoints.subscribers(event.org_id, event.type):
        endpoint_id = str(endpoint["endpoint_id"])
        item = create(new_item(event.org_id, endpoint_id, event.occurred_at, event.id, event.type, now), client=client)
        if item is not None:
            created += 1
        else:
            key = delivery_key(event.org_id, endpoint_id, event.occurred_at, event.id)
            item = db.get(key, consistent=True, client=client)
            if item is None or item["status"] != DeliveryStatus.PENDING or item["attempt_count"] > 0:
                continue
        messages.append((delivery_queue.carrier(item), 0))
    delivery_queue.send(messages, client=sqs)
    return created


# -- the log -----------------------------------------------------------------------------------------


def _endpoint(org_id: str, endpoint_id: str, *, client: Any = None) -> db.Item:
    return endpoints.get_endpoint(org_id, endpoint_id, client=client)


def _enabled(org_id: str, endpoint_id: str, *, client: Any = None) -> db.Item:
    endpoint = _endpoint(org_id, endpoint_id, client=client)
    if not endpoint.get("enabled"):
        raise Conflict("the endpoint is disabled: enable it first")
    return endpoint


def page(
    org_id: str, endpoint_id: str, cursor: str | None = None, *, limit: int = 50, client: Any = None
) -> Page[DeliveryLog]:
    """The endpoint's deliveries, newest event first."""
    _endpoint(org_id, endpoint_id, client=client)
    items, next_cursor = listings.query_prefix(
        deliveries_partition(org_id, endpoint_id),
        "DELIVERY#",
        cursor=cursor,
        limit=limit,
        newest_first=True,
        client=client,
    )
    return page_of(DeliveryLog, items, next_cursor)


def get(org_id: str, endpoint_id: str, delivery: str, *, client: Any = None) -> DeliveryLog:
    return DeliveryLog.of(_stored(org_id, endpoint_id, delivery, client=client))


def _stored(org_id: str, endpoint_id: str, delivery: str, *, client: Any = None) -> db.Item:
    _endpoint(org_id, endpoint_id, client=client)
    occurred_at, event_id = _parse_delivery_id(delivery)
    item = db.get(delivery_key(org_id, endpoint_id, occurred_at, event_id), consistent=True, client=client)
    if item is None:
        raise NotFound(f"no delivery {delivery}")
    return item


# -- doing it again ----------------------------------------------------------------------------------


def next_round(item: db.Item, now: datetime, **more: Any) -> dict[str, Any]:
    """The update that starts a delivery's next round (attempted at once, the schedule from its start)."""
    return {
        "expression": "SET #status = :pending, #round = :next, round_started_at = :now, round_attempts = :zero, "
        "next_attempt_at = :now, updated_at = :now"
        + "".join(f", {name} = :{name}" for name in more)
        + " REMOVE gsi1pk, gsi1sk",
        # Not while an attempt is in flight: its record would be refused.
        "condition": "#status = :read AND #round = :round "
        "AND (attribute_not_exists(lease_until) OR lease_until < :now)",
        "names": {"#status": "status", "#round": "round"},
        "values": {
            ":pending": DeliveryStatus.PENDING.value,
            ":next": int(item["round"]) + 1,
            ":now": clock.iso(now),
            ":zero": 0,
            ":read": item["status"],
            ":round": item["round"],
            **{f":{name}": value for name, value in more.items()},
        },
    }


def resend(org_id: str, endpoint_id: str, delivery: str, *, client: Any = None, sqs: Any = None) -> DeliveryLog:
    """Deliver a succeeded or failed delivery again: a new round, attempted at once, same `webhook-id`."""
    item = _stored(org_id, endpoint_id, delivery, client=client)
    if item["status"] == DeliveryStatus.PENDING:
        raise Conflict("the delivery is still pending: it is attempted again at its next_attempt_at")
    if item["event_type"] != TEST_EVENT_TYPE:
        _enabled(org_id, endpoint_id, client=client)
    update = next_round(item, clock.now())
    restarted = db.update(
        {"pk": item["pk"], "sk": item["sk"]},
        **update,
        on_conflict=Conflict("the delivery changed meanwhile (an attempt in flight): try again"),
        client=client,
    )
    delivery_queue.send([(delivery_queue.carrier(restarted), 0)], client=sqs)
    return DeliveryLog.of(restarted)


def replay(
    org_id: str, endpoint_id: str, start: datetime, end: datetime, *, client: Any = None, sqs: Any = None
) -> HandedOn:
    """Deliver again every event of [start, end) the endpoint subscribes to (creating the deliveries it
    never had), at most HAND_ON_LIMIT per request."""
    if end <= start:
        raise invalid("body.end", "must be after start")
    endpoint = _enabled(org_id, endpoint_id, client=client)
    token = ids.new_id()
    messages: list[tuple[delivery_queue.Message, int]] = []
    cursor: str | None = None
    next_start: str | None = None
    while next_start is None:
        found, cursor = events.between(org_id, clock.iso(start), clock.iso(end), cursor=cursor)
        for event in found:
            if not subscribes(endpoint, event.type):
                continue
            if len(messages) == HAND_ON_LIMIT:
                next_start = event.occurred_at
                break
            messages.append(
                (delivery_queue.restart(org_id, endpoint_id, event.occurred_at, event.id, event.type, token), 0)
            )
        if cursor is None:
            break
    delivery_queue.send(messages, client=sqs)
    return HandedOn(deliveries=len(messages), next_start=next_start, more=next_start is not None)


def failed_count(org_id: str, endpoint_id: str, *, client: Any = None) -> int:
    """How many of the endpoint's deliveries are failed (what re-enabling it offers to resend)."""
    index = listings.IndexKey(FAILED_INDEX, failed_partition(org_id, endpoint_id))
    return sum(len(items) for items in listings.index_pages(index, client=client))


def resend_failed(org_id: str, endpoint_id: str, *, client: Any = None, sqs: Any = None) -> HandedOn:
    """Deliver again the endpoint's failed deliveries (after it was enabled again), at most HAND_ON_LIMIT
    per request, oldest first."""
    _enabled(org_id, endpoint_id, client=client)
    token = ids.new_id()
    index = listings.IndexKey(FAILED_INDEX, failed_partition(org_id, endpoint_id))
    messages: list[tuple[delivery_queue.Message, int]] = []
    more = False
    for items in listings.index_pages(index, client=client):
        for item in items:
            if len(messages) == HAND_ON_LIMIT:
                more = True
                break
            message = delivery_queue.restart(
                org_id, endpoint_id, item["occurred_at"], item["event_id"], item["event_type"], token
            )
            messages.append((message, 0))
        if more:
            break
    delivery_queue.send(messages, client=sqs)
    return HandedOn(deliveries=len(messages), next_start=None, more=more)


def send_test(org_id: str, endpoint_id: str, *, client: Any = None, sqs: Any = None) -> DeliveryLog:
    """A `webhook.test` event to this endpoint only (enabled or not), attempted once."""
    _endpoint(org_id, endpoint_id, client=client)
    now = clock.now()
    event = Event(
        id=events.event_id(f"test#{ids.new_id()}", TEST_EVENT_TYPE),
        type=TEST_EVENT_TYPE,
        version=TEST_EVENT_VERSION,
        org_id=org_id,
        occurred_at=clock.iso(now),
        data=WebhookTestData(endpoint_id=endpoint_id, message="A test event, sent on request").model_dump(),
    )
    events.record(event, client=client)
    item = new_item(org_id, endpoint_id, event.occurred_at, event.id, event.type, now)
    db.put(item, condition="attribute_not_exists(pk)", client=client)
    delivery_queue.send([(delivery_queue.carrier(item), 0)], client=sqs)
    return DeliveryLog.of(item)
