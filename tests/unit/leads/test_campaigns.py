"""Campaigns of a partner company: CRUD, the sender's campaign id unique per company (its guard moved and freed
with the campaign), the bound per company, and the attribution of posted leads."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from common.leads import campaigns
from common.platform.errors import InvalidInput

from tests.support import Call, body_of
from tests.unit.conftest import TABLE
from tests.unit.leads.conftest import ADMIN, create_company, fields_named


def campaigns_path(org_id: str, company_id: str) -> str:
    return f"/orgs/{org_id}/partner-companies/{company_id}/campaigns"


@pytest.fixture
def company_id(call: Call, org_id: str) -> str:
    return str(create_company(call, org_id, sells_leads=True)["company_id"])


def add(call: Call, org_id: str, company_id: str, **fields: Any) -> dict[str, Any]:
    answer = call("POST", campaigns_path(org_id, company_id), user=ADMIN, body={"name": "Spring", **fields})
    assert answer["statusCode"] == 201, answer
    return body_of(answer)  # type: ignore[no-any-return]


def test_a_campaign_is_created_read_listed_changed_and_deleted(
    call: Call, org_id: str, company_id: str, frozen_clock: Any
) -> None:
    path = campaigns_path(org_id, company_id)
    spring = add(call, org_id, company_id, description="Postcards", sender_campaign_id="SPRING-26")
    frozen_clock.advance(seconds=1)  # ids order by creation time, to the millisecond
    assert {k: spring[k] for k in ("name", "description", "direction", "sender_campaign_id", "company_id")} == {
        "name": "Spring",
        "description": "Postcards",
        "direction": "inbound",
        "sender_campaign_id": "SPRING-26",
        "company_id": company_id,
    }
    autumn = add(call, org_id, company_id, name="Autumn", direction="outbound")
    listed = body_of(call("GET", path, user=ADMIN))["items"]
    assert [c["campaign_id"] for c in listed] == [autumn["campaign_id"], spring["campaign_id"]]  # newest first
    one = f"{path}/{spring['campaign_id']}"
    changed = call("PATCH", one, user=ADMIN, body={"name": "Spring 26", "description": None})
    assert (body_of(changed)["name"], body_of(changed)["description"]) == ("Spring 26", None)
    assert fields_named(call("PATCH", one, user=ADMIN, body={"name": None, "direction": None})) == {
        "body.name",
        "body.direction",
    }
    assert call("DELETE", one, user=ADMIN)["statusCode"] == 204
    assert call("GET", one, user=ADMIN)["statusCode"] == 404
    assert call("DELETE", one, user=ADMIN)["statusCode"] == 404
    assert call("PATCH", one, user=ADMIN, body={"name": "x"})["statusCode"] == 404


def test_campaigns_of_an_unknown_company_are_404(call: Call, org_id: str) -> None:
    unknown = "01JD0000000000000000000000"
    assert call("POST", campaigns_path(org_id, unknown), user=ADMIN, body={"name": "x"})["statusCode"] == 404


def test_the_senders_campaign_id_is_unique_per_company_and_moves_with_its_campaign(
    call: Call, org_id: str, company_id: str
) -> None:
    first = add(call, org_id, company_id, sender_campaign_id="C-1")
    taken = call(
        "POST", campaigns_path(org_id, company_id), user=ADMIN, body={"name": "x", "sender_campaign_id": "C-1"}
    )
    assert taken["statusCode"] == 409
    assert body_of(taken)["conflicting_ids"] == [first["campaign_id"]]
    other_company = create_company(call, org_id, name="Other", sells_leads=True)["company_id"]
    add(call, org_id, other_company, sender_campaign_id="C-1")  # another company's ids are its own
    second = add(call, org_id, company_id, name="Second", sender_campaign_id="C-2")
    path = f"{campaigns_path(org_id, company_id)}/{second['campaign_id']}"
    clash = call("PATCH", path, user=ADMIN, body={"sender_campaign_id": "C-1"})
    assert (clash["statusCode"], body_of(clash)["conflicting_ids"]) == (409, [first["campaign_id"]])
    assert call("PATCH", path, user=ADMIN, body={"sender_campaign_id": "C-3"})["statusCode"] == 200
    assert campaigns.attribute(org_id, company_id, "C-3")["campaign_id"] == second["campaign_id"]
    with pytest.raises(InvalidInput):
        campaigns.attribute(org_id, company_id, "C-2")  # freed by the move...
    add(call, org_id, company_id, name="Third", sender_campaign_id="C-2")  # ...and taken again
    call("DELETE", f"{campaigns_path(org_id, company_id)}/{first['campaign_id']}", user=ADMIN)
    add(call, org_id, company_id, name="Fourth", sender_campaign_id="C-1")  # freed by the deletion
    cleared = call("PATCH", path, user=ADMIN, body={"sender_campaign_id": None})
    assert body_of(cleared)["sender_campaign_id"] is None
    guards = boto3.resource("dynamodb").Table(TABLE).scan()["Items"]
    refs = sorted(g["pk"].rsplit("#", 1)[-1] for g in guards if g.get("entity") == campaigns.REF_ENTITY)
    assert refs == ["C-1", "C-1", "C-2"]  # the other company's C-1, and this one's C-1 and C-2


def test_attribution_carries_the_current_name_and_refuses_outbound_and_other_companies(
    call: Call, org_id: str, company_id: str
) -> None:
    spring = add(call, org_id, company_id, sender_campaign_id="S-1")
    call("PATCH", f"{campaigns_path(org_id, company_id)}/{spring['campaign_id']}", user=ADMIN, body={"name": "Renamed"})
    assert campaigns.attribute(org_id, company_id, "S-1") == {
        "campaign_id": spring["campaign_id"],
        "campaign_name": "Renamed",
    }
    add(call, org_id, company_id, name="Out", direction="outbound", sender_campaign_id="O-1")
    other_company = create_company(call, org_id, name="Other", sells_leads=True)["company_id"]
    for company, sender_id in ((company_id, "O-1"), (other_company, "S-1"), (company_id, "NOPE")):
        with pytest.raises(InvalidInput) as refused:
            campaigns.attribute(org_id, company, sender_id)
        assert [e.field for e in refused.value.errors] == ["body.campaign_id"]


def test_a_company_has_a_bounded_number_of_campaigns(
    call: Call, org_id: str, company_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(campaigns, "MAX_CAMPAIGNS_PER_COMPANY", 2)
    first = add(call, org_id, company_id)
    add(call, org_id, company_id)
    refused = call("POST", campaigns_path(org_id, company_id), user=ADMIN, body={"name": "Third"})
    assert fields_named(refused) == {"body.name"}
    call("DELETE", f"{campaigns_path(org_id, company_id)}/{first['campaign_id']}", user=ADMIN)
    add(call, org_id, company_id)  # a place was freed


@pytest.mark.cognito
def test_a_posted_lead_gets_its_campaign_and_an_unknown_one_is_refused(
    call: Call, org_id: str, company_id: str
) -> None:
    spring = add(call, org_id, company_id, sender_campaign_id="SPRING-26")
    client_id = body_of(call("POST", f"/orgs/{org_id}/partner-companies/{company_id}/credentials", user=ADMIN))[
        "client_id"
    ]
    intake = f"/orgs/{org_id}/partner-companies/{company_id}/leads"
    lead = {"external_id": "A-1", "contact_name": "Jane", "phone": "+15550100", "campaign_id": "SPRING-26"}
    posted = call("POST", intake, machine=client_id, body=lead)
    assert posted["statusCode"] == 201, posted
    source = body_of(call("GET", f"/orgs/{org_id}/leads/{body_of(posted)['lead_id']}", user=ADMIN))["source"]
    assert source == {
        "kind": "partner_company",
        "source_id": company_id,
        "company_id": company_id,
        "external_id": "A-1",
        "entered_by": None,
        "campaign_id": spring["campaign_id"],
        "campaign_name": "Spring",
    }
    unknown = call("POST", intake, machine=client_id, body={**lead, "external_id": "A-2", "campaign_id": "NOPE"})
    assert fields_named(unknown) == {"body.campaign_id"}
    queued = body_of(call("GET", f"/orgs/{org_id}/leads", user=ADMIN, query={"status": "pending"}))["items"]
    assert [item["external_id"] for item in queued] == ["A-1"]  # nothing written for A-2

    # The campaign deleted, a repost of A-1 is still that lead; a new lead naming it is refused.
    call("DELETE", f"{campaigns_path(org_id, company_id)}/{spring['campaign_id']}", user=ADMIN)
    reposted = call("POST", intake, machine=client_id, body=lead)
    assert reposted["statusCode"] == 200 and body_of(reposted)["lead_id"] == body_of(posted)["lead_id"]
    gone = call("POST", intake, machine=client_id, body={**lead, "external_id": "A-3"})
    assert fields_named(gone) == {"body.campaign_id"}
