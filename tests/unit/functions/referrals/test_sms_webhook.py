"""Twilio's webhooks, in process with moto: TwiML escaping, the form as API Gateway
passes it, the signature check (with the twilio library's own RequestValidator signing the requests), and
the processing of a reply once per MessageSid."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from common.orgs.access import Member
from common.platform import db, sms
from common.platform.settings import get_settings
from common.teams import delivery_status, referral_requests, roster, text_replies
from common.teams.membership import TeamCaller, get_team_member
from common.teams.referral_requests import NewReferralRequest
from common.teams.team_model import inbound_message_key, offer_key, phone_key
from referrals import twilio_requests
from referrals.twilio_requests import twiml
from twilio.request_validator import RequestValidator

from infra.constants import COMMON_LAYER_SOURCE, FUNCTIONS_DIR
from tests.unit.conftest import TABLE, FrozenClock

TOKEN = "unit-webhook-auth-token"
PARAMETER = "/partner-programme/test/twilio-auth-token"
WEBHOOK_URL = "https://api.partners.example/twilio/sms"
STATUS_URL = "https://api.partners.example/twilio/status"
ACCOUNT = "AC" + "feedface" * 4
ORG = "01JQRG0000000000000000000A"
LEADER_PHONE = "+15550100001"
MEMBER_PHONE = "+15550100002"


# -- TwiML and the form --------------------------------------------------------------------------


def message_of(document: str) -> str | None:
    root = ET.fromstring(document)  # noqa: S314 - our own output
    assert root.tag == "Response"
    messages = root.findall("Message")
    assert len(messages) <= 1
    return messages[0].text if messages else None


def test_twiml_escapes_the_text() -> None:
    text = "Tom & Jerry <b>\"quoted\"</b> 'single' ]]> \x00\x07 done"

    document = twiml(text)

    assert document.startswith('<?xml version="1.0" encoding="UTF-8"?><Response><Message>')
    assert "<b>" not in document and "&amp;" in document and "&lt;b&gt;" in document
    assert message_of(document) == "Tom & Jerry <b>\"quoted\"</b> 'single' ]]>  done"


def test_twiml_without_a_message_says_nothing() -> None:
    assert message_of(twiml(None)) is None
    assert message_of(twiml("")) is None


def test_form_plain_or_base64_with_repeated_names() -> None:
    raw = "Body=YES+4821&From=%2B15550100001&MediaUrl=a&MediaUrl=b"
    plain = twilio_requests.form_of({"body": raw, "isBase64Encoded": False})
    encoded = twilio_requests.form_of({"body": base64.b64encode(raw.encode()).decode(), "isBase64Encoded": True})

    assert plain == encoded == {"Body": ["YES 4821"], "From": ["+15550100001"], "MediaUrl": ["a", "b"]}
    assert twilio_requests.form_of({"body": "!!not base64!!", "isBase64Encoded": True}) == {}


# -- requests ----------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def twilio_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_FROM_NUMBER": "+15005550006",
        "TWILIO_AUTH_TOKEN_PARAMETER": PARAMETER,
        "SMS_WEBHOOK_URL": WEBHOOK_URL,
        "SMS_STATUS_URL": STATUS_URL,
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    sms.forget_auth_token()
    twilio_requests._token_checked_at[0] = None
    boto3.client("ssm").put_parameter(Name=PARAMETER, Value=TOKEN, Type="SecureString")
    yield
    sms.forget_auth_token()
    get_settings.cache_clear()


_sids = iter(range(1, 1_000_000))


def new_sid() -> str:
    return f"SM{next(_sids):032x}"


def inbound(body: str, phone: str, *, sid: str | None = None) -> dict[str, str]:
    """The parameters Twilio posts for an inbound text."""
    sid = sid or new_sid()
    return {
        "ToCountry": "US",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "SmsSid": sid,
        "SmsStatus": "received",
        "Body": body,
        "To": "+15005550006",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": ACCOUNT,
        "From": phone,
        "ApiVersion": "2010-04-01",
    }


def event(
    path: str, params: dict[str, str], *, query: str = "", token: str | None = TOKEN, base64_body: bool = True
) -> dict[str, Any]:
    """The API Gateway event of Twilio's POST, signed as Twilio signs it (None: no signature)."""
    url = (WEBHOOK_URL if path == "/twilio/sms" else STATUS_URL) + (f"?{query}" if query else "")
    body = urlencode(params)
    headers = {"content-type": "application/x-www-form-urlencoded", "host": "api.partners.example"}
    if token is not None:
        headers["x-twilio-signature"] = RequestValidator(token).compute_signature(url, params)
    return {
        "version": "2.0",
        "routeKey": f"POST {path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {"http": {"method": "POST", "path": path}},
        "body": base64.b64encode(body.encode()).decode() if base64_body else body,
        "isBase64Encoded": base64_body,
    }


