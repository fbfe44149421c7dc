"""The partner programme (seed 004): joining, the structure ("your partners"), terms, invitations and the
participant's own view with their referral link."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from common.money import ledger
from common.orgs.access import Permission, require_member
from common.partners.partner_caller import require_partner
from common.partners.partner_records import PartnerStatus
from common.platform.currencies import MINOR_UNITS_DESCRIPTION
from common.platform.errors import NotFound
from common.programme import invitations, structure, terms
from common.web.openapi_docs import INVALID, NOT_A_MEMBER, Open, Page, answers, body, missing
from common.web.route_params import PAGE_LIMIT, Cursor, Id, Limit, PartnerId, caller, member_of, page, partner_of
from pydantic import Field

router = APIGatewayHttpRouter()
TAGS = ["partner programme"]

NOT_HERE = "The caller is neither a staff member nor a partner of the organisation (or it does not exist)"
NOT_A_PARTNER = "The caller is not a partner of the organisation (or it does not exist)"
PARTNER_REFUSED = "E-mail not confirmed, current terms not accepted, or the partnership is archived"
ADMINS_ONLY = "Only an admin of the organisation manages the terms (or not a staff user)"
Version = Annotated[int, Path(ge=1, description="a terms version number")]


class Node(Open):
    org_id: str
    partner_id: str
    name: str
    email: str
    status: PartnerStatus
    origin: str = Field(description="added, existing, joined, invitation or referral")
    sponsor_id: str | None = None
    upline: list[str] = Field(description="the sponsor first, up to the root")
    level: int = Field(description="0 at the top of the structure")
    terms_version: int | None = None
    added_at: datetime


class StructureWallet(Open):
    balance: int = Field(description="minor units: the sum of the partner's ledger entries")
    currency: str
    minor_units: int | None = Field(description=MINOR_UNITS_DESCRIPTION)


class StructurePartner(Node):
    wallet: StructureWallet | None = Field(
        description="the partner's balance, shown to whoever sees them listed (correcting it needs "
        "programme:manage_balances); null before their first ledger entry, a balance of 0"
    )


class NodePage(Page):
    items: list[StructurePartner]
    scope: str = Field(description="all (programme:see_all) or downline (the caller's own structure)")


class Move(Open):
    partner: Node
    moved: int = Field(description="how many nodes were re-placed: the partner and its downline (0: no change)")


class Sponsor(Open):
    partner_id: str
    name: str | None = None


class TermsStatus(Open):
    current_version: int | None
    accepted_version: int | None = None
    accepted_at: datetime | None = None


class Participant(Open):
    org_id: str
    partner_id: str
    status: PartnerStatus
    level: int
    upline: list[str]
    sponsor: Sponsor | None
    referral_code: str
    referral_link: str = Field(description="the portal's registration page for this code")
    terms: TermsStatus


class Upload(Open):
    url: str
    fields: dict[str, str] = Field(description="form fields to send with the file (the file goes last, as `file`)")


class TermsDraft(Open):
    version: int
    status: str
    upload: Upload
    content_type: str
    max_bytes: int
    expires_in: int = Field(description="seconds the upload form stays valid")


class Terms(Open):
    version: int | None = Field(description="the current version; null while none is published")
    published_at: datetime | None = None
    url: str | None = Field(None, description="a short-lived download link of the PDF")
    url_expires_in: int | None = None
    accepted_version: int | None = Field(None, description="partners: the version they accepted")
    accepted_at: datetime | None = None
    accepted: bool | None = Field(None, description="partners: whether they accepted the current version")


class Invitation(Open):
    invitation_id: str
    org_id: str
    inviter_id: str
    sponsor_id: str | None = None
    level_zero: bool
    first_name: str
    last_name: str
    email: str
    created_at: datetime
    expires_at: datetime
    state: str = Field(description="sent, accepted or expired")
    sender_email: str | None = Field(
        None, description="the inviter's own address the e-mail goes from; absent: the system's, naming the inviter"
    )


class InvitationPage(Page):
    items: list[Invitation]


@router.post(
    "/orgs/<org_id>/programme/join",
    summary="Join the partner programme (staff with programme:join)",
    description="Under the caller's superior in the staff hierarchy, who must have joined first; at level zero "
    "without a superior. Needs the current terms version in accept_terms_version when one is published.",
    tags=TAGS,
    responses=answers(
        body(Node, "The caller's new node", 201),
        forbidden=missing(Permission.PROGRAMME_JOIN),
        not_found=NOT_A_MEMBER,
        conflict="Already a participant, the superior has not joined yet, or the current terms version not accepted",
        invalid=INVALID,
    ),
)
def join(org_id: Id, request: Annotated[structure.JoinRequest, Body()]) -> tuple[dict[str, Any], int]:
    return structure.node_view(structure.join(org_id, caller(router), request)), 201


@router.get(
    "/orgs/<org_id>/programme/me",
    summary="The caller's place in the programme, with their referral link",
    tags=TAGS,
    responses=answers(
        body(Participant, "The caller as a participant"), forbidden=PARTNER_REFUSED, not_found=NOT_A_PARTNER
    ),
)
def me(org_id: Id) -> dict[str, Any]:
    return structure.my_view(partner_of(router, org_id))


@router.get(
    "/orgs/<org_id>/programme/partners",
    summary='"Your partners": the caller\'s downline, or everyone with programme:see_all',
    description="In structure order: each partner directly followed by their downline.",
    tags=TAGS,
    responses=answers(
        body(NodePage, "A page of partners in structure order"),
        forbidden=f"A staff member who has not joined and lacks {Permission.PROGRAMME_SEE_ALL.value}, or "
        + PARTNER_REFUSED.lower(),
        not_found=NOT_HERE,
        invalid="The cursor or limit is not valid",
    ),
)
def partners(org_id: Id, cursor: Cursor = None, limit: Limit = PAGE_LIMIT) -> dict[str, Any]:
    items, next_cursor, scope = structure.list_structure(org_id, caller(router), cursor=cursor, limit=limit)
    wallets = ledger.balances(org_id, [i["partner_id"] for i in items])
    listed = [structure.node_view(i) | {"wallet": wallets.get(i["partner_id"])} for i in items]
    return {**page(listed, next_cursor), "scope": scope}


@router.put(
    "/orgs/<org_id>/programme/partners/<partner_id>/sponsor",
    summary="Move a partner (with their whole downline) under another sponsor, or to level zero",
    description="One transaction of at most 100 nodes. The staff hierarchy does not change.",
    tags=TAGS,
    responses=answers(
        body(Move, "The partner as placed now"),
        forbidden=missing(Permission.MANAGE_PARTNERS),
        not_found="The caller is not a member of the organisation, or there is no such partner",
        conflict="The sponsor is in the partner's own downline or has ended, the downline is too large or "
        "too deep, or the structure changed meanwhile",
        invalid=INVALID + " (or the sponsor is not a partner of the organisation)",
    ),
)
def move(org_id: Id, partner_id: PartnerId, change: Annotated[structure.SponsorChange, Body()]) -> dict[str, Any]:
    member = member_of(router, org_id, Permission.MANAGE_PARTNERS)
    return structure.move(org_id, member, partner_id, change)


# -- terms -----------------------------------------------------------------------------------------


@router.post(
    "/orgs/<org_id>/programme/terms",
    summary="Start a new terms version: its number and a presigned upload for the PDF (admins)",
    description="POST the form fields and then the file (application/pdf, at most 10 MB) to the url; then "
    "publish the version.",
    tags=TAGS,
    responses=answers(
        body(TermsDraft, "The draft version and its upload form", 201), forbidden=ADMINS_ONLY, not_found=NOT_A_MEMBER
    ),
)
def start_terms(org_id: Id) -> tuple[dict[str, Any], int]:
    return terms.start_upload(org_id, member_of(router, org_id)), 201


@router.post(
    "/orgs/<org_id>/programme/terms/<version>/publish",
    summary="Publish an uploaded terms version: every partner must accept it before their next action (admins)",
    tags=TAGS,
    responses=answers(
        body(Terms, "The current terms"),
        forbidden=ADMINS_ONLY,
        not_found="The caller is not a member of the organisation, or there is no such version",
        conflict="The PDF was not uploaded (or is not a PDF of at most 10 MB), or a newer version is published",
    ),
)
def publish_terms(org_id: Id, version: Version) -> dict[str, Any]:
    return terms.publish(org_id, member_of(router, org_id), version)


@router.get(
    "/orgs/<org_id>/programme/terms",
    summary="The current terms with a download link (staff and partners of the organisation)",
    tags=TAGS,
    responses=answers(
        body(Terms, "The current terms (nulls while none is published)"),
        forbidden="A partner whose e-mail is not confirmed, or whose partnership is archived",
        not_found=NOT_HERE,
    ),
)
def current_terms(org_id: Id) -> dict[str, Any]:
    principal = caller(router)
    try:
        require_member(principal, org_id)
    except NotFound:
        partner = require_partner(principal, org_id, accepting_terms=True)
        return terms.current_terms(org_id, node=partner.node)
    return terms.current_terms(org_id)


@router.post(
    "/orgs/<org_id>/programme/terms/accept",
    summary="Accept the current terms (the calling partner)",
    description="A partner whose terms were sent (PROSPECT_TERMS_SENT) becomes LIVE.",
    tags=TAGS,
    responses=answers(
        body(Node, "The caller's node with the acceptance"),
        forbidden="E-mail not confirmed, or the partnership is archived",
        not_found=NOT_A_PARTNER,
        conflict="Not the current version, no terms published, or a change meanwhile",
        invalid=INVALID,
    ),
)
def accept_terms(org_id: Id, acceptance: Annotated[terms.TermsAcceptance, Body()]) -> dict[str, Any]:
    partner = partner_of(router, org_id, accepting_terms=True)
    return structure.node_view(terms.accept(partner, acceptance.version))


# -- invitations -----------------------------------------------------------------------------------


@router.post(
    "/orgs/<org_id>/programme/invitations",
    summary="Invite someone by e-mail to register under the caller (or at level zero)",
    description="A participant invites under themselves; a staff member with programme:invite_level_zero "
    "may invite at level zero. The e-mail (subject and body as given, plus a single-use registration link "
    "bound to the address) goes from the inviter's sender address when they confirmed it and the organisation "
    "allows its domain, else from the system's address naming the inviter (replies go to the inviter).",
    tags=TAGS,
    responses=answers(
        body(Invitation, "The invitation; the e-mail follows", 201),
        forbidden=f"Level zero without {Permission.PROGRAMME_INVITE_LEVEL_ZERO.value}, a staff member who has "
        "not joined, or " + PARTNER_REFUSED.lower(),
        not_found=NOT_HERE,
        conflict="The address already belongs to a partner of the organisation",
        invalid=INVALID,
    ),
)
def invite(org_id: Id, new: Annotated[invitations.NewInvitation, Body()]) -> tuple[dict[str, Any], int]:
    return invitations.invitation_view(invitations.invite(org_id, caller(router), new)), 201


@router.get(
    "/orgs/<org_id>/programme/invitations",
    summary="The caller's own invitations, newest first",
    tags=TAGS,
    responses=answers(
        body(InvitationPage, "A page of invitations"),
        forbidden=PARTNER_REFUSED,
        not_found=NOT_HERE,
        invalid="The cursor or limit is not valid",
    ),
)
def my_invitations(org_id: Id, cursor: Cursor = None, limit: Limit = PAGE_LIMIT) -> dict[str, Any]:
    items, next_cursor = invitations.my_invitations(org_id, caller(router), cursor=cursor, limit=limit)
    return page([invitations.invitation_view(i) for i in items], next_cursor)
