"""No item outgrows DynamoDB's 400 KB, over HTTP against the local stack: each kind of item that keeps a
history is driven through many more changes than it holds, with the longest texts it accepts, every call
must succeed, the item as DynamoDB Local stores it stays small, and its whole history is still listed."""

from __future__ import annotations

from typing import Any

from common.deals.deal_records import STAGE_HISTORY
from common.leads.model import HISTORY as LEAD_HISTORY
from common.leads.model import lead_key
from common.partners.partner_records import NODE_HISTORY, node_key
from common.platform import db, history
from common.platform.settings import Deployment, get_settings
from common.teams.referral_requests import HISTORY as REQUEST_HISTORY
from common.teams.team_customers import HISTORY as CUSTOMER_HISTORY
from common.teams.team_model import referral_key, team_customer_key

from local.stack import LocalStack
from tests.integration.support.actors import Actor, lead, new_organisation
from tests.integration.support.partners import new_partner
from tests.integration.test_deals import DealsOrg, new_deal, team  # noqa: F401 - the deals organisation fixture
from tests.integration.test_sms_webhook import text
from tests.integration.test_teams import accepted_by, new_team

# The longest text a note or a reason takes: 4000 characters, each 4 bytes in UTF-8.
LONGEST = "\U0001f600" * 3990
# Far below DynamoDB's 400 KB, whatever else the item carries.
BUDGET = 200_000


def stored_bytes(stack: LocalStack, key: db.Key) -> int:
    """The item's size as DynamoDB Local holds it (read with the stack's own client)."""
    answer = stack.client("dynamodb").get_item(
        TableName=get_settings(Deployment).table_name, Key=db.serialize(key), ConsistentRead=True
    )
    return history.item_bytes(db.deserialize(answer["Item"]))


