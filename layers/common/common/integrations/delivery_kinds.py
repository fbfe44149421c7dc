"""The kinds of delivery the one outbound engine makes, and what each kind gives it.

The engine (common.integrations.delivery_attempts) owns what every delivery goes through: the delivery queue and
its messages, the retry schedule with its jitter, the target's attempt slots, the delivery's lease, the
attempts log and the record of each attempt (status, duration, excerpt), resends (a new round), the function's
metrics and its dead-letter queue. A kind stores its deliveries in its own partitions, with the engine's fields
(`deliveries.new_item`'s status, round, attempts...), names them in messages (NAMING), and gives the engine a
`Producer`: which item a message names, what an attempt goes to, the attempt's one request (built by the kind,
sent by common.integrations.outbound), how many attempts it gets, and what follows an attempt.

    webhook   an event to a webhook endpoint (common.integrations.deliveries); its messages carry no `kind`,
              as every message did before there were kinds
    sale      a sold lead or customer, posted to the buying company's Post URL
              (common.integrations.sale_deliveries, common.integrations.sale_posts)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from common.integrations.outbound import Attempt
from common.platform import db

KIND = "kind"
WEBHOOK = "webhook"
SALE = "sale"
# The fields of a delivery that its messages carry to name it, by kind.
NAMING: Mapping[str, tuple[str, ...]] = {
    WEBHOOK: ("org_id", "endpoint_id", "occurred_at", "event_id"),
    SALE: (KIND, "org_id", "company_id", "sale_id"),
}


def kind_of(named: Mapping[str, Any]) -> str:
    """The kind of a delivery item or message (a webhook's carries none)."""
    return str(named.get(KIND, WEBHOOK))


class NotSent(Exception):
    """The delivery's target is gone or takes no deliveries now: the delivery ends without a request, with the
    reason (this exception's text, "not sent: ...") in its log."""


@dataclass(frozen=True)
class Sent:
    """What an attempt came to, and the fields the kind records on the delivery with it (e.g. the receiver's id
    of what it received)."""

    attempt: Attempt
    recorded: Mapping[str, Any] = field(default_factory=dict)


Target = Any  # what a kind's attempt goes to, as its `target` reads it (a webhook endpoint's item, ...)


@dataclass(frozen=True)
class Producer:
    """What a kind of delivery gives the engine. Every function takes the delivery as stored."""

    key: Callable[[Mapping[str, Any]], db.Key]  # the delivery a message names
    target: Callable[[db.Item, Any], Target]  # read before an attempt (client); raises NotSent
    attempt: Callable[[db.Item, Target, datetime, Any], Sent]  # the one request (target, now, client)
    max_attempts: Callable[[db.Item], int]  # a round's attempts, at most delivery_schedule.MAX_ATTEMPTS
    failed_keys: Callable[[db.Item], dict[str, str] | None]  # index keys of a failed delivery, if it is listed
    # What follows a recorded attempt, safe to repeat (item, attempt, outcome, target or None, client).
    after: Callable[[db.Item, Attempt, str, Target | None, Any], None]
    slot_entity: str  # the entity of the target's attempt slots
