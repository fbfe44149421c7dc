"""The files bucket: terms PDFs and files attached to deals. Browsers upload and download directly with
presigned POST/GET URLs that the PartnersApi function signs, so the bucket allows the portal's origins
(CORS) and nothing is public."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_s3 as s3
from constructs import Construct

# Long enough for a slow upload to finish, short enough that abandoned parts are not billed for long.
ABORT_INCOMPLETE_UPLOADS_AFTER = Duration.days(1)
# A replaced or deleted file stays recoverable this long (an upload over an existing key, a mistaken
# delete); after that the old version is removed.
NONCURRENT_VERSION_RETENTION = Duration.days(90)
# How long a browser may reuse a CORS preflight answer.
CORS_MAX_AGE_SECONDS = 3600


class FilesBucket(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, allowed_origins: list[str], removal_policy: RemovalPolicy
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            cors=[
                s3.CorsRule(
                    allowed_methods=[s3.HttpMethods.POST, s3.HttpMethods.PUT, s3.HttpMethods.GET],
                    allowed_origins=allowed_origins,
                    # What a presigned POST form or PUT sends: the signature travels in the form or the
                    # query string; Content-Type and checksum headers vary with the browser and SDK.
                    allowed_headers=["*"],
                    exposed_headers=["ETag"],
                    max_age=CORS_MAX_AGE_SECONDS,
                )
            ],
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="abort-incomplete-multipart-uploads",
                    abort_incomplete_multipart_upload_after=ABORT_INCOMPLETE_UPLOADS_AFTER,
                ),
                s3.LifecycleRule(
                    id="expire-noncurrent-versions",
                    noncurrent_version_expiration=NONCURRENT_VERSION_RETENTION,
                    # A delete marker with no versions left behind it only clutters listings.
                    expired_object_delete_marker=True,
                ),
            ],
            # No auto-delete on any stage: it would add a custom resource (a Lambda function with a
            # managed-policy role) only to empty the bucket; `cdk destroy` of a dev stage needs the bucket
            # emptied first (docs/deploy.md). No bucket name: bucket names are global, and CloudFormation's
            # generated one never meets a bucket an earlier stack left behind.
            removal_policy=removal_policy,
        )
        Validations.of(self.bucket).acknowledge(
            Acknowledgment(
                id="AwsSolutions-S1",
                reason="No server access logs: S3 writes every requester's IP address and user agent into "
                "them, personal data that the project keeps out of its logs (the API's access logs omit "
                "both). Who may read or write a file is decided by the API, which logs ids; enable "
                "CloudTrail data events on the bucket where an object-level audit trail is required.",
            )
        )
