"""The integrations consumer in-process: the change records its queue delivers (real ones, read back from the
table's stream in moto) become recorded events, each handed on to the deliveries once per delivery of its
change; a redelivered change records nothing twice and hands on what was recorded."""

from __future__ import annotations

from typing import Any

import pytest
from common.integrations import catalogue, change_events, events
from common.integrations.events import Event

from tests.support import OPERATOR, api_caller, body_of, queue_consumer
from tests.unit.integrations.table_stream import TableStream

ADMIN, REP = "user-admin", "user-rep"
leads_call = api_caller("leads")
consume = queue_consumer("integrations")


@pytest.fixture
def handed_on(monkeypatch: pytest.MonkeyPatch) -> list[Event]:
    """What the consumer hands to the deliveries (common.integrations.deliveries.fan_out), in order."""
    given: list[Event] = []

    def fan_out(event: Event) -> int:
        given.append(event)
        return 1

    monkeypatch.setattr(change_events, "fan_out", fan_out)
    return given


@pytest.fixture
def org_id() -> str:
    org_id = str(body_of(leads_call("POST", "/orgs", user=ADMIN, groups=OPERATOR, body={"name": "Acme"}))["org_id"])
    permissions = ["leads:request", "leads:create", "leads:view_pending"]
    leads_call("PUT", f"/orgs/{org_id}/members/{REP}", user=ADMIN, body={"permissions": permissions})
    return org_id


def a_leads_changes(org_id: str, stream: TableStream) -> list[dict[str, Any]]:
    """The records of a lead entered, claimed and converted (a customer made): four events."""
    stream.read()
    body = {"contact_name": "Jane Doe", "email": "jane@example.org", "location": "queue"}
    lead_id = body_of(leads_call("POST", f"/orgs/{org_id}/leads", user=REP, body=body))["lead_id"]
    leads_call("POST", f"/orgs/{org_id}/lead-queue/claims", user=REP)
    leads_call("POST", f"/orgs/{org_id}/leads/{lead_id}/convert", user=REP)
    return stream.read()


def recorded(org_id: str) -> list[Event]:
    found, _ = events.between(org_id, "2000-01-01T00:00:00.000Z", "2100-01-01T00:00:00.000Z")
    return found


def test_each_change_is_recorded_as_its_events_and_handed_on(
    org_id: str, stream: TableStream, handed_on: list[Event]
) -> None:
    records = a_leads_changes(org_id, stream)

    assert consume(*records) == {"batchItemFailures": []}
    stored = recorded(org_id)
    assert sorted(e.type for e in stored) == ["customer.created", "lead.claimed", "lead.converted", "lead.received"]
    assert sorted(e.id for e in handed_on) == sorted(e.id for e in stored)
    for event in stored:  # the data as its type's model has it
        catalogue.EVENT_TYPES[event.type].model.model_validate(event.data)


def test_a_redelivered_change_records_one_event_and_hands_on_the_recorded_one(
    org_id: str, stream: TableStream, handed_on: list[Event]
) -> None:
    records = a_leads_changes(org_id, stream)
    consume(*records)
    first = {e.id: e for e in recorded(org_id)}

    assert consume(*records, *records, receive_count=2) == {"batchItemFailures": []}
    assert {e.id: e for e in recorded(org_id)} == first  # nothing recorded twice
    # Each delivery of a change hands its events on again (the first may have stopped before): the
    # deliveries create each one once.
    assert len(handed_on) == 3 * len(first)
    assert all(event == first[event.id] for event in handed_on)


def test_a_failing_hand_on_fails_only_its_change_and_the_retry_finds_the_event_recorded(
    org_id: str, stream: TableStream, monkeypatch: pytest.MonkeyPatch
) -> None:
    records = a_leads_changes(org_id, stream)
    received = next(r for r in records if r["eventName"] == "INSERT" and "lead_id" in r["dynamodb"]["NewImage"])
    given: list[Event] = []

    def refusing(event: Event) -> int:
        if event.type == "lead.received" and not given:
            given.append(event)
            raise ConnectionError("the delivery queue is unreachable")
        given.append(event)
        return 1

    monkeypatch.setattr(change_events, "fan_out", refusing)
    failures = consume(*records)["batchItemFailures"]
    assert failures == [{"itemIdentifier": received["dynamodb"]["SequenceNumber"]}]
    assert "lead.received" in {e.type for e in recorded(org_id)}  # recorded before the hand-on failed

    assert consume(received, receive_count=2) == {"batchItemFailures": []}
    assert [e.type for e in given].count("lead.received") == 2 and given[0] == given[-1]
    assert [e.type for e in recorded(org_id)].count("lead.received") == 1


def test_changes_that_mean_no_event_record_nothing(org_id: str, stream: TableStream, handed_on: list[Event]) -> None:
    stream.read()
    leads_call("PUT", f"/orgs/{org_id}/members/another", user=ADMIN, body={"permissions": []})
    records = stream.read()
    assert records  # a membership: no event of the catalogue

    assert consume(*records) == {"batchItemFailures": []}
    assert recorded(org_id) == [] and handed_on == []
