"""Sales by post as deliveries of the outbound engine (kind `sale`): created once from the change that sold the
record, posted with the record's fields and the receiver's Source ID, signed (Standard Webhooks, the company's
sale secret), with a bearer token from the receiver's token URL when it issued us credentials (asked for once,
kept until shortly before it ends), retried on the engine's schedule, the receiver's id recorded on the sold
record; the log, a resend and the signing secret through the leads API."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import pytest
from common.integrations import outbound, receiver_tokens, sale_deliveries, sale_posts
from common.integrations.delivery_attempts import handle
from common.integrations.outbound import Attempt, OutboundRequest
from common.integrations.sale_secrets import secret_key
from common.leads.customer_accounts import ACCOUNT_EXAMPLE, AccountDetails
from common.leads.customer_intake import PurchasedCustomer
from common.leads.intake import IntakeLead
from common.leads.model import lead_key
from common.platform import clock, db, ids

from tests.support import body_of
from tests.unit.conftest import FrozenClock
from tests.unit.integrations.delivery_fakes import Queue, verify
from tests.unit.leads.sale_fixtures import (
    ADMIN,
    POST_URL,
    REP,
    SELLER,
    SaleOrg,
    call,
    email_side,
    post_side,
    set_sides,
)

pytestmark = pytest.mark.cognito

TOKEN_URL = "https://auth.buyer.example/oauth2/token"
CREDENTIALS = {"token_url": TOKEN_URL, "client_id": "us-at-the-buyer", "scope": "leads/write", "has_secret": True}
CLIENT_SECRET = "s3cr3t:with/odd chars"


@dataclass
class Buyer:
    """The buying company's far end: its token URL and its intake, answering as told (the last repeats)."""

    answers: list[tuple[int, Any]] = field(default_factory=lambda: [(201, {"lead_id": "B-LEAD-1"})])
    token_answers: list[tuple[int, Any]] = field(
        default_factory=lambda: [(200, {"access_token": "tok-1", "expires_in": 3600, "token_type": "Bearer"})]
    )
    posts: list[OutboundRequest] = field(default_factory=list)
    token_requests: list[OutboundRequest] = field(default_factory=list)

    def send(self, request: OutboundRequest, policy: Any, **_: Any) -> Attempt:
        if request.url == TOKEN_URL:
            self.token_requests.append(request)
            status, answer = self.token_answers[min(len(self.token_requests), len(self.token_answers)) - 1]
        else:
            self.posts.append(request)
            status, answer = self.answers[min(len(self.posts), len(self.answers)) - 1]
        body = json.dumps(answer)
        attempt = Attempt(at=clock.now_iso(), status_code=status, duration_ms=12, excerpt=body[:1000], error=None)
        attempt._body = body
        return attempt


@pytest.fixture
def buyer(monkeypatch: pytest.MonkeyPatch) -> Buyer:
    far = Buyer()
    monkeypatch.setattr(outbound, "send", far.send)
    monkeypatch.setattr(sale_posts, "_client_secret", lambda org_id, company_id, side: CLIENT_SECRET)
    receiver_tokens._cache.clear()
    return far


def sold(sale_org: SaleOrg, *refs: str) -> list[dict[str, Any]]:
    """Leads posted to us and sold to the buyer; each change that sold one handed to the engine."""
    lead_ids = [sale_org.post_lead(ref, email="jane@example.org") for ref in refs]
    before = {i: db.get(lead_key(sale_org.org_id, i)) for i in lead_ids}
    assert sale_org.sell(*lead_ids)["statusCode"] == 200
    after = [db.get(lead_key(sale_org.org_id, i)) or {} for i in lead_ids]
    for lead in after:
        sale_deliveries.on_change(before[lead["lead_id"]], lead)
    return after


def deliver(queue: Queue) -> list[Any]:
    return [handle(message, ids.new_id()) for message, _ in queue.take()]


def stored(sale_org: SaleOrg, lead: dict[str, Any]) -> dict[str, Any]:
    key = sale_deliveries.sale_delivery_key(sale_org.org_id, sale_org.buyer, lead["sale"]["sale_id"])
    return db.get(key) or {}


