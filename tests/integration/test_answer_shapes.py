"""A resource answers in one shape: the object a create answers, the one a read of it answers and its item in
a listing carry the same fields with the same values (a create's answer is what a read would find), and no
storage keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from tests.integration.support.actors import Actor, Organisation, new_organisation, new_user
from tests.integration.support.partners import new_partner

HISTORY = ("history", "history_archived")  # a listing leaves out each item's history (its own route pages it)
STORAGE_KEYS = {"pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk", "ttl"}


def ok(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


def listed(actor: Actor, path: str, key: str, value: str, **params: Any) -> dict[str, Any]:
    items = ok(actor.get(path, params={"limit": 100, **params}))["items"]
    [item] = [item for item in items if item.get(key) == value]
    return dict(item)


def assert_one_shape(*answers: dict[str, Any], changing: tuple[str, ...] = (), embedded: tuple[str, ...] = ()) -> None:
    """The same keys in every answer, none of them a storage key, and the same values but for `changing`.
    `embedded` names what a create or read of one answers with the item and its listing leaves out (a
    team's members): left out of the comparison with the last answer, the listing's item."""
    *ones, item = answers
    assert not set(embedded) & set(item)
    answers = (*[{k: v for k, v in one.items() if k not in embedded} for one in ones], item)
    first = answers[0]
    for other in answers[1:]:
        assert set(other) == set(first), f"only in one: {sorted(set(other) ^ set(first))}"
    assert not STORAGE_KEYS & set(first)
    for key in set(first) - set(changing):
        assert all(other[key] == first[key] for other in answers), key


@pytest.fixture(scope="module")
def org(stack: Any) -> Organisation:
    return new_organisation(stack, reps=1)


def shapes(create: Callable[[], dict[str, Any]], get: Callable[[dict[str, Any]], dict[str, Any]], item: Any) -> None:
    created = create()
    assert_one_shape(created, get(created), item(created))


def test_an_organisation(stack: Any, org: Organisation) -> None:
    admin = org.admin
    child = ok(admin.post(f"/orgs/{org.org_id}/children", {"name": "Branch"}), 201)
    assert_one_shape(
        child,
        ok(admin.get(f"/orgs/{child['org_id']}")),
        listed(admin, f"/orgs/{org.org_id}/children", "org_id", child["org_id"]),
        embedded=("membership",),
    )
    founder = new_user(stack, "founder", operator=True)
    created = ok(founder.post("/orgs", {"name": "Founded"}), 201)
    # A read of one adds the caller's membership; a listing (of memberships) is another resource.
    assert_one_shape(ok(founder.get(f"/orgs/{created['org_id']}")), created, embedded=("membership",))
    assert set(created) == set(child) and created["parent_id"] is None


def test_a_member_and_a_message_template(stack: Any, org: Organisation) -> None:
    admin, path = org.admin, f"/orgs/{org.org_id}"
    user = new_user(stack, "staff")
    saved = ok(admin.put(f"{path}/members/{user.user_id}", {"permissions": ["leads:request"], "display_name": "Sam"}))
    assert_one_shape(saved, listed(admin, f"{path}/members", "user_id", user.user_id))
    template = {"name": "Thanks", "subject": "Thanks", "body": "Thanks for the lead"}
    created = ok(admin.post(f"{path}/message-templates", template), 201)
    template_id = created["template_id"]
    assert_one_shape(
        created,
        ok(admin.get(f"{path}/message-templates/{template_id}")),
        listed(admin, f"{path}/message-templates", "template_id", template_id),
    )


def test_a_partner_company_and_a_lead(org: Organisation) -> None:
    admin, path = org.admin, f"/orgs/{org.org_id}"
    created = ok(admin.post(f"{path}/partner-companies", {"name": "Seller", "sells_leads": True}), 201)
    company_id = created["company_id"]
    assert_one_shape(
        created,
        ok(admin.get(f"{path}/partner-companies/{company_id}")),
        listed(admin, f"{path}/partner-companies", "company_id", company_id),
    )
    lead = {"contact_name": "Walk-in", "email": "walk@in.example", "location": "queue", "source_id": "self-generated"}
    entered = ok(admin.post(f"{path}/leads", lead), 201)
    lead_id = entered["lead_id"]
    assert_one_shape(
        entered,
        ok(admin.get(f"{path}/leads/{lead_id}")),
        listed(admin, f"{path}/leads", "lead_id", lead_id, status="queued"),
        embedded=HISTORY,
    )


def test_a_workflow_a_deal_and_its_note(org: Organisation) -> None:
    admin, path = org.admin, f"/orgs/{org.org_id}"
    workflow = ok(admin.post(f"{path}/workflows", {"name": "Referrals", "stages": [{"name": "New"}]}), 201)
    workflow_id = workflow["workflow_id"]
    assert_one_shape(
        workflow,
        ok(admin.get(f"{path}/workflows/{workflow_id}")),
        listed(admin, f"{path}/workflows", "workflow_id", workflow_id),
    )
    body = {"workflow_id": workflow_id, "contacts": [{"first_name": "Casey", "last_name": "Client"}]}
    deal = ok(admin.post(f"{path}/deals", body), 201)
    deal_id = deal["deal_id"]
    assert_one_shape(deal, ok(admin.get(f"{path}/deals/{deal_id}")), listed(admin, f"{path}/deals", "deal_id", deal_id))
    note = ok(admin.post(f"{path}/deals/{deal_id}/notes", {"body": "Valuation booked"}), 201)
    assert_one_shape(note, listed(admin, f"{path}/deals/{deal_id}/notes", "note_id", note["note_id"]))


def test_a_team_its_member_and_a_referral_request(stack: Any, org: Organisation) -> None:
    admin, path = org.admin, f"/orgs/{org.org_id}"
    leader = new_user(stack, "leader")
    details = {"user_id": leader.user_id, "phone": "+15550142001", "display_name": "Lea Leader"}
    team = ok(admin.post(f"{path}/teams", {"name": "Shapes", "leader": details}), 201)
    team_id = team["team_id"]
    assert_one_shape(
        team,
        ok(admin.get(f"{path}/teams/{team_id}")),
        listed(admin, f"{path}/teams", "team_id", team_id),
        embedded=("members",),
    )
    member = new_user(stack, "member")
    body = {"role": "member", "phone": "+15550142002", "display_name": "Mo Member"}
    saved = ok(admin.put(f"{path}/teams/{team_id}/members/{member.user_id}", body), 201)
    [in_team] = [m for m in ok(admin.get(f"{path}/teams/{team_id}"))["members"] if m["user_id"] == member.user_id]
    assert_one_shape(saved, in_team)
    request = {"team_id": team_id, "customer": {"first_name": "Casey", "last_name": "Client"}, "summary": "3 beds"}
    created = ok(admin.post(f"{path}/referral-requests", request), 201)
    request_id = created["request_id"]
    assert_one_shape(
        created,
        ok(admin.get(f"{path}/referral-requests/{request_id}")),
        listed(admin, f"{path}/referral-requests", "request_id", request_id),
        # The stream's consumer texts the team meanwhile: offers, history and updated_at may move on.
        changing=("offers", "history", "updated_at"),
        embedded=("offers",),
    )


def test_a_partner(stack: Any, org: Organisation) -> None:
    admin, path = org.admin, f"/orgs/{org.org_id}"
    new = {"first_name": "Pat", "last_name": "Partner", "email": "pat.shapes@it.example", "phone": "+1 555 0101"}
    created = ok(admin.post(f"{path}/partners", new), 201)
    partner_id = created["partner_id"]
    assert_one_shape(
        created,
        ok(admin.get(f"{path}/partners/{partner_id}")),
        listed(admin, f"{path}/partners", "partner_id", partner_id),
    )
    new_partner(stack, org.org_id)


def test_a_file_and_an_invitation(org: Organisation) -> None:
    admin, path = org.admin, f"/orgs/{org.org_id}"
    workflow = ok(admin.post(f"{path}/workflows", {"name": "Files", "stages": [{"name": "New"}]}), 201)
    body = {"workflow_id": workflow["workflow_id"], "contacts": [{"first_name": "Casey", "last_name": "Client"}]}
    deal_id = ok(admin.post(f"{path}/deals", body), 201)["deal_id"]
    new_file = {"name": "plan.pdf", "content_type": "application/pdf", "size": 1000}
    file = ok(admin.post(f"{path}/deals/{deal_id}/files", new_file), 201)["file"]
    item = listed(admin, f"{path}/deals/{deal_id}/files", "file_id", file["file_id"])
    assert_one_shape(file, item, changing=("download_url",))  # presigned again on every answer
    invitee = {
        "first_name": "Ivy",
        "last_name": "Invitee",
        "email": "ivy.shapes@it.example",
        "phone": "+1 555 0123",
        "subject": "Join",
        "body": "Come and refer with us.",
        "level_zero": True,
    }
    invitation = ok(admin.post(f"{path}/programme/invitations", invitee), 201)
    key = next(k for k in ("invitation_id", "token_id", "email") if k in invitation)
    assert_one_shape(invitation, listed(admin, f"{path}/programme/invitations", key, invitation[key]))


def test_a_plan_a_correction_a_wallet_and_a_payout_request(stack: Any, org: Organisation) -> None:
    admin, path = org.admin, f"/orgs/{org.org_id}"
    plan = {"currency": "AUD", "levels": [{"rule": "percentage", "percent": "10"}]}
    created = ok(admin.post(f"{path}/commission-plan/versions", plan), 201)
    assert_one_shape(created, ok(admin.get(f"{path}/commission-plan")))
    payee = new_partner(stack, org.org_id)
    wallet = f"{path}/wallets/{payee.user_id}"
    entry = ok(admin.post(f"{wallet}/corrections", {"amount": 1_000, "reason": "seed"}), 201)
    assert_one_shape(entry, listed(admin, f"{wallet}/entries", "entry_id", entry["entry_id"]))
    assert_one_shape(ok(admin.get(wallet)), listed(admin, f"{path}/wallets", "partner_id", payee.user_id))
    request = ok(payee.post(f"{path}/portal/payout-requests", {"amount": 100}), 201)
    request_id = request["request_id"]
    assert_one_shape(request, listed(payee, f"{path}/portal/payout-requests", "request_id", request_id))
    staff = ok(admin.get(f"{path}/payout-requests/{request_id}"))
    assert_one_shape(staff, listed(admin, f"{path}/payout-requests", "request_id", request_id), embedded=("wallet",))


def test_a_team_customer(stack: Any, org: Organisation) -> None:
    admin, path = org.admin, f"/orgs/{org.org_id}"
    leader = new_user(stack, "leader")
    details = {"user_id": leader.user_id, "phone": "+15550142003", "display_name": "Lea Leader"}
    team_id = ok(admin.post(f"{path}/teams", {"name": "Customers", "leader": details}), 201)["team_id"]
    request = {"team_id": team_id, "customer": {"first_name": "Casey", "last_name": "Client"}, "summary": "3 beds"}
    request_id = ok(admin.post(f"{path}/referral-requests", request), 201)["request_id"]
    accepted = ok(leader.post(f"{path}/referral-requests/{request_id}/accept"))
    customers = f"{path}/teams/{team_id}/customers"
    customer = ok(leader.get(f"{customers}/{accepted['customer_id']}"))
    assert_one_shape(customer, listed(leader, customers, "customer_id", accepted["customer_id"]))


def test_a_customer_converted_from_a_lead(org: Organisation) -> None:
    rep, path = org.reps[0], f"/orgs/{org.org_id}"
    ok(
        org.company.post(org.intake_path, {"external_id": "shapes-1", "contact_name": "Jane", "phone": "+15550100"}),
        201,
    )
    lead_id = ok(rep.post(f"{path}/lead-queue/claims"))["lead_id"]
    customer = ok(rep.post(f"{path}/leads/{lead_id}/convert"), 201)["customer"]
    customer_id = customer["customer_id"]
    assert_one_shape(
        customer,
        ok(rep.get(f"{path}/customers/{customer_id}")),
        listed(rep, f"{path}/customers", "customer_id", customer_id),
    )


def test_a_deal_a_partner_submits(stack: Any, org: Organisation) -> None:
    admin, path = org.admin, f"/orgs/{org.org_id}"
    workflow = ok(admin.post(f"{path}/workflows", {"name": "Portal", "stages": [{"name": "New"}]}), 201)
    ok(admin.put(f"{path}/portal-settings", {"default_workflow_id": workflow["workflow_id"]}))
    partner = new_partner(stack, org.org_id, brokers=[org.reps[0].user_id])
    contact = {"first_name": "Casey", "last_name": "Client", "email": "casey@client.example", "phone": "+1 555 0199"}
    deal = ok(partner.post(f"{path}/portal/deals", {"contacts": [contact], "owner_id": org.reps[0].user_id}), 201)
    deal_id = deal["deal_id"]
    assert_one_shape(
        deal,
        ok(partner.get(f"{path}/portal/deals/{deal_id}")),
        listed(partner, f"{path}/portal/deals", "deal_id", deal_id),
        embedded=("stage_history",),
    )
