"""Twilio's webhooks: a team member's reply to a text, and the delivery status of a text we sent.

Every request is checked first: `X-Twilio-Signature` must be Twilio's signature of the public URL it
posted to (settings.sms_webhook_url, or settings.sms_status_url with the query string Twilio was given) and
the form parameters, keyed with the account's auth token. Missing or wrong: 403, and nothing is read or
written. A signed request must also be for us (AccountSid settings.twilio_account_sid; a reply's To, a
status's From when given, settings.twilio_from_number, the number every text is sent from), else 403 the
same way: a number of another account, or another of ours pointed at this URL, acts on nothing and gets no
reply (Twilio retries no 4xx, and shows it in its debugger, where the misrouted number gets noticed).

A reply is processed once per MessageSid (Twilio posts it again when we answer too slowly): an inbound
record is claimed with a conditional put before anything changes, and the reply sent back is stored on it,
so a redelivery gets the same reply and changes nothing. A record claimed but never finished (the function
was stopped between the claim and the end) goes stale after CLAIM_LEASE, longer than the function may run,
and the next delivery processes the message again: every action is safe to repeat (pausing and opting out
set a value; an acceptance repeated by its winner changes nothing and answers "you already accepted"). So
a crash may repeat an action but never lose one; a delivery that finds a claim still fresh answers 503
(Twilio may retry) and changes nothing.

Only twilio.request_validator is imported (milliseconds), never the REST client: this module is on the
webhook's cold-start path.
"""

from __future__ import annotations

import base64
import binascii
import re
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from aws_lambda_powertools.metrics import MetricUnit
from twilio.request_validator import RequestValidator, get_signature_algorithm

from common.platform import clock, db, ids, sms
from common.platform.errors import Conflict, internal_problem, problem, problem_answer
from common.platform.observability import logger, metrics
from common.platform.settings import get_settings
from common.platform.table_schema import TTL_ATTRIBUTE
from common.platform.validation import is_e164
from common.teams import referral_requests, roster
from common.teams.team_model import inbound_message_key
from common.web.idempotency import IN_PROGRESS

SIGNATURE_HEADER = "x-twilio-signature"
SIGNATURE_SETTINGS_HEADER = "x-twilio-webhooks-signature-settings"
# Longer than the webhook function may run (its timeout is 10 s): an unfinished claim this old was abandoned.
CLAIM_LEASE = timedelta(seconds=15)
# Twilio redelivers within seconds to minutes; the record is kept a few days, then DynamoDB deletes it.
RECORD_TTL = timedelta(days=3)
# After a signature fails with the cached auth token, the token is read again (it may have been rotated),
# at most this often: forged requests cannot turn into a stream of SSM reads.
TOKEN_REFRESH_EVERY = timedelta(minutes=5)

MESSAGE_SID = re.compile(r"^[A-Z]{2}[0-9a-f]{32}$")

# -- replies -----------------------------------------------------------------------------------------

HELP_TEXT = (
    "Partner team texts: reply YES and the code (e.g. YES 4821) to accept a referral, PAUSE to stop "
    "referral offers for now, RESUME to get them again, STOP to get no texts at all, START to opt back in."
)
UNKNOWN_TEXT = "Sorry, we did not understand that. Reply YES and the code to accept a referral, or HELP."
CODE_MISSING_TEXT = "Reply YES and the code from the offer, e.g. YES 4821."
PAUSED_TEXT = "You are paused: no referral offers until you reply RESUME. Your team still gets them."
RESUMED_TEXT = "Welcome back: you will get referral offers again. Reply PAUSE to pause."
STOPPED_TEXT = "You will get no more texts from us. Reply START to opt back in."
STARTED_TEXT = "You are opted back in to partner team texts. Reply HELP for the keywords."
NOT_A_MEMBER_TEXT = (
    "This number is not on a partner team, so there is nothing to reply to. If you expected texts from us, "
    "ask your team leader to add this number."
)

# -- keywords ----------------------------------------------------------------------------------------

Kind = Literal["accept", "pause", "resume", "stop", "start", "help", "unknown"]

