"""Referral requests: creation with a short code, acceptance (first one wins, in one transaction), expiry,
text replies and delivery statuses. The stream consumer texting the team and the routes:
tests/unit/functions/referrals/test_referral_requests.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from common.orgs.access import Member
from common.platform import db
from common.platform.errors import InvalidInput, NotFound
from common.platform.settings import get_settings
from common.teams import (
    delivery_status,
    membership,
    referral_acceptance,
    referral_expiry,
    referral_offers,
    referral_requests,
    roster,
)
from common.teams.referral_acceptance import NotEligible, ReferralExpired, ReferralTaken
from common.teams.referral_requests import NewReferralRequest
from common.teams.team_model import code_key, phone_link_key, referral_key, team_customer_key, team_member_key

from local.twilio_fake import FakeTwilio
from tests.unit import sweeps

ACCOUNT = "AC" + "0123abcd" * 4
TOKEN = "unit-auth-token"
PARAMETER = "/partner-programme/test/twilio-auth-token"
STATUS_URL = "https://api.partners.example/twilio/status"
ORG = "01J000000000000000000000RG"
STAFF = "staff-1"
LEADER, ADMIN, AMY, BEN, CAL, DOT = "u-leader", "u-admin", "u-amy", "u-ben", "u-cal", "u-dot"
PHONES = {
    LEADER: "+15550000001",
    ADMIN: "+15550000002",
    AMY: "+15550000003",
    BEN: "+15550000004",
    CAL: "+15550000005",
    DOT: "+15550000006",
}


@pytest.fixture
def twilio(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTwilio]:
    fake = FakeTwilio(ACCOUNT, TOKEN).start()
    for name, value in {
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_FROM_NUMBER": "+15005550006",
        "TWILIO_AUTH_TOKEN_PARAMETER": PARAMETER,
        "TWILIO_API_URL": fake.url,
        "SMS_STATUS_URL": STATUS_URL,
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    boto3.client("ssm").put_parameter(Name=PARAMETER, Value=TOKEN, Type="SecureString")
    yield fake
    fake.stop()
    get_settings.cache_clear()


def _member(user_id: str, role: str, **extra: Any) -> roster.MemberChange:
    return roster.MemberChange(role=role, phone=PHONES[user_id], display_name=user_id, **extra)


@pytest.fixture
def team(twilio: FakeTwilio) -> dict[str, Any]:
    """A team: the leader (eligible), an admin (not eligible), Amy (eligible member), Ben (member not
    eligible), Cal (eligible, paused), Dot (eligible, number opted out)."""
    staff = Member(ORG, STAFF, "admin", frozenset())
    leader = roster.NewLeader(user_id=LEADER, phone=PHONES[LEADER], display_name="Lee")
    created, _ = roster.create_team(ORG, staff, roster.NewTeam(name="North", leader=leader))
    caller = membership.TeamCaller(ORG, created["team_id"], STAFF, created, None, staff)
    roster.put_member(caller, ADMIN, _member(ADMIN, "admin", eligible=False))
    roster.put_member(caller, AMY, _member(AMY, "member"))
    roster.put_member(caller, BEN, _member(BEN, "member", eligible=False))
    roster.put_member(caller, CAL, _member(CAL, "member"))
    roster.put_member(caller, DOT, _member(DOT, "member"))
    membership.set_paused(ORG, created["team_id"], CAL, True, f"user:{CAL}")
    membership.set_opted_out(PHONES[DOT], True)
    return created


def new_request(team_id: str, minutes: int = 120) -> NewReferralRequest:
    return NewReferralRequest.model_validate(
        {
            "team_id": team_id,
            "customer": {"first_name": "Jo", "last_name": "Buyer", "phone": "+15559990000", "email": "jo@x.example"},
            "summary": "Looking for a 3-bed house",
            "expires_in_minutes": minutes,
        }
    )


def create(team: dict[str, Any], minutes: int = 120) -> dict[str, Any]:
    return referral_requests.create(ORG, new_request(team["team_id"], minutes), STAFF)


def current(request: dict[str, Any]) -> dict[str, Any]:
    item = db.get(referral_key(ORG, request["request_id"]), consistent=True)
    assert item is not None
    return item


def events(request: dict[str, Any]) -> list[str]:
    return [e["event"] for e in current(request)["history"]]


# -- creation --------------------------------------------------------------------------------------


def test_a_request_is_open_with_a_code_held_for_the_team(team: dict[str, Any]) -> None:
    request = create(team)
    assert request["status"] == "open" and len(request["code"]) == 4 and request["code"].isdigit()
    assert request["expires_at"] == "2026-11-22T11:00:00.000Z"
    code = db.get(code_key(ORG, team["team_id"], request["code"]))
    assert code is not None and code["request_id"] == request["request_id"]
    assert events(request) == ["created"]


def test_codes_are_unique_among_the_teams_open_requests(
    team: dict[str, Any], monkeypatch: pytest.MonkeyPatch, frozen_clock: Any
) -> None:
    codes = iter(["1111", "1111", "2222", "1111", "2222", "3333", "2222"])
    monkeypatch.setattr(referral_requests, "_new_code", lambda: next(codes))
    first, second = create(team, minutes=5), create(team)
    assert (first["code"], second["code"]) == ("1111", "2222")
    frozen_clock.advance(minutes=6)  # the first is past its time: its code is free again, the second's is not
    third = create(team)
    assert third["code"] == "1111"
    assert db.get(code_key(ORG, team["team_id"], "1111"))["request_id"] == third["request_id"]  # type: ignore[index]
    assert create(team)["code"] == "3333"
    referral_acceptance.accept(ORG, second["request_id"], AMY, via="dashboard")  # taken: its code is free
    assert create(team)["code"] == "2222"


def test_an_unknown_team_is_invalid_input_and_nothing_is_written(team: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput) as refused:
        referral_requests.create(ORG, new_request("01J0000000000000000000TEAM"), STAFF)
    assert refused.value.errors[0].field == "body.team_id"
    assert referral_requests.list_requests(ORG)[0] == []


# -- acceptance ------------------------------------------------------------------------------------


def test_a_members_acceptance_assigns_the_customer_to_them(team: dict[str, Any]) -> None:
    request = create(team)
    accepted = referral_acceptance.accept(ORG, request["request_id"], AMY, via="dashboard")
    assert (accepted["status"], accepted["accepted_by"], accepted["assignee_id"]) == ("accepted", AMY, AMY)
    customer = db.get(team_customer_key(ORG, team["team_id"], accepted["customer_id"]))
    assert customer is not None and customer["assignee_id"] == AMY and customer["customer"]["last_name"] == "Buyer"
    assert "closed_at" in db.get(code_key(ORG, team["team_id"], request["code"]))  # type: ignore[operator]
    assert db.get(team_member_key(ORG, team["team_id"], AMY))["customer_count"] == 1  # type: ignore[index]
    stored = current(request)
    assert stored["status"] == "accepted" and "gsi3pk" not in stored
    assert events(request) == ["created", "accepted"]


@pytest.mark.parametrize("acceptor", [ADMIN, LEADER])
def test_a_leaders_or_admins_acceptance_lands_on_the_leader(team: dict[str, Any], acceptor: str) -> None:
    accepted = referral_acceptance.accept(ORG, create(team)["request_id"], acceptor, via="dashboard")
    assert accepted["assignee_id"] == LEADER and accepted["accepted_by"] == acceptor
    assert db.get(team_member_key(ORG, team["team_id"], LEADER))["customer_count"] == 1  # type: ignore[index]
    assert db.get(team_member_key(ORG, team["team_id"], ADMIN))["customer_count"] == 0  # type: ignore[index]


def test_the_first_acceptance_wins_and_later_ones_change_nothing(team: dict[str, Any]) -> None:
    request = create(team)
    referral_acceptance.accept(ORG, request["request_id"], AMY, via="dashboard")
    before = current(request)
    with pytest.raises(ReferralTaken):
        referral_acceptance.accept(ORG, request["request_id"], LEADER, via="dashboard")
    assert current(request) == before
    assert db.get(team_member_key(ORG, team["team_id"], LEADER))["customer_count"] == 0  # type: ignore[index]
    # The winner accepting again gets the same answer, and nothing changes either.
    again = referral_acceptance.accept(ORG, request["request_id"], AMY, via="dashboard")
    assert again["customer_id"] == before["customer_id"] and current(request) == before


def test_a_member_not_eligible_cannot_accept(team: dict[str, Any]) -> None:
    request = create(team)
    with pytest.raises(NotEligible):
        referral_acceptance.accept(ORG, request["request_id"], BEN, via="dashboard")
    assert current(request)["status"] == "open"


def test_someone_outside_the_team_finds_nothing(team: dict[str, Any]) -> None:
    with pytest.raises(NotFound):
        referral_acceptance.accept(ORG, create(team)["request_id"], "u-stranger", via="dashboard")


def test_after_its_time_a_request_is_expired_and_refuses_acceptance(team: dict[str, Any], frozen_clock: Any) -> None:
    request = create(team, minutes=30)
    frozen_clock.advance(minutes=30)
    assert referral_requests.effective_status(current(request)) == "expired"
    with pytest.raises(ReferralExpired):
        referral_acceptance.accept(ORG, request["request_id"], AMY, via="dashboard")
    stored = current(request)
    assert stored["status"] == "expired" and "gsi3pk" not in stored
    assert events(request) == ["created", "expired"]


def sweep_expiry() -> sweeps.Run:
    """The daily sweep's expiry: what it hands on, then the work of each message."""
    return sweeps.run(referral_expiry.hand_on, {referral_expiry.JOB: referral_expiry.work})


