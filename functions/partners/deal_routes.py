"""Workflows and deals, staff side: create and read workflows and set their stages' commission setting,
create, list and move deals, share a deal with a partner, and the deal's notes and files."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit
from common.deals import deal_records, files, notes, staff_deals
from common.deals import stage_history as deal_history
from common.deals.deal_views import Deal, StageHistoryEntry
from common.orgs import workflows
from common.orgs.access import Permission
from common.platform.answers import Page, page_of
from common.platform.observability import metrics
from common.platform.validation import ENTITY_ID_PATTERN, USER_ID_PATTERN
from common.web.openapi_docs import INVALID, NOT_A_MEMBER, STAFF_ONLY, answers, missing, ok
from common.web.route_params import Cursor, Id, Limit, PartnerId, member_of

router = APIGatewayHttpRouter()

OptionalWorkflowId = Annotated[str | None, Query(pattern=ENTITY_ID_PATTERN, description="only this workflow")]

NO_WORKFLOW = "The caller is not a member of the organisation, or there is no such workflow"
NO_DEAL = "The caller is not a member of the organisation, or there is no such deal"
OWNER_OR_MANAGER = f"The deal belongs to another user and the caller lacks {Permission.MANAGE_DEALS.value}"


# -- workflows -------------------------------------------------------------------------------------


@router.post(
    "/orgs/<org_id>/workflows",
    summary="Create a workflow: its name and its stages in order",
    tags=["workflows"],
    status_code=201,
    responses=answers(
        ok("The workflow", 201),
        forbidden=missing(Permission.MANAGE_DEALS)
        + f"; stages that compute or reverse commission also need {Permission.PROGRAMME_MANAGE_BALANCES.value}",
        not_found=NOT_A_MEMBER,
        conflict="A generated id collided; retry",
        invalid=INVALID + " (or two stages share a name)",
    ),
)
def create_workflow(org_id: Id, new: Annotated[workflows.NewWorkflow, Body()]) -> workflows.Workflow:
    member = member_of(router, org_id, Permission.MANAGE_DEALS)
    workflows.check_commission_permission(member, new)
    return workflows.Workflow.of(workflows.create_workflow(org_id, new, member.actor))


@router.get(
    "/orgs/<org_id>/workflows",
    summary="List the organisation's workflows by name",
    tags=["workflows"],
    responses=answers(
        ok("A page of workflows"),
        forbidden=STAFF_ONLY,
        not_found=NOT_A_MEMBER,
        invalid="The cursor or limit is not valid",
    ),
)
def list_workflows(org_id: Id, cursor: Cursor = None, limit: Limit = 50) -> Page[workflows.Workflow]:
    member_of(router, org_id)
    items, next_cursor = workflows.list_workflows(org_id, cursor=cursor, limit=limit)
    return page_of(workflows.Workflow, items, next_cursor)


@router.get(
    "/orgs/<org_id>/workflows/<workflow_id>",
    summary="Get a workflow",
    tags=["workflows"],
    responses=answers(ok("The workflow"), forbidden=STAFF_ONLY, not_found=NO_WORKFLOW),
)
def get_workflow(org_id: Id, workflow_id: Id) -> workflows.Workflow:
    member_of(router, org_id)
    return workflows.Workflow.of(workflows.get_workflow(org_id, workflow_id))


@router.put(
    "/orgs/<org_id>/workflows/<workflow_id>/stages/<stage_id>/commission",
    summary="Set what moving a deal to a stage does to partner commissions: none, compute or reverse",
    description="Deals copy the setting when they move: moves made before the change keep the setting they "
    "moved with. Stage names and ids never change.",
    tags=["workflows"],
    responses=answers(
        ok("The workflow"),
        forbidden=missing(Permission.PROGRAMME_MANAGE_BALANCES),
        not_found="The caller is not a member of the organisation, or no such workflow or stage",
        invalid=INVALID,
    ),
)
def set_stage_commission(
    org_id: Id, workflow_id: Id, stage_id: Id, setting: Annotated[workflows.CommissionSetting, Body()]
) -> workflows.Workflow:
    member_of(router, org_id, Permission.PROGRAMME_MANAGE_BALANCES)
    return workflows.Workflow.of(workflows.set_stage_commission(org_id, workflow_id, stage_id, setting))


# -- deals -----------------------------------------------------------------------------------------


@router.post(
    "/orgs/<org_id>/deals",
    summary="Create a deal at its workflow's first stage, optionally credited to a partner",
    description="With partner_id the deal is shared with that partner and counts as their lead "
    "(a LIVE or LAPSED partner becomes ACTIVE), in the same transaction as the deal. A value or a partner "
    f"decides commissions: either needs {Permission.DEAL_MONEY.value}.",
    tags=["deals"],
    status_code=201,
    responses=answers(
        ok("The deal", 201),
        forbidden=f"Another owner than the caller needs {Permission.MANAGE_DEALS.value}; a value or a partner "
        f"needs {Permission.DEAL_MONEY.value} (or not a staff user)",
        not_found=NOT_A_MEMBER,
        conflict="The partner is ENDED, ARCHIVED or removed, or a generated id collided",
        invalid=INVALID + " (or the workflow, owner or partner is not in the organisation)",
    ),
)
def create_deal(org_id: Id, new: Annotated[staff_deals.NewDeal, Body()]) -> Deal:
    deal = staff_deals.create_deal(org_id, member_of(router, org_id), new)
    metrics.add_metric(name="DealsCreated", unit=MetricUnit.Count, value=1)
    return Deal.of(deal)


@router.get(
    "/orgs/<org_id>/deals",
    summary="List deals, newest first: the caller's own, or with deals:manage everyone's (or one owner's)",
    tags=["deals"],
    responses=answers(
        ok("A page of deals"),
        forbidden=f"Another owner's deals need {Permission.MANAGE_DEALS.value} (or not a staff user)",
        not_found=NOT_A_MEMBER,
        invalid="The owner, cursor or limit is not valid",
    ),
)
def list_deals(
    org_id: Id,
    owner_id: Annotated[str | None, Query(pattern=USER_ID_PATTERN, description="only this owner's deals")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[Deal]:
    member = member_of(router, org_id)
    items, next_cursor = staff_deals.list_deals(org_id, member, owner_id=owner_id, cursor=cursor, limit=limit)
    return page_of(Deal, items, next_cursor)


@router.get(
    "/orgs/<org_id>/deals/<deal_id>",
    summary="Get a deal with its stage history",
    tags=["deals"],
    responses=answers(ok("The deal"), forbidden=OWNER_OR_MANAGER, not_found=NO_DEAL),
)
def get_deal(org_id: Id, deal_id: Id) -> Deal:
    return Deal.of(deal_records.staff_deal(org_id, deal_id, member_of(router, org_id)))


@router.get(
    "/orgs/<org_id>/deals/<deal_id>/stage-history",
    summary="A deal's whole stage history, newest first",
    tags=["deals"],
    responses=answers(
        ok("A page of the stage history"),
        forbidden=OWNER_OR_MANAGER,
        not_found=NO_DEAL,
        invalid="The cursor or limit is not valid",
    ),
)
def stage_history(org_id: Id, deal_id: Id, cursor: Cursor = None, limit: Limit = 50) -> Page[StageHistoryEntry]:
    member = member_of(router, org_id)
    items, next_cursor = deal_history.staff_stage_history(org_id, deal_id, member, cursor=cursor, limit=limit)
    return page_of(StageHistoryEntry, items, next_cursor)


@router.post(
    "/orgs/<org_id>/deals/<deal_id>/stage",
    summary="Move a deal to another stage of its workflow",
    description="The stage and its history entry change in one conditional write: of racing moves from the "
    "same version exactly one wins. Pass version to refuse the move if the deal changed since you read it. "
    f"A stage that computes or reverses commission needs {Permission.DEAL_MONEY.value}.",
    tags=["deals"],
    responses=answers(
        ok("The deal, at the new stage (unchanged if it was already there)"),
        forbidden=f"{OWNER_OR_MANAGER}, or the stage computes or reverses commission and the caller lacks "
        f"{Permission.DEAL_MONEY.value}",
        not_found=NO_DEAL,
        conflict="The deal changed since the version read or named",
        invalid=INVALID + " (or the stage is not in the deal's workflow)",
    ),
)
def move_deal(org_id: Id, deal_id: Id, change: Annotated[staff_deals.StageChange, Body()]) -> Deal:
    return Deal.of(staff_deals.move_deal(org_id, deal_id, member_of(router, org_id), change))


@router.put(
    "/orgs/<org_id>/deals/<deal_id>/partners/<partner_id>",
    summary="Share a deal with a partner of the organisation",
    description="The partner sees the deal in their portal (and its workflow among theirs). They get an e-mail "
    "if the organisation's deal-shared e-mail is on and they chose that notification.",
    tags=["deals"],
    responses=answers(
        ok("Shared now", 201),
        ok("It was already shared with the partner"),
        forbidden=OWNER_OR_MANAGER,
        not_found="The caller is not a member of the organisation, or no such deal or partner",
        conflict=f"The deal changed meanwhile (retry), or it is shared with {staff_deals.MAX_SHARES} partners already",
    ),
)
def share_deal(org_id: Id, deal_id: Id, partner_id: PartnerId) -> Response[Deal]:
    deal, created = staff_deals.share_deal(org_id, deal_id, member_of(router, org_id), partner_id)
    return Response(status_code=201 if created else 200, body=Deal.of(deal), content_type="application/json")


# -- notes and files -------------------------------------------------------------------------------


@router.post(
    "/orgs/<org_id>/deals/<deal_id>/notes",
    summary="Add a note to a deal, shared with its partners or not",
    tags=["deal notes"],
    status_code=201,
    responses=answers(
        ok("The note", 201),
        forbidden=OWNER_OR_MANAGER,
        not_found=NO_DEAL,
        conflict="A generated id collided; retry",
        invalid=INVALID,
    ),
)
def add_note(org_id: Id, deal_id: Id, new: Annotated[notes.NewNote, Body()]) -> notes.Note:
    return notes.Note.of(notes.add_staff_note(org_id, deal_id, member_of(router, org_id), new))


@router.get(
    "/orgs/<org_id>/deals/<deal_id>/notes",
    summary="List a deal's notes, newest first (staff and partner notes)",
    tags=["deal notes"],
    responses=answers(
        ok("A page of notes"),
        forbidden=OWNER_OR_MANAGER,
        not_found=NO_DEAL,
        invalid="The cursor or limit is not valid",
    ),
)
def list_notes(org_id: Id, deal_id: Id, cursor: Cursor = None, limit: Limit = 50) -> Page[notes.Note]:
    items, next_cursor = notes.list_staff_notes(org_id, deal_id, member_of(router, org_id), cursor=cursor, limit=limit)
    return page_of(notes.Note, items, next_cursor)


@router.patch(
    "/orgs/<org_id>/deals/<deal_id>/notes/<note_id>",
    summary="Share a staff note with the deal's partners, or stop sharing it",
    tags=["deal notes"],
    responses=answers(
        ok("The note"),
        forbidden=OWNER_OR_MANAGER,
        not_found="The caller is not a member of the organisation, or no such deal or note",
        conflict="The note is a partner's: it is not shared with other partners",
        invalid=INVALID,
    ),
)
def share_note(org_id: Id, deal_id: Id, note_id: Id, change: Annotated[notes.NoteSharing, Body()]) -> notes.Note:
    return notes.Note.of(notes.set_sharing(org_id, deal_id, note_id, member_of(router, org_id), change))


@router.post(
    "/orgs/<org_id>/deals/<deal_id>/files",
    summary="Get a presigned upload for a file on a deal",
    description="Allowed: PDF, PNG, JPEG, DOCX, XLSX, plain text and CSV, up to 10 MB. Post the returned fields "
    "and then the file (multipart/form-data) to the returned URL; S3 refuses another key, another content "
    "type or more bytes than declared.",
    tags=["deal files"],
    status_code=201,
    responses=answers(
        ok("The file record and its upload form", 201),
        forbidden=OWNER_OR_MANAGER,
        not_found=NO_DEAL,
        conflict="A generated id collided; retry",
        invalid=INVALID + " (or the content type is not allowed, or the size exceeds 10 MB)",
    ),
)
def add_file(org_id: Id, deal_id: Id, new: Annotated[files.NewFile, Body()]) -> files.FileUpload:
    return files.add_staff_file(org_id, deal_id, member_of(router, org_id), new)


@router.get(
    "/orgs/<org_id>/deals/<deal_id>/files",
    summary="List a deal's files, newest first, each with a short-lived download link",
    tags=["deal files"],
    responses=answers(
        ok("A page of files"),
        forbidden=OWNER_OR_MANAGER,
        not_found=NO_DEAL,
        invalid="The cursor or limit is not valid",
    ),
)
def list_files(org_id: Id, deal_id: Id, cursor: Cursor = None, limit: Limit = 50) -> Page[files.DealFile]:
    items, next_cursor = files.list_staff_files(org_id, deal_id, member_of(router, org_id), cursor=cursor, limit=limit)
    return page_of(files.DealFile, items, next_cursor)
