"""Twilio's webhook requests: a team member's reply to a text (/twilio/sms), and the delivery status of a
text we sent (/twilio/status), as API Gateway passes them; answered with TwiML or a problem.

Every request is checked first: `X-Twilio-Signature` must be Twilio's signature of the public URL it
posted to (settings.sms_webhook_url, or settings.sms_status_url with the query string Twilio was given) and
the form parameters, keyed with the account's auth token. Missing or wrong: 403, and nothing is read or
written. A signed request must also be for us (AccountSid settings.twilio_account_sid; a reply's To, a
status's From when given, settings.twilio_from_number, the number every text is sent from), else 403 the
same way: a number of another account, or another of ours pointed at this URL, acts on nothing and gets no
reply (Twilio retries no 4xx, and shows it in its debugger, where the misrouted number gets noticed).

What a reply does is common.teams.text_replies', once per MessageSid; what a status says is recorded by
common.teams.delivery_status.

Only twilio.request_validator is imported (milliseconds), never the REST client: this module is on the
webhook's cold-start path.
"""

from __future__ import annotations

import base64
import binascii
import re
import traceback
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from aws_lambda_powertools.metrics import MetricUnit
from common.platform import clock, sms
from common.platform.errors import DomainError, Forbidden, InternalError, NotFound, problem_answer
from common.platform.notices import NoticeInProgress
from common.platform.observability import logger, metrics
from common.platform.settings import SmsWebhookUrls, TwilioNumber, get_settings
from common.teams import delivery_status, text_replies
from common.web.idempotency import IN_PROGRESS
from common.web.request_body import MalformedBody
from twilio.request_validator import RequestValidator, get_signature_algorithm

SIGNATURE_HEADER = "x-twilio-signature"
SIGNATURE_SETTINGS_HEADER = "x-twilio-webhooks-signature-settings"
# After a signature fails with the cached auth token, the token is read again (it may have been rotated),
# at most this often: forged requests cannot turn into a stream of SSM reads.
TOKEN_REFRESH_EVERY = timedelta(minutes=5)

MESSAGE_SID = re.compile(r"^[A-Z]{2}[0-9a-f]{32}$")

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


class MessageInProgress(DomainError):
    """The first delivery of this MessageSid is still being handled: Twilio retries on a 5xx."""

    status, code, title = 503, IN_PROGRESS, "In progress"


def _problem_response(path: str, refusal: DomainError) -> dict[str, Any]:
    return problem_answer(refusal.problem(path))


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
    settings = get_settings(TwilioNumber)
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


# -- what each path does -----------------------------------------------------------------------------


def receive(form: Form, path: str) -> dict[str, Any]:
    """A signed inbound message (posted to `path`): the reply to send back (TwiML)."""
    message_sid = form.first("MessageSid")
    if not MESSAGE_SID.match(message_sid):
        # 400 malformed-body, as every unreadable body (invalid-input is 422 everywhere, for fields read).
        return _problem_response(path, MalformedBody("MessageSid is missing or malformed"))
    try:
        reply = text_replies.reply(message_sid, form.first("From"), form.first("Body"))
    except NoticeInProgress:
        logger.info("sms redelivered while in progress", extra={"message_sid": message_sid})
        return _problem_response(path, MessageInProgress("this message is being processed; retry"))
    return _twiml_response(reply.text)


def status_callback(form: Form, query: Mapping[str, str]) -> dict[str, Any]:
    """A signed status callback of a text we sent: failures are recorded on the offer it carried."""
    message_sid, status = form.first("MessageSid"), form.first("MessageStatus")
    error_code = form.first("ErrorCode") or None
    delivery_status.record_callback(query, message_sid=message_sid, status=status, error_code=error_code)
    logger.info("sms status", extra={"message_sid": message_sid, "status": status, "error_code": error_code})
    return _twiml_response(None)


# -- the event ---------------------------------------------------------------------------------------


def handle(event: Mapping[str, Any]) -> dict[str, Any]:
    """Answer one webhook request (API Gateway HTTP API payload 2.0)."""
    settings = get_settings(SmsWebhookUrls)
    path = str(event.get("rawPath") or "")
    raw_query = str(event.get("rawQueryString") or "")
    if path.endswith("/twilio/sms"):
        url = settings.sms_webhook_url
    elif path.endswith("/twilio/status"):
        url = f"{settings.sms_status_url}?{raw_query}" if raw_query else settings.sms_status_url
    else:
        return _problem_response(path, NotFound("no such route"))
    form = form_of(event)
    if not signed(url, form, _header(event, SIGNATURE_HEADER), _header(event, SIGNATURE_SETTINGS_HEADER)):
        # Many of these at once: a wrong auth token parameter or public URL, or someone probing.
        logger.info("twilio signature refused", extra={"path": path})
        metrics.add_metric(name="TwilioSignaturesRefused", unit=MetricUnit.Count, value=1)
        return _problem_response(path, Forbidden("the request is not signed by Twilio"))
    is_reply = path.endswith("/twilio/sms")
    wrong = misaddressed(form, reply=is_reply)
    if wrong is not None:
        # Signed, but for another account or number: a number misrouted to this URL, or a token shared.
        logger.warning("twilio request for another account or number", extra={"path": path, "parameter": wrong})
        metrics.add_metric(name="TwilioRequestsMisaddressed", unit=MetricUnit.Count, value=1)
        return _problem_response(path, Forbidden(f"the request is not for this Twilio account and number ({wrong})"))
    try:
        if is_reply:
            return receive(form, path)
        return status_callback(form, dict(parse_qsl(raw_query)))
    except Exception as error:
        # Type and place only: messages can carry the form's data. Twilio may retry; nothing was kept.
        at = [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}" for f in traceback.extract_tb(error.__traceback__)]
        logger.error("unexpected error", extra={"error_type": type(error).__name__, "at": at[-5:]})
        return _problem_response(path, InternalError())
