"""Least privilege: a role per function, exact actions, named resources."""

from __future__ import annotations

from typing import Any

import pytest

from infra import manifest
from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra

# Actions without resource-level permissions: the only ones allowed on "*".
ACTIONS_WITHOUT_RESOURCES = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "dynamodb:ListStreams"}
OBSERVABILITY = {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}
EXPECTED_ACTIONS = {
    manifest.LEADS_API.name: OBSERVABILITY
    | {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "cognito-idp:CreateUserPoolClient",
        "cognito-idp:DeleteUserPoolClient",
    },
    manifest.LEADS_EVENTS.name: OBSERVABILITY
    | {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "ses:SendEmail",
        # the stream mapping and its on-failure queue
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
        "dynamodb:ListStreams",
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    },
    # It verifies tokens against the pool's public keys (fetched over HTTPS): no AWS permissions.
    manifest.TOKEN_AUTHORIZER.name: OBSERVABILITY,
}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def actions_of(statements: list[dict[str, Any]]) -> set[str]:
    return {action for statement in statements for action in as_list(statement["Action"])}


def literal_parts(resource: Any) -> list[str]:
    """The literal text of a resource: a string, or the string parts of an Fn::Join."""
    if isinstance(resource, str):
        return [resource]
    if "Fn::Join" in resource:
        return [part for part in resource["Fn::Join"][1] if isinstance(part, str)]
    return []  # Ref / Fn::GetAtt of a resource in this stack


def test_every_function_has_its_own_role_without_managed_policies(dev: Synth) -> None:
    roles = [dev.function(f.name)[1]["Properties"]["Role"]["Fn::GetAtt"][0] for f in manifest.FUNCTIONS]

    assert len(set(roles)) == len(roles)
    for role in dev.resources("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]
        assert "Policies" not in role["Properties"]


def test_statements_name_actions_and_resources(dev: Synth) -> None:
    for policy in dev.resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = as_list(statement["Action"])
            assert statement["Effect"] == "Allow"
            assert "NotAction" not in statement and "NotResource" not in statement
            assert all("*" not in action for action in actions), statement
            for resource in as_list(statement["Resource"]):
                if resource == "*":
                    assert set(actions) <= ACTIONS_WITHOUT_RESOURCES, statement
                else:
                    assert all("*" not in part for part in literal_parts(resource)), statement


@pytest.mark.parametrize("name", EXPECTED_ACTIONS)
def test_function_gets_exactly_the_actions_it_needs(dev: Synth, name: str) -> None:
    assert actions_of(dev.policy_statements(name)) == EXPECTED_ACTIONS[name]


def test_leads_api_cannot_send_email_and_leads_events_cannot_touch_cognito(dev: Synth) -> None:
    api_actions = actions_of(dev.policy_statements(manifest.LEADS_API.name))
    events_actions = actions_of(dev.policy_statements(manifest.LEADS_EVENTS.name))

    assert not any(action.startswith("ses:") for action in api_actions)
    assert not any(action.startswith("cognito-idp:") for action in events_actions)


def test_table_actions_are_on_the_table_its_named_indexes_or_its_stream(dev: Synth) -> None:
    (table_id, _) = dev.only("AWS::DynamoDB::Table")
    table_arn = {"Fn::GetAtt": [table_id, "Arn"]}
    index_arns = [{"Fn::Join": ["", [table_arn, f"/index/{name}"]]} for name in ("gsi1", "gsi2", "gsi3")]
    stream_read = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}

    for name in (manifest.LEADS_API.name, manifest.LEADS_EVENTS.name):
        for statement in dev.policy_statements(name):
            actions = {a for a in as_list(statement["Action"]) if a.startswith("dynamodb:")}
            actions.discard("dynamodb:ListStreams")  # checked with the other resource-less actions
            if not actions:
                continue
            if actions <= stream_read:
                assert statement["Resource"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
            elif "dynamodb:Query" in actions:
                assert actions == {"dynamodb:Query"}
                assert statement["Resource"] == [table_arn, *index_arns]
            else:
                assert statement["Resource"] == table_arn, statement


def test_cognito_and_ses_actions_are_on_the_pool_and_the_sender_identity(dev: Synth) -> None:
    (pool_id, _) = dev.only("AWS::Cognito::UserPool")
    (identity_id, _) = dev.only("AWS::SES::EmailIdentity")

    for statement in dev.policy_statements(manifest.LEADS_API.name):
        if any(action.startswith("cognito-idp:") for action in as_list(statement["Action"])):
            assert statement["Resource"] == {"Fn::GetAtt": [pool_id, "Arn"]}
    (send_email,) = [s for s in dev.policy_statements(manifest.LEADS_EVENTS.name) if s["Action"] == "ses:SendEmail"]
    assert {"Ref": identity_id} in send_email["Resource"]["Fn::Join"][1]
