"""The OpenAPI description of Twilio's webhooks (functions/referrals/webhook.py), which have no resolver to
generate one: what Twilio posts (form parameters and its signature header), and what each answers.

Built from the same definitions the webhook checks (the MessageSid pattern, the status callback's query
parameters), so the document cannot drift from them. Imported only to build the document, never on the
webhook's cold-start path.
"""

from __future__ import annotations

from typing import Any

from common.platform.errors import PROBLEM_CONTENT_TYPE
from common.teams import delivery_status
from common.web import resolver
from common.web.openapi_docs import BODY_REFUSALS, Problem

from referrals import twilio_requests

FORM = "application/x-www-form-urlencoded"
TWIML = "text/xml"
_PROBLEM = {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": f"#/components/schemas/{Problem.__name__}"}}}
_SIGNATURE = {
    "name": "X-Twilio-Signature",
    "in": "header",
    "required": True,
    "description": "Twilio's signature of the URL it posted to and the form parameters, keyed with the "
    "account's auth token (HMAC-SHA1, base64); checked before anything else",
    "schema": {"type": "string"},
}
_CALLBACK_QUERY = [
    {
        "name": name,
        "in": "query",
        "required": False,
        "description": "set by us in the text's status callback URL: the offer the text carried",
        "schema": {"type": "string", "pattern": pattern},
    }
    for name, pattern in zip(delivery_status.CALLBACK_PARAMETERS, delivery_status.CALLBACK_PATTERNS, strict=True)
]


def _form(name: str, description: str, fields: dict[str, str], required: list[str]) -> dict[str, Any]:
    properties: dict[str, Any] = {field: {"type": "string", "description": text} for field, text in fields.items()}
    properties["MessageSid"]["pattern"] = twilio_requests.MESSAGE_SID.pattern
    return {
        name: {
            "type": "object",
            "description": description + "; Twilio sends more parameters, which are signed and ignored",
            "properties": properties,
            "required": required,
            "additionalProperties": {"type": "string"},
        }
    }


SCHEMAS = _form(
    "TwilioInboundMessage",
    "A text a team member sent to our number",
    {
        "MessageSid": "Twilio's id of the message; a redelivery carries the same one",
        "AccountSid": "must be our account",
        "From": "the sender's number (E.164)",
        "To": "must be our number",
        "Body": "the text: an acceptance code, STOP/START, or anything else",
    },
    ["MessageSid", "AccountSid", "From", "To"],
) | _form(
    "TwilioStatusCallback",
    "The delivery status of a text we sent",
    {
        "MessageSid": "Twilio's id of the text",
        "MessageStatus": "queued, sent, delivered, undelivered, failed, ...",
        "ErrorCode": "Twilio's error code when the text was not delivered",
        "AccountSid": "must be our account",
        "From": "when given, must be our number",
        "To": "the member's number",
    },
    ["MessageSid", "AccountSid", "MessageStatus"],
)


def _operation(summary: str, form: str, success: str, *, query: list[dict[str, Any]]) -> dict[str, Any]:
    refusals = {
        "400": "The body cannot be read, or the MessageSid is missing or malformed",
        "403": "Not signed by Twilio with our auth token, or signed for another account or number; nothing done",
        "415": BODY_REFUSALS[415],
        "500": "The request could not be completed; Twilio may retry and nothing was kept",
    }
    responses: dict[str, Any] = {
        "200": {"description": success, "content": {TWIML: {"schema": {"type": "string"}}}},
    } | {status: {"description": text, "content": _PROBLEM} for status, text in refusals.items()}
    return {
        "tags": ["Twilio webhooks"],
        "summary": summary,
        "security": [],
        "parameters": [_SIGNATURE, *query],
        "requestBody": {
            "required": True,
            "content": {FORM: {"schema": {"$ref": f"#/components/schemas/{form}"}}},
        },
        "responses": responses,
    }


def document() -> dict[str, Any]:
    inbound = _operation(
        "Twilio posts a team member's reply to our number",
        "TwilioInboundMessage",
        "TwiML: the reply to text back (an empty Response when there is none)",
        query=[],
    )
    inbound["responses"]["503"] = {
        "description": "The same message is being processed right now; Twilio may post it again",
        "content": _PROBLEM,
    }
    status = _operation(
        "Twilio posts the delivery status of a text we sent",
        "TwilioStatusCallback",
        "TwiML: an empty Response",
        query=_CALLBACK_QUERY,
    )
    return {
        "openapi": "3.1.0",
        "info": {"title": resolver.API_TITLE, "version": resolver.API_VERSION},
        "paths": {"/twilio/sms": {"post": inbound}, "/twilio/status": {"post": status}},
        "components": {"schemas": SCHEMAS},
    }