def every_page(actor: Actor, path: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        answer = actor.get(path, params={"limit": 100, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        entries += answer.json()["items"]
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            return entries


def test_300_long_status_notes_on_a_team_customer(stack: LocalStack) -> None:
    crew = new_team(stack)
    customer = accepted_by(crew, crew.m1)
    path = f"{crew.path}/customers/{customer['customer_id']}"
    key = team_customer_key(crew.org_id, crew.team_id, customer["customer_id"])
    largest = 0
    for n in range(300):
        by = crew.m1 if n % 2 else crew.leader
        answer = by.post(f"{path}/status", {"status": "contacted", "note": f"{n} {LONGEST}"})
        assert answer.status_code == 200, answer.text
        if n % 10 == 0:
            largest = max(largest, stored_bytes(stack, key))
    assert largest < BUDGET
    assert stored_bytes(stack, key) < BUDGET

    shown = crew.m1.get(path).json()
    assert 0 < len(shown["history"]) <= CUSTOMER_HISTORY.limit
    assert shown["history"][-1]["note"] == f"299 {LONGEST}"
    listed = every_page(crew.m1, f"{path}/history")
    assert [e["event"] for e in listed][-1] == "created"
    assert [e["note"].split(" ")[0] for e in listed[:-1]] == [str(n) for n in reversed(range(300))]


def test_300_stage_moves_of_a_deal_shared_with_a_partner(stack: LocalStack, team: DealsOrg) -> None:  # noqa: F811
    deals_org = team  # test_deals' organisation: a workflow, a manager and a broker who credits partners
    partner = new_partner(stack, deals_org.org_id, brokers=[deals_org.broker.user_id])
    deal = new_deal(deals_org, partner_id=partner.user_id)
    path = f"/orgs/{deals_org.org_id}/deals/{deal['deal_id']}"
    names = ["New"]
    for n in range(300):
        names.append(("Contacted", "Application", "Approved", "Lost")[n % 4])
        answer = deals_org.manager.post(f"{path}/stage", {"stage_id": deals_org.stage(names[-1])})
        assert answer.status_code == 200, answer.text
    assert stored_bytes(stack, {"pk": f"ORG#{deals_org.org_id}#DEAL#{deal['deal_id']}", "sk": "DEAL"}) < BUDGET

    shown = deals_org.manager.get(path).json()
    assert len(shown["stage_history"]) <= STAGE_HISTORY.limit
    assert shown["stage_history_archived"] + len(shown["stage_history"]) == 301
    staff_listed = every_page(deals_org.manager, f"{path}/stage-history")
    assert [e["stage_name"] for e in staff_listed] == names[::-1]
    portal = f"/orgs/{deals_org.org_id}/portal/deals/{deal['deal_id']}"
    assert partner.get(portal).json()["stage_history"][-1]["name"] == names[-1]
    portal_listed = every_page(partner, f"{portal}/stage-history")
    assert [e["name"] for e in portal_listed] == names[::-1]
    assert all(set(e) == {"at", "stage_id", "name"} for e in portal_listed)  # no staff ids


def test_a_lead_worked_many_times_then_returned(stack: LocalStack) -> None:
    org = new_organisation(stack, reps=1)
    (rep,) = org.reps
    posted = org.company.post(org.intake_path, lead("BOUNDED-1", notes=LONGEST))
    assert posted.status_code == 201, posted.text
    lead_id = posted.json()["lead_id"]
    path = f"/orgs/{org.org_id}/leads/{lead_id}"
    actions = ["received"]
    for n in range(200):
        if n % 8 == 0:
            answer = rep.post(f"/orgs/{org.org_id}/lead-queue/claims")
            assert answer.status_code == 200 and answer.json()["lead_id"] == lead_id, answer.text
            actions.append("claimed")
        elif n % 8 == 7:
            answer = rep.post(f"{path}/requeue", {})
            assert answer.status_code == 200, answer.text
            actions.append("requeued")
        else:
            answer = rep.post(f"{path}/keep")
            assert answer.status_code == 200, answer.text
            actions.append("kept")
    returned = org.admin.post(f"/orgs/{org.org_id}/lead-returns", {"lead_ids": [lead_id], "comments": LONGEST})
    assert returned.status_code == 200, returned.text
    actions.append("returned")
    assert stored_bytes(stack, lead_key(org.org_id, lead_id)) < BUDGET
    stored = db.get(lead_key(org.org_id, lead_id), consistent=True)
    assert stored is not None and len(stored["history"]) <= LEAD_HISTORY.limit + 1  # the return may go beyond

    listed = every_page(org.admin, f"{path}/history")
    assert [e["action"] for e in listed] == actions[::-1]
    assert listed[0]["comments"] == LONGEST


def test_a_partner_whose_status_changes_again_and_again(stack: LocalStack) -> None:
    org = new_organisation(stack, reps=0)
    partner = new_partner(stack, org.org_id)
    path = f"/orgs/{org.org_id}/partners/{partner.user_id}"
    for n in range(100):
        change = {"status": ("ENDED", "LIVE")[n % 2], "reason": f"{n} {LONGEST}"}
        answer = org.admin.post(f"{path}/status", change)
        assert answer.status_code == 200, answer.text
    assert stored_bytes(stack, node_key(org.org_id, partner.user_id)) < BUDGET
    node = db.get(node_key(org.org_id, partner.user_id), consistent=True)
    assert node is not None and len(node["history"]) <= NODE_HISTORY.limit

    listed = every_page(org.admin, f"{path}/activity")
    reasons = [e["reason"].split(" ")[0] for e in listed if e.get("action") == "status_changed"]
    assert reasons == [str(n) for n in reversed(range(100))]
    assert listed[-1]["action"] == "added"


def test_a_referral_request_answered_by_text_over_and_over(stack: LocalStack) -> None:
    crew = new_team(stack)
    customer = accepted_by(crew, crew.m1)  # the request is taken: every later YES is a reply in its history
    request_id = customer["request_id"]
    code = crew.staff.get(f"/orgs/{crew.org_id}/referral-requests/{request_id}").json()["code"]
    for _ in range(120):
        assert text(stack, f"YES {code}", crew.phones[crew.m2.user_id])  # taken (or not eligible): a reply
    assert stored_bytes(stack, referral_key(crew.org_id, request_id)) < BUDGET
    stored = db.get(referral_key(crew.org_id, request_id), consistent=True)
    assert stored is not None and len(stored["history"]) <= REQUEST_HISTORY.limit

    path = f"/orgs/{crew.org_id}/referral-requests/{request_id}"
    listed = every_page(crew.staff, f"{path}/history")
    events = [e["event"] for e in listed]
    assert events.count("reply") == 120 and events[-1] == "created" and "accepted" in events
    shown = crew.staff.get(path).json()
    assert shown["history_archived"] + len(shown["history"]) == len(listed)
