"""Outbound events and webhooks: the IntegrationsEvents consumer, which records the events of the table's
changes (common.integrations.change_events) and hands each on to its webhook deliveries; with exactly the
permissions its code uses."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from constructs import Construct

from infra import manifest
from infra.functions import ChangeQueue, FunctionDefaults, LambdaFunction
from infra.table import Table

# An event is put once (conditional PutItem) and read back when a redelivered change finds it recorded
# (GetItem); the answers that read more than their item read it (BatchGetItem: a customer's e-mail guard,
# the partner of a payout request).
EVENTS_ITEM_ACTIONS = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem"]


class Integrations(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, table: Table, defaults: FunctionDefaults) -> None:
        super().__init__(scope, construct_id)
        table_arn = table.table.table_arn

        self.events = LambdaFunction(
            self, manifest.INTEGRATIONS_EVENTS.name, spec=manifest.INTEGRATIONS_EVENTS, defaults=defaults
        )
        self.events.role.add_to_policy(iam.PolicyStatement(actions=EVENTS_ITEM_ACTIONS, resources=[table_arn]))
        self.changes = ChangeQueue(self, f"{self.events.spec.name}Changes", consumer=self.events)
