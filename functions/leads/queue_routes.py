"""The organisation's queue settings (the hold after a put-back, queue hours in each lead's time zone, the
duplicate rule and the fallback time zone) and the duplicate check of a lead before it is created."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from common.leads import intake, queue_settings
from common.orgs.access import Permission
from common.web.openapi_docs import INVALID, NOT_A_MEMBER, STAFF_ONLY, answers, missing, no_content, ok
from common.web.route_params import Id, caller, member_of

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


# -- the duplicate check: what creating the lead would answer about duplicates, creating nothing -------------

CHECKED = "The lead would not be refused as a duplicate (nothing was created)"
DUPLICATE = "Creating it would be refused as a duplicate: duplicate-lead with lead_ids (nothing was created)"
CHECK = (
    "Takes the body the create route takes, validated the same way, and creates nothing: 409 duplicate-lead with "
    "lead_ids when creating the lead would be refused under the organisation's duplicate rule, else 204 (always "
    "204 while duplicates are always taken)."
)


@router.post(
    "/orgs/<org_id>/lead-duplicate-checks",
    summary="Check whether a lead entered by hand would be refused as a duplicate",
    description=CHECK,
    tags=["leads"],
    responses=answers(
        no_content(CHECKED),
        forbidden=missing(Permission.CREATE_LEADS),
        not_found=NOT_A_MEMBER,
        conflict=DUPLICATE,
        invalid=INVALID + " (or neither phone nor email)",
    ),
)
def check_manual_lead(org_id: Id, body: Annotated[intake.ManualLead, Body()]) -> tuple[str, int]:
    member_of(router, org_id, Permission.CREATE_LEADS)
    intake.check_duplicates(org_id, body)
    return "", 204


@router.post(
    "/orgs/<org_id>/partner-companies/<company_id>/lead-duplicate-checks",
    summary="A partner company checks whether a lead it would post would be refused as a duplicate",
    description=CHECK,
    tags=["lead intake"],
    responses=answers(
        no_content(CHECKED),
        forbidden="Not a partner company's client-credentials token with the lead-intake scope",
        not_found="No such partner company for these credentials",
        conflict=f"{DUPLICATE}, or the company is not set up to sell leads",
        invalid=INVALID + " (or neither phone nor email)",
    ),
)
def check_company_lead(org_id: Id, company_id: Id, body: Annotated[intake.IntakeLead, Body()]) -> tuple[str, int]:
    intake.selling_company(org_id, company_id, caller(router))
    intake.check_duplicates(org_id, body)
    return "", 204
