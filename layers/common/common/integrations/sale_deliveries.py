"""Sale posts: a lead or customer sold by post (common.leads.sales) is one delivery of the outbound engine
(common.integrations.delivery_kinds, kind `sale`), to the buying company's Post URL, attempted by the delivery
function (common.integrations.sale_posts builds each request).

    sale delivery   ORG#<org>#COMPANY#<company>#SALES / SALE#<sale>   the engine's fields (status, round,
                                                                      attempts...), the record sold, the
                                                                      receiver's id once it answered with one
    attempt slot    ORG#<org>#COMPANY#<company>#SALES / SLOT#<n>      the company's attempts in flight

The delivery is created from the table's stream (`on_change`, in the integrations consumer), when the change
of a lead or customer is its sale by post: a conditional put, so a redelivered change creates none twice (and
hands on again one never attempted, whose first message may have been lost). Sale ids are time-ordered, so a
company's log is one query, newest first. A sale's deliveries are kept (no expiry): they say what was sent to
whom. A resend starts another round with the schedule from its start and the same `webhook-id` (the sale
id), as a webhook's does.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from common.integrations import delivery_queue
from common.integrations.deliveries import DeliveryStatus, create, engine_fields, next_round
from common.integrations.delivery_kinds import KIND, SALE
from common.integrations.delivery_schedule import MAX_ATTEMPTS
from common.integrations.outbound import Attempt
from common.leads.companies import get_company
from common.leads.sales import newly_sold, sold_record_id
from common.platform import clock, db, listings
from common.platform.answers import Answer, Page, Timestamp, page_of
from common.platform.errors import Conflict, NotFound
from common.platform.observability import logger

ENTITY = "sale_delivery"


class SaleDelivery(Answer):
    """One sale's post to the buying company's system, with its newest attempts."""

    sale_id: str = Field(description="the sale, also the `webhook-id` of every attempt")
    company_id: str
    side: Literal["leads", "customers"] = Field(description="what was sold: a lead or a customer")
    record_id: str = Field(description="the lead or customer sold (the receiver's `external_id`)")
    sold_at: Timestamp
    status: DeliveryStatus = Field(
        description="pending: attempted again at next_attempt_at; succeeded: an attempt got a 2xx; failed: every "
        "attempt of the schedule (at least 3 days) failed, or the company's side no longer takes posts"
    )
    receiver_id: str | None = Field(None, description="the id the receiver answered with (its lead or customer id)")
    attempt_count: int = Field(ge=0, description="every attempt made, all rounds")
    attempts: list[Attempt] = Field(
        max_length=MAX_ATTEMPTS, description=f"the newest {MAX_ATTEMPTS} attempts, oldest first"
    )
    next_attempt_at: Timestamp | None = None
    created_at: Timestamp
    updated_at: Timestamp


def sales_partition(org_id: str, company_id: str) -> str:
    return f"ORG#{org_id}#COMPANY#{company_id}#SALES"


def sale_delivery_key(org_id: str, company_id: str, sale_id: str) -> db.Key:
    return {"pk": sales_partition(org_id, company_id), "sk": f"SALE#{sale_id}"}


def new_item(record: db.Item, sale: dict[str, Any]) -> db.Item:
    side, record_id = sold_record_id(record)
    org_id, company_id = record["org_id"], sale["company_id"]
    return {
        **sale_delivery_key(org_id, company_id, sale["sale_id"]),
        "entity": ENTITY,
        KIND: SALE,
        "org_id": org_id,
        "company_id": company_id,
        "sale_id": sale["sale_id"],
        "side": side,
        "record_id": record_id,
        "sold_at": sale["sold_at"],
        **engine_fields(clock.now_iso()),
    }


def hand_on(record: db.Item, sale: dict[str, Any], *, client: Any = None, sqs: Any = None) -> bool:
    """The sale's delivery, created and handed to the delivery queue; whether it was created now."""
    item = create(new_item(record, sale), client=client)
    created = item is not None
    if item is None:
        item = db.get(
            sale_delivery_key(record["org_id"], sale["company_id"], sale["sale_id"]), consistent=True, client=client
        )
        if item is None or item["status"] != DeliveryStatus.PENDING or item["attempt_count"] > 0:
            return False
    delivery_queue.send([(delivery_queue.carrier(item), 0)], client=sqs)
    return created


def on_change(old: db.Item | None, new: db.Item | None) -> None:
    """The integrations consumer's reaction: a lead or customer just sold by post is handed to the engine."""
    sale = newly_sold(old, new)
    if sale is None or new is None or sale.get("method") != "post":
        return
    created = hand_on(new, sale)
    logger.info("sale post", extra={"sale_id": sale["sale_id"], "company_id": sale["company_id"], "handed_on": created})


# -- the log and resends --------------------------------------------------------------------------------


def page(
    org_id: str, company_id: str, cursor: str | None = None, *, limit: int = 50, client: Any = None
) -> Page[SaleDelivery]:
    """The company's sale posts, newest sale first."""
    get_company(org_id, company_id, client=client)
    items, next_cursor = listings.query_prefix(
        sales_partition(org_id, company_id), "SALE#", cursor=cursor, limit=limit, newest_first=True, client=client
    )
    return page_of(SaleDelivery, items, next_cursor)


def _stored(org_id: str, company_id: str, sale_id: str, *, client: Any = None) -> db.Item:
    get_company(org_id, company_id, client=client)
    item = db.get(sale_delivery_key(org_id, company_id, sale_id), consistent=True, client=client)
    if item is None:
        raise NotFound(f"no post of sale {sale_id} to this company")
    return item


def get(org_id: str, company_id: str, sale_id: str, *, client: Any = None) -> SaleDelivery:
    return SaleDelivery.of(_stored(org_id, company_id, sale_id, client=client))


def resend(org_id: str, company_id: str, sale_id: str, *, client: Any = None, sqs: Any = None) -> SaleDelivery:
    """Post a succeeded or failed sale again: a new round, attempted at once, the same `webhook-id`."""
    item = _stored(org_id, company_id, sale_id, client=client)
    if item["status"] == DeliveryStatus.PENDING:
        raise Conflict("the post is still pending: it is attempted again at its next_attempt_at")
    restarted = db.update(
        {"pk": item["pk"], "sk": item["sk"]},
        **next_round(item, clock.now()),
        on_conflict=Conflict("the post changed meanwhile (an attempt in flight): try again"),
        client=client,
    )
    delivery_queue.send([(delivery_queue.carrier(restarted), 0)], client=sqs)
    return SaleDelivery.of(restarted)
