"""Twilio's webhooks over HTTP against the local stack: requests signed with the twilio library's own
RequestValidator, as Twilio signs them (the public URL, plus the sorted form parameters, keyed with the auth
token); replies read as TwiML; referral offers texted through the loopback stand-in for Twilio."""

from __future__ import annotations

import secrets
import uuid
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from common.platform import clock, db
from common.platform.settings import env_name
from common.teams.team_model import inbound_message_key, phone_key, team_member_key
from common.teams.text_replies import (
    CLAIM_LEASE,
    HELP_TEXT,
    NOT_A_MEMBER_TEXT,
    PAUSED_TEXT,
    RESUMED_TEXT,
    STARTED_TEXT,
    STOPPED_TEXT,
    UNKNOWN_TEXT,
)
from twilio.request_validator import RequestValidator

from infra.constants import DEV_PORTAL_ORIGIN
from local.stack import TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER, LocalStack
from tests.integration.support.actors import Actor, new_user


def new_phone() -> str:
    return f"+1555{secrets.randbelow(10**7):07d}"


def new_sid() -> str:
    return "SM" + uuid.uuid4().hex


def inbound(body: str, phone: str, sid: str | None = None) -> dict[str, str]:
    """What Twilio posts for a text to our number."""
    sid = sid or new_sid()
    return {
        "ToCountry": "US",
        "ToState": "CA",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ToCity": "",
        "FromZip": "",
        "SmsSid": sid,
        "FromState": "CA",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": body,
        "FromCountry": "US",
        "To": TWILIO_FROM_NUMBER,
        "ToZip": "",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": TWILIO_ACCOUNT_SID,
        "From": phone,
        "ApiVersion": "2010-04-01",
    }


def post_signed(url: str, params: dict[str, str], *, token: str | None = TWILIO_AUTH_TOKEN) -> requests.Response:
    """POST the form to `url` as Twilio does, signed with `token` (None: no signature header)."""
    headers = {}
    if token is not None:
        headers["X-Twilio-Signature"] = RequestValidator(token).compute_signature(url, params)
    return requests.post(url, data=params, headers=headers, timeout=30)


def reply_of(response: requests.Response) -> str | None:
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/xml")
    root = ET.fromstring(response.text)  # noqa: S314 - the stack's own answer
    assert root.tag == "Response"
    message = root.find("Message")
    return None if message is None else message.text


@dataclass
class Team:
    org_id: str
    team_id: str
    admin: Actor
    leader: Actor
    members: list[Actor]
    phones: dict[str, str]  # user id -> phone

    def phone(self, actor: Actor) -> str:
        return self.phones[actor.user_id]

    def membership(self, actor: Actor) -> dict[str, Any]:
        item = db.get(team_member_key(self.org_id, self.team_id, actor.user_id), consistent=True)
        assert item is not None
        return item

    def texts_to(self, stack: LocalStack, actor: Actor) -> list[dict[str, Any]]:
        return [m for m in stack.texts() if m["to"] == self.phone(actor)]

    def new_referral(self, stack: LocalStack) -> dict[str, Any]:
        created = self.admin.post(
            f"/orgs/{self.org_id}/referral-requests",
            {"team_id": self.team_id, "customer": {"first_name": "Ann", "last_name": "Buyer"}, "summary": "2BR flat"},
        )
        assert created.status_code == 201, created.text
        stack.wait_for_streams()
        return dict(created.json())


@pytest.fixture
def team(stack: LocalStack) -> Team:
    """A team of its leader and two eligible members, each with a number of their own."""
    admin = new_user(stack, "admin", operator=True)
    org = admin.post("/orgs", {"name": "Texting org"})
    assert org.status_code == 201, org.text
    org_id = org.json()["org_id"]
    leader, members = new_user(stack, "leader"), [new_user(stack, "member") for _ in range(2)]
    phones = {actor.user_id: new_phone() for actor in (leader, *members)}
    leader_details = {"user_id": leader.user_id, "phone": phones[leader.user_id], "display_name": "Lee"}
    created = admin.post(f"/orgs/{org_id}/teams", {"name": "North", "leader": leader_details})
    assert created.status_code == 201, created.text
    team_id = created.json()["team_id"]
    for number, member in enumerate(members):
        details = {"role": "member", "phone": phones[member.user_id], "display_name": f"Member {number}"}
        added = admin.put(f"/orgs/{org_id}/teams/{team_id}/members/{member.user_id}", details)
        assert added.status_code in (200, 201), added.text
    return Team(org_id, team_id, admin, leader, members, phones)


