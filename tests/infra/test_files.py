"""The files bucket: private, encrypted, TLS only, open to the portal's origins for presigned uploads and
downloads, kept on protected stages."""

from __future__ import annotations

from typing import Any

import pytest

from infra import constants, files
from tests.infra.conftest import Synth

pytestmark = pytest.mark.infra


def test_bucket_is_private_encrypted_and_refuses_plain_http(dev: Synth) -> None:
    (bucket_id, bucket) = dev.only("AWS::S3::Bucket")
    (_, policy) = dev.only("AWS::S3::BucketPolicy")
    properties = bucket["Properties"]
    denies = policy["Properties"]["PolicyDocument"]["Statement"]

    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    (encryption,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert policy["Properties"]["Bucket"] == {"Ref": bucket_id}
    assert all(statement["Effect"] == "Deny" for statement in denies)
    assert {"Bool": {"aws:SecureTransport": "false"}} in [statement["Condition"] for statement in denies]


def test_cors_lets_the_portal_upload_and_download(dev: Synth, prod: Synth) -> None:
    for synth, origins in ((dev, [constants.DEV_PORTAL_ORIGIN]), (prod, ["https://partners.example.com"])):
        (_, bucket) = synth.only("AWS::S3::Bucket")
        (rule,) = bucket["Properties"]["CorsConfiguration"]["CorsRules"]

        assert rule["AllowedOrigins"] == origins
        assert set(rule["AllowedMethods"]) == {"POST", "PUT", "GET"}


def lifecycle_rules(synth: Synth) -> dict[str, dict[str, Any]]:
    (_, bucket) = synth.only("AWS::S3::Bucket")
    return {rule["Id"]: rule for rule in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}


def test_incomplete_multipart_uploads_are_aborted(dev: Synth) -> None:
    rule = lifecycle_rules(dev)["abort-incomplete-multipart-uploads"]

    assert rule["Status"] == "Enabled"
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}


def test_replaced_and_deleted_files_stay_recoverable_for_90_days(dev: Synth, prod: Synth) -> None:
    for synth in (dev, prod):
        (_, bucket) = synth.only("AWS::S3::Bucket")
        rule = lifecycle_rules(synth)["expire-noncurrent-versions"]

        assert bucket["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
        assert rule["Status"] == "Enabled"
        assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": files.NONCURRENT_VERSION_RETENTION.to_days()}
        assert files.NONCURRENT_VERSION_RETENTION.to_days() == 90
        assert rule["ExpiredObjectDeleteMarker"] is True


def test_bucket_is_kept_on_protected_stages_and_never_emptied_by_the_stack(dev: Synth, prod: Synth) -> None:
    (_, dev_bucket) = dev.only("AWS::S3::Bucket")
    (_, prod_bucket) = prod.only("AWS::S3::Bucket")

    assert dev_bucket["DeletionPolicy"] == "Delete"
    # Kept when the stack is deleted or the bucket replaced, deleted when its own creation is rolled back.
    assert (prod_bucket["DeletionPolicy"], prod_bucket["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain")
    assert "BucketName" not in prod_bucket["Properties"]  # global names: a kept bucket's would block a new one
    for synth in (dev, prod):
        assert not synth.resources("Custom::S3AutoDeleteObjects")


def test_bucket_name_is_an_output(dev: Synth) -> None:
    (bucket_id, _) = dev.only("AWS::S3::Bucket")

    assert dev.template["Outputs"]["FilesBucketName"]["Value"] == {"Ref": bucket_id}
