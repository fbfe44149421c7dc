"""Whether organisations have webhook endpoints: the counter that holds their limit
(common.integrations.endpoints), read on its own.

Kept apart from the endpoints' module, and light, because the stream dispatcher reads it: a change goes to the
events' consumer only when its organisation has an endpoint that could receive it, so the many organisations
that never subscribe cost neither queue messages nor invocations nor writes."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from common.platform import db

COUNTER_ENTITY = "webhook_endpoint_count"


def webhooks_partition(org_id: str) -> str:
    return f"ORG#{org_id}#WEBHOOKS"


def counter_key(org_id: str) -> db.Key:
    return {"pk": webhooks_partition(org_id), "sk": "ENDPOINT_COUNT"}


# The partition keys of every organisation's webhooks partition, as an IAM condition matches them: the
# dispatcher may read those, and nothing else of the table.
PARTITIONS_PATTERN = webhooks_partition("*")


def _counted(counter: db.Item | None) -> bool:
    return counter is not None and int(counter.get("endpoint_count", 0)) > 0


def has_endpoints(org_id: str, *, client: Any = None) -> bool:
    """Whether the organisation has any webhook endpoint, enabled or not: one consistent GetItem of its count."""
    return _counted(db.get(counter_key(org_id), consistent=True, client=client))


def orgs_with_endpoints(org_ids: Collection[str], *, client: Any = None) -> set[str]:
    """Those of `org_ids` that have any webhook endpoint: consistent BatchGetItems of their counts (100 a call)."""
    if not org_ids:
        return set()
    counters = db.batch_get([counter_key(org_id) for org_id in sorted(set(org_ids))], consistent=True, client=client)
    return {str(counter["org_id"]) for counter in counters if _counted(counter)}
