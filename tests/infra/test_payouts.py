"""The payouts side: which routes reach PayoutsApi, which stream records reach PayoutsEvents (the table
stream's fourth consumer), and the permissions of both beyond the exact action lists of test_iam."""

from __future__ import annotations

import json
from typing import Any

import pytest
from common import stream_filters

from infra import manifest
from local.routing import match_route
from tests.infra.conftest import Synth
from tests.infra.test_iam import as_list, literal_parts

pytestmark = pytest.mark.infra


def function_of_route(synth: Synth, route_key: str) -> str:
    """The logical id of the function a deployed route integrates with."""
    (route,) = [
        r["Properties"]
        for r in synth.resources("AWS::ApiGatewayV2::Route").values()
        if r["Properties"]["RouteKey"] == route_key
    ]
    integration_id = route["Target"]["Fn::Join"][1][1]["Ref"]
    uri = synth.template["Resources"][integration_id]["Properties"]["IntegrationUri"]
    return str(uri["Fn::GetAtt"][0])


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
    assert function_of_route(dev, match.route_key) == dev.function(function.name)[0]


def mapping_patterns(synth: Synth) -> list[dict[str, Any]]:
    (function_id, _) = synth.function(manifest.PAYOUTS_EVENTS.name)
    (mapping,) = [
        m["Properties"]
        for m in synth.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
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
    # The patterns as deployed, applied the way Lambda applies them (the local stream poller's matcher).
    assert stream_filters.matches_any(mapping_patterns(dev), change) is delivered


def test_payouts_events_failures_are_an_output(dev: Synth) -> None:
    (function_id, _) = dev.function(manifest.PAYOUTS_EVENTS.name)
    (mapping,) = [
        m["Properties"]
        for m in dev.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    queue_id = mapping["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]

    assert dev.template["Outputs"]["PayoutsEventsFailureQueueUrl"]["Value"] == {"Ref": queue_id}
    # verify-ledger against a deployed stage is given the table's name.
    assert dev.template["Outputs"]["TableName"]["Value"] == {"Ref": dev.only("AWS::DynamoDB::Table")[0]}


def dynamodb_resources(synth: Synth, name: str) -> dict[str, list[str]]:
    """Each table action of the function's role -> the resources it is granted on (as JSON text)."""
    resources: dict[str, list[str]] = {}
    for statement in synth.policy_statements(name):
        for action in as_list(statement["Action"]):
            if action.startswith("dynamodb:") and action != "dynamodb:ListStreams":
                resources.setdefault(action, []).extend(json.dumps(r) for r in as_list(statement["Resource"]))
    return resources


def test_payouts_api_queries_the_table_and_the_two_listing_indexes_only(dev: Synth) -> None:
    (table_id, _) = dev.only("AWS::DynamoDB::Table")
    table_arn = {"Fn::GetAtt": [table_id, "Arn"]}
    indexes = [{"Fn::Join": ["", [table_arn, f"/index/{name}"]]} for name in ("gsi1", "gsi2")]
    resources = dynamodb_resources(dev, manifest.PAYOUTS_API.name)

    assert sorted(resources.pop("dynamodb:Query")) == sorted(json.dumps(r) for r in (table_arn, *indexes))
    assert all(found == [json.dumps(table_arn)] for found in resources.values()), resources
    actions = {a for s in dev.policy_statements(manifest.PAYOUTS_API.name) for a in as_list(s["Action"])}
    assert not any(a.startswith(("ses:", "cognito-idp:", "s3:", "ssm:")) for a in actions)
    assert "dynamodb:Scan" not in actions  # verify-ledger scans with the operator's credentials, not a function's


def test_payouts_events_writes_the_table_and_mails_from_the_system_sender_only(dev: Synth) -> None:
    (table_id, _) = dev.only("AWS::DynamoDB::Table")
    (identity_id, _) = dev.only("AWS::SES::EmailIdentity")
    statements = dev.policy_statements(manifest.PAYOUTS_EVENTS.name)
    resources = dynamodb_resources(dev, manifest.PAYOUTS_EVENTS.name)
    stream = json.dumps({"Fn::GetAtt": [table_id, "StreamArn"]})
    (send_email,) = [s for s in statements if s["Action"] == "ses:SendEmail"]

    for action in ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"):
        assert resources.pop(action) == [stream]
    assert "dynamodb:Query" not in resources and "dynamodb:Scan" not in resources
    assert all(found == [json.dumps({"Fn::GetAtt": [table_id, "Arn"]})] for found in resources.values())
    assert {"Ref": identity_id} in send_email["Resource"]["Fn::Join"][1]
    assert not any("*" in part for part in literal_parts(send_email["Resource"]))
    assert not any(a.startswith(("cognito-idp:", "s3:", "ssm:")) for s in statements for a in as_list(s["Action"]))