def test_the_sweep_expires_only_what_is_due(team: dict[str, Any], frozen_clock: Any) -> None:
    soon, later, taken = create(team, minutes=10), create(team, minutes=60), create(team, minutes=10)
    referral_acceptance.accept(ORG, taken["request_id"], AMY, via="dashboard")
    frozen_clock.advance(minutes=11)
    run = sweep_expiry()
    assert (run.sweep["orgs"], run.sweep["due"], run.sweep["handed_on"], run.expired) == (1, 1, 1, 1)
    assert [current(r)["status"] for r in (soon, later, taken)] == ["expired", "open", "accepted"]
    assert sweep_expiry().expired == 0  # a second run finds nothing more
    assert [referral_expiry.work(m).expired for m in run.messages] == [0]  # nor does a message delivered twice


def test_expiry_cut_short_by_the_time_continues_on_the_next_delivery(team: dict[str, Any], frozen_clock: Any) -> None:
    requests = [create(team, minutes=10) for _ in range(3)]
    frozen_clock.advance(minutes=11)
    _, (message,) = sweeps.handed_on(referral_expiry.hand_on)
    budget = iter([True, False])
    first = referral_expiry.work(message, in_time=lambda: next(budget))
    assert (first.expired, first.left, first.unfinished) == (1, 2, True)
    assert referral_expiry.work(message).expired == 2
    assert {current(r)["status"] for r in requests} == {"expired"}