def test_a_sale_is_posted_once_and_the_receivers_id_recorded(sale_org: SaleOrg, queue: Queue, buyer: Buyer) -> None:
    [lead] = sold(sale_org, "P-1")
    sale = lead["sale"]
    [(message, delay)] = queue.take()
    assert delay == 0 and message == {
        "kind": "sale",
        "org_id": sale_org.org_id,
        "company_id": sale_org.buyer,
        "sale_id": sale["sale_id"],
        "round": 1,
        "attempt": 0,
    }
    # A redelivered change creates nothing twice; not yet attempted, it is handed on again.
    sale_deliveries.on_change({**lead, "sale": None}, lead)
    assert queue.take() == [(message, 0)]
    handled = handle(message, ids.new_id())
    assert handled.outcome == "attempted" and handled.status == "succeeded"

    [post] = buyer.posts
    assert post.url == POST_URL and "Authorization" not in post.headers
    assert json.loads(post.body) == {
        "source_id": "SRC-42",
        "external_id": lead["lead_id"],
        "contact_name": "Jane Doe",
        "phone": "+15550100",
        "email": "jane@example.org",
    }
    secret = (db.get(secret_key(sale_org.org_id, sale_org.buyer)) or {})["secret"]
    assert post.headers["webhook-id"] == sale["sale_id"]
    assert verify(secret, post.body, post.headers) is not None  # what a Standard Webhooks receiver checks
    delivery = stored(sale_org, lead)
    assert delivery["status"] == "succeeded" and delivery["receiver_id"] == "B-LEAD-1"
    assert sale_org.lead(lead["lead_id"])["sale"]["receiver_id"] == "B-LEAD-1"
    # Attempted: a change delivered again hands nothing on.
    sale_deliveries.on_change(None, lead)
    assert queue.take() == [] and len(buyer.posts) == 1


def test_a_failing_receiver_is_retried_on_the_schedule(
    sale_org: SaleOrg, queue: Queue, buyer: Buyer, frozen_clock: FrozenClock
) -> None:
    buyer.answers = [(503, {"error": "busy"}), (500, "oops"), (200, {"id": 77})]
    [lead] = sold(sale_org, "R-1")
    deliver(queue)
    delivery = stored(sale_org, lead)
    assert delivery["status"] == "pending" and delivery["attempts"][0]["status_code"] == 503
    [(message, delay)] = queue.take()
    assert 5 <= delay <= 6  # the schedule's first wait, with its jitter
    frozen_clock.advance(seconds=delay)
    handle(message, ids.new_id())
    [(message, delay)] = queue.take()
    assert 300 <= delay <= 360  # the second wait: 5 minutes, lengthened by up to a fifth
    frozen_clock.advance(minutes=7)
    assert handle(message, ids.new_id()).outcome == "attempted"
    delivery = stored(sale_org, lead)
    assert [a["status_code"] for a in delivery["attempts"]] == [503, 500, 200]
    assert delivery["status"] == "succeeded" and delivery["receiver_id"] == "77"
    assert {p.headers["webhook-id"] for p in buyer.posts} == {lead["sale"]["sale_id"]}
    assert sale_org.lead(lead["lead_id"])["sale"]["receiver_id"] == "77"


def test_a_receivers_token_is_asked_for_once_and_kept(
    sale_org: SaleOrg, queue: Queue, buyer: Buyer, frozen_clock: FrozenClock
) -> None:
    set_sides(sale_org.org_id, sale_org.buyer, lead_sale=post_side(receiver_credentials=CREDENTIALS))
    buyer.answers = [(201, {"lead_id": "B-1"}), (201, {"lead_id": "B-2"}), (401, {"message": "expired"})]
    sold(sale_org, "T-1", "T-2", "T-3")
    deliver(queue)
    assert [p.headers["Authorization"] for p in buyer.posts] == ["Bearer tok-1"] * 3
    [token_request] = buyer.token_requests
    basic = base64.b64decode(token_request.headers["Authorization"].removeprefix("Basic ")).decode()
    assert basic == "us-at-the-buyer:s3cr3t%3Awith%2Fodd%20chars"  # RFC 6749 2.3.1: each part form-encoded
    assert token_request.content_type == "application/x-www-form-urlencoded"
    assert parse_qs(token_request.body) == {"grant_type": ["client_credentials"], "scope": ["leads/write"]}
    # Refused with 401: the token is dropped, and the retry asks for a new one.
    buyer.token_answers = [(200, {"access_token": "tok-2", "expires_in": 3600})]
    buyer.token_requests.clear()
    buyer.answers = [(201, {"lead_id": "B-3"})]
    buyer.posts.clear()
    [(message, _)] = queue.take()
    frozen_clock.advance(seconds=10)
    handle(message, ids.new_id())
    assert len(buyer.token_requests) == 1 and buyer.posts[0].headers["Authorization"] == "Bearer tok-2"


def test_no_token_no_post(sale_org: SaleOrg, queue: Queue, buyer: Buyer) -> None:
    set_sides(sale_org.org_id, sale_org.buyer, lead_sale=post_side(receiver_credentials=CREDENTIALS))
    buyer.token_answers = [(401, {"error": "invalid_client"})]
    [lead] = sold(sale_org, "N-1")
    deliver(queue)
    delivery = stored(sale_org, lead)
    assert buyer.posts == [] and delivery["status"] == "pending"
    assert delivery["attempts"][0]["error"] == "no token: the token URL answered 401 (invalid_client)"


def test_a_side_that_takes_no_posts_now_gets_none(sale_org: SaleOrg, queue: Queue, buyer: Buyer) -> None:
    [lead] = sold(sale_org, "S-1")
    set_sides(sale_org.org_id, sale_org.buyer, lead_sale=email_side())
    [handled] = deliver(queue)
    assert handled.outcome == "not_sent" and buyer.posts == []
    delivery = stored(sale_org, lead)
    assert delivery["status"] == "failed"
    assert delivery["attempts"][0]["error"] == "not sent: the company's leads side takes no posts now"


