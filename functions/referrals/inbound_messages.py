"""Each member's text is acted on once per MessageSid: Twilio posts it again when we answer too slowly.

An inbound record is claimed with a conditional put before anything changes, and the reply sent back is
stored on it, so a redelivery gets the same reply and changes nothing. A record claimed but never finished
(the function was stopped between the claim and the end) goes stale after CLAIM_LEASE, longer than the
function may run, and the next delivery processes the message again: every action is safe to repeat
(pausing and opting out set a value; an acceptance repeated by its winner changes nothing and answers "you
already accepted"). So a crash may repeat an action but never lose one; a delivery that finds a claim still
fresh raises InProgress (the webhook answers 503, Twilio may retry) and changes nothing.

    inbound sms   see team_model.inbound_message_key   entity "inbound_sms": command, claimed_at,
                  claim_id, done_at, reply, outcome; deleted by DynamoDB after RECORD_TTL
"""

from __future__ import annotations

from datetime import timedelta

from aws_lambda_powertools.metrics import MetricUnit
from common.platform import clock, db, ids
from common.platform.errors import Conflict
from common.platform.observability import logger, metrics
from common.platform.table_schema import TTL_ATTRIBUTE
from common.teams.team_model import inbound_message_key
from common.teams.text_replies import Action, Kind, Reply

# Longer than the webhook function may run (its timeout is 10 s): an unfinished claim this old was abandoned.
CLAIM_LEASE = timedelta(seconds=15)
# Twilio redelivers within seconds to minutes; the record is kept a few days, then DynamoDB deletes it.
RECORD_TTL = timedelta(days=3)


class InProgress(Exception):
    """Another delivery of the same message is being processed right now."""


class _AlreadyClaimed(Conflict):
    pass


def act_once(message_sid: str, kind: Kind, act: Action) -> Reply:
    """Run `act` for the message unless an earlier delivery did: then its stored reply. InProgress when
    another delivery is acting now. A failed action releases the claim, so a retry acts again."""
    earlier = _claim(message_sid, kind)
    if earlier is not None:
        logger.info("sms redelivered", extra={"message_sid": message_sid, "outcome": earlier.get("outcome")})
        return Reply(str(earlier.get("reply") or ""), str(earlier.get("outcome") or ""))
    try:
        reply = act()
    except Exception:
        _release(message_sid)
        raise
    _finish(message_sid, reply)
    metrics.add_metric(name="SmsRepliesProcessed", unit=MetricUnit.Count, value=1)
    logger.info(
        "sms processed",
        extra={"message_sid": message_sid, "command": kind, "outcome": reply.outcome, "teams": reply.teams},
    )
    return reply


def _claim(message_sid: str, kind: Kind) -> db.Item | None:
    """Claim the message for processing. Returns None when this delivery is to act, or the record of an
    earlier delivery that finished (its reply is to be sent again). InProgress when one is acting now."""
    now = clock.now()
    record = {
        **inbound_message_key(message_sid),
        "entity": "inbound_sms",
        "command": kind,
        "claimed_at": clock.iso(now),
        "claim_id": ids.new_id(),  # two claims in the same millisecond must not look like one write
        TTL_ATTRIBUTE: int((now + RECORD_TTL).timestamp()),
    }
    try:
        db.put(
            record,
            condition="attribute_not_exists(pk) OR (attribute_not_exists(done_at) AND claimed_at < :stale)",
            values={":stale": clock.iso(now - CLAIM_LEASE)},
            on_conflict=_AlreadyClaimed(message_sid),
        )
    except _AlreadyClaimed:
        existing = db.get(inbound_message_key(message_sid), consistent=True)
        if existing is None or "done_at" not in existing:
            # Acting now (or its record just expired, days later): this delivery changes nothing.
            raise InProgress(message_sid) from None
        return existing
    return None


def _finish(message_sid: str, reply: Reply) -> None:
    db.update(
        inbound_message_key(message_sid),
        expression="SET done_at = :at, reply = :reply, outcome = :outcome",
        values={":at": clock.now_iso(), ":reply": reply.text, ":outcome": reply.outcome},
    )


def _release(message_sid: str) -> None:
    db.delete(inbound_message_key(message_sid), condition="attribute_not_exists(done_at)")
