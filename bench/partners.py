"""The partners side of `make bench`: a partner creating a deal in the portal, and the daily lapse sweep
over 10,000 partners of which 100 are due (the StatusSweep handler handing them on to its work queue on moto's
SQS, then the StatusSweepWork handler lapsing them), each next to the bare DynamoDB calls it needs."""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

SWEEP_PARTNERS = int(os.environ.get("BENCH_SWEEP_PARTNERS", "10000"))
SWEEP_DUE = int(os.environ.get("BENCH_SWEEP_DUE", "100"))
SWEEP_ROUNDS = int(os.environ.get("BENCH_SWEEP_ROUNDS", "3"))


def sweep_queue_environment(sqs: Any, prefix: str) -> dict[str, str]:
    """The sweep's work queue (created on moto's SQS) and the variable the sweep reads it from."""
    from common.platform.settings import environment

    return environment(sweep_work_queue_url=sqs.create_queue(QueueName=f"{prefix}-StatusSweepWork")["QueueUrl"])


def sweep_and_work(event: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The StatusSweep handler on `event`, then the StatusSweepWork handler on every message it handed on
    (received ten at a time, as Lambda's SQS mapping would hand them over): the sweep's answer and the
    messages' bodies. A message the work function did not finish fails the benchmark."""
    import boto3
    from common.platform.settings import SweepWork, get_settings

    from tests.support import FakeContext

    sweep = __import__("status_sweep.handler", fromlist=["lambda_handler"])
    work = __import__("status_sweep.work", fromlist=["lambda_handler"])
    answer: dict[str, Any] = sweep.lambda_handler(event, FakeContext(function_name="StatusSweep"))
    sqs, url = boto3.client("sqs"), get_settings(SweepWork).sweep_work_queue_url
    bodies: list[dict[str, Any]] = []
    context = _WorkContext(function_name="StatusSweepWork")
    while messages := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    ).get("Messages", []):
        # As Lambda's SQS mapping hands them over: the message's system attributes with it.
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m["Attributes"],
            }
            for m in messages
        ]
        failures = work.lambda_handler({"Records": records}, context)["batchItemFailures"]
        assert failures == [], failures
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
        )
        bodies += [json.loads(m["Body"]) for m in messages]
    return answer, bodies


class _WorkContext:
    """The work function's context: a minute to spend, as deployed."""

    def __init__(self, function_name: str) -> None:
        self.function_name = function_name
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


class ItemsReturned:
    """Counts the items DynamoDB returns to Query calls made through a client."""

    def __init__(self, client: Any) -> None:
        self.items = 0
        client.meta.events.register("after-call.dynamodb.Query", self._count)

    def _count(self, parsed: dict[str, Any], **_: Any) -> None:
        self.items += int(parsed.get("Count", 0))

    def take(self) -> int:
        taken, self.items = self.items, 0
        return taken


def _seed_partner(
    org_id: str, partner_id: str, *, brokers: list[str], last_lead_at: str | None = None
) -> list[dict[str, Any]]:
    from common.partners.partner_records import PartnerStatus, account_item, lapse_index, node_item

    details: dict[str, Any] = {
        "first_name": "Bench",
        "last_name": "Partner",
        "email": f"{partner_id}@bench.example",
        "phone": "+15550100",
    }
    status = PartnerStatus.ACTIVE if last_lead_at else PartnerStatus.LIVE
    node = node_item(
        org_id=org_id,
        partner_id=partner_id,
        status=status,
        origin="added",
        actor="bench",
        brokers=brokers,
        **details,
    )
    if last_lead_at:
        node |= {"last_lead_at": last_lead_at, **lapse_index(org_id, partner_id, last_lead_at)}
    return [account_item(partner_id=partner_id, email_confirmed=True, **details), node]


