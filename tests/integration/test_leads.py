"""The lead exchange over HTTP against the local stack (DynamoDB Local, moto, the real handlers)."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from common.leads.model import external_id_key
from common.platform.db import serialize

from tests.integration.support.actors import Organisation, lead, new_organisation

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def org(stack: Any) -> Organisation:
    return new_organisation(stack)


def test_a_lead_from_intake_to_customer(org: Organisation, stack: Any) -> None:
    posted = org.company.post(org.intake_path, lead("FLOW-1", email="jane@example.org"))
    assert posted.status_code == 201, posted.text
    lead_id = posted.json()["lead_id"]
    rep = org.reps[0]
    claimed = rep.post(f"/orgs/{org.org_id}/lead-queue/claims")
    assert claimed.status_code == 200 and claimed.json()["lead_id"] == lead_id
    converted = rep.post(f"/orgs/{org.org_id}/leads/{lead_id}/convert")
    assert converted.status_code == 201, converted.text
    customer = converted.json()["customer"]
    assert customer["contact"] == {
        "contact_name": "Jane Doe",
        "phone": "+1 555 0100",
        "email": "jane@example.org",
        "address": None,
        "notes": None,
    }
    assert customer["source"]["external_id"] == "FLOW-1"
    history = org.admin.get(f"/orgs/{org.org_id}/leads/{lead_id}").json()["history"]
    assert [(e["action"], e["actor"]) for e in history] == [
        ("received", f"company:{org.company_id}"),
        ("claimed", f"user:{rep.user_id}"),
        ("converted", f"user:{rep.user_id}"),
    ]
    stack.wait_for_streams()
    purchase = [m for m in stack.outbox() if "FLOW-1" in m["subject"]]
    assert len(purchase) == 1
    assert purchase[0]["to"] == [f"purchases-{org.org_id.lower()}@buyer.example"]


def test_reposting_an_external_id_returns_the_first_lead(org: Organisation) -> None:
    first = org.company.post(org.intake_path, lead("DUP-1"))
    second = org.company.post(org.intake_path, lead("DUP-1", contact_name="Changed"))
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["lead_id"] == first.json()["lead_id"]
    assert second.json() == first.json()  # ids and when it was received, nothing of our work on it
    stored = org.admin.get(f"/orgs/{org.org_id}/leads/{first.json()['lead_id']}").json()
    assert stored["contact"]["contact_name"] == "Jane Doe"


def test_concurrent_posts_of_one_external_id_make_one_lead(stack: Any) -> None:
    fresh = new_organisation(stack, reps=0)
    barrier = threading.Barrier(12)

    def post(_: int) -> requests.Response:
        barrier.wait()
        return fresh.company.post(fresh.intake_path, lead("RACE-1"))

    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(post, range(12)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 11 + [201], [r.text for r in responses if r.status_code not in (200, 201)]
    assert len({r.json()["lead_id"] for r in responses}) == 1
    queued = fresh.admin.get(f"/orgs/{fresh.org_id}/leads", params={"status": "queued"}).json()["items"]
    assert len(queued) == 1


def test_sixteen_reps_drain_a_queue_of_200_leads_exactly_once(stack: Any) -> None:
    team = new_organisation(stack, reps=4)
    with ThreadPoolExecutor(max_workers=8) as pool:
        posted = list(pool.map(lambda i: team.company.post(team.intake_path, lead(f"Q-{i}")), range(200)))
    assert all(p.status_code == 201 for p in posted)
    expected = {p.json()["lead_id"] for p in posted}
    claims: dict[int, list[str]] = {}
    errors: list[str] = []
    barrier = threading.Barrier(16)

    def drain(worker: int) -> None:
        rep = team.reps[worker % 4]
        mine: list[str] = []
        barrier.wait()
        while True:
            response = rep.post(f"/orgs/{team.org_id}/lead-queue/claims")
            if response.status_code == 204:
                break
            if response.status_code != 200:
                errors.append(response.text)
                break
            mine.append(response.json()["lead_id"])
        claims[worker] = mine

    threads = [threading.Thread(target=drain, args=(w,)) for w in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    claimed = list(itertools.chain.from_iterable(claims.values()))
    assert len(claimed) == 200 and set(claimed) == expected  # every lead once, none lost, none twice
    assert sum(1 for c in claims.values() if c) > 1  # the claims really were spread over racing workers
    for index, rep in enumerate(team.reps):
        assigned = set()
        cursor = None
        while True:
            page = rep.get(
                f"/orgs/{team.org_id}/my-leads", params={"limit": 100, **({"cursor": cursor} if cursor else {})}
            )
            assigned |= {item["lead_id"] for item in page.json()["items"]}
            cursor = page.json()["next_cursor"]
            if not cursor:
                break
        own = set(itertools.chain.from_iterable(claims[w] for w in range(16) if w % 4 == index))
        assert assigned == own


def test_queue_order_and_contact_time(stack: Any) -> None:
    team = new_organisation(stack, reps=1, queue_priority="normal")
    rep = team.reps[0]
    later = team.company.post(team.intake_path, lead("T-LATER", contact_not_before="2099-01-01T00:00:00Z")).json()
    normal = team.company.post(team.intake_path, lead("T-NORMAL")).json()
    urgent = rep.post(
        f"/orgs/{team.org_id}/leads",
        {
            "contact_name": "Walk-in",
            "phone": "+1 555 0199",
            "location": "queue",
            "priority": "high",
            "source_id": "self-generated",
        },
    ).json()
    first = rep.post(f"/orgs/{team.org_id}/lead-queue/claims").json()
    second = rep.post(f"/orgs/{team.org_id}/lead-queue/claims").json()
    assert [first["lead_id"], second["lead_id"]] == [urgent["lead_id"], normal["lead_id"]]
    assert rep.post(f"/orgs/{team.org_id}/lead-queue/claims").status_code == 204
    assert team.admin.get(f"/orgs/{team.org_id}/leads/{later['lead_id']}").json()["status"] == "queued"


def test_a_rep_cannot_act_on_another_reps_lead(org: Organisation) -> None:
    lead_id = org.company.post(org.intake_path, lead("OTHER-1")).json()["lead_id"]
    owner, other = org.reps
    while True:
        claimed = owner.post(f"/orgs/{org.org_id}/lead-queue/claims")
        assert claimed.status_code == 200
        if claimed.json()["lead_id"] == lead_id:
            break
    for action, body in (("keep", None), ("requeue", {}), ("invalidate", {"reason": "no"}), ("convert", None)):
        refused = other.post(f"/orgs/{org.org_id}/leads/{lead_id}/{action}", body)
        assert refused.status_code == 403, (action, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
    assert other.get(f"/orgs/{org.org_id}/leads/{lead_id}").status_code == 403
    back = owner.post(f"/orgs/{org.org_id}/leads/{lead_id}/requeue", {"contact_not_before": "2099-01-01T00:00:00Z"})
    assert back.status_code == 200 and back.json()["available_at"].startswith("2099-01-01")


def test_other_orgs_are_404_and_machine_tokens_are_403_on_staff_routes(org: Organisation, stack: Any) -> None:
    outsider = new_organisation(stack, reps=0)
    lead_id = org.company.post(org.intake_path, lead("ISO-1")).json()["lead_id"]
    assert outsider.admin.get(f"/orgs/{org.org_id}/leads/{lead_id}").status_code == 404
    assert outsider.admin.get(f"/orgs/{outsider.org_id}/leads/{lead_id}").status_code == 404
    assert outsider.company.post(org.intake_path, lead("ISO-2")).status_code == 404
    staff_route = org.company.get(f"/orgs/{org.org_id}/leads", params={"status": "queued"})
    assert staff_route.status_code == 403
    assert staff_route.headers["content-type"] == "application/problem+json"
    assert org.admin.post(org.intake_path, lead("ISO-3")).status_code == 403
    anonymous = requests.get(f"{stack.url}/orgs/{org.org_id}/leads", timeout=10)
    assert anonymous.status_code == 401


INVALID_INTAKE = [
    ({"contact_name": "No external id", "phone": "+15550100"}, "body.external_id"),
    (lead("", phone="+15550100"), "body.external_id"),
    (lead("BAD-1", contact_name=""), "body.contact_name"),
    (lead("BAD-2", phone="call me"), "body.phone"),
    (lead("BAD-3", email="not-an-email"), "body.email"),
    (lead("BAD-4", requested_location="garage"), "body.requested_location"),
    (lead("BAD-5", contact_not_before="tomorrow"), "body.contact_not_before"),
    (lead("BAD-6", contact_not_before="2026-12-01T10:00:00"), "body.contact_not_before"),
    (lead("BAD-7", address={"city": "No street"}), "body.address.line1"),
    (lead("BAD-8", priority="high"), "body.priority"),
    ({"external_id": "BAD-9", "contact_name": "No way to reach"}, "body.phone"),
]


def _stored_leads(org: Organisation) -> list[dict[str, Any]]:
    listed = []
    for status in ("pending", "queued"):
        page = org.supervisor.get(f"/orgs/{org.org_id}/leads", params={"status": status, "limit": 100}).json()
        listed += page["items"]
    return listed


@pytest.mark.parametrize(("payload", "field"), INVALID_INTAKE)
def test_invalid_leads_name_the_field_and_write_nothing(
    org: Organisation, stack: Any, payload: dict[str, Any], field: str
) -> None:
    before = _stored_leads(org)
    response = org.company.post(org.intake_path, payload)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422 and field in {e["field"] for e in problem["errors"]}
    assert _stored_leads(org) == before
    # Not even the external id was claimed: the table itself has no guard item for it.
    if payload.get("external_id"):
        guard = external_id_key(org.org_id, org.company_id, payload["external_id"])
        found = stack.client("dynamodb").get_item(TableName=stack.table_name, Key=serialize(guard), ConsistentRead=True)
        assert "Item" not in found


def test_malformed_json_is_a_problem_not_a_crash(org: Organisation) -> None:
    response = org.company.call("POST", org.intake_path, data="{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/malformed-body"


def test_invalid_company_settings_name_each_field(org: Organisation) -> None:
    response = org.admin.post(
        f"/orgs/{org.org_id}/partner-companies",
        {
            "name": "",
            "default_lead_location": "attic",
            "queue_priority": "urgent",
            "purchase_notification_emails": ["nope"],
            "auto_response_template_id": "01JD00000000000000000NOSUCH",
            "unexpected": True,
        },
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert {
        "body.name",
        "body.default_lead_location",
        "body.queue_priority",
        "body.purchase_notification_emails.0",
        "body.unexpected",
    } <= fields


def test_return_with_comments_and_template(stack: Any) -> None:
    team = new_organisation(stack, reps=1, include_comments_with_returns=True, contact_person="Sam")
    template = team.admin.post(
        f"/orgs/{team.org_id}/message-templates",
        {
            "name": "Returned lead",
            "subject": "Lead {{lead.external_id}} returned by {{org.name}}",
            "body": "Dear {{company.contact_person}}, we return {{lead.contact_name}}. {{comments}}",
        },
    )
    assert template.status_code == 201, template.text
    team.admin.patch(
        f"/orgs/{team.org_id}/partner-companies/{team.company_id}",
        {"auto_response_template_id": template.json()["template_id"]},
    )
    bought = team.company.post(team.intake_path, lead("RET-1")).json()["lead_id"]
    walk_in = team.reps[0].post(
        f"/orgs/{team.org_id}/leads", {"contact_name": "Walk-in", "phone": "+15550111", "source_id": "self-generated"}
    )
    refused = team.reps[0].post(
        f"/orgs/{team.org_id}/lead-returns", {"lead_ids": [bought, walk_in.json()["lead_id"]], "comments": "x"}
    )
    assert refused.status_code == 409 and "did not come from a partner company" in refused.json()["detail"]
    returned = team.reps[0].post(
        f"/orgs/{team.org_id}/lead-returns", {"lead_ids": [bought], "comments": "Nobody by that name."}
    )
    assert returned.status_code == 200 and returned.json()["items"][0]["changed"] is True
    again = team.reps[0].post(f"/orgs/{team.org_id}/lead-returns", {"lead_ids": [bought]})
    assert again.json()["items"][0]["changed"] is False
    stack.wait_for_streams()
    mails = [m for m in stack.outbox() if m["to"] == [f"returns-{team.org_id.lower()}@seller.example"]]
    assert len(mails) == 1
    assert mails[0]["subject"] == "Lead RET-1 returned by Integration org"
    assert mails[0]["body"] == "Dear Sam, we return Jane Doe. Nobody by that name."


def _race(count: int, request: Any) -> list[requests.Response]:
    barrier = threading.Barrier(count)

    def run(i: int) -> requests.Response:
        barrier.wait()
        return request(i)  # type: ignore[no-any-return]

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_racing_conversions_make_one_customer(stack: Any) -> None:
    team = new_organisation(stack, reps=1)
    rep = team.reps[0]
    lead_id = team.company.post(team.intake_path, lead("CONV-RACE")).json()["lead_id"]
    assert rep.post(f"/orgs/{team.org_id}/lead-queue/claims").json()["lead_id"] == lead_id
    actors = [rep, team.admin]
    responses = _race(8, lambda i: actors[i % 2].post(f"/orgs/{team.org_id}/leads/{lead_id}/convert"))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * 7, [r.text for r in responses]
    history = team.admin.get(f"/orgs/{team.org_id}/leads/{lead_id}").json()["history"]
    assert [e["action"] for e in history].count("converted") == 1


def test_racing_returns_of_one_lead_return_it_once(stack: Any) -> None:
    team = new_organisation(stack, reps=1)
    lead_id = team.company.post(team.intake_path, lead("RET-RACE")).json()["lead_id"]
    responses = _race(6, lambda _: team.reps[0].post(f"/orgs/{team.org_id}/lead-returns", {"lead_ids": [lead_id]}))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert sorted(r.json()["items"][0]["changed"] for r in responses) == [False] * 5 + [True]
    stack.wait_for_streams()
    mails = [m for m in stack.outbox() if m["subject"] == "Lead returned: RET-RACE"]
    assert len(mails) == 1


def test_a_claim_retried_with_its_idempotency_key_claims_nothing_more(stack: Any) -> None:
    team = new_organisation(stack, reps=1)
    rep = team.reps[0]
    posted = [team.company.post(team.intake_path, lead(f"IDEM-{i}")).json()["lead_id"] for i in range(2)]
    key = {"Idempotency-Key": "9f1c2d3e-retry"}
    first = rep.post(f"/orgs/{team.org_id}/lead-queue/claims", headers=key)
    retried = rep.post(f"/orgs/{team.org_id}/lead-queue/claims", headers=key)
    assert first.status_code == retried.status_code == 200
    assert first.json()["lead_id"] == retried.json()["lead_id"]
    mine = rep.get(f"/orgs/{team.org_id}/my-leads").json()["items"]
    assert [item["lead_id"] for item in mine] == [first.json()["lead_id"]]
    assert set(posted) >= {first.json()["lead_id"]}
