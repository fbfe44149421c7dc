"""Referral requests: creation with a short code, acceptance (first one wins, in one transaction), expiry,
text replies, delivery statuses, and the stream consumer texting the team through a loopback Twilio."""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable, Iterator
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
from tests.support import OPERATOR, FakeContext, body_of, http_event, load_event, queued

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


def test_the_sweep_expires_only_what_is_due(team: dict[str, Any], frozen_clock: Any) -> None:
    soon, later, taken = create(team, minutes=10), create(team, minutes=60), create(team, minutes=10)
    referral_acceptance.accept(ORG, taken["request_id"], AMY, via="dashboard")
    frozen_clock.advance(minutes=11)
    counts = referral_expiry.expire_due()
    assert (counts.orgs, counts.due, counts.expired) == (1, 1, 1)
    assert [current(r)["status"] for r in (soon, later, taken)] == ["expired", "open", "accepted"]
    assert referral_expiry.expire_due().expired == 0  # a second run finds nothing more


def test_expiry_leaves_a_code_that_a_newer_request_holds(
    team: dict[str, Any], monkeypatch: pytest.MonkeyPatch, frozen_clock: Any
) -> None:
    monkeypatch.setattr(referral_requests, "_new_code", lambda: "4821")
    old = create(team, minutes=5)
    frozen_clock.advance(minutes=6)
    new = create(team)
    assert referral_expiry.expire_due().expired == 1
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


# -- texting the team (the stream consumer) --------------------------------------------------------


def consume(*requests: dict[str, Any]) -> dict[str, Any]:
    handler = importlib.import_module("referrals.events")
    return handler.lambda_handler(
        queued(*(stream_record(r, seq) for seq, r in enumerate(requests, 1))),
        FakeContext(function_name="ReferralsEvents"),
    )


def stream_record(item: dict[str, Any], seq: int = 1) -> dict[str, Any]:
    sample = copy.deepcopy(load_event("dynamodb_stream_lead_insert.json")["Records"][0])
    sample["eventName"], sample["eventID"] = "INSERT", f"event-{seq}"
    change = sample["dynamodb"]
    change["Keys"] = db.serialize({"pk": item["pk"], "sk": item["sk"]})
    change["NewImage"] = db.serialize(item)
    change["SequenceNumber"] = f"{seq:024d}"
    change.pop("OldImage", None)
    return sample


def texted(twilio: FakeTwilio) -> list[str]:
    by_phone = {phone: user for user, phone in PHONES.items()}
    return sorted(by_phone[m["to"]] for m in twilio.messages())


def test_eligible_members_who_are_neither_paused_nor_opted_out_get_one_text(
    team: dict[str, Any], twilio: FakeTwilio
) -> None:
    request = create(team)
    for _ in range(2):  # a redelivered record texts nobody twice
        assert consume(request) == {"batchItemFailures": []}
    assert texted(twilio) == sorted([LEADER, AMY])
    body = twilio.messages()[0]["body"]
    assert f"YES {request['code']}" in body and "Jo" in body and "Looking for a 3-bed house" in body
    assert "Buyer" not in body and "+1555999" not in body and "jo@x.example" not in body
    callback = twilio.messages()[0]["status_callback"]
    assert callback.startswith(STATUS_URL + "?") and request["request_id"] in callback
    assert offer(request, AMY)["status"] == "queued" and offer(request, AMY)["message_sid"].startswith("SM")
    assert events(request).count("offered") == 2


def test_an_outage_fails_the_record_and_the_retry_texts_only_the_rest(team: dict[str, Any], twilio: FakeTwilio) -> None:
    request = create(team)
    twilio.fail_next(1, status=503)
    failed = consume(request)
    assert len(failed["batchItemFailures"]) == 1 and len(twilio.messages()) == 1
    assert consume(request) == {"batchItemFailures": []}
    assert texted(twilio) == sorted([LEADER, AMY])
    assert events(request).count("offered") == 2


def test_a_refused_number_is_recorded_and_not_retried(team: dict[str, Any], twilio: FakeTwilio) -> None:
    request = create(team)
    twilio.fail_next(1, status=400)
    assert consume(request) == {"batchItemFailures": []}
    assert consume(request) == {"batchItemFailures": []}
    assert len(twilio.messages()) == 1
    refused = [o for o in referral_offers.offers(ORG, request["request_id"]) if o["status"] == "refused"]
    assert len(refused) == 1 and refused[0]["error_code"] == "21211"
    assert events(request).count("offer_refused") == 1


def test_a_request_taken_before_its_texts_texts_nobody(team: dict[str, Any], twilio: FakeTwilio) -> None:
    request = create(team)
    referral_acceptance.accept(ORG, request["request_id"], AMY, via="dashboard")
    assert consume(request) == {"batchItemFailures": []}
    assert twilio.messages() == []


def test_a_request_whose_record_comes_late_and_again_texts_each_member_once_while_open(
    team: dict[str, Any], twilio: FakeTwilio, frozen_clock: Any
) -> None:
    request, late = create(team), create(team, minutes=5)
    frozen_clock.advance(minutes=10)  # `late` expired before its record was handled
    for _ in range(3):
        assert consume(late, request, late) == {"batchItemFailures": []}
    assert texted(twilio) == sorted([LEADER, AMY])
    assert all(f"YES {request['code']}" in m["body"] for m in twilio.messages())


