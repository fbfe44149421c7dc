"""The table matches common.table_schema, the one definition the local stack uses too."""

from __future__ import annotations

import pytest
from common import table_schema

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
