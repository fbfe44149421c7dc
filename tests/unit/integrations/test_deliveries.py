"""Deliveries with moto: fan-out, the attempt and its record, the schedule followed through hops, one attempt
in flight, messages delivered twice doing nothing twice, the endpoint disabled after five days of failures
(its admins told once), secret rotation, resends, replays, test events and the log."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from common.integrations import deliveries, delivery_attempts, delivery_schedule
from common.integrations.deliveries import DeliveryStatus
from common.integrations.delivery_attempts import Handled, handle
from common.orgs.access import member_key
from common.platform import clock, db, ids, listings
from common.platform.errors import Conflict, InvalidInput, NotFound
from jsonschema import Draft202012Validator
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from local import event_schemas
from tests.unit.conftest import FrozenClock
from tests.unit.integrations.delivery_fakes import (
    OLD_SECRET,
    ORG,
    SECRET,
    FakeEndpoints,
    Queue,
    Receiver,
    an_event,
    verify,
)

EP = "01JENDP0000000000000000001"
OTHER = "01JENDP0000000000000000002"


def stored(event_id: str, endpoint_id: str = EP) -> dict[str, Any]:
    (item,) = [
        i
        for i in listings.all_with_prefix(deliveries.deliveries_partition(ORG, endpoint_id), "DELIVERY#")
        if i["event_id"] == event_id
    ]
    return item


def deliver(queue: Queue, *, message_ids: list[str] | None = None) -> list[Handled]:
    """Handle every message sent so far (each with a new message id, unless given)."""
    handled = []
    for n, (message, _) in enumerate(queue.take()):
        message_id = message_ids[n] if message_ids else ids.new_id()
        handled.append(handle(message, message_id))
    return handled


def until_settled(
    queue: Queue, frozen_clock: FrozenClock, limit: int = 200, until: datetime | None = None
) -> list[Handled]:
    """Follow the messages as SQS would, in the order they become visible (the clock moves to each), until
    none is left (or the next would be visible after `until`)."""
    handled = []
    for _ in range(limit):
        upcoming = queue.next(until)
        if upcoming is None:
            return handled
        message, visible_at = upcoming
        frozen_clock.moment = max(frozen_clock.moment, visible_at)
        handled.append(handle(message, ids.new_id()))
    raise AssertionError("still going")


@pytest.fixture
def endpoint(fake_endpoints: FakeEndpoints) -> dict[str, Any]:
    return fake_endpoints.add(EP)


# -- fan-out ------------------------------------------------------------------------------------------


def test_fan_out_creates_one_delivery_per_subscribed_endpoint(fake_endpoints: FakeEndpoints, queue: Queue) -> None:
    fake_endpoints.add(EP)
    fake_endpoints.add(OTHER, types=["deal.created"])
    event = an_event("lead.converted")
    assert deliveries.fan_out(event) == 1
    ((message, delay),) = queue.take()
    assert delay == 0 and message == {
        "org_id": ORG,
        "endpoint_id": EP,
        "occurred_at": event.occurred_at,
        "event_id": event.id,
        "round": 1,
        "attempt": 0,
    }
    item = stored(event.id)
    assert item["status"] == "pending" and item["attempts"] == [] and item["next_attempt_at"] == event.occurred_at


def test_a_redelivered_change_creates_nothing_twice(endpoint: dict[str, Any], queue: Queue, receiver: Receiver) -> None:
    event = an_event()
    assert deliveries.fan_out(event) == 1
    first = queue.take()
    # Not attempted yet: its first message may have been lost, so it is handed on again.
    assert deliveries.fan_out(event) == 0
    assert queue.take() == first
    handle(first[0][0], ids.new_id())
    assert deliveries.fan_out(event) == 0 and queue.take() == []
    assert len(receiver.requests) == 1


def test_fan_out_sends_to_the_real_queue(endpoint: dict[str, Any], sqs_queue: str) -> None:
    event = an_event()
    deliveries.fan_out(event)
    (message,) = boto3.client("sqs").receive_message(QueueUrl=sqs_queue, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(message["Body"])["event_id"] == event.id


# -- attempts -----------------------------------------------------------------------------------------


def test_a_delivery_is_signed_sent_and_recorded(endpoint: dict[str, Any], queue: Queue, receiver: Receiver) -> None:
    event = an_event()
    deliveries.fan_out(event)
    (handled,) = deliver(queue)
    assert handled.outcome == "attempted" and handled.status == DeliveryStatus.SUCCEEDED
    (request,) = receiver.requests
    assert request.url == endpoint["url"] and request.body == event.model_dump_json()
    assert request.headers["webhook-id"] == event.id
    assert verify(SECRET, request.body, request.headers) == json.loads(event.model_dump_json())
    item = stored(event.id)
    assert item["status"] == "succeeded" and item["attempt_count"] == 1 and "next_attempt_at" not in item
    assert "lease_id" not in item and item["attempts"][0]["status_code"] == 200
    assert queue.sent == []


def test_rotation_signs_with_both_secrets(fake_endpoints: FakeEndpoints, queue: Queue, receiver: Receiver) -> None:
    fake_endpoints.add(EP, secrets=[SECRET, OLD_SECRET])
    event = an_event()
    deliveries.fan_out(event)
    deliver(queue)
    (request,) = receiver.requests
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (SECRET, OLD_SECRET):
        assert verify(secret, request.body, request.headers)


def test_a_failed_attempt_is_retried_on_schedule(
    endpoint: dict[str, Any], queue: Queue, receiver: Receiver, frozen_clock: FrozenClock
) -> None:
    receiver.answers = [503, "no complete answer within 15 s", 200]
    event = an_event()
    deliveries.fan_out(event)
    deliver(queue)
    item = stored(event.id)
    assert item["status"] == "pending" and item["round_attempts"] == 1
    wait = clock.iso(frozen_clock() + timedelta(seconds=5))
    assert wait <= item["next_attempt_at"] <= clock.iso(frozen_clock() + timedelta(seconds=6))
    ((message, delay),) = queue.sent
    assert message["attempt"] == 1 and delay in (5, 6)
    handled = until_settled(queue, frozen_clock)
    assert [h.outcome for h in handled] == ["attempted", "attempted"]
    item = stored(event.id)
    assert item["status"] == "succeeded" and item["attempt_count"] == 3
    assert [a["status_code"] for a in item["attempts"]] == [503, None, 200]
    assert {r.headers["webhook-id"] for r in receiver.requests} == {event.id}  # one id for every attempt


def test_the_endpoints_health_is_written_only_when_an_attempt_changes_it(
    fake_endpoints: FakeEndpoints, queue: Queue, receiver: Receiver, frozen_clock: FrozenClock
) -> None:
    endpoint = fake_endpoints.add(EP)
    # A success at an endpoint that was healthy when read: nothing to record.
    deliveries.fan_out(an_event())
    deliver(queue)
    assert fake_endpoints.health == []
    # A failure starts a failing period; the success after it ends it.
    receiver.answers, receiver.requests = [500, 200], []
    deliveries.fan_out(an_event())
    until_settled(queue, frozen_clock)
    assert [succeeded for _, succeeded, _ in fake_endpoints.health] == [False, True]
    assert "failing_since" not in endpoint


def test_a_delivery_not_due_hops_at_most_fifteen_minutes_at_a_time(
    endpoint: dict[str, Any], queue: Queue, receiver: Receiver, frozen_clock: FrozenClock
) -> None:
    receiver.answers = [500] * 4 + [200]
    event = an_event()
    deliveries.fan_out(event)
    delays: list[int] = []
    handled: list[Handled] = []
    while upcoming := queue.next():
        message, visible_at = upcoming
        delays.append(int((visible_at - frozen_clock()).total_seconds()))
        frozen_clock.moment = visible_at
        handled.append(handle(message, ids.new_id()))
    assert max(delays) == delivery_schedule.MAX_DELAY
    # 5 s and 5 minutes in one hop each, 30 minutes in 2 or 3, 2 hours in 8 to 10.
    outcomes = [h.outcome for h in handled]
    assert outcomes.count("attempted") == 5 and 10 <= outcomes.count("not_due") <= 13
    assert len(receiver.requests) == 5 and stored(event.id)["status"] == "succeeded"


def test_every_attempt_failing_ends_the_delivery_after_three_days(
    endpoint: dict[str, Any], queue: Queue, receiver: Receiver, frozen_clock: FrozenClock
) -> None:
    receiver.answers = [500]
    start = frozen_clock()
    event = an_event()
    deliveries.fan_out(event)
    until_settled(queue, frozen_clock, limit=1000)
    item = stored(event.id)
    assert item["status"] == "failed" and item["attempt_count"] == 11 == len(item["attempts"])
    assert clock.iso(start + timedelta(days=3)) <= item["attempts"][-1]["at"]
    assert item["gsi1pk"] == deliveries.failed_partition(ORG, EP)
    assert deliveries.failed_count(ORG, EP) == 1


# -- one attempt at a time, once ------------------------------------------------------------------------


def test_of_two_racing_messages_one_attempts(endpoint: dict[str, Any], queue: Queue, receiver: Receiver) -> None:
    event = an_event()
    deliveries.fan_out(event)
    ((message, _),) = queue.take()
    raced: list[Handled] = []
    # While the first message's attempt is in flight, a duplicate of it arrives.
    receiver.during = lambda: raced.append(handle(message, "second"))
    first = handle(message, "first")
    assert first.outcome == "attempted" and [h.outcome for h in raced] == ["in_flight"]
    assert len(receiver.requests) == 1 and stored(event.id)["attempt_count"] == 1
    # The slot the loser took is free again: both slots are.
    for slot in range(delivery_attempts.ENDPOINT_SLOTS):
        held = db.get({"pk": deliveries.deliveries_partition(ORG, EP), "sk": f"SLOT#{slot}"})
        assert held is None or "holder" not in held


def test_a_redelivered_message_does_nothing_twice(
    fake_endpoints: FakeEndpoints, queue: Queue, receiver: Receiver
) -> None:
    fake_endpoints.add(EP)
    receiver.answers = [500]
    event = an_event()
    deliveries.fan_out(event)
    ((message, _),) = queue.take()
    handle(message, "m-1")
    after_first = stored(event.id)
    carrier = queue.take()
    # SQS delivers the same message again (the function failed after the attempt, say).
    again = handle(message, "m-1")
    assert again.outcome == "resumed" and len(receiver.requests) == 1
    assert stored(event.id) == after_first
    assert queue.take() == carrier  # the next message is sent again (a duplicate of it does nothing twice)
    # A copy of the old message with another id is stale.
    assert handle(message, "m-2").outcome == "stale" and len(receiver.requests) == 1


def test_a_busy_endpoint_makes_deliveries_wait_for_a_slot(
    endpoint: dict[str, Any], queue: Queue, receiver: Receiver, frozen_clock: FrozenClock
) -> None:
    event = an_event()
    deliveries.fan_out(event)
    for slot in range(delivery_attempts.ENDPOINT_SLOTS):
        db.put(
            {
                "pk": deliveries.deliveries_partition(ORG, EP),
                "sk": f"SLOT#{slot}",
                "holder": f"other-{slot}",
                "held_until": clock.iso(frozen_clock() + timedelta(seconds=30)),
            }
        )
    (handled,) = deliver(queue)
    assert handled.outcome == "waiting_for_slot" and receiver.requests == []
    ((message, delay),) = queue.sent
    assert message["waits"] == 1 and 4 <= delay <= 6
    frozen_clock.advance(seconds=61)  # the holders' time is up
    assert [h.outcome for h in until_settled(queue, frozen_clock)] == ["attempted"]


# -- the endpoint's health ----------------------------------------------------------------------------


@pytest.mark.cognito
def test_five_days_of_failures_disable_the_endpoint_and_tell_its_admins_once(
    fake_endpoints: FakeEndpoints,
    queue: Queue,
    receiver: Receiver,
    frozen_clock: FrozenClock,
    aws: dict[str, Any],
) -> None:
    endpoint = fake_endpoints.add(EP, description="CRM")
    cognito = boto3.client("cognito-idp")
    admins = {}
    for n, role in enumerate(["admin", "staff", "admin"]):
        email = f"member{n}@org.example"
        user = cognito.admin_create_user(
            UserPoolId=aws["pool_id"], Username=email, UserAttributes=[{"Name": "email", "Value": email}]
        )["User"]
        sub = next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub")
        db.put({**member_key(ORG, sub), "entity": "member", "user_id": sub, "role": role, "org_id": ORG})
        admins[email] = role
    db.put({"pk": f"ORG#{ORG}", "sk": "ORG", "org_id": ORG, "name": "Acme"})
    receiver.answers = [500]
    # A new event every day: each delivery fails for three days, the endpoint for five.
    for _ in range(6):
        deliveries.fan_out(an_event())
        day_end = frozen_clock() + timedelta(days=1)
        until_settled(queue, frozen_clock, limit=5000, until=day_end)
        frozen_clock.moment = day_end
    until_settled(queue, frozen_clock, limit=5000)
    assert endpoint["enabled"] is False
    disabled_at = endpoint["disabled_at"]
    assert disabled_at >= clock.iso(clock.now() - timedelta(days=9))
    sent = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    told = [m for m in sent if "webhook endpoint was disabled" in m.subject]
    assert sorted(d for m in told for d in m.destinations["ToAddresses"]) == sorted(
        e for e, r in admins.items() if r == "admin"
    )
    assert "CRM" in told[0].body and endpoint["url"] not in told[0].body
    # No request reached the disabled endpoint; what was still pending failed, saying why.
    failed_after = [
        i
        for i in listings.all_with_prefix(deliveries.deliveries_partition(ORG, EP), "DELIVERY#")
        if i["attempts"][-1]["at"] > disabled_at
    ]
    assert failed_after and all(
        i["attempts"][-1]["error"] == "not sent: the endpoint is disabled" for i in failed_after
    )
    requests = len(receiver.requests)
    # A redelivered message of the disabling attempt tells nobody again.
    (item,) = [
        i
        for i in listings.all_with_prefix(deliveries.deliveries_partition(ORG, EP), "DELIVERY#")
        if i["attempts"] and any(a["at"] == disabled_at for a in i["attempts"])
    ]
    handle(deliveries_message(item), item["last_message_id"])
    sent = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    assert len([m for m in sent if "webhook endpoint was disabled" in m.subject]) == 2
    # Enabled again, what failed is resent, and now received.
    endpoint["enabled"] = True
    receiver.answers = [200]
    queue.take()
    handed_on = deliveries.resend_failed(ORG, EP)
    assert handed_on.deliveries == 6 and handed_on.more is False
    until_settled(queue, frozen_clock)
    assert len(receiver.requests) == requests + 6
    assert deliveries.failed_count(ORG, EP) == 0


def deliveries_message(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "org_id": item["org_id"],
        "endpoint_id": item["endpoint_id"],
        "occurred_at": item["occurred_at"],
        "event_id": item["event_id"],
        "round": item["round"],
        "attempt": item["round_attempts"] - 1,
    }


def test_a_deleted_endpoint_gets_nothing(fake_endpoints: FakeEndpoints, queue: Queue, receiver: Receiver) -> None:
    fake_endpoints.add(EP)
    event = an_event()
    deliveries.fan_out(event)
    del fake_endpoints.items[EP]
    (handled,) = deliver(queue)
    assert handled.outcome == "not_sent" and receiver.requests == [] and fake_endpoints.health == []
    assert stored(event.id)["attempts"][-1]["error"] == "not sent: the endpoint was deleted"


# -- again, on request --------------------------------------------------------------------------------


def test_a_resend_is_a_new_round_with_the_same_webhook_id(
    endpoint: dict[str, Any], queue: Queue, receiver: Receiver, frozen_clock: FrozenClock
) -> None:
    event = an_event()
    deliveries.fan_out(event)
    deliver(queue)
    delivery_id = deliveries.delivery_id(event.occurred_at, event.id)
    log = deliveries.resend(ORG, EP, delivery_id)
    assert log.status == "pending" and log.attempt_count == 1
    ((message, delay),) = queue.sent
    assert message["round"] == 2 and message["attempt"] == 0 and delay == 0
    with pytest.raises(Conflict):
        deliveries.resend(ORG, EP, delivery_id)  # still pending
    until_settled(queue, frozen_clock)
    item = stored(event.id)
    assert item["status"] == "succeeded" and item["attempt_count"] == 2 and item["round"] == 2
    assert [r.headers["webhook-id"] for r in receiver.requests] == [event.id, event.id]
    # The first round's message, arriving late, is stale.
    assert handle({**message, "round": 1}, "late").outcome == "stale"


def test_the_attempts_log_stays_bounded(
    fake_endpoints: FakeEndpoints, queue: Queue, receiver: Receiver, frozen_clock: FrozenClock
) -> None:
    fake_endpoints.add(EP)
    fake_endpoints.disable_after_days = 30
    receiver.answers = [500]
    event = an_event()
    deliveries.fan_out(event)
    until_settled(queue, frozen_clock, limit=1000)
    deliveries.resend(ORG, EP, deliveries.delivery_id(event.occurred_at, event.id))
    until_settled(queue, frozen_clock, limit=1000)
    item = stored(event.id)
    assert item["attempt_count"] == 22 and len(item["attempts"]) == delivery_schedule.MAX_ATTEMPTS
    assert item["attempts"][0]["at"] >= item["round_started_at"]  # the newest: the second round's


def test_replay_delivers_a_time_range_again(
    fake_endpoints: FakeEndpoints, queue: Queue, receiver: Receiver, frozen_clock: FrozenClock
) -> None:
    start = frozen_clock()
    fake_endpoints.add(EP, types=["lead.converted"])
    delivered = an_event("lead.converted")
    deliveries.fan_out(delivered)
    until_settled(queue, frozen_clock)
    frozen_clock.advance(minutes=1)
    before_subscribing = an_event("lead.converted")  # no delivery: say the endpoint was disabled then
    an_event("deal.created")  # not subscribed
    frozen_clock.advance(hours=1)
    an_event("lead.converted")  # after the range
    handed_on = deliveries.replay(ORG, EP, start, start + timedelta(minutes=30))
    assert handed_on.deliveries == 2 and handed_on.more is False and handed_on.next_start is None
    messages = [m for m, _ in queue.sent]
    assert {m["event_id"] for m in messages} == {delivered.id, before_subscribing.id}
    until_settled(queue, frozen_clock)
    assert stored(delivered.id)["round"] == 2 and stored(before_subscribing.id)["status"] == "succeeded"
    assert len(receiver.requests) == 3
    # The same restart message delivered twice restarts once.
    handle(messages[0], "again")
    assert len(receiver.requests) == 3
    with pytest.raises(InvalidInput):
        deliveries.replay(ORG, EP, start, start)


def test_a_replay_leaves_a_pending_delivery_to_its_schedule(
    endpoint: dict[str, Any], queue: Queue, receiver: Receiver, frozen_clock: FrozenClock
) -> None:
    receiver.answers = [500]
    start = frozen_clock()
    event = an_event()
    deliveries.fan_out(event)
    deliver(queue)  # failed once, due again in 5 seconds
    carriers = queue.take()
    deliveries.replay(ORG, EP, start, start + timedelta(minutes=1))
    assert [h.outcome for h in deliver(queue)] == ["left_pending"]
    assert queue.sent == [] and len(receiver.requests) == 1
    assert stored(event.id)["round"] == 1 and len(carriers) == 1


def test_a_replay_hands_on_a_bounded_number(
    endpoint: dict[str, Any], queue: Queue, monkeypatch: pytest.MonkeyPatch, frozen_clock: FrozenClock
) -> None:
    monkeypatch.setattr(deliveries, "HAND_ON_LIMIT", 3)
    start = frozen_clock()
    moments = []
    for _ in range(5):
        moments.append(an_event().occurred_at)
        frozen_clock.advance(seconds=1)
    handed_on = deliveries.replay(ORG, EP, start, frozen_clock())
    assert handed_on.deliveries == 3 and handed_on.more and handed_on.next_start == moments[3]


def test_a_test_event_goes_to_one_endpoint_once(
    fake_endpoints: FakeEndpoints, queue: Queue, receiver: Receiver, frozen_clock: FrozenClock
) -> None:
    fake_endpoints.add(EP, enabled=False)  # a test checks a receiver before it is enabled again
    fake_endpoints.add(OTHER)
    receiver.answers = [500]
    log = deliveries.send_test(ORG, EP)
    assert log.event_type == "webhook.test" and log.status == "pending"
    until_settled(queue, frozen_clock)
    (request,) = receiver.requests
    assert json.loads(request.body)["type"] == "webhook.test" and request.url.endswith(EP)
    # Its body is the published test event (the document's webhooks and docs/events).
    published = json.loads((event_schemas.SCHEMAS_DIR / "webhook.test.v1.json").read_text())
    Draft202012Validator(published).validate(json.loads(request.body))
    assert deliveries.get(ORG, EP, log.delivery_id).status == "failed"  # attempted once
    assert fake_endpoints.health == []  # a test says nothing about the endpoint's health
    assert deliveries.failed_count(ORG, EP) == 0  # not among what "resend what failed" resends


def test_the_log_is_newest_first_and_scoped_to_the_endpoint(
    fake_endpoints: FakeEndpoints, queue: Queue, receiver: Receiver, frozen_clock: FrozenClock
) -> None:
    fake_endpoints.add(EP)
    first = an_event()
    frozen_clock.advance(seconds=1)
    second = an_event()
    for event in (first, second):
        deliveries.fan_out(event)
    page = deliveries.page(ORG, EP, limit=1)
    assert [d.event_id for d in page.items] == [second.id] and page.next_cursor
    rest = deliveries.page(ORG, EP, page.next_cursor, limit=1)
    assert [d.event_id for d in rest.items] == [first.id] and rest.next_cursor is None
    with pytest.raises(NotFound):
        deliveries.page(ORG, OTHER)
    with pytest.raises(NotFound):
        deliveries.get(ORG, EP, "not-a-delivery")
    with pytest.raises(NotFound):
        deliveries.get(ORG, EP, deliveries.delivery_id(first.occurred_at, second.id))
