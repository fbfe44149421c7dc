"""The table matches common.platform.table_schema, the one definition the local stack uses too."""

from __future__ import annotations

import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions
from common.platform import table_schema

from infra.table import Table
from tests.infra import realistic
from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra


def test_keys_and_indexes_come_from_the_table_schema(dev: Synth) -> None:
    request = table_schema.create_table_request("unused")
    _, table = dev.only("AWS::DynamoDB::Table")
    properties = table["Properties"]

    assert properties["KeySchema"] == request["KeySchema"]
    assert sorted(properties["AttributeDefinitions"], key=str) == sorted(request["AttributeDefinitions"], key=str)
    assert properties["GlobalSecondaryIndexes"] == request["GlobalSecondaryIndexes"]
    assert properties["BillingMode"] == request["BillingMode"]


def test_stream_and_backups(dev: Synth) -> None:
    _, table = dev.only("AWS::DynamoDB::Table")
    properties = table["Properties"]

    assert properties["StreamSpecification"] == {"StreamViewType": table_schema.STREAM_VIEW}
    assert properties["TimeToLiveSpecification"] == {"AttributeName": table_schema.TTL_ATTRIBUTE, "Enabled": True}
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["SSESpecification"] == {"SSEEnabled": True}


def test_dev_table_is_disposable(dev: Synth) -> None:
    _, table = dev.only("AWS::DynamoDB::Table")

    assert table["Properties"]["DeletionProtectionEnabled"] is False
    assert table["DeletionPolicy"] == "Delete"


def test_prod_table_is_kept_except_when_its_creation_is_rolled_back(prod: Synth) -> None:
    _, table = prod.only("AWS::DynamoDB::Table")

    assert table["DeletionPolicy"] == "RetainExceptOnCreate"
    assert table["UpdateReplacePolicy"] == "Retain"
    assert "TableName" not in table["Properties"]
    # Deletion protection also refuses CloudFormation's delete when a first deployment is rolled back: it is
    # the stage's choice once that deployment succeeded (deletionProtection), off by default.
    assert table["Properties"]["DeletionProtectionEnabled"] is False


def test_deletion_protection_when_the_stage_asks_for_it() -> None:
    stack = cdk.Stack(cdk.App())
    kept = cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
    Table(stack, "Data", removal_policy=kept, deletion_protection=True, backups=False)

    assertions.Template.from_stack(stack).has_resource_properties(
        "AWS::DynamoDB::Table", {"DeletionProtectionEnabled": True}
    )


def test_protected_stages_back_the_table_up_daily_and_monthly_into_a_kept_vault(prod: Synth) -> None:
    (table_id, _) = prod.only("AWS::DynamoDB::Table")
    (vault_id, vault) = prod.only("AWS::Backup::BackupVault")
    (plan_id, plan) = prod.only("AWS::Backup::BackupPlan")
    (_, selection) = prod.only("AWS::Backup::BackupSelection")
    rules = {rule["RuleName"]: rule for rule in plan["Properties"]["BackupPlan"]["BackupPlanRule"]}

    assert (vault["DeletionPolicy"], vault["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")
    assert rules.keys() == {"Daily", "Monthly"}
    assert rules["Daily"]["ScheduleExpression"] == "cron(0 2 * * ? *)"
    assert rules["Daily"]["Lifecycle"] == {"DeleteAfterDays": 35}
    assert rules["Monthly"]["ScheduleExpression"].startswith("cron(30 2 1 * ? *)")
    assert rules["Monthly"]["Lifecycle"] == {"DeleteAfterDays": 365}  # no cold storage: full DynamoDB backups
    for rule in rules.values():
        assert rule["TargetBackupVault"] == {"Fn::GetAtt": [vault_id, "BackupVaultName"]}
    assert selection["Properties"]["BackupPlanId"] == {"Fn::GetAtt": [plan_id, "BackupPlanId"]}
    assert selection["Properties"]["BackupSelection"]["Resources"] == [{"Fn::GetAtt": [table_id, "Arn"]}]
    # Plan names are unique in an account: each stage's is its own.
    assert "prod" in plan["Properties"]["BackupPlan"]["BackupPlanName"]


def test_the_vault_is_named_for_this_creation_of_the_stack(prod: Synth) -> None:
    # CloudFormation requires a vault name, unique in the account and region. A fixed one would be taken by
    # the vault a deleted stack of the stage left behind (with its recovery points), and the stage could not
    # be deployed again.
    (vault_id, vault) = prod.only("AWS::Backup::BackupVault")
    given = vault["Properties"]["BackupVaultName"]
    longest_stack_name = "PartnerProgramme-" + "a" * 20  # stage names have at most 20 characters

    assert {"Ref": "AWS::StackId"} in walk(given)
    assert StackOfUuid(prod.template, prod.stack.stack_name).resolve(given) == "PartnerProgramme-prod-8d3f1e40"
    assert VAULT_NAME.match(StackOfUuid(prod.template, longest_stack_name).resolve(given))
    assert prod.template["Outputs"]["BackupVaultName"]["Value"] == {"Fn::GetAtt": [vault_id, "BackupVaultName"]}


# AWS Backup's rule for vault names (CreateBackupVault).
VAULT_NAME = re.compile(r"^[a-zA-Z0-9\-\_]{2,50}$")


class StackOfUuid(realistic.Resolver):
    """Stack ids end with the UUID CloudFormation gives each stack it creates."""

    def ref(self, name: str) -> str:
        if name == "AWS::StackId":
            return realistic.Resolver.arn(self, "cloudformation", f"stack/{self.stack_name}/{STACK_UUID}")
        return super().ref(name)


STACK_UUID = "8d3f1e40-5b7a-11f0-9c2e-0a1b2c3d4e5f"


def walk(value: Any) -> list[Any]:
    """The value and everything nested in it."""
    if isinstance(value, dict):
        return [value, *(inner for item in value.values() for inner in walk(item))]
    if isinstance(value, list):
        return [value, *(inner for item in value for inner in walk(item))]
    return [value]


def test_dev_stages_rely_on_point_in_time_recovery_alone(dev: Synth) -> None:
    # A vault holding recovery points would keep `cdk destroy` of a disposable stage from finishing.
    for resource_type in ("AWS::Backup::BackupVault", "AWS::Backup::BackupPlan", "AWS::Backup::BackupSelection"):
        assert not dev.resources(resource_type)
