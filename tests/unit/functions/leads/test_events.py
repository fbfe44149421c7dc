"""The leads stream consumer: purchase and return e-mails, at most once, with partial batch failures."""

from __future__ import annotations

from typing import Any

import pytest
from common.leads.model import lead_key
from common.platform import db
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from tests.support import OPERATOR, api_caller, body_of, queue_consumer, stream_record

# These tests create users or app clients in the user pool.
pytestmark = pytest.mark.cognito

ADMIN, REP = "user-admin", "user-rep"


def sent() -> list[Any]:
    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


call = api_caller("leads")
consume = queue_consumer("leads")


@pytest.fixture
def setup() -> dict[str, Any]:
    org_id = body_of(call("POST", "/orgs", user=ADMIN, groups=OPERATOR, body={"name": "Acme"}))["org_id"]
    call("PUT", f"/orgs/{org_id}/members/{REP}", user=ADMIN, body={"permissions": ["leads:request", "leads:return"]})
    template = call(
        "POST",
        f"/orgs/{org_id}/message-templates",
        user=ADMIN,
        body={
            "name": "Return auto-response",
            "subject": "Returning {{lead.external_id}} to {{company.name}}",
            "body": "Hello {{company.contact_person}}, we return {{lead.contact_name}}.\nWhy: {{comments}}",
        },
    )
    assert template["statusCode"] == 201, template
    company = call(
        "POST",
        f"/orgs/{org_id}/partner-companies",
        user=ADMIN,
        body={
            "name": "Seller Ltd",
            "contact_person": "Sam",
            "sells_leads": True,
            "default_lead_location": "queue",
            "purchase_notification_emails": ["buying@acme.example"],
            "return_notification_emails": ["returns@seller.example"],
            "include_comments_with_returns": True,
            "auto_response_template_id": body_of(template)["template_id"],
        },
    )
    company_id = body_of(company)["company_id"]
    client_id = body_of(call("POST", f"/orgs/{org_id}/partner-companies/{company_id}/credentials", user=ADMIN))[
        "client_id"
    ]
    return {"org_id": org_id, "company_id": company_id, "client_id": client_id}


def post_lead(setup: dict[str, Any], external_id: str) -> dict[str, Any]:
    response = call(
        "POST",
        f"/orgs/{setup['org_id']}/partner-companies/{setup['company_id']}/leads",
        machine=setup["client_id"],
        body={"external_id": external_id, "contact_name": "Jane Doe", "phone": "+15550100"},
    )
    item = db.get(lead_key(setup["org_id"], body_of(response)["lead_id"]), consistent=True)
    assert item is not None
    return item


def return_lead(setup: dict[str, Any], lead: dict[str, Any], comments: str) -> dict[str, Any]:
    """Return the lead through the API; gives the stream record of that change."""
    response = call(
        "POST",
        f"/orgs/{setup['org_id']}/lead-returns",
        user=REP,
        body={"lead_ids": [lead["lead_id"]], "comments": comments},
    )
    assert response["statusCode"] == 200, response
    returned = db.get(lead_key(setup["org_id"], lead["lead_id"]), consistent=True)
    assert returned is not None
    return stream_record("MODIFY", returned, lead)


def test_purchase_notification_is_sent_once_however_often_delivered(setup: dict[str, Any]) -> None:
    lead = post_lead(setup, "EXT-1")
    insert = stream_record("INSERT", lead)
    for _ in range(3):
        assert consume(insert) == {"batchItemFailures": []}
    messages = sent()
    assert len(messages) == 1
    assert messages[0].destinations["ToAddresses"] == ["buying@acme.example"]
    assert "EXT-1" in messages[0].subject


