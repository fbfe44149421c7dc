"""Which events the table's changes mean (common.integrations.change_events): each catalogued change is made by
the domain itself, against moto, and the records its writes put on the table's stream are read back as the
dispatcher hands them on (tests/unit/integrations/table_stream.py). Each change means exactly its events; a
change that alters nothing an event is about means none."""

from __future__ import annotations

from typing import Any

import pytest
from common.integrations import catalogue
from common.integrations.events import Event
from common.leads import companies, intake

from tests.support import OPERATOR, api_caller, body_of
from tests.unit.conftest import FrozenClock
from tests.unit.integrations.table_stream import TableStream

leads_call = api_caller("leads")
ADMIN, REP = "user-admin", "user-rep"


def only(events: list[Event]) -> Event:
    (event,) = events
    return event


def valid(event: Event) -> dict[str, Any]:
    """The event's data, checked against its type's model (as a receiver would read it)."""
    model = catalogue.EVENT_TYPES[event.type].model
    return model.model_validate(event.data).model_dump(mode="json")


# -- leads and customers -------------------------------------------------------------------------------


@pytest.fixture
def lead_org() -> dict[str, str]:
    created = leads_call("POST", "/orgs", user=ADMIN, groups=OPERATOR, body={"name": "Acme Security"})
    org_id = body_of(created)["org_id"]
    permissions = ["leads:request", "leads:return", "leads:create", "leads:view_pending"]
    assert (
        leads_call("PUT", f"/orgs/{org_id}/members/{REP}", user=ADMIN, body={"permissions": permissions})["statusCode"]
        == 200
    )
    return {"org_id": org_id}


def enter_lead(org_id: str, **fields: Any) -> str:
    body = {"contact_name": "Jane Doe", "phone": "+15550100", "email": "jane@example.org", **fields}
    entered = leads_call("POST", f"/orgs/{org_id}/leads", user=REP, body=body)
    assert entered["statusCode"] == 201, entered
    return str(body_of(entered)["lead_id"])


def test_a_leads_changes_are_its_events_and_keeping_it_is_none(
    lead_org: dict[str, str], stream: TableStream, frozen_clock: FrozenClock
) -> None:
    org_id = lead_org["org_id"]

    lead_id = enter_lead(org_id, location="queue")
    received = only(stream.events())
    assert (received.type, received.org_id, received.version) == ("lead.received", org_id, 1)
    assert valid(received)["lead_id"] == lead_id and received.data["status"] == "queued"
    assert received.occurred_at == received.data["received_at"]

    frozen_clock.advance(seconds=1)
    claimed = leads_call("POST", f"/orgs/{org_id}/lead-queue/claims", user=REP)
    assert body_of(claimed)["lead_id"] == lead_id
    event = only(stream.events())
    assert (event.type, event.data["assignee"], event.data["status"]) == ("lead.claimed", REP, "assigned")
    assert event.occurred_at == event.data["updated_at"] == event.data["history"][-1]["at"]

    assert leads_call("POST", f"/orgs/{org_id}/leads/{lead_id}/keep", user=REP)["statusCode"] == 200
    assert stream.events() == []  # kept: nothing an integrator follows changed

    assert leads_call("POST", f"/orgs/{org_id}/leads/{lead_id}/requeue", user=REP, body={})["statusCode"] == 200
    assert [e.type for e in stream.events()] == ["lead.requeued"]
    leads_call("POST", f"/orgs/{org_id}/lead-queue/claims", user=REP)
    assert stream.types() == ["lead.claimed"]
    invalid = leads_call(
        "POST", f"/orgs/{org_id}/leads/{lead_id}/invalidate", user=REP, body={"reason": "Wrong number"}
    )
    assert invalid["statusCode"] == 200, invalid
    event = only(stream.events())
    assert (event.type, valid(event)["invalid_reason"]) == ("lead.invalidated", "Wrong number")


def test_a_conversion_is_the_leads_event_and_the_new_customers(lead_org: dict[str, str], stream: TableStream) -> None:
    org_id = lead_org["org_id"]
    lead_id = enter_lead(org_id, location="queue")
    leads_call("POST", f"/orgs/{org_id}/lead-queue/claims", user=REP)
    stream.read()

    converted = leads_call("POST", f"/orgs/{org_id}/leads/{lead_id}/convert", user=REP)
    assert converted["statusCode"] == 201, converted
    events = {event.type: event for event in stream.events()}
    assert set(events) == {"lead.converted", "customer.created"}
    customer = valid(events["customer.created"])
    assert events["lead.converted"].data["customer_id"] == customer["customer_id"]
    # The customer as staff read it, `is_partner` looked up as every answer of a customer does.
    assert customer == body_of(converted)["customer"]
    assert (customer["is_partner"], customer["source"]["lead_id"]) == (False, lead_id)
    assert events["customer.created"].occurred_at == customer["created_at"]


def test_a_return_to_the_company_is_an_event_of_each_lead_returned(
    lead_org: dict[str, str], stream: TableStream
) -> None:
    org_id = lead_org["org_id"]
    company = companies.create_company(
        org_id,
        companies.NewCompany(name="Acme Leads", sells_leads=True, default_lead_location="pending"),
        ADMIN,
    )
    first, _ = intake.intake_lead(
        org_id, company, intake.IntakeLead(external_id="A-1", contact_name="Ann", phone="+15550101")
    )
    second, _ = intake.intake_lead(
        org_id, company, intake.IntakeLead(external_id="A-2", contact_name="Bob", phone="+15550102")
    )
    assert stream.types() == ["lead.received", "lead.received"]

    returned = leads_call(
        "POST",
        f"/orgs/{org_id}/lead-returns",
        user=REP,
        body={"lead_ids": [first["lead_id"], second["lead_id"]], "comments": "Not in our area"},
    )
    assert returned["statusCode"] == 200, returned
    events = stream.events()
    assert [(e.type, e.data["lead_id"]) for e in events] == [
        ("lead.returned", first["lead_id"]),
        ("lead.returned", second["lead_id"]),
    ]
    assert valid(events[0])["returned"]["comments"] == "Not in our area"
    assert len({e.id for e in events}) == 2  # two changes (records) of one transaction: two ids
