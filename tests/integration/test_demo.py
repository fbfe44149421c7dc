"""The demo `make dev` seeds works against the running stack, through the same API the portal uses."""

from __future__ import annotations

from local.demo import seed
from local.stack import LocalStack
from tests.integration.actors import Actor


def test_the_demo_seeds_an_organisation_with_a_working_partner_portal(stack: LocalStack) -> None:
    demo = seed(stack)
    admin = Actor(stack.url, demo.admin.token, demo.admin.user_id)
    partner = Actor(stack.url, demo.partner.token, demo.partner.user_id)
    assert admin.get(f"/orgs/{demo.org_id}").status_code == 200
    contact = {"first_name": "Casey", "last_name": "Client", "email": "casey@demo.example", "phone": "+15550100300"}
    created = partner.post(f"/orgs/{demo.org_id}/portal/deals", {"contacts": [contact]})
    assert created.status_code == 201, created.text
    listed = partner.get(f"/orgs/{demo.org_id}/portal/deals").json()["items"]
    assert [deal["deal_id"] for deal in listed] == [created.json()["deal_id"]]
    node = admin.get(f"/orgs/{demo.org_id}/partners/{demo.partner.user_id}").json()
    assert node["status"] == "ACTIVE" and node["brokers"] == [demo.admin.user_id]
    # The team: a referral request reaches the member, who accepts it.
    request = admin.post(
        f"/orgs/{demo.org_id}/referral-requests",
        {"team_id": demo.team_id, "customer": {"first_name": "Robin", "last_name": "Buyer"}, "summary": "3-bed house"},
    )
    assert request.status_code == 201, request.text
    member = Actor(stack.url, demo.reps[1].token, demo.reps[1].user_id)
    accepted = member.post(f"/orgs/{demo.org_id}/referral-requests/{request.json()['request_id']}/accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["assignee_id"] == demo.reps[1].user_id
