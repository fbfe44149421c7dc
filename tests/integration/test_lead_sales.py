"""Selling leads over HTTP against the local stack, from one organisation to another: organisation A sells 20
leads to a company whose Post URL is organisation B's lead intake on the same stack, authenticating with the
client credentials B issued for A (kept in A's company side, the secret where the sides keep it). B is behind a
proxy on 127.0.0.1 that fails each post's first attempt and loses B's answer to the second, so A's engine
retries each: B holds each lead exactly once (its external-id dedupe), and A's record shows B's lead id. Also a
post signed for any receiver, retried and logged; a sale by e-mail (the outbox); a single sale refused twice."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest
import requests
from common.integrations import events
from common.platform import ids

from local.stack import LocalStack
from tests.integration.support import webhook_receiver
from tests.integration.support.actors import Organisation, lead, new_organisation
from tests.integration.support.sales import flaky_proxy, keep_receiver_secret, set_sides
from tests.integration.support.webhook_receiver import listening

# This process on the stack's clock (the tests move it), as a fixture here.
stack_clock = webhook_receiver.stack_clock

WAIT = 60.0
LEADS = 20


def ok(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def queued_leads(org: Organisation, count: int, prefix: str) -> list[str]:
    return [ok(org.company.post(org.intake_path, lead(f"{prefix}-{n}")), 201)["lead_id"] for n in range(count)]


def a_buyer(org: Organisation, name: str, **sides: Any) -> str:
    company_id = ok(org.admin.post(f"/orgs/{org.org_id}/partner-companies", {"name": name}), 201)["company_id"]
    set_sides(org.org_id, company_id, **sides)
    return str(company_id)


def sell(org: Organisation, company_id: str, lead_ids: list[str]) -> dict[str, Any]:
    return ok(org.admin.post(f"/orgs/{org.org_id}/lead-sales", {"company_id": company_id, "lead_ids": lead_ids}))


def until_posted(stack: LocalStack, org: Organisation, company_id: str, count: int, rounds: int = 12) -> list[Any]:
    """Move the stack's clock on (the retry schedule and the slot waits ride on the queue's delays) until the
    company's `count` sale posts have each succeeded."""
    path = f"/orgs/{org.org_id}/partner-companies/{company_id}/sale-posts"
    for _ in range(rounds):
        stack.wait_for_streams(WAIT)
        posts = ok(org.admin.get(path, params={"limit": 100}))["items"]
        if len(posts) == count and all(p["status"] == "succeeded" for p in posts):
            return list(posts)
        stack.advance_clock(400)
    raise AssertionError(f"not all posted: {[(p['status'], p['attempt_count']) for p in posts]}")


@pytest.mark.skipif(
    importlib.util.find_spec("common.leads.company_sides") is None,
    reason="the company's sides (their receiver secrets) are the partner companies' part of the issue",
)
def test_organisation_a_sells_20_leads_to_organisation_b_which_gets_each_once(stack: LocalStack) -> None:
    a = new_organisation(stack, reps=0)
    b = new_organisation(stack, reps=0)  # its company is A: a seller of leads into B's queue
    credentials = ok(b.admin.post(f"/orgs/{b.org_id}/partner-companies/{b.company_id}/credentials"), 201)
    with flaky_proxy(stack.url) as proxy:
        post_url = f"{proxy.url}/orgs/{b.org_id}/partner-companies/{b.company_id}/leads"
        lead_sale = {
            "method": "post",
            "post_url": post_url,
            "source_id": b.company_id,
            "email_addresses": [],
            "sale_notification_emails": [],
            "receiver_credentials": {
                "token_url": stack.token_url,
                "client_id": credentials["client_id"],
                "scope": credentials["scope"],
                "has_secret": True,
            },
        }
        buyer = a_buyer(a, "Organisation B", buys_leads=True, lead_sale=lead_sale)
        keep_receiver_secret(a.org_id, buyer, "leads", credentials["client_secret"])
        # A records events once it has a webhook endpoint (a disabled one too); its posts go out either way.
        quiet = {"url": f"{proxy.url}/quiet", "event_types": ["lead.sold"], "enabled": False}
        ok(a.admin.post(f"/orgs/{a.org_id}/webhooks", quiet), 201)
        sold_ids = queued_leads(a, LEADS, "A2B")
        result = sell(a, buyer, sold_ids)
        assert (result["sold"], result["refused"]) == (LEADS, 0)
        posts = until_posted(stack, a, buyer, LEADS)

    # Each post: refused once, passed on twice (B's first answer lost), B's second answer taken.
    assert set(proxy.requests.values()) == {3} and len(proxy.requests) == LEADS
    assert sorted(status for _, status in proxy.passed_on) == [200] * LEADS + [201] * LEADS
    received = ok(b.admin.get(f"/orgs/{b.org_id}/leads", params={"status": "queued", "limit": 100}))["items"]
    assert sorted(r["external_id"] for r in received) == sorted(sold_ids)  # each once
    assert {r["source"]["company_id"] for r in received} == {b.company_id}
    in_b = {r["external_id"]: r["lead_id"] for r in received}
    for lead_id in sold_ids:
        sale = ok(a.admin.get(f"/orgs/{a.org_id}/leads/{lead_id}"))["sale"]
        assert sale["company_id"] == buyer and sale["receiver_id"] == in_b[lead_id]
    assert {p["receiver_id"] for p in posts} == set(in_b.values())
    assert all([a["status_code"] for a in p["attempts"]] == [503, 503, 200] for p in posts)
    sold_events = [
        e
        for e in events.between(a.org_id, "2000-01-01T00:00:00.000Z", "2100-01-01T00:00:00.000Z")[0]
        if e.type == "lead.sold"
    ]
    assert len(sold_events) == LEADS


