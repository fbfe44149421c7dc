"""The 30-day lapse (seed 003): an ACTIVE partner whose last lead is more than 30 days old becomes LAPSED.

The daily sweep reads the lapse index (gsi3: only ACTIVE nodes are in it, sharded by partner, sorted by last-lead
time) up to the cut-off, so its reads grow with the partners due, not with all partners, and hands each page
of due partners on (`hand_on`: one message of their keys per page). The sweep's work function lapses them
(`work`): it reads the nodes again and makes each one that is still due LAPSED with one UpdateItem,
conditioned on the node still being ACTIVE with the last lead read. A lead arriving meanwhile wins, and a
message delivered twice, or a second run, finds nothing more to do (a lapsed node has left the index)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from common.partners.partner_records import (
    LAPSE_AFTER_DAYS,
    LAPSE_SHARDS,
    NODE_HISTORY,
    SYSTEM_ACTOR,
    PartnerStatus,
    history_event,
    lapse_shard,
    node_key,
    status_partition,
)
from common.platform import clock, db, history, listings
from common.platform.errors import Conflict
from common.platform.sweep_counts import Counts, WorkCounts

S = PartnerStatus
# Index entries per query, and so partners per message handed on.
PAGE_SIZE = 100
# The work messages' "job".
JOB = "lapse"


@dataclass
class SweepCounts(Counts):
    due: int = 0  # index entries older than the cut-off
    items_read: int = 0  # items DynamoDB returned to the sweep's queries
    handed_on: int = 0  # messages (pages of due partners) handed on


@dataclass
class LapseCounts(WorkCounts):
    lapsed: int = 0  # of the partners the message named, made LAPSED now


def _due(shard: int, cutoff: str, client: Any) -> Iterator[list[db.Item]]:
    return listings.index_pages(
        listings.IndexKey("gsi3", lapse_shard(shard), sort_below=cutoff), limit=PAGE_SIZE, client=client
    )


def lapse(node: db.Item, *, client: Any = None) -> bool:
    """Make one ACTIVE node LAPSED, if it is still ACTIVE with the last lead it was read with."""
    org_id, partner_id = node["org_id"], node["partner_id"]
    event = history_event("lapsed", SYSTEM_ACTOR, status=S.LAPSED.value, last_lead_at=node["last_lead_at"])

    def write(addition: history.Addition) -> db.Item:
        return history.update(
            node_key(org_id, partner_id),
            addition,
            expression=(
                f"SET #status = :lapsed, gsi1pk = :g1pk, updated_at = :at, {addition.expression} "
                "REMOVE gsi3pk, gsi3sk ADD version :one"
            ),
            condition="#status = :active AND last_lead_at = :last AND attribute_not_exists(removed_at) "
            f"AND {addition.condition}",
            names={"#status": "status"},
            values={
                ":lapsed": S.LAPSED.value,
                ":active": S.ACTIVE.value,
                ":g1pk": status_partition(org_id, S.LAPSED.value),
                ":at": event["at"],
                ":one": 1,
                ":last": node["last_lead_at"],
            },
            on_conflict=Conflict("no longer due"),
            client=client,
        )

    try:
        # The node as the index holds it: its history is decided again if the index was behind.
        history.attempt(history.Addition(NODE_HISTORY, [event], node), write)
    except Conflict:
        return False
    return True


def hand_on(send: Callable[[dict[str, Any]], None], *, client: Any = None) -> SweepCounts:
    """Read the partners due (every lapse shard up to the cut-off) and `send` one message per page of them."""
    cutoff = clock.iso(clock.now() - timedelta(days=LAPSE_AFTER_DAYS))
    counts = SweepCounts()
    for shard in range(LAPSE_SHARDS):
        for items in _due(shard, cutoff, client):
            counts.items_read += len(items)
            counts.due += len(items)
            if items:
                send({"job": JOB, "cutoff": cutoff, "partners": [[i["org_id"], i["partner_id"]] for i in items]})
                counts.handed_on += 1
    return counts


def _still_due(node: db.Item, cutoff: str) -> bool:
    return (
        node.get("status") == S.ACTIVE.value
        and "removed_at" not in node
        and isinstance(node.get("last_lead_at"), str)
        and node["last_lead_at"] < cutoff
    )


def work(message: dict[str, Any], *, in_time: Callable[[], bool] = lambda: True, client: Any = None) -> LapseCounts:
    """Lapse the partners of one message that are still due, while `in_time()` says there is time for one
    more; the rest are counted `left` (the message is retried for them)."""
    keys = [node_key(org_id, partner_id) for org_id, partner_id in message["partners"]]
    counts = LapseCounts(due=len(keys))
    nodes = db.batch_get(keys, client=client)
    counts.items_read += len(nodes)
    due = [node for node in nodes if _still_due(node, message["cutoff"])]
    for done, node in enumerate(due):
        if not in_time():
            counts.left = len(due) - done
            break
        counts.lapsed += lapse(node, client=client)
    return counts
