"""The referrals domain: the ReferralsApi function behind the HTTP API (teams, customer lists, referral
requests), the ReferralsEvents stream consumer that texts new referral requests to the team, and the
SmsWebhook function Twilio posts replies and delivery statuses to; each with exactly the permissions its
code uses. The daily sweep's work function (infra/status_sweep.py), which texts the teams' 7-day reminders,
reads the same auth token (`grant_auth_token`).

Texts go through Twilio's HTTPS API, which takes no IAM permission. Its auth token is an SSM SecureString
that the administrator creates (CloudFormation cannot create SecureString parameters); the functions that
text or check Twilio's signatures may read that one parameter. It is encrypted with the account's
AWS managed key `aws/ssm`, whose key policy lets any principal of the account decrypt through SSM, so
no kms:Decrypt grant is needed (a customer managed key would need one, on that key).
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from constructs import Construct

from infra import manifest
from infra.functions import ChangeQueue, FunctionDefaults, LambdaFunction
from infra.table import Table

# Reads, conditional writes and transactions: TransactWriteItems is authorised item by item as the Put,
# Update, Delete or ConditionCheck it holds. Commands check items they do not write with ConditionCheck
# (the team and its leader as read, the acceptor's role and eligibility), which needs ConditionCheckItem;
# DeleteItem removes a member with their phone link and frees a referral's short code.
API_ITEM_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
]
# The consumer reads the team's members (a query of the team's partition) and their numbers' opt-outs,
# claims a notice per member texted (put, read, finish, release on failure) and records each offer.
EVENTS_ITEM_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
]
# The webhook finds a number's memberships (a query of its partition), claims the inbound message (put,
# read, finish, release on failure), pauses members and opts numbers out (updates), and accepts a
# referral by code: the code, the request and the memberships read, then one transaction (update the
# request, put the customer, delete the code, check or update the memberships). A delivery status is a
# transaction of the offer's update and a check (or history update) of its request.
WEBHOOK_ITEM_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:Query",
]


class Referrals(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: Table,
        auth_token_parameter_arn: str,
        defaults: FunctionDefaults,
    ) -> None:
        super().__init__(scope, construct_id)
        self.auth_token_parameter_arn = auth_token_parameter_arn
        table_arn = table.table.table_arn

        self.api = LambdaFunction(self, manifest.REFERRALS_API.name, spec=manifest.REFERRALS_API, defaults=defaults)
        self.api.role.add_to_policy(iam.PolicyStatement(actions=API_ITEM_ACTIONS, resources=[table_arn]))
        # Teams by name (gsi1), a user's teams and a member's customers (gsi2), overdue customers (gsi3),
        # a team's members and customers (the table).
        self.api.role.add_to_policy(
            iam.PolicyStatement(actions=["dynamodb:Query"], resources=[table_arn, *table.index_arns()])
        )

        self.events = LambdaFunction(
            self, manifest.REFERRALS_EVENTS.name, spec=manifest.REFERRALS_EVENTS, defaults=defaults
        )
        self.events.role.add_to_policy(iam.PolicyStatement(actions=EVENTS_ITEM_ACTIONS, resources=[table_arn]))
        self.grant_auth_token(self.events)
        self.changes = ChangeQueue(self, f"{self.events.spec.name}Changes", consumer=self.events)

        self.sms_webhook = LambdaFunction(self, manifest.SMS_WEBHOOK.name, spec=manifest.SMS_WEBHOOK, defaults=defaults)
        self.sms_webhook.role.add_to_policy(iam.PolicyStatement(actions=WEBHOOK_ITEM_ACTIONS, resources=[table_arn]))
        self.grant_auth_token(self.sms_webhook)

    def grant_auth_token(self, function: LambdaFunction) -> None:
        """Read (and decrypt, through SSM with the aws/ssm key) the Twilio auth token parameter only."""
        function.role.add_to_policy(
            iam.PolicyStatement(actions=["ssm:GetParameter"], resources=[self.auth_token_parameter_arn])
        )
