"""What a stage keeps when its stack is deleted or a change replaces a resource, and why a failed first
deployment can always be retried: protected stages keep every resource that holds data, keys or logs
(RetainExceptOnCreate, Retain on replacement), CloudFormation deletes what a rolled-back creation made, and
nothing kept has a name that a later stack of the stage would need again."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra

KEPT = ("Retain", "RetainExceptOnCreate")

# Every kind of resource a stage keeps, and the property that would give it a fixed physical name, where that
# name must be unique (None: the kind has no such property). A kept resource holding a fixed unique name
# makes the next stack of the stage fail with AlreadyExists: the retry after a deletion, or a second stage.
UNIQUE_NAME_PROPERTIES: dict[str, str | None] = {
    # Unique per account and region; CloudFormation generates one when none is given.
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Logs::LogGroup": "LogGroupName",
    # Unique across every AWS account.
    "AWS::S3::Bucket": "BucketName",
    # Unique per account and region, and required by CloudFormation: derived from the stack's id, which is
    # new with every creation of the stack (test_table).
    "AWS::Backup::BackupVault": "BackupVaultName",
    # Keys have ids only; an alias would be a resource of its own.
    "AWS::KMS::Key": None,
    # UserPoolName is a label: Cognito allows several pools of one name, told apart by their ids.
    "AWS::Cognito::UserPool": None,
    # The identity's name is its domain, unique per account and region by nature: one stage owns it and the
    # others name it (infra/sender_settings.py), so no second stack creates it.
    "AWS::SES::EmailIdentity": None,
}


def templates(synth: Synth) -> dict[str, dict[str, Any]]:
    """The stage's templates: the main stack's and each nested stack's (the alarm topic's key is in one)."""
    return {"main": synth.template, **synth.nested_templates()}


def kept_resources(synth: Synth) -> dict[str, dict[str, Any]]:
    return {
        f"{name}/{logical_id}": resource
        for name, template in templates(synth).items()
        for logical_id, resource in template["Resources"].items()
        if resource.get("DeletionPolicy") in KEPT or resource.get("UpdateReplacePolicy") in KEPT
    }


def refers_to_the_stack_id(value: Any) -> bool:
    if isinstance(value, dict):
        return value == {"Ref": "AWS::StackId"} or any(refers_to_the_stack_id(item) for item in value.values())
    if isinstance(value, list):
        return any(refers_to_the_stack_id(item) for item in value)
    return False


def test_no_kept_resource_has_a_fixed_unique_name(dev: Synth, prod: Synth) -> None:
    for synth in (dev, prod):
        for path, resource in kept_resources(synth).items():
            kind = resource["Type"]
            assert kind in UNIQUE_NAME_PROPERTIES, f"{path}: say whether {kind} has a unique name to leave out"
            name_property = UNIQUE_NAME_PROPERTIES[kind]
            given = resource.get("Properties", {}).get(name_property or "")
            assert given is None or refers_to_the_stack_id(given), f"{path}: {name_property} {given!r} is fixed"


def test_protected_stages_keep_data_keys_and_logs_unless_their_creation_is_rolled_back(prod: Synth) -> None:
    kept = kept_resources(prod)
    of_kinds_kept = {
        f"{name}/{logical_id}"
        for name, template in templates(prod).items()
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] in UNIQUE_NAME_PROPERTIES
    }

    # The table, its backup vault, the user pool, the files bucket, the alarm topic's key, the SES identity
    # the stage owns, and every log group (the functions' and the API's access logs).
    assert {resource["Type"] for resource in kept.values()} == set(UNIQUE_NAME_PROPERTIES)
    assert kept.keys() == of_kinds_kept
    for path, resource in kept.items():
        policies = (resource["DeletionPolicy"], resource["UpdateReplacePolicy"])
        assert policies == ("RetainExceptOnCreate", "Retain"), path


def test_dev_stages_keep_nothing(dev: Synth) -> None:
    assert kept_resources(dev) == {}
