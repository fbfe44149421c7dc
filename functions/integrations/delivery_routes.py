"""A webhook endpoint's deliveries: its log (each event with its newest attempts), a resend of one, a replay
of a time range, resending what failed once it is enabled again, and a test event. Admins (the
integrations:manage permission) only. Thin handlers over common.integrations.deliveries: each answers at once
(202) with what was handed to the delivery queue; the attempts follow from it within seconds."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit
from common.integrations import deliveries
from common.orgs.access import Permission
from common.platform.answers import Page
from common.platform.observability import metrics
from common.web.openapi_docs import INVALID, NOT_A_MEMBER, answers, missing, ok
from common.web.route_params import PAGE_LIMIT, Cursor, Id, Limit, member_of

router = APIGatewayHttpRouter()

MANAGE = Permission.MANAGE_INTEGRATIONS
MANAGER = missing(MANAGE)
NO_ENDPOINT = NOT_A_MEMBER + ", or no such webhook endpoint"
NO_DELIVERY = NO_ENDPOINT + ", or no such delivery"
DISABLED = "The endpoint is disabled: enable it first"
DeliveryId = Annotated[
    str,
    Path(
        pattern=deliveries.DELIVERY_ID_PATTERN,
        description="a delivery's id, as the log answers it (the event's time and id)",
    ),
]


@router.get(
    "/orgs/<org_id>/webhooks/<endpoint_id>/deliveries",
    summary="The endpoint's deliveries, newest event first, each with its newest attempts",
    description="Each attempt has its time, HTTP status, duration and the start of the answer; deliveries are "
    "kept as long as their events (30 days).",
    tags=["webhooks"],
    responses=answers(
        ok("A page of deliveries"),
        forbidden=MANAGER,
        not_found=NO_ENDPOINT,
        invalid="The cursor or the limit is not valid",
    ),
)
def delivery_log(
    org_id: Id, endpoint_id: Id, cursor: Cursor = None, limit: Limit = PAGE_LIMIT
) -> Page[deliveries.DeliveryLog]:
    member_of(router, org_id, MANAGE)
    return deliveries.page(org_id, endpoint_id, cursor, limit=limit)


@router.get(
    "/orgs/<org_id>/webhooks/<endpoint_id>/deliveries/<delivery_id>",
    summary="One delivery with its newest attempts",
    tags=["webhooks"],
    responses=answers(
        ok("The delivery"), forbidden=MANAGER, not_found=NO_DELIVERY, invalid="The delivery id is not valid"
    ),
)
def delivery(org_id: Id, endpoint_id: Id, delivery_id: DeliveryId) -> deliveries.DeliveryLog:
    member_of(router, org_id, MANAGE)
    return deliveries.get(org_id, endpoint_id, delivery_id)


@router.post(
    "/orgs/<org_id>/webhooks/<endpoint_id>/deliveries/<delivery_id>/resend",
    summary="Deliver an event again (a delivery that succeeded or failed), with the same webhook-id",
    description="A new round of attempts starts at once, with the retry schedule from its start.",
    tags=["webhooks"],
    status_code=202,
    responses=answers(
        ok("The delivery, pending again", 202),
        forbidden=MANAGER,
        not_found=NO_DELIVERY,
        conflict=f"The delivery is still pending, or an attempt is in flight; or: {DISABLED.lower()}",
        invalid="The delivery id is not valid",
    ),
)
def resend(org_id: Id, endpoint_id: Id, delivery_id: DeliveryId) -> deliveries.DeliveryLog:
    member_of(router, org_id, MANAGE)
    log = deliveries.resend(org_id, endpoint_id, delivery_id)
    metrics.add_metric(name="WebhookResent", unit=MetricUnit.Count, value=1)
    return log


@router.post(
    "/orgs/<org_id>/webhooks/<endpoint_id>/replay",
    summary="Deliver again every event of a time range that the endpoint subscribes to",
    description=f"Events the endpoint never had are delivered for the first time; pending deliveries are left to "
    f"their schedule. At most {deliveries.HAND_ON_LIMIT} events per request: when more remain, `next_start` "
    "says where to replay from. Events are kept 30 days.",
    tags=["webhooks"],
    status_code=202,
    responses=answers(
        ok("How many deliveries were handed on", 202),
        forbidden=MANAGER,
        not_found=NO_ENDPOINT,
        conflict=DISABLED,
        invalid=INVALID + " (start and end: date-times with a time zone, end after start)",
    ),
)
def replay(org_id: Id, endpoint_id: Id, time_range: Annotated[deliveries.ReplayRange, Body()]) -> deliveries.HandedOn:
    member_of(router, org_id, MANAGE)
    handed_on = deliveries.replay(org_id, endpoint_id, time_range.start, time_range.end)
    metrics.add_metric(name="WebhookReplayed", unit=MetricUnit.Count, value=handed_on.deliveries)
    return handed_on


@router.post(
    "/orgs/<org_id>/webhooks/<endpoint_id>/resend-failed",
    summary="Deliver again what failed (after the endpoint was enabled again), oldest first",
    description=f"At most {deliveries.HAND_ON_LIMIT} deliveries per request: when `more` is true, ask again.",
    tags=["webhooks"],
    status_code=202,
    responses=answers(
        ok("How many deliveries were handed on", 202), forbidden=MANAGER, not_found=NO_ENDPOINT, conflict=DISABLED
    ),
)
def resend_failed(org_id: Id, endpoint_id: Id) -> deliveries.HandedOn:
    member_of(router, org_id, MANAGE)
    handed_on = deliveries.resend_failed(org_id, endpoint_id)
    metrics.add_metric(name="WebhookResent", unit=MetricUnit.Count, value=handed_on.deliveries)
    return handed_on


@router.post(
    "/orgs/<org_id>/webhooks/<endpoint_id>/test",
    summary="Send the endpoint a test event (webhook.test), enabled or not",
    description="Signed like every delivery and attempted once: its log entry shows the answer.",
    tags=["webhooks"],
    status_code=202,
    responses=answers(ok("The test event's delivery, pending", 202), forbidden=MANAGER, not_found=NO_ENDPOINT),
)
def send_test(org_id: Id, endpoint_id: Id) -> deliveries.DeliveryLog:
    member_of(router, org_id, MANAGE)
    return deliveries.send_test(org_id, endpoint_id)
