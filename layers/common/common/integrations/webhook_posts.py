"""The webhook kind of the outbound engine (common.integrations.delivery_kinds): one attempt of an event's delivery
to an organisation's endpoint, and what follows it. The engine decides when, and records each attempt
(common.integrations.delivery_attempts); the deliveries themselves are common.integrations.deliveries.

An attempt reads the event and the endpoint as they are now and POSTs the event as JSON, signed with Standard
Webhooks headers by the endpoint's secrets (a rotated one beside the new for 24 hours). An endpoint deleted, or
disabled (a test event goes to it all the same), gets no request. After an attempt, the endpoint's health is
recorded, and the organisation's admins are told once when failures disabled it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from common.integrations import endpoint_mail, endpoints, events, outbound, signing
from common.integrations.deliveries import delivery_key, failed_keys
from common.integrations.delivery_kinds import NotSent, Producer, Sent
from common.integrations.delivery_schedule import MAX_ATTEMPTS
from common.integrations.endpoint_models import DisabledReason
from common.integrations.endpoints import TEST_EVENT_TYPE
from common.integrations.outbound import Attempt, OutboundRequest
from common.platform import clock, db, urls
from common.platform.errors import NotFound

ENDPOINT_DELETED = "not sent: the endpoint was deleted"
ENDPOINT_DISABLED = "not sent: the endpoint is disabled"


def _webhook_key(message: Mapping[str, Any]) -> db.Key:
    return delivery_key(message["org_id"], message["endpoint_id"], message["occurred_at"], message["event_id"])


def _endpoint(item: db.Item, client: Any) -> db.Item:
    """The delivery's endpoint; a deleted one, or one disabled (a test event goes to it all the same), gets no
    request."""
    try:
        endpoint = endpoints.get_endpoint(item["org_id"], item["endpoint_id"], client=client)
    except NotFound:
        raise NotSent(ENDPOINT_DELETED) from None
    if not endpoint.get("enabled") and item["event_type"] != TEST_EVENT_TYPE:
        raise NotSent(ENDPOINT_DISABLED)
    return endpoint


def _webhook_attempt(item: db.Item, endpoint: db.Item, now: datetime, client: Any) -> Sent:
    event = events.get(item["org_id"], item["occurred_at"], item["event_id"], client=client)
    if event is None:
        expired = Attempt(at=clock.iso(now), status_code=None, duration_ms=0, excerpt=None, error="the event expired")
        return Sent(expired)
    body = event.model_dump_json()
    headers = signing.headers(event.id, clock.now(), body, endpoints.signing_secrets(endpoint, now))
    request = OutboundRequest(str(endpoint["url"]), headers, body)
    return Sent(outbound.send(request, urls.OutboundPolicy.from_settings()))


def _webhook_limit(item: db.Item) -> int:
    return 1 if item["event_type"] == TEST_EVENT_TYPE else MAX_ATTEMPTS


def _webhook_failed_keys(item: db.Item) -> dict[str, str] | None:
    return None if item["event_type"] == TEST_EVENT_TYPE else failed_keys(item)


def _after_webhook(item: db.Item, attempt: Attempt, outcome: str, endpoint: db.Item | None, client: Any) -> None:
    """The endpoint's health (a test event's attempts leave it alone), and the admins told once when this
    failure disabled the endpoint.

    A success at an endpoint that was healthy when read before the attempt (`endpoint`, no `failing_since`)
    changes nothing, so nothing is written: most attempts succeed at healthy endpoints. Should a concurrent
    attempt's failure have started a failing period meanwhile, the endpoint's next success heals it."""
    healthy = endpoint is not None and not endpoint.get("failing_since")
    if (
        item["event_type"] != TEST_EVENT_TYPE
        and attempt.error not in (ENDPOINT_DELETED, ENDPOINT_DISABLED)
        and not (attempt.succeeded and healthy)
    ):
        health = endpoints.record_health(item["org_id"], item["endpoint_id"], attempt.succeeded, attempt.at)
        # Only the call whose failure disabled the endpoint learns it; a retry of that very message finds the
        # endpoint disabled at its attempt's time.
        if health.disabled_now or (outcome == "resumed" and _disabled_by(item, attempt, client=client)):
            endpoint_mail.tell_admins_disabled(item["org_id"], item["endpoint_id"], attempt.at, client=client)


def _disabled_by(item: db.Item, attempt: Attempt, *, client: Any) -> bool:
    try:
        endpoint = endpoints.get_endpoint(item["org_id"], item["endpoint_id"], client=client)
    except NotFound:
        return False
    return endpoint.get("disabled_reason") == DisabledReason.FAILING and endpoint.get("disabled_at") == attempt.at


PRODUCER = Producer(
    key=_webhook_key,
    target=_endpoint,
    attempt=_webhook_attempt,
    max_attempts=_webhook_limit,
    failed_keys=_webhook_failed_keys,
    after=_after_webhook,
    slot_entity="webhook_slot",
)