def test_a_post_is_signed_retried_and_logged(stack: LocalStack) -> None:
    org = new_organisation(stack, reps=0)
    with listening(stack) as receiver:
        receiver.answers = [503, 201]
        side = {"method": "post", "post_url": receiver.url, "source_id": "SRC-1", "sale_notification_emails": []}
        buyer = a_buyer(org, "Any receiver", buys_leads=True, lead_sale=side)
        secret = ok(org.admin.post(f"/orgs/{org.org_id}/partner-companies/{buyer}/sale-signing-secret"), 201)
        receiver.secrets.append(secret["secret"])
        [lead_id] = queued_leads(org, 1, "SIGNED")
        sale_id = sell(org, buyer, [lead_id])["items"][0]["sale"]["sale_id"]
        [post] = until_posted(stack, org, buyer, 1)

    assert [r["verified"] for r in receiver.requests] == [[True], [True]]
    assert {r["headers"]["webhook-id"] for r in receiver.requests} == {sale_id} and receiver.processed == [sale_id]
    assert post["sale_id"] == sale_id and post["record_id"] == lead_id and post["receiver_id"] is None
    assert [a["status_code"] for a in post["attempts"]] == [503, 201]
    body = receiver.requests[-1]["body"]
    assert '"source_id":"SRC-1"' in body and f'"external_id":"{lead_id}"' in body
    resent = org.admin.post(f"/orgs/{org.org_id}/partner-companies/{buyer}/sale-posts/{sale_id}/resend")
    assert ok(resent, 202)["status"] == "pending"


def test_a_sale_by_email_sends_the_lead_and_tells_the_notification_addresses(stack: LocalStack) -> None:
    org = new_organisation(stack, reps=0)
    tag = ids.new_id().lower()
    side = {
        "method": "email",
        "email_addresses": [f"intake-{tag}@buyer.example"],
        "sale_notification_emails": [f"desk-{tag}@buyer.example"],
    }
    buyer = a_buyer(org, "E-mail buyer", buys_leads=True, lead_sale=side)
    [lead_id] = queued_leads(org, 1, "MAILED")
    assert sell(org, buyer, [lead_id])["items"][0]["sale"]["method"] == "email"
    stack.wait_for_streams(WAIT)
    mails = [m for m in stack.outbox() if tag in " ".join(m["to"])]
    assert sorted(m["to"] for m in mails) == [[f"desk-{tag}@buyer.example"], [f"intake-{tag}@buyer.example"]]
    [record] = [m for m in mails if m["to"] == [f"intake-{tag}@buyer.example"]]
    assert lead_id in record["body"] and "Jane Doe" in record["body"]
    # The posts' log holds no e-mailed sale.
    assert ok(org.admin.get(f"/orgs/{org.org_id}/partner-companies/{buyer}/sale-posts"))["items"] == []


def test_selling_one_lead_twice_is_refused(stack: LocalStack) -> None:
    org = new_organisation(stack, reps=0)
    side = {"method": "email", "email_addresses": ["intake@buyer.example"]}
    buyer = a_buyer(org, "Twice buyer", buys_leads=True, lead_sale=side)
    [lead_id] = queued_leads(org, 1, "TWICE")
    sale = sell(org, buyer, [lead_id])["items"][0]["sale"]
    path = f"/orgs/{org.org_id}/lead-sales"
    for _ in range(2):
        again = org.admin.post(path, {"company_id": buyer, "lead_ids": [lead_id]})
        assert again.status_code == 409 and again.json()["type"] == "/problems/already-sold"
        assert again.json()["conflicting_ids"] == [sale["sale_id"]]
    assert ok(org.admin.get(f"/orgs/{org.org_id}/leads/{lead_id}"))["status"] == "sold"
