"""Referral requests through the referrals function: the stream consumer texting the team through a loopback
Twilio, and the routes. The domain's rules: tests/unit/teams/test_referral_requests.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from common.orgs.access import Member
from common.teams import membership, referral_acceptance, referral_offers, roster

from local.twilio_fake import FakeTwilio
from tests.support import OPERATOR, api_caller, body_of, queue_consumer, stream_record
from tests.unit.teams import test_referral_requests as domain
from tests.unit.teams.test_referral_requests import (
    AMY,
    BEN,
    LEADER,
    ORG,
    PHONES,
    STAFF,
    STATUS_URL,
    _member,
    create,
    events,
    offer,
)

# The domain tests' Twilio stand-in and team, as fixtures here too (pytest finds fixtures among a module's names).
twilio = domain.twilio
team = domain.team


# -- texting the team (the stream consumer) --------------------------------------------------------


def consume(*requests: dict[str, Any]) -> dict[str, Any]:
    """The consumer given the requests' INSERT records, numbered from 1 in this order."""
    return queue_consumer("referrals")(*(stream_record("INSERT", r, seq=seq) for seq, r in enumerate(requests, 1)))


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


call = api_caller("referrals")


@pytest.fixture
def org() -> dict[str, Any]:
    leads_call = api_caller("leads")
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