def _write_all(raw: Any, table: str, items: list[dict[str, Any]]) -> None:
    from common.platform import db

    for start in range(0, len(items), 25):
        pending = {table: [{"PutRequest": {"Item": db.serialize(i)}} for i in items[start : start + 25]]}
        while pending:
            pending = raw.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def deal_creation_case(
    raw: Any, table: str, org_id: str, admin: str
) -> tuple[Callable[[int], None], Callable[[int], None]]:
    """The handler (partners API, POST portal deal) and the bare calls: one consistent BatchGetItem of the
    caller's account, node and the organisation's settings, one GetItem of the default workflow, one
    transaction (deal, share, the partner's workflow marker, the node's lead)."""
    from common.orgs import workflows
    from common.partners.partner_records import account_key, node_key, record_lead, settings_key
    from common.platform import db

    from tests.support import FakeContext, http_event

    api = __import__("partners.api", fromlist=["lambda_handler"])
    context = FakeContext(function_name="PartnersApi")
    workflow = workflows.create_workflow(
        org_id, workflows.NewWorkflow.model_validate({"name": "Referrals", "stages": [{"name": "New"}]}), admin
    )
    db.put({**settings_key(org_id), "entity": "programme_settings", "default_workflow_id": workflow["workflow_id"]})
    partner_id = "bench-deal-partner"
    _write_all(raw, table, _seed_partner(org_id, partner_id, brokers=[admin]))
    path = f"/orgs/{org_id}/portal/deals"
    contact = {"first_name": "Casey", "last_name": "Client", "email": "casey@bench.example", "phone": "+15550101"}
    body = {"title": "Kitchen", "contacts": [contact]}

    def handler(_: int) -> None:
        response = api.lambda_handler(http_event("POST", path, user=partner_id, body=body), context)
        assert response["statusCode"] == 201, response

    caller_keys = [
        db.serialize(k) for k in (account_key(partner_id), node_key(org_id, partner_id), settings_key(org_id))
    ]
    workflow_key = db.serialize(workflows.workflow_key(org_id, workflow["workflow_id"]))

    def bare(i: int) -> None:
        read = raw.batch_get_item(RequestItems={table: {"Keys": caller_keys, "ConsistentRead": True}})
        assert read["Responses"][table]  # the caller: membership, node and account, as the handler reads them
        raw.get_item(TableName=table, Key=workflow_key)
        deal_pk = f"ORG#{org_id}#DEAL#BARE{i:022d}"
        deal = {"pk": deal_pk, "sk": "DEAL", "entity": "deal", "title": "Kitchen", "contacts": [contact]}
        share = {"pk": deal_pk, "sk": f"SHARE#{partner_id}", "entity": "deal_share"}
        marker = {"pk": f"ORG#{org_id}#PARTNER#{partner_id}#WORKFLOWS", "sk": f"WORKFLOW#{workflow['workflow_id']}"}
        raw.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": db.serialize(deal),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "TableName": table,
                        "Item": db.serialize(share),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {"Put": {"TableName": table, "Item": db.serialize(marker)}},
                # The node's update (its status, last lead and lapse index), as the handler.
                record_lead(org_id, partner_id),
            ]
        )

    return handler, bare


