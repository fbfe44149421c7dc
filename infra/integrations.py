"""The integrations domain: the IntegrationsApi function behind the HTTP API (an organisation's webhook
endpoints, their signing secrets and health) and the IntegrationsEvents consumer, which records the events of
the table's changes (common.integrations.change_events) and hands each on to its webhook deliveries; each with
exactly the permissions its code uses."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from constructs import Construct

from infra import manifest
from infra.functions import ChangeQueue, FunctionDefaults, LambdaFunction
from infra.table import Table

# The caller's membership and an endpoint are read (GetItem); an endpoint is created with the organisation's
# endpoint count in one transaction (a Put and an Update) and deleted with it (a Delete and an Update): each
# item of a TransactWriteItems is authorised as the action it holds. UpdateItem changes an endpoint (settings,
# secret, enabled); PutItem, UpdateItem and DeleteItem also keep the Idempotency-Key records of retried POSTs.
API_ITEM_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
# An event is put once (conditional PutItem) and read back when a redelivered change finds it recorded
# (GetItem); the answers that read more than their item read it (BatchGetItem: a customer's e-mail guard,
# the partner of a payout request).
EVENTS_ITEM_ACTIONS = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem"]


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

        self.events = LambdaFunction(
            self, manifest.INTEGRATIONS_EVENTS.name, spec=manifest.INTEGRATIONS_EVENTS, defaults=defaults
        )
        self.events.role.add_to_policy(iam.PolicyStatement(actions=EVENTS_ITEM_ACTIONS, resources=[table_arn]))
        self.changes = ChangeQueue(self, f"{self.events.spec.name}Changes", consumer=self.events)
