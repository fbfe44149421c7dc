"""The partner programme (seed 004): joining, the structure ("your partners"), terms, invitations and the
participant's own view with their referral link."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from common.money import ledger
from common.orgs.access import Permission
from common.platform.answers import Page, page_of
from common.programme import invitations, structure, terms
from common.programme.structure_views import Move, Node, Participant, YourPartners
from common.web.openapi_docs import INVALID, NOT_A_MEMBER, answers, missing, ok
from common.web.route_params import PAGE_LIMIT, Cursor, Id, Limit, PartnerId, caller, member_of, partner_of

router = APIGatewayHttpRouter()
TAGS = ["partner programme"]

NOT_HERE = "The caller is neither a staff member nor a partner of the organisation (or it does not exist)"
NOT_A_PARTNER = "The caller is not a partner of the organisation (or it does not exist)"
PARTNER_REFUSED = "E-mail not confirmed, current terms not accepted, or the partnership is archived"
ADMINS_ONLY = "Only an admin of the organisation manages the terms (or not a staff user)"
Version = Annotated[int, Path(ge=1, description="a terms version number")]


@router.post(
    "/orgs/<org_id>/programme/join",
    summary="Join the partner programme (staff with programme:join)",
    description="Under the caller's superior in the staff hierarchy, who must have joined first; at level zero "
    "without a superior. Needs the current terms version in accept_terms_version when one is published.",
    tags=TAGS,
    status_code=201,
    responses=answers(
        ok("The caller's new node", 201),
        forbidden=missing(Permission.PROGRAMME_JOIN),
        not_found=NOT_A_MEMBER,
        conflict="Already a participant, the superior has not joined yet, or the current terms version not accepted",
        invalid=INVALID,
    ),
)
def join(org_id: Id, request: Annotated[structure.JoinRequest, Body()]) -> Node:
    return structure.join(org_id, caller(router), request)


@router.get(
    "/orgs/<org_id>/programme/me",
    summary="The caller's place in the programme, with their referral link",
    tags=TAGS,
    responses=answers(ok("The caller as a participant"), forbidden=PARTNER_REFUSED, not_found=NOT_A_PARTNER),
)
def me(org_id: Id) -> Participant:
    return structure.my_view(partner_of(router, org_id))


@router.get(
    "/orgs/<org_id>/programme/partners",
    summary='"Your partners": the caller\'s downline, or everyone with programme:see_all',
    description="In structure order: each partner directly followed by their downline. A partner sees their "
    "downline's names, levels and statuses; staff see each one's place in the structure, and their balance only "
    f"with {Permission.PROGRAMME_MANAGE_BALANCES.value}.",
    tags=TAGS,
    responses=answers(
        ok("A page of partners in structure order"),
        forbidden=f"A staff member who has not joined and lacks {Permission.PROGRAMME_SEE_ALL.value}, or "
        + PARTNER_REFUSED.lower(),
        not_found=NOT_HERE,
        invalid="The cursor or limit is not valid",
    ),
)
def partners(org_id: Id, cursor: Cursor = None, limit: Limit = PAGE_LIMIT) -> YourPartners:
    return structure.your_partners(org_id, caller(router), balances=ledger.balances, cursor=cursor, limit=limit)


@router.put(
    "/orgs/<org_id>/programme/partners/<partner_id>/sponsor",
    summary="Move a partner (with their whole downline) under another sponsor, or to level zero",
    description="One transaction of at most 100 nodes. The staff hierarchy does not change.",
    tags=TAGS,
    responses=answers(
        ok("The partner as placed now"),
        forbidden=missing(Permission.MANAGE_PARTNERS),
        not_found="The caller is not a member of the organisation, or there is no such partner",
        conflict="The sponsor is in the partner's own downline or has ended, the downline is too large or "
        "too deep, or the structure changed meanwhile",
        invalid=INVALID + " (or the sponsor is not a partner of the organisation)",
    ),
)
def move(org_id: Id, partner_id: PartnerId, change: Annotated[structure.SponsorChange, Body()]) -> Move:
    member = member_of(router, org_id, Permission.MANAGE_PARTNERS)
    return structure.move(org_id, member, partner_id, change)


# -- terms -----------------------------------------------------------------------------------------


@router.post(
    "/orgs/<org_id>/programme/terms",
    summary="Start a new terms version: its number and a presigned upload for the PDF (admins)",
    description="POST the form fields and then the file (application/pdf, at most 10 MB) to the url; then "
    "publish the version.",
    tags=TAGS,
    status_code=201,
    responses=answers(ok("The draft version and its upload form", 201), forbidden=ADMINS_ONLY, not_found=NOT_A_MEMBER),
)
def start_terms(org_id: Id) -> terms.TermsDraft:
    return terms.start_upload(org_id, member_of(router, org_id))


@router.post(
    "/orgs/<org_id>/programme/terms/<version>/publish",
    summary="Publish an uploaded terms version: every partner must accept it before their next action (admins)",
    tags=TAGS,
    responses=answers(
        ok("The current terms"),
        forbidden=ADMINS_ONLY,
        not_found="The caller is not a member of the organisation, or there is no such version",
        conflict="The PDF was not uploaded (or is not a PDF of at most 10 MB), or a newer version is published",
    ),
)
def publish_terms(org_id: Id, version: Version) -> terms.PublishedTerms:
    return terms.publish(org_id, member_of(router, org_id), version)


@router.get(
    "/orgs/<org_id>/programme/terms",
    summary="The current terms with a download link (staff and partners of the organisation)",
    tags=TAGS,
    responses=answers(
        ok("The current terms (nulls while none is published); a partner's with what they accepted"),
        forbidden="A partner whose e-mail is not confirmed, or whose partnership is archived",
        not_found=NOT_HERE,
    ),
)
def current_terms(org_id: Id) -> terms.Terms | terms.PartnerTerms:
    return terms.terms_for(org_id, caller(router))


@router.post(
    "/orgs/<org_id>/programme/terms/accept",
    summary="Accept the current terms (the calling partner)",
    description="A partner whose terms were sent (PROSPECT_TERMS_SENT) becomes LIVE.",
    tags=TAGS,
    responses=answers(
        ok("The caller's node with the acceptance"),
        forbidden="E-mail not confirmed, or the partnership is archived",
        not_found=NOT_A_PARTNER,
        conflict="Not the current version, no terms published, or a change meanwhile",
        invalid=INVALID,
    ),
)
def accept_terms(org_id: Id, acceptance: Annotated[terms.TermsAcceptance, Body()]) -> Node:
    partner = partner_of(router, org_id, accepting_terms=True)
    return Node.of(terms.accept(partner, acceptance.version))


# -- invitations -----------------------------------------------------------------------------------


@router.post(
    "/orgs/<org_id>/programme/invitations",
    summary="Invite someone by e-mail to register under the caller (or at level zero)",
    description="A participant invites under themselves; a staff member with programme:invite_level_zero "
    "may invite at level zero. The e-mail (subject and body as given, plus a single-use registration link "
    "bound to the address) goes from the inviter's sender address when they confirmed it and the organisation "
    "allows its domain, else from the system's address naming the inviter (replies go to the inviter).",
    tags=TAGS,
    status_code=201,
    responses=answers(
        ok("The invitation; the e-mail follows", 201),
        forbidden=f"Level zero without {Permission.PROGRAMME_INVITE_LEVEL_ZERO.value}, a staff member who has "
        "not joined, or " + PARTNER_REFUSED.lower(),
        not_found=NOT_HERE,
        conflict="The address already belongs to a partner of the organisation",
        invalid=INVALID,
    ),
)
def invite(org_id: Id, new: Annotated[invitations.NewInvitation, Body()]) -> invitations.Invitation:
    return invitations.invite(org_id, caller(router), new)


@router.get(
    "/orgs/<org_id>/programme/invitations",
    summary="The caller's own invitations, newest first",
    tags=TAGS,
    responses=answers(
        ok("A page of invitations"),
        forbidden=PARTNER_REFUSED,
        not_found=NOT_HERE,
        invalid="The cursor or limit is not valid",
    ),
)
def my_invitations(org_id: Id, cursor: Cursor = None, limit: Limit = PAGE_LIMIT) -> Page[invitations.Invitation]:
    items, next_cursor = invitations.my_invitations(org_id, caller(router), cursor=cursor, limit=limit)
    return page_of(invitations.Invitation, items, next_cursor)