def webhook_url(stack: LocalStack) -> str:
    return stack.env[env_name("sms_webhook_url")]


def text(stack: LocalStack, body: str, phone: str, sid: str | None = None) -> str | None:
    return reply_of(post_signed(webhook_url(stack), inbound(body, phone, sid)))


def undelivered_status(message_sid: str, to: str) -> dict[str, str]:
    """Twilio's status callback for a text to `to` that could not be delivered (error 30003)."""
    return {
        "SmsSid": message_sid,
        "SmsStatus": "undelivered",
        "MessageStatus": "undelivered",
        "ErrorCode": "30003",
        "To": to,
        "MessageSid": message_sid,
        "AccountSid": TWILIO_ACCOUNT_SID,
        "From": TWILIO_FROM_NUMBER,
        "ApiVersion": "2010-04-01",
    }


def test_the_signed_url_is_the_stacks_public_one(stack: LocalStack) -> None:
    assert webhook_url(stack) == f"{stack.url}/twilio/sms"
    assert stack.env[env_name("sms_status_url")] == f"{stack.url}/twilio/status"


def test_a_forged_or_missing_signature_is_403_and_changes_nothing(stack: LocalStack, team: Team) -> None:
    member = team.members[0]
    forged_sid, unsigned_sid = new_sid(), new_sid()

    forged = post_signed(webhook_url(stack), inbound("PAUSE", team.phone(member), forged_sid), token="guessed-token")
    unsigned = post_signed(webhook_url(stack), inbound("STOP", team.phone(member), unsigned_sid), token=None)
    # Signed for another URL (the status callback's) and replayed here.
    params = inbound("PAUSE", team.phone(member))
    replayed = requests.post(
        webhook_url(stack),
        data=params,
        headers={
            "X-Twilio-Signature": RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(
                stack.env[env_name("sms_status_url")], params
            )
        },
        timeout=30,
    )

    assert forged.status_code == unsigned.status_code == replayed.status_code == 403
    assert forged.headers["Content-Type"] == "application/problem+json"
    assert team.membership(member)["paused"] is False
    assert db.get(phone_key(team.phone(member)), consistent=True) is None
    assert db.get(inbound_message_key(forged_sid), consistent=True) is None
    assert db.get(inbound_message_key(unsigned_sid), consistent=True) is None


OTHER_ACCOUNT_SID = "AC" + "fedcba9876543210" * 2
OTHER_NUMBER = "+15005550009"


def test_a_signed_reply_for_another_account_or_number_is_403_and_changes_nothing(stack: LocalStack, team: Team) -> None:
    """Signed with our token, as Twilio would sign it, but not for our account or to our number: a number
    pointed at this URL by mistake pauses, opts out and accepts nothing, and gets no reply."""
    member = team.members[0]
    request = team.new_referral(stack)
    texted = len(stack.texts())
    misaddressed = [
        ({"AccountSid": OTHER_ACCOUNT_SID}, "AccountSid"),
        ({"To": OTHER_NUMBER}, "To"),
        ({"AccountSid": OTHER_ACCOUNT_SID, "To": OTHER_NUMBER}, "AccountSid"),
    ]
    sids = []

    for changes, parameter in misaddressed:
        for body in ("PAUSE", "STOP", f"YES {request['code']}"):
            sid = new_sid()
            sids.append(sid)
            refused = post_signed(webhook_url(stack), {**inbound(body, team.phone(member), sid), **changes})

            assert refused.status_code == 403, refused.text
            assert refused.headers["Content-Type"] == "application/problem+json"
            assert f"({parameter})" in refused.json()["detail"]

    assert team.membership(member)["paused"] is False
    assert db.get(phone_key(team.phone(member)), consistent=True) is None
    assert all(db.get(inbound_message_key(sid), consistent=True) is None for sid in sids)
    seen = team.admin.get(f"/orgs/{team.org_id}/referral-requests/{request['request_id']}").json()
    assert seen["status"] == "open"
    assert len(stack.texts()) == texted
    # The same reply for our account and number is acted on.
    assert text(stack, "PAUSE", team.phone(member)) == PAUSED_TEXT


