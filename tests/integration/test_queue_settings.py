"""The organisation's queue settings over HTTP against the local stack: saving them, queue hours at the claim,
the hold after a put-back, duplicates refused with the earlier leads (also when they race), and the duplicate
check. The tests move the functions' clock, never sleep, and put it back."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

from tests.integration.support.actors import Organisation, lead, new_organisation

pytestmark = pytest.mark.integration


@pytest.fixture
def org(stack: Any) -> Organisation:
    return new_organisation(stack, reps=2)


@pytest.fixture
def clock(stack: Any) -> Iterator[Any]:
    """The functions' clock, moved by the test and put back after it."""
    offset = stack.clock_offset
    yield stack
    stack.set_clock_offset(offset)


def save(org: Organisation, **settings: Any) -> dict[str, Any]:
    response = org.admin.put(f"/orgs/{org.org_id}/queue-settings", settings)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def claim(org: Organisation, rep: int = 0) -> requests.Response:
    return org.reps[rep].post(f"/orgs/{org.org_id}/lead-queue/claims")


def leads_in(org: Organisation, status: str) -> list[dict[str, Any]]:
    listing = org.admin.get(f"/orgs/{org.org_id}/leads", params={"status": status, "limit": 100})
    assert listing.status_code == 200, listing.text
    return listing.json()["items"]  # type: ignore[no-any-return]


def test_members_read_the_settings_and_lead_administrators_save_them(org: Organisation) -> None:
    path = f"/orgs/{org.org_id}/queue-settings"
    defaults = org.reps[0].get(path)
    assert defaults.status_code == 200
    assert (defaults.json()["put_back_hold_minutes"], defaults.json()["queue_hours"]) == (0, None)
    assert org.reps[0].put(path, {"put_back_hold_minutes": 10}).status_code == 403
    saved = save(org, queue_hours={"from": "08:30", "until": "18:00"}, fallback_time_zone="America/Chicago")
    assert org.supervisor.get(path).json() == saved
    bad = org.admin.put(
        path, {"queue_hours": {"from": "8am", "until": "18:00"}, "duplicates": {"allowed": "after_days"}}
    )
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert {e["field"] for e in bad.json()["errors"]} == {"body.queue_hours.from", "body.duplicates.days"}
    assert org.admin.get(path).json() == saved  # nothing written


def test_a_lead_outside_its_queue_hours_is_not_served(org: Organisation, clock: Any) -> None:
    opens = clock.now() + timedelta(hours=2)
    closes = opens + timedelta(hours=2)
    save(org, queue_hours={"from": f"{opens:%H:%M}", "until": f"{closes:%H:%M}"})  # in UTC, the fallback
    posted = org.company.post(org.intake_path, lead("HOURS-1", email="hours@example.org"))
    assert posted.status_code == 201, posted.text
    [waiting] = leads_in(org, "queued")
    assert (waiting["time_zone"], waiting["time_zone_source"]) == ("UTC", "organisation")
    assert waiting["available_at"].startswith(f"{opens:%Y-%m-%dT%H:%M}:00.000")  # its next opening
    assert claim(org).status_code == 204  # nothing served: the lead waits, still queued
    assert [item["lead_id"] for item in leads_in(org, "queued")] == [posted.json()["lead_id"]]
    clock.advance_clock(2 * 3600 + 60)
    served = claim(org)
    assert served.status_code == 200 and served.json()["lead_id"] == posted.json()["lead_id"]


def test_a_lead_that_waited_past_closing_is_skipped_but_stays_queued(org: Organisation, clock: Any) -> None:
    # Open for the next hour in UTC; a lead in the queue when the hours close waits for the next day.
    opened = clock.now() - timedelta(minutes=30)
    save(org, queue_hours={"from": f"{opened:%H:%M}", "until": f"{opened + timedelta(hours=1):%H:%M}"})
    first = org.company.post(org.intake_path, lead("CLOSE-1")).json()["lead_id"]
    clock.advance_clock(3600)  # closed
    other_zone = org.company.post(org.intake_path, lead("CLOSE-2", phone="+1 555 0177", time_zone="Etc/GMT+1"))
    served = claim(org)  # the lead in UTC-1 is in its hours for another half hour; the first one is not
    assert served.status_code == 200 and served.json()["lead_id"] == other_zone.json()["lead_id"]
    [still] = leads_in(org, "queued")
    assert still["lead_id"] == first
    assert datetime.fromisoformat(still["available_at"]) > clock.now()  # moved to its next opening
    assert claim(org).status_code == 204


