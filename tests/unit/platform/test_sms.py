"""Outgoing texts through the twilio library's REST client, against a loopback stand-in for Twilio's
Messages endpoint (real HTTP, basic auth), and the auth token read once from SSM."""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterator

import boto3
import pytest
from common.platform import sms
from common.platform.settings import get_settings

from infra.constants import COMMON_LAYER_SOURCE, REPO_ROOT
from local.ports import LOOPBACK, free_port
from local.twilio_fake import FakeTwilio

ACCOUNT = "AC" + "feedface" * 4
TOKEN = "unit-auth-token"
PARAMETER = "/partner-programme/test/twilio-auth-token"
FROM = "+15005550006"
TO = "+15551230001"


@pytest.fixture
def twilio(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTwilio]:
    fake = FakeTwilio(ACCOUNT, TOKEN).start()
    for name, value in {
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_FROM_NUMBER": FROM,
        "TWILIO_AUTH_TOKEN_PARAMETER": PARAMETER,
        "TWILIO_API_URL": fake.url,
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    boto3.client("ssm").put_parameter(Name=PARAMETER, Value=TOKEN, Type="SecureString")
    yield fake
    fake.stop()
    get_settings.cache_clear()


def test_a_text_goes_over_http_with_the_account_credentials(twilio: FakeTwilio) -> None:
    sid = sms.send_text(TO, "Reply YES 4821 to accept", status_callback="https://api.example/twilio/status?x=1")

    [message] = twilio.messages()
    assert message["sid"] == sid and sid.startswith("SM")
    assert (message["to"], message["from"], message["body"]) == (TO, FROM, "Reply YES 4821 to accept")
    assert message["status_callback"] == "https://api.example/twilio/status?x=1"
    assert message["account_sid"] == ACCOUNT


def test_the_fake_refuses_other_credentials(twilio: FakeTwilio) -> None:
    """What the passing test relies on: the stand-in checks the basic auth it gets."""
    wrong = base64.b64encode(f"{ACCOUNT}:not-the-token".encode()).decode()
    status, _ = twilio.handle(f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json", f"Basic {wrong}", {"To": TO})
    assert status == 401


def test_no_status_callback_is_sent_when_none_is_given(twilio: FakeTwilio) -> None:
    sms.send_text(TO, "hello")
    assert twilio.messages()[0]["status_callback"] is None


def test_the_auth_token_is_read_once_and_kept(twilio: FakeTwilio) -> None:
    assert sms.auth_token() == TOKEN
    boto3.client("ssm").put_parameter(Name=PARAMETER, Value="rotated", Type="SecureString", Overwrite=True)
    assert sms.auth_token() == TOKEN
    sms.forget_auth_token()
    assert sms.auth_token() == "rotated"


def test_a_refused_number_is_a_permanent_refusal(twilio: FakeTwilio) -> None:
    twilio.fail_next(1, status=400)
    with pytest.raises(sms.SmsRefused) as refused:
        sms.send_text(TO, "hello")
    assert (refused.value.status, refused.value.code) == (400, 21211)
    assert TO not in str(refused.value)  # no phone number in what may be logged
    assert twilio.messages() == []


def test_an_outage_is_worth_a_retry(twilio: FakeTwilio) -> None:
    twilio.fail_next(1, status=500)
    with pytest.raises(sms.SmsUnavailable):
        sms.send_text(TO, "hello")
    assert sms.send_text(TO, "hello again")
    assert [m["body"] for m in twilio.messages()] == ["hello again"]


def test_an_unreachable_twilio_is_worth_a_retry(twilio: FakeTwilio, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_API_URL", f"http://{LOOPBACK}:{free_port(LOOPBACK)}")
    get_settings.cache_clear()
    sms.forget_auth_token()
    with pytest.raises(sms.SmsUnavailable):
        sms.send_text(TO, "hello")


def test_a_refused_token_is_read_again_on_the_next_send(twilio: FakeTwilio) -> None:
    boto3.client("ssm").put_parameter(Name=PARAMETER, Value="stale", Type="SecureString", Overwrite=True)
    sms.forget_auth_token()
    with pytest.raises(sms.SmsUnavailable):
        sms.send_text(TO, "hello")
    boto3.client("ssm").put_parameter(Name=PARAMETER, Value=TOKEN, Type="SecureString", Overwrite=True)
    assert sms.send_text(TO, "hello")
    assert len(twilio.messages()) == 1


def test_the_rest_client_is_not_imported_with_the_module() -> None:
    """The webhook imports common.platform.sms for the auth token; the REST client stays out of its cold start."""
    code = "import sys, common.platform.sms; print('twilio.rest' in sys.modules, 'twilio' in sys.modules)"
    out = subprocess.run(  # noqa: S603 - this interpreter, a fixed snippet
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env={"PYTHONPATH": str(COMMON_LAYER_SOURCE)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["False", "False"]
