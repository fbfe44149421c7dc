"""The fan-out side of `make bench`: the StreamDispatcher handler sending a stream batch (100 records, as the
mapping delivers them) to the consumers' queues on moto's SQS, next to the bare SendMessageBatch calls the
same messages need, in the same run. Some records go to two queues (a deal moved to a paying stage reaches
the partners and the payouts consumers), some to none (filtered out)."""

from __future__ import annotations

import copy
import json
import os
import statistics
import time
from collections import Counter
from typing import Any

BATCH = 100
ROUNDS = int(os.environ.get("BENCH_DISPATCH_ROUNDS", "20"))


def environment(sqs: Any, prefix: str) -> dict[str, str]:
    """The queues (created on moto's SQS) and the variable the dispatcher reads them from."""
    from common.platform import change_fanout

    urls = {name: sqs.create_queue(QueueName=f"{prefix}-{name}")["QueueUrl"] for name in change_fanout.CONSUMER_FILTERS}
    return {"CONSUMER_QUEUE_URLS": json.dumps(urls)}


def _records(round_number: int) -> list[dict[str, Any]]:
    from common.platform import db

    from tests.support import load_event

    sample = load_event("dynamodb_stream_lead_insert.json")["Records"][0]
    records = []
    for n in range(BATCH):
        record = copy.deepcopy(sample)
        kind = n % 10
        if kind < 6:
            item = {"entity": "lead", "status": "pending", "lead_id": f"L{round_number}-{n}"}
        elif kind < 9:
            record["eventName"] = "MODIFY"
            item = {"entity": "deal", "stage_commission": "compute", "deal_id": f"D{round_number}-{n}"}
        else:
            item = {"entity": "ledger_entry"}  # wanted by no consumer
        item.update(pk=f"ORG#bench#{round_number}#{n}", sk="ITEM", contact_name="Bench Contact", notes="x" * 300)
        record["dynamodb"]["NewImage"] = db.serialize(item)
        record["dynamodb"]["OldImage"] = db.serialize(item)
        record["dynamodb"]["SequenceNumber"] = f"{round_number:08d}{n:013d}"
        record["eventID"] = f"bench-{round_number}-{n}"
        records.append(record)
    return records


def dispatch_case(sqs: Any) -> dict[str, Any]:
    from common.platform import change_fanout

    from tests.support import FakeContext

    handler = __import__("stream_dispatcher.handler", fromlist=["lambda_handler"])
    base_urls: dict[str, str] = json.loads(os.environ["CONSUMER_QUEUE_URLS"])
    urls = dict(base_urls)
    queue_sets = 0
    calls: Counter[str] = Counter()
    handler._sqs().meta.events.register("before-call.sqs.*", lambda model, **_: calls.update([model.name]))
    context = FakeContext(function_name="StreamDispatcher")

    def bare(records: list[dict[str, Any]]) -> None:
        # What the batch needs at least: each wanted record once per queue, ten to a call.
        per_queue: dict[str, list[dict[str, str]]] = {name: [] for name in urls}
        for index, record in enumerate(records):
            body = json.dumps(record, separators=(",", ":"))
            for name in change_fanout.consumers_of(record):
                per_queue[name].append({"Id": str(index), "MessageBody": body})
        for name, entries in per_queue.items():
            for start in range(0, len(entries), 10):
                sqs.send_message_batch(QueueUrl=urls[name], Entries=entries[start : start + 10])

    def fresh_queues() -> None:
        # moto's SQS slows down with every message a queue holds (and purges once a minute): each batch goes
        # to fresh, empty queues, the handler's included.
        nonlocal queue_sets
        queue_sets += 1
        fresh = {
            name: sqs.create_queue(QueueName=f"{url.rsplit('/', 1)[-1]}-{queue_sets}")["QueueUrl"]
            for name, url in base_urls.items()
        }
        urls.update(fresh)
        handler.QUEUE_URLS.update(fresh)

    handler.lambda_handler({"Records": _records(0)}, context)  # warm, like a warm Lambda
    fresh_queues()
    calls.clear()
    handler_ms, bare_ms = [], []
    failures = 0
    for round_number in range(1, ROUNDS + 1):
        records = _records(round_number)
        start = time.perf_counter()
        bare(records)
        bare_ms.append((time.perf_counter() - start) * 1000)
        fresh_queues()
        start = time.perf_counter()
        answer = handler.lambda_handler({"Records": records}, context)
        handler_ms.append((time.perf_counter() - start) * 1000)
        fresh_queues()
        failures += len(answer["batchItemFailures"])
    messages = sum(len(change_fanout.consumers_of(r)) for r in _records(0))
    return {
        "records_per_batch": BATCH,
        "messages_per_batch": messages,
        "rounds": ROUNDS,
        "handler_p50_ms": statistics.median(handler_ms),
        "bare_p50_ms": statistics.median(bare_ms),
        "ratio_p50": statistics.median(handler_ms) / statistics.median(bare_ms),
        "sqs_calls_per_batch": {op: n / ROUNDS for op, n in sorted(calls.items())},
        "failures": failures,
    }


def dispatch_report(result: dict[str, Any]) -> list[str]:
    calls = ", ".join(f"{op} {n:g}" for op, n in result["sqs_calls_per_batch"].items())
    return [
        "",
        f"Stream dispatcher: a batch of {result['records_per_batch']} stream records "
        f"({result['messages_per_batch']} messages to the consumers' queues on moto's SQS), "
        f"median of {result['rounds']} batches:",
        "",
        "| side | ms per batch | SQS calls per batch |",
        "|---|---|---|",
        f"| handler | {result['handler_p50_ms']:.1f} | {calls} |",
        f"| bare SendMessageBatch | {result['bare_p50_ms']:.1f} | |",
        f"| ratio | {result['ratio_p50']:.2f} | |",
    ]