def test_a_lead_put_back_is_held_for_the_organisations_minutes(org: Organisation, clock: Any) -> None:
    save(org, put_back_hold_minutes=30)
    lead_id = org.company.post(org.intake_path, lead("HOLD-1")).json()["lead_id"]
    assert claim(org).json()["lead_id"] == lead_id
    put_back = org.reps[0].post(f"/orgs/{org.org_id}/leads/{lead_id}/requeue", {})
    assert put_back.status_code == 200, put_back.text
    assert claim(org, rep=1).status_code == 204  # held, also from the other rep
    clock.advance_clock(29 * 60)
    assert claim(org, rep=1).status_code == 204
    clock.advance_clock(61)
    again = claim(org, rep=1)
    assert again.status_code == 200 and again.json()["lead_id"] == lead_id


def test_a_duplicate_is_refused_naming_the_earlier_lead_and_nothing_is_written(org: Organisation, stack: Any) -> None:
    save(org, duplicates={"allowed": "after_days", "days": 30})
    first = org.company.post(org.intake_path, lead("DUP-A", email="Sam@Example.org"))
    assert first.status_code == 201, first.text
    first_id = first.json()["lead_id"]
    posted = org.company.post(org.intake_path, lead("DUP-B", phone="+1 (555) 010-0"))
    assert posted.status_code == 409 and posted.headers["content-type"].startswith("application/problem+json")
    assert posted.json()["type"] == "/problems/duplicate-lead"
    assert posted.json()["lead_ids"] == [first_id]
    by_hand = org.admin.post(
        f"/orgs/{org.org_id}/leads",
        {"contact_name": "Sam", "email": "sam@example.ORG", "location": "queue", "source_id": "self-generated"},
    )
    assert by_hand.status_code == 409 and by_hand.json()["lead_ids"] == [first_id]
    assert [item["lead_id"] for item in leads_in(org, "queued")] == [first_id]
    # Nothing written: DUP-B's external id is still free, and takes a lead with another contact.
    fresh = org.company.post(org.intake_path, lead("DUP-B", phone="+1 555 0199"))
    assert fresh.status_code == 201
    assert org.company.post(org.intake_path, lead("DUP-A")).json()["lead_id"] == first_id  # a repost: 200
    stack.wait_for_streams()  # one purchase notification per lead written: none for the refused ones
    purchases = [m for m in stack.outbox() if m["to"] == [f"purchases-{org.org_id.lower()}@buyer.example"]]
    assert len(purchases) == 2


def test_the_duplicate_check_answers_with_the_matches_and_creates_nothing(org: Organisation) -> None:
    manual_check = f"/orgs/{org.org_id}/lead-duplicate-checks"
    company_check = f"/orgs/{org.org_id}/partner-companies/{org.company_id}/lead-duplicate-checks"
    walk_in = {"contact_name": "Robin", "phone": "+1 555 0142", "location": "queue", "source_id": "self-generated"}
    assert org.admin.post(manual_check, walk_in).status_code == 204  # duplicates always taken
    save(org, duplicates={"allowed": "never"})
    assert org.company.post(company_check, lead("CHK-1", phone="+1 555 0142")).status_code == 204
    earlier = org.admin.post(f"/orgs/{org.org_id}/leads", walk_in)
    assert earlier.status_code == 201
    for response in (
        org.admin.post(manual_check, walk_in),
        org.company.post(company_check, lead("CHK-1", phone="+15550142")),
    ):
        assert response.status_code == 409, response.text
        assert response.json()["lead_ids"] == [earlier.json()["lead_id"]]
    assert [item["lead_id"] for item in leads_in(org, "queued")] == [earlier.json()["lead_id"]]
    assert org.company.post(org.intake_path, lead("CHK-1", phone="+1 555 0143")).status_code == 201  # id unused


def test_concurrent_duplicates_have_exactly_one_winner(org: Organisation) -> None:
    save(org, duplicates={"allowed": "never"})
    barrier = threading.Barrier(12)

    def post(n: int) -> requests.Response:
        barrier.wait()
        if n % 2:
            body = {"contact_name": "Racer", "phone": "+1 555 0160", "location": "queue", "source_id": "self-generated"}
            return org.admin.post(f"/orgs/{org.org_id}/leads", body)
        return org.company.post(org.intake_path, lead(f"RACE-{n}", phone="+1 555 0160"))

    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(post, range(12)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * 11, [r.text for r in responses if r.status_code not in (201, 409)]
    winner = next(r for r in responses if r.status_code == 201).json()["lead_id"]
    assert all(r.json()["lead_ids"] == [winner] for r in responses if r.status_code == 409)
    assert [item["lead_id"] for item in leads_in(org, "queued")] == [winner]
