"""Webhook endpoints: the URLs an organisation's other systems receive its events at, each with the event types
it subscribes to (or all of them), whether it is enabled, and the secret its deliveries are signed with.

    endpoint  ORG#<org>#WEBHOOKS / ENDPOINT#<endpoint>   url, description, event_types, enabled, the secrets,
                                                         health (failing_since) and why it is disabled
    counter   ORG#<org>#WEBHOOKS / ENDPOINT_COUNT        endpoint_count: the limit's count, changed in the
                                                         transaction that creates or deletes an endpoint

An organisation has at most MAX_ENDPOINTS_PER_ORG endpoints: the count and the endpoint are written in one
transaction whose condition is the count, so racing creations cannot pass the limit. The signing secret
(Standard Webhooks: `whsec_` and base64 of 24 random bytes, common.integrations.signing) is answered when the
endpoint is created and when it is rotated (common.integrations.endpoint_models has the answers), never
otherwise; a rotation keeps the replaced secret valid for PREVIOUS_SECRET_VALIDITY, and deliveries meanwhile
are signed with both (`signing_secrets`). Secrets live on the item, encrypted at rest by the table's key, and
never reach a log, a stream consumer or an answer other than those two.

An endpoint every delivery of which has failed for DISABLE_AFTER_FAILING is disabled (`record_health`, called
by the delivery engine after each attempt); enabling it again starts its health afresh.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from common.integrations import signing
from common.integrations.endpoint_counts import COUNTER_ENTITY, counter_key, webhooks_partition
from common.integrations.endpoint_models import (
    ALL_EVENTS,
    DISABLE_AFTER_FAILING,
    DisabledReason,
    NewWebhookEndpoint,
    WebhookEndpointPatch,
)
from common.platform import clock, db, ids, listings, urls
from common.platform.errors import Conflict, FieldError, InvalidInput, NotFound, invalid

ENTITY = "webhook_endpoint"
# Each event is delivered to every subscribed endpoint: the limit bounds one event's fan-out (20 deliveries,
# two SendMessageBatch calls), the subscriber query (one page) and what an admin has to keep track of.
MAX_ENDPOINTS_PER_ORG = 20
# Sent to one endpoint on request (the delivery log's test), never subscribed to.
TEST_EVENT_TYPE = "webhook.test"
PREVIOUS_SECRET_VALIDITY = timedelta(hours=24)
SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class HealthChange:
    """What a delivery's outcome did to its endpoint: `disabled_now` is true for exactly one caller, the one
    whose failure disabled it (it tells the organisation's admins); `endpoint` is the item after the change
    (None when nothing changed, or the endpoint is gone)."""

    disabled_now: bool
    endpoint: db.Item | None = None


def endpoint_key(org_id: str, endpoint_id: str) -> db.Key:
    return {"pk": webhooks_partition(org_id), "sk": f"ENDPOINT#{endpoint_id}"}


def _not_found(endpoint_id: str) -> NotFound:
    return NotFound(f"webhook endpoint {endpoint_id} not found")


def _catalogued_types() -> Collection[str]:
    # Imported when a request names types: the catalogue imports every domain's answer models, which the
    # delivery path (subscribers, secrets, health) has no use for.
    from common.integrations.catalogue import EVENT_TYPES

    return EVENT_TYPES


def check_event_types(event_types: Sequence[str], *, field: str = "body.event_types") -> list[str]:
    """The event types, each once, in the order given: catalogued types, or ALL_EVENTS alone (422 naming
    `field` otherwise)."""
    wanted = list(dict.fromkeys(event_types))
    if ALL_EVENTS in wanted:
        if len(wanted) > 1:
            raise invalid(field, f'"{ALL_EVENTS}" stands alone: it already includes every type')
        return wanted
    known = _catalogued_types()
    unknown = [t for t in wanted if t not in known or t == TEST_EVENT_TYPE]
    if unknown:
        raise invalid(
            field, f"unknown event types: {', '.join(unknown)} (the API document's webhooks section lists them)"
        )
    return wanted


def _too_many() -> InvalidInput:
    return invalid(
        "body.url",
        f"the organisation has {MAX_ENDPOINTS_PER_ORG} webhook endpoints, the most it may have: delete one first",
    )


def create_endpoint(
    org_id: str,
    new: NewWebhookEndpoint,
    author_id: str,
    *,
    policy: urls.OutboundPolicy | None = None,
    client: Any = None,
) -> db.Item:
    """A new endpoint with a new secret (the item holds it: answer it once, as WebhookEndpointWithSecret).
    The organisation's endpoint count goes up in the same transaction, conditioned on the limit."""
    url = urls.check_endpoint_url(new.url, policy or urls.OutboundPolicy.from_settings())
    event_types = check_event_types(new.event_types)
    endpoint_id, at = ids.new_id(), clock.now_iso()
    item: db.Item = {
        **endpoint_key(org_id, endpoint_id),
        "entity": ENTITY,
        "org_id": org_id,
        "endpoint_id": endpoint_id,
        "url": url,
        "description": new.description,
        "event_types": event_types,
        "enabled": new.enabled,
        "disabled_reason": None if new.enabled else DisabledReason.ADMIN.value,
        "disabled_at": None if new.enabled else at,
        "secret": signing.new_secret(),
        "secret_created_at": at,
        "created_at": at,
        "updated_at": at,
        "updated_by": author_id,
    }
    counted = db.tx_update(
        counter_key(org_id),
        expression="SET entity = :entity, org_id = :org ADD endpoint_count :one",
        condition="attribute_not_exists(endpoint_count) OR endpoint_count < :max",
        values={":entity": COUNTER_ENTITY, ":org": org_id, ":one": 1, ":max": MAX_ENDPOINTS_PER_ORG},
    )
    db.transact(
        [counted, db.tx_put(item, condition="attribute_not_exists(pk)")],
        on_cancel=lambda failed: _too_many() if failed[0] is not None else Conflict("endpoint id collision; retry"),
        client=client,
    )
    return {k: v for k, v in item.items() if v is not None}


def get_endpoint(org_id: str, endpoint_id: str, *, client: Any = None) -> db.Item:
    item = db.get(endpoint_key(org_id, endpoint_id), client=client)
    if item is None:
        raise _not_found(endpoint_id)
    return item


def list_endpoints(
    org_id: str, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[db.Item], str | None]:
    """The organisation's endpoints, oldest first."""
    return listings.query_prefix(webhooks_partition(org_id), "ENDPOINT#", cursor=cursor, limit=limit, client=client)


def update_endpoint(
    org_id: str,
    endpoint_id: str,
    patch: WebhookEndpointPatch,
    author_id: str,
    *,
    policy: urls.OutboundPolicy | None = None,
    client: Any = None,
) -> db.Item:
    changes = patch.model_dump(exclude_unset=True)
    cleared = sorted(field for field in ("url", "event_types") if field in changes and changes[field] is None)
    if cleared:
        message = "cannot be removed; send a value instead"
        raise InvalidInput(
            f"fields that cannot be cleared: {', '.join(cleared)}",
            errors=[FieldError(f"body.{field}", message) for field in cleared],
        )
    if "url" in changes:
        changes["url"] = urls.check_endpoint_url(changes["url"], policy or urls.OutboundPolicy.from_settings())
    if "event_types" in changes:
        changes["event_types"] = check_event_types(changes["event_types"])
    changes |= {"updated_at": clock.now_iso(), "updated_by": author_id}
    names = {f"#f{i}": field for i, field in enumerate(changes)}
    values = {f":v{i}": value for i, value in enumerate(changes.values()) if value is not None}
    to_set = [f"#f{i} = :v{i}" for i, value in enumerate(changes.values()) if value is not None]
    to_remove = [f"#f{i}" for i, value in enumerate(changes.values()) if value is None]
    expression = "SET " + ", ".join(to_set) + (" REMOVE " + ", ".join(to_remove) if to_remove else "")
    return db.update(
        endpoint_key(org_id, endpoint_id),
        expression=expression,
        condition="attribute_exists(pk)",
        names=names,
        values=values,
        on_conflict=_not_found(endpoint_id),
        client=client,
    )


def delete_endpoint(org_id: str, endpoint_id: str, *, client: Any = None) -> None:
    """Deleted with the count going down, in one transaction. Its deliveries stay in the log until they expire."""
    db.transact(
        [
            db.tx_delete(endpoint_key(org_id, endpoint_id), condition="attribute_exists(pk)"),
            db.tx_update(counter_key(org_id), expression="ADD endpoint_count :minus_one", values={":minus_one": -1}),
        ],
        on_cancel=lambda _: _not_found(endpoint_id),
        client=client,
    )


def rotate_secret(org_id: str, endpoint_id: str, author_id: str, *, client: Any = None) -> db.Item:
    """A new secret; the one it replaces stays valid beside it for PREVIOUS_SECRET_VALIDITY (an older previous
    secret ends now: rotate again only once the receivers have the new one)."""
    now = clock.now()
    return db.update(
        endpoint_key(org_id, endpoint_id),
        expression="SET previous_secret = secret, previous_secret_expires_at = :expires, secret = :secret, "
        "secret_created_at = :at, updated_at = :at, updated_by = :by",
        condition="attribute_exists(pk)",
        values={
            ":expires": clock.iso(now + PREVIOUS_SECRET_VALIDITY),
            ":secret": signing.new_secret(),
            ":at": clock.iso(now),
            ":by": author_id,
        },
        on_conflict=_not_found(endpoint_id),
        client=client,
    )


def signing_secrets(item: db.Item, now: datetime) -> list[str]:
    """The secrets a delivery at `now` is signed with: the current one, and the one the last rotation replaced
    while it is still valid."""
    found = [str(item["secret"])]
    previous, expires = item.get("previous_secret"), item.get("previous_secret_expires_at")
    if previous and expires and clock.iso(now) < str(expires):
        found.append(str(previous))
    return found


def enable_endpoint(org_id: str, endpoint_id: str, author_id: str, *, client: Any = None) -> db.Item:
    """Enabled, its health started afresh (a failure before it was disabled no longer counts)."""
    return db.update(
        endpoint_key(org_id, endpoint_id),
        expression="SET enabled = :true, updated_at = :at, updated_by = :by "
        "REMOVE disabled_reason, disabled_at, failing_since",
        condition="attribute_exists(pk)",
        values={":true": True, ":at": clock.now_iso(), ":by": author_id},
        on_conflict=_not_found(endpoint_id),
        client=client,
    )


def disable_endpoint(org_id: str, endpoint_id: str, author_id: str, *, client: Any = None) -> db.Item:
    """Disabled by an admin: no event is delivered to it until it is enabled again. Disabling a disabled
    endpoint changes nothing (its reason and time stay)."""
    at = clock.now_iso()
    return db.update(
        endpoint_key(org_id, endpoint_id),
        expression="SET enabled = :false, disabled_reason = if_not_exists(disabled_reason, :admin), "
        "disabled_at = if_not_exists(disabled_at, :at), updated_at = :at, updated_by = :by",
        condition="attribute_exists(pk)",
        values={":false": False, ":admin": DisabledReason.ADMIN.value, ":at": at, ":by": author_id},
        on_conflict=_not_found(endpoint_id),
        client=client,
    )


def subscribers(org_id: str, event_type: str, *, client: Any = None) -> list[db.Item]:
    """The organisation's enabled endpoints that subscribe to `event_type` (by name or with ALL_EVENTS): a
    consistent query of its webhooks partition (one page: at most MAX_ENDPOINTS_PER_ORG endpoints)."""
    found: list[db.Item] = []
    for page in listings.pages(
        key_condition="pk = :pk AND begins_with(sk, :prefix)",
        values={
            ":pk": webhooks_partition(org_id),
            ":prefix": "ENDPOINT#",
            ":true": True,
            ":type": event_type,
            ":all": ALL_EVENTS,
        },
        filter_expression="enabled = :true AND (contains(event_types, :type) OR contains(event_types, :all))",
        consistent=True,
        client=client,
    ):
        found += page
    return found


class _Unchanged(Conflict):
    """A health update whose condition did not hold: nothing to change (or the endpoint is gone)."""


def record_health(org_id: str, endpoint_id: str, succeeded: bool, at: str, *, client: Any = None) -> HealthChange:
    """Record a delivery attempt's outcome (made at `at`, clock.iso) on its endpoint's health.

    A success ends the failing period (unless a failure after it started a new one); nothing is written for a
    healthy endpoint (the delivery engine reports a success only when it read the endpoint failing). A failure
    starts the failing period if none is running, and when the period has lasted DISABLE_AFTER_FAILING the
    endpoint is disabled: by one conditional write, so exactly one caller learns that it did it
    (`disabled_now`) and tells the organisation's admins."""
    key = endpoint_key(org_id, endpoint_id)
    try:
        if succeeded:
            healed = db.update(
                key,
                expression="REMOVE failing_since",
                condition="failing_since <= :at",
                values={":at": at},
                on_conflict=_Unchanged("healthy"),
                client=client,
            )
            return HealthChange(False, healed)
        failing = db.update(
            key,
            expression="SET failing_since = if_not_exists(failing_since, :at)",
            condition="attribute_exists(pk)",
            values={":at": at},
            on_conflict=_Unchanged("gone"),
            client=client,
        )
        cutoff = clock.iso(datetime.fromisoformat(at) - DISABLE_AFTER_FAILING)
        if not failing.get("enabled") or str(failing["failing_since"]) > cutoff:
            return HealthChange(False, failing)
        disabled = db.update(
            key,
            expression="SET enabled = :false, disabled_reason = :failing, disabled_at = :at, updated_at = :at, "
            "updated_by = :system",
            condition="enabled = :true AND failing_since <= :cutoff",
            values={
                ":false": False,
                ":true": True,
                ":failing": DisabledReason.FAILING.value,
                ":at": at,
                ":cutoff": cutoff,
                ":system": SYSTEM_ACTOR,
            },
            on_conflict=_Unchanged("disabled already, or healed meanwhile"),
            client=client,
        )
    except _Unchanged:
        return HealthChange(False)
    return HealthChange(True, disabled)
