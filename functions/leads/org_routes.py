"""Organisations, staff memberships, message templates, and the sign-ins of the organisation's users."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from common.orgs import organisations, sign_in, templates
from common.orgs.access import OPERATORS_GROUP, Permission, require_operator
from common.partners.partner_caller import require_confirmed
from common.platform.answers import Page, page_of
from common.web import sign_ins
from common.web.openapi_docs import INVALID, NOT_A_MEMBER, STAFF_ONLY, answers, missing, no_content, ok
from common.web.route_params import PAGE_LIMIT, Cursor, Id, Limit, UserId, caller, member_of

router = APIGatewayHttpRouter()

MEMBER_MANAGER = "Missing members:manage, or changing what only an admin (or a holder of the permissions) may change"


@router.post(
    "/orgs",
    summary="Create an organisation; the caller becomes its admin",
    description=f"Only the deployment's operators (the Cognito group `{OPERATORS_GROUP}`) create organisations; "
    "an organisation's admin creates child organisations under it (`POST /orgs/{orgId}/children`).",
    tags=["organisations"],
    status_code=201,
    responses=answers(
        ok("The organisation", 201),
        forbidden=f"The caller is not in the Cognito group `{OPERATORS_GROUP}` (or not a user)",
        conflict="A generated id collided; retry",
        invalid=INVALID,
    ),
)
def create_organisation(body: Annotated[organisations.NewOrganisation, Body()]) -> organisations.Organisation:
    principal = caller(router)
    require_operator(principal)
    return organisations.Organisation.of(organisations.create_organisation(body, principal.subject))


@router.get(
    "/orgs",
    summary="The organisations the caller belongs to, with their role",
    description="Ordered by organisation id (oldest organisation first).",
    tags=["organisations"],
    responses=answers(
        ok("A page of the caller's memberships"),
        forbidden=STAFF_ONLY + ", or the caller's partner account waits for its e-mail confirmation "
        "(email-not-confirmed)",
        invalid="The cursor or limit is not valid",
    ),
)
def my_organisations(cursor: Cursor = None, limit: Limit = PAGE_LIMIT) -> Page[organisations.MyOrganisation]:
    principal = caller(router)
    require_confirmed(principal)
    items, next_cursor = organisations.list_my_memberships(principal.subject, cursor=cursor, limit=limit)
    return page_of(organisations.MyOrganisation, items, next_cursor)


@router.get(
    "/orgs/<org_id>",
    summary="Get an organisation the caller belongs to",
    tags=["organisations"],
    responses=answers(
        ok("The organisation with the caller's membership"),
        forbidden=STAFF_ONLY,
        not_found=NOT_A_MEMBER,
    ),
)
def get_organisation(org_id: Id) -> organisations.MemberOrganisation:
    member = member_of(router, org_id)
    return organisations.MemberOrganisation.seen_by(organisations.get_organisation(org_id), member)


@router.get(
    "/orgs/<org_id>/members",
    summary="List staff memberships",
    description="Ordered by user id.",
    tags=["organisations"],
    responses=answers(
        ok("A page of memberships"),
        forbidden=missing(Permission.MANAGE_MEMBERS),
        not_found=NOT_A_MEMBER,
        invalid="The cursor or limit is not valid",
    ),
)
def list_members(org_id: Id, cursor: Cursor = None, limit: Limit = PAGE_LIMIT) -> Page[organisations.Member]:
    member_of(router, org_id, Permission.MANAGE_MEMBERS)
    items, next_cursor = organisations.list_members(org_id, cursor=cursor, limit=limit)
    return page_of(organisations.Member, items, next_cursor)


@router.put(
    "/orgs/<org_id>/members/<user_id>",
    summary="Add a staff member or change their permissions",
    tags=["organisations"],
    responses=answers(
        ok("The membership as saved"),
        forbidden=MEMBER_MANAGER,
        not_found=NOT_A_MEMBER,
        conflict="The membership changed meanwhile, or the change would leave the organisation without an admin",
        invalid=INVALID,
    ),
)
def put_member(
    org_id: Id, user_id: UserId, body: Annotated[organisations.MembershipChange, Body()]
) -> organisations.Member:
    actor = member_of(router, org_id, Permission.MANAGE_MEMBERS)
    return organisations.Member.of(organisations.put_member(org_id, actor, user_id, body))


@router.delete(
    "/orgs/<org_id>/members/<user_id>",
    summary="Remove a staff member",
    tags=["organisations"],
    responses=answers(
        no_content("Removed"),
        forbidden=MEMBER_MANAGER,
        not_found="The caller is not a member of the organisation, or the user is not",
        conflict="The membership changed meanwhile, or it is the organisation's last admin",
    ),
)
def remove_member(org_id: Id, user_id: UserId) -> tuple[str, int]:
    actor = member_of(router, org_id, Permission.MANAGE_MEMBERS)
    organisations.remove_member(org_id, actor, user_id)
    return "", 204


@router.post(
    "/orgs/<org_id>/message-templates",
    summary="Create a message template",
    tags=["templates"],
    status_code=201,
    responses=answers(
        ok("The template", 201),
        forbidden=missing(Permission.MANAGE_TEMPLATES),
        not_found=NOT_A_MEMBER,
        invalid="The request has invalid fields (e.g. an unknown placeholder)",
    ),
)
def create_template(org_id: Id, body: Annotated[templates.NewTemplate, Body()]) -> templates.MessageTemplate:
    member = member_of(router, org_id, Permission.MANAGE_TEMPLATES)
    return templates.MessageTemplate.of(templates.create_template(org_id, body, member.user_id))


@router.get(
    "/orgs/<org_id>/message-templates",
    summary="List message templates",
    description="Oldest first (template ids are time-ordered).",
    tags=["templates"],
    responses=answers(
        ok("A page of templates"),
        forbidden=STAFF_ONLY,
        not_found=NOT_A_MEMBER,
        invalid="The cursor or limit is not valid",
    ),
)
def list_templates(org_id: Id, cursor: Cursor = None, limit: Limit = PAGE_LIMIT) -> Page[templates.MessageTemplate]:
    member_of(router, org_id)
    items, next_cursor = templates.list_templates(org_id, cursor=cursor, limit=limit)
    return page_of(templates.MessageTemplate, items, next_cursor)


@router.get(
    "/orgs/<org_id>/message-templates/<template_id>",
    summary="Get a message template",
    tags=["templates"],
    responses=answers(
        ok("The template"),
        forbidden=STAFF_ONLY,
        not_found="The caller is not a member of the organisation, or there is no such template",
    ),
)
def get_template(org_id: Id, template_id: Id) -> templates.MessageTemplate:
    member_of(router, org_id)
    return templates.MessageTemplate.of(templates.get_template(org_id, template_id))


# -- sign-ins: ending a user's sessions, their MFA (common.web.sign_ins says who may, on whom) -------------

NOT_THEIR_USER = "The caller is not a member of the organisation (nor an operator), or the user is none of its users"
SIGN_IN_ENDED = (
    "The sign-in as recorded: the user's tokens of sign-ins that began before `revoked_at` are refused (403 from "
    "the gateway) from the token authorizer's next decision, at most 30 seconds later where the gateway cached one"
)


def _end(org_id: str, user_id: str, revocation: sign_in.Revocation) -> sign_in.SignIn:
    return sign_ins.end_sign_in(caller(router), org_id, user_id, revocation)


@router.post(
    "/orgs/<org_id>/sign-ins/<user_id>/sign-out",
    summary="Sign a user of the organisation out everywhere: their tokens stop working",
    description="For an admin of the organisation, or an operator, on a staff member, partner or partner-team "
    "member of it. Ends every session of the user in Cognito (AdminUserGlobalSignOut: refresh tokens stop "
    "working) and refuses the access and id tokens already issued. The user may sign in again; to keep them "
    "out of the organisation, remove their membership, partnership or team membership as well (each takes "
    "effect at once). A user deleted in Cognito's console is recorded all the same.",
    tags=["sign-ins"],
    responses=answers(
        ok(SIGN_IN_ENDED),
        forbidden="The caller is a member but not an admin of the organisation (nor an operator)",
        not_found=NOT_THEIR_USER,
    ),
)
def sign_out_user(org_id: Id, user_id: UserId) -> sign_in.SignIn:
    return _end(org_id, user_id, sign_in.Revocation.SIGN_OUT)


@router.post(
    "/orgs/<org_id>/sign-ins/<user_id>/disable",
    summary="Disable a user's sign-in (operators): they cannot sign in, their tokens stop working",
    description=f"For the deployment's operators (the Cognito group `{OPERATORS_GROUP}`) only: a sign-in serves "
    "every organisation its user belongs to. Disables the user in Cognito (AdminDisableUser) and refuses the "
    "tokens already issued. Enable them again with `aws cognito-idp admin-enable-user` (docs/deploy.md).",
    tags=["sign-ins"],
    responses=answers(
        ok(SIGN_IN_ENDED),
        forbidden=f"The caller is not in the Cognito group `{OPERATORS_GROUP}`",
        not_found=NOT_THEIR_USER,
    ),
)
def disable_user(org_id: Id, user_id: UserId) -> sign_in.SignIn:
    return _end(org_id, user_id, sign_in.Revocation.DISABLE)


@router.delete(
    "/orgs/<org_id>/sign-ins/<user_id>",
    summary="Delete a user's sign-in (operators): their tokens stop working",
    description=f"For the deployment's operators (the Cognito group `{OPERATORS_GROUP}`) only. Deletes the user "
    "in Cognito (AdminDeleteUser) and refuses the tokens already issued; their memberships and partner "
    "records stay (remove them with their own routes). Deleting again, or a user already deleted in "
    "Cognito's console, records the revocation all the same.",
    tags=["sign-ins"],
    responses=answers(
        ok(SIGN_IN_ENDED),
        forbidden=f"The caller is not in the Cognito group `{OPERATORS_GROUP}`",
        not_found=NOT_THEIR_USER,
    ),
)
def delete_user(org_id: Id, user_id: UserId) -> sign_in.SignIn:
    return _end(org_id, user_id, sign_in.Revocation.DELETE)


@router.post(
    "/orgs/<org_id>/sign-ins/<user_id>/mfa-check",
    summary="Check the user's MFA with Cognito and record it",
    description="Called by the portal once the user has set up a second factor with Cognito (an authenticator "
    "app: AssociateSoftwareToken, VerifySoftwareToken, SetUserMFAPreference; or e-mail codes where the pool "
    "offers them). Staff holding a permission that moves money (deals:money, programme:manage_balances) are "
    "refused those routes with 403 `mfa-required` on stages that require MFA until this records one; the "
    "record counts from the token authorizer's next decision (at most 30 seconds). For the user themselves, "
    "or an admin of the organisation or an operator (to check a user again).",
    tags=["sign-ins"],
    responses=answers(
        ok("The sign-in with its MFA as Cognito reports it (`mfa` false: none set up)"),
        forbidden="The caller is neither the user nor an admin of the organisation (nor an operator)",
        not_found=NOT_THEIR_USER + ", or the user has no sign-in",
    ),
)
def check_mfa(org_id: Id, user_id: UserId) -> sign_in.SignIn:
    return sign_ins.check_mfa(caller(router), org_id, user_id)
