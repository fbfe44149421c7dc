"""Webhook deliveries through the local stack, received on 127.0.0.1 by receivers that verify every request
with the Standard Webhooks library (their clock is the stack's): a receiver that fails the first attempts
and then answers 2xx gets the event once from its point of view (one webhook-id on every attempt), one that
never answers is given up on after 15 seconds and retried, both signatures of a rotation verify, and private
addresses are refused whatever the endpoint says, as on a deployed stage loopback is too.

Events are recorded and fanned out here, in the test's process, which has the functions' environment: what
IntegrationsEvents does with a table change. Endpoints are created with the endpoints module. The stack's
clock moves the retry schedule forward, and the delivery queue's delays move with it."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from common.integrations import deliveries, endpoints, events, outbound
from common.integrations.endpoint_models import ALL_EVENTS, NewWebhookEndpoint
from common.integrations.events import Event
from common.integrations.outbound import OutboundRequest
from common.platform import clock, db, ids, urls

from local.stack import LocalStack
from tests.integration.support import webhook_receiver
from tests.integration.support.webhook_receiver import HANG, Receiver

# The receiver, and this process on the stack's clock, as fixtures here.
receiver = webhook_receiver.receiver
stack_clock = webhook_receiver.stack_clock

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Endpoint:
    org_id: str
    endpoint_id: str
    secret: str


def an_endpoint(receiver: Receiver) -> Endpoint:
    org_id = ids.new_id()
    new = NewWebhookEndpoint(url=receiver.url, event_types=[ALL_EVENTS])
    item = endpoints.create_endpoint(org_id, new, "user:integration-test", policy=urls.OutboundPolicy.from_settings())
    receiver.secrets.append(item["secret"])
    return Endpoint(org_id, item["endpoint_id"], item["secret"])


def publish(endpoint: Endpoint, event_type: str = "lead.converted") -> Event:
    """What the events consumer does with a change: the event recorded, then fanned out."""
    event = Event(
        id=events.event_id(f"change-{ids.new_id()}", event_type),
        type=event_type,
        version=1,
        org_id=endpoint.org_id,
        occurred_at=clock.now_iso(),
        data={"lead_id": ids.new_id(), "status": "converted"},
    )
    assert events.record(event)
    assert deliveries.fan_out(event) == 1
    return event


def later(stack: LocalStack, seconds: float, *, wait: float = 30) -> None:
    """Move the stack's clock (and with it the delivery queue's delays), then let what became due go through."""
    stack.advance_clock(seconds)
    stack.wait_for_streams(wait)


def log_of(endpoint: Endpoint, event: Event) -> deliveries.DeliveryLog:
    return deliveries.get(endpoint.org_id, endpoint.endpoint_id, deliveries.delivery_id(event.occurred_at, event.id))


def test_a_receiver_failing_at_first_gets_the_event_once(stack: LocalStack, receiver: Receiver) -> None:
    receiver.answers = [500, 503, 204]
    endpoint = an_endpoint(receiver)
    event = publish(endpoint)
    stack.wait_for_streams(30)
    # The clock runs in real time too: by now the second attempt, due 5 to 6 seconds after the first, may
    # have been made; moving the clock makes sure.
    assert len(receiver.requests) >= 1
    later(stack, 10)
    assert len(receiver.requests) == 2
    later(stack, 400)  # the third, 5 to 6 minutes after the second

    assert len(receiver.requests) == 3
    assert all(r["verified"] == [True] for r in receiver.requests)
    assert {r["headers"]["webhook-id"] for r in receiver.requests} == {event.id}
    assert len({r["headers"]["webhook-timestamp"] for r in receiver.requests}) == 3  # each attempt's own time
    assert receiver.processed == [event.id]  # once, from its point of view
    assert json.loads(receiver.requests[-1]["body"]) == event.model_dump(mode="json")
    log = log_of(endpoint, event)
    assert log.status == "succeeded" and [a.status_code for a in log.attempts] == [500, 503, 204]
    later(stack, 3 * 86400)  # nothing more comes
    assert len(receiver.requests) == 3


def test_a_receiver_that_never_answers_is_given_up_on_and_retried(stack: LocalStack, receiver: Receiver) -> None:
    receiver.answers = [HANG, 204]
    endpoint = an_endpoint(receiver)
    event = publish(endpoint)
    stack.wait_for_streams(outbound.TIMEOUT + 30)

    attempt = log_of(endpoint, event).attempts[0]
    assert attempt.error == f"no complete answer within {outbound.TIMEOUT:g} s" and attempt.status_code is None
    assert attempt.duration_ms >= outbound.TIMEOUT * 1000
    later(stack, 10)  # the retry, 5 to 6 seconds after the attempt ended
    assert log_of(endpoint, event).status == "succeeded" and receiver.processed == [event.id]


def test_both_secrets_of_a_rotation_verify(stack: LocalStack, receiver: Receiver) -> None:
    endpoint = an_endpoint(receiver)
    rotated = endpoints.rotate_secret(endpoint.org_id, endpoint.endpoint_id, "user:integration-test")
    receiver.secrets.append(rotated["secret"])  # the receiver knows the old one and the new one
    event = publish(endpoint)
    stack.wait_for_streams(30)

    (request,) = receiver.requests
    assert len(request["headers"]["webhook-signature"].split(" ")) == 2
    assert request["verified"] == [True, True]  # each secret alone verifies the delivery
    assert receiver.processed == [event.id]


def test_private_addresses_are_refused(stack: LocalStack, receiver: Receiver) -> None:
    endpoint = an_endpoint(receiver)
    # The endpoint's URL now names a private address (stored before a policy change, say): it is checked
    # again at every delivery.
    db.update(
        endpoints.endpoint_key(endpoint.org_id, endpoint.endpoint_id),
        expression="SET #url = :url",
        names={"#url": "url"},
        values={":url": f"http://10.20.30.40:{receiver.port}/hooks"},
    )
    event = publish(endpoint)
    stack.wait_for_streams(30)
    attempt = log_of(endpoint, event).attempts[0]
    assert attempt.error and attempt.error.startswith("not sent:") and "private" in attempt.error
    assert receiver.requests == []

    # On a deployed stage's policy loopback is refused too, before any connection.
    body = event.model_dump_json()
    for url in (receiver.url, f"https://127.0.0.1:{receiver.port}/hooks"):
        refused = outbound.send(OutboundRequest(url, {"webhook-id": event.id}, body), urls.DEPLOYED)
        assert refused.error and refused.error.startswith("not sent:") and refused.status_code is None
    assert receiver.requests == []