ACCEPT_WORDS = frozenset({"yes", "y", "accept"})
# Twilio's own opt-out and opt-in keywords (it honours them itself on Messaging Services): we record
# them too, so that nothing is ever texted to a number that opted out.
STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit"})
START_WORDS = frozenset({"start", "unstop"})
HELP_WORDS = frozenset({"help", "info"})
SIMPLE_WORDS: dict[str, Kind] = {
    **dict.fromkeys(STOP_WORDS, "stop"),
    **dict.fromkeys(START_WORDS, "start"),
    **dict.fromkeys(HELP_WORDS, "help"),
    "pause": "pause",
    "resume": "resume",
}
_CODE = re.compile(r"^#?([0-9]{1,10})$")
_TRAILING_PUNCTUATION = ".!?,;:"


@dataclass(frozen=True)
class Command:
    kind: Kind
    code: str | None = None


def parse(body: str) -> Command:
    """The keyword of a reply, case-insensitive, surrounding spaces and trailing punctuation ignored:
    YES/Y/ACCEPT <code> (also written YES4821 or YES #4821), PAUSE, RESUME, STOP and its synonyms, START,
    HELP; anything else is unknown. An accept word without a code is an accept without a code."""
    words = body.casefold().split()
    words = [w.strip(_TRAILING_PUNCTUATION) for w in words]
    words = [w for w in words if w]
    if not words:
        return Command("unknown")
    first = words[0]
    if len(words) == 1 and first in SIMPLE_WORDS:
        return Command(SIMPLE_WORDS[first])
    if first in ACCEPT_WORDS:
        rest = "".join(words[1:])
        if not rest:
            return Command("accept")
        match = _CODE.match(rest)
        return Command("accept", match.group(1)) if match else Command("unknown")
    glued = re.match(r"^(yes|accept|y)#?([0-9]{1,10})$", "".join(words))
    if glued:
        return Command("accept", glued.group(2))
    return Command("unknown")


# -- TwiML -------------------------------------------------------------------------------------------

# Characters XML 1.0 does not allow at all (escaping cannot carry them).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def twiml(message: str | None) -> str:
    """A TwiML document that answers with `message` (escaped), or says nothing."""
    if not message:
        return '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    text = escape(_NOT_XML.sub("", message))
    return f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{text}</Message></Response>'


def _twiml_response(message: str | None, status: int = 200) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "text/xml; charset=utf-8"}, "body": twiml(message)}


def _problem_response(path: str, status: int, title: str, detail: str, code: str) -> dict[str, Any]:
    return problem_answer(problem(status, title, detail, code=code, instance=path))


# -- the request -------------------------------------------------------------------------------------


class Form(dict[str, list[str]]):
    """Form parameters with every value of a repeated name, as RequestValidator reads them (getlist)."""

    def getlist(self, name: str) -> list[str]:
        return self[name]

    def first(self, name: str) -> str:
        return self.get(name, [""])[0]


def form_of(event: Mapping[str, Any]) -> Form:
    """The form-encoded body, base64-decoded where API Gateway encoded it."""
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(raw).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return Form()
    form = Form()
    for name, value in parse_qsl(raw, keep_blank_values=True):
        form.setdefault(name, []).append(value)
    return form


def misaddressed(form: Form, *, reply: bool) -> str | None:
    """The parameter that shows a signed request is not for our account and number, or None. Exactly one
    value is accepted for each; unset settings (a stage without Twilio) match nothing."""
    settings = get_settings()
    if not settings.twilio_account_sid or form.get("AccountSid") != [settings.twilio_account_sid]:
        return "AccountSid"
    ours = settings.twilio_from_number
    if reply and (not ours or form.get("To") != [ours]):
        return "To"
    if not reply and "From" in form and form.get("From") != [ours]:
        return "From"
    return None


def _header(event: Mapping[str, Any], name: str) -> str:
    headers = event.get("headers") or {}
    return next((str(v) for k, v in headers.items() if k.lower() == name), "")


