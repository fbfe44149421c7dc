"""The table matches common.platform.table_schema, the one definition the local stack uses too."""

from __future__ import annotations

import pytest
from common.platform import table_schema

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


def test_prod_table_is_protected_and_retained(prod: Synth) -> None:
    _, table = prod.only("AWS::DynamoDB::Table")

    assert table["Properties"]["DeletionProtectionEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"


def test_protected_stages_back_the_table_up_daily_and_monthly_into_a_kept_vault(prod: Synth) -> None:
    (table_id, _) = prod.only("AWS::DynamoDB::Table")
    (vault_id, vault) = prod.only("AWS::Backup::BackupVault")
    (plan_id, plan) = prod.only("AWS::Backup::BackupPlan")
    (_, selection) = prod.only("AWS::Backup::BackupSelection")
    rules = {rule["RuleName"]: rule for rule in plan["Properties"]["BackupPlan"]["BackupPlanRule"]}

    assert (vault["DeletionPolicy"], vault["UpdateReplacePolicy"]) == ("Retain", "Retain")
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


def test_dev_stages_rely_on_point_in_time_recovery_alone(dev: Synth) -> None:
    # A vault holding recovery points would keep `cdk destroy` of a disposable stage from finishing.
    for resource_type in ("AWS::Backup::BackupVault", "AWS::Backup::BackupPlan", "AWS::Backup::BackupSelection"):
        assert not dev.resources(resource_type)
