"""The integrations side of `make bench`: what the events cost, and how fast one endpoint is delivered to.

- Events: a batch of table changes (lead conversions and deal stage changes, as the dispatcher sends them)
  processed in-process by the IntegrationsEvents handler, for an organisation with one endpoint subscribed to
  both types, next to the bare calls the same work needs: query the organisation's endpoints, put the event,
  put the delivery (both conditional), send the delivery's message.
- Deliveries (bench/deliveries.py): the WebhookDelivery handler, one message per invocation, posting to a
  receiver on 127.0.0.1, next to the bare work of one attempt.

The endpoint is created through the domain (common.integrations.endpoints) under the local stack's policy
(loopback allowed), which BASE_ENV sets.
"""

from __future__ import annotations

import copy
import json
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from bench import deliveries as delivery_bench
from bench.deliveries import Calls, queue_environment, receiving
from bench.measure import percentile

EVENT_CHANGES = int(os.environ.get("BENCH_EVENT_CHANGES", "100"))
WARM = 4
EVENT_TYPES = ["lead.converted", "deal.stage_changed"]


# -- the changes -----------------------------------------------------------------------------------------


Images = tuple[dict[str, Any], dict[str, Any]]  # an item before and after one change


def _templates(org_id: str, admin: str) -> dict[str, Images]:
    """A lead's conversion and a deal's move to another stage, made by the domain itself and read back
    before and after: the changes measured are copies of these two with other ids."""
    from common.deals import deal_records, staff_deals
    from common.leads import actions, intake, queue
    from common.leads.model import lead_key
    from common.orgs import workflows
    from common.orgs.access import member_from_item
    from common.platform import db

    def read(key: db.Key) -> dict[str, Any]:
        return db.get(key, consistent=True) or {}

    owner = member_from_item(read({"pk": f"ORG#{org_id}", "sk": f"MEMBER#{admin}"}))
    contact = {"contact_name": "Bench Contact", "phone": "+15550100", "email": "contact@bench.example"}
    lead = intake.enter_lead(
        org_id, owner, intake.ManualLead.model_validate({**contact, "location": "queue", "source_id": "self-generated"})
    )
    queue.claim_next(org_id, owner)
    key = lead_key(org_id, lead["lead_id"])
    lead_before = read(key)
    actions.convert(org_id, lead["lead_id"], owner)
    lead_after = read(key)

    stages = {"name": "Sales", "stages": [{"name": "New"}, {"name": "Qualified"}]}
    workflow = workflows.create_workflow(org_id, workflows.NewWorkflow.model_validate(stages), admin)
    new_deal = staff_deals.NewDeal.model_validate(
        {
            "workflow_id": workflow["workflow_id"],
            "title": "Bench deal",
            "contacts": [{"first_name": "Casey", "last_name": "Client"}],
        }
    )
    deal = staff_deals.create_deal(org_id, owner, new_deal)
    key = deal_records.deal_key(org_id, deal["deal_id"])
    deal_before = read(key)
    change = staff_deals.StageChange(stage_id=workflow["stages"][1]["stage_id"])
    staff_deals.move_deal(org_id, deal["deal_id"], owner, change)
    return {"lead": (lead_before, lead_after), "deal": (deal_before, read(key))}


def _changes(org_id: str, templates: dict[str, Images], count: int, first: int) -> list[dict[str, Any]]:
    """`count` stream records numbered from `first`, as the dispatcher sends them: lead conversions and deal
    stage changes in turn, each of another lead or deal."""
    from common.deals.deal_records import deal_key
    from common.leads.model import lead_key
    from common.platform import ids

    from tests.support import stream_record

    records = []
    for sequence in range(first, first + count):
        entity, key = ("deal", deal_key) if sequence % 2 else ("lead", lead_key)
        entity_id = ids.new_id()
        old, new = (
            {**copy.deepcopy(image), **key(org_id, entity_id), f"{entity}_id": entity_id} for image in templates[entity]
        )
        records.append(stream_record("MODIFY", new, old, seq=sequence))
    return records