def test_a_signed_status_for_another_account_or_sender_is_403_and_not_recorded(stack: LocalStack, team: Team) -> None:
    member = team.members[0]
    request = team.new_referral(stack)
    (offer_text,) = team.texts_to(stack, member)
    status = undelivered_status(offer_text["sid"], team.phone(member))

    other_account = post_signed(offer_text["status_callback"], {**status, "AccountSid": OTHER_ACCOUNT_SID})
    other_sender = post_signed(offer_text["status_callback"], {**status, "From": OTHER_NUMBER})

    assert (other_account.status_code, other_sender.status_code) == (403, 403)
    assert "(AccountSid)" in other_account.json()["detail"] and "(From)" in other_sender.json()["detail"]
    seen = team.admin.get(f"/orgs/{team.org_id}/referral-requests/{request['request_id']}").json()
    (offer,) = [o for o in seen["offers"] if o["user_id"] == member.user_id]
    assert offer["status"] == "queued"
    assert "delivery_failed" not in [h["event"] for h in seen["history"]]


def test_pause_and_resume_the_member_only(stack: LocalStack, team: Team) -> None:
    member, other = team.members

    assert text(stack, "Pause", team.phone(member)) == PAUSED_TEXT
    assert team.membership(member)["paused"] is True
    assert team.membership(other)["paused"] is False
    assert team.membership(team.leader)["paused"] is False

    assert text(stack, "RESUME", team.phone(member)) == RESUMED_TEXT
    assert team.membership(member)["paused"] is False


def test_help_unknown_and_a_missing_code(stack: LocalStack, team: Team) -> None:
    phone = team.phone(team.members[0])

    assert text(stack, "HELP", phone) == HELP_TEXT
    assert text(stack, "info", phone) == HELP_TEXT
    assert text(stack, "Is the flat still available?", phone) == UNKNOWN_TEXT
    assert text(stack, "YES", phone) == "Reply YES and the code from the offer, e.g. YES 4821."
    assert text(stack, "YES 0000", phone) == "There is no open referral with code 0000."


def test_a_number_that_is_no_members_is_answered_and_ignored(stack: LocalStack, team: Team) -> None:
    stranger = new_phone()
    sids = [new_sid() for _ in range(3)]

    for sid, body in zip(sids, ("PAUSE", "HELP", "YES 1234"), strict=True):
        assert text(stack, body, stranger, sid) == NOT_A_MEMBER_TEXT

    assert db.get(phone_key(stranger), consistent=True) is None
    assert all(db.get(inbound_message_key(sid), consistent=True) is None for sid in sids)


def test_paused_and_opted_out_members_get_no_offers_until_they_resume_and_start(stack: LocalStack, team: Team) -> None:
    stopped, paused = team.members
    assert text(stack, "STOP", team.phone(stopped)) == STOPPED_TEXT
    assert text(stack, "PAUSE", team.phone(paused)) == PAUSED_TEXT
    assert db.get(phone_key(team.phone(stopped)), consistent=True)["opted_out"] is True  # type: ignore[index]

    first = team.new_referral(stack)

    assert [m["body"] for m in team.texts_to(stack, team.leader)] == [
        f"New referral: Ann - 2BR flat. Reply YES {first['code']} to accept. Details: "
        f"{DEV_PORTAL_ORIGIN}/orgs/{team.org_id}/referrals/{first['request_id']} Reply PAUSE to pause texts, STOP to "
        "opt out."
    ]
    assert team.texts_to(stack, stopped) == team.texts_to(stack, paused) == []

    assert text(stack, "start", team.phone(stopped)) == STARTED_TEXT
    assert text(stack, "resume", team.phone(paused)) == RESUMED_TEXT
    second = team.new_referral(stack)

    for member in (stopped, paused):
        assert [f"YES {second['code']}" in m["body"] for m in team.texts_to(stack, member)] == [True]


def test_yes_with_the_code_accepts_and_a_redelivery_is_processed_once(stack: LocalStack, team: Team) -> None:
    winner, loser = team.members
    request = team.new_referral(stack)
    code = request["code"]
    assert any(f"YES {code}" in m["body"] for m in team.texts_to(stack, winner))
    sid = new_sid()

    won = text(stack, f"yes {code}", team.phone(winner), sid)
    redelivered = text(stack, f"yes {code}", team.phone(winner), sid)
    taken = text(stack, f"Y {code}", team.phone(loser))

    assert won == redelivered
    assert won == f"You got it: Ann (referral {code}) is now in your team's customer list, assigned to you."
    assert taken == f"Sorry, referral {code} was already taken by someone else."
    seen = team.admin.get(f"/orgs/{team.org_id}/referral-requests/{request['request_id']}").json()
    assert (seen["status"], seen["accepted_by"], seen["accepted_via"]) == ("accepted", winner.user_id, "sms")
    history = seen["history"]
    assert [h["event"] for h in history].count("accepted") == 1
    assert [h.get("message_sid") for h in history if h["event"] == "accepted"] == [sid]
    customers = team.leader.get(f"/orgs/{team.org_id}/teams/{team.team_id}/customers").json()["items"]
    assert [(c["assignee_id"], c["request_id"]) for c in customers] == [(winner.user_id, request["request_id"])]
    # The loser sees nothing of it; the winner sees their customer.
    assert team.members[1].get(f"/orgs/{team.org_id}/teams/{team.team_id}/customers").json()["items"] == []


