"""One endpoint's delivery throughput, for `make bench` (bench/integrations.py sets the endpoint up): the
WebhookDelivery handler invoked once per message (batch size 1, as deployed), the messages received from a
fresh delivery queue on moto's SQS, posting to a receiver on 127.0.0.1 started by the benchmark; next to the
bare work of one attempt: read the delivery, take its lease, one signed POST of the same body, record the
attempt."""

from __future__ import annotations

import http.client
import itertools
import os
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from bench.measure import percentile, timed

DELIVERIES = int(os.environ.get("BENCH_DELIVERIES", "200"))
WARM = 4
BLOCKS = 4  # the sides alternate in blocks, so that drift of the machine hits both alike
LEASE = timedelta(seconds=60)

if TYPE_CHECKING:
    from common.integrations.events import Event


def queue_environment(sqs: Any, prefix: str) -> dict[str, str]:
    """A fresh delivery queue on moto's SQS, and the variable its producers and the delivery function read."""
    from common.platform.settings import environment

    url = sqs.create_queue(QueueName=f"{prefix}-WebhookDelivery")["QueueUrl"]
    return environment(webhook_queue_url=url)


class Calls:
    """A client's API calls per operation name (SQS's, or DynamoDB's through another client than the counted
    one), and perf_counter after each call of `mark`."""

    def __init__(self, client: Any, service: str, mark: str | None = None) -> None:
        self.calls: Counter[str] = Counter()
        self.marks: list[float] = []
        client.meta.events.register(f"before-call.{service}.*", self._count)
        if mark:
            client.meta.events.register(f"after-call.{service}.{mark}", self._mark)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def _mark(self, **_: Any) -> None:
        self.marks.append(time.perf_counter())

    def take(self) -> Counter[str]:
        taken, self.calls, self.marks = self.calls, Counter(), []
        return taken


# -- the receiver --------------------------------------------------------------------------------------


