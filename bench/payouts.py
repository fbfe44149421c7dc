"""The money side of `make bench`: the commission cascade. A batch of deal changes (stream records built as
the stream builds them: MODIFY, old and new images) of deals credited to partners with a five-level
structure, processed in-process by the PayoutsEvents handler against DynamoDB Local, next to the same reads
and the same transactions written with bare boto3 in the same run."""

from __future__ import annotations

import json
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from bench.measure import percentile
from bench.partners import _write_all

CASCADE_CHANGES = int(os.environ.get("BENCH_CASCADE_CHANGES", "100"))
WARM_CHANGES = 5
SPONSORS = 10  # level 2: each sponsors a tenth of the credited partners
LEVELS = [
    {"rule": "percentage", "percent": "10"},
    {"rule": "percentage", "percent": "5", "cap": 50_000},
    {"rule": "fixed", "amount": 5_000},
    {"rule": "fixed", "amount": 20_000, "cap": 15_000},
    {"rule": "percentage", "percent": "0.5"},
]
STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/partner-programme-bench/stream/2026-01-01T00:00:00.000"


def _structure(org_id: str, changes: int) -> tuple[list[str], list[dict[str, Any]]]:
    """Three partners at the top, SPONSORS under them, and one credited partner per change (plus the
    warm-up's) under the sponsors: every credited partner has a four-partner upline."""
    from common.partners.partner_records import PartnerStatus, node_item

    def node(partner_id: str, upline: list[str]) -> dict[str, Any]:
        return node_item(
            org_id=org_id,
            partner_id=partner_id,
            first_name="Bench",
            last_name="Partner",
            email=f"{partner_id}@bench.example",
            phone=None,
            status=PartnerStatus.ACTIVE,
            origin="added",
            actor="bench",
            upline=upline,
        )

    top = ["bench-root", "bench-second", "bench-third"]
    items = [node(top[0], []), node(top[1], top[:1]), node(top[2], top[1::-1])]
    sponsors = [f"bench-sponsor-{n}" for n in range(SPONSORS)]
    items += [node(s, top[::-1]) for s in sponsors]
    credited = [f"bench-credited-{n:04d}" for n in range(changes)]
    items += [node(c, [sponsors[n % SPONSORS], *top[::-1]]) for n, c in enumerate(credited)]
    return credited, items


def _record(org_id: str, deal_id: str, partner_id: str, stages: tuple[str, str], sequence: int) -> dict[str, Any]:
    """A deal's move from New to Won (a compute stage), as the stream delivers it."""
    from common.deals import deal_records
    from common.orgs.access import user_actor
    from common.platform import clock, db

    at = clock.now_iso()
    new_stage, won = stages
    old: dict[str, Any] = {
        **deal_records.deal_key(org_id, deal_id),
        "entity": "deal",
        "org_id": org_id,
        "deal_id": deal_id,
        "workflow_id": "BENCHWORKFLOW",
        "stage_id": new_stage,
        "stage_name": "New",
        "stage_commission": "none",
        "stage_history": [{"at": at, "by": user_actor("bench"), "stage_id": new_stage, "stage_name": "New"}],
        "title": "Bench deal",
        "owner_id": "bench-admin",
        "value": {"amount": 1_234_567, "currency": "AUD"},
        "credited_partner_id": partner_id,
        "partner_ids": [partner_id],
        "created_at": at,
        "updated_at": at,
        "version": 1,
    }
    moved = {"at": at, "by": user_actor("bench"), "stage_id": won, "stage_name": "Won", "commission": "compute"}
    new = old | {
        "stage_id": won,
        "stage_name": "Won",
        "stage_commission": "compute",
        "stage_history": [*old["stage_history"], moved],
        "version": 2,
    }
    return {
        "eventID": f"bench-{sequence}",
        "eventName": "MODIFY",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "Keys": db.serialize(deal_records.deal_key(org_id, deal_id)),
            "OldImage": db.serialize(old),
            "NewImage": db.serialize(new),
            "SequenceNumber": f"{sequence:021d}",
            "SizeBytes": 1500,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": STREAM_ARN,
    }