def test_an_offer_cut_short_after_its_text_is_recorded_on_redelivery(
    team: dict[str, Any], twilio: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = create(team)
    record: Callable[..., None] = referral_offers._record
    calls = {"n": 0}

    def crash_once(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("stopped after the text")
        record(*args, **kwargs)

    monkeypatch.setattr(referral_offers, "_record", crash_once)
    assert len(consume(request)["batchItemFailures"]) == 1
    assert consume(request) == {"batchItemFailures": []}
    assert texted(twilio) == sorted([LEADER, AMY])
    assert len(referral_offers.offers(ORG, request["request_id"])) == 2
    assert events(request).count("offered") == 2


# -- routes ----------------------------------------------------------------------------------------


def call(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    api = importlib.import_module("referrals.api")
    return api.lambda_handler(http_event(method, path, **kwargs), FakeContext(function_name="ReferralsApi"))


@pytest.fixture
def org() -> dict[str, Any]:
    leads = importlib.import_module("leads.api")

    def leads_call(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return leads.lambda_handler(http_event(method, path, **kwargs), FakeContext())

    org_id = body_of(leads_call("POST", "/orgs", user=STAFF, groups=OPERATOR, body={"name": "Acme"}))["org_id"]
    leads_call("PUT", f"/orgs/{org_id}/members/u-clerk", user=STAFF, body={"permissions": []})
    staff = Member(org_id, STAFF, "admin", frozenset())
    leader = roster.NewLeader(user_id=LEADER, phone=PHONES[LEADER], display_name="Lee")
    created, _ = roster.create_team(org_id, staff, roster.NewTeam(name="North", leader=leader))
    caller = membership.TeamCaller(org_id, created["team_id"], STAFF, created, None, staff)
    roster.put_member(caller, AMY, _member(AMY, "member"))
    roster.put_member(caller, BEN, _member(BEN, "member", eligible=False))
    return {"org_id": org_id, "team_id": created["team_id"]}


def body(team_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "team_id": team_id,
        "customer": {"first_name": "Jo", "last_name": "Buyer"},
        "summary": "Wants a flat",
        **overrides,
    }


def test_routes_create_list_get_and_accept(org: dict[str, Any], twilio: FakeTwilio, frozen_clock: Any) -> None:
    base = f"/orgs/{org['org_id']}/referral-requests"
    created = call("POST", base, user=STAFF, body=body(org["team_id"], expires_in_minutes=10))
    assert created["statusCode"] == 201, created
    request = body_of(created)
    frozen_clock.advance(seconds=1)
    other = body_of(call("POST", base, user=STAFF, body=body(org["team_id"])))

    staff_view = body_of(call("GET", f"{base}/{request['request_id']}", user=STAFF))
    assert staff_view["customer"]["last_name"] == "Buyer" and staff_view["offers"] == []
    member_view = body_of(call("GET", f"{base}/{request['request_id']}", user=BEN))
    assert member_view["customer"] == {"first_name": "Jo"} and "history" not in member_view

    assert call("POST", f"{base}/{request['request_id']}/accept", user=BEN)["statusCode"] == 403
    won = call("POST", f"{base}/{request['request_id']}/accept", user=AMY)
    assert won["statusCode"] == 200 and body_of(won)["assignee_id"] == AMY
    taken = call("POST", f"{base}/{request['request_id']}/accept", user=LEADER)
    assert taken["statusCode"] == 409 and body_of(taken)["type"] == "/problems/referral-taken"

    frozen_clock.advance(minutes=121)
    expired = call("POST", f"{base}/{other['request_id']}/accept", user=AMY)
    assert expired["statusCode"] == 409 and body_of(expired)["type"] == "/problems/referral-expired"

    def listed(**query: str) -> list[str]:
        return [i["request_id"] for i in body_of(call("GET", base, user=STAFF, query=query))["items"]]

    assert listed() == [other["request_id"], request["request_id"]]
    assert listed(status="expired") == [other["request_id"]]
    assert listed(status="accepted") == [request["request_id"]]
    assert listed(status="open") == []
    assert listed(created_by=STAFF, team_id=org["team_id"]) == [other["request_id"], request["request_id"]]


def test_route_refusals(org: dict[str, Any], twilio: FakeTwilio) -> None:
    base = f"/orgs/{org['org_id']}/referral-requests"
    bad = call(
        "POST",
        base,
        user=STAFF,
        body=body(org["team_id"], summary="", expires_in_minutes=4, customer={"first_name": "Jo"}),
    )
    assert bad["statusCode"] == 422
    fields = {e["field"] for e in body_of(bad)["errors"]}
    assert {"body.summary", "body.expires_in_minutes", "body.customer.last_name"} <= fields
    unknown_team = call("POST", base, user=STAFF, body=body("01J0000000000000000000TEAM"))
    assert unknown_team["statusCode"] == 422 and body_of(unknown_team)["errors"][0]["field"] == "body.team_id"
    assert body_of(call("GET", base, user=STAFF))["items"] == []

    assert call("POST", base, user="u-clerk", body=body(org["team_id"]))["statusCode"] == 403
    assert call("GET", base, user="u-clerk")["statusCode"] == 403
    assert call("POST", base, user="u-stranger", body=body(org["team_id"]))["statusCode"] == 404
    assert call("GET", "/orgs/01J0000000000000000000RG2X/referral-requests", user=STAFF)["statusCode"] == 404

    request = body_of(call("POST", base, user=STAFF, body=body(org["team_id"])))
    assert call("GET", f"{base}/{request['request_id']}", user="u-stranger")["statusCode"] == 404
    assert call("GET", f"{base}/{request['request_id']}", user="u-clerk")["statusCode"] == 403
    assert call("POST", f"{base}/{request['request_id']}/accept", user=STAFF)["statusCode"] == 403
    assert call("POST", f"{base}/{request['request_id']}/accept", user="u-stranger")["statusCode"] == 404
    assert call("GET", f"{base}/not-an-id", user=STAFF)["statusCode"] == 422
