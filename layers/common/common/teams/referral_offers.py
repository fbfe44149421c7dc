"""Texting a new referral request to its team (the stream side of common.teams.referral_requests).

Who gets a text: every member of the team marked eligible (members, and leaders or admins who chose to
be), not paused, whose number has not opted out (STOP). Each member is texted at most once per request
(a notice per member), and each text leaves an offer item and a line in the request's history:

    offer   ORG#<org>#REFERRAL#<req> / OFFER#<user>   entity "referral_offer": message_sid, status
            (queued, then Twilio's delivery statuses; refused when Twilio refused the number), error_code

A Twilio outage fails the record so the stream retries it, and only the members not yet texted are
texted again. A permanent refusal (a 4xx such as an invalid number) is recorded on the offer and not
retried.
"""

from __future__ import annotations

import contextlib
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from common.platform import clock, db, history, listings, notices, sms
from common.platform.errors import Conflict, DomainError
from common.platform.observability import logger, metrics
from common.platform.settings import Portal, get_settings
from common.teams.delivery_status import status_callback_url
from common.teams.membership import opted_out, team_members
from common.teams.referral_requests import HISTORY, effective_status, history_entry
from common.teams.team_model import ReferralStatus, offer_key, phone_key, referral_key
from common.teams.team_stats import count_actions, day_of


class OffersIncomplete(Exception):
    """Some members could not be texted now (Twilio unreachable or failing): retry the record."""


def recipients(org_id: str, team_id: str, *, client: Any = None) -> list[db.Item]:
    """The memberships to text: eligible, not paused, number not opted out. One query of the team's
    members and one BatchGetItem of their numbers' opt-out records."""
    members = [
        m
        for m in team_members(org_id, team_id, consistent=True, client=client)
        if m.get("eligible") and not m.get("paused") and m.get("phone")
    ]
    if not members:
        return []
    phones = {m["phone"] for m in members}
    records = db.batch_get([phone_key(p) for p in sorted(phones)], consistent=True, client=client)
    out = {r["phone"] for r in records if opted_out(r)}
    return [m for m in members if m["phone"] not in out]


def request_link(request: db.Item) -> str:
    """The request on the dashboard (the portal's address, as the e-mailed links have it): opening it signed
    in as the member marks the offer opened."""
    portal = get_settings(Portal).portal_url.rstrip("/")
    return f"{portal}/orgs/{request['org_id']}/referrals/{request['request_id']}"


def text_body(request: db.Item) -> str:
    """Only what a member needs to decide: the customer's first name and the summary, the code, and the
    link to the request."""
    first_name = request["customer"]["first_name"]
    return (
        f"New referral: {first_name} - {request['summary']}. "
        f"Reply YES {request['code']} to accept. Details: {request_link(request)} "
        "Reply PAUSE to pause texts, STOP to opt out."
    )


def offer_request(request: db.Item, *, client: Any = None) -> int:
    """Text the request to its recipients (those not texted yet). Returns how many were texted now.
    Raises OffersIncomplete when some could not be, after trying all the others."""
    org_id, request_id = request["org_id"], request["request_id"]
    current = db.get(referral_key(org_id, request_id), consistent=True, client=client)
    if current is None or effective_status(current) != ReferralStatus.OPEN:
        return 0  # taken or expired before the texts went out (or on a retry): nobody needs one now
    texted, pending = 0, 0
    for member in recipients(org_id, current["team_id"], client=client):
        try:
            texted += offer_to(current, member, client=client)
        except (sms.SmsUnavailable, notices.NoticeInProgress) as error:
            pending += 1
            logger.warning(
                "referral text not sent",
                extra={"request_id": request_id, "user_id": member["user_id"], "error_type": type(error).__name__},
            )
    if pending:
        raise OffersIncomplete(f"{pending} member(s) of request {request_id} not texted yet")
    return texted


