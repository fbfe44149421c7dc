"""The e-mails of a sale, from the leads consumer: a sale by e-mail carries the record's fields to the side's
addresses, every sale tells the Sale Notification addresses, each once however often the change comes; the
consumer's filter hands it the changes that sold a lead or a customer."""

from __future__ import annotations

from typing import Any

import pytest
from common.leads.customers import customer_key
from common.leads.model import lead_key
from common.platform import change_fanout, db
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from tests.support import body_of, queue_consumer, stream_record
from tests.unit.leads.sale_fixtures import REP, SELLER, SaleOrg, call, email_side, post_side, set_sides

pytestmark = pytest.mark.cognito

consume = queue_consumer("leads")


def sent() -> list[Any]:
    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


def sale_change(sale_org: SaleOrg, ref: str, seq: int) -> dict[str, Any]:
    lead_id = sale_org.post_lead(ref, email="jane@example.org", notes="Call after 5pm")
    old = db.get(lead_key(sale_org.org_id, lead_id)) or {}
    assert sale_org.sell(lead_id)["statusCode"] == 200
    new = db.get(lead_key(sale_org.org_id, lead_id)) or {}
    return stream_record("MODIFY", new, old, seq=seq)


def test_a_sale_by_email_sends_the_lead_and_the_notification_once(sale_org: SaleOrg) -> None:
    set_sides(sale_org.org_id, sale_org.buyer, lead_sale=email_side())
    change = sale_change(sale_org, "M-1", seq=1)
    assert change_fanout.LEADS_EVENTS in change_fanout.consumers_of(change)
    before = len(sent())
    assert consume(change) == {"batchItemFailures": []}
    assert consume(change, receive_count=2) == {"batchItemFailures": []}  # delivered again: nothing more
    mails = sent()[before:]
    assert sorted(m.destinations["ToAddresses"] for m in mails) == [
        ["intake@buyer.example"],
        ["sales-desk@buyer.example"],
    ]
    [record] = [m for m in mails if m.destinations["ToAddresses"] == ["intake@buyer.example"]]
    lead_id = change["dynamodb"]["NewImage"]["lead_id"]["S"]
    assert f"Our reference (your external id): {lead_id}" in record.body
    assert "Contact: Jane Doe" in record.body and "E-mail: jane@example.org" in record.body
    assert "Call after 5pm" in record.body
    [notification] = [m for m in mails if m.destinations["ToAddresses"] == ["sales-desk@buyer.example"]]
    assert "Lead Buyer" in notification.subject and "e-mailed to it" in notification.body
    assert "jane@example.org" not in notification.body  # the notification tells of the sale, not the record


def test_a_sale_by_post_only_tells_the_notification_addresses(sale_org: SaleOrg) -> None:
    set_sides(sale_org.org_id, sale_org.buyer, lead_sale=post_side(email_addresses=["ignored@buyer.example"]))
    before = len(sent())
    assert consume(sale_change(sale_org, "M-2", seq=2)) == {"batchItemFailures": []}
    [mail] = sent()[before:]
    assert mail.destinations["ToAddresses"] == ["sales-desk@buyer.example"] and "posted to its system" in mail.body


def test_a_customer_sold_by_email(sale_org: SaleOrg) -> None:
    org_id = sale_org.org_id
    sale_org.post_lead("M-3")
    lead_id = body_of(call("POST", f"/orgs/{org_id}/lead-queue/claims", user=REP))["lead_id"]
    converted = body_of(call("POST", f"/orgs/{org_id}/leads/{lead_id}/convert", user=REP))
    customer_id = converted["customer"]["customer_id"]
    old = db.get(customer_key(org_id, customer_id)) or {}
    answer = call(
        "POST",
        f"/orgs/{org_id}/customer-sales",
        user=SELLER,
        body={"company_id": sale_org.buyer, "customer_ids": [customer_id]},
    )
    assert answer["statusCode"] == 200
    new = db.get(customer_key(org_id, customer_id)) or {}
    change = stream_record("MODIFY", new, old, seq=3)
    assert {change_fanout.LEADS_EVENTS, change_fanout.INTEGRATIONS_EVENTS} <= set(change_fanout.consumers_of(change))
    before = len(sent())
    assert consume(change) == {"batchItemFailures": []}
    mails = sent()[before:]
    assert sorted(m.destinations["ToAddresses"][0] for m in mails) == [
        "intake@buyer.example",
        "sales-desk@buyer.example",
    ]
    assert any(f"customer {customer_id} sold to you" in m.subject for m in mails)
    # A later change of the sold customer (its receiver's id) is no sale.
    later = {**new, "sale": {**new["sale"], "receiver_id": "X"}}
    assert consume(stream_record("MODIFY", later, new, seq=4)) == {"batchItemFailures": []}
    assert len(sent()) == before + 2