def run(raw: Any, table: str, admin: str, take_trips: Callable[[], Counter[str]]) -> dict[str, Any]:
    """Both cases, for a new organisation whose one endpoint (created as an admin creates it) subscribes to
    the changes' event types and posts to a receiver started here. `take_trips` returns (and resets) the
    DynamoDB calls the handlers' client made."""
    from common.integrations import endpoints
    from common.integrations.change_events import events_of
    from common.integrations.endpoint_models import NewWebhookEndpoint
    from common.orgs import organisations

    org_id = organisations.create_organisation(organisations.NewOrganisation(name="Bench integrations"), admin)[
        "org_id"
    ]
    with receiving() as receiver:
        new = NewWebhookEndpoint(url=receiver.url, description="Bench receiver", event_types=EVENT_TYPES)
        endpoint = endpoints.create_endpoint(org_id, new, admin)
        templates = _templates(org_id, admin)
        events = events_case(raw, table, org_id, endpoint, templates, take_trips)
        (template,) = events_of(_changes(org_id, templates, 1, 0)[0])
        sent = delivery_bench.delivery_case(raw, table, endpoint, template, receiver, take_trips)
    return {"events": events, "deliveries": sent}


# -- the events' overhead ------------------------------------------------------------------------------


def events_case(
    raw: Any,
    table: str,
    org_id: str,
    endpoint: dict[str, Any],
    templates: dict[str, Images],
    take_trips: Callable[[], Counter[str]],
) -> dict[str, Any]:
    """EVENT_CHANGES changes in one IntegrationsEvents invocation (after a warm-up batch), then the bare calls
    for as many other changes, prepared beforehand (each event, delivery and message built outside the
    timing) and made with the raw clients. Each side sends to a queue of its own."""
    import boto3
    from common.integrations import deliveries, delivery_queue, endpoint_counts, events
    from common.integrations.change_events import events_of
    from common.platform import clock, db
    from common.platform.table_schema import TTL_ATTRIBUTE

    from tests.support import FakeContext, queued

    handler = __import__("integrations.events", fromlist=["lambda_handler"])
    context = FakeContext(function_name="IntegrationsEvents")
    warm, handled, bare_changes = (
        _changes(org_id, templates, WARM, 1),
        _changes(org_id, templates, EVENT_CHANGES, 1 + WARM),
        _changes(org_id, templates, EVENT_CHANGES, 1 + WARM + EVENT_CHANGES),
    )
    sqs = boto3.client("sqs")
    bare_queue = queue_environment(sqs, f"{table}-bare")["WEBHOOK_QUEUE_URL"]
    now = clock.now()
    prepared = []
    for change in bare_changes:
        (event,) = events_of(change)
        event_item = {
            **events.event_key(event.org_id, event.occurred_at, event.id),
            "entity": events.ENTITY,
            **event.model_dump(mode="json"),
            TTL_ATTRIBUTE: int((now + events.EVENT_RETENTION).timestamp()),
        }
        delivery = deliveries.new_item(org_id, endpoint["endpoint_id"], event.occurred_at, event.id, event.type, now)
        body = json.dumps(delivery_queue.carrier(delivery), separators=(",", ":"))
        prepared.append((db.serialize(event_item), db.serialize(delivery), body))
    subscribers = {
        ":pk": {"S": endpoint_counts.webhooks_partition(org_id)},
        ":prefix": {"S": "ENDPOINT#"},
    }

    sent = Calls(delivery_queue._sqs(), "sqs", mark="SendMessageBatch")
    answer = handler.lambda_handler(queued(*warm), context)
    assert not answer["batchItemFailures"], answer
    take_trips()
    sent.take()
    batch = queued(*handled)
    started = time.perf_counter()
    answer = handler.lambda_handler(batch, context)
    handler_total = (time.perf_counter() - started) * 1000
    handler_ms = [(b - a) * 1000 for a, b in zip([started, *sent.marks], sent.marks, strict=False)]
    counted, sqs_counted = take_trips(), sent.take()
    failures = len(answer["batchItemFailures"])

    # The bare side right after the handler's batch, so that drift of the machine affects both alike.
    bare_ms = []
    started = time.perf_counter()
    for event_item, delivery, body in prepared:
        start = time.perf_counter()
        raw.query(
            TableName=table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=subscribers,
            ConsistentRead=True,
        )
        raw.put_item(TableName=table, Item=event_item, ConditionExpression="attribute_not_exists(pk)")
        raw.put_item(TableName=table, Item=delivery, ConditionExpression="attribute_not_exists(pk)")
        sqs.send_message(QueueUrl=bare_queue, MessageBody=body)
        bare_ms.append((time.perf_counter() - start) * 1000)
    bare_total = (time.perf_counter() - started) * 1000
    created = _deliveries_of(org_id, endpoint["endpoint_id"], handled)
    return {
        "changes": EVENT_CHANGES,
        "event_types": EVENT_TYPES,
        "batch_item_failures": failures,
        "deliveries_created": created,
        "round_trips": {op: n / EVENT_CHANGES for op, n in sorted(counted.items())},
        "sqs_calls": {op: n / EVENT_CHANGES for op, n in sorted(sqs_counted.items())},
        "bare_calls": "Query + PutItem + PutItem + SendMessage",
        "handler_total_ms": handler_total,
        "handler_p50_ms": statistics.median(handler_ms),
        "handler_p95_ms": percentile(handler_ms, 0.95),
        "bare_total_ms": bare_total,
        "bare_p50_ms": statistics.median(bare_ms),
        "bare_p95_ms": percentile(bare_ms, 0.95),
        "ratio": handler_total / bare_total,
        "changes_per_second": EVENT_CHANGES / (handler_total / 1000),
        "bare_changes_per_second": EVENT_CHANGES / (bare_total / 1000),
    }


