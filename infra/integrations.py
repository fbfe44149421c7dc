"""The integrations domain: the IntegrationsApi function behind the HTTP API (an organisation's webhook
endpoints, their signing secrets and health, their delivery logs, resends, replays and test events), the
IntegrationsEvents consumer, which records the events of the table's changes
(common.integrations.change_events) and fans each out to its webhook deliveries, and the outbound delivery
engine that attempts them (infra/webhook_delivery.py); each with exactly the permissions its code uses."""

from __future__ import annotations

from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from common.integrations.deliveries import FAILED_INDEX
from constructs import Construct

from infra import manifest
from infra.functions import ChangeQueue, FunctionDefaults, LambdaFunction
from infra.sender import EmailSender
from infra.table import Table
from infra.webhook_delivery import WebhookDelivery

# The caller's membership, an endpoint and a delivery are read (GetItem); an endpoint is created with the
# organisation's endpoint count in one transaction (a Put and an Update) and deleted with it (a Delete and an
# Update): each item of a TransactWriteItems is authorised as the action it holds. UpdateItem changes an
# endpoint (settings, secret, enabled) and starts a resent delivery's new round; a test event and its delivery
# are put (PutItem). PutItem, UpdateItem and DeleteItem also keep the Idempotency-Key records of retried POSTs.
API_ITEM_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
# An event is put once (conditional PutItem) and read back when a redelivered change finds it recorded
# (GetItem); the answers that read more than their item read it (BatchGetItem: a customer's e-mail guard,
# the partner of a payout request). Its fan-out puts each delivery once (conditional PutItem) and reads back
# one that existed (GetItem), to hand it on again if it was never attempted.
EVENTS_ITEM_ACTIONS = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem"]


class Integrations(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: Table,
        sender: EmailSender,
        user_pool: cognito.IUserPool,
        defaults: FunctionDefaults,
    ) -> None:
        super().__init__(scope, construct_id)
        table_arn = table.table.table_arn

        # Every outbound delivery: its function and queue; the two functions below hand deliveries to it.
        self.deliveries = WebhookDelivery(
            self, "Webhooks", table=table, sender=sender, user_pool=user_pool, defaults=defaults
        )

        self.api = LambdaFunction(
            self, manifest.INTEGRATIONS_API.name, spec=manifest.INTEGRATIONS_API, defaults=defaults
        )
        self.api.role.add_to_policy(iam.PolicyStatement(actions=API_ITEM_ACTIONS, resources=[table_arn]))
        # One partition of the table each: an organisation's endpoints, an endpoint's delivery log, an
        # organisation's events of a replay's range; the failed deliveries of an endpoint are the sparse index.
        self.api.role.add_to_policy(
            iam.PolicyStatement(actions=["dynamodb:Query"], resources=[table_arn, table.index_arn(FAILED_INDEX)])
        )
        # Resends, replays, resending what failed and test events go to the delivery queue.
        self.deliveries.grant_send(self.api)

        self.events = LambdaFunction(
            self, manifest.INTEGRATIONS_EVENTS.name, spec=manifest.INTEGRATIONS_EVENTS, defaults=defaults
        )
        self.events.role.add_to_policy(iam.PolicyStatement(actions=EVENTS_ITEM_ACTIONS, resources=[table_arn]))
        # The fan-out's subscribers: the organisation's endpoints, one partition of the table.
        self.events.role.add_to_policy(iam.PolicyStatement(actions=["dynamodb:Query"], resources=[table_arn]))
        self.deliveries.grant_send(self.events)
        self.changes = ChangeQueue(self, f"{self.events.spec.name}Changes", consumer=self.events)
