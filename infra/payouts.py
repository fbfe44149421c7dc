"""The payouts domain: the PayoutsApi function behind the HTTP API (commission plans and previews, wallets
and their ledger, payout requests) and the PayoutsEvents stream consumer (the commission cascade of deal
stage changes, the e-mail of a settled payout request); each with exactly the permissions its code uses."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from constructs import Construct

from infra import manifest
from infra.functions import ChangeQueue, FunctionDefaults, LambdaFunction
from infra.sender import EmailSender
from infra.table import Table

# Reads, conditional writes and transactions. TransactWriteItems is authorised item by item as the Put,
# Update or ConditionCheck it holds: a ledger entry is a put and its wallet an update (corrections,
# payments), a payout request a put or an update, and a correction checks the partner's node it does not
# write (ConditionCheckItem). PutItem, UpdateItem and DeleteItem also keep the Idempotency-Key records of
# retried POSTs: a record is deleted when its request failed, so a retry decides afresh.
API_ITEM_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
]
# The listings: a wallet's entries (the wallet's partition: the table), the organisation's wallets and
# ledger and its payout requests by status (gsi1), a partner's own payout requests (gsi2).
API_QUERY_INDEXES = ("gsi1", "gsi2")
# The cascade reads the credited partner, the plan and the deal's commission record (one BatchGetItem),
# then the upline (another), and writes the entries, the wallets and the record in one transaction (puts
# and updates). The settled-request e-mail reads the partner's account and claims a notice (put, read,
# finish; deleted to release the claim when sending fails).
EVENTS_ITEM_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
]


class Payouts(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: Table,
        sender: EmailSender,
        defaults: FunctionDefaults,
    ) -> None:
        super().__init__(scope, construct_id)
        table_arn = table.table.table_arn

        self.api = LambdaFunction(self, manifest.PAYOUTS_API.name, spec=manifest.PAYOUTS_API, defaults=defaults)
        self.api.role.add_to_policy(iam.PolicyStatement(actions=API_ITEM_ACTIONS, resources=[table_arn]))
        self.api.role.add_to_policy(
            iam.PolicyStatement(
                actions=["dynamodb:Query"],
                resources=[table_arn, *(table.index_arn(name) for name in API_QUERY_INDEXES)],
            )
        )

        self.events = LambdaFunction(
            self, manifest.PAYOUTS_EVENTS.name, spec=manifest.PAYOUTS_EVENTS, defaults=defaults
        )
        self.events.role.add_to_policy(iam.PolicyStatement(actions=EVENTS_ITEM_ACTIONS, resources=[table_arn]))
        # Payout e-mails go out from the system's sender only.
        sender.grant_send(self.events.role)
        self.changes = ChangeQueue(self, f"{self.events.spec.name}Changes", consumer=self.events)