class _Marks:
    """perf_counter at the end of each TransactWriteItems made through a client: one per deal change."""

    def __init__(self, client: Any) -> None:
        self.marks: list[float] = []
        client.meta.events.register("after-call.dynamodb.TransactWriteItems", self._mark)

    def _mark(self, **_: Any) -> None:
        self.marks.append(time.perf_counter())


def cascade_case(raw: Any, table: str, take_trips: Callable[[], Counter[str]]) -> dict[str, Any]:
    """Seed the structure and a plan; process CASCADE_CHANGES deal changes in one batch through the handler
    (after a warm-up batch), then the same reads and transactions with bare boto3. `take_trips` returns
    (and resets) the DynamoDB calls the handler's client made."""
    from common.money import cascade as commission_cascade
    from common.money import commissions, plans, wallets
    from common.orgs.access import user_actor
    from common.partners.partner_records import node_key
    from common.platform import db, ids

    from tests.support import FakeContext, queued

    events = __import__("payouts.events", fromlist=["lambda_handler"])
    context = FakeContext(function_name="PayoutsEvents")
    org_id = ids.new_id()
    stages = (ids.new_id(), ids.new_id())
    # Each credited partner is used once by the handler and once by the bare side; the warm-up's own.
    credited, items = _structure(org_id, WARM_CHANGES + 2 * CASCADE_CHANGES)
    _write_all(raw, table, items)
    plans.add_version(
        org_id, plans.NewPlanVersion.model_validate({"currency": "AUD", "levels": LEVELS}), user_actor("bench")
    )
    warm, handled, bare_partners = (
        credited[:WARM_CHANGES],
        credited[WARM_CHANGES : WARM_CHANGES + CASCADE_CHANGES],
        credited[WARM_CHANGES + CASCADE_CHANGES :],
    )

    def batch(partners: list[str], offset: int) -> dict[str, Any]:
        # As the consumer receives them: each stream record the body of one SQS message.
        return queued(*(_record(org_id, ids.new_id(), p, stages, offset + n) for n, p in enumerate(partners, start=1)))

    # The bare side: the same two reads and the same transaction per change, prepared beforehand (the
    # breakdown computed outside the timing), written with the raw client.
    plan = plans.find_plan(org_id, consistent=True) or {}
    version = plans.in_force(plan, "9999") or {}
    prepared = []
    for n, partner_id in enumerate(bare_partners):
        deal_id = ids.new_id()
        node = db.get(node_key(org_id, partner_id)) or {}
        chain = [partner_id, *node["upline"]]
        first = [
            node_key(org_id, partner_id),
            plans.plan_key(org_id),
            commission_cascade.record_key(org_id, deal_id),
        ]
        second = [node_key(org_id, p) for p in chain[1:]]
        nodes = {i["partner_id"]: i for i in db.batch_get([node_key(org_id, p) for p in chain])}
        rows = commissions.breakdown(version, "AUD", {"amount": 1_234_567, "currency": "AUD"}, chain, nodes)
        at = f"2026-01-01T00:00:{n % 60:02d}.000Z"
        change = commission_cascade.Change(org_id, deal_id, 1, stages[1], "Won", at, "compute")
        record = {
            **commission_cascade.record_key(org_id, deal_id),
            "entity": "deal_commission",
            "org_id": org_id,
            "deal_id": deal_id,
            "currency": "AUD",
            "applied_change": change.number,
            "paid_stages": [change.stage_id],
            "live": True,
            "live_stage": change.stage_id,
            "live_change": change.number,
            "computations": [
                commission_cascade.computation(change, "paid", plan_version=1, currency="AUD", levels=rows)
            ],
            "version": 1,
        }
        actions = [db.tx_put(record, condition="attribute_not_exists(pk)")]
        for row in rows:
            entry = wallets.Entry(
                org_id=org_id,
                partner_id=row["partner_id"],
                entry_id=wallets.commission_entry_id(deal_id, change.stage_id, change.number, row["level"]),
                kind=wallets.EntryKind.COMMISSION,
                amount=row["amount"],
                currency="AUD",
                at=change.changed_at,
                description=f"Commission, level {row['level']}, deal {deal_id} at Won",
                details={"deal_id": deal_id, "level": row["level"]},
            )
            actions += wallets.entry_actions(entry)
        prepared.append(([db.serialize(k) for k in first], [db.serialize(k) for k in second], actions))
    warm_result = events.lambda_handler(batch(warm, 0), context)
    assert not warm_result["batchItemFailures"], warm_result
    take_trips()
    marks = _Marks(db.default_client())
    event = batch(handled, WARM_CHANGES)
    started = time.perf_counter()
    result = events.lambda_handler(event, context)
    handler_total = (time.perf_counter() - started) * 1000
    counted = take_trips()
    handler_ms = [(b - a) * 1000 for a, b in zip([started, *marks.marks], marks.marks, strict=False)]
    deal_ids = [json.loads(r["body"])["dynamodb"]["NewImage"]["deal_id"]["S"] for r in event["Records"]]
    records = db.batch_get([commission_cascade.record_key(org_id, d) for d in deal_ids], consistent=True)
    paid_entries = sum(len(r.get("live_entries") or []) for r in records)

    # The bare side right after the handler's batch, so that drift of the machine affects both alike.
    bare_ms = []
    started = time.perf_counter()
    for first_keys, second_keys, actions in prepared:
        start = time.perf_counter()
        raw.batch_get_item(RequestItems={table: {"Keys": first_keys, "ConsistentRead": True}})
        raw.batch_get_item(RequestItems={table: {"Keys": second_keys, "ConsistentRead": True}})
        raw.transact_write_items(TransactItems=actions)
        bare_ms.append((time.perf_counter() - start) * 1000)
    bare_total = (time.perf_counter() - started) * 1000
    return {
        "changes": CASCADE_CHANGES,
        "levels": len(LEVELS),
        "batch_item_failures": len(result["batchItemFailures"]),
        "paid_entries": paid_entries,
        "round_trips": {op: n / CASCADE_CHANGES for op, n in sorted(counted.items())},
        "bare_calls": "BatchGetItem + BatchGetItem + TransactWriteItems",
        "handler_total_ms": handler_total,
        "handler_p50_ms": statistics.median(handler_ms),
        "handler_p95_ms": percentile(handler_ms, 0.95),
        "bare_total_ms": bare_total,
        "bare_p50_ms": statistics.median(bare_ms),
        "bare_p95_ms": percentile(bare_ms, 0.95),
        "ratio": handler_total / bare_total,
        "changes_per_second": CASCADE_CHANGES / (handler_total / 1000),
    }


