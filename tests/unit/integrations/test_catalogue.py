"""The event catalogue: every change the issue names has a type `<resource>.<change>`, versioned, described, and
its data is an answer model of the resource as the API answers it (never a copy); the consumer's queue receives
exactly the entities whose changes mean events."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from common.integrations import catalogue, change_events
from common.platform import change_fanout
from common.platform.answers import Answer

from infra import manifest
from tests.support import core_modules


@pytest.fixture(autouse=True)
def aws() -> Iterator[dict[str, Any]]:
    """Nothing here touches AWS (overrides the unit suite's)."""
    yield {}


CATALOGUE = {
    "lead.received": "Lead",
    "lead.claimed": "Lead",
    "lead.requeued": "Lead",
    "lead.converted": "Lead",
    "lead.invalidated": "Lead",
    "lead.returned": "Lead",
    "lead.sold": "Lead",
    "customer.created": "StaffCustomer",
    "customer.received": "StaffCustomer",
    "customer.sold": "StaffCustomer",
    "partner.added": "Partner",
    "partner.status_changed": "Partner",
    "partner.removed": "Partner",
    "programme.joined": "Partner",
    "programme.invited": "Invitation",
    "programme.registered": "Partner",
    "deal.created": "Deal",
    "deal.stage_changed": "Deal",
    "deal.shared": "Deal",
    "commission.paid": "LedgerEntry",
    "commission.reversed": "LedgerEntry",
    "wallet.corrected": "LedgerEntry",
    "payout.requested": "StaffPayoutRequest",
    "payout.paid": "StaffPayoutRequest",
    "payout.rejected": "StaffPayoutRequest",
    "team_customer.assigned": "TeamCustomer",
    "team_customer.status_changed": "TeamCustomer",
    "team_customer.overdue": "TeamCustomer",
    "team_customer.removal_requested": "RemovalRequest",
    "team_customer.removed": "RemovalRequest",
    "referral_request.created": "ReferralRequest",
    "referral_request.offered": "ReferralRequest",
    "referral_request.accepted": "ReferralRequest",
    "referral_request.expired": "ReferralRequest",
    "team.standing_changed": "Team",
}


def test_every_change_the_issue_names_has_its_type_and_model() -> None:
    assert {name: t.model.__name__ for name, t in catalogue.EVENT_TYPES.items()} == CATALOGUE


def test_types_are_named_resource_dot_change_versioned_and_described() -> None:
    for name, event_type in catalogue.EVENT_TYPES.items():
        assert event_type.name == name and re.fullmatch(r"[a-z]+(_[a-z]+)*\.[a-z]+(_[a-z]+)*", name), name
        assert isinstance(event_type.version, int) and event_type.version >= 1
        assert event_type.resource == name.split(".")[0]
        assert len(event_type.description) > 20 and event_type.description.endswith("."), name


def test_the_data_is_an_answer_model_of_the_domain_never_a_copy() -> None:
    answers = {
        value
        for module in core_modules()
        if not module.__name__.startswith("common.integrations.")
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, Answer) and value.__module__ == module.__name__
    }
    for event_type in catalogue.EVENT_TYPES.values():
        assert event_type.model in answers, event_type.name


def test_the_consumer_receives_the_entities_that_have_events_and_no_other() -> None:
    filters = change_fanout.CONSUMER_FILTERS[change_fanout.INTEGRATIONS_EVENTS]
    assert set(change_fanout.entities_wanted({"IntegrationsEvents": filters})) == set(change_events.ENTITIES)
    assert manifest.INTEGRATIONS_EVENTS.change_filters == filters
    assert manifest.INTEGRATIONS_EVENTS.kind == "queue"


@pytest.mark.parametrize(
    ("name", "new", "wanted"),
    [
        ("INSERT", {"entity": "lead"}, True),
        ("MODIFY", {"entity": "lead"}, True),
        ("MODIFY", {"entity": "team_customer"}, True),
        ("INSERT", {"entity": "customer"}, True),
        ("MODIFY", {"entity": "customer"}, False),
        ("INSERT", {"entity": "ledger_entry", "kind": "commission"}, True),
        ("INSERT", {"entity": "ledger_entry", "kind": "correction"}, True),
        ("INSERT", {"entity": "ledger_entry", "kind": "payout"}, False),
        ("INSERT", {"entity": "wallet"}, False),
        ("MODIFY", {"entity": "notice"}, False),
    ],
)
def test_the_filter_lets_through_what_may_be_an_event(name: str, new: dict[str, str], wanted: bool) -> None:
    record = {"eventName": name, "dynamodb": {"NewImage": {k: {"S": v} for k, v in new.items()}}}
    assert (change_fanout.INTEGRATIONS_EVENTS in change_fanout.consumers_of(record)) is wanted
