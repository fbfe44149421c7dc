"""The table's changes, fanned out: one reader of the stream hands each change record to the queue of every
consumer that wants it.

The consumers' filters live here, in the layer, because the dispatcher function applies them at run time;
infra/manifest.py names them for the deployment and the local stack, so there is one definition. A pattern
is a Lambda filter-criteria pattern (common.platform.stream_filters). The message body is the whole stream record
as Lambda delivers it, so a queue's dead-letter queue keeps the change itself, not a pointer into a stream
that forgets after 24 hours.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from common.platform import stream_filters

Pattern = dict[str, Any]

LEADS_EVENTS = "LeadsEvents"
PARTNERS_EVENTS = "PartnersEvents"
REFERRALS_EVENTS = "ReferralsEvents"
PAYOUTS_EVENTS = "PayoutsEvents"
INTEGRATIONS_EVENTS = "IntegrationsEvents"

# A customer that carries a sale (common.leads.sales): its e-mails and post follow the change that sold it.
SOLD_CUSTOMER: Pattern = {
    "eventName": ["MODIFY"],
    "dynamodb": {"NewImage": {"entity": {"S": ["customer"]}, "sale": {"M": {"sale_id": {"S": [{"exists": True}]}}}}},
}

CONSUMER_FILTERS: Mapping[str, tuple[Pattern, ...]] = {
    # Only the changes that send mail: a lead arriving, a lead becoming returned, a customer sold to us arriving,
    # a lead or customer we sold.
    LEADS_EVENTS: (
        {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"entity": {"S": ["lead"]}}}},
        {
            "eventName": ["MODIFY"],
            "dynamodb": {"NewImage": {"entity": {"S": ["lead"]}, "status": {"S": ["returned", "sold"]}}},
        },
        {
            "eventName": ["INSERT"],
            "dynamodb": {"NewImage": {"entity": {"S": ["customer"]}, "origin": {"S": ["purchased"]}}},
        },
        SOLD_CUSTOMER,
    ),
    # The partner items whose changes send mail or update copies elsewhere.
    PARTNERS_EVENTS: (
        {
            "dynamodb": {
                "NewImage": {
                    "entity": {
                        "S": [
                            "partner_node",
                            "partner_account",
                            "invitation",
                            "email_confirmation",
                            "registration_attempt",
                            "sender_confirmation",
                            "deal",
                            "deal_share",
                            "deal_note",
                        ]
                    }
                }
            }
        },
    ),
    # New referral requests: their texts go out to the team's eligible members.
    # Requests made for an area that expired: offered on to the next team of their route.
    REFERRALS_EVENTS: (
        {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"entity": {"S": ["referral_request"]}}}},
        {
            "eventName": ["MODIFY"],
            "dynamodb": {
                "NewImage": {
                    "entity": {"S": ["referral_request"]},
                    "status": {"S": ["expired"]},
                    "area": {"S": [{"exists": True}]},
                }
            },
        },
    ),
    # A deal moved to a stage that computes or reverses commission, and a payout request settled.
    PAYOUTS_EVENTS: (
        {
            "eventName": ["MODIFY"],
            "dynamodb": {"NewImage": {"entity": {"S": ["deal"]}, "stage_commission": {"S": ["compute", "reverse"]}}},
        },
        {
            "eventName": ["MODIFY"],
            "dynamodb": {"NewImage": {"entity": {"S": ["payout_request"]}, "status": {"S": ["paid", "rejected"]}}},
        },
    ),
    # The entities whose changes are events (common.integrations.change_events): every change of the records
    # that change, the arrival of those put once, and the ledger entries other than payouts' (a payout is told
    # by its request).
    INTEGRATIONS_EVENTS: (
        {
            "dynamodb": {
                "NewImage": {
                    "entity": {
                        "S": [
                            "lead",
                            "partner_node",
                            "deal",
                            "payout_request",
                            "team_customer",
                            "referral_request",
                            "removal_request",
                            "team",
                        ]
                    }
                }
            }
        },
        {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"entity": {"S": ["customer", "invitation"]}}}},
        SOLD_CUSTOMER,
        {
            "eventName": ["INSERT"],
            "dynamodb": {
                "NewImage": {"entity": {"S": ["ledger_entry"]}, "kind": {"S": ["commission", "reversal", "correction"]}}
            },
        },
    ),
}

# The changes a gated consumer (dispatch's `gates`) gets whatever their organisation: the integrations consumer
# posts the sales by post (common.integrations.sale_deliveries) of every organisation, webhook endpoints or not.
SOLD_LEAD: Pattern = {
    "eventName": ["MODIFY"],
    "dynamodb": {"NewImage": {"entity": {"S": ["lead"]}, "status": {"S": ["sold"]}}},
}
UNGATED: Mapping[str, tuple[Pattern, ...]] = {INTEGRATIONS_EVENTS: (SOLD_LEAD, SOLD_CUSTOMER)}

# SQS's largest message (1 MiB). An item is at most 400 KB, but a record carries two images.
MAX_MESSAGE_BYTES = 1_048_576
# SendMessageBatch: at most 10 messages and 1 MiB in all per call.
MAX_BATCH_ENTRIES = 10
# Set on a record sent without its old image because both images did not fit in one message.
OLD_IMAGE_OMITTED = "OldImageOmitted"


def entities_wanted(filters: Mapping[str, Sequence[Pattern]] = CONSUMER_FILTERS) -> list[str]:
    """Every entity some consumer wants. Each pattern must name its entities (NewImage.entity.S), which lets
    the stream mapping drop everything else before the dispatcher is even invoked."""
    entities: set[str] = set()
    for consumer, patterns in filters.items():
        for pattern in patterns:
            named = pattern.get("dynamodb", {}).get("NewImage", {}).get("entity", {}).get("S")
            if not named or not all(isinstance(e, str) for e in named):
                raise ValueError(f"a filter of {consumer} does not name the entities it wants")
            entities.update(named)
    return sorted(entities)


def stream_filter(filters: Mapping[str, Sequence[Pattern]] = CONSUMER_FILTERS) -> Pattern:
    """The dispatcher's own, coarser filter (Lambda allows few patterns per mapping): the wanted entities."""
    return {"dynamodb": {"NewImage": {"entity": {"S": entities_wanted(filters)}}}}


