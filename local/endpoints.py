"""Everything the front serves besides the API: Cognito's token endpoint and key set (moto's keys, which
sign user tokens, and the stack's, which signs machine tokens), the OpenAPI document and Swagger UI, and
the /_local/ endpoints for people and tests driving the stack."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from local import openapi
from local.gateway import Gateway
from local.http_messages import HttpRequest, HttpResponse, json_response, message_response
from local.oauth import MachineTokenIssuer, TokenError
from local.outbox import Outbox
from local.shared_clock import SharedClock
from local.sms_replies import TwilioAccount, inbound_form, signed_request
from local.worker import Invocation

DOCS_PATH = "/docs"
SCHEDULES_PATH = "/_local/schedules/"
SMS_PATH = "/_local/sms"
WAIT_PATH = "/_local/wait"
# How long POST /_local/wait waits for the changes written so far to reach every consumer.
WAIT_SECONDS = 10.0


class LocalEndpoints:
    def __init__(
        self,
        *,
        gateway: Gateway,
        tokens: MachineTokenIssuer,
        jwks: Mapping[str, Any],
        outbox: Outbox,
        dead_letters: Callable[[], list[dict[str, Any]]],
        clock: SharedClock,
        openapi_document: Callable[[str], dict[str, Any]],
        run_schedule: Callable[[str], Invocation],
        texts: Callable[[], list[dict[str, Any]]],
        wait_for_changes: Callable[[float], None],
        twilio: TwilioAccount,
        sms_webhook_path: str,
    ) -> None:
        self._gateway = gateway
        self._tokens = tokens
        self._jwks = dict(jwks)
        self._outbox = outbox
        self._dead_letters = dead_letters
        self._clock = clock
        self._openapi_document = openapi_document
        self._run_schedule = run_schedule
        self._wait_for_changes = wait_for_changes
        self._twilio = twilio
        self._sms_webhook_path = sms_webhook_path
        self._fixed: dict[tuple[str, str], Callable[[HttpRequest], HttpResponse]] = {
            ("POST", "/oauth2/token"): self._token,
            ("GET", "/.well-known/jwks.json"): lambda _: json_response(200, self._jwks),
            ("GET", "/openapi.json"): self._openapi,
            ("GET", DOCS_PATH): self._docs_page,
            ("GET", DOCS_PATH + "/"): self._docs_page,
            ("GET", "/_local/outbox"): lambda _: json_response(200, self._outbox.messages()),
            ("GET", "/_local/texts"): lambda _: json_response(200, texts()),
            ("GET", "/_local/dead-letters"): lambda _: json_response(200, self._dead_letters()),
            ("GET", "/_local/clock"): lambda _: self._clock_state(),
            ("POST", "/_local/clock"): self._set_clock,
            ("POST", SMS_PATH): self._text_reply,
            ("POST", WAIT_PATH): self._wait,
        }

    def dispatch(self, request: HttpRequest) -> HttpResponse:
        handler = self._fixed.get((request.method, request.path))
        if handler is not None:
            return handler(request)
        if request.method == "GET" and request.path.startswith(DOCS_PATH + "/"):
            return self._docs_asset(request.path.removeprefix(DOCS_PATH + "/"))
        if request.method == "POST" and request.path.startswith(SCHEDULES_PATH):
            return self._schedule(request.path.removeprefix(SCHEDULES_PATH))
        return self._gateway.handle(request)

    @staticmethod
    def _base_url(request: HttpRequest) -> str:
        return f"http://{request.header('host') or 'localhost'}"

    def _token(self, request: HttpRequest) -> HttpResponse:
        try:
            body = self._tokens.exchange(request.form(), request.header("authorization"))
        except TokenError as error:
            return json_response(error.status, error.body())
        return json_response(200, body)

    def _openapi(self, request: HttpRequest) -> HttpResponse:
        return json_response(200, self._openapi_document(self._base_url(request)))

    def _docs_page(self, request: HttpRequest) -> HttpResponse:
        page = openapi.swagger_page("/openapi.json", DOCS_PATH)
        return HttpResponse(200, [("Content-Type", "text/html; charset=utf-8")], page.encode())

    @staticmethod
    def _docs_asset(name: str) -> HttpResponse:
        content_type = openapi.SWAGGER_UI_ASSETS.get(name)  # a fixed list: no paths from the request
        if content_type is None:
            return message_response(404, "Not Found")
        body = (openapi.SWAGGER_UI_DIR / name).read_bytes()
        return HttpResponse(200, [("Content-Type", content_type), ("Cache-Control", "max-age=3600")], body)

    def _clock_state(self) -> HttpResponse:
        return json_response(200, {"offset_seconds": self._clock.offset_seconds, "now": self._clock.now().isoformat()})

    def _set_clock(self, request: HttpRequest) -> HttpResponse:
        try:
            offset = (request.json() or {})["offset_seconds"]
        except (ValueError, KeyError, TypeError):
            return message_response(400, 'expected {"offset_seconds": <number>}')
        if isinstance(offset, bool) or not isinstance(offset, int | float) or not math.isfinite(offset):
            return message_response(400, "offset_seconds must be a number")
        self._clock.set_offset(offset)
        return self._clock_state()

    def _text_reply(self, request: HttpRequest) -> HttpResponse:
        """A member's reply, posted to the webhook as Twilio would (signed); answers the webhook's TwiML."""
        try:
            given = request.json() or {}
            phone, text = given["from"], given["text"]
        except (ValueError, KeyError, TypeError):
            return message_response(400, 'expected {"from": "<the member\'s phone, E.164>", "text": "YES 1234"}')
        if not isinstance(phone, str) or not isinstance(text, str):
            return message_response(400, "from and text must be strings")
        form = inbound_form(self._twilio, phone, text)
        return self._gateway.handle(signed_request(self._twilio, self._sms_webhook_path, form))

    def _wait(self, _: HttpRequest) -> HttpResponse:
        """Answers once every change written so far has reached its consumers (e-mails, texts, commissions)."""
        try:
            self._wait_for_changes(WAIT_SECONDS)
        except TimeoutError:
            return message_response(504, f"changes still flowing after {WAIT_SECONDS:g} s")
        return json_response(200, {"settled": True})

    def _schedule(self, name: str) -> HttpResponse:
        try:
            invocation = self._run_schedule(name)
        except KeyError:
            return message_response(404, f"no scheduled function named {name}")
        if not invocation.ok:
            return json_response(500, invocation.error)
        return json_response(200, invocation.payload)
