"""The integrations consumer in-process: the change records its queue delivers (real ones, read back from the
table's stream in moto) become recorded events, each handed on to the deliveries once per delivery of its
change; a redelivered change records nothing twice and hands on what was recorded."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from common.integrations import catalogue, deliveries, endpoints, events
from common.integrations.endpoint_models import NewWebhookEndpoint
from common.integrations.events import Event

from tests.support import OPERATOR, api_caller, body_of, queue_consumer
from tests.unit.integrations import delivery_fakes
from tests.unit.integrations.table_stream import TableStream

ADMIN, REP = "user-admin", "user-rep"
leads_call = api_caller("leads")
consume = queue_consumer("integrations")
# A real (moto) delivery queue, as a fixture here too.
sqs_queue = delivery_fakes.sqs_queue


@pytest.fixture
def handed_on(monkeypatch: pytest.MonkeyPatch) -> list[Event]:
    """What the consumer hands to the deliveries (common.integrations.deliveries.fan_out), in order."""
    given: list[Event] = []

    def fan_out(event: Event, *, client: Any = None) -> int:
        given.append(event)
        return 1

    monkeypatch.setattr(deliveries, "fan_out", fan_out)
    return given


@pytest.fixture
def org_id() -> str:
    org_id = str(body_of(leads_call("POST", "/orgs", user=ADMIN, groups=OPERATOR, body={"name": "Acme"}))["org_id"])
    permissions = ["leads:request", "leads:create", "leads:view_pending"]
    leads_call("PUT", f"/orgs/{org_id}/members/{REP}", user=ADMIN, body={"permissions": permissions})
    # An organisation records events once it has an endpoint (a disabled one too): this one, disabled, gets nothing.
    quiet = NewWebhookEndpoint(url="https://quiet.example.com/hooks", event_types=["wallet.corrected"], enabled=False)
    endpoints.create_endpoint(org_id, quiet, ADMIN)
    return org_id


def a_leads_changes(org_id: str, stream: TableStream) -> list[dict[str, Any]]:
    """The records of a lead entered, claimed and converted (a customer made): four events."""
    stream.read()
    body = {"contact_name": "Jane Doe", "email": "jane@example.org", "location": "queue", "source_id": "self-generated"}
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

    def refusing(event: Event, *, client: Any = None) -> int:
        if event.type == "lead.received" and not given:
            given.append(event)
            raise ConnectionError("the delivery queue is unreachable")
        given.append(event)
        return 1

    monkeypatch.setattr(deliveries, "fan_out", refusing)
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


def test_the_events_are_fanned_out_to_the_subscribed_endpoints_through_the_delivery_queue(
    org_id: str, stream: TableStream, sqs_queue: str
) -> None:
    converted = endpoints.create_endpoint(
        org_id,
        NewWebhookEndpoint(url="https://crm.example.com/hooks", event_types=["lead.converted"]),
        ADMIN,
    )
    everything = endpoints.create_endpoint(
        org_id, NewWebhookEndpoint(url="https://dw.example.com/hooks", event_types=["all"]), ADMIN
    )
    records = a_leads_changes(org_id, stream)

    assert consume(*records) == {"batchItemFailures": []}
    assert consume(*records, receive_count=2) == {"batchItemFailures": []}  # redelivered: nothing twice
    stored = {e.type: e for e in recorded(org_id)}
    logged = {
        endpoint["endpoint_id"]: sorted(d.event_type for d in deliveries.page(org_id, endpoint["endpoint_id"]).items)
        for endpoint in (converted, everything)
    }
    assert logged == {
        converted["endpoint_id"]: ["lead.converted"],
        everything["endpoint_id"]: sorted(stored),
    }
    # One message per delivery, naming it; the redelivery sent its never-attempted deliveries on again.
    sqs = boto3.client("sqs")
    messages = []
    while batch := sqs.receive_message(QueueUrl=sqs_queue, MaxNumberOfMessages=10).get("Messages", []):
        messages += [json.loads(m["Body"]) for m in batch]
    sent = {(m["endpoint_id"], m["event_id"]) for m in messages}
    assert sent == {
        (endpoint_id, stored[event_type].id) for endpoint_id, types in logged.items() for event_type in types
    }
    assert len(messages) == 2 * len(sent)
