"""Partners, staff side: child organisations, portal settings, adding and managing partners, their
lifecycle status, contact log, follow-up tasks and activity. Thin handlers over the common modules."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit
from common.orgs import child_orgs
from common.orgs.access import Permission
from common.orgs.organisations import NewOrganisation, Organisation
from common.partners import adding_partners, lifecycle, partner_nodes, portal_settings, staff_partners
from common.partners.activity_entries import ActivityEntry
from common.partners.partner_nodes import Partner
from common.partners.partner_records import PartnerStatus
from common.platform.answers import Page, page_of
from common.platform.observability import metrics
from common.web.openapi_docs import INVALID, NOT_A_MEMBER, STAFF_ONLY, answers, missing, no_content, ok
from common.web.route_params import PAGE_LIMIT, Cursor, Id, Limit, PartnerId, member_of

router = APIGatewayHttpRouter()

MANAGER = missing(Permission.MANAGE_PARTNERS)
NO_PARTNER = "The caller is not a member of the organisation, or the partner is not (or no longer) in it"
CHANGED = "The partner changed meanwhile; read it again and retry"
TRANSITION = "The status change is not allowed from the partner's status (or the status changed meanwhile)"


def _actor(org_id: str, permission: Permission | None = Permission.MANAGE_PARTNERS) -> str:
    return member_of(router, org_id, permission).actor


# -- child organisations ---------------------------------------------------------------------------


@router.post(
    "/orgs/<org_id>/children",
    summary="Create a child organisation (enterprise); the caller becomes its admin",
    tags=["enterprise"],
    status_code=201,
    responses=answers(
        ok("The child organisation", 201),
        forbidden="Only an admin of the organisation creates child organisations",
        not_found=NOT_A_MEMBER,
        conflict="A generated id collided; retry",
        invalid=INVALID,
    ),
)
def create_child(org_id: Id, new: Annotated[NewOrganisation, Body()]) -> Organisation:
    return child_orgs.create_child(org_id, member_of(router, org_id), new)


@router.get(
    "/orgs/<org_id>/children",
    summary="List the organisation's child organisations",
    description="Oldest first (organisation ids are time-ordered).",
    tags=["enterprise"],
    responses=answers(
        ok("A page of child organisations"),
        forbidden=STAFF_ONLY,
        not_found=NOT_A_MEMBER,
        invalid="The cursor or limit is not valid",
    ),
)
def list_children(org_id: Id, cursor: Cursor = None, limit: Limit = PAGE_LIMIT) -> Page[Organisation]:
    member_of(router, org_id)
    items, next_cursor = child_orgs.list_children(org_id, cursor=cursor, limit=limit)
    return page_of(Organisation, items, next_cursor)


# -- portal settings -------------------------------------------------------------------------------


@router.get(
    "/orgs/<org_id>/portal-settings",
    summary="The organisation's partner portal settings",
    tags=["partners"],
    responses=answers(ok("The settings"), forbidden=STAFF_ONLY, not_found=NOT_A_MEMBER),
)
def get_portal_settings(org_id: Id) -> portal_settings.PortalSettingsView:
    member_of(router, org_id)
    return portal_settings.get_portal_settings(org_id)


@router.put(
    "/orgs/<org_id>/portal-settings",
    summary="Save the partner portal settings",
    tags=["partners"],
    responses=answers(
        ok("The settings as saved"),
        forbidden=MANAGER,
        not_found=NOT_A_MEMBER,
        invalid="The request has invalid fields (e.g. no such workflow, a domain the deployment does not send from)",
    ),
)
def put_portal_settings(
    org_id: Id, settings: Annotated[portal_settings.PortalSettings, Body()]
) -> portal_settings.PortalSettingsView:
    return portal_settings.put_portal_settings(org_id, settings, _actor(org_id))


# -- partners --------------------------------------------------------------------------------------


@router.post(
    "/orgs/<org_id>/partners",
    summary="Add a partner (one account per e-mail address; a known address reuses its account)",
    tags=["partners"],
    status_code=201,
    responses=answers(
        ok("The partner's record in the organisation", 201),
        forbidden=MANAGER,
        not_found=NOT_A_MEMBER,
        conflict="Already a partner of this organisation",
        invalid="The request has invalid fields (e.g. a broker who is not a staff member)",
    ),
)
def add_partner(org_id: Id, new: Annotated[adding_partners.NewPartner, Body()]) -> Partner:
    member = member_of(router, org_id, Permission.MANAGE_PARTNERS)
    node = adding_partners.add_partner(org_id, member, new)
    metrics.add_metric(name="PartnersAdded", unit=MetricUnit.Count, value=1)
    return Partner.of(node)


@router.post(
    "/orgs/<org_id>/partners/existing",
    summary="Add a partner of the parent organisation to this child organisation, with the same account",
    tags=["enterprise"],
    status_code=201,
    responses=answers(
        ok("The partner's record in this organisation", 201),
        forbidden=MANAGER,
        not_found="The caller is not a member, or the partner is not a partner of the parent organisation",
        conflict="Already a partner of this organisation",
        invalid=INVALID,
    ),
)
def add_existing(org_id: Id, existing: Annotated[adding_partners.ExistingPartner, Body()]) -> Partner:
    member = member_of(router, org_id, Permission.MANAGE_PARTNERS)
    return Partner.of(adding_partners.add_existing(org_id, member, existing))


@router.get(
    "/orgs/<org_id>/partners",
    summary="List partners: by status (newest first), LIVE without a lead yet, or the programme structure",
    description="Without status: every partner but the archived ones, in structure order. Archived partners "
    "are listed with status=ARCHIVED.",
    tags=["partners"],
    responses=answers(
        ok("A page of partners"),
        forbidden=MANAGER,
        not_found=NOT_A_MEMBER,
        invalid="The status, filter, cursor or limit is not valid",
    ),
)
def list_partners(
    org_id: Id,
    status: Annotated[PartnerStatus | None, Query()] = None,
    filter: Annotated[Literal["live_without_lead"] | None, Query(description="LIVE partners with no lead yet")] = None,
    cursor: Cursor = None,
    limit: Limit = PAGE_LIMIT,
) -> Page[Partner]:
    member_of(router, org_id, Permission.MANAGE_PARTNERS)
    items, next_cursor = staff_partners.list_partners(
        org_id, status=status, live_without_lead=filter == "live_without_lead", cursor=cursor, limit=limit
    )
    return page_of(Partner, items, next_cursor)


@router.get(
    "/orgs/<org_id>/partners/<partner_id>",
    summary="Get a partner",
    tags=["partners"],
    responses=answers(ok("The partner"), forbidden=MANAGER, not_found=NO_PARTNER),
)
def get_partner(org_id: Id, partner_id: PartnerId) -> Partner:
    member_of(router, org_id, Permission.MANAGE_PARTNERS)
    return Partner.of(partner_nodes.get_node(org_id, partner_id))


@router.patch(
    "/orgs/<org_id>/partners/<partner_id>",
    summary="Edit the organisation's record of a partner (names, phone)",
    tags=["partners"],
    responses=answers(
        ok("The partner as saved"),
        forbidden=MANAGER,
        not_found=NO_PARTNER,
        conflict=CHANGED,
        invalid=INVALID,
    ),
)
def edit_partner(org_id: Id, partner_id: PartnerId, edit: Annotated[staff_partners.PartnerEdit, Body()]) -> Partner:
    return Partner.of(staff_partners.edit_partner(org_id, partner_id, edit, _actor(org_id)))


@router.delete(
    "/orgs/<org_id>/partners/<partner_id>",
    summary="Remove a partner from the organisation (the history stays; their account stays)",
    tags=["partners"],
    responses=answers(no_content("Removed"), forbidden=MANAGER, not_found=NO_PARTNER, conflict=CHANGED),
)
def remove_partner(org_id: Id, partner_id: PartnerId) -> tuple[str, int]:
    staff_partners.remove_partner(org_id, partner_id, _actor(org_id))
    return "", 204


@router.put(
    "/orgs/<org_id>/partners/<partner_id>/brokers",
    summary="Assign the partner to staff users (brokers); the first assignment sends the login e-mail",
    tags=["partners"],
    responses=answers(
        ok("The partner with their brokers"),
        forbidden=MANAGER,
        not_found=NO_PARTNER,
        conflict=CHANGED,
        invalid="The request has invalid fields (e.g. a broker who is not a staff member)",
    ),
)
def set_brokers(
    org_id: Id, partner_id: PartnerId, assignment: Annotated[staff_partners.BrokerAssignment, Body()]
) -> Partner:
    return Partner.of(staff_partners.set_brokers(org_id, partner_id, assignment.brokers, _actor(org_id)))


# -- lifecycle -------------------------------------------------------------------------------------


@router.post(
    "/orgs/<org_id>/partners/<partner_id>/status",
    summary="Change a partner's status by hand (ACTIVE and LAPSED follow leads; archiving needs a reason)",
    tags=["partner lifecycle"],
    responses=answers(
        ok("The partner in the new status"),
        forbidden=MANAGER,
        not_found=NO_PARTNER,
        conflict=TRANSITION,
        invalid=INVALID,
    ),
)
def set_status(org_id: Id, partner_id: PartnerId, change: Annotated[lifecycle.PartnerStatusChange, Body()]) -> Partner:
    return Partner.of(lifecycle.set_status(org_id, partner_id, change, _actor(org_id)))


@router.post(
    "/orgs/<org_id>/partners/<partner_id>/restore",
    summary="Restore an archived partner to the status they were archived from",
    tags=["partner lifecycle"],
    responses=answers(ok("The restored partner"), forbidden=MANAGER, not_found=NO_PARTNER, conflict=TRANSITION),
)
def restore(org_id: Id, partner_id: PartnerId) -> Partner:
    return Partner.of(lifecycle.restore(org_id, partner_id, _actor(org_id)))


@router.post(
    "/orgs/<org_id>/partners/<partner_id>/send-terms",
    summary="Send a prospect the programme's current terms (PROSPECT to PROSPECT_TERMS_SENT)",
    tags=["partner lifecycle"],
    responses=answers(
        ok("The partner, terms sent"),
        forbidden=MANAGER,
        not_found=NO_PARTNER,
        conflict="Not a prospect, or the programme has no published terms (or they changed meanwhile)",
    ),
)
def send_terms(org_id: Id, partner_id: PartnerId) -> Partner:
    return Partner.of(lifecycle.send_terms(org_id, partner_id, _actor(org_id)))


@router.post(
    "/orgs/<org_id>/partners/<partner_id>/terms-signed",
    summary="Record signed terms received by other means (PROSPECT_TERMS_SENT to LIVE)",
    tags=["partner lifecycle"],
    responses=answers(
        ok("The partner, now LIVE"),
        forbidden=MANAGER,
        not_found=NO_PARTNER,
        conflict="No terms are awaited from the partner",
    ),
)
def terms_signed(org_id: Id, partner_id: PartnerId) -> Partner:
    return Partner.of(lifecycle.terms_signed(org_id, partner_id, _actor(org_id)))


# -- contact log, tasks, activity ------------------------------------------------------------------


@router.post(
    "/orgs/<org_id>/partners/<partner_id>/contacts",
    summary="Log a contact with the partner",
    tags=["partner lifecycle"],
    status_code=201,
    responses=answers(ok("The logged contact", 201), forbidden=MANAGER, not_found=NO_PARTNER, invalid=INVALID),
)
def add_contact(
    org_id: Id, partner_id: PartnerId, contact: Annotated[lifecycle.NewContact, Body()]
) -> lifecycle.ContactEntry:
    return lifecycle.ContactEntry.of(lifecycle.add_contact(org_id, partner_id, contact, _actor(org_id)))


@router.get(
    "/orgs/<org_id>/partners/<partner_id>/contacts",
    summary="The contact log, newest first",
    tags=["partner lifecycle"],
    responses=answers(
        ok("A page of contacts"),
        forbidden=MANAGER,
        not_found=NO_PARTNER,
        invalid="The cursor or limit is not valid",
    ),
)
def list_contacts(
    org_id: Id, partner_id: PartnerId, cursor: Cursor = None, limit: Limit = PAGE_LIMIT
) -> Page[lifecycle.ContactEntry]:
    member_of(router, org_id, Permission.MANAGE_PARTNERS)
    items, next_cursor = lifecycle.list_contacts(org_id, partner_id, cursor=cursor, limit=limit)
    return page_of(lifecycle.ContactEntry, items, next_cursor)


@router.post(
    "/orgs/<org_id>/partners/<partner_id>/tasks",
    summary="Set a follow-up task",
    tags=["partner lifecycle"],
    status_code=201,
    responses=answers(ok("The task", 201), forbidden=MANAGER, not_found=NO_PARTNER, invalid=INVALID),
)
def add_task(org_id: Id, partner_id: PartnerId, task: Annotated[lifecycle.NewTask, Body()]) -> lifecycle.Task:
    return lifecycle.Task.of(lifecycle.add_task(org_id, partner_id, task, _actor(org_id)))


@router.get(
    "/orgs/<org_id>/partners/<partner_id>/tasks",
    summary="The partner's follow-up tasks, in the order they were set",
    tags=["partner lifecycle"],
    responses=answers(
        ok("A page of tasks"),
        forbidden=MANAGER,
        not_found=NO_PARTNER,
        invalid="The cursor or limit is not valid",
    ),
)
def list_tasks(
    org_id: Id, partner_id: PartnerId, cursor: Cursor = None, limit: Limit = PAGE_LIMIT
) -> Page[lifecycle.Task]:
    member_of(router, org_id, Permission.MANAGE_PARTNERS)
    items, next_cursor = lifecycle.list_tasks(org_id, partner_id, cursor=cursor, limit=limit)
    return page_of(lifecycle.Task, items, next_cursor)


@router.patch(
    "/orgs/<org_id>/partners/<partner_id>/tasks/<task_id>",
    summary="Mark a follow-up task done (or not)",
    tags=["partner lifecycle"],
    responses=answers(
        ok("The task"),
        forbidden=MANAGER,
        not_found="The caller is not a member, or there is no such partner or task",
        invalid=INVALID,
    ),
)
def change_task(
    org_id: Id, partner_id: PartnerId, task_id: Id, change: Annotated[lifecycle.TaskChange, Body()]
) -> lifecycle.Task:
    return lifecycle.Task.of(lifecycle.change_task(org_id, partner_id, task_id, change, _actor(org_id)))


@router.get(
    "/orgs/<org_id>/partners/<partner_id>/activity",
    summary="The partner's activity: every change of their record and the contact log, newest first",
    description="Still readable after the partner was removed from the organisation.",
    tags=["partner lifecycle"],
    responses=answers(
        ok("A page of activity"),
        forbidden=MANAGER,
        not_found="The caller is not a member, or the partner was never in the organisation",
        invalid="The cursor or limit is not valid",
    ),
)
def activity(
    org_id: Id, partner_id: PartnerId, cursor: Cursor = None, limit: Limit = PAGE_LIMIT
) -> Page[ActivityEntry]:
    member_of(router, org_id, Permission.MANAGE_PARTNERS)
    items, next_cursor = lifecycle.activity(org_id, partner_id, cursor=cursor, limit=limit)
    return page_of(ActivityEntry, items, next_cursor)
