"""The organisation's queue settings: the hold after a put-back, queue hours in each lead's time zone, the
duplicate rule and the fallback time zone."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from common.leads import queue_settings
from common.orgs.access import Permission
from common.web.openapi_docs import INVALID, NOT_A_MEMBER, STAFF_ONLY, answers, missing, ok
from common.web.route_params import Id, member_of

router = APIGatewayHttpRouter()


@router.get(
    "/orgs/<org_id>/queue-settings",
    summary="The organisation's queue settings (the defaults until first saved)",
    tags=["lead queue"],
    responses=answers(ok("The settings"), forbidden=STAFF_ONLY, not_found=NOT_A_MEMBER),
)
def get_queue_settings(org_id: Id) -> queue_settings.QueueSettings:
    member_of(router, org_id)
    return queue_settings.read_settings(org_id)


@router.put(
    "/orgs/<org_id>/queue-settings",
    summary="Save the queue settings (all of them: a field left out takes its default)",
    description="They apply to leads as they are received, put back or claimed from then on: a lead already "
    "waiting for an opening of the queue hours or the end of a hold keeps its time (at most a day or the hold "
    "away). The duplicate rule covers the leads received while a rule is on.",
    tags=["lead queue"],
    responses=answers(
        ok("The settings as saved"),
        forbidden=missing(Permission.MANAGE_LEADS),
        not_found=NOT_A_MEMBER,
        invalid=INVALID + " (hold 0 to 1440 minutes, HH:MM times, days 1 to 3650, an IANA time zone)",
    ),
)
def put_queue_settings(
    org_id: Id, body: Annotated[queue_settings.QueueSettingsChange, Body()]
) -> queue_settings.QueueSettings:
    member = member_of(router, org_id, Permission.MANAGE_LEADS)
    return queue_settings.save_settings(org_id, member, body)
