"""Least privilege: a role per function, exact actions, named resources; the one wildcard (a key prefix of
the files bucket) is the acknowledged one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from common.integrations import endpoint_counts
from common.orgs import sign_in

from infra import constants, manifest
from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra

# Actions without resource-level permissions: the only ones allowed on "*".
ACTIONS_WITHOUT_RESOURCES = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "dynamodb:ListStreams"}
OBSERVABILITY = {"logs:CreateLogStream", "logs:PutLogEvents", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}
# The stream dispatcher's mapping (and its on-failure queue); each consumer reads its own queue.
QUEUE_READING = {
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
}
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
    # The table stream's one reader: it sends each change to the consumers' queues (SendMessage only), and
    # reads which organisations have webhook endpoints (the events' consumer's gate).
    manifest.STREAM_DISPATCHER.name: OBSERVABILITY | STREAM_MAPPING | {"dynamodb:BatchGetItem"},
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
        # the sign-in routes: end a user's sessions, disable or delete their sign-in, read their MFA
        "cognito-idp:AdminUserGlobalSignOut",
        "cognito-idp:AdminDisableUser",
        "cognito-idp:AdminDeleteUser",
        "cognito-idp:AdminGetUser",
        # partner companies' receiver secrets, under the stage's path
        "ssm:PutParameter",
        "ssm:GetParameter",
        "ssm:DeleteParameter",
        # a sale post's resend, to the delivery queue
        "sqs:SendMessage",
    },
    manifest.LEADS_EVENTS.name: OBSERVABILITY
    | QUEUE_READING
    | {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "ses:SendEmail",
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
    | QUEUE_READING
    | {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",  # a copy of the account checks its version
        "dynamodb:Query",
        "ses:SendEmail",
    },
    manifest.REFERRALS_API.name: OBSERVABILITY
    | {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:Query",
    },
    manifest.REFERRALS_EVENTS.name: OBSERVABILITY
    | QUEUE_READING
    | {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "ssm:GetParameter",  # the Twilio auth token; Twilio itself is an HTTPS API, no IAM
    },
    manifest.SMS_WEBHOOK.name: OBSERVABILITY
    | {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:Query",
        "ssm:GetParameter",
    },
    # Plans, previews, wallets and payout requests; ConditionCheckItem for the partner check of a correction,
    # DeleteItem for the Idempotency-Key records of failed requests.
    manifest.PAYOUTS_API.name: OBSERVABILITY
    | {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:Query",
    },
    # The cascade (two BatchGetItem reads, one transaction of puts and updates) and the settled-request
    # e-mail (a notice claimed, released by DeleteItem when sending fails).
    manifest.PAYOUTS_EVENTS.name: OBSERVABILITY
    | QUEUE_READING
    | {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "ses:SendEmail",
    },
    # Records each event once (a conditional put, read back on a redelivery) and reads what its answer reads;
    # fans it out: the subscribers (a Query of the table), each delivery put once (read back when it existed),
    # and their messages to the delivery queue.
    manifest.INTEGRATIONS_EVENTS.name: OBSERVABILITY
    | QUEUE_READING
    | {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:Query", "sqs:SendMessage"},
    # Webhook endpoints: created and deleted in a transaction with the organisation's count (Put, Update,
    # Delete), changed by UpdateItem, listed by a Query of the table; DeleteItem also for Idempotency-Key records.
    # Deliveries: the log and a replay's events (Query), the failed ones (Query of gsi1), a resend's new round
    # (UpdateItem), a test event and its delivery (PutItem), each handed to the delivery queue.
    manifest.INTEGRATIONS_API.name: OBSERVABILITY
    | {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "sqs:SendMessage",
    },
    # The daily sweep reads what is due and hands it on to its work queue: it writes nothing, sends nothing.
    manifest.STATUS_SWEEP.name: OBSERVABILITY
    | {
        "dynamodb:Query",
        # its messages to the work queue; and a run that failed its retries goes to the failure queue
        # (Lambda's on-failure destination)
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
    },
    # Its work: the lapses and expiries, the teams' 7-day reminders and digests (texts and e-mails, one notice
    # per day), the teams' standards (a Query of each team's day counts and of the organisation's open customers).
    manifest.STATUS_SWEEP_WORK.name: OBSERVABILITY
    | QUEUE_READING
    | {
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "ssm:GetParameter",
        "ses:SendEmail",
    },
    # Every outbound delivery: the delivery, its endpoint's slots and its event read and written one item at a
    # time (a notice claimed and released for the admins' e-mail), the organisation's members queried for its
    # admins, their addresses from the pool; what is not due yet is sent on to its own queue.
    manifest.WEBHOOK_DELIVERY.name: OBSERVABILITY
    | QUEUE_READING
    | {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",
        "cognito-idp:AdminGetUser",
        "ses:SendEmail",
        "sqs:SendMessage",
        "ssm:GetParameter",  # the receivers' secrets of partner companies that buy from us
    },
    # It verifies tokens against the pool's public keys (fetched over HTTPS) and reads users' sign-in records.
    manifest.TOKEN_AUTHORIZER.name: OBSERVABILITY | {"dynamodb:GetItem"},
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
    for role_id in roles:
        role = dev.template["Resources"][role_id]
        assert "ManagedPolicyArns" not in role["Properties"]
        assert "Policies" not in role["Properties"]


def acknowledged_wildcard(actions: list[str], resource: Any) -> bool:
    """The wildcards test_checks lists as acknowledged: objects under the files prefix, parameters under the
    stage's company-secret path."""
    parts = literal_parts(resource)
    if set(actions) <= {"s3:PutObject", "s3:GetObject"}:
        return parts == [f"/{constants.FILES_KEY_PREFIX}*"]
    if set(actions) <= {"ssm:PutParameter", "ssm:GetParameter", "ssm:DeleteParameter"}:
        return parts[-1] == f":parameter{constants.company_secret_prefix('dev')}/*"
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


