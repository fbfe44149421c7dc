"""The organisation's queue settings through the leads API in-process (moto): saving and refusing them, the
lead's time zone, the hold after a put-back, queue hours at the claim, and the duplicate window. The clock
is the tests' frozen one (22 November 2026, 09:00 UTC), moved by the tests."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from common.leads import companies, duplicates, queue
from common.leads.model import lead_key
from common.platform import db

from tests.support import OPERATOR, Call, api_caller, body_of
from tests.unit.conftest import TABLE

ADMIN, REP, READER = "user-admin", "user-rep", "user-reader"
CLIENT = "seller-client"
NEW_YORK = "America/New_York"


@pytest.fixture
def call() -> Call:
    return api_caller("leads")


@pytest.fixture
def org(call: Call) -> str:
    org_id: str = body_of(call("POST", "/orgs", user=ADMIN, groups=OPERATOR, body={"name": "Queue org"}))["org_id"]
    for user, permissions in ((REP, ["leads:request", "leads:create"]), (READER, [])):
        assert (
            call("PUT", f"/orgs/{org_id}/members/{user}", user=ADMIN, body={"permissions": permissions})["statusCode"]
            == 200
        )
    seller = {"name": "Seller", "sells_leads": True, "default_lead_location": "queue", "queue_priority": "high"}
    company_id = body_of(call("POST", f"/orgs/{org_id}/partner-companies", user=ADMIN, body=seller))["company_id"]
    companies.attach_client(org_id, company_id, CLIENT)
    return f"{org_id}/{company_id}"


def org_id(org: str) -> str:
    return org.split("/")[0]


def save(call: Call, org: str, **settings: Any) -> dict[str, Any]:
    response = call("PUT", f"/orgs/{org_id(org)}/queue-settings", user=ADMIN, body=settings)
    assert response["statusCode"] == 200, response
    return body_of(response)  # type: ignore[no-any-return]


def enter(call: Call, org: str, **fields: Any) -> dict[str, Any]:
    body = {
        "contact_name": "Jane Doe",
        "phone": "+15550100",
        "location": "queue",
        "source_id": "self-generated",
        **fields,
    }
    return call("POST", f"/orgs/{org_id(org)}/leads", user=REP, body=body)


def post(call: Call, org: str, external_id: str, **fields: Any) -> dict[str, Any]:
    company_id = org.split("/")[1]
    body = {"external_id": external_id, "contact_name": "Jane Doe", "phone": "+15550100", **fields}
    return call("POST", f"/orgs/{org_id(org)}/partner-companies/{company_id}/leads", machine=CLIENT, body=body)


def claim(call: Call, org: str) -> dict[str, Any]:
    return call("POST", f"/orgs/{org_id(org)}/lead-queue/claims", user=REP)


def queued(call: Call, org: str) -> list[dict[str, Any]]:
    listing = call("GET", f"/orgs/{org_id(org)}/leads", user=ADMIN, query={"status": "queued", "limit": "100"})
    return body_of(listing)["items"]  # type: ignore[no-any-return]


# -- the settings ------------------------------------------------------------------------------------


def test_the_defaults_until_saved_then_what_was_saved(call: Call, org: str) -> None:
    path = f"/orgs/{org_id(org)}/queue-settings"
    defaults = body_of(call("GET", path, user=READER))  # any member reads them
    assert defaults == {
        "org_id": org_id(org),
        "put_back_hold_minutes": 0,
        "queue_hours": None,
        "duplicates": {"allowed": "always", "days": None},
        "fallback_time_zone": "UTC",
        "updated_at": None,
        "updated_by": None,
    }
    saved = save(
        call,
        org,
        put_back_hold_minutes=30,
        queue_hours={"from": "22:00", "until": "06:00"},
        duplicates={"allowed": "never"},
        fallback_time_zone="Europe/Berlin",
    )
    assert body_of(call("GET", path, user=READER)) == saved
    assert saved["queue_hours"] == {"from": "22:00", "until": "06:00"}
    assert (saved["updated_by"], saved["updated_at"]) == (f"user:{ADMIN}", "2026-11-22T09:00:00.000Z")
    # PUT is the whole of them: what is left out goes back to its default.
    assert save(call, org, put_back_hold_minutes=5)["duplicates"] == {"allowed": "always", "days": None}


def test_changing_them_needs_leads_manage(call: Call, org: str) -> None:
    response = call("PUT", f"/orgs/{org_id(org)}/queue-settings", user=REP, body={"put_back_hold_minutes": 5})
    assert response["statusCode"] == 403
    assert call("GET", f"/orgs/{org_id(org)}/queue-settings", user="stranger")["statusCode"] == 404


@pytest.mark.parametrize(
    ("settings", "fields"),
    [
        ({"put_back_hold_minutes": 1441}, {"body.put_back_hold_minutes"}),
        ({"put_back_hold_minutes": -1}, {"body.put_back_hold_minutes"}),
        ({"queue_hours": {"from": "24:00", "until": "9:00"}}, {"body.queue_hours.from", "body.queue_hours.until"}),
        ({"queue_hours": {"from": "09:00", "until": "09:00"}}, {"body.queue_hours"}),
        ({"queue_hours": {"from": "09:00"}}, {"body.queue_hours.until"}),
        ({"duplicates": {"allowed": "after_days"}}, {"body.duplicates.days"}),
        ({"duplicates": {"allowed": "always", "days": 3}}, {"body.duplicates.days"}),
        ({"duplicates": {"allowed": "after_days", "days": 3651}}, {"body.duplicates.days"}),
        ({"duplicates": {"allowed": "sometimes"}}, {"body.duplicates.allowed"}),
        ({"fallback_time_zone": "Mars/Olympus_Mons"}, {"body.fallback_time_zone"}),
        ({"hold": 5}, {"body.hold"}),
    ],
)
def test_bad_settings_name_each_field_and_change_nothing(
    call: Call, org: str, settings: dict[str, Any], fields: set[str]
) -> None:
    response = call("PUT", f"/orgs/{org_id(org)}/queue-settings", user=ADMIN, body=settings)
    assert response["statusCode"] == 422, response
    assert {error["field"] for error in body_of(response)["errors"]} == fields
    assert body_of(call("GET", f"/orgs/{org_id(org)}/queue-settings", user=ADMIN))["updated_at"] is None


# -- the lead's time zone ----------------------------------------------------------------------------


def test_a_leads_zone_is_given_or_from_its_address_or_the_organisations(call: Call, org: str) -> None:
    given = body_of(enter(call, org, time_zone="Europe/Paris", address={"line1": "1 Main St", "region": "TX"}))
    assert (given["time_zone"], given["time_zone_source"]) == ("Europe/Paris", "given")
    texan = body_of(enter(call, org, address={"line1": "1 Main St", "region": "TX", "country": "US"}))
    assert (texan["time_zone"], texan["time_zone_source"]) == ("America/Chicago", "address")
    assert body_of(enter(call, org))["time_zone"] == "UTC"
    save(call, org, fallback_time_zone="America/Denver")
    anywhere = body_of(enter(call, org, address={"line1": "1 Main St", "country": "AU"}))
    assert (anywhere["time_zone"], anywhere["time_zone_source"]) == ("America/Denver", "organisation")
    posted = post(call, org, "TZ-1", time_zone="Asia/Tokyo")
    assert posted["statusCode"] == 201
    stored = db.get(lead_key(org_id(org), body_of(posted)["lead_id"]))
    assert stored is not None and stored["time_zone"] == "Asia/Tokyo"


def test_a_zone_that_is_not_one_is_refused_naming_it(call: Call, org: str) -> None:
    for response in (enter(call, org, time_zone="Moon/Base"), post(call, org, "TZ-2", time_zone="EST5EDT x")):
        assert response["statusCode"] == 422
        assert [error["field"] for error in body_of(response)["errors"]] == ["body.time_zone"]
    assert queued(call, org) == []


# -- the hold after a put-back -------------------------------------------------------------------------


def test_a_lead_put_back_is_held_out_of_the_queue(call: Call, org: str, frozen_clock: Any) -> None:
    save(call, org, put_back_hold_minutes=30)
    lead_id = body_of(enter(call, org))["lead_id"]
    assert body_of(claim(call, org))["lead_id"] == lead_id
    put_back = call("POST", f"/orgs/{org_id(org)}/leads/{lead_id}/requeue", user=REP, body={})
    assert body_of(put_back)["available_at"] == "2026-11-22T09:30:00.000Z"
    assert claim(call, org)["statusCode"] == 204
    frozen_clock.advance(minutes=29, seconds=59)
    assert claim(call, org)["statusCode"] == 204
    frozen_clock.advance(seconds=1)
    assert body_of(claim(call, org))["lead_id"] == lead_id


def test_a_later_contact_time_beats_the_hold_and_a_pending_lead_is_not_held(call: Call, org: str) -> None:
    save(call, org, put_back_hold_minutes=30)
    lead_id = body_of(enter(call, org))["lead_id"]
    claim(call, org)
    later = {"contact_not_before": "2026-11-22T11:00:00Z"}
    put_back = call("POST", f"/orgs/{org_id(org)}/leads/{lead_id}/requeue", user=REP, body=later)
    assert body_of(put_back)["available_at"] == "2026-11-22T11:00:00.000Z"
    pending = body_of(enter(call, org, location="pending"))["lead_id"]
    queued_now = call("POST", f"/orgs/{org_id(org)}/leads/{pending}/requeue", user=ADMIN, body={})
    assert body_of(queued_now)["available_at"] == "2026-11-22T09:00:00.000Z"  # never requested: no hold


# -- queue hours -----------------------------------------------------------------------------------------


def test_a_lead_is_served_only_within_the_hours_of_its_own_zone(call: Call, org: str, frozen_clock: Any) -> None:
    save(call, org, queue_hours={"from": "09:00", "until": "17:00"}, fallback_time_zone=NEW_YORK)
    # 09:00 UTC is 04:00 in New York: the lead waits for 09:00 EST, 14:00 UTC.
    waiting = body_of(enter(call, org))
    assert waiting["available_at"] == "2026-11-22T14:00:00.000Z"
    # ...while one in Berlin (10:00 there) is served at once.
    berlin = body_of(enter(call, org, time_zone="Europe/Berlin"))
    assert body_of(claim(call, org))["lead_id"] == berlin["lead_id"]
    assert claim(call, org)["statusCode"] == 204
    frozen_clock.advance(hours=5)
    assert body_of(claim(call, org))["lead_id"] == waiting["lead_id"]


def test_a_lead_the_hours_closed_on_is_skipped_and_moved_to_its_next_opening(
    call: Call, org: str, frozen_clock: Any
) -> None:
    save(call, org, queue_hours={"from": "09:00", "until": "17:00"}, fallback_time_zone=NEW_YORK)
    frozen_clock.advance(hours=12)  # 21:00 UTC, 16:00 in New York
    closing = body_of(enter(call, org))
    frozen_clock.advance(hours=1)  # 17:00 in New York; 14:00 in Los Angeles
    western = body_of(enter(call, org, time_zone="America/Los_Angeles"))
    assert body_of(claim(call, org))["lead_id"] == western["lead_id"]  # the earlier lead is skipped, not served
    [left] = queued(call, org)
    assert (left["lead_id"], left["status"]) == (closing["lead_id"], "queued")  # still in the queue
    assert left["available_at"] == "2026-11-23T14:00:00.000Z"  # moved to 09:00 EST tomorrow
    assert claim(call, org)["statusCode"] == 204
    frozen_clock.advance(hours=17)
    assert body_of(claim(call, org))["lead_id"] == closing["lead_id"]


def test_hours_across_midnight(call: Call, org: str, frozen_clock: Any) -> None:
    save(call, org, queue_hours={"from": "22:00", "until": "06:00"})  # UTC, the fallback
    lead_id = body_of(enter(call, org))["lead_id"]
    assert claim(call, org)["statusCode"] == 204
    frozen_clock.advance(hours=13)  # 22:00
    assert body_of(claim(call, org))["lead_id"] == lead_id


def test_a_claim_moves_a_bounded_number_of_closed_leads(
    call: Call, org: str, frozen_clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queue, "MOVES_PER_CLAIM", 3)
    save(call, org, queue_hours={"from": "08:00", "until": "10:00"})  # UTC, the fallback
    closed = [body_of(enter(call, org))["lead_id"] for _ in range(5)]
    frozen_clock.advance(hours=1, minutes=30)  # 10:30 UTC: the hours closed on all five
    brazil = body_of(enter(call, org, time_zone="America/Sao_Paulo"))  # 07:30 there
    assert brazil["available_at"] == "2026-11-22T11:00:00.000Z"  # queued for its opening at 08:00
    assert claim(call, org)["statusCode"] == 204  # three moved, then the claim stops
    tomorrow = "2026-11-23T08:00:00.000Z"
    moved = {lead["lead_id"] for lead in queued(call, org) if lead["available_at"] == tomorrow}
    assert len(moved) == 3 and moved < set(closed)
    assert claim(call, org)["statusCode"] == 204  # the other two moved, nothing else is ready
    assert {lead["lead_id"] for lead in queued(call, org) if lead["available_at"] == tomorrow} == set(closed)
    frozen_clock.advance(minutes=30)  # 08:00 in São Paulo
    assert body_of(claim(call, org))["lead_id"] == brazil["lead_id"]


# -- duplicates ------------------------------------------------------------------------------------------


def test_a_duplicate_within_the_window_is_refused_with_the_earlier_leads(
    call: Call, org: str, frozen_clock: Any
) -> None:
    save(call, org, duplicates={"allowed": "after_days", "days": 30})
    first = body_of(enter(call, org, email="Jane@Example.org"))["lead_id"]
    frozen_clock.advance(days=1)
    by_email = enter(call, org, phone="+15550111", email="JANE@example.ORG")
    assert (by_email["statusCode"], body_of(by_email)["lead_ids"]) == (409, [first])
    same_phone = enter(call, org, phone="+1 (555) 010-0", email="other@example.org")
    assert same_phone["statusCode"] == 409
    problem = body_of(same_phone)
    assert (problem["type"], problem["lead_ids"], problem["conflicting_ids"]) == (
        "/problems/duplicate-lead",
        [first],
        [first],
    )
    assert [lead["lead_id"] for lead in queued(call, org)] == [first]  # nothing written
    frozen_clock.advance(days=29, seconds=1)  # the first lead is now 30 days and a second old
    assert enter(call, org)["statusCode"] == 201


def test_never_refuses_a_duplicate_of_any_earlier_lead(call: Call, org: str, frozen_clock: Any) -> None:
    save(call, org, duplicates={"allowed": "never"})
    first = body_of(enter(call, org))["lead_id"]
    frozen_clock.advance(days=3650)
    refused = post(call, org, "NEVER-1")
    assert (refused["statusCode"], body_of(refused)["lead_ids"]) == (409, [first])


def test_duplicates_are_taken_by_default_and_leave_no_guards(call: Call, org: str) -> None:
    assert enter(call, org)["statusCode"] == enter(call, org)["statusCode"] == 201
    guard = db.get(duplicates.guard_key(org_id(org), "+15550100"))
    assert guard is None


def test_a_companys_repost_is_its_lead_not_a_duplicate(call: Call, org: str) -> None:
    save(call, org, duplicates={"allowed": "never"})
    first = post(call, org, "REPOST-1")
    again = post(call, org, "REPOST-1")
    assert (first["statusCode"], again["statusCode"]) == (201, 200)
    assert body_of(again)["lead_id"] == body_of(first)["lead_id"]
    assert post(call, org, "REPOST-2")["statusCode"] == 409  # another external id, the same phone


def test_the_check_answers_what_creating_would_and_creates_nothing(call: Call, org: str) -> None:
    company_id = org.split("/")[1]
    path = f"/orgs/{org_id(org)}/partner-companies/{company_id}/lead-duplicate-checks"
    body = {"external_id": "CHECK-1", "contact_name": "Jane Doe", "phone": "+15550100"}
    first = body_of(enter(call, org))["lead_id"]
    assert call("POST", path, machine=CLIENT, body=body)["statusCode"] == 204  # always: none is refused
    save(call, org, duplicates={"allowed": "after_days", "days": 7})
    assert call("POST", path, machine=CLIENT, body=body)["statusCode"] == 204  # received before the rule
    second = body_of(enter(call, org, phone="+15550122"))["lead_id"]
    by_hand = {"contact_name": "J", "phone": "+15550122", "source_id": "self-generated"}
    checked = call("POST", f"/orgs/{org_id(org)}/lead-duplicate-checks", user=REP, body=by_hand)
    assert (checked["statusCode"], body_of(checked)["lead_ids"]) == (409, [second])
    assert call("POST", path, machine=CLIENT, body={**body, "phone": "+1 555 0122"})["statusCode"] == 409
    bad = call("POST", path, machine=CLIENT, body={**body, "phone": None})
    assert bad["statusCode"] == 422  # the lead is checked as creating it would be
    assert call("POST", path, user=REP, body=body)["statusCode"] == 403  # the company's own credentials only
    assert {lead["lead_id"] for lead in queued(call, org)} == {first, second}


def test_a_guard_keeps_its_newest_leads_and_expires_with_the_window(call: Call, org: str, frozen_clock: Any) -> None:
    save(call, org, duplicates={"allowed": "after_days", "days": 1})
    created = []
    for _ in range(duplicates.GUARD_KEEPS + 2):
        created.append(body_of(enter(call, org))["lead_id"])
        frozen_clock.advance(days=1, seconds=1)
    guard = db.get(duplicates.guard_key(org_id(org), "+15550100"))
    assert guard is not None
    assert [entry["lead_id"] for entry in guard["leads"]] == created[-duplicates.GUARD_KEEPS :]
    assert guard["expiration"] == int(frozen_clock.moment.timestamp()) - 1
    save(call, org, duplicates={"allowed": "never"})
    assert enter(call, org, phone="+15550177")["statusCode"] == 201
    guard = db.get(duplicates.guard_key(org_id(org), "+15550177"))
    assert guard is not None and "expiration" not in guard  # under never a guard is kept
    table = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]
    assert not any("+15550100" in str(item["pk"]) for item in table)  # keys hold hashes, not phone numbers
