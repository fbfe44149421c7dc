"""The fan-out of the table's changes: which consumer gets which change, whole; partial failures; the
consumers' side of a message. The dispatcher function against (moto's) SQS:
tests/unit/functions/stream_dispatcher/test_handler.py."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from common.platform import change_fanout, db, queued_changes

from infra import manifest
from tests.support import FakeContext, load_event, queued


def record(event_name: str, seq: int, old: dict[str, Any] | None = None, **new: Any) -> dict[str, Any]:
    sample = copy.deepcopy(load_event("dynamodb_stream_lead_insert.json")["Records"][0])
    sample["eventName"], sample["eventID"] = event_name, f"event-{seq}"
    item = {"pk": f"ORG#o#X#{seq}", "sk": "X", **new}
    sample["dynamodb"]["Keys"] = db.serialize({"pk": item["pk"], "sk": item["sk"]})
    sample["dynamodb"]["NewImage"] = db.serialize(item)
    sample["dynamodb"]["SequenceNumber"] = f"{seq:021d}"
    if old is None:
        sample["dynamodb"].pop("OldImage", None)
    else:
        sample["dynamodb"]["OldImage"] = db.serialize({**item, **old})
    return sample


@pytest.mark.parametrize(
    ("change", "consumers"),
    [
        (record("INSERT", 1, entity="lead", status="pending"), ["LeadsEvents", "IntegrationsEvents"]),
        (
            record("MODIFY", 2, {"status": "queued"}, entity="lead", status="returned"),
            ["LeadsEvents", "IntegrationsEvents"],
        ),
        (record("MODIFY", 3, {"status": "pending"}, entity="lead", status="queued"), ["IntegrationsEvents"]),
        (record("INSERT", 4, entity="deal", stage_commission="none"), ["PartnersEvents", "IntegrationsEvents"]),
        (
            record("MODIFY", 5, {}, entity="deal", stage_commission="compute"),
            ["PartnersEvents", "PayoutsEvents", "IntegrationsEvents"],
        ),
        (record("MODIFY", 6, {}, entity="payout_request", status="paid"), ["PayoutsEvents", "IntegrationsEvents"]),
        (record("INSERT", 7, entity="referral_request"), ["ReferralsEvents", "IntegrationsEvents"]),
        (record("INSERT", 8, entity="ledger_entry", kind="commission"), ["IntegrationsEvents"]),
        (record("INSERT", 9, entity="ledger_entry", kind="payout"), []),
        (record("MODIFY", 10, {}, entity="wallet"), []),
    ],
)
def test_each_change_goes_to_the_consumers_whose_filters_it_matches(
    change: dict[str, Any], consumers: list[str]
) -> None:
    assert change_fanout.consumers_of(change) == consumers
    # The stream mapping's coarse filter lets through whatever some consumer wants.
    if consumers:
        from common.platform import stream_filters

        assert stream_filters.matches_any([change_fanout.stream_filter()], change)


def test_the_manifest_names_the_filters_of_the_fanout() -> None:
    consumers = {f.name: f for f in manifest.FUNCTIONS if f.kind == "queue"}
    assert {name: f.change_filters for name, f in consumers.items()} == dict(change_fanout.CONSUMER_FILTERS)
    assert manifest.STREAM_DISPATCHER.stream_filters == (change_fanout.stream_filter(),)
    assert "referral_request" in change_fanout.entities_wanted() and "wallet" not in change_fanout.entities_wanted()


def test_a_filter_that_names_no_entity_is_refused() -> None:
    with pytest.raises(ValueError, match="Broad"):
        change_fanout.entities_wanted({"Broad": ({"eventName": ["INSERT"]},)})


class Sender:
    """SendMessageBatch as SQS answers it, refusing the ids (or whole calls to the queues) it is told to."""

    def __init__(self, refuse_ids: set[str] = frozenset(), down: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.calls: list[tuple[str, list[dict[str, str]]]] = []
        self.refuse_ids, self.down = refuse_ids, down

    def __call__(self, queue_url: str, entries: list[dict[str, str]]) -> list[str]:
        self.calls.append((queue_url, entries))
        if queue_url in self.down:
            raise ConnectionError("unreachable")
        return [e["Id"] for e in entries if e["Id"] in self.refuse_ids]


URLS = {name: f"https://sqs.test/{name}" for name in change_fanout.CONSUMER_FILTERS}


def test_dispatch_sends_the_whole_record_in_batches_of_ten() -> None:
    records = [record("INSERT", n, entity="lead", status="pending") for n in range(23)]
    sender = Sender()
    outcome = change_fanout.dispatch(records, URLS, sender)

    assert outcome.failed == [] and outcome.sent["LeadsEvents"] == outcome.sent["IntegrationsEvents"] == 23
    for queue in ("LeadsEvents", "IntegrationsEvents"):
        calls = [entries for url, entries in sender.calls if url == URLS[queue]]
        assert [len(entries) for entries in calls] == [10, 10, 3]
        assert [json.loads(e["MessageBody"]) for entries in calls for e in entries] == records
    assert {url for url, _ in sender.calls} == {URLS["LeadsEvents"], URLS["IntegrationsEvents"]}


def test_a_record_not_sent_to_every_queue_is_reported_failed() -> None:
    both = record("MODIFY", 1, {}, entity="deal", stage_commission="compute")
    lead = record("INSERT", 2, entity="lead", status="pending")
    referral = record("INSERT", 3, entity="referral_request")
    sender = Sender(down={URLS["PayoutsEvents"]}, refuse_ids={"1"})  # ids are positions in the batch
    outcome = change_fanout.dispatch([both, lead, referral], URLS, sender)

    assert outcome.failed == [both["dynamodb"]["SequenceNumber"], lead["dynamodb"]["SequenceNumber"]]
    assert outcome.sent == {
        "LeadsEvents": 0,
        "PartnersEvents": 1,
        "ReferralsEvents": 1,
        "PayoutsEvents": 0,
        "IntegrationsEvents": 2,
    }


def test_a_change_too_large_for_a_message_goes_without_its_old_image() -> None:
    big = "x" * 600_000
    change = record("MODIFY", 1, {"notes": big}, entity="lead", status="returned", notes=big)
    body, omitted = change_fanout.message_body(change)
    sent = json.loads(body)

    assert omitted and len(body.encode()) <= change_fanout.MAX_MESSAGE_BYTES
    assert "OldImage" not in sent["dynamodb"] and sent["dynamodb"][change_fanout.OLD_IMAGE_OMITTED] is True
    assert sent["dynamodb"]["NewImage"] == change["dynamodb"]["NewImage"]
    too_big = record("INSERT", 2, entity="lead", notes="y" * (change_fanout.MAX_MESSAGE_BYTES + 1))
    with pytest.raises(ValueError, match="larger than a queue message"):
        change_fanout.message_body(too_big)
    outcome = change_fanout.dispatch([change, too_big], URLS, Sender())
    assert outcome.oversized == 1 and outcome.failed == [too_big["dynamodb"]["SequenceNumber"]]


def in_org(change: dict[str, Any], org_id: str) -> dict[str, Any]:
    change["dynamodb"]["NewImage"]["org_id"] = {"S": org_id}
    return change


def test_a_gate_keeps_the_changes_of_the_organisations_it_does_not_pass_from_its_consumer_only() -> None:
    subscribed = in_org(record("INSERT", 1, entity="lead", status="pending"), "org-subscribed")
    silent = in_org(record("INSERT", 2, entity="lead", status="pending"), "org-silent")
    unnamed = record("INSERT", 3, entity="lead", status="pending")
    asked: list[set[str]] = []

    def gate(orgs: Any) -> set[str]:
        asked.append(set(orgs))
        return {"org-subscribed"}

    sender = Sender()
    outcome = change_fanout.dispatch([subscribed, silent, unnamed], URLS, sender, gates={"IntegrationsEvents": gate})

    assert asked == [{"org-subscribed", "org-silent"}]  # once per batch, each organisation once
    sent = {url: [json.loads(e["MessageBody"]) for e in entries] for url, entries in sender.calls}
    assert sent[URLS["IntegrationsEvents"]] == [subscribed, unnamed]  # a change naming no organisation passes
    assert sent[URLS["LeadsEvents"]] == [subscribed, silent, unnamed]  # other consumers are not gated
    assert outcome.gated == 1 and outcome.failed == [] and outcome.gate_errors == 0


def test_a_sale_reaches_the_integrations_consumer_whatever_its_organisations_endpoints() -> None:
    # Its post is made there (common.integrations.sale_deliveries), endpoints or not.
    sold_lead = in_org(record("MODIFY", 1, {"status": "queued"}, entity="lead", status="sold"), "org-silent")
    sold_customer = in_org(
        record("MODIFY", 2, {}, entity="customer", sale={"sale_id": "s-1", "company_id": "c-1"}), "org-silent"
    )
    converted = in_org(record("MODIFY", 3, {"status": "assigned"}, entity="lead", status="converted"), "org-silent")
    sender = Sender()
    outcome = change_fanout.dispatch(
        [sold_lead, sold_customer, converted], URLS, sender, gates={"IntegrationsEvents": lambda orgs: set()}
    )

    integrations = [
        json.loads(e["MessageBody"])
        for url, entries in sender.calls
        if url == URLS["IntegrationsEvents"]
        for e in entries
    ]
    assert integrations == [sold_lead, sold_customer] and outcome.gated == 1


def test_a_failing_gate_passes_everything_and_fails_nothing() -> None:
    changes = [in_org(record("INSERT", n, entity="lead", status="pending"), f"org-{n}") for n in range(3)]

    def unreachable(orgs: Any) -> set[str]:
        raise ConnectionError("throttled")

    outcome = change_fanout.dispatch(changes, URLS, Sender(), gates={"IntegrationsEvents": unreachable})

    assert outcome.sent["IntegrationsEvents"] == 3 and outcome.failed == []
    assert outcome.gate_errors == 1 and outcome.gated == 0


def test_a_queue_with_no_url_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="no queue for"):
        change_fanout.dispatch([], {"LeadsEvents": "u"}, Sender())


def test_a_consumer_reads_the_change_of_a_message_and_reports_what_failed(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[tuple[Any, Any]] = []

    def react(old: db.Item | None, new: db.Item | None) -> None:
        if new and new.get("poison"):
            raise RuntimeError("cannot")
        seen.append((old, new))

    good = record("MODIFY", 1, {"status": "queued"}, entity="lead", status="returned", email="someone@example.org")
    bad = record("INSERT", 2, entity="lead", poison=True, email="someone@example.org")
    handle = queued_changes.record_handler([react])
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    answer = process_partial_response(
        event=queued(good, bad, receive_count=3), record_handler=handle, processor=processor, context=FakeContext()
    )

    assert answer == {"batchItemFailures": [{"itemIdentifier": bad["dynamodb"]["SequenceNumber"]}]}
    assert [(old["status"], new["status"]) for old, new in seen] == [("queued", "returned")]  # type: ignore[index]
    (failure,) = [r for r in caplog.records if r.levelname == "ERROR"]
    logged = json.dumps(failure.__dict__, default=str)
    assert "event-2" in logged and "someone@example.org" not in logged