def reply(response: dict[str, Any]) -> str | None:
    assert response["statusCode"] == 200, response
    assert response["headers"]["Content-Type"].startswith("text/xml")
    return message_of(response["body"])


def send(body: str, phone: str, **kwargs: Any) -> dict[str, Any]:
    return twilio_requests.handle(event("/twilio/sms", inbound(body, phone, sid=kwargs.pop("sid", None)), **kwargs))


def table_items() -> list[dict[str, Any]]:
    return [db.deserialize(i) for i in boto3.client("dynamodb").scan(TableName=TABLE)["Items"]]


@pytest.fixture
def team() -> dict[str, Any]:
    """A team with its leader and one eligible member, each with a phone link."""
    staff = Member(ORG, "staff-user", "admin", frozenset())
    leader = roster.NewLeader(user_id="leader-user", phone=LEADER_PHONE, display_name="Lee Leader")
    created, _ = roster.create_team(ORG, staff, roster.NewTeam(name="North", leader=leader))
    caller = TeamCaller(ORG, created["team_id"], "staff-user", created, None, staff)
    change = roster.MemberChange(role="member", phone=MEMBER_PHONE, display_name="Mo Member")
    roster.put_member(caller, "member-user", change)
    return created


def membership(team: dict[str, Any], user_id: str) -> dict[str, Any]:
    return get_team_member(ORG, team["team_id"], user_id, consistent=True)


def test_a_forged_or_missing_signature_is_refused_and_changes_nothing(team: dict[str, Any]) -> None:
    before = table_items()
    forged = send("PAUSE", MEMBER_PHONE, token="not-the-auth-token")
    unsigned = send("PAUSE", MEMBER_PHONE, token=None)
    other_url = event("/twilio/status", inbound("PAUSE", MEMBER_PHONE))
    other_url["rawPath"] = "/twilio/sms"  # signed for the status URL, posted to the reply URL

    assert forged["statusCode"] == unsigned["statusCode"] == 403
    assert json.loads(forged["body"])["type"] == "/problems/forbidden"
    assert twilio_requests.handle(other_url)["statusCode"] == 403
    assert table_items() == before


def test_a_tampered_body_is_refused(team: dict[str, Any]) -> None:
    signed = event("/twilio/sms", inbound("HELP", MEMBER_PHONE), base64_body=False)
    signed["body"] = signed["body"].replace("HELP", "STOP")

    assert twilio_requests.handle(signed)["statusCode"] == 403
    assert db.get(phone_key(MEMBER_PHONE)) is None


OTHER_ACCOUNT = "AC" + "0badc0de" * 4


@pytest.mark.parametrize(
    ("changes", "parameter"),
    [
        ({"AccountSid": OTHER_ACCOUNT}, "AccountSid"),
        ({"AccountSid": ACCOUNT.upper()}, "AccountSid"),
        ({"AccountSid": None}, "AccountSid"),
        ({"To": "+15005550007"}, "To"),
        ({"To": "whatsapp:+15005550006"}, "To"),
        ({"To": None}, "To"),
    ],
)
def test_a_signed_reply_for_another_account_or_number_is_refused_and_changes_nothing(
    team: dict[str, Any], changes: dict[str, str | None], parameter: str
) -> None:
    before = table_items()
    for body in ("PAUSE", "STOP"):
        params = {**inbound(body, MEMBER_PHONE), **changes}
        refused = twilio_requests.handle(event("/twilio/sms", {k: v for k, v in params.items() if v is not None}))

        assert refused["statusCode"] == 403
        problem = json.loads(refused["body"])
        assert problem["type"] == "/problems/forbidden" and parameter in problem["detail"]
    assert table_items() == before


