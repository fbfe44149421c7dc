"""The leads domain: the LeadsApi function behind the HTTP API and the LeadsEvents stream consumer,
each with exactly the permissions its code uses.

Partner companies' receiver secrets (the client secrets of the systems we sell leads and customers to) are
SSM SecureStrings that LeadsApi puts and deletes at run time under the stage's path; the delivery engine
reads them (`grant_company_secret_reads`). They are encrypted with the account's AWS managed key `aws/ssm`,
whose key policy lets the account's principals use it through SSM, so no kms: grant is needed (a customer
managed key would need one, on that key)."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Validations
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
# A company's receiver secret is kept (PutParameter, which also overwrites), forgotten (DeleteParameter) and
# read back (GetParameter) by the API.
API_SECRET_ACTIONS = ["ssm:PutParameter", "ssm:GetParameter", "ssm:DeleteParameter"]


class Leads(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: Table,
        user_pool: cognito.IUserPool,
        sender: EmailSender,
        company_secret_prefix: str,
        defaults: FunctionDefaults,
    ) -> None:
        super().__init__(scope, construct_id)
        table_arn = table.table.table_arn
        # Every parameter under the stage's path: their names are organisation and company ids.
        self.company_secrets_arn = Stack.of(self).format_arn(
            service="ssm", resource="parameter", resource_name=f"{company_secret_prefix.lstrip('/')}/*"
        )

        self.api = LambdaFunction(self, manifest.LEADS_API.name, spec=manifest.LEADS_API, defaults=defaults)
        self.api.role.add_to_policy(iam.PolicyStatement(actions=API_ITEM_ACTIONS, resources=[table_arn]))
        self.api.role.add_to_policy(
            iam.PolicyStatement(actions=["dynamodb:Query"], resources=[table_arn, *table.index_arns()])
        )
        self.api.role.add_to_policy(
            iam.PolicyStatement(actions=API_COGNITO_ACTIONS, resources=[user_pool.user_pool_arn])
        )
        self.api.role.add_to_policy(
            iam.PolicyStatement(actions=API_SECRET_ACTIONS, resources=[self.company_secrets_arn])
        )
        self._acknowledge_secret_path(self.api, company_secret_prefix)

        self.events = LambdaFunction(self, manifest.LEADS_EVENTS.name, spec=manifest.LEADS_EVENTS, defaults=defaults)
        self.events.role.add_to_policy(iam.PolicyStatement(actions=EVENTS_ITEM_ACTIONS, resources=[table_arn]))
        sender.grant_send(self.events.role)

        self.changes = ChangeQueue(self, f"{self.events.spec.name}Changes", consumer=self.events)

    def grant_company_secret_reads(self, function: LambdaFunction, company_secret_prefix: str) -> None:
        """Read (and decrypt, through SSM with the aws/ssm key) partner companies' receiver secrets only."""
        function.role.add_to_policy(
            iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[self.company_secrets_arn])
        )
        self._acknowledge_secret_path(function, company_secret_prefix)

    @staticmethod
    def _acknowledge_secret_path(function: LambdaFunction, company_secret_prefix: str) -> None:
        Validations.of(function.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:"
                f"parameter{company_secret_prefix}/*]",
                reason="Partner companies' receiver secrets are parameters named at run time by organisation and "
                f"company ids, so the grant names the stage's path: parameters under {company_secret_prefix} "
                "only.",
            )
        )
