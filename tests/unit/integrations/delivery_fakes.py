"""What the delivery tests share (fixtures, which a conftest or test module imports): the organisation's
endpoints as the endpoints module answers them (faked: the delivery engine only reads them through its
functions), the delivery queue (the messages sent, with their delays), the receiver the outbound engine would
reach (scripted answers, the requests it got) and events."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from unittest import mock

import boto3
import pytest
from common.integrations import delivery_queue, endpoints, events, outbound
from common.integrations.endpoint_models import ALL_EVENTS, DisabledReason
from common.integrations.endpoints import HealthChange
from common.integrations.events import Event
from common.integrations.outbound import Attempt, OutboundRequest
from common.platform import clock
from common.platform.errors import NotFound
from common.platform.settings import get_settings
from standardwebhooks.webhooks import Webhook

ORG = "01JQRG00000000000000000000"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OLD_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
HEALTH_DAYS = 5


@dataclass
class FakeEndpoints:
    """Endpoints by id, and every health report the deliveries made. An endpoint is disabled by the first
    failure reported HEALTH_DAYS after the first of an unbroken run of failures (as the endpoints module does);
    only that report learns it."""

    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    health: list[tuple[str, bool, str]] = field(default_factory=list)
    disable_after_days: float = HEALTH_DAYS

    def add(self, endpoint_id: str, *, types: list[str] | None = None, **more: Any) -> dict[str, Any]:
        item = {
            "endpoint_id": endpoint_id,
            "org_id": ORG,
            "url": f"https://hooks.example.test/{endpoint_id}",
            "enabled": True,
            "event_types": types or [ALL_EVENTS],
            "secrets": [SECRET],
            **more,
        }
        self.items[endpoint_id] = item
        return item

    def subscribers(self, org_id: str, event_type: str, **_: Any) -> list[dict[str, Any]]:
        wanted = {event_type, ALL_EVENTS}
        return [e for e in self.items.values() if e["enabled"] and wanted & set(e["event_types"])]

    def get_endpoint(self, org_id: str, endpoint_id: str, **_: Any) -> dict[str, Any]:
        if endpoint_id not in self.items:
            raise NotFound(f"webhook endpoint {endpoint_id} not found")
        return self.items[endpoint_id]

    def signing_secrets(self, item: dict[str, Any], now: datetime) -> list[str]:
        return list(item["secrets"])

    def record_health(self, org_id: str, endpoint_id: str, succeeded: bool, at: str, **_: Any) -> HealthChange:
        self.health.append((endpoint_id, succeeded, at))
        endpoint = self.items[endpoint_id]
        if succeeded:
            endpoint.pop("failing_since", None)
            return HealthChange(False)
        since = endpoint.setdefault("failing_since", at)
        days = (_time(at) - _time(since)).total_seconds() / 86400
        if endpoint["enabled"] and days >= self.disable_after_days:
            endpoint.update(enabled=False, disabled_at=at, disabled_reason=DisabledReason.FAILING.value)
            return HealthChange(True, endpoint)
        return HealthChange(False)


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class Receiver:
    """The far end: answers in order (the last repeats), the requests it got."""

    answers: list[int | str] = field(default_factory=lambda: [200])
    requests: list[OutboundRequest] = field(default_factory=list)
    during: Any = None  # called during a request (a race to provoke)

    def send(self, request: OutboundRequest, policy: Any, **_: Any) -> Attempt:
        self.requests.append(request)
        if self.during is not None:
            during, self.during = self.during, None
            during()
        answer = self.answers[min(len(self.requests), len(self.answers)) - 1]
        if isinstance(answer, str):
            return Attempt(at=clock.now_iso(), status_code=None, duration_ms=15000, excerpt=None, error=answer)
        return Attempt(at=clock.now_iso(), status_code=answer, duration_ms=42, excerpt="ok", error=None)


@dataclass
class Queue:
    """The messages sent, with their delays, and when each becomes visible (the functions' clock)."""

    sent: list[tuple[dict[str, Any], int]] = field(default_factory=list)
    visible_at: list[datetime] = field(default_factory=list)

    def send(self, messages: list[tuple[dict[str, Any], int]], **_: Any) -> int:
        self.sent += messages
        self.visible_at += [clock.now() + timedelta(seconds=delay) for _, delay in messages]
        return len(messages)

    def take(self) -> list[tuple[dict[str, Any], int]]:
        taken, self.sent, self.visible_at = self.sent, [], []
        return taken

    def next(self, until: datetime | None = None) -> tuple[dict[str, Any], datetime] | None:
        """The message that becomes visible first (by `until`, if given), taken off the queue."""
        if not self.sent:
            return None
        first = min(range(len(self.sent)), key=lambda n: self.visible_at[n])
        if until is not None and self.visible_at[first] > until:
            return None
        message, at = self.sent.pop(first)[0], self.visible_at.pop(first)
        return message, at


def verify(secret: str, body: str, headers: Mapping[str, str]) -> Any:
    """What a receiver using the Standard Webhooks library makes of a delivery, its clock the functions'."""
    with mock.patch("standardwebhooks.webhooks.datetime", wraps=datetime) as receiver_clock:
        receiver_clock.now.return_value = clock.now()
        return Webhook(secret).verify(body, dict(headers))


@pytest.fixture(autouse=True)
def webhook_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("WEBHOOK_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/unused")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def fake_endpoints(monkeypatch: pytest.MonkeyPatch) -> FakeEndpoints:
    fake = FakeEndpoints()
    for name in ("subscribers", "get_endpoint", "signing_secrets", "record_health"):
        monkeypatch.setattr(endpoints, name, getattr(fake, name))
    return fake


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Receiver:
    fake = Receiver()
    monkeypatch.setattr(outbound, "send", fake.send)
    return fake


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch) -> Queue:
    fake = Queue()
    monkeypatch.setattr(delivery_queue, "send", fake.send)
    return fake


@pytest.fixture
def sqs_queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real (moto) delivery queue, named in the settings."""
    url = boto3.client("sqs").create_queue(QueueName="webhook-deliveries")["QueueUrl"]
    monkeypatch.setenv("WEBHOOK_QUEUE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


_changes = itertools.count(1)


def an_event(event_type: str = "lead.converted", *, at: str | None = None) -> Event:
    event = Event(
        id=events.event_id(f"change-{next(_changes)}", event_type),
        type=event_type,
        version=1,
        org_id=ORG,
        occurred_at=at or clock.now_iso(),
        data={"lead_id": "01JLEAD0000000000000000000", "status": "converted"},
    )
    events.record(event)
    return event
