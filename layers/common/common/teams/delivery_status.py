"""Delivery statuses of the referral offers we text: the status callback URL each text carries (which offer
it is about), and what Twilio's status callbacks say, recorded on the offer and, for a failure, in the
request's history."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from common.platform import clock, db, history
from common.platform.errors import Conflict, DomainError
from common.platform.settings import TwilioSender, get_settings
from common.platform.validation import ENTITY_ID_PATTERN, USER_ID_PATTERN
from common.teams.referral_requests import HISTORY, history_entry
from common.teams.team_model import offer_key, referral_key

# The query string of the status callback URL each text carries: which offer a delivery status is about.
CALLBACK_PARAMETERS = ("org_id", "request_id", "user_id")
CALLBACK_PATTERNS = (ENTITY_ID_PATTERN, ENTITY_ID_PATTERN, USER_ID_PATTERN)

FAILED_DELIVERIES = frozenset({"failed", "undelivered"})
FINAL_DELIVERIES = FAILED_DELIVERIES | {"delivered"}


def status_callback_url(org_id: str, request_id: str, user_id: str) -> str | None:
    """Where Twilio posts the delivery statuses of the text offering the request to the member."""
    base = get_settings(TwilioSender).sms_status_url
    if not base:
        return None
    query = urlencode(dict(zip(CALLBACK_PARAMETERS, (org_id, request_id, user_id), strict=True)))
    return f"{base}{'&' if '?' in base else '?'}{query}"


def offer_of_status_callback(query: Mapping[str, str]) -> tuple[str, str, str] | None:
    """The (org_id, request_id, user_id) a status callback's query string names; None when it names no
    well-formed offer."""
    values = tuple(str(query.get(name) or "") for name in CALLBACK_PARAMETERS)
    if not all(re.fullmatch(pattern, value) for pattern, value in zip(CALLBACK_PATTERNS, values, strict=True)):
        return None
    return values[0], values[1], values[2]


def record_callback(query: Mapping[str, str], *, message_sid: str, status: str, error_code: str | None) -> bool:
    """What a status callback says (its URL's query string and Twilio's MessageSid, MessageStatus and
    ErrorCode), recorded on the offer the query names. Returns whether anything was recorded."""
    offer = offer_of_status_callback(query)
    if offer is None or not status:
        return False
    return record_delivery(*offer, status, error_code, message_sid=message_sid)


def record_delivery(
    org_id: str,
    request_id: str,
    user_id: str,
    status: str,
    error_code: str | None,
    *,
    message_sid: str | None = None,
    client: Any = None,
) -> bool:
    """Twilio's delivery status of the offer texted to a member. Statuses only move forward (a late
    "sent" never hides "delivered" or "failed"); a failed or undelivered text joins the request's history
    once. Returns whether anything was recorded."""
    status = status.strip().lower()
    at = clock.now_iso()
    names = {"#status": "status"}
    values: dict[str, Any] = {
        ":entity": "referral_offer",
        ":org": org_id,
        ":req": request_id,
        ":user": user_id,
        ":status": status,
        ":at": at,
    }
    sets = "entity = :entity, org_id = :org, request_id = :req, user_id = :user, #status = :status, status_at = :at"
    if error_code:
        sets += ", error_code = :error"
        values[":error"] = str(error_code)
    if message_sid:
        sets += ", message_sid = if_not_exists(message_sid, :sid)"
        values[":sid"] = message_sid
    final = [f":final{i}" for i in range(len(FINAL_DELIVERIES))]
    values |= dict(zip(final, sorted(FINAL_DELIVERIES), strict=True))
    if status in FINAL_DELIVERIES:
        # The same final status twice (Twilio retries its callbacks) is recorded once.
        condition = "attribute_not_exists(#status) OR #status <> :status"
        values = {k: v for k, v in values.items() if k not in final}
    else:
        condition = f"attribute_not_exists(#status) OR NOT #status IN ({', '.join(final)})"
    offer = db.tx_update(
        offer_key(org_id, request_id, user_id),
        expression=f"SET {sets}",
        condition=condition,
        names=names,
        values=values,
    )
    if status not in FAILED_DELIVERIES:
        recorded = [offer, db.tx_check(referral_key(org_id, request_id), condition="attribute_exists(pk)")]
        try:
            db.transact(recorded, on_cancel=lambda failed: Conflict("nothing to record"), client=client)
        except Conflict:
            return False
        return True
    entry = history_entry("delivery_failed", "system", user_id=user_id, status=status, error_code=error_code)

    def write(addition: history.Addition) -> None:
        request = db.tx_update(
            referral_key(org_id, request_id),
            expression=f"SET {addition.expression}",
            condition=f"attribute_exists(pk) AND {addition.condition}",
            values=addition.values,
        )

        def refusal(failed: list[db.Item | None]) -> DomainError:
            if failed[0] is None:  # the offer took it: only the request's history may have refused
                addition.check(failed[1] or None)
            return Conflict("nothing to record")

        db.transact([offer, request, *addition.pages()], on_cancel=refusal, client=client)

    try:
        history.attempt(history.Addition(HISTORY, [entry]), write)
    except Conflict:
        return False
    return True