def test_a_repeated_account_or_number_is_refused(team: dict[str, Any]) -> None:
    """One value ours and one not: signed as Twilio signs repeated names, and still not ours."""
    for name, theirs in (("AccountSid", OTHER_ACCOUNT), ("To", "+15005550007")):
        params = inbound("PAUSE", MEMBER_PHONE)
        body = urlencode([*params.items(), (name, theirs)])
        signed = event("/twilio/sms", params, base64_body=False)
        signed["body"] = body
        form = twilio_requests.form_of(signed)
        signed["headers"]["x-twilio-signature"] = RequestValidator(TOKEN).compute_signature(WEBHOOK_URL, form)

        refused = twilio_requests.handle(signed)

        assert refused["statusCode"] == 403 and f"({name})" in json.loads(refused["body"])["detail"]
    assert membership(team, "member-user")["paused"] is False


def test_without_an_account_and_number_configured_nothing_is_ours(
    team: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stage that texts no one accepts no reply either, signed or not."""
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "")
    monkeypatch.setenv("TWILIO_FROM_NUMBER", "")
    get_settings.cache_clear()

    for params in (inbound("PAUSE", MEMBER_PHONE), {**inbound("PAUSE", MEMBER_PHONE), "AccountSid": "", "To": ""}):
        refused = twilio_requests.handle(event("/twilio/sms", params))

        assert refused["statusCode"] == 403 and "(AccountSid)" in json.loads(refused["body"])["detail"]
    assert membership(team, "member-user")["paused"] is False


def test_pause_and_resume_the_member_not_the_team(team: dict[str, Any]) -> None:
    assert reply(send("pause", MEMBER_PHONE)) == text_replies.PAUSED_TEXT
    assert membership(team, "member-user")["paused"] is True
    assert membership(team, "leader-user")["paused"] is False

    assert reply(send("RESUME", MEMBER_PHONE)) == text_replies.RESUMED_TEXT
    assert membership(team, "member-user")["paused"] is False


def test_stop_and_start_opt_the_number_out_and_back_in(team: dict[str, Any]) -> None:
    assert reply(send("STOP", MEMBER_PHONE)) == text_replies.STOPPED_TEXT
    assert db.get(phone_key(MEMBER_PHONE))["opted_out"] is True  # type: ignore[index]

    assert reply(send("Start", MEMBER_PHONE)) == text_replies.STARTED_TEXT
    assert db.get(phone_key(MEMBER_PHONE))["opted_out"] is False  # type: ignore[index]


def test_help_unknown_and_a_code_missing(team: dict[str, Any]) -> None:
    assert reply(send("HELP", MEMBER_PHONE)) == text_replies.HELP_TEXT
    assert reply(send("what is this?", MEMBER_PHONE)) == text_replies.UNKNOWN_TEXT
    assert reply(send("yes", MEMBER_PHONE)) == text_replies.CODE_MISSING_TEXT
    assert reply(send("YES 9999", MEMBER_PHONE)) == "There is no open referral with code 9999."


def test_a_stranger_is_answered_and_ignored(team: dict[str, Any]) -> None:
    before = table_items()

    for body in ("YES 1234", "PAUSE", "HELP", "hello"):
        assert reply(send(body, "+15550199999")) == text_replies.NOT_A_MEMBER_TEXT
    assert reply(send("hi", "whatsapp:+15550199999")) == text_replies.NOT_A_MEMBER_TEXT
    assert table_items() == before


def test_a_strangers_stop_is_still_recorded() -> None:
    """The number may become a member's later: it must not be texted then."""
    assert reply(send("STOP", "+15550199998")) == text_replies.STOPPED_TEXT
    assert db.get(phone_key("+15550199998"))["opted_out"] is True  # type: ignore[index]


def test_a_redelivered_message_is_processed_once_and_gets_the_same_reply(team: dict[str, Any]) -> None:
    sid = new_sid()
    first = reply(send("PAUSE", MEMBER_PHONE, sid=sid))
    send("RESUME", MEMBER_PHONE)  # a later message in between

    again = reply(send("PAUSE", MEMBER_PHONE, sid=sid))

    assert first == again == text_replies.PAUSED_TEXT
    assert membership(team, "member-user")["paused"] is False  # the redelivery paused nothing
    record = db.get(inbound_message_key(sid))
    assert record is not None and record["outcome"]["outcome"] == "pause" and "expiration" in record
    assert "Body" not in record and MEMBER_PHONE not in json.dumps(record)


def test_a_claim_in_progress_answers_503_until_it_goes_stale(team: dict[str, Any], frozen_clock: FrozenClock) -> None:
    """A delivery stopped between its claim and its end: the message is processed again once the claim is
    older than the function may run, never lost."""
    sid = new_sid()
    db.put({**inbound_message_key(sid), "entity": "inbound_sms", "claimed_at": "2026-11-22T09:00:00.000Z"})

    busy = send("PAUSE", MEMBER_PHONE, sid=sid)
    assert busy["statusCode"] == 503
    assert membership(team, "member-user")["paused"] is False

    frozen_clock.advance(seconds=text_replies.CLAIM_LEASE.total_seconds() + 1)
    assert reply(send("PAUSE", MEMBER_PHONE, sid=sid)) == text_replies.PAUSED_TEXT
    assert membership(team, "member-user")["paused"] is True


def test_a_failed_action_releases_the_claim(team: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    sid = new_sid()

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("table unavailable")

    monkeypatch.setattr("common.teams.membership.set_paused", broken)
    failed = send("PAUSE", MEMBER_PHONE, sid=sid)
    monkeypatch.undo()

    assert failed["statusCode"] == 500
    assert db.get(inbound_message_key(sid)) is None
    assert reply(send("PAUSE", MEMBER_PHONE, sid=sid)) == text_replies.PAUSED_TEXT


def test_a_malformed_message_sid_is_a_bad_request(team: dict[str, Any]) -> None:
    params = inbound("PAUSE", MEMBER_PHONE, sid="not-a-sid")

    assert twilio_requests.handle(event("/twilio/sms", params))["statusCode"] == 400
    assert membership(team, "member-user")["paused"] is False


def new_request(team: dict[str, Any]) -> dict[str, Any]:
    customer = {"first_name": "Ann", "last_name": "Buyer"}
    new = NewReferralRequest.model_validate({"team_id": team["team_id"], "customer": customer, "summary": "2BR"})
    return referral_requests.create(ORG, new, "user:staff-user")


def test_yes_with_the_code_accepts_once(team: dict[str, Any]) -> None:
    request = new_request(team)
    sid = new_sid()

    won = reply(send(f"YES {request['code']}", MEMBER_PHONE, sid=sid))
    again = reply(send(f"YES {request['code']}", MEMBER_PHONE, sid=sid))
    late = reply(send(f"y {request['code']}", LEADER_PHONE))

    assert won is not None and won.startswith("You got it: Ann") and "assigned to you" in won
    assert again == won
    assert late == f"Sorry, referral {request['code']} was already taken by someone else."
    accepted = referral_requests.get(ORG, request["request_id"], consistent=True)
    assert (accepted["status"], accepted["accepted_by"]) == ("accepted", "member-user")
    assert [h["event"] for h in accepted["history"]].count("accepted") == 1
    customers = [i for i in table_items() if i.get("entity") == "team_customer"]
    assert len(customers) == 1


def test_a_delivery_failure_is_recorded_on_the_offer(team: dict[str, Any]) -> None:
    request = new_request(team)
    callback = delivery_status.status_callback_url(ORG, request["request_id"], "member-user")
    assert callback is not None and callback.startswith(STATUS_URL + "?")
    query = callback.split("?", 1)[1]
    status = {"MessageSid": new_sid(), "MessageStatus": "undelivered", "ErrorCode": "30003", "AccountSid": ACCOUNT}

    response = twilio_requests.handle(event("/twilio/status", status, query=query))
    # Signed for the member's offer, posted for the leader's.
    moved = event("/twilio/status", status, query=query)
    moved["rawQueryString"] = query.replace("member-user", "leader-user")

    assert reply(response) is None
    assert twilio_requests.handle(moved)["statusCode"] == 403
    assert db.get(offer_key(ORG, request["request_id"], "leader-user")) is None
    offer = db.get(offer_key(ORG, request["request_id"], "member-user"))
    assert offer is not None and (offer["status"], offer["error_code"]) == ("undelivered", "30003")
    history = referral_requests.get(ORG, request["request_id"])["history"]
    assert [h["event"] for h in history].count("delivery_failed") == 1


@pytest.mark.parametrize(
    "changes",
    [{"AccountSid": OTHER_ACCOUNT}, {"AccountSid": None}, {"From": "+15005550007"}, {"From": ""}],
)
def test_a_signed_status_for_another_account_or_sender_is_refused(
    team: dict[str, Any], changes: dict[str, str | None]
) -> None:
    request = new_request(team)
    callback = delivery_status.status_callback_url(ORG, request["request_id"], "member-user")
    assert callback is not None
    query = callback.split("?", 1)[1]
    ours = {
        "MessageSid": new_sid(),
        "MessageStatus": "undelivered",
        "ErrorCode": "30003",
        "AccountSid": ACCOUNT,
        "From": "+15005550006",
    }
    status = {k: v for k, v in {**ours, **changes}.items() if v is not None}

    refused = twilio_requests.handle(event("/twilio/status", status, query=query))

    assert refused["statusCode"] == 403
    assert db.get(offer_key(ORG, request["request_id"], "member-user")) is None
    assert "delivery_failed" not in [h["event"] for h in referral_requests.get(ORG, request["request_id"])["history"]]
    # The same status from our account and number is recorded.
    assert reply(twilio_requests.handle(event("/twilio/status", ours, query=query))) is None
    offer = db.get(offer_key(ORG, request["request_id"], "member-user"))
    assert offer is not None and offer["status"] == "undelivered"


def test_a_rotated_token_is_read_again_but_not_on_every_forgery(
    team: dict[str, Any], frozen_clock: FrozenClock
) -> None:
    ssm = boto3.client("ssm")
    assert reply(send("HELP", MEMBER_PHONE)) == text_replies.HELP_TEXT  # the token is cached now
    ssm.put_parameter(Name=PARAMETER, Value="rotated-token", Type="SecureString", Overwrite=True)

    assert reply(send("HELP", MEMBER_PHONE, token="rotated-token")) == text_replies.HELP_TEXT
    ssm.put_parameter(Name=PARAMETER, Value="rotated-again", Type="SecureString", Overwrite=True)
    assert send("HELP", MEMBER_PHONE, token="rotated-again")["statusCode"] == 403  # re-read only every 5 minutes

    frozen_clock.advance(minutes=5)
    assert reply(send("HELP", MEMBER_PHONE, token="rotated-again")) == text_replies.HELP_TEXT


def test_the_webhook_does_not_import_the_twilio_rest_client() -> None:
    """Its cold start must not pay for twilio.rest (about a quarter of a second)."""
    code = (
        "import os, sys\n"
        "os.environ.update(STAGE='t', TABLE_NAME='ttt', POWERTOOLS_SERVICE_NAME='t', EMAIL_FROM='a@b.example',"
        " TWILIO_AUTH_TOKEN_PARAMETER='/p', SMS_WEBHOOK_URL='https://x/twilio/sms',"
        " SMS_STATUS_URL='https://x/twilio/status', AWS_DEFAULT_REGION='us-east-1')\n"
        "import referrals.webhook\n"
        "print(sorted(m for m in sys.modules if m.startswith(('twilio', 'aws_lambda_powertools.event_handler'))))\n"
    )
    env = {"PYTHONPATH": f"{COMMON_LAYER_SOURCE}:{FUNCTIONS_DIR}", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)  # noqa: S603

    loaded = json.loads(result.stdout.strip().replace("'", '"'))
    assert "twilio.request_validator" in loaded
    assert not [m for m in loaded if m.startswith("twilio.rest") or m.startswith("twilio.http")]
    assert not [m for m in loaded if m.startswith("aws_lambda_powertools.event_handler")]