def offer_to(request: db.Item, member: db.Item, *, client: Any = None) -> bool:
    """Text one member, at most once per request, and record the offer. Returns whether a text went out
    in this call."""
    org_id, request_id, user_id = request["org_id"], request["request_id"], member["user_id"]
    owner = referral_key(org_id, request_id)["pk"]
    name = f"offer#{user_id}"

    def send() -> dict[str, Any]:
        try:
            sid = sms.send_text(
                member["phone"], text_body(request), status_callback=status_callback_url(org_id, request_id, user_id)
            )
        except sms.SmsRefused as refusal:
            return {"status": "refused", "error_code": str(refusal.code or refusal.status)}
        return {"sid": sid, "status": "queued"}

    # A redelivered record gets what the earlier send did, to record the offer if that was cut short.
    done = notices.done_once(owner, name, send, client=client)
    if done.outcome:
        _record(request, user_id, done.outcome, client=client)
    return done.acted and "sid" in done.outcome


def _record(request: db.Item, user_id: str, outcome: dict[str, Any], *, client: Any = None) -> None:
    """The offer item and the history line, once (the offer is written only if not yet recorded)."""
    org_id, request_id = request["org_id"], request["request_id"]
    at = clock.now_iso()
    refused = outcome.get("status") == "refused"
    values: dict[str, Any] = {
        ":entity": "referral_offer",
        ":org": org_id,
        ":req": request_id,
        ":team": request["team_id"],
        ":user": user_id,
        ":at": at,
        ":status": outcome.get("status", "queued"),
    }
    sets = (
        "entity = :entity, org_id = :org, request_id = :req, team_id = :team, user_id = :user, offered_at = :at, "
        # A delivery status that arrived first (Twilio's callback can beat this write) is kept.
        + ("#status = :status" if refused else "#status = if_not_exists(#status, :status)")
    )
    if outcome.get("sid"):
        sets += ", message_sid = :sid"
        values[":sid"] = outcome["sid"]
    if outcome.get("error_code"):
        sets += ", error_code = :error"
        values[":error"] = outcome["error_code"]
    entry = (
        history_entry("offer_refused", "system", user_id=user_id, error_code=outcome.get("error_code"))
        if refused
        else history_entry("offered", "system", user_id=user_id, message_sid=outcome.get("sid"))
    )
    offer = db.tx_update(
        offer_key(org_id, request_id, user_id),
        expression=f"SET {sets}",
        condition="attribute_not_exists(offered_at)",
        names={"#status": "status"},
        values=values,
    )

    def write(addition: history.Addition) -> None:
        line = db.tx_update(
            referral_key(org_id, request_id),
            expression=f"SET {addition.expression}",
            condition=f"attribute_exists(pk) AND {addition.condition}",
            values=addition.values,
        )

        def refusal(failed: list[db.Item | None]) -> DomainError:
            if failed[0] is None:  # not recorded yet: only the request's history may have refused
                addition.check(failed[1] or None)
            return Conflict("offer already recorded")

        # A text that went out counts as offered, on the request's day, with the offer (common.teams.team_stats).
        counts = (
            []
            if refused
            else count_actions(org_id, request["team_id"], day_of(request["created_at"]), {"offered": 1}, user_id)
        )
        db.transact([offer, line, *addition.pages(), *counts], on_cancel=refusal, client=client)

    with contextlib.suppress(Conflict):  # recorded by an earlier delivery of the record (or the request is gone)
        history.attempt(history.Addition(HISTORY, [entry]), write)


def offers(org_id: str, request_id: str, *, client: Any = None) -> list[db.Item]:
    """The request's offers, one per member texted (or refused)."""
    return listings.all_with_prefix(referral_key(org_id, request_id)["pk"], "OFFER#", client=client)


def on_change(old: db.Item | None, new: db.Item | None) -> None:
    """The referrals consumer's reaction: a request just created (no old image) is offered to its team."""
    if old is not None or not new or new.get("entity") != "referral_request":
        return
    texted = offer_request(new)
    logger.info("referral offered", extra={"request_id": new["request_id"], "texted": texted})
    metrics.add_metric(name="ReferralTextsSent", unit=MetricUnit.Count, value=texted)
