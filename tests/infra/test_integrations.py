"""The integrations side: which routes reach IntegrationsApi, and what of the table it may touch beyond the
exact action lists of test_iam."""

from __future__ import annotations

import pytest

from infra import manifest
from local.routing import match_route
from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra


@pytest.mark.parametrize(
    ("method", "path", "function"),
    [
        ("POST", "/orgs/o1/webhooks", manifest.INTEGRATIONS_API),
        ("GET", "/orgs/o1/webhooks", manifest.INTEGRATIONS_API),
        ("PATCH", "/orgs/o1/webhooks/e1", manifest.INTEGRATIONS_API),
        ("POST", "/orgs/o1/webhooks/e1/rotate-secret", manifest.INTEGRATIONS_API),
        ("GET", "/orgs/o1/webhooks/e1/deliveries", manifest.INTEGRATIONS_API),
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


def test_the_api_reads_and_writes_the_table_only(dev: Synth) -> None:
    (table_id, _) = dev.only("AWS::DynamoDB::Table")
    table_arn = {"Fn::GetAtt": [table_id, "Arn"]}

    for statement in dev.policy_statements(manifest.INTEGRATIONS_API.name):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if any(action.startswith("dynamodb:") for action in actions):
            assert statement["Resource"] == table_arn, statement