def _deliveries_of(org_id: str, endpoint_id: str, changes: list[dict[str, Any]]) -> int:
    """How many of the changes' deliveries to the endpoint exist."""
    from common.integrations import deliveries
    from common.integrations.change_events import events_of
    from common.platform import db

    keys = [
        deliveries.delivery_key(org_id, endpoint_id, event.occurred_at, event.id)
        for change in changes
        for event in events_of(change)
    ]
    return len(db.batch_get(keys, consistent=True))


# -- the report --------------------------------------------------------------------------------------


def _calls(*counts: dict[str, float]) -> str:
    return ", ".join(f"{op} {n:g}" for count in counts for op, n in count.items())


def report(result: dict[str, Any]) -> list[str]:
    events, sent = result["events"], result["deliveries"]
    return [
        "",
        f"Events: a batch of {events['changes']} table changes (lead conversions and deal stage changes, one event "
        "each, one endpoint subscribed) in one IntegrationsEvents invocation, against the bare calls the same "
        f"work needs ({events['bare_calls']} per change). A command pays none of it: its events come from the "
        "table's stream, after it answered.",
        "",
        "| side | batch ms | changes per second | per change p50 ms | per change p95 ms | calls per change |",
        "|---|---|---|---|---|---|",
        f"| handler | {events['handler_total_ms']:.0f} | {events['changes_per_second']:.0f} "
        f"| {events['handler_p50_ms']:.2f} | {events['handler_p95_ms']:.2f} "
        f"| {_calls(events['round_trips'], events['sqs_calls'])} |",
        f"| bare | {events['bare_total_ms']:.0f} | {events['bare_changes_per_second']:.0f} "
        f"| {events['bare_p50_ms']:.2f} | {events['bare_p95_ms']:.2f} | 4 |",
        f"| ratio | {events['ratio']:.2f} | | | | |",
        "",
        f"Deliveries created: {events['deliveries_created']}; records reported failed: "
        f"{events['batch_item_failures']}.",
        "",
        f"One endpoint's deliveries: {sent['deliveries']} messages, each in its own WebhookDelivery invocation "
        "(batch size 1), one after another, to a receiver on 127.0.0.1 answering 204, against the bare work "
        f"of an attempt ({sent['bare_calls']}), alternating in {delivery_bench.BLOCKS} blocks:",
        "",
        "| side | total ms | deliveries per second | per delivery p50 ms | per delivery p95 ms | calls per delivery |",
        "|---|---|---|---|---|---|",
        f"| handler | {sent['handler_total_ms']:.0f} | {sent['deliveries_per_second']:.0f} "
        f"| {sent['handler_p50_ms']:.2f} | {sent['handler_p95_ms']:.2f} "
        f"| {_calls(sent['round_trips'], sent['sqs_calls'])} |",
        f"| bare | {sent['bare_total_ms']:.0f} | {sent['bare_deliveries_per_second']:.0f} "
        f"| {sent['bare_p50_ms']:.2f} | {sent['bare_p95_ms']:.2f} | 3 |",
        f"| ratio | {sent['ratio']:.2f} | | | | |",
        "",
        f"Succeeded: {sent['succeeded']} of {sent['deliveries']}; received exactly once: {sent['received_once']}; "
        f"signatures verified by the Standard Webhooks library: {sent['verified']} of {sent['received']} "
        "requests (both sides, warm-up included).",
    ]