def test_return_sends_rendered_template_with_comments(setup: dict[str, Any]) -> None:
    change = return_lead(setup, post_lead(setup, "EXT-2"), "wrong number")
    redelivered = {**change, "eventID": "event-again"}
    consume(change, redelivered)
    (message,) = sent()
    assert message.destinations["ToAddresses"] == ["returns@seller.example"]
    assert message.subject == "Returning EXT-2 to Seller Ltd"
    assert message.body == "Hello Sam, we return Jane Doe.\nWhy: wrong number"


def test_comments_stay_home_when_the_company_says_so(setup: dict[str, Any]) -> None:
    call(
        "PATCH",
        f"/orgs/{setup['org_id']}/partner-companies/{setup['company_id']}",
        user=ADMIN,
        body={"include_comments_with_returns": False, "auto_response_template_id": None},
    )
    lead = post_lead(setup, "EXT-3")
    consume(return_lead(setup, lead, "internal remark"))
    (message,) = sent()
    assert "internal remark" not in message.body
    assert message.subject == "Lead returned: EXT-3"


def test_a_failing_record_is_reported_and_the_others_proceed(setup: dict[str, Any]) -> None:
    good = post_lead(setup, "EXT-4")
    broken = {**post_lead(setup, "EXT-5"), "company_id": "01JD00000000000000000NOSUCH"}
    result = consume(stream_record("INSERT", broken, seq=10), stream_record("INSERT", good, seq=11))
    assert result == {"batchItemFailures": [{"itemIdentifier": f"{10:024d}"}]}
    assert [m.subject for m in sent()] == ["New lead from Seller Ltd: EXT-4"]


def test_failed_send_releases_the_notice_so_the_retry_sends(setup: dict[str, Any], monkeypatch: Any) -> None:
    lead = post_lead(setup, "EXT-6")
    from common.platform import email

    real = email.send_email
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("SES throttled")
        return real(*args, **kwargs)

    monkeypatch.setattr("common.leads.mail.send_email", flaky)
    first = consume(stream_record("INSERT", lead))
    assert len(first["batchItemFailures"]) == 1
    assert consume(stream_record("INSERT", lead)) == {"batchItemFailures": []}
    assert len(sent()) == 1


def test_other_entities_are_ignored() -> None:
    item = {"pk": "ORG#X#COMPANY#Y", "sk": "COMPANY", "entity": "partner_company", "company_id": "Y"}
    assert consume(stream_record("INSERT", item)) == {"batchItemFailures": []}
    assert sent() == []


def test_comments_go_with_a_template_that_only_mentions_them_in_prose(setup: dict[str, Any]) -> None:
    template = call(
        "POST",
        f"/orgs/{setup['org_id']}/message-templates",
        user=ADMIN,
        body={
            "name": "Plain",
            "subject": "Returned {{lead.external_id}}",
            "body": "Thanks for your comments on our leads.",
        },
    )
    call(
        "PATCH",
        f"/orgs/{setup['org_id']}/partner-companies/{setup['company_id']}",
        user=ADMIN,
        body={"auto_response_template_id": body_of(template)["template_id"]},
    )
    lead = post_lead(setup, "EXT-7")
    consume(return_lead(setup, lead, "Wrong area."))
    (message,) = sent()
    assert message.body == "Thanks for your comments on our leads.\n\nComments from our call center:\nWrong area."


def test_an_abandoned_claim_goes_stale_and_the_mail_is_sent(setup: dict[str, Any], frozen_clock: Any) -> None:
    lead = post_lead(setup, "EXT-8")
    # A consumer that claimed the notice and was stopped before sending left this behind.
    db.put({"pk": lead["pk"], "sk": "NOTICE#purchase", "entity": "notice", "claimed_at": "2026-11-22T09:00:00.000Z"})
    # Still fresh: the first consumer may yet be sending, so the record fails and will be retried.
    assert len(consume(stream_record("INSERT", lead))["batchItemFailures"]) == 1
    assert sent() == []
    frozen_clock.advance(minutes=3)
    assert consume(stream_record("INSERT", lead)) == {"batchItemFailures": []}
    assert len(sent()) == 1
