"""Webhook endpoints in the table (moto): creation with its secret and the organisation's limit, listing,
changes, deletion, secret rotation, enabling and disabling, the subscribers of an event type and the
endpoint's health as deliveries report it."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from common.integrations import endpoint_counts, endpoints
from common.integrations.endpoint_models import (
    ALL_EVENTS,
    DisabledReason,
    NewWebhookEndpoint,
    WebhookEndpoint,
    WebhookEndpointPatch,
    WebhookEndpointWithSecret,
)
from common.integrations.endpoints import MAX_ENDPOINTS_PER_ORG
from common.platform import clock, db
from common.platform.errors import InvalidInput, NotFound
from pydantic import ValidationError

from tests.unit.conftest import FrozenClock

ORG, OTHER_ORG, ADMIN = "01J0RG0000000000000000000A", "01J0RG0000000000000000000B", "user-admin"
URL = "https://crm.example.com/hooks"


def new(url: str = URL, types: list[str] | None = None, **fields: Any) -> NewWebhookEndpoint:
    return NewWebhookEndpoint(url=url, event_types=types or ["lead.converted"], **fields)


def create(org_id: str = ORG, **fields: Any) -> dict[str, Any]:
    return endpoints.create_endpoint(org_id, new(**fields), ADMIN)


def count(org_id: str = ORG) -> int:
    counter = db.get(endpoint_counts.counter_key(org_id)) or {}
    return int(counter.get("endpoint_count", 0))


def refusal(error: pytest.ExceptionInfo[InvalidInput]) -> tuple[str, str]:
    (field_error,) = error.value.errors
    return field_error.field, field_error.message


# -- creating ----------------------------------------------------------------------------------------------


def test_a_new_endpoint_has_a_standard_webhooks_secret_shown_in_the_creation_answer_only() -> None:
    item = create(description="CRM sync", types=["lead.converted", "payout.paid", "lead.converted"])

    created = WebhookEndpointWithSecret.of(item)
    assert created.secret.startswith("whsec_")
    assert len(base64.b64decode(created.secret.removeprefix("whsec_"), validate=True)) == 24
    assert (created.url, created.description, created.enabled) == (URL, "CRM sync", True)
    assert created.event_types == ["lead.converted", "payout.paid"]  # each once, in the order given
    assert created.disabled_reason is None and created.failing_since is None
    assert created.secret_created_at == created.created_at == clock.now_iso()
    read = WebhookEndpoint.of(endpoints.get_endpoint(ORG, created.endpoint_id))
    assert "secret" not in read.model_dump() and "previous_secret" not in read.model_dump()
    assert read.model_dump() == WebhookEndpoint.of(item).model_dump()
    assert count() == 1


def test_every_endpoint_gets_its_own_secret() -> None:
    secrets = {create()["secret"] for _ in range(5)}
    assert len(secrets) == 5


def test_an_endpoint_created_disabled_says_an_admin_disabled_it() -> None:
    item = create(enabled=False)
    assert (item["enabled"], item["disabled_reason"], item["disabled_at"]) == (False, "admin", clock.now_iso())


def test_all_event_types_stands_alone() -> None:
    assert create(types=[ALL_EVENTS, ALL_EVENTS])["event_types"] == [ALL_EVENTS]
    with pytest.raises(InvalidInput) as refused:
        create(types=[ALL_EVENTS, "lead.converted"])
    assert refusal(refused) == ("body.event_types", '"all" stands alone: it already includes every type')


@pytest.mark.parametrize("types", [["lead.exploded"], ["lead.converted", "nothing.here"], ["webhook.test"]])
def test_event_types_come_from_the_catalogue(types: list[str]) -> None:
    with pytest.raises(InvalidInput) as refused:
        create(types=types)
    field, message = refusal(refused)
    assert field == "body.event_types"
    assert message.startswith("unknown event types: ") and types[-1] in message
    assert count() == 0


@pytest.mark.parametrize("types", [[], ["Lead.Converted"], ["lead"], ["lead.converted "], ["x" * 101]])
def test_event_types_are_names_of_the_catalogue_form(types: list[str]) -> None:
    with pytest.raises(ValidationError):
        new(types=types) if types else NewWebhookEndpoint(url=URL, event_types=[])


def test_a_description_is_at_most_500_characters_of_visible_text() -> None:
    assert new(description="d" * 500).description == "d" * 500
    for description in ("d" * 501, "a\u202eb"):
        with pytest.raises(ValidationError):
            new(description=description)


def test_a_refused_url_writes_nothing() -> None:
    with pytest.raises(InvalidInput) as refused:
        create(url="https://10.0.0.1/hooks")
    assert refusal(refused) == ("body.url", "is a private (non-public) address")
    assert count() == 0
    assert endpoints.list_endpoints(ORG) == ([], None)


def test_an_organisation_has_at_most_the_documented_number_of_endpoints() -> None:
    made = [create()["endpoint_id"] for _ in range(MAX_ENDPOINTS_PER_ORG)]

    with pytest.raises(InvalidInput) as refused:
        create()
    field, message = refusal(refused)
    assert field == "body.url"
    assert f"has {MAX_ENDPOINTS_PER_ORG} webhook endpoints, the most it may have" in message
    assert count() == MAX_ENDPOINTS_PER_ORG
    assert create(org_id=OTHER_ORG)["org_id"] == OTHER_ORG  # the limit is per organisation

    endpoints.delete_endpoint(ORG, made[0])
    assert count() == MAX_ENDPOINTS_PER_ORG - 1
    create()
    assert count() == MAX_ENDPOINTS_PER_ORG


def test_the_limit_is_decided_by_the_count_in_the_creating_transaction() -> None:
    # Another creation committed meanwhile (its count is in, whatever was read before): this one is refused.
    db.put(
        {
            **endpoint_counts.counter_key(ORG),
            "entity": endpoint_counts.COUNTER_ENTITY,
            "endpoint_count": MAX_ENDPOINTS_PER_ORG,
        }
    )
    with pytest.raises(InvalidInput):
        create()
    assert endpoints.list_endpoints(ORG) == ([], None)


# -- reading -----------------------------------------------------------------------------------------------


def test_listing_pages_the_organisations_endpoints_oldest_first(frozen_clock: FrozenClock) -> None:
    made = []
    for _ in range(3):
        made.append(create()["endpoint_id"])
        frozen_clock.advance(seconds=1)
    create(org_id=OTHER_ORG)

    first, cursor = endpoints.list_endpoints(ORG, limit=2)
    rest, last = endpoints.list_endpoints(ORG, cursor=cursor, limit=2)
    assert [i["endpoint_id"] for i in first + rest] == made
    assert cursor is not None and last is None


def test_another_organisations_endpoint_is_not_found() -> None:
    endpoint_id = create()["endpoint_id"]
    with pytest.raises(NotFound):
        endpoints.get_endpoint(OTHER_ORG, endpoint_id)


# -- changing ----------------------------------------------------------------------------------------------


def test_a_patch_changes_what_it_sends_and_checks_it(frozen_clock: FrozenClock) -> None:
    item = create(description="old")
    frozen_clock.advance(minutes=1)

    changed = endpoints.update_endpoint(
        ORG,
        item["endpoint_id"],
        WebhookEndpointPatch(url="https://erp.example.com/in", event_types=["deal.stage_changed"]),
        "user-other",
    )
    assert (changed["url"], changed["event_types"], changed["description"]) == (
        "https://erp.example.com/in",
        ["deal.stage_changed"],
        "old",
    )
    assert (changed["updated_at"], changed["updated_by"]) == (clock.now_iso(), "user-other")
    assert changed["secret"] == item["secret"]

    cleared = endpoints.update_endpoint(ORG, item["endpoint_id"], WebhookEndpointPatch(description=None), ADMIN)
    assert "description" not in cleared


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        (WebhookEndpointPatch(url="http://erp.example.com/in"), "body.url"),
        (WebhookEndpointPatch(url="https://user:pw@erp.example.com/in"), "body.url"),
        (WebhookEndpointPatch(event_types=["no.such"]), "body.event_types"),
        (WebhookEndpointPatch(url=None), "body.url"),
        (WebhookEndpointPatch(event_types=None), "body.event_types"),
    ],
)
def test_a_patch_is_refused_naming_the_field(patch: WebhookEndpointPatch, field: str) -> None:
    item = create()
    with pytest.raises(InvalidInput) as refused:
        endpoints.update_endpoint(ORG, item["endpoint_id"], patch, ADMIN)
    assert [e.field for e in refused.value.errors] == [field]
    assert endpoints.get_endpoint(ORG, item["endpoint_id"]) == item


def test_the_organisations_with_endpoints_are_read_in_one_batch_by_their_counts() -> None:
    others = ["org-never", "org-emptied", "org-two"]
    emptied = create("org-emptied")["endpoint_id"]
    endpoints.delete_endpoint("org-emptied", emptied)
    create("org-two")
    create("org-two", url="https://hooks.example.net/second")
    create(ORG)

    assert endpoint_counts.orgs_with_endpoints([ORG, *others]) == {ORG, "org-two"}
    assert endpoint_counts.orgs_with_endpoints([]) == set()
    assert [endpoint_counts.has_endpoints(org) for org in (ORG, *others)] == [True, False, False, True]


def test_changing_or_deleting_an_endpoint_that_is_not_there() -> None:
    endpoint_id = create(org_id=OTHER_ORG)["endpoint_id"]
    with pytest.raises(NotFound):
        endpoints.update_endpoint(ORG, endpoint_id, WebhookEndpointPatch(description="x"), ADMIN)
    with pytest.raises(NotFound):
        endpoints.delete_endpoint(ORG, endpoint_id)
    for command in (endpoints.rotate_secret, endpoints.enable_endpoint, endpoints.disable_endpoint):
        with pytest.raises(NotFound):
            command(ORG, endpoint_id, ADMIN)
    assert db.get(endpoints.endpoint_key(ORG, endpoint_id)) is None  # nothing made up by an update
    assert count(OTHER_ORG) == 1 and count(ORG) == 0


def test_deleting_twice() -> None:
    endpoint_id = create()["endpoint_id"]
    endpoints.delete_endpoint(ORG, endpoint_id)
    with pytest.raises(NotFound):
        endpoints.delete_endpoint(ORG, endpoint_id)
    assert count() == 0


# -- secrets -----------------------------------------------------------------------------------------------


def test_a_rotated_secret_signs_beside_the_new_one_for_24_hours(frozen_clock: FrozenClock) -> None:
    item = create()
    old = item["secret"]
    frozen_clock.advance(days=3)

    rotated = endpoints.rotate_secret(ORG, item["endpoint_id"], "user-rotator")
    assert rotated["secret"] != old and rotated["previous_secret"] == old
    assert rotated["secret_created_at"] == clock.now_iso()
    assert rotated["previous_secret_expires_at"] == clock.iso(clock.now() + timedelta(hours=24))
    assert WebhookEndpointWithSecret.of(rotated).secret == rotated["secret"]
    assert endpoints.signing_secrets(rotated, clock.now()) == [rotated["secret"], old]
    almost = clock.now() + timedelta(hours=23, minutes=59)
    assert endpoints.signing_secrets(rotated, almost) == [rotated["secret"], old]
    assert endpoints.signing_secrets(rotated, clock.now() + timedelta(hours=24)) == [rotated["secret"]]


def test_a_second_rotation_ends_the_oldest_secret() -> None:
    item = create()
    first = endpoints.rotate_secret(ORG, item["endpoint_id"], ADMIN)
    second = endpoints.rotate_secret(ORG, item["endpoint_id"], ADMIN)
    assert endpoints.signing_secrets(second, clock.now()) == [second["secret"], first["secret"]]


def test_an_endpoint_never_rotated_signs_with_its_secret() -> None:
    item = create()
    assert endpoints.signing_secrets(item, clock.now()) == [item["secret"]]


# -- enabled, disabled and subscribers ----------------------------------------------------------------------


def test_disabling_and_enabling(frozen_clock: FrozenClock) -> None:
    endpoint_id = create()["endpoint_id"]
    disabled = endpoints.disable_endpoint(ORG, endpoint_id, ADMIN)
    assert (disabled["enabled"], disabled["disabled_reason"], disabled["disabled_at"]) == (
        False,
        DisabledReason.ADMIN,
        clock.now_iso(),
    )
    frozen_clock.advance(hours=1)
    again = endpoints.disable_endpoint(ORG, endpoint_id, ADMIN)
    assert again["disabled_at"] == disabled["disabled_at"]

    endpoints.record_health(ORG, endpoint_id, False, clock.now_iso())
    enabled = endpoints.enable_endpoint(ORG, endpoint_id, ADMIN)
    assert enabled["enabled"] is True
    assert not {"disabled_reason", "disabled_at", "failing_since"} & enabled.keys()


def test_subscribers_are_the_enabled_endpoints_of_the_type_or_of_all() -> None:
    converted = create(types=["lead.converted"])["endpoint_id"]
    both = create(types=["payout.paid", "lead.converted"])["endpoint_id"]
    everything = create(types=[ALL_EVENTS])["endpoint_id"]
    create(types=["payout.paid"])
    endpoints.disable_endpoint(ORG, create(types=["lead.converted"])["endpoint_id"], ADMIN)
    create(org_id=OTHER_ORG, types=[ALL_EVENTS])

    found = endpoints.subscribers(ORG, "lead.converted")
    assert sorted(i["endpoint_id"] for i in found) == sorted([converted, both, everything])
    assert [i["endpoint_id"] for i in endpoints.subscribers(ORG, "deal.stage_changed")] == [everything]
    assert endpoints.subscribers("01J0RG000000000000000000ZZ", "lead.converted") == []


# -- health ------------------------------------------------------------------------------------------------


def at(frozen_clock: FrozenClock, **delta: float) -> str:
    frozen_clock.advance(**delta)
    return clock.now_iso()


def test_failing_deliveries_disable_the_endpoint_after_5_days_once(frozen_clock: FrozenClock) -> None:
    endpoint_id = create()["endpoint_id"]
    first = clock.now_iso()

    change = endpoints.record_health(ORG, endpoint_id, False, first)
    assert not change.disabled_now and change.endpoint and change.endpoint["failing_since"] == first
    assert not endpoints.record_health(ORG, endpoint_id, False, at(frozen_clock, days=4, hours=23)).disabled_now
    assert endpoints.get_endpoint(ORG, endpoint_id)["failing_since"] == first

    disabling = endpoints.record_health(ORG, endpoint_id, False, at(frozen_clock, hours=1))
    assert disabling.disabled_now and disabling.endpoint is not None
    assert (disabling.endpoint["enabled"], disabling.endpoint["disabled_reason"]) == (False, "failing")
    assert disabling.endpoint["updated_by"] == endpoints.SYSTEM_ACTOR
    # The next failure (another delivery in flight) finds it disabled: nobody is told twice.
    assert not endpoints.record_health(ORG, endpoint_id, False, at(frozen_clock, minutes=1)).disabled_now
    assert endpoints.subscribers(ORG, "lead.converted") == []


def test_a_success_ends_the_failing_period(frozen_clock: FrozenClock) -> None:
    endpoint_id = create()["endpoint_id"]
    endpoints.record_health(ORG, endpoint_id, False, clock.now_iso())
    healed = endpoints.record_health(ORG, endpoint_id, True, at(frozen_clock, days=4))
    assert not healed.disabled_now and healed.endpoint and "failing_since" not in healed.endpoint

    restarted = at(frozen_clock, hours=1)
    endpoints.record_health(ORG, endpoint_id, False, restarted)
    assert not endpoints.record_health(ORG, endpoint_id, False, at(frozen_clock, days=4, hours=23)).disabled_now
    assert endpoints.get_endpoint(ORG, endpoint_id)["failing_since"] == restarted


def test_a_success_older_than_the_failing_period_leaves_it(frozen_clock: FrozenClock) -> None:
    endpoint_id = create()["endpoint_id"]
    earlier = clock.now_iso()
    failed_at = at(frozen_clock, minutes=5)
    endpoints.record_health(ORG, endpoint_id, False, failed_at)
    assert endpoints.record_health(ORG, endpoint_id, True, earlier).endpoint is None
    assert endpoints.get_endpoint(ORG, endpoint_id)["failing_since"] == failed_at


def test_a_healthy_endpoint_is_not_written_on_success() -> None:
    item = create()
    assert endpoints.record_health(ORG, item["endpoint_id"], True, clock.now_iso()).endpoint is None
    assert endpoints.get_endpoint(ORG, item["endpoint_id"]) == item


def test_an_endpoint_disabled_by_an_admin_is_not_disabled_again(frozen_clock: FrozenClock) -> None:
    endpoint_id = create()["endpoint_id"]
    endpoints.record_health(ORG, endpoint_id, False, clock.now_iso())
    endpoints.disable_endpoint(ORG, endpoint_id, ADMIN)
    change = endpoints.record_health(ORG, endpoint_id, False, at(frozen_clock, days=6))
    assert not change.disabled_now
    assert endpoints.get_endpoint(ORG, endpoint_id)["disabled_reason"] == "admin"


def test_the_health_of_a_deleted_endpoint_changes_nothing() -> None:
    endpoint_id = create()["endpoint_id"]
    endpoints.delete_endpoint(ORG, endpoint_id)
    for succeeded in (False, True):
        assert endpoints.record_health(ORG, endpoint_id, succeeded, clock.now_iso()) == endpoints.HealthChange(False)
    assert db.get(endpoints.endpoint_key(ORG, endpoint_id)) is None
