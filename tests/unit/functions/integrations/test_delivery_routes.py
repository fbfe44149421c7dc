"""The delivery routes through the resolver: integrations:manage only (403 without it, 404 for another
organisation's or an unknown endpoint), the log, a resend, a replay (422 naming the field for a bad range),
resending what failed and a test event, each answered with what it handed on (202)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from common.integrations import deliveries
from common.integrations.delivery_attempts import handle
from common.orgs.access import member_key
from common.platform import db
from common.web.resolver import create_resolver
from integrations import delivery_routes

from tests.support import FakeContext, body_of, http_event
from tests.unit.conftest import FrozenClock
from tests.unit.integrations import delivery_fakes
from tests.unit.integrations.delivery_fakes import ORG, FakeEndpoints, Queue, Receiver, an_event

fake_endpoints = delivery_fakes.fake_endpoints
queue = delivery_fakes.queue
receiver = delivery_fakes.receiver
webhook_settings = delivery_fakes.webhook_settings

ADMIN, STAFF, STRANGER = "admin-user", "staff-user", "stranger-user"
EP = "01JENDP0000000000000000001"
BASE = f"/orgs/{ORG}/webhooks/{EP}"
Call = Callable[..., dict[str, Any]]


@pytest.fixture
def call(fake_endpoints: FakeEndpoints) -> Call:
    fake_endpoints.add(EP)
    db.put({**member_key(ORG, ADMIN), "entity": "member", "org_id": ORG, "user_id": ADMIN, "role": "admin"})
    db.put(
        {**member_key(ORG, STAFF), "entity": "member", "org_id": ORG, "user_id": STAFF, "role": "staff"}
        | {"permissions": ["leads:manage"]}
    )
    app = create_resolver()
    app.include_router(delivery_routes.router)

    def resolve(method: str, path: str, *, user: str = ADMIN, **kwargs: Any) -> dict[str, Any]:
        answer: dict[str, Any] = app.resolve(http_event(method, path, user=user, **kwargs), FakeContext())
        return answer

    return resolve


def test_only_integration_managers_of_the_organisation(call: Call) -> None:
    assert call("GET", f"{BASE}/deliveries", user=STAFF)["statusCode"] == 403
    assert call("GET", f"{BASE}/deliveries", user=STRANGER)["statusCode"] == 404
    assert call("POST", f"{BASE}/test", user=STAFF)["statusCode"] == 403
    other = call("GET", f"/orgs/{ORG}/webhooks/01JENDP0000000000000000009/deliveries")
    assert other["statusCode"] == 404 and body_of(other)["type"] == "/problems/not-found"


def test_the_log_a_delivery_and_its_resend(
    call: Call, queue: Queue, receiver: Receiver, frozen_clock: FrozenClock
) -> None:
    event = an_event()
    deliveries.fan_out(event)
    for message, _ in queue.take():
        handle(message, "m-1")
    log = call("GET", f"{BASE}/deliveries", query={"limit": "10"})
    assert log["statusCode"] == 200, log
    (entry,) = body_of(log)["items"]
    assert entry["event_id"] == event.id and entry["status"] == "succeeded"
    assert entry["attempts"][0]["status_code"] == 200 and set(entry["attempts"][0]) == {
        "at",
        "status_code",
        "duration_ms",
        "excerpt",
        "error",
    }
    one = call("GET", f"{BASE}/deliveries/{entry['delivery_id']}")
    assert one["statusCode"] == 200 and body_of(one) == entry
    resent = call("POST", f"{BASE}/deliveries/{entry['delivery_id']}/resend")
    assert resent["statusCode"] == 202 and body_of(resent)["status"] == "pending"
    assert call("POST", f"{BASE}/deliveries/{entry['delivery_id']}/resend")["statusCode"] == 409
    bad = call("GET", f"{BASE}/deliveries/not-a-delivery")
    assert bad["statusCode"] == 422 and body_of(bad)["errors"][0]["field"] == "path.delivery_id"


def test_replay_resend_failed_and_a_test_event(call: Call, queue: Queue, frozen_clock: FrozenClock) -> None:
    an_event()
    start = frozen_clock().isoformat()
    frozen_clock.advance(hours=1)
    end = frozen_clock().isoformat()
    replayed = call("POST", f"{BASE}/replay", body={"start": start, "end": end})
    assert replayed["statusCode"] == 202, replayed
    assert body_of(replayed) == {"deliveries": 1, "next_start": None, "more": False}
    backwards = call("POST", f"{BASE}/replay", body={"start": end, "end": start})
    assert backwards["statusCode"] == 422 and body_of(backwards)["errors"][0]["field"] == "body.end"
    naive = call("POST", f"{BASE}/replay", body={"start": "2026-11-22T09:00:00", "end": end})
    assert naive["statusCode"] == 422
    failed = call("POST", f"{BASE}/resend-failed")
    assert failed["statusCode"] == 202 and body_of(failed) == {"deliveries": 0, "next_start": None, "more": False}
    tested = call("POST", f"{BASE}/test")
    assert tested["statusCode"] == 202 and body_of(tested)["event_type"] == "webhook.test"
    assert json.loads(json.dumps(queue.sent[-1][0]))["event_id"] == body_of(tested)["event_id"]


def test_a_disabled_endpoint_is_not_replayed_to(call: Call, fake_endpoints: FakeEndpoints) -> None:
    fake_endpoints.items[EP]["enabled"] = False
    answer = call("POST", f"{BASE}/resend-failed")
    assert answer["statusCode"] == 409 and "enable it first" in body_of(answer)["detail"]
