"""Least privilege: a role per function, exact actions, named resources; the two wildcards (a key prefix of
the files bucket, the account's SES identities) are the acknowledged ones."""

from __future__ import annotations

from typing import Any

import pytest

from infra import constants, manifest
from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra

# Actions without resource-level permissions: the only ones allowed on "*".
ACTIONS_WITHOUT_RESOURCES = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "dynamodb:ListStreams"}
OBSERVABILITY = {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}
STREAM_MAPPING = {
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
    "sqs:SendMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
}
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
    manifest.PARTNERS_API.name: OBSERVABILITY
    | {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",  # ConditionCheck items of transactions
        "dynamodb:Query",
        "cognito-idp:AdminCreateUser",
        "cognito-idp:AdminGetUser",
        "cognito-idp:AdminSetUserPassword",
        "cognito-idp:AdminUpdateUserAttributes",
        "s3:PutObject",
        "s3:GetObject",
    },
    manifest.PARTNERS_EVENTS.name: OBSERVABILITY
    | STREAM_MAPPING
    | {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "ses:SendEmail",
    },
    manifest.STATUS_SWEEP.name: OBSERVABILITY | {"dynamodb:Query", "dynamodb:UpdateItem"},
    # It verifies tokens against the pool's public keys (fetched over HTTPS): no AWS permissions.
    manifest.TOKEN_AUTHORIZER.name: OBSERVABILITY,
}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def actions_of(statements: list[dict[str, Any]]) -> set[str]:
    return {action for statement in statements for action in as_list(statement["Action"])}


def test_every_function_is_listed() -> None:
    assert EXPECTED_ACTIONS.keys() == {function.name for function in manifest.FUNCTIONS}


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


def acknowledged_wildcard(actions: list[str], resource: Any) -> bool:
    """The wildcards test_checks lists as acknowledged: objects under the files prefix, SES identities."""
    parts = literal_parts(resource)
    if set(actions) <= {"s3:PutObject", "s3:GetObject"}:
        return parts == [f"/{constants.FILES_KEY_PREFIX}*"]
    if actions == ["ses:SendEmail"]:
        return parts[-1] == ":identity/*" and all("*" not in part for part in parts[:-1])
    return False


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
                elif not acknowledged_wildcard(actions, resource):
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

    for name in (
        manifest.LEADS_API.name,
        manifest.LEADS_EVENTS.name,
        manifest.PARTNERS_API.name,
        manifest.PARTNERS_EVENTS.name,
    ):
        for statement in dev.policy_statements(name):
            actions = {a for a in as_list(statement["Action"]) if a.startswith("dynamodb:")}
            actions.discard("dynamodb:ListStreams")  # checked with the other resource-less actions
            if not actions:
                continue
            if actions <= stream_read:
                assert statement["Resource"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
            elif statement["Resource"] != table_arn:
                # Only queries reach the indexes, and all of them for the API functions.
                assert actions == {"dynamodb:Query"}, statement
                assert statement["Resource"] == [table_arn, *index_arns]


def test_cognito_and_ses_actions_are_on_the_pool_and_the_sender_identity(dev: Synth) -> None:
    (pool_id, _) = dev.only("AWS::Cognito::UserPool")
    (identity_id, _) = dev.only("AWS::SES::EmailIdentity")

    for statement in dev.policy_statements(manifest.LEADS_API.name):
        if any(action.startswith("cognito-idp:") for action in as_list(statement["Action"])):
            assert statement["Resource"] == {"Fn::GetAtt": [pool_id, "Arn"]}
    (send_email,) = [s for s in dev.policy_statements(manifest.LEADS_EVENTS.name) if s["Action"] == "ses:SendEmail"]
    assert {"Ref": identity_id} in send_email["Resource"]["Fn::Join"][1]


def test_partners_events_queries_the_table_but_no_index(dev: Synth) -> None:
    # It finds a partner's nodes in the partner's own partition.
    (table_id, _) = dev.only("AWS::DynamoDB::Table")
    queries = [
        s for s in dev.policy_statements(manifest.PARTNERS_EVENTS.name) if "dynamodb:Query" in as_list(s["Action"])
    ]

    assert [s["Resource"] for s in queries] == [{"Fn::GetAtt": [table_id, "Arn"]}]


def test_status_sweep_queries_the_lapse_index_only_and_updates_items(dev: Synth) -> None:
    (table_id, _) = dev.only("AWS::DynamoDB::Table")
    table_arn = {"Fn::GetAtt": [table_id, "Arn"]}
    table_statements = {
        tuple(as_list(s["Action"])): s["Resource"]
        for s in dev.policy_statements(manifest.STATUS_SWEEP.name)
        if any(a.startswith("dynamodb:") for a in as_list(s["Action"]))
    }

    assert table_statements == {
        ("dynamodb:Query",): {"Fn::Join": ["", [table_arn, "/index/gsi3"]]},
        ("dynamodb:UpdateItem",): table_arn,
    }


def test_partners_api_touches_the_pool_and_files_under_the_prefix_only(dev: Synth) -> None:
    (pool_id, _) = dev.only("AWS::Cognito::UserPool")
    (bucket_id, _) = dev.only("AWS::S3::Bucket")
    statements = dev.policy_statements(manifest.PARTNERS_API.name)
    (cognito,) = [s for s in statements if as_list(s["Action"])[0].startswith("cognito-idp:")]
    (files,) = [s for s in statements if as_list(s["Action"])[0].startswith("s3:")]

    assert cognito["Resource"] == {"Fn::GetAtt": [pool_id, "Arn"]}
    assert files["Resource"] == {
        "Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, f"/{constants.FILES_KEY_PREFIX}*"]]
    }
    assert not any(a.startswith("ses:") for s in statements for a in as_list(s["Action"]))


def test_partners_events_sends_from_the_system_identity_and_verified_ones_only(dev: Synth) -> None:
    (identity_id, _) = dev.only("AWS::SES::EmailIdentity")
    statements = dev.policy_statements(manifest.PARTNERS_EVENTS.name)
    (send_email,) = [s for s in statements if s["Action"] == "ses:SendEmail"]
    system, any_verified = send_email["Resource"]
    region_and_account = ["arn:", {"Ref": "AWS::Partition"}, ":ses:", {"Ref": "AWS::Region"}, ":"]

    assert system["Fn::Join"][1] == [*region_and_account, {"Ref": "AWS::AccountId"}, ":identity/", {"Ref": identity_id}]
    assert any_verified["Fn::Join"][1] == [*region_and_account, {"Ref": "AWS::AccountId"}, ":identity/*"]
    assert not any(a.startswith(("cognito-idp:", "s3:")) for s in statements for a in as_list(s["Action"]))


def test_schedule_role_may_invoke_the_sweep_only(dev: Synth) -> None:
    (_, schedule) = dev.only("AWS::Scheduler::Schedule")
    (function_id, _) = dev.function(manifest.STATUS_SWEEP.name)
    role_id = schedule["Properties"]["Target"]["RoleArn"]["Fn::GetAtt"][0]
    role = dev.template["Resources"][role_id]["Properties"]
    statements = [
        statement
        for policy in dev.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]

    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert statements == [
        {"Action": "lambda:InvokeFunction", "Effect": "Allow", "Resource": {"Fn::GetAtt": [function_id, "Arn"]}}
    ]