def test_the_log_a_resend_and_the_signing_secret(sale_org: SaleOrg, queue: Queue, buyer: Buyer) -> None:
    org, company = sale_org.org_id, sale_org.buyer
    [first, second] = sold(sale_org, "L-1", "L-2")
    deliver(queue)
    base = f"/orgs/{org}/partner-companies/{company}/sale-posts"
    log = body_of(call("GET", base, user=SELLER))["items"]  # sales of one request share their moment
    assert {(p["sale_id"], p["record_id"], p["side"]) for p in log} == {
        (lead["sale"]["sale_id"], lead["lead_id"], "leads") for lead in (first, second)
    }
    one = body_of(call("GET", f"{base}/{first['sale']['sale_id']}", user=SELLER))
    assert one["status"] == "succeeded" and one["receiver_id"] == "B-LEAD-1" and one["attempt_count"] == 1
    assert call("GET", base, user=REP)["statusCode"] == 403
    assert call("GET", f"{base}/{ids.new_id()}", user=SELLER)["statusCode"] == 404
    assert call("GET", f"/orgs/{org}/partner-companies/{ids.new_id()}/sale-posts", user=SELLER)["statusCode"] == 404

    # A new secret, shown once: the next post is signed with it and with the one it replaced.
    issued = call("POST", f"/orgs/{org}/partner-companies/{company}/sale-signing-secret", user=ADMIN)
    assert issued["statusCode"] == 201, issued
    new_secret = body_of(issued)["secret"]
    assert body_of(issued)["previous_secret_expires_at"] is not None
    assert (
        call("POST", f"/orgs/{org}/partner-companies/{company}/sale-signing-secret", user=SELLER)["statusCode"] == 403
    )

    resent = call("POST", f"{base}/{first['sale']['sale_id']}/resend", user=SELLER)
    assert resent["statusCode"] == 202 and body_of(resent)["status"] == "pending"
    assert call("POST", f"{base}/{first['sale']['sale_id']}/resend", user=SELLER)["statusCode"] == 409  # pending
    deliver(queue)
    repost = buyer.posts[-1]
    assert (
        repost.headers["webhook-id"] == first["sale"]["sale_id"]
        and len(repost.headers["webhook-signature"].split()) == 2
    )
    assert verify(new_secret, repost.body, repost.headers) is not None
    again = body_of(call("GET", f"{base}/{first['sale']['sale_id']}", user=SELLER))
    assert again["status"] == "succeeded" and again["attempt_count"] == 2


def test_kept_tokens_end_before_they_expire() -> None:
    credentials = receiver_tokens.Credentials(TOKEN_URL, "client")
    now = [1000.0]
    asked: list[str] = []

    def send(request: OutboundRequest, policy: Any) -> Attempt:
        asked.append(request.body)
        attempt = Attempt(at=clock.now_iso(), status_code=200, duration_ms=1, excerpt=None, error=None)
        attempt._body = json.dumps({"access_token": f"t{len(asked)}", "expires_in": 120})
        return attempt

    receiver_tokens._cache.clear()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(outbound, "send", send)

        def token() -> str:
            return receiver_tokens.token(
                "owner", credentials, lambda: "secret", sale_posts.urls.LOCAL, monotonic=lambda: now[0]
            )

        assert token() == "t1"
        now[0] += 59  # 61 s left: more than the margin
        assert token() == "t1"
        now[0] += 2  # 59 s left
        assert token() == "t2" and asked == ["grant_type=client_credentials"] * 2


def test_what_is_posted_is_what_this_products_intakes_take() -> None:
    company_id = ids.new_id()
    lead = {
        "entity": "lead",
        "lead_id": ids.new_id(),
        "contact": {"contact_name": "Jane Doe", "phone": "+15550100", "address": {"line1": "1 Main St"}},
        "contact_not_before": "2026-12-01T09:00:00.000Z",
    }
    IntakeLead.model_validate_json(sale_posts.body_of(lead, company_id))
    address = {"line1": "1 Main Street", "city": "Austin", "region": "TX", "postal_code": "73301", "country": "US"}
    customer = {
        "entity": "customer",
        "customer_id": ids.new_id(),
        "contact": {
            "contact_name": "Jane Doe",
            "phone": "+15125550100",
            "email": "jane@example.org",
            "address": address,
        },
        "account": AccountDetails.model_validate(ACCOUNT_EXAMPLE).stored(),
    }
    posted = PurchasedCustomer.model_validate_json(sale_posts.body_of(customer, company_id))
    assert posted.external_id == customer["customer_id"] and posted.source_id == company_id
    assert posted.address.state == "TX" and posted.account_number == ACCOUNT_EXAMPLE["account_number"]
