"""The integrations side: which routes reach IntegrationsApi, and what of the table and the delivery queue it
and the events consumer may touch beyond the exact action lists of test_iam."""

from __future__ import annotations

from typing import Any

import pytest
from common.integrations.deliveries import FAILED_INDEX

from infra import manifest
from local.routing import match_route
from tests.infra.conftest import Synth
from tests.infra.test_iam import as_list, table_resources
from tests.infra.test_webhook_delivery import delivery_queue

pytestmark = pytest.mark.infra


@pytest.mark.parametrize(
    ("method", "path", "function"),
    [
        ("POST", "/orgs/o1/webhooks", manifest.INTEGRATIONS_API),
        ("GET", "/orgs/o1/webhooks", manifest.INTEGRATIONS_API),
        ("PATCH", "/orgs/o1/webhooks/e1", manifest.INTEGRATIONS_API),
        ("POST", "/orgs/o1/webhooks/e1/rotate-secret", manifest.INTEGRATIONS_API),
        ("GET", "/orgs/o1/webhooks/e1/deliveries", manifest.INTEGRATIONS_API),
        ("POST", "/orgs/o1/webhooks/e1/deliveries/d1/resend", manifest.INTEGRATIONS_API),
        ("POST", "/orgs/o1/webhooks/e1/replay", manifest.INTEGRATIONS_API),
        ("POST", "/orgs/o1/webhooks/e1/test", manifest.INTEGRATIONS_API),
        # Everything else under an organisation stays where it was.
        ("GET", "/orgs/o1/webhook-settings", manifest.LEADS_API),
        ("GET", "/orgs/o1", manifest.LEADS_API),
    ],
)
def test_webhook_routes_reach_the_integrations_function_behind_the_token_authorizer(
    dev: Synth, method: str, path: str, function: manifest.Function
) -> None:
    match = match_route(manifest.ROUTES, method, path)

    assert match is not None
    assert match.route.function == function.name and match.route.auth == "token"
    assert dev.route_function(match.route_key) == dev.function(function.name)[0]


def test_the_api_touches_the_table_the_failed_deliveries_index_and_the_delivery_queue_only(dev: Synth) -> None:
    (table_id, _) = dev.only("AWS::DynamoDB::Table")
    table_arn = {"Fn::GetAtt": [table_id, "Arn"]}
    failed_index = {"Fn::Join": ["", [table_arn, f"/index/{FAILED_INDEX}"]]}
    queue_id, _, _ = delivery_queue(dev)

    resources = table_resources(dev, manifest.INTEGRATIONS_API.name)
    # Only queries reach an index, and only the failed deliveries' (resend what failed).
    assert resources.pop("dynamodb:Query") == {str(table_arn), str(failed_index)}
    assert resources and all(r == {str(table_arn)} for r in resources.values())
    # Resends, replays and test events go to the delivery queue, and to nothing else.
    assert queue_sends(dev, manifest.INTEGRATIONS_API.name) == [{"Fn::GetAtt": [queue_id, "Arn"]}]


def test_the_events_consumer_fans_out_with_the_table_and_the_delivery_queue_only(dev: Synth) -> None:
    (table_id, _) = dev.only("AWS::DynamoDB::Table")
    table_arn = str({"Fn::GetAtt": [table_id, "Arn"]})
    queue_id, _, _ = delivery_queue(dev)

    # The subscribers are the organisation's endpoints (one partition: no index); each delivery is put once
    # and read back when it existed.
    assert table_resources(dev, manifest.INTEGRATIONS_EVENTS.name) == {
        action: {table_arn}
        for action in ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:Query")
    }
    assert queue_sends(dev, manifest.INTEGRATIONS_EVENTS.name) == [{"Fn::GetAtt": [queue_id, "Arn"]}]
    variables = dev.function(manifest.INTEGRATIONS_EVENTS.name)[1]["Properties"]["Environment"]["Variables"]
    assert variables["WEBHOOK_QUEUE_URL"] == {"Ref": queue_id}


def queue_sends(synth: Synth, function_name: str) -> list[Any]:
    """The resources of the function's statements that send to a queue (its own queue's reading aside)."""
    return [
        statement["Resource"]
        for statement in synth.policy_statements(function_name)
        if "sqs:SendMessage" in as_list(statement["Action"])
    ]