def sweep_case(raw: Any, table: str, org_id: str) -> dict[str, Any]:
    """Seed SWEEP_PARTNERS active partners of which SWEEP_DUE had their last lead 40 days ago; run the
    StatusSweep handler and the StatusSweepWork handler on what it handed on, then (after seeding as many due
    again) the bare queries and updates they need.
    Rounds alternate; each side's reads are the items DynamoDB returned to its queries."""
    from common.partners.partner_records import LAPSE_AFTER_DAYS, LAPSE_SHARDS, node_key
    from common.platform import clock, db

    from tests.support import load_event

    bare_counter = ItemsReturned(raw)
    recent = clock.iso(clock.now() - timedelta(days=1))
    started = time.perf_counter()
    items: list[dict[str, Any]] = []
    for n in range(SWEEP_PARTNERS - SWEEP_DUE):
        items += _seed_partner(org_id, f"bench-recent-{n:05d}", brokers=[], last_lead_at=recent)
    _write_all(raw, table, items)
    seeded_seconds = time.perf_counter() - started
    old = clock.iso(clock.now() - timedelta(days=LAPSE_AFTER_DAYS + 10))
    event = load_event("scheduler_event.json")
    handler_ms, bare_ms, handler_reads, bare_reads, lapsed = [], [], [], [], []

    def seed_due(tag: str) -> None:
        due: list[dict[str, Any]] = []
        for n in range(SWEEP_DUE):
            due += _seed_partner(org_id, f"bench-due-{tag}-{n:03d}", brokers=[], last_lead_at=old)
        _write_all(raw, table, due)

    cutoff = clock.iso(clock.now() - timedelta(days=LAPSE_AFTER_DAYS))
    for round_ in range(SWEEP_ROUNDS):
        seed_due(f"h{round_}")
        start = time.perf_counter()
        counts, handed_on = sweep_and_work(event)
        handler_ms.append((time.perf_counter() - start) * 1000)
        # The handler also reads the teams' due indexes; its own count covers the lapse queries alone.
        handler_reads.append(counts["items_read"])
        keys = [node_key(o, p) for m in handed_on if m["job"] == "lapse" for o, p in m["partners"]]
        lapsed.append(sum(n["status"] == "LAPSED" for n in db.batch_get(keys)))

        seed_due(f"b{round_}")
        bare_counter.take()
        start = time.perf_counter()
        for shard in range(LAPSE_SHARDS):
            page: dict[str, Any] = {}
            while True:
                response = raw.query(
                    TableName=table,
                    IndexName="gsi3",
                    KeyConditionExpression="gsi3pk = :pk AND gsi3sk < :cutoff",
                    ExpressionAttributeValues={":pk": {"S": f"LAPSE#{shard}"}, ":cutoff": {"S": cutoff}},
                    Limit=100,
                    **page,
                )
                for item in response["Items"]:
                    node = db.deserialize(item)
                    raw.update_item(
                        TableName=table,
                        Key=db.serialize(node_key(node["org_id"], node["partner_id"])),
                        UpdateExpression="SET #s = :lapsed REMOVE gsi3pk, gsi3sk",
                        ConditionExpression="#s = :active AND last_lead_at = :last",
                        ExpressionAttributeNames={"#s": "status"},
                        ExpressionAttributeValues=db.serialize(
                            {":lapsed": "LAPSED", ":active": "ACTIVE", ":last": node["last_lead_at"]}
                        ),
                    )
                if "LastEvaluatedKey" not in response:
                    break
                page = {"ExclusiveStartKey": response["LastEvaluatedKey"]}
        bare_ms.append((time.perf_counter() - start) * 1000)
        bare_reads.append(bare_counter.take())
    return {
        "partners": SWEEP_PARTNERS,
        "due": SWEEP_DUE,
        "rounds": SWEEP_ROUNDS,
        "seed_seconds": seeded_seconds,
        "handler_ms": statistics.median(handler_ms),
        "bare_ms": statistics.median(bare_ms),
        "ratio": statistics.median(handler_ms) / statistics.median(bare_ms),
        "handler_items_read": max(handler_reads),
        "bare_items_read": max(bare_reads),
        "lapsed_per_run": lapsed,
    }


def sweep_report(sweep: dict[str, Any]) -> list[str]:
    return [
        "",
        f"Lapse sweep over {sweep['partners']:,} active partners of which {sweep['due']} are due "
        f"(median of {sweep['rounds']} runs each: the StatusSweep handler handing them on to its queue and the "
        "StatusSweepWork handler lapsing them, against the bare queries and updates):",
        "",
        "| side | ms per run | items the queries returned | partners lapsed per run |",
        "|---|---|---|---|",
        f"| handler | {sweep['handler_ms']:.0f} | {sweep['handler_items_read']} "
        f"| {', '.join(map(str, sweep['lapsed_per_run']))} |",
        f"| bare | {sweep['bare_ms']:.0f} | {sweep['bare_items_read']} | |",
        f"| ratio | {sweep['ratio']:.2f} | | |",
    ]
