"""Webhook endpoints as the delivery engine reads them: an organisation's endpoints (one partition), the ones
subscribed to an event type, the secrets a delivery is signed with, and the endpoint's health, which disables
an endpoint whose every delivery has failed for HEALTH_WINDOW.

An endpoint item: `url`, `enabled`, `event_types` (a list, or null for every type), `secret`, and while a
rotation's 24 hours last `previous_secret` with `previous_secret_until`; `failing_since` while its deliveries
fail, `disabled_at` and `disabled_reason` once disabled.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from common.platform import clock, db, listings
from common.platform.errors import Conflict

ENTITY = "webhook_endpoint"
# An endpoint whose deliveries have all failed for this long is disabled and its organisation's admins told.
HEALTH_WINDOW = timedelta(days=5)
DISABLED_FOR_FAILING = "failing"


def endpoints_partition(org_id: str) -> str:
    return f"ORG#{org_id}#WEBHOOKS"


def endpoint_key(org_id: str, endpoint_id: str) -> db.Key:
    return {"pk": endpoints_partition(org_id), "sk": f"ENDPOINT#{endpoint_id}"}


def get_item(org_id: str, endpoint_id: str, *, consistent: bool = False, client: Any = None) -> db.Item | None:
    return db.get(endpoint_key(org_id, endpoint_id), consistent=consistent, client=client)


def subscribers(org_id: str, event_type: str, *, client: Any = None) -> list[db.Item]:
    """The organisation's enabled endpoints that take `event_type` (listed, or all types)."""
    every = listings.all_with_prefix(endpoints_partition(org_id), "ENDPOINT#", client=client)
    return [e for e in every if e.get("enabled") and (e.get("event_types") is None or event_type in e["event_types"])]


def signing_secrets(item: db.Item, now: datetime) -> list[str]:
    """The current secret, and the previous one while its rotation's grace period lasts."""
    secrets = [str(item["secret"])]
    if item.get("previous_secret") and str(item.get("previous_secret_until", "")) > clock.iso(now):
        secrets.append(str(item["previous_secret"]))
    return secrets


@dataclass(frozen=True)
class HealthChange:
    """What an attempt's outcome did to its endpoint: `disabled` when this failure disabled it (every delivery
    failing for HEALTH_WINDOW). Asked again with the same outcome and time, the answer is the same."""

    disabled: bool


class _NotFailingLongEnough(Conflict):
    pass


class _NotFailing(Conflict):
    pass


def record_health(org_id: str, endpoint_id: str, succeeded: bool, at: str, *, client: Any = None) -> HealthChange:
    key = endpoint_key(org_id, endpoint_id)
    if succeeded:
        # Only an endpoint that was failing is written to (a refused condition writes nothing).
        with contextlib.suppress(_NotFailing):
            db.update(
                key,
                expression="REMOVE failing_since",
                condition="attribute_exists(failing_since)",
                on_conflict=_NotFailing("not failing"),
                client=client,
            )
        return HealthChange(disabled=False)
    item = db.update(
        key,
        expression="SET failing_since = if_not_exists(failing_since, :at)",
        condition="attribute_exists(pk)",
        values={":at": at},
        on_conflict=Conflict("no such endpoint"),
        client=client,
    )
    if item.get("disabled_at") == at and item.get("disabled_reason") == DISABLED_FOR_FAILING:
        return HealthChange(disabled=True)  # this very failure disabled it (asked again)
    cutoff = clock.iso(datetime.fromisoformat(at.replace("Z", "+00:00")) - HEALTH_WINDOW)
    if not item.get("enabled") or str(item["failing_since"]) > cutoff:
        return HealthChange(disabled=False)
    try:
        db.update(
            key,
            expression="SET enabled = :off, disabled_at = :at, disabled_reason = :reason",
            condition="enabled = :on AND failing_since <= :cutoff",
            values={":off": False, ":on": True, ":at": at, ":reason": DISABLED_FOR_FAILING, ":cutoff": cutoff},
            on_conflict=_NotFailingLongEnough("recovered or disabled meanwhile"),
            client=client,
        )
    except _NotFailingLongEnough:
        return HealthChange(disabled=False)
    return HealthChange(disabled=True)
