"""The delivery function's work: one queue message, one delivery, at most one attempt, whatever the delivery's
kind (common.integrations.delivery_kinds: a webhook's event, a sale's post), each kind giving its `Producer`.

A message carries a delivery to its next attempt (its round and attempt number) or restarts it. What
handling one does, from the delivery as stored (a consistent read):
- a message this function already handled (its id recorded with the attempt it made, then retried because
  what follows the attempt failed) repeats only what follows: the kind's own (a webhook endpoint's health and
  the admins' e-mail, once by a notice; a sold record's receiver id) and the next message; the receiver is
  not sent the delivery again;
- a message of an earlier round or attempt (a duplicate, or one a resend overtook) does nothing;
- a delivery not yet due is sent on again, delayed until it is due or by SQS's longest delay (15 minutes);
- a due delivery takes one of its target's ENDPOINT_SLOTS attempt slots (a webhook endpoint's, a buying
  company's; or waits for one, with growing delays) and then its own lease, both conditional writes: of two
  messages racing for one delivery one attempts and the other does nothing, and a slow or dead target holds
  at most ENDPOINT_SLOTS of the function's concurrency, so others' deliveries go on;
- the attempt's request is the kind's (signed with Standard Webhooks headers) and is sent by the outbound
  engine; it is recorded in the same write that releases the lease, with the next attempt's time or the end;
- a target that is gone or takes no deliveries (a disabled or deleted endpoint) gets no request: the delivery
  fails at once, explained in its log (a webhook's is resent with the others once the endpoint is enabled).
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from common.integrations import delivery_queue, delivery_schedule, sale_posts, webhook_posts
from common.integrations.deliveries import DeliveryStatus, create, delivery_key, new_item, next_round
from common.integrations.delivery_kinds import SALE, WEBHOOK, NotSent, Producer, Sent, Target, kind_of
from common.integrations.delivery_schedule import MAX_ATTEMPTS
from common.integrations.outbound import Attempt
from common.platform import clock, db
from common.platform.errors import Conflict
from common.platform.table_schema import TTL_ATTRIBUTE

# Attempts in flight at once per target (a webhook endpoint, a buying company).
ENDPOINT_SLOTS = 2
# How long a lease or slot holds: longer than the delivery function may run (its timeout is 30 seconds), so
# it is never taken from an attempt still running; a function stopped mid-attempt frees both after it.
LEASE = timedelta(seconds=60)
# The delivery function's metrics (per stage and service): the alarm on the failure rate reads the first two.
ATTEMPTS_METRIC = "WebhookAttempts"
FAILED_ATTEMPTS_METRIC = "WebhookAttemptFailures"
ATTEMPT_DURATION_METRIC = "WebhookAttemptDuration"
DELIVERED_METRIC = "WebhookDelivered"
FAILED_DELIVERIES_METRIC = "WebhookDeliveriesFailed"
# How the log explains a delivery that ended without a request because of its endpoint (not a failure of the
# endpoint's: its health is left alone).


@dataclass(frozen=True)
class Handled:
    """What handling one message came to: `outcome` names it; `attempt` is the one made now, if any."""

    outcome: str
    attempt: Attempt | None = None
    status: DeliveryStatus | None = None
    late_by: timedelta | None = None  # how long after it was due the attempt started


class _Refused(Conflict):
    pass


def handle(message: dict[str, Any], message_id: str, *, client: Any = None, sqs: Any = None) -> Handled:
    producer = PRODUCERS[kind_of(message)]
    if "restart" in message:
        item, restarted = _restarted(message, client=client)
        if not restarted:
            return Handled("left_pending")  # its own messages carry it
        message = delivery_queue.carrier(item)
    else:
        found = db.get(producer.key(message), consistent=True, client=client)
        if found is None:
            return Handled("gone")  # a webhook's: its event expired (30 days), and the delivery with it
        item = found
    if item.get("last_message_id") == message_id:
        last = Attempt.model_validate(item["attempts"][-1])
        return _after_attempt(producer, item, last, "resumed", client=client, sqs=sqs)
    if (item["round"], item["round_attempts"]) != (message["round"], message["attempt"]):
        return Handled("stale")
    if item["status"] != DeliveryStatus.PENDING:
        return Handled("done", status=DeliveryStatus(item["status"]))
    now = clock.now()
    due = _time(item["next_attempt_at"])
    if due > now:
        delivery_queue.send([(delivery_queue.carrier(item), delivery_schedule.hop_delay(due, now))], client=sqs)
        return Handled("not_due")
    try:
        target = producer.target(item, client)
    except NotSent as reason:
        return _not_sent(producer, item, str(reason), message_id, client=client)
    slot = _take_slot(producer, item, message_id, now, client=client)
    if slot is None:
        waits = int(message.get("waits", 0)) + 1
        carrier = delivery_queue.carrier(item, waits=waits)
        delivery_queue.send([(carrier, delivery_schedule.slot_wait(waits))], client=sqs)
        return Handled("waiting_for_slot")
    try:
        try:
            item = _lease(item, message_id, now, client=client)
        except _Refused:
            return Handled("in_flight")
        sent = producer.attempt(item, target, now, client)
        item = _record(producer, item, sent, message_id, client=client)
    finally:
        _release_slot(item, slot, message_id, client=client)
    handled = _after_attempt(producer, item, sent.attempt, "attempted", target=target, client=client, sqs=sqs)
    return Handled(handled.outcome, sent.attempt, handled.status, late_by=now - due)


# -- a restart ---------------------------------------------------------------------------------------


def _restarted(message: dict[str, Any], *, client: Any) -> tuple[db.Item, bool]:
    """The delivery a restart message names, restarted once per token: created when the endpoint never had
    it, a new round when it had ended. False for a pending one, left to its schedule (a restart message
    delivered again after it restarted the delivery carries it on, in case the first stopped there)."""
    org_id, endpoint_id, token = message["org_id"], message["endpoint_id"], message["restart"]
    key = delivery_key(org_id, endpoint_id, message["occurred_at"], message["event_id"])
    for _ in range(3):
        item = db.get(key, consistent=True, client=client)
        if item is None:
            fresh = new_item(
                org_id, endpoint_id, message["occurred_at"], message["event_id"], message["event_type"], clock.now()
            )
            created = create({**fresh, "restart_token": token}, client=client)
            if created is not None:
                return created, True
            continue
        if item.get("restart_token") == token:
            return item, True
        if item["status"] == DeliveryStatus.PENDING:
            return item, False
        try:
            update = next_round(item, clock.now(), restart_token=token)
            return db.update(key, **update, on_conflict=_Refused("changed"), client=client), True
        except _Refused:
            continue
    raise Conflict("the delivery kept changing while being restarted")


# -- slots and the lease -------------------------------------------------------------------------------


def _slot_key(item: db.Item, slot: int) -> db.Key:
    """A target's slots live in its deliveries' partition (a webhook endpoint's, a company's sales)."""
    return {"pk": item["pk"], "sk": f"SLOT#{slot}"}


def _take_slot(producer: Producer, item: db.Item, holder: str, now: datetime, *, client: Any) -> int | None:
    """One of the target's attempt slots (free, expired, or this message's own from an earlier try)."""
    for slot in random.sample(range(ENDPOINT_SLOTS), ENDPOINT_SLOTS):
        try:
            db.update(
                _slot_key(item, slot),
                expression="SET entity = :entity, holder = :holder, held_until = :until, #ttl = :ttl",
                condition="attribute_not_exists(held_until) OR held_until < :now OR holder = :holder",
                names={"#ttl": TTL_ATTRIBUTE},
                values={
                    ":entity": producer.slot_entity,
                    ":holder": holder,
                    ":until": clock.iso(now + LEASE),
                    ":now": clock.iso(now),
                    ":ttl": int((now + timedelta(days=1)).timestamp()),
                },
                on_conflict=_Refused("taken"),
                client=client,
            )
        except _Refused:
            continue
        return slot
    return None


def _release_slot(item: db.Item, slot: int, holder: str, *, client: Any) -> None:
    with contextlib.suppress(_Refused):
        db.update(
            _slot_key(item, slot),
            expression="REMOVE holder, held_until",
            condition="holder = :holder",
            values={":holder": holder},
            on_conflict=_Refused("not ours"),
            client=client,
        )


def _lease(item: db.Item, holder: str, now: datetime, *, client: Any) -> db.Item:
    return db.update(
        {"pk": item["pk"], "sk": item["sk"]},
        expression="SET lease_id = :holder, lease_until = :until",
        condition="#status = :pending AND #round = :round AND round_attempts = :attempt AND next_attempt_at <= :now "
        "AND (attribute_not_exists(lease_until) OR lease_until < :now OR lease_id = :holder)",
        names={"#status": "status", "#round": "round"},
        values={
            ":holder": holder,
            ":until": clock.iso(now + LEASE),
            ":pending": DeliveryStatus.PENDING.value,
            ":round": item["round"],
            ":attempt": item["round_attempts"],
            ":now": clock.iso(now),
        },
        on_conflict=_Refused("leased or changed"),
        client=client,
    )


# -- the record of an attempt -------------------------------------------------------------------------


def _not_sent(producer: Producer, item: db.Item, reason: str, message_id: str, *, client: Any) -> Handled:
    """End the delivery without a request (its target gone or taking no deliveries), saying why in its log."""
    now = clock.now()
    try:
        item = _lease(item, message_id, now, client=client)
    except _Refused:
        return Handled("in_flight")
    note = Attempt(at=clock.iso(now), status_code=None, duration_ms=0, excerpt=None, error=reason)
    _record(producer, item, Sent(note), message_id, final=True, client=client)
    return Handled("not_sent", status=DeliveryStatus.FAILED)


def _record(
    producer: Producer, item: db.Item, sent: Sent, message_id: str, *, final: bool = False, client: Any
) -> db.Item:
    """The attempt, in the write that releases the lease: the delivery succeeded, failed for good, or is
    due again after the schedule's wait; with what the kind records beside it."""
    attempt = sent.attempt
    made = int(item["round_attempts"]) + 1
    limit = producer.max_attempts(item)
    wait = None if final or attempt.succeeded or made >= limit else delivery_schedule.wait_after(made)
    if attempt.succeeded:
        status = DeliveryStatus.SUCCEEDED
    else:
        status = DeliveryStatus.PENDING if wait is not None else DeliveryStatus.FAILED
    values: dict[str, Any] = {
        ":status": status.value,
        ":attempts": [*item["attempts"], attempt.model_dump(mode="json")][-MAX_ATTEMPTS:],
        ":made": made,
        ":count": int(item["attempt_count"]) + 1,
        ":at": attempt.at,
        ":message": message_id,
        ":holder": message_id,
    }
    sets = [
        "#status = :status",
        "attempts = :attempts",
        "round_attempts = :made",
        "attempt_count = :count",
        "updated_at = :at",
        "last_message_id = :message",
    ]
    names = {"#status": "status"}
    removes = ["lease_id", "lease_until"]
    if wait is not None:
        # From the attempt's end: a retry 5 seconds after an attempt that took 15 is 5 seconds after it.
        sets.append("next_attempt_at = :next")
        values[":next"] = clock.iso(clock.now() + wait)
    else:
        removes.append("next_attempt_at")
    keys = producer.failed_keys(item) if status == DeliveryStatus.FAILED else None
    if keys:  # listed with the target's failed deliveries, to be resent with them
        sets += ["gsi1pk = :gsi1pk", "gsi1sk = :gsi1sk"]
        values |= {":gsi1pk": keys["gsi1pk"], ":gsi1sk": keys["gsi1sk"]}
    for n, (field, value) in enumerate(sent.recorded.items()):
        sets.append(f"#r{n} = :r{n}")
        names[f"#r{n}"], values[f":r{n}"] = field, value
    return db.update(
        {"pk": item["pk"], "sk": item["sk"]},
        expression=f"SET {', '.join(sets)} REMOVE {', '.join(removes)}",
        condition="lease_id = :holder",
        names=names,
        values=values,
        client=client,
    )


def _after_attempt(
    producer: Producer,
    item: db.Item,
    attempt: Attempt,
    outcome: str,
    *,
    target: Target | None = None,
    client: Any,
    sqs: Any,
) -> Handled:
    """What follows a recorded attempt, safe to repeat: the kind's own (a webhook endpoint's health, a sold
    record's receiver id), then the next message while the delivery is pending."""
    producer.after(item, attempt, outcome, target, client)
    status = DeliveryStatus(item["status"])
    if status == DeliveryStatus.PENDING:
        now = clock.now()
        delay = delivery_schedule.hop_delay(_time(item["next_attempt_at"]), now)
        delivery_queue.send([(delivery_queue.carrier(item), delay)], client=sqs)
    return Handled(outcome, status=status)


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


PRODUCERS: Mapping[str, Producer] = {WEBHOOK: webhook_posts.PRODUCER, SALE: sale_posts.PRODUCER}