def test_a_leaders_acceptance_by_text_lands_on_the_leader(stack: LocalStack, team: Team) -> None:
    request = team.new_referral(stack)

    won = text(stack, f"ACCEPT {request['code']}", team.phone(team.leader))

    assert won is not None and won.startswith("You got it: Ann") and "assigned to you" in won
    seen = team.admin.get(f"/orgs/{team.org_id}/referral-requests/{request['request_id']}").json()
    assert seen["assignee_id"] == team.leader.user_id


def test_a_redelivered_pause_after_a_resume_changes_nothing(stack: LocalStack, team: Team) -> None:
    member = team.members[0]
    sid = new_sid()
    assert text(stack, "PAUSE", team.phone(member), sid) == PAUSED_TEXT
    assert text(stack, "RESUME", team.phone(member)) == RESUMED_TEXT

    assert text(stack, "PAUSE", team.phone(member), sid) == PAUSED_TEXT  # the same answer...
    assert team.membership(member)["paused"] is False  # ...and no second pause


def test_a_delivery_failure_is_recorded_and_a_forged_status_is_refused(stack: LocalStack, team: Team) -> None:
    member = team.members[0]
    request = team.new_referral(stack)
    (offer_text,) = team.texts_to(stack, member)
    callback = offer_text["status_callback"]
    assert callback.startswith(stack.env[env_name("sms_status_url")] + "?")
    status = undelivered_status(offer_text["sid"], team.phone(member))

    forged = post_signed(callback, status, token="guessed-token")
    answered = post_signed(callback, status)
    again = post_signed(callback, status)  # Twilio may post the same status twice

    assert forged.status_code == 403
    assert reply_of(answered) is None and reply_of(again) is None
    seen = team.admin.get(f"/orgs/{team.org_id}/referral-requests/{request['request_id']}").json()
    (offer,) = [o for o in seen["offers"] if o["user_id"] == member.user_id]
    assert (offer["status"], offer["error_code"]) == ("undelivered", "30003")
    assert [h["event"] for h in seen["history"]].count("delivery_failed") == 1


def test_a_message_claimed_by_a_stopped_delivery_is_processed_once_the_claim_is_stale(
    stack: LocalStack, team: Team
) -> None:
    """A delivery that stopped between claiming the message and finishing it: a redelivery meanwhile
    changes nothing (503, so Twilio may retry), and once the claim is older than the webhook may run, the
    message is processed: an action may be repeated, never lost."""
    member = team.members[0]
    sid = new_sid()
    db.put(
        {
            **inbound_message_key(sid),
            "entity": "inbound_sms",
            "claimed_at": clock.iso(stack.now()),
            "claim_id": "stopped-delivery",
        }
    )

    busy = post_signed(webhook_url(stack), inbound("PAUSE", team.phone(member), sid))
    assert busy.status_code == 503
    assert team.membership(member)["paused"] is False

    stack.advance_clock(CLAIM_LEASE.total_seconds() + 1)
    assert text(stack, "PAUSE", team.phone(member), sid) == PAUSED_TEXT
    assert team.membership(member)["paused"] is True


def test_ten_members_replying_yes_at_once_one_wins_and_nine_hear_it_was_taken(stack: LocalStack, team: Team) -> None:
    extra = [new_user(stack, "member") for _ in range(8)]
    for number, member in enumerate(extra, start=2):
        team.phones[member.user_id] = new_phone()
        details = {"role": "member", "phone": team.phones[member.user_id], "display_name": f"Member {number}"}
        added = team.admin.put(f"/orgs/{team.org_id}/teams/{team.team_id}/members/{member.user_id}", details)
        assert added.status_code in (200, 201), added.text
    members = [*team.members, *extra]
    code = team.new_referral(stack)["code"]

    with ThreadPoolExecutor(max_workers=10) as pool:
        replies = list(pool.map(lambda member: text(stack, f"YES {code}", team.phone(member)), members))

    won = [r for r in replies if r and r.startswith("You got it")]
    taken = [r for r in replies if r == f"Sorry, referral {code} was already taken by someone else."]
    assert (len(won), len(taken)) == (1, 9), replies
    customers = team.leader.get(f"/orgs/{team.org_id}/teams/{team.team_id}/customers").json()["items"]
    assert len(customers) == 1