def cascade_report(cascade: dict[str, Any]) -> list[str]:
    calls = ", ".join(f"{op} {n:g}" for op, n in cascade["round_trips"].items())
    return [
        "",
        f"Commission cascade: a batch of {cascade['changes']} deal changes, each credited to a partner with a "
        f"{cascade['levels']}-level structure, in one PayoutsEvents invocation, against the same reads and "
        f"transactions written with bare boto3 ({cascade['bare_calls']} per change):",
        "",
        "| side | batch ms | changes per second | per change p50 ms | per change p95 ms | DynamoDB calls per change |",
        "|---|---|---|---|---|---|",
        f"| handler | {cascade['handler_total_ms']:.0f} | {cascade['changes_per_second']:.0f} "
        f"| {cascade['handler_p50_ms']:.2f} | {cascade['handler_p95_ms']:.2f} | {calls} |",
        f"| bare | {cascade['bare_total_ms']:.0f} | {cascade['changes'] / (cascade['bare_total_ms'] / 1000):.0f} "
        f"| {cascade['bare_p50_ms']:.2f} | {cascade['bare_p95_ms']:.2f} | 3 |",
        f"| ratio | {cascade['ratio']:.2f} | | | | |",
        "",
        f"Ledger entries paid: {cascade['paid_entries']}; records reported failed: {cascade['batch_item_failures']}.",
    ]