def test_expiry_leaves_a_code_that_a_newer_request_holds(
    team: dict[str, Any], monkeypatch: pytest.MonkeyPatch, frozen_clock: Any
) -> None:
    monkeypatch.setattr(referral_requests, "_new_code", lambda: "4821")
    old = create(team, minutes=5)
    frozen_clock.advance(minutes=6)
    new = create(team)
    assert sweep_expiry().expired == 1
    assert current(old)["status"] == "expired"
    assert db.get(code_key(ORG, team["team_id"], "4821"))["request_id"] == new["request_id"]  # type: ignore[index]


# -- by text reply ---------------------------------------------------------------------------------


def link(team: dict[str, Any], user_id: str) -> dict[str, Any]:
    item = db.get(phone_link_key(PHONES[user_id], ORG, team["team_id"]))
    assert item is not None
    return item


def test_replies_win_once_and_every_reply_is_in_the_history(team: dict[str, Any]) -> None:
    request = create(team)
    code = request["code"]
    won = referral_acceptance.accept_by_code(link(team, AMY), code, message_sid="SM1")
    assert (won.result, won.accepted, won.request_id) == ("won", True, request["request_id"])
    assert "Jo" in won.reply and "assigned to you" in won.reply
    taken = referral_acceptance.accept_by_code(link(team, LEADER), code, message_sid="SM2")
    assert taken.result == "taken" and "already taken" in taken.reply
    # The winner replying again is told so, and nothing changes.
    assert referral_acceptance.accept_by_code(link(team, AMY), code, message_sid="SM3").result == "already_yours"
    # The code is free for the team's next request once taken.
    assert db.get(code_key(ORG, team["team_id"], code))["closed_at"]  # type: ignore[index]
    history = current(request)["history"]
    assert [(e["event"], e.get("message_sid")) for e in history] == [
        ("created", None),
        ("accepted", "SM1"),
        ("reply", "SM2"),
    ]
    assert history[2]["outcome"] == "taken" and history[2]["by"] == f"user:{LEADER}"


