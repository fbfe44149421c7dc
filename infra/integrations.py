"""The integrations domain: the IntegrationsApi function behind the HTTP API (an organisation's webhook
endpoints, their signing secrets and health), with exactly the permissions its code uses."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from constructs import Construct

from infra import manifest
from infra.functions import FunctionDefaults, LambdaFunction
from infra.table import Table

# The caller's membership and an endpoint are read (GetItem); an endpoint is created with the organisation's
# endpoint count in one transaction (a Put and an Update) and deleted with it (a Delete and an Update): each
# item of a TransactWriteItems is authorised as the action it holds. UpdateItem changes an endpoint (settings,
# secret, enabled); PutItem, UpdateItem and DeleteItem also keep the Idempotency-Key records of retried POSTs.
API_ITEM_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]


class Integrations(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, table: Table, defaults: FunctionDefaults) -> None:
        super().__init__(scope, construct_id)
        table_arn = table.table.table_arn

        self.api = LambdaFunction(
            self, manifest.INTEGRATIONS_API.name, spec=manifest.INTEGRATIONS_API, defaults=defaults
        )
        self.api.role.add_to_policy(iam.PolicyStatement(actions=API_ITEM_ACTIONS, resources=[table_arn]))
        # The endpoints of an organisation are one partition of the table: no index is read.
        self.api.role.add_to_policy(iam.PolicyStatement(actions=["dynamodb:Query"], resources=[table_arn]))