def test_the_authorizer_reads_sign_in_records_and_nothing_else_of_the_table(dev: Synth) -> None:
    (table_id, _) = dev.only("AWS::DynamoDB::Table")
    (read,) = [s for s in dev.policy_statements(manifest.TOKEN_AUTHORIZER.name) if s["Action"] == "dynamodb:GetItem"]

    assert read["Resource"] == {"Fn::GetAtt": [table_id, "Arn"]}
    assert read["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{sign_in.PARTITION_PREFIX}*"]}}
    assert sign_in.sign_in_key("some-sub")["pk"].startswith(sign_in.PARTITION_PREFIX)


def test_the_dispatcher_reads_the_webhook_endpoint_counts_and_nothing_else_of_the_table(dev: Synth) -> None:
    (table_id, _) = dev.only("AWS::DynamoDB::Table")
    statements = dev.policy_statements(manifest.STREAM_DISPATCHER.name)
    (read,) = [s for s in statements if s["Action"] == "dynamodb:BatchGetItem"]

    assert read["Resource"] == {"Fn::GetAtt": [table_id, "Arn"]}
    assert read["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["ORG#*#WEBHOOKS"]}}
    assert endpoint_counts.counter_key("some-org")["pk"] == "ORG#some-org#WEBHOOKS"


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
        manifest.REFERRALS_API.name,
        manifest.REFERRALS_EVENTS.name,
        manifest.SMS_WEBHOOK.name,
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


def ses_arn(kind: str, name: Any) -> dict[str, Any]:
    region_and_account = ["arn:", {"Ref": "AWS::Partition"}, ":ses:", {"Ref": "AWS::Region"}, ":"]
    return {"Fn::Join": ["", [*region_and_account, {"Ref": "AWS::AccountId"}, f":{kind}/", name]]}


def system_sender_arns(synth: Synth) -> list[dict[str, Any]]:
    """The stack's identity and its configuration set: SES v2 authorizes a send against both."""
    (identity_id, _) = synth.only("AWS::SES::EmailIdentity")
    (configuration_set_id, _) = synth.only("AWS::SES::ConfigurationSet")
    return [ses_arn("identity", {"Ref": identity_id}), ses_arn("configuration-set", {"Ref": configuration_set_id})]


def send_email_resources(synth: Synth, function_name: str) -> list[str]:
    (send_email,) = [s for s in synth.policy_statements(function_name) if s["Action"] == "ses:SendEmail"]
    return sorted(str(resource) for resource in as_list(send_email["Resource"]))


def test_cognito_and_ses_actions_are_on_the_pool_and_the_sender_identity(dev: Synth) -> None:
    (pool_id, _) = dev.only("AWS::Cognito::UserPool")

    for statement in dev.policy_statements(manifest.LEADS_API.name):
        if any(action.startswith("cognito-idp:") for action in as_list(statement["Action"])):
            assert statement["Resource"] == {"Fn::GetAtt": [pool_id, "Arn"]}
    assert send_email_resources(dev, manifest.LEADS_EVENTS.name) == sorted(map(str, system_sender_arns(dev)))


def test_partners_events_queries_the_table_but_no_index(dev: Synth) -> None:
    # It finds a partner's nodes in the partner's own partition.
    (table_id, _) = dev.only("AWS::DynamoDB::Table")
    queries = [
        s for s in dev.policy_statements(manifest.PARTNERS_EVENTS.name) if "dynamodb:Query" in as_list(s["Action"])
    ]

    assert [s["Resource"] for s in queries] == [{"Fn::GetAtt": [table_id, "Arn"]}]


def table_resources(synth: Synth, function_name: str) -> dict[str, set[str]]:
    """Each DynamoDB action of the function's role, with the resources it names."""
    resources: dict[str, set[str]] = {}
    for statement in synth.policy_statements(function_name):
        for action in as_list(statement["Action"]):
            if action.startswith("dynamodb:"):
                resources.setdefault(action, set()).update(str(r) for r in as_list(statement["Resource"]))
    return resources


def test_status_sweep_queries_the_table_and_the_due_and_team_indexes_only(dev: Synth) -> None:
    # The lapse index, the customers' due index and the expiring requests are all gsi3; the table holds the
    # organisations with teams (one partition); gsi1 their team listings (the standards job's pages of teams).
    # The sweep's work reads and writes items of the table, and queries a team's day counts (the table) and
    # an organisation's open customers (gsi3).
    (table_id, _) = dev.only("AWS::DynamoDB::Table")
    table_arn = {"Fn::GetAtt": [table_id, "Arn"]}
    gsi1 = {"Fn::Join": ["", [table_arn, "/index/gsi1"]]}
    gsi3 = {"Fn::Join": ["", [table_arn, "/index/gsi3"]]}

    assert table_resources(dev, manifest.STATUS_SWEEP.name) == {
        "dynamodb:Query": {str(gsi3), str(table_arn), str(gsi1)}
    }
    work = table_resources(dev, manifest.STATUS_SWEEP_WORK.name)
    assert work.pop("dynamodb:Query") == {str(table_arn), str(gsi3)}
    assert all(found == {str(table_arn)} for found in work.values()), work


def test_the_sweep_sends_only_to_its_work_queue_and_its_failure_queue(dev: Synth) -> None:
    queues = {
        queue["Metadata"]["aws:cdk:path"].removesuffix("/Resource").split("/StatusSweep/", 1)[-1]: queue_id
        for queue_id, queue in dev.resources("AWS::SQS::Queue").items()
    }
    sends = [
        s["Resource"] for s in dev.policy_statements(manifest.STATUS_SWEEP.name) if "sqs:SendMessage" in s["Action"]
    ]

    assert sorted(map(str, sends)) == sorted(
        str({"Fn::GetAtt": [queues[name], "Arn"]}) for name in ("Work/Queue", "Failures")
    )


def test_sweep_work_sends_reminders_from_the_system_identity_only(dev: Synth) -> None:
    assert send_email_resources(dev, manifest.STATUS_SWEEP_WORK.name) == sorted(map(str, system_sender_arns(dev)))


def parameter_arn(name: str) -> dict[str, Any]:
    """A parameter's ARN (or pattern) as CDK writes it into a policy, `name` starting with its slash."""
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":ssm:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                f":parameter{name}",
            ],
        ]
    }