def test_an_admins_reply_is_told_the_customer_went_to_the_leader(team: dict[str, Any]) -> None:
    outcome = referral_acceptance.accept_by_code(link(team, ADMIN), create(team)["code"], message_sid="SM1")
    assert outcome.result == "won" and "team leader" in outcome.reply


def test_replies_that_cannot_win(team: dict[str, Any], frozen_clock: Any) -> None:
    request = create(team, minutes=5)
    refused = referral_acceptance.accept_by_code(link(team, BEN), request["code"], message_sid="SM1")
    assert refused.result == "not_eligible" and refused.found
    other_code = "0000" if request["code"] != "0000" else "0001"
    assert referral_acceptance.accept_by_code(link(team, AMY), other_code, message_sid="SM2").result == "no_such_code"
    frozen_clock.advance(minutes=5)
    expired = referral_acceptance.accept_by_code(link(team, AMY), request["code"], message_sid="SM3")
    assert expired.result == "expired" and "expired" in expired.reply
    assert current(request)["status"] == "expired"


# -- delivery statuses -----------------------------------------------------------------------------


def offer(request: dict[str, Any], user_id: str) -> dict[str, Any]:
    [found] = [o for o in referral_offers.offers(ORG, request["request_id"]) if o["user_id"] == user_id]
    return found


def test_the_callback_url_names_the_offer_and_reads_back(team: dict[str, Any]) -> None:
    url = delivery_status.status_callback_url(ORG, "01JREQ00000000000000000000", AMY)
    assert url is not None and url.startswith(STATUS_URL + "?")
    query = dict(pair.split("=") for pair in url.split("?", 1)[1].split("&"))
    assert delivery_status.offer_of_status_callback(query) == (ORG, "01JREQ00000000000000000000", AMY)
    assert delivery_status.offer_of_status_callback({**query, "request_id": "x#y"}) is None
    assert delivery_status.offer_of_status_callback({}) is None


def test_a_failed_delivery_is_recorded_once_and_statuses_move_forward(team: dict[str, Any]) -> None:
    request = create(team)
    args = (ORG, request["request_id"], AMY)
    assert delivery_status.record_delivery(*args, "sent", None, message_sid="SM1")
    assert delivery_status.record_delivery(*args, "undelivered", "30003", message_sid="SM1")
    assert not delivery_status.record_delivery(*args, "undelivered", "30003", message_sid="SM1")
    assert not delivery_status.record_delivery(*args, "sent", None, message_sid="SM1")  # late, out of order
    stored = offer(request, AMY)
    assert (stored["status"], stored["error_code"], stored["message_sid"]) == ("undelivered", "30003", "SM1")
    failures = [e for e in current(request)["history"] if e["event"] == "delivery_failed"]
    assert [(e["user_id"], e["status"], e["error_code"]) for e in failures] == [(AMY, "undelivered", "30003")]


def test_a_status_of_an_unknown_request_records_nothing(team: dict[str, Any]) -> None:
    assert not delivery_status.record_delivery(ORG, "01J00000000000000000000REQ", AMY, "failed", "30005")
    assert referral_offers.offers(ORG, "01J00000000000000000000REQ") == []