_token_checked_at: list[Any] = [None]  # when the token was last re-read after a failed signature


def signed(url: str, form: Form, signature: str, signature_settings: str = "", *, token_client: Any = None) -> bool:
    """Whether `signature` is Twilio's for this URL and form, with the auth token (cached). A failure is
    checked once more with a freshly read token, at most every TOKEN_REFRESH_EVERY (rotation)."""
    if not signature:
        return False
    algorithm = get_signature_algorithm(signature_settings)

    def check() -> bool:
        return bool(RequestValidator(sms.auth_token(client=token_client)).validate(url, form, signature, algorithm))

    if check():
        return True
    last = _token_checked_at[0]
    now = clock.now()
    if last is not None and now - last < TOKEN_REFRESH_EVERY:
        return False
    _token_checked_at[0] = now
    sms.forget_auth_token()
    return check()


# -- replies from members ----------------------------------------------------------------------------


class InProgress(Exception):
    """Another delivery of the same message is being processed right now."""


class _AlreadyClaimed(Conflict):
    pass


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


def _finish(message_sid: str, reply: str, outcome: str) -> None:
    db.update(
        inbound_message_key(message_sid),
        expression="SET done_at = :at, reply = :reply, outcome = :outcome",
        values={":at": clock.now_iso(), ":reply": reply, ":outcome": outcome},
    )


def _release(message_sid: str) -> None:
    db.delete(inbound_message_key(message_sid), condition="attribute_not_exists(done_at)")


def combined(outcomes: list[referral_requests.AcceptanceOutcome]) -> tuple[str, str]:
    """One reply for a "YES <code>" tried in each of the number's teams: the acceptances (a code may be
    open in two of them), else why the request the code stands for was refused, else "no such code"."""
    accepted = [o for o in outcomes if o.accepted]
    if accepted:
        return " ".join(o.reply for o in accepted), accepted[0].result
    found = [o for o in outcomes if o.found]
    chosen = found[0] if found else outcomes[0]
    return chosen.reply, chosen.result


def _act(command: Command, phone: str, links: list[db.Item], message_sid: str) -> tuple[str, str]:
    """Carry out the command for the number (a member of every team in `links`): (reply, outcome)."""
    if command.kind == "accept":
        if command.code is None:
            return CODE_MISSING_TEXT, "code-missing"
        outcomes = [referral_requests.accept_by_code(link, command.code, message_sid=message_sid) for link in links]
        return combined(outcomes)
    if command.kind in ("pause", "resume"):
        # The member pauses themselves, in every team they are in; the teams are not paused.
        paused = command.kind == "pause"
        for link in links:
            roster.set_paused(link["org_id"], link["team_id"], link["user_id"], paused, f"user:{link['user_id']}")
        return (PAUSED_TEXT if paused else RESUMED_TEXT), command.kind
    if command.kind in ("stop", "start"):
        roster.set_opted_out(phone, command.kind == "stop")
        return (STOPPED_TEXT if command.kind == "stop" else STARTED_TEXT), command.kind
    if command.kind == "help":
        return HELP_TEXT, "help"
    return UNKNOWN_TEXT, "unknown"


