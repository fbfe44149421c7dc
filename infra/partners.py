"""The partners domain: the PartnersApi function behind the HTTP API and the PartnersEvents stream
consumer, each with exactly the permissions its code uses."""

from __future__ import annotations

from typing import cast

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import constants, manifest
from infra.functions import ChangeQueue, FunctionDefaults, LambdaFunction
from infra.sender import EmailSender
from infra.table import Table

# Reads, conditional writes and transactions. TransactWriteItems is authorised item by item as the Put,
# Update, Delete or ConditionCheck it holds: commands check items they do not write (the current terms
# version, a broker's membership, a deal's share) with ConditionCheck, which needs ConditionCheckItem.
API_ITEM_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
]
# A partner is a Cognito user: staff add one (AdminCreateUser), registration sets the password,
# an e-mail change updates the attribute; AdminGetUser finds an existing account by e-mail.
API_COGNITO_ACTIONS = [
    "cognito-idp:AdminCreateUser",
    "cognito-idp:AdminGetUser",
    "cognito-idp:AdminSetUserPassword",
    "cognito-idp:AdminUpdateUserAttributes",
]
# Presigned POST (upload) and GET (download) URLs act with the signer's permissions; HeadObject, which
# checks an upload arrived, is authorised as GetObject.
API_FILE_ACTIONS = ["s3:PutObject", "s3:GetObject"]
# The consumer reads what an e-mail needs (settings, account, organisation: one BatchGetItem), records
# sent notices and e-mailed tokens, and copies account changes into the partner's nodes, which a query of
# the partner's own partition finds (the table, no index); each copy is a transaction that checks the
# account is still the version copied (ConditionCheckItem).
EVENTS_ITEM_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:Query",
]


class Partners(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: Table,
        user_pool: cognito.IUserPool,
        files: s3.Bucket,
        sender: EmailSender,
        defaults: FunctionDefaults,
    ) -> None:
        super().__init__(scope, construct_id)
        table_arn = table.table.table_arn
        files_arn = files.arn_for_objects(f"{constants.FILES_KEY_PREFIX}*")

        self.api = LambdaFunction(self, manifest.PARTNERS_API.name, spec=manifest.PARTNERS_API, defaults=defaults)
        self.api.role.add_to_policy(iam.PolicyStatement(actions=API_ITEM_ACTIONS, resources=[table_arn]))
        self.api.role.add_to_policy(
            iam.PolicyStatement(actions=["dynamodb:Query"], resources=[table_arn, *table.index_arns()])
        )
        self.api.role.add_to_policy(
            iam.PolicyStatement(actions=API_COGNITO_ACTIONS, resources=[user_pool.user_pool_arn])
        )
        self.api.role.add_to_policy(iam.PolicyStatement(actions=API_FILE_ACTIONS, resources=[files_arn]))
        bucket_id = Stack.of(self).get_logical_id(cast(s3.CfnBucket, files.node.default_child))
        Validations.of(self.api.role).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{constants.FILES_KEY_PREFIX}*]",
                reason="Object keys are chosen at run time (organisation, deal and file ids), so the grant "
                f"names the key prefix: reading and writing objects under {constants.FILES_KEY_PREFIX} of "
                "the files bucket only, for the presigned upload and download URLs the function signs.",
            )
        )

        self.events = LambdaFunction(
            self, manifest.PARTNERS_EVENTS.name, spec=manifest.PARTNERS_EVENTS, defaults=defaults
        )
        self.events.role.add_to_policy(iam.PolicyStatement(actions=EVENTS_ITEM_ACTIONS, resources=[table_arn]))
        # Invitations go from the system's identity or a confirmed address of a sender domain.
        sender.grant_send_invitations(self.events.role)
        self.changes = ChangeQueue(self, f"{self.events.spec.name}Changes", consumer=self.events)