def auth_token_parameter_arn(stage: str) -> dict[str, Any]:
    return parameter_arn(f"/{constants.RESOURCE_PREFIX}/{stage}/twilio-auth-token")


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_twilio_auth_token_parameter_is_read_by_exactly_the_functions_that_need_it(
    stage: str, request: pytest.FixtureRequest
) -> None:
    # The webhook checks signatures with it; the consumer and the sweep's work text with it. No kms:Decrypt: the
    # aws/ssm key's policy lets the account's principals decrypt through SSM.
    synth: Synth = request.getfixturevalue(stage)
    readers = {manifest.SMS_WEBHOOK.name, manifest.REFERRALS_EVENTS.name, manifest.STATUS_SWEEP_WORK.name}

    for function in manifest.FUNCTIONS:
        statements = [
            s
            for s in synth.policy_statements(function.name)
            if "ssm:GetParameter" in as_list(s["Action"]) and "twilio-auth-token" in str(s["Resource"])
        ]
        if function.name in readers:
            (statement,) = statements
            assert statement["Action"] == "ssm:GetParameter"
            assert statement["Resource"] == auth_token_parameter_arn(stage)
        else:
            assert statements == []
        actions = actions_of(synth.policy_statements(function.name))
        assert not any(a.startswith("kms:") for a in actions)
    assert not synth.resources("AWS::SSM::Parameter")  # the stack never holds the secret


