"""The partner portal: a partner's own view of an organisation. Only deals shared with them (anything else
is 404, as if it did not exist), their workflows, their notes and files, and their notification choices."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit
from common.deals import files, mail, notes, partner_deals
from common.deals import stage_history as deal_history
from common.deals.deal_views import PortalDeal, PortalDealSummary, StageReached
from common.partners import brokers
from common.platform.answers import Page, page_of
from common.platform.observability import metrics
from common.web.openapi_docs import INVALID, answers, ok
from common.web.route_params import Cursor, Id, Limit, partner_of

from partners.deal_routes import OptionalWorkflowId

router = APIGatewayHttpRouter()

REFUSED = "The caller's e-mail is not confirmed, the current terms are not accepted, or the partnership is archived"
NOT_A_PARTNER = "The caller is not a partner of the organisation"
NOT_SHARED = "The caller is not a partner of the organisation, or the deal is not shared with them"


@router.get(
    "/orgs/<org_id>/portal/workflows",
    summary="The partner's workflows: the default one and every workflow they have a deal in",
    tags=["partner portal"],
    responses=answers(ok("The workflows, the default first"), forbidden=REFUSED, not_found=NOT_A_PARTNER),
)
def portal_workflows(org_id: Id) -> partner_deals.PortalWorkflowList:
    return partner_deals.portal_workflows(partner_of(router, org_id))


@router.get(
    "/orgs/<org_id>/portal/deals",
    summary="The deals shared with the partner, newest first, each with its current stage",
    tags=["partner portal"],
    responses=answers(
        ok("A page of deals"),
        forbidden=REFUSED,
        not_found=NOT_A_PARTNER,
        invalid="The workflow id, cursor or limit is not valid",
    ),
)
def portal_deals(
    org_id: Id, workflow_id: OptionalWorkflowId = None, cursor: Cursor = None, limit: Limit = 50
) -> Page[PortalDealSummary]:
    caller = partner_of(router, org_id)
    items, next_cursor = partner_deals.portal_deals(caller, workflow_id=workflow_id, cursor=cursor, limit=limit)
    return page_of(PortalDealSummary, items, next_cursor)


@router.get(
    "/orgs/<org_id>/portal/brokers",
    summary="The brokers assigned to the partner: who may own the deals they create",
    description="Only each broker's id and name (the staff member's display name, else \"Broker <n>\"); in the "
    "order assigned, the first owns a new deal by default.",
    tags=["partner portal"],
    responses=answers(ok("The brokers"), forbidden=REFUSED, not_found=NOT_A_PARTNER),
)
def list_brokers(org_id: Id) -> brokers.PortalBrokerList:
    return brokers.portal_brokers(partner_of(router, org_id))


@router.post(
    "/orgs/<org_id>/portal/deals",
    summary="Create a deal in the organisation's default workflow",
    description="At least one contact, each with first and last name, e-mail and phone. The owner is one of "
    "the partner's brokers (GET .../portal/brokers; the first by default). The deal counts as the partner's lead.",
    tags=["partner portal"],
    status_code=201,
    responses=answers(
        ok("The deal", 201),
        forbidden=REFUSED,
        not_found=NOT_A_PARTNER,
        conflict="No default workflow or no broker yet, the partnership has ended, or a generated id collided",
        invalid=INVALID + " (or the owner is not one of the partner's brokers, or no longer a member: body.owner_id)",
    ),
)
def create_deal(org_id: Id, new: Annotated[partner_deals.NewPortalDeal, Body()]) -> PortalDeal:
    deal = partner_deals.create_portal_deal(partner_of(router, org_id), new)
    metrics.add_metric(name="PartnerDealsCreated", unit=MetricUnit.Count, value=1)
    return deal


@router.get(
    "/orgs/<org_id>/portal/deals/<deal_id>",
    summary="A deal shared with the partner, with its stage history",
    tags=["partner portal"],
    responses=answers(ok("The deal"), forbidden=REFUSED, not_found=NOT_SHARED),
)
def portal_deal(org_id: Id, deal_id: Id) -> PortalDeal:
    return partner_deals.portal_deal(partner_of(router, org_id), deal_id)


@router.get(
    "/orgs/<org_id>/portal/deals/<deal_id>/stage-history",
    summary="The whole stage history of a deal shared with the partner, newest first",
    tags=["partner portal"],
    responses=answers(
        ok("A page of the stage history"),
        forbidden=REFUSED,
        not_found=NOT_SHARED,
        invalid="The cursor or limit is not valid",
    ),
)
def portal_stage_history(org_id: Id, deal_id: Id, cursor: Cursor = None, limit: Limit = 50) -> Page[StageReached]:
    caller = partner_of(router, org_id)
    items, next_cursor = deal_history.portal_stage_history(caller, deal_id, cursor=cursor, limit=limit)
    return page_of(StageReached, items, next_cursor)


@router.post(
    "/orgs/<org_id>/portal/deals/<deal_id>/notes",
    summary="Add a note to a deal (seen by staff and by the partner)",
    tags=["partner portal"],
    status_code=201,
    responses=answers(
        ok("The note", 201),
        forbidden=REFUSED,
        not_found=NOT_SHARED,
        conflict="A generated id collided; retry",
        invalid=INVALID,
    ),
)
def add_note(org_id: Id, deal_id: Id, new: Annotated[notes.NewPortalNote, Body()]) -> notes.Note:
    return notes.Note.of(notes.add_partner_note(partner_of(router, org_id), deal_id, new))


@router.get(
    "/orgs/<org_id>/portal/deals/<deal_id>/notes",
    summary="The deal's notes the partner may see, newest first: their own and those staff shared",
    tags=["partner portal"],
    responses=answers(
        ok("A page of notes (it may hold fewer than limit and still have a next page)"),
        forbidden=REFUSED,
        not_found=NOT_SHARED,
        invalid="The cursor or limit is not valid",
    ),
)
def list_notes(org_id: Id, deal_id: Id, cursor: Cursor = None, limit: Limit = 50) -> Page[notes.Note]:
    items, next_cursor = notes.list_partner_notes(partner_of(router, org_id), deal_id, cursor=cursor, limit=limit)
    return page_of(notes.Note, items, next_cursor)


@router.post(
    "/orgs/<org_id>/portal/deals/<deal_id>/files",
    summary="Get a presigned upload for a file on a deal",
    description="Allowed: PDF, PNG, JPEG, DOCX, XLSX, plain text and CSV, up to 10 MB. Post the returned fields "
    "and then the file (multipart/form-data) to the returned URL.",
    tags=["partner portal"],
    status_code=201,
    responses=answers(
        ok("The file record and its upload form", 201),
        forbidden=REFUSED,
        not_found=NOT_SHARED,
        conflict="A generated id collided; retry",
        invalid=INVALID + " (or the content type is not allowed, or the size exceeds 10 MB)",
    ),
)
def add_file(org_id: Id, deal_id: Id, new: Annotated[files.NewFile, Body()]) -> files.FileUpload:
    return files.add_partner_file(partner_of(router, org_id), deal_id, new)


@router.get(
    "/orgs/<org_id>/portal/deals/<deal_id>/files",
    summary="The files the partner uploaded to the deal, newest first, each with a short-lived download link",
    tags=["partner portal"],
    responses=answers(
        ok("A page of files (it may hold fewer than limit and still have a next page)"),
        forbidden=REFUSED,
        not_found=NOT_SHARED,
        invalid="The cursor or limit is not valid",
    ),
)
def list_files(org_id: Id, deal_id: Id, cursor: Cursor = None, limit: Limit = 50) -> Page[files.DealFile]:
    items, next_cursor = files.list_partner_files(partner_of(router, org_id), deal_id, cursor=cursor, limit=limit)
    return page_of(files.DealFile, items, next_cursor)


@router.get(
    "/orgs/<org_id>/portal/notifications",
    summary="The partner's notification choices in this organisation, and the ones it offers",
    tags=["partner portal"],
    responses=answers(ok("The choices"), forbidden=REFUSED, not_found=NOT_A_PARTNER),
)
def get_notifications(org_id: Id) -> mail.NotificationChoices:
    return mail.notification_choices(partner_of(router, org_id))


@router.put(
    "/orgs/<org_id>/portal/notifications",
    summary="Choose the e-mails to get from this organisation, among those it offers",
    tags=["partner portal"],
    responses=answers(
        ok("The choices"),
        forbidden=REFUSED,
        not_found=NOT_A_PARTNER,
        invalid=INVALID + " (or a type the organisation does not offer)",
    ),
)
def set_notifications(org_id: Id, choice: Annotated[mail.NotificationChoice, Body()]) -> mail.NotificationChoices:
    return mail.set_notifications(partner_of(router, org_id), choice)