def consumers_of(record: Mapping[str, Any], filters: Mapping[str, Sequence[Pattern]] = CONSUMER_FILTERS) -> list[str]:
    return [name for name, patterns in filters.items() if stream_filters.matches_any(patterns, record)]


def message_body(record: Mapping[str, Any], limit: int = MAX_MESSAGE_BYTES) -> tuple[str, bool]:
    """The record as one message, and whether its old image had to be left out: a change too large for a
    message goes without it (marked), since every consumer decides from the new image and current state."""
    body = json.dumps(record, separators=(",", ":"))
    if len(body.encode()) <= limit:
        return body, False
    change = {k: v for k, v in record["dynamodb"].items() if k != "OldImage"}
    body = json.dumps({**record, "dynamodb": {**change, OLD_IMAGE_OMITTED: True}}, separators=(",", ":"))
    if len(body.encode()) > limit:
        raise ValueError(f"change {record.get('eventID')} is larger than a queue message even without its old image")
    return body, True


def sequence_number(record: Mapping[str, Any]) -> str:
    return str(record["dynamodb"]["SequenceNumber"])


@dataclass
class Outcome:
    sent: dict[str, int]  # messages per consumer
    failed: list[str]  # sequence numbers of the records not delivered to every queue that wants them
    oversized: int = 0  # records sent without their old image
    gated: int = 0  # records a consumer's gate kept from its queue
    gate_errors: int = 0  # gates that failed, so their consumers were sent everything their filters match


# A consumer's gate: given the organisations of the changes its filters match, those whose changes it wants.
# It narrows what filters cannot say (whether an organisation uses the consumer at all), for one read per batch.
Gate = Callable[[Collection[str]], Collection[str]]


SendBatch = Callable[[str, list[dict[str, str]]], list[str]]


