"""The payouts side: which routes reach PayoutsApi, which stream records reach PayoutsEvents (the table
stream's fourth consumer), and the permissions of both beyond the exact action lists of test_iam."""

from __future__ import annotations

import json
from typing import Any

import pytest
from common.platform import change_fanout, stream_filters

from infra import manifest
from local.routing import match_route
from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra


@pytest.mark.parametrize(
    ("method", "path", "function"),
    [
        ("POST", "/orgs/o1/commission-plan/versions", manifest.PAYOUTS_API),
        ("GET", "/orgs/o1/wallets/p1/entries", manifest.PAYOUTS_API),
        ("GET", "/orgs/o1/ledger/export", manifest.PAYOUTS_API),
        ("POST", "/orgs/o1/payout-requests/r1/pay", manifest.PAYOUTS_API),
        ("GET", "/orgs/o1/deals/d1/commissions", manifest.PAYOUTS_API),
        ("GET", "/orgs/o1/deals/d1/commission-preview", manifest.PAYOUTS_API),
        ("GET", "/orgs/o1/portal/wallet", manifest.PAYOUTS_API),
        ("POST", "/orgs/o1/portal/payout-requests", manifest.PAYOUTS_API),
        # The partners function keeps the rest of the deals and the portal, and the stage settings.
        ("GET", "/orgs/o1/deals/d1", manifest.PARTNERS_API),
        ("POST", "/orgs/o1/deals/d1/commissions", manifest.PARTNERS_API),
        ("GET", "/orgs/o1/portal/deals", manifest.PARTNERS_API),
        ("PUT", "/orgs/o1/workflows/w1/stages/s1/commission", manifest.PARTNERS_API),
    ],
)
def test_money_routes_reach_the_payouts_function_behind_the_token_authorizer(
    dev: Synth, method: str, path: str, function: manifest.Function
) -> None:
    # The route API Gateway picks (the most specific) is deployed and integrates with that function.
    match = match_route(manifest.ROUTES, method, path)

    assert match is not None
    assert match.route.function == function.name and match.route.auth == "token"
    assert dev.route_function(match.route_key) == dev.function(function.name)[0]


def mapping_patterns(synth: Synth) -> list[dict[str, Any]]:
    """What reaches PayoutsEvents: the stream mapping's coarse filter, then the dispatcher's routing."""
    mapping = synth.mapping_of(manifest.STREAM_DISPATCHER.name)
    return [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]


def record(event: str, **image: str) -> dict[str, Any]:
    return {"eventName": event, "dynamodb": {"NewImage": {k: {"S": v} for k, v in image.items()}}}


@pytest.mark.parametrize(
    ("change", "delivered"),
    [
        (record("MODIFY", entity="deal", stage_commission="compute"), True),
        (record("MODIFY", entity="deal", stage_commission="reverse"), True),
        (record("MODIFY", entity="deal", stage_commission="none"), False),
        (record("MODIFY", entity="deal"), False),  # a deal of a workflow older than the setting
        (record("INSERT", entity="deal", stage_commission="compute"), False),  # creating a deal is no change
        (record("MODIFY", entity="payout_request", status="paid"), True),
        (record("MODIFY", entity="payout_request", status="rejected"), True),
        (record("INSERT", entity="payout_request", status="pending"), False),
        (record("INSERT", entity="ledger_entry"), False),
        (record("MODIFY", entity="wallet"), False),
        ({"eventName": "REMOVE", "dynamodb": {"OldImage": {"entity": {"S": "deal"}}}}, False),
    ],
)
def test_the_stream_mapping_delivers_commission_stage_moves_and_settled_requests_only(
    dev: Synth, change: dict[str, Any], delivered: bool
) -> None:
    # The stream mapping's pattern as deployed, then the dispatcher's routing, both applied as Lambda
    # applies filters (the matcher the dispatcher and the local stream poller share).
    reaches_dispatcher = stream_filters.matches_any(mapping_patterns(dev), change)
    routed = manifest.PAYOUTS_EVENTS.name in change_fanout.consumers_of(change)
    assert (reaches_dispatcher and routed) is delivered


def test_payouts_events_dead_letters_are_an_output(dev: Synth) -> None:
    assert "PayoutsEventsDeadLetterQueueUrl" in dev.template["Outputs"]
    # verify-ledger against a deployed stage is given the table's name.
    assert dev.template["Outputs"]["TableName"]["Value"] == {"Ref": dev.only("AWS::DynamoDB::Table")[0]}