class Receiver:
    """The endpoint's far end on 127.0.0.1: answers 204 at once and keeps what it got (verified afterwards,
    not while timed: it shares this process's CPU with both sides)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], str]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                with receiver.lock:
                    receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"

    def ids(self) -> Counter[str]:
        with self.lock:
            return Counter(headers["webhook-id"] for headers, _ in self.received)


@contextmanager
def receiving() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        thread.join(5)


def delivery_case(
    raw: Any,
    table: str,
    endpoint: dict[str, Any],
    template: Event,
    receiver: Receiver,
    take_trips: Callable[[], Counter[str]],
) -> dict[str, Any]:
    """DELIVERIES deliveries to the endpoint of copies of the event `template` (other ids), fanned out by the
    domain to a fresh delivery queue and received from it, each message handed to the WebhookDelivery handler
    alone (after a few to warm it). The bare side: as many other deliveries, each read, leased, posted (signed
    with the Standard Webhooks library, the body prepared beforehand) and recorded with the raw clients."""
    import boto3
    from common.integrations import deliveries, delivery_queue, events
    from common.platform import clock, db
    from common.platform.settings import WebhookQueue, get_settings
    from standardwebhooks.webhooks import Webhook

    from local.queue_poller import sqs_record
    from tests.support import FakeContext

    sqs = boto3.client("sqs")
    # A queue of its own: moto's SQS slows down with every message a queue holds.
    os.environ.update(queue_environment(sqs, f"{table}-deliveries"))
    get_settings.cache_clear()
    url = get_settings(WebhookQueue).webhook_queue_url
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    handler = __import__("integrations.delivery", fromlist=["lambda_handler"])
    context = FakeContext(function_name="WebhookDelivery")
    org_id = endpoint["org_id"]

    def new_event(n: int) -> Event:
        event = template.model_copy(update={"id": events.event_id(f"bench-delivery-{n}", template.type)})
        events.record(event)
        return event

    handler_ids = []
    for n in range(WARM + DELIVERIES):
        event = new_event(n)
        deliveries.fan_out(event)
        handler_ids.append(event.id)
    records: list[dict[str, Any]] = []
    # As Lambda's SQS mapping hands them over (with their system attributes), before anything is timed.
    receive = {"QueueUrl": url, "MaxNumberOfMessages": 10, "MessageSystemAttributeNames": ["All"]}
    while messages := sqs.receive_message(**receive).get("Messages", []):
        records += [sqs_record(m, arn, "us-east-1") for m in messages]
    assert len(records) == WARM + DELIVERIES, len(records)
    bare_ids, prepared = [], []
    for n in range(WARM + DELIVERIES, WARM + 2 * DELIVERIES):
        event = new_event(n)
        item = deliveries.create(
            deliveries.new_item(org_id, endpoint["endpoint_id"], event.occurred_at, event.id, event.type, clock.now())
        )
        assert item is not None
        bare_ids.append(event.id)
        prepared.append((db.serialize({"pk": item["pk"], "sk": item["sk"]}), event.model_dump_json(), event.id))
    webhook = Webhook(endpoint["secret"])

    def bare(n: int) -> None:
        key, body, event_id = prepared[n]
        item = raw.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
        now = datetime.now(UTC)
        holder = f"bench-{n}"
        raw.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET lease_id = :holder, lease_until = :until",
            ConditionExpression="#status = :pending AND round_attempts = :attempt "
            "AND (attribute_not_exists(lease_until) OR lease_until < :now)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=db.serialize(
                {
                    ":holder": holder,
                    ":until": clock.iso(now + LEASE),
                    ":pending": "pending",
                    ":attempt": int(item["round_attempts"]["N"]),
                    ":now": clock.iso(now),
                }
            ),
        )
        started = time.perf_counter()
        headers = {
            "webhook-id": event_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": webhook.sign(event_id, now, body),
            "Content-Type": "application/json",
        }
        # A connection per attempt, as the engine's (its address pinned): no keep-alive between deliveries.
        connection = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=15)
        try:
            connection.request("POST", "/hooks", body=body.encode(), headers=headers)
            response = connection.getresponse()
            excerpt = response.read(64 * 1024).decode()
        finally:
            connection.close()
        attempt = {
            "at": clock.iso(now),
            "status_code": response.status,
            "duration_ms": int((time.perf_counter() - started) * 1000),
            "excerpt": excerpt,
        }
        raw.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET #status = :succeeded, attempts = list_append(attempts, :attempt), "
            "round_attempts = round_attempts + :one, attempt_count = attempt_count + :one, updated_at = :at "
            "REMOVE lease_id, lease_until, next_attempt_at",
            ConditionExpression="lease_id = :holder",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=db.serialize(
                {":succeeded": "succeeded", ":attempt": [attempt], ":one": 1, ":at": attempt["at"], ":holder": holder}
            ),
        )

    failures = 0

    def delivered(n: int) -> None:
        nonlocal failures
        failures += len(handler.lambda_handler({"Records": [records[n]]}, context)["batchItemFailures"])

    sent = Calls(delivery_queue._sqs(), "sqs")
    for n in range(WARM):  # warm, like a warm Lambda
        delivered(n)
    take_trips()
    sent.take()
    handler_ms, bare_ms = [], []
    bounds = [DELIVERIES * b // BLOCKS for b in range(BLOCKS + 1)]
    for start, end in itertools.pairwise(bounds):
        bare_ms += timed(lambda i, s=start: bare(s + i), end - start)  # type: ignore[misc]
        handler_ms += timed(lambda i, s=start: delivered(WARM + s + i), end - start)  # type: ignore[misc]
    counted, sqs_counted = take_trips(), sent.take()

    received = receiver.ids()
    handler_ids = handler_ids[WARM:]
    keys = [deliveries.delivery_key(org_id, endpoint["endpoint_id"], template.occurred_at, i) for i in handler_ids]
    statuses = Counter(item["status"] for item in db.batch_get(keys, consistent=True))
    with receiver.lock:
        verified = sum(_verifies(webhook, headers, body) for headers, body in receiver.received)
    return {
        "deliveries": DELIVERIES,
        "warm": WARM,
        "batch_item_failures": failures,
        "succeeded": statuses["succeeded"],
        "received_once": sum(received[i] == 1 for i in handler_ids),
        "bare_received_once": sum(received[i] == 1 for i in bare_ids),
        "received": sum(received.values()),
        "verified": verified,
        "round_trips": {op: n / DELIVERIES for op, n in sorted(counted.items())},
        "sqs_calls": {op: n / DELIVERIES for op, n in sorted(sqs_counted.items())},
        "bare_calls": "GetItem + UpdateItem + POST + UpdateItem",
        "handler_total_ms": sum(handler_ms),
        "handler_p50_ms": statistics.median(handler_ms),
        "handler_p95_ms": percentile(handler_ms, 0.95),
        "bare_total_ms": sum(bare_ms),
        "bare_p50_ms": statistics.median(bare_ms),
        "bare_p95_ms": percentile(bare_ms, 0.95),
        "ratio": sum(handler_ms) / sum(bare_ms),
        "deliveries_per_second": DELIVERIES / (sum(handler_ms) / 1000),
        "bare_deliveries_per_second": DELIVERIES / (sum(bare_ms) / 1000),
    }


def _verifies(webhook: Any, headers: dict[str, str], body: str) -> bool:
    from standardwebhooks.webhooks import WebhookVerificationError

    try:
        webhook.verify(body, headers)
    except WebhookVerificationError:
        return False
    return True