def sqs_sender(client: Any) -> SendBatch:
    """SendMessageBatch on `client`, returning the ids of the entries SQS refused."""

    def send(queue_url: str, entries: list[dict[str, str]]) -> list[str]:
        response = client.send_message_batch(QueueUrl=queue_url, Entries=entries)
        return [str(failure["Id"]) for failure in response.get("Failed", [])]

    return send


def batches(entries: list[dict[str, str]]) -> Iterable[list[dict[str, str]]]:
    """SendMessageBatch entries in the batches SQS accepts, in order: at most 10 and 1 MiB of bodies each."""
    chunk: list[dict[str, str]] = []
    size = 0
    for entry in entries:
        entry_size = len(entry["MessageBody"].encode())
        if chunk and (len(chunk) == MAX_BATCH_ENTRIES or size + entry_size > MAX_MESSAGE_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(entry)
        size += entry_size
    if chunk:
        yield chunk


def dispatch(
    records: Sequence[Mapping[str, Any]],
    queue_urls: Mapping[str, str],
    send: SendBatch,
    filters: Mapping[str, Sequence[Pattern]] = CONSUMER_FILTERS,
    gates: Mapping[str, Gate] | None = None,
    ungated: Mapping[str, Sequence[Pattern]] = UNGATED,
) -> Outcome:
    """Send each record to the queue of every consumer whose filters it matches, and whose gate (if it has
    one) passes the record's organisation. A record that did not reach all of its queues is reported failed:
    the stream mapping retries from it, and a queue that had it already gets it twice, which every consumer
    tolerates. The changes `ungated` names for a consumer pass its gate whatever their organisation. A gate
    that fails passes everything: a gated consumer checks for itself, so a gate only saves
    work, and the dispatcher's one failure stays SQS."""
    missing = set(filters) - set(queue_urls)
    if missing:
        raise ValueError(f"no queue for {', '.join(sorted(missing))}")
    outcome = Outcome(sent=dict.fromkeys(filters, 0), failed=[])
    per_queue: dict[str, list[dict[str, str]]] = {name: [] for name in filters}
    failed: set[int] = set()
    for index, record in enumerate(records):
        wanted_by = consumers_of(record, filters)
        if not wanted_by:
            continue
        try:
            body, omitted = message_body(record)
        except ValueError:
            failed.add(index)
            continue
        outcome.oversized += omitted
        for name in wanted_by:
            per_queue[name].append({"Id": str(index), "MessageBody": body})
    for name, gate in (gates or {}).items():
        per_queue[name] = _through_gate(gate, ungated.get(name, ()), per_queue[name], records, outcome)
    for name, entries in per_queue.items():
        for chunk in batches(entries):
            try:
                refused = set(send(queue_urls[name], chunk))
            except Exception:  # the whole call failed (throttled, unreachable): every record of it is retried
                refused = {entry["Id"] for entry in chunk}
            failed.update(int(entry_id) for entry_id in refused)
            outcome.sent[name] += len(chunk) - len(refused)
    outcome.failed = [sequence_number(records[i]) for i in sorted(failed)]
    return outcome


def org_of(record: Mapping[str, Any]) -> str | None:
    """The organisation a change belongs to (its new image's `org_id`), if it names one."""
    org = record.get("dynamodb", {}).get("NewImage", {}).get("org_id", {}).get("S")
    return str(org) if org else None


def _through_gate(
    gate: Gate,
    exempt: Sequence[Pattern],
    entries: list[dict[str, str]],
    records: Sequence[Mapping[str, Any]],
    outcome: Outcome,
) -> list[dict[str, str]]:
    """The entries whose records' organisations the gate passes; a record naming none, or matching `exempt`, is
    kept."""
    orgs: dict[str, str | None] = {}
    for entry in entries:
        record = records[int(entry["Id"])]
        orgs[entry["Id"]] = None if stream_filters.matches_any(exempt, record) else org_of(record)
    named = {org for org in orgs.values() if org}
    if not named:
        return entries
    try:
        passed = set(gate(named))
    except Exception:  # throttled, unreachable: send everything, the consumer decides for itself
        outcome.gate_errors += 1
        return entries
    kept = [entry for entry in entries if orgs[entry["Id"]] is None or orgs[entry["Id"]] in passed]
    outcome.gated += len(entries) - len(kept)
    return kept
