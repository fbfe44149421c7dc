"""The leads domain: the LeadsApi function behind the HTTP API and the LeadsEvents stream consumer,
each with exactly the permissions its code uses."""

from __future__ import annotations

from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra import manifest
from infra.functions import ChangeQueue, FunctionDefaults, LambdaFunction
from infra.sender import EmailSender
from infra.table import Table

# Reads, conditional writes and transactions (TransactWriteItems has no IAM action of its own: each of
# its items is authorised as the Put, Update or Delete it is; no transaction uses a ConditionCheck).
# DeleteItem: removing a staff member deletes the membership item.
API_ITEM_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
]
# Partner-company machine credentials are Cognito app clients created and revoked at run time. The sign-in
# routes end a user's sessions, disable or delete their sign-in, and read their MFA settings.
API_COGNITO_ACTIONS = [
    "cognito-idp:CreateUserPoolClient",
    "cognito-idp:DeleteUserPoolClient",
    "cognito-idp:AdminUserGlobalSignOut",
    "cognito-idp:AdminDisableUser",
    "cognito-idp:AdminDeleteUser",
    "cognito-idp:AdminGetUser",
]
EVENTS_ITEM_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]


class Leads(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: Table,
        user_pool: cognito.IUserPool,
        sender: EmailSender,
        defaults: FunctionDefaults,
    ) -> None:
        super().__init__(scope, construct_id)
        table_arn = table.table.table_arn

        self.api = LambdaFunction(self, manifest.LEADS_API.name, spec=manifest.LEADS_API, defaults=defaults)
        self.api.role.add_to_policy(iam.PolicyStatement(actions=API_ITEM_ACTIONS, resources=[table_arn]))
        self.api.role.add_to_policy(
            iam.PolicyStatement(actions=["dynamodb:Query"], resources=[table_arn, *table.index_arns()])
        )
        self.api.role.add_to_policy(
            iam.PolicyStatement(actions=API_COGNITO_ACTIONS, resources=[user_pool.user_pool_arn])
        )

        self.events = LambdaFunction(self, manifest.LEADS_EVENTS.name, spec=manifest.LEADS_EVENTS, defaults=defaults)
        self.events.role.add_to_policy(iam.PolicyStatement(actions=EVENTS_ITEM_ACTIONS, resources=[table_arn]))
        sender.grant_send(self.events.role)

        self.changes = ChangeQueue(self, f"{self.events.spec.name}Changes", consumer=self.events)