def receive(form: Form, path: str) -> dict[str, Any]:
    """A signed inbound message (posted to `path`): the reply to send back (TwiML)."""
    message_sid, phone = form.first("MessageSid"), form.first("From")
    if not MESSAGE_SID.match(message_sid):
        # 400 malformed-body, as every unreadable body (invalid-input is 422 everywhere, for fields read).
        return _problem_response(path, 400, "Bad request", "MessageSid is missing or malformed", "malformed-body")
    command = parse(form.first("Body"))
    links: list[db.Item] = []
    if is_e164(phone):
        _, links = roster.phone_memberships(phone)
    if not links:
        # Not a member's number: answered, and nothing is recorded, except an opt-out or opt-in, which
        # concerns the number whoever it is (it may become a member's later).
        if command.kind in ("stop", "start") and is_e164(phone):
            roster.set_opted_out(phone, command.kind == "stop")
            logger.info("sms from a non-member", extra={"message_sid": message_sid, "command": command.kind})
            return _twiml_response(STOPPED_TEXT if command.kind == "stop" else STARTED_TEXT)
        logger.info("sms from a non-member", extra={"message_sid": message_sid, "command": command.kind})
        return _twiml_response(NOT_A_MEMBER_TEXT)
    try:
        earlier = _claim(message_sid, command.kind)
    except InProgress:
        logger.info("sms redelivered while in progress", extra={"message_sid": message_sid})
        return _problem_response(path, 503, "In progress", "this message is being processed; retry", IN_PROGRESS)
    if earlier is not None:
        logger.info("sms redelivered", extra={"message_sid": message_sid, "outcome": earlier.get("outcome")})
        return _twiml_response(str(earlier.get("reply") or ""))
    try:
        reply, outcome = _act(command, phone, links, message_sid)
    except Exception:
        _release(message_sid)  # a retry acts again
        raise
    _finish(message_sid, reply, outcome)
    metrics.add_metric(name="SmsRepliesProcessed", unit=MetricUnit.Count, value=1)
    logger.info(
        "sms processed",
        extra={"message_sid": message_sid, "command": command.kind, "outcome": outcome, "teams": len(links)},
    )
    return _twiml_response(reply)


# -- delivery statuses -------------------------------------------------------------------------------


def delivery_status(form: Form, query: Mapping[str, str]) -> dict[str, Any]:
    """A signed status callback of a text we sent: failures are recorded on the offer it carried."""
    message_sid, status = form.first("MessageSid"), form.first("MessageStatus")
    error_code = form.first("ErrorCode") or None
    offer = referral_requests.offer_of_status_callback(query)
    if offer is not None and status:
        referral_requests.record_delivery(*offer, status, error_code, message_sid=message_sid)
    logger.info("sms status", extra={"message_sid": message_sid, "status": status, "error_code": error_code})
    return _twiml_response(None)


# -- the event ---------------------------------------------------------------------------------------


def handle(event: Mapping[str, Any]) -> dict[str, Any]:
    """Answer one webhook request (API Gateway HTTP API payload 2.0)."""
    settings = get_settings()
    path = str(event.get("rawPath") or "")
    raw_query = str(event.get("rawQueryString") or "")
    if path.endswith("/twilio/sms"):
        url = settings.sms_webhook_url
    elif path.endswith("/twilio/status"):
        url = f"{settings.sms_status_url}?{raw_query}" if raw_query else settings.sms_status_url
    else:
        return _problem_response(path, 404, "Not found", "no such route", "not-found")
    form = form_of(event)
    if not signed(url, form, _header(event, SIGNATURE_HEADER), _header(event, SIGNATURE_SETTINGS_HEADER)):
        # Many of these at once: a wrong auth token parameter or public URL, or someone probing.
        logger.info("twilio signature refused", extra={"path": path})
        metrics.add_metric(name="TwilioSignaturesRefused", unit=MetricUnit.Count, value=1)
        return _problem_response(path, 403, "Not allowed", "the request is not signed by Twilio", "forbidden")
    is_reply = path.endswith("/twilio/sms")
    wrong = misaddressed(form, reply=is_reply)
    if wrong is not None:
        # Signed, but for another account or number: a number misrouted to this URL, or a token shared.
        logger.warning("twilio request for another account or number", extra={"path": path, "parameter": wrong})
        metrics.add_metric(name="TwilioRequestsMisaddressed", unit=MetricUnit.Count, value=1)
        return _problem_response(
            path, 403, "Not allowed", f"the request is not for this Twilio account and number ({wrong})", "forbidden"
        )
    try:
        if is_reply:
            return receive(form, path)
        return delivery_status(form, dict(parse_qsl(raw_query)))
    except Exception as error:
        # Type and place only: messages can carry the form's data. Twilio may retry; nothing was kept.
        at = [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in traceback.extract_tb(error.__traceback__)]
        logger.error("unexpected error", extra={"error_type": type(error).__name__, "at": at[-5:]})
        return problem_answer(internal_problem(path))
