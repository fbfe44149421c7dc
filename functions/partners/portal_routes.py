"""The partner portal: a partner's own view of an organisation. Only deals shared with them (anything else
is 404, as if it did not exist), their workflows, their notes and files, and their notification choices."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit
from common.deals import deal_records, files, mail, notes, partner_deals
from common.deals import stage_history as deal_history
from common.orgs import workflows
from common.partners import brokers
from common.partners.partner_records import NotificationType
from common.platform.observability import metrics
from common.web.openapi_docs import INVALID, Open, Page, answers, body
from common.web.route_params import Cursor, Id, Limit, page, partner_of
from pydantic import Field

from partners.deal_routes import (
    DealContact,
    FilePage,
    FileUpload,
    Note,
    NotePage,
    OptionalWorkflowId,
    Workflow,
    upload_answer,
)

router = APIGatewayHttpRouter()

REFUSED = "The caller's e-mail is not confirmed, the current terms are not accepted, or the partnership is archived"
NOT_A_PARTNER = "The caller is not a partner of the organisation"
NOT_SHARED = "The caller is not a partner of the organisation, or the deal is not shared with them"


class PortalWorkflow(Workflow):
    is_default: bool = Field(description="the workflow where the partner creates deals")


class PortalWorkflowList(Open):
    items: list[PortalWorkflow]


class CurrentStage(Open):
    stage_id: str
    name: str


class StageReached(Open):
    at: datetime
    stage_id: str
    name: str


class PortalStageHistoryPage(Page):
    items: list[StageReached] = Field(description="newest first")


class PortalDealSummary(Open):
    org_id: str
    deal_id: str
    workflow_id: str
    title: str
    contacts: list[DealContact]
    stage: CurrentStage
    owner_id: str = Field(description="the broker who owns the deal")
    credited_to_you: bool = Field(description="whether the deal counts as the partner's own lead")
    created_at: datetime
    updated_at: datetime


class PortalDeal(PortalDealSummary):
    stage_history: list[StageReached] = Field(description="the newest stage changes; all of them: .../stage-history")


class PortalDealPage(Page):
    items: list[PortalDealSummary]


class PortalBroker(Open):
    user_id: str = Field(description="the broker's user id: a deal's owner_id")
    display_name: str | None = Field(description="as the organisation names its staff member; null if unset")


class PortalBrokerList(Open):
    items: list[PortalBroker]


class NotificationChoices(Open):
    types: list[NotificationType] = Field(
        description="the e-mails the partner chose, among those offered (a choice of a type the organisation "
        "withdrew is kept and applies again when it offers the type again)"
    )
    offered: list[NotificationType] = Field(description="the e-mails the organisation lets partners choose")


@router.get(
    "/orgs/<org_id>/portal/workflows",
    summary="The partner's workflows: the default one and every workflow they have a deal in",
    tags=["partner portal"],
    responses=answers(
        body(PortalWorkflowList, "The workflows, the default first"), forbidden=REFUSED, not_found=NOT_A_PARTNER
    ),
)
def portal_workflows(org_id: Id) -> dict[str, Any]:
    caller = partner_of(router, org_id)
    return {"items": [workflows.view(w) for w in partner_deals.portal_workflows(caller)]}


@router.get(
    "/orgs/<org_id>/portal/deals",
    summary="The deals shared with the partner, newest first, each with its current stage",
    tags=["partner portal"],
    responses=answers(
        body(PortalDealPage, "A page of deals"),
        forbidden=REFUSED,
        not_found=NOT_A_PARTNER,
        invalid="The workflow id, cursor or limit is not valid",
    ),
)
def portal_deals(
    org_id: Id, workflow_id: OptionalWorkflowId = None, cursor: Cursor = None, limit: Limit = 50
) -> dict[str, Any]:
    caller = partner_of(router, org_id)
    return page(*partner_deals.portal_deals(caller, workflow_id=workflow_id, cursor=cursor, limit=limit))


@router.get(
    "/orgs/<org_id>/portal/brokers",
    summary="The brokers assigned to the partner: who may own the deals they create",
    description="Only each broker's id and display name; in the order assigned, the first owns a new deal by default.",
    tags=["partner portal"],
    responses=answers(body(PortalBrokerList, "The brokers"), forbidden=REFUSED, not_found=NOT_A_PARTNER),
)
def list_brokers(org_id: Id) -> dict[str, Any]:
    return {"items": brokers.portal_brokers(partner_of(router, org_id))}


@router.post(
    "/orgs/<org_id>/portal/deals",
    summary="Create a deal in the organisation's default workflow",
    description="At least one contact, each with first and last name, e-mail and phone. The owner is one of "
    "the partner's brokers (GET .../portal/brokers; the first by default). The deal counts as the partner's lead.",
    tags=["partner portal"],
    responses=answers(
        body(PortalDeal, "The deal", 201),
        forbidden=REFUSED,
        not_found=NOT_A_PARTNER,
        conflict="No default workflow or no broker yet, the partnership has ended, or a generated id collided",
        invalid=INVALID + " (or the owner is not one of the partner's brokers, or no longer a member: body.owner_id)",
    ),
)
def create_deal(org_id: Id, new: Annotated[partner_deals.NewPortalDeal, Body()]) -> tuple[dict[str, Any], int]:
    caller = partner_of(router, org_id)
    deal = partner_deals.create_portal_deal(caller, new)
    metrics.add_metric(name="PartnerDealsCreated", unit=MetricUnit.Count, value=1)
    return deal_records.portal_view(deal, caller.partner_id), 201


@router.get(
    "/orgs/<org_id>/portal/deals/<deal_id>",
    summary="A deal shared with the partner, with its stage history",
    tags=["partner portal"],
    responses=answers(body(PortalDeal, "The deal"), forbidden=REFUSED, not_found=NOT_SHARED),
)
def portal_deal(org_id: Id, deal_id: Id) -> dict[str, Any]:
    return partner_deals.portal_deal(partner_of(router, org_id), deal_id)


@router.get(
    "/orgs/<org_id>/portal/deals/<deal_id>/stage-history",
    summary="The whole stage history of a deal shared with the partner, newest first",
    tags=["partner portal"],
    responses=answers(
        body(PortalStageHistoryPage, "A page of the stage history"),
        forbidden=REFUSED,
        not_found=NOT_SHARED,
        invalid="The cursor or limit is not valid",
    ),
)
def portal_stage_history(org_id: Id, deal_id: Id, cursor: Cursor = None, limit: Limit = 50) -> dict[str, Any]:
    caller = partner_of(router, org_id)
    return page(*deal_history.portal_stage_history(caller, deal_id, cursor=cursor, limit=limit))


@router.post(
    "/orgs/<org_id>/portal/deals/<deal_id>/notes",
    summary="Add a note to a deal (seen by staff and by the partner)",
    tags=["partner portal"],
    responses=answers(
        body(Note, "The note", 201),
        forbidden=REFUSED,
        not_found=NOT_SHARED,
        conflict="A generated id collided; retry",
        invalid=INVALID,
    ),
)
def add_note(org_id: Id, deal_id: Id, new: Annotated[notes.NewPortalNote, Body()]) -> tuple[dict[str, Any], int]:
    return notes.view(notes.add_partner_note(partner_of(router, org_id), deal_id, new)), 201


@router.get(
    "/orgs/<org_id>/portal/deals/<deal_id>/notes",
    summary="The deal's notes the partner may see, newest first: their own and those staff shared",
    tags=["partner portal"],
    responses=answers(
        body(NotePage, "A page of notes (it may hold fewer than limit and still have a next page)"),
        forbidden=REFUSED,
        not_found=NOT_SHARED,
        invalid="The cursor or limit is not valid",
    ),
)
def list_notes(org_id: Id, deal_id: Id, cursor: Cursor = None, limit: Limit = 50) -> dict[str, Any]:
    items, next_cursor = notes.list_partner_notes(partner_of(router, org_id), deal_id, cursor=cursor, limit=limit)
    return page([notes.view(i) for i in items], next_cursor)


@router.post(
    "/orgs/<org_id>/portal/deals/<deal_id>/files",
    summary="Get a presigned upload for a file on a deal",
    description="Allowed: PDF, PNG, JPEG, DOCX, XLSX, plain text and CSV, up to 10 MB. Post the returned fields "
    "and then the file (multipart/form-data) to the returned URL.",
    tags=["partner portal"],
    responses=answers(
        body(FileUpload, "The file record and its upload form", 201),
        forbidden=REFUSED,
        not_found=NOT_SHARED,
        conflict="A generated id collided; retry",
        invalid=INVALID + " (or the content type is not allowed, or the size exceeds 10 MB)",
    ),
)
def add_file(org_id: Id, deal_id: Id, new: Annotated[files.NewFile, Body()]) -> tuple[dict[str, Any], int]:
    item, grant = files.add_partner_file(partner_of(router, org_id), deal_id, new)
    return upload_answer(item, grant), 201


@router.get(
    "/orgs/<org_id>/portal/deals/<deal_id>/files",
    summary="The files the partner uploaded to the deal, newest first, each with a short-lived download link",
    tags=["partner portal"],
    responses=answers(
        body(FilePage, "A page of files (it may hold fewer than limit and still have a next page)"),
        forbidden=REFUSED,
        not_found=NOT_SHARED,
        invalid="The cursor or limit is not valid",
    ),
)
def list_files(org_id: Id, deal_id: Id, cursor: Cursor = None, limit: Limit = 50) -> dict[str, Any]:
    return page(*files.list_partner_files(partner_of(router, org_id), deal_id, cursor=cursor, limit=limit))


@router.get(
    "/orgs/<org_id>/portal/notifications",
    summary="The partner's notification choices in this organisation, and the ones it offers",
    tags=["partner portal"],
    responses=answers(body(NotificationChoices, "The choices"), forbidden=REFUSED, not_found=NOT_A_PARTNER),
)
def get_notifications(org_id: Id) -> dict[str, Any]:
    return mail.notification_choices(partner_of(router, org_id))


@router.put(
    "/orgs/<org_id>/portal/notifications",
    summary="Choose the e-mails to get from this organisation, among those it offers",
    tags=["partner portal"],
    responses=answers(
        body(NotificationChoices, "The choices"),
        forbidden=REFUSED,
        not_found=NOT_A_PARTNER,
        invalid=INVALID + " (or a type the organisation does not offer)",
    ),
)
def set_notifications(org_id: Id, choice: Annotated[mail.NotificationChoice, Body()]) -> dict[str, Any]:
    return mail.set_notifications(partner_of(router, org_id), choice)