def company_secrets_arn(stage: str) -> dict[str, Any]:
    return parameter_arn(f"{constants.company_secret_prefix(stage)}/*")


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_company_secrets_are_kept_by_the_leads_api_and_read_by_the_delivery_engine_only(
    stage: str, request: pytest.FixtureRequest
) -> None:
    synth: Synth = request.getfixturevalue(stage)
    expected = {
        manifest.LEADS_API.name: {"ssm:PutParameter", "ssm:GetParameter", "ssm:DeleteParameter"},
        manifest.WEBHOOK_DELIVERY.name: {"ssm:GetParameter"},
    }
    for function in manifest.FUNCTIONS:
        statements = [
            s for s in synth.policy_statements(function.name) if "company-secrets" in json.dumps(s["Resource"])
        ]
        if function.name in expected:
            (statement,) = statements
            assert set(as_list(statement["Action"])) == expected[function.name]
            assert statement["Resource"] == company_secrets_arn(stage)
        else:
            assert statements == []
        variables = synth.function(function.name)[1]["Properties"]["Environment"]["Variables"]
        assert variables["COMPANY_SECRET_PREFIX"] == constants.company_secret_prefix(stage)


def test_the_webhook_queries_no_index_and_sends_no_email(dev: Synth) -> None:
    # It finds a number's memberships in the number's own partition.
    (table_id, _) = dev.only("AWS::DynamoDB::Table")
    statements = dev.policy_statements(manifest.SMS_WEBHOOK.name)
    queries = [s for s in statements if "dynamodb:Query" in as_list(s["Action"])]

    assert [s["Resource"] for s in queries] == [{"Fn::GetAtt": [table_id, "Arn"]}]
    assert not any(a.startswith(("ses:", "cognito-idp:", "s3:")) for s in statements for a in as_list(s["Action"]))


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


def test_partners_events_sends_from_the_system_identity_only_without_sender_domains(dev: Synth) -> None:
    # With senderDomains, from their identities too (test_sender); never from the account's other identities.
    statements = dev.policy_statements(manifest.PARTNERS_EVENTS.name)

    assert send_email_resources(dev, manifest.PARTNERS_EVENTS.name) == sorted(map(str, system_sender_arns(dev)))
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
    (failures_id, _) = next(
        (queue_id, queue)
        for queue_id, queue in dev.resources("AWS::SQS::Queue").items()
        if queue["Metadata"]["aws:cdk:path"].endswith("/StatusSweep/Failures/Resource")
    )
    # Scheduler writes its dead-letter events with this role too.
    assert statements == [
        {"Action": "lambda:InvokeFunction", "Effect": "Allow", "Resource": statements[0]["Resource"]},
        {"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": {"Fn::GetAtt": [failures_id, "Arn"]}},
    ]
    assert dev.invoked(statements[0]["Resource"]) == function_id  # its live alias, nothing else
