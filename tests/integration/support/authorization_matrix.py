"""Who may call each operation of the API, as data for test_authorization_matrix: every operation of the served
OpenAPI document has one entry in ACCESS, keyed "METHOD /path", naming its access policy; the policy gives
the answer each kind of caller must get. An entry also says which real resources the request aims at (path
parameters name attributes of authorization_world.World, the parameter's own name by default) and the body
it sends, valid for the operation, so a refusal is the authorization's and not validation's.

A new route is one line here: its policy, and its body if it takes one."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tests.integration.support import customer_sides

if TYPE_CHECKING:
    from tests.integration.support.authorization_world import World


class Kind(StrEnum):
    """The kinds of caller every operation is tried with."""

    NONE = "no token"
    GARBAGE = "a token that is no JWT"
    FORGED = "the org admin's claims signed by another key"
    COMPANY = "the org's partner company (client credentials)"
    OUTSIDER = "another organisation's admin"
    PARTNER = "a partner of the organisation"
    TEAM_MEMBER = "a member of one of the organisation's partner teams"
    STAFF = "a staff member without permissions"
    HOLDER = "a staff member holding just what the policy names"


ALLOWED = "2xx"
Answer = int | str  # a status, or ALLOWED
ADMIN = "admin"  # a policy's holder: the organisation's admin (role, not a permission)


@dataclass(frozen=True)
class Policy:
    name: str
    answers: Mapping[Kind, Answer]
    # What the HOLDER kind holds (permissions, or ADMIN); empty: the policy has no holder to try.
    holder: tuple[str, ...] = ()


# API Gateway answers a request without the token 401, and one its authorizer refuses 403.
_TOKENLESS = {Kind.NONE: 401, Kind.GARBAGE: 403, Kind.FORGED: 403}
_USERS = {Kind.COMPANY: 403}  # machine credentials only post leads


def _policy(name: str, holder: tuple[str, ...] = (), **answers: Answer) -> Policy:
    base: dict[Kind, Answer] = {
        **_TOKENLESS,
        **_USERS,
        Kind.OUTSIDER: 404,
        Kind.PARTNER: 404,
        Kind.TEAM_MEMBER: 404,
        Kind.STAFF: 404,
    }
    base |= {Kind[k.upper()]: v for k, v in answers.items()}
    if holder:
        base[Kind.HOLDER] = ALLOWED
    return Policy(name, base, holder)


def public(status: int, name: str = "public") -> Policy:
    """No token needed: every caller gets the same answer, whatever token they send."""
    return Policy(f"{name} ({status} for everyone)", {kind: status for kind in Kind if kind is not Kind.HOLDER})


# Twilio signs its requests (X-Twilio-Signature); a bearer token, even a valid one, is no signature.
TWILIO = public(403, "Twilio's signature")


ANY_USER = _policy("any signed-in user", outsider=ALLOWED, partner=ALLOWED, team_member=ALLOWED, staff=ALLOWED)
OPERATOR = _policy("a user in the operators' group", outsider=ALLOWED, partner=403, team_member=403, staff=403)
MEMBER = _policy("a staff member of the organisation", staff=ALLOWED)
ORG_ADMIN = _policy("an admin of the organisation", (ADMIN,), staff=403)
# The sign-in routes: another organisation's admin is an operator (new_organisation), and so is this one's.
ADMIN_OR_OPERATOR = _policy("an admin of the organisation, or an operator", (ADMIN,), outsider=ALLOWED, staff=403)
OPERATOR_ON_A_USER = _policy("an operator (here the admin is one)", (ADMIN,), outsider=ALLOWED, staff=403)
PARTNER = _policy("a partner of the organisation", partner=ALLOWED)
PARTNER_ACCOUNT = _policy("a user with a partner account", partner=ALLOWED)
MEMBER_OR_PARTNER = _policy("a staff member or a partner of the organisation", partner=ALLOWED, staff=ALLOWED)
PARTICIPANT = _policy("a programme participant (a partner, or staff who joined)", partner=ALLOWED, staff=403)
TEAM_READER = _policy(
    "a member of the team, or staff with teams:manage", ("teams:manage",), team_member=ALLOWED, staff=403
)
TEAM_MANAGER = _policy(
    "the team's leader or admins, or staff with teams:manage", ("teams:manage",), team_member=403, staff=403
)
FEE_READER = _policy(
    "the team's leader or admins, or staff with fees:manage", ("fees:manage",), team_member=403, staff=403
)
FEE_MANAGER = _policy("staff with fees:manage (a team member: 403)", ("fees:manage",), team_member=403, staff=403)
FEE_WRITER = _policy("staff with fees:write_off (a team member: 403)", ("fees:write_off",), team_member=403, staff=403)
TEAM_ASSIGNEE = _policy("the customer's assignee, or the team's leader or admins", team_member=ALLOWED, staff=403)
TEAM_ACCEPTOR = _policy("a member of the request's team", team_member=ALLOWED, staff=403)
INTAKE = _policy(
    "the partner company the path names (client credentials)",
    company=ALLOWED,
    outsider=403,
    partner=403,
    team_member=403,
    staff=403,
)


def permission(*held: str, name: str = "") -> Policy:
    """A staff member holding every one of `held`. The STAFF kind holds nothing and owns none of the resources
    aimed at (they are another user's), so it gets 403."""
    return _policy(name or f"a staff member with {' and '.join(held)}", held, staff=403)


def participant_or(held: str) -> Policy:
    return _policy(f"a programme participant, or staff with {held}", (held,), partner=ALLOWED, staff=403)


def team_reader_or(held: str) -> Policy:
    return _policy(f"a member of the request's team, or staff with {held}", (held,), team_member=ALLOWED, staff=403)


Body = Mapping[str, Any] | Callable[["World"], Any] | None


@dataclass(frozen=True)
class Entry:
    policy: Policy
    body: Body = None
    # path parameter -> World attribute (default: the attribute named like the parameter)
    params: Mapping[str, str] = field(default_factory=dict)
    # a kind -> the World attribute of the actor playing it here (default: World.token's choice)
    actors: Mapping[Kind, str] = field(default_factory=dict)
    # put back what the allowed calls changed that later entries rely on
    after: Callable[[World], None] | None = None
    form: bool = False  # the body goes as form fields, not JSON


def e(policy: Policy, body: Body = None, *, actors: Mapping[Kind, str] | None = None, **params: str) -> Entry:
    return Entry(policy, body, params, actors=actors or {})


def email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@it.example"


def phone() -> str:
    return f"+1555{uuid.uuid4().int % 10**7:07d}"


CONTACT = {"first_name": "Jane", "last_name": "Doe", "email": "jane@customer.example", "phone": "+1 555 0100"}
FILE = {"name": "payslip.pdf", "content_type": "application/pdf", "size": 1_000}
DEALS_MANAGE = "deals:manage"
BALANCES = "programme:manage_balances"
LEADS_MANAGE = "leads:manage"
PARTNERS_MANAGE = "partners:manage"
COMPANIES = permission("companies:manage")
MEMBERS = permission("members:manage")
BALANCE_KEEPER = permission(BALANCES)
PARTNER_MANAGER = permission(PARTNERS_MANAGE)
LEAD_ADMIN = permission(LEADS_MANAGE, name=f"the lead's assignee (another rep here) or {LEADS_MANAGE}")
DEAL_ADMIN = permission(DEALS_MANAGE, name=f"the deal's owner (another user here) or {DEALS_MANAGE}")
STAFF_TEAM_READER = permission("teams:manage", name="staff with teams:manage or referrals:manage")
INTEGRATIONS = permission("integrations:manage")
SELLER = permission("leads:sell")
# Matrix endpoints stay disabled: nothing the matrix changes is delivered to them.
WEBHOOK = {"url": "https://receiver.example/matrix", "event_types": ["all"], "enabled": False}
# ...but one, enabled for the deliveries' routes, subscribed to a change the matrix never makes (it runs no
# sweep), at an address nothing listens on (its test event fails at once).
QUIET = "quiet_endpoint_id"
QUIET_WEBHOOK = {"url": "http://127.0.0.1:9/matrix", "event_types": ["team_customer.overdue"]}
# A replay of a range without events: nothing is delivered.
LONG_AGO = {"start": "2000-01-01T00:00:00Z", "end": "2000-01-02T00:00:00Z"}


def _publish_after(world: World) -> None:
    world.accept_current_terms()


def _disable_after(world: World) -> None:
    world.disable_endpoint()


ACCESS: dict[str, Entry] = {
    # -- organisations and members
    "GET /orgs": e(ANY_USER),
    "POST /orgs": e(OPERATOR, {"name": "Matrix org"}),
    "GET /orgs/{org_id}": e(MEMBER),
    "GET /orgs/{org_id}/members": e(MEMBERS),
    "PUT /orgs/{org_id}/members/{user_id}": e(MEMBERS, {"permissions": []}, user_id="newcomer_id"),
    "DELETE /orgs/{org_id}/members/{user_id}": e(MEMBERS, user_id="leaver_id"),
    "GET /orgs/{org_id}/children": e(MEMBER),
    "POST /orgs/{org_id}/children": e(ORG_ADMIN, {"name": "Matrix child"}),
    "GET /orgs/{org_id}/message-templates": e(MEMBER),
    "POST /orgs/{org_id}/message-templates": e(
        permission("templates:manage"), {"name": "Thanks", "subject": "Thanks", "body": "Thanks for the lead"}
    ),
    "GET /orgs/{org_id}/message-templates/{template_id}": e(MEMBER),
    # -- sign-ins of the organisation's users
    "POST /orgs/{org_id}/sign-ins/{user_id}/sign-out": e(ADMIN_OR_OPERATOR, user_id="signed_out_id"),
    "POST /orgs/{org_id}/sign-ins/{user_id}/disable": e(OPERATOR_ON_A_USER, user_id="disabled_id"),
    "DELETE /orgs/{org_id}/sign-ins/{user_id}": e(OPERATOR_ON_A_USER, user_id="deleted_id"),
    "POST /orgs/{org_id}/sign-ins/{user_id}/mfa-check": e(ADMIN_OR_OPERATOR, user_id="rep_id"),
    # -- partner companies and leads
    "GET /orgs/{org_id}/partner-companies": e(COMPANIES),
    "POST /orgs/{org_id}/partner-companies": e(COMPANIES, {"name": "Matrix seller"}),
    "GET /orgs/{org_id}/partner-companies/{company_id}": e(COMPANIES),
    "PATCH /orgs/{org_id}/partner-companies/{company_id}": e(COMPANIES, {"notes": "checked"}, company_id="company2_id"),
    "POST /orgs/{org_id}/partner-companies/{company_id}/credentials": e(COMPANIES, company_id="company2_id"),
    "GET /orgs/{org_id}/partner-companies/{company_id}/campaigns": e(COMPANIES),
    "POST /orgs/{org_id}/partner-companies/{company_id}/campaigns": e(COMPANIES, {"name": "Matrix campaign"}),
    "GET /orgs/{org_id}/partner-companies/{company_id}/campaigns/{campaign_id}": e(COMPANIES),
    "PATCH /orgs/{org_id}/partner-companies/{company_id}/campaigns/{campaign_id}": e(COMPANIES, {"description": "x"}),
    "DELETE /orgs/{org_id}/partner-companies/{company_id}/campaigns/{campaign_id}": e(
        COMPANIES, campaign_id="deleted_campaign_id"
    ),
    "GET /orgs/{org_id}/sources": e(permission("leads:create", name="staff with leads:create or companies:manage")),
    "POST /orgs/{org_id}/partner-companies/{company_id}/leads": e(
        INTAKE, lambda w: {"external_id": uuid.uuid4().hex, "contact_name": "Jo Lead", "phone": "+1 555 0102"}
    ),
    "POST /orgs/{org_id}/partner-companies/{company_id}/customers": e(
        INTAKE, lambda w: customer_sides.customer(f"matrix-{uuid.uuid4().hex}")
    ),
    "GET /orgs/{org_id}/partner-companies/{company_id}/leads/{external_id}/status": e(
        INTAKE, external_id="posted_external_id"
    ),
    "GET /orgs/{org_id}/leads": e(permission("leads:view_pending")),
    "POST /orgs/{org_id}/leads": e(
        permission("leads:create"), {"contact_name": "Jo Lead", "phone": "+1 555 0103", "source_id": "self-generated"}
    ),
    "GET /orgs/{org_id}/my-leads": e(MEMBER),
    "GET /orgs/{org_id}/leads/{lead_id}": e(LEAD_ADMIN, lead_id="read_lead_id"),
    "GET /orgs/{org_id}/leads/{lead_id}/history": e(LEAD_ADMIN, lead_id="read_lead_id"),
    "POST /orgs/{org_id}/lead-queue/claims": e(permission("leads:request")),
    "POST /orgs/{org_id}/leads/{lead_id}/keep": e(LEAD_ADMIN, lead_id="keep_lead_id"),
    "POST /orgs/{org_id}/leads/{lead_id}/requeue": e(LEAD_ADMIN, {}, lead_id="requeue_lead_id"),
    "POST /orgs/{org_id}/leads/{lead_id}/invalidate": e(
        LEAD_ADMIN, {"reason": "wrong number"}, lead_id="invalid_lead_id"
    ),
    "POST /orgs/{org_id}/leads/{lead_id}/convert": e(LEAD_ADMIN, lead_id="convert_lead_id"),
    "POST /orgs/{org_id}/lead-returns": e(permission("leads:return"), lambda w: {"lead_ids": [w.return_lead_id]}),
    "POST /orgs/{org_id}/lead-duplicate-checks": e(
        permission("leads:create"), {"contact_name": "Jo", "phone": "+1 555 0103", "source_id": "self-generated"}
    ),
    "POST /orgs/{org_id}/partner-companies/{company_id}/lead-duplicate-checks": e(
        INTAKE, {"external_id": "CHECKED", "contact_name": "Jo Lead", "phone": "+1 555 0102"}
    ),
    "GET /orgs/{org_id}/queue-settings": e(MEMBER),
    # The defaults saved again: the matrix's leads are taken as before (duplicates too), at any hour.
    "PUT /orgs/{org_id}/queue-settings": e(permission(LEADS_MANAGE), {"put_back_hold_minutes": 0}),
    # -- sales: to the buying company (by e-mail: nothing the matrix sells is posted), its sale posts' log
    "POST /orgs/{org_id}/lead-sales": e(SELLER, lambda w: {"company_id": w.buyer_id, "lead_ids": [w.sale_lead_id]}),
    "POST /orgs/{org_id}/customer-sales": e(
        SELLER, lambda w: {"company_id": w.buyer_id, "customer_ids": [w.sale_customer_id]}
    ),
    "GET /orgs/{org_id}/partner-companies/{company_id}/sale-posts": e(SELLER, company_id="buyer_id"),
    "GET /orgs/{org_id}/partner-companies/{company_id}/sale-posts/{sale_id}": e(
        SELLER, company_id="buyer_id", sale_id="posted_sale_id"
    ),
    "POST /orgs/{org_id}/partner-companies/{company_id}/sale-posts/{sale_id}/resend": e(
        SELLER, company_id="buyer_id", sale_id="posted_sale_id"
    ),
    "POST /orgs/{org_id}/partner-companies/{company_id}/sale-signing-secret": e(COMPANIES, company_id="buyer_id"),
    "GET /orgs/{org_id}/customers": e(MEMBER),
    "GET /orgs/{org_id}/customers/{customer_id}": e(LEAD_ADMIN, customer_id="lead_customer_id"),
    # -- partners, staff side
    "GET /orgs/{org_id}/portal-settings": e(MEMBER),
    "PUT /orgs/{org_id}/portal-settings": e(
        PARTNER_MANAGER,
        lambda w: {"default_workflow_id": w.workflow_id, "partner_notification_types": ["deal_shared"]},
    ),
    "GET /orgs/{org_id}/partners": e(PARTNER_MANAGER),
    "POST /orgs/{org_id}/partners": e(
        PARTNER_MANAGER, lambda w: {"first_name": "Pam", "last_name": "New", "email": email("pam"), "phone": phone()}
    ),
    "POST /orgs/{org_id}/partners/existing": e(
        PARTNER_MANAGER, lambda w: {"partner_id": w.partner_id}, org_id="child_org_id"
    ),
    "GET /orgs/{org_id}/partners/{partner_id}": e(PARTNER_MANAGER),
    "DELETE /orgs/{org_id}/partners/{partner_id}": e(PARTNER_MANAGER, partner_id="removable_id"),
    "PATCH /orgs/{org_id}/partners/{partner_id}": e(PARTNER_MANAGER, {"first_name": "Pat"}),
    "PUT /orgs/{org_id}/partners/{partner_id}/brokers": e(PARTNER_MANAGER, lambda w: {"brokers": [w.rep_id]}),
    "POST /orgs/{org_id}/partners/{partner_id}/status": e(PARTNER_MANAGER, {"status": "ENDED"}, partner_id="ending_id"),
    "POST /orgs/{org_id}/partners/{partner_id}/restore": e(PARTNER_MANAGER, partner_id="archived_id"),
    "POST /orgs/{org_id}/partners/{partner_id}/send-terms": e(PARTNER_MANAGER, partner_id="prospect_id"),
    "POST /orgs/{org_id}/partners/{partner_id}/terms-signed": e(PARTNER_MANAGER, partner_id="terms_sent_id"),
    "GET /orgs/{org_id}/partners/{partner_id}/contacts": e(PARTNER_MANAGER),
    "POST /orgs/{org_id}/partners/{partner_id}/contacts": e(PARTNER_MANAGER, {"channel": "phone", "summary": "Called"}),
    "GET /orgs/{org_id}/partners/{partner_id}/tasks": e(PARTNER_MANAGER),
    "POST /orgs/{org_id}/partners/{partner_id}/tasks": e(
        PARTNER_MANAGER, {"title": "Call back", "due_at": "2031-01-01T09:00:00Z"}
    ),
    "PATCH /orgs/{org_id}/partners/{partner_id}/tasks/{task_id}": e(PARTNER_MANAGER, {"done": True}),
    "GET /orgs/{org_id}/partners/{partner_id}/activity": e(PARTNER_MANAGER),
    # -- the programme
    "POST /orgs/{org_id}/programme/join": e(
        permission("programme:join"), lambda w: {"accept_terms_version": w.terms_version}
    ),
    "GET /orgs/{org_id}/programme/me": e(PARTNER),
    "GET /orgs/{org_id}/programme/partners": e(participant_or("programme:see_all")),
    "PUT /orgs/{org_id}/programme/partners/{partner_id}/sponsor": e(
        PARTNER_MANAGER, lambda w: {"sponsor_id": w.partner_id}, partner_id="downline_id"
    ),
    "GET /orgs/{org_id}/programme/terms": e(MEMBER_OR_PARTNER),
    "POST /orgs/{org_id}/programme/terms": e(ORG_ADMIN),
    "POST /orgs/{org_id}/programme/terms/{version}/publish": Entry(
        ORG_ADMIN, params={"version": "unpublished_terms_version"}, after=_publish_after
    ),
    "POST /orgs/{org_id}/programme/terms/accept": e(PARTNER, lambda w: {"version": w.terms_version}),
    "GET /orgs/{org_id}/programme/invitations": e(MEMBER_OR_PARTNER),
    "POST /orgs/{org_id}/programme/invitations": e(
        PARTICIPANT,
        lambda w: {
            "first_name": "Ivy",
            "last_name": "Invitee",
            "email": email("ivy"),
            "phone": "+1 555 0123",
            "subject": "Join",
            "body": "Come and refer with us.",
        },
    ),
    # -- before anyone has a token
    "GET /public/invitations/{token}": e(public(200), token="invitation_token"),
    "GET /public/referrals/{code}": e(public(200), code="referral_code"),
    "POST /public/registrations/invitation": e(public(404), {"token": "x" * 32, "password": "Matrix-Passw0rd!"}),
    "POST /public/registrations/referral": e(
        public(202),
        lambda w: {
            "code": w.referral_code,
            "first_name": "Rex",
            "last_name": "Referred",
            "email": w.referred_email,
            "phone": "+1 555 0199",
            "password": "Matrix-Passw0rd!",
            "accept_terms_version": w.terms_version,
        },
    ),
    "POST /public/email-confirmations": e(public(404), {"token": "x" * 32}),
    "POST /public/sender-confirmations": e(public(404), {"token": "x" * 32}),
    "POST /public/activations": e(public(404), {"token": "x" * 32, "password": "Matrix-Passw0rd!"}),
    # -- the partner's own account
    "GET /me/partner": e(PARTNER_ACCOUNT),
    "PATCH /me/partner": e(PARTNER_ACCOUNT, {"preferences": {"dark_mode": True}}),
    "POST /me/partner/email": e(PARTNER_ACCOUNT, lambda w: {"email": email("moved")}),
    "POST /me/partner/confirmation": e(PARTNER_ACCOUNT, actors={Kind.PARTNER: "unconfirmed"}),
    # -- workflows and deals, staff side
    "GET /orgs/{org_id}/workflows": e(MEMBER),
    "POST /orgs/{org_id}/workflows": e(permission(DEALS_MANAGE), {"name": "Matrix flow", "stages": [{"name": "New"}]}),
    "GET /orgs/{org_id}/workflows/{workflow_id}": e(MEMBER),
    "PUT /orgs/{org_id}/workflows/{workflow_id}/stages/{stage_id}/commission": e(
        BALANCE_KEEPER, {"commission": "none"}, workflow_id="workflow2_id", stage_id="workflow2_stage_id"
    ),
    "GET /orgs/{org_id}/deals": e(MEMBER),
    "POST /orgs/{org_id}/deals": e(
        permission("deals:money"),
        lambda w: {
            "workflow_id": w.workflow_id,
            "contacts": [CONTACT],
            "value": {"amount": 100_000, "currency": "AUD"},
            "partner_id": w.partner_id,
        },
    ),
    "GET /orgs/{org_id}/deals/{deal_id}": e(DEAL_ADMIN),
    "GET /orgs/{org_id}/deals/{deal_id}/stage-history": e(DEAL_ADMIN),
    "POST /orgs/{org_id}/deals/{deal_id}/stage": e(
        permission(DEALS_MANAGE, "deals:money", name="the deal's owner or deals:manage, and deals:money to pay"),
        lambda w: {"stage_id": w.won_stage_id},
        deal_id="moving_deal_id",
    ),
    "PUT /orgs/{org_id}/deals/{deal_id}/partners/{partner_id}": e(DEAL_ADMIN, partner_id="sharee_id"),
    "GET /orgs/{org_id}/deals/{deal_id}/notes": e(DEAL_ADMIN),
    "POST /orgs/{org_id}/deals/{deal_id}/notes": e(DEAL_ADMIN, {"body": "Valuation booked"}),
    "PATCH /orgs/{org_id}/deals/{deal_id}/notes/{note_id}": e(DEAL_ADMIN, {"shared_with_partners": True}),
    "GET /orgs/{org_id}/deals/{deal_id}/files": e(DEAL_ADMIN),
    "POST /orgs/{org_id}/deals/{deal_id}/files": e(DEAL_ADMIN, FILE),
    # -- the partner portal
    "GET /orgs/{org_id}/portal/workflows": e(PARTNER),
    "GET /orgs/{org_id}/portal/deals": e(PARTNER),
    "GET /orgs/{org_id}/portal/brokers": e(PARTNER),
    "POST /orgs/{org_id}/portal/deals": e(PARTNER, {"contacts": [CONTACT]}),
    "GET /orgs/{org_id}/portal/deals/{deal_id}": e(PARTNER),
    "GET /orgs/{org_id}/portal/deals/{deal_id}/stage-history": e(PARTNER),
    "GET /orgs/{org_id}/portal/deals/{deal_id}/notes": e(PARTNER),
    "POST /orgs/{org_id}/portal/deals/{deal_id}/notes": e(PARTNER, {"body": "Client called"}),
    "GET /orgs/{org_id}/portal/deals/{deal_id}/files": e(PARTNER),
    "POST /orgs/{org_id}/portal/deals/{deal_id}/files": e(PARTNER, FILE),
    "GET /orgs/{org_id}/portal/notifications": e(PARTNER),
    "PUT /orgs/{org_id}/portal/notifications": e(PARTNER, {"types": ["deal_shared"]}),
    # -- partner teams and referral requests
    "GET /orgs/{org_id}/teams": e(STAFF_TEAM_READER),
    "POST /orgs/{org_id}/teams": e(
        permission("teams:manage"),
        lambda w: {"name": f"Team {uuid.uuid4().hex[:6]}", "leader": w.new_leader(phone())},
    ),
    "GET /orgs/{org_id}/teams/overdue": e(STAFF_TEAM_READER),
    "GET /orgs/{org_id}/teams/{team_id}": e(TEAM_READER),
    "PUT /orgs/{org_id}/teams/{team_id}/leader": e(
        permission("teams:manage", name="staff with teams:manage"),
        lambda w: {"user_id": w.team2_member_id},
        team_id="team2_id",
    ),
    "PUT /orgs/{org_id}/teams/{team_id}/members/{user_id}": e(
        TEAM_MANAGER,
        lambda w: {"role": "member", "phone": phone(), "display_name": "New Member"},
        user_id="newcomer_id",
    ),
    "DELETE /orgs/{org_id}/teams/{team_id}/members/{user_id}": e(TEAM_MANAGER, user_id="team_leaver_id"),
    "PUT /orgs/{org_id}/teams/{team_id}/members/{user_id}/eligibility": e(
        TEAM_MANAGER, {"eligible": True}, user_id="team_member_id"
    ),
    "GET /orgs/{org_id}/teams/{team_id}/customers": e(TEAM_READER),
    "GET /orgs/{org_id}/teams/{team_id}/customers/{customer_id}": e(TEAM_READER, customer_id="team_customer_id"),
    "GET /orgs/{org_id}/teams/{team_id}/customers/{customer_id}/history": e(
        TEAM_READER, customer_id="team_customer_id"
    ),
    "POST /orgs/{org_id}/teams/{team_id}/customers/{customer_id}/status": e(
        TEAM_ASSIGNEE, {"status": "contacted"}, customer_id="team_customer_id"
    ),
    "PUT /orgs/{org_id}/teams/{team_id}/customers/{customer_id}/assignee": e(
        TEAM_MANAGER, lambda w: {"user_id": w.team_member_id}, customer_id="team_customer_id"
    ),
    "POST /orgs/{org_id}/teams/{team_id}/customers/{customer_id}/removal-requests": e(
        TEAM_ASSIGNEE, {"reason": "no_contact", "notes": "No answer"}, customer_id="removal_customer_id"
    ),
    "GET /orgs/{org_id}/teams/removal-requests": e(permission("teams:manage")),
    "POST /orgs/{org_id}/teams/removal-requests/{removal_id}/decision": e(
        permission("teams:manage"), {"outcome": "lost"}
    ),
    "GET /orgs/{org_id}/teams/{team_id}/statements/{month}": e(FEE_READER, month="statement_month"),
    "GET /orgs/{org_id}/referral-requests": e(permission("referrals:manage")),
    "POST /orgs/{org_id}/referral-requests": e(
        permission("referrals:manage"),
        lambda w: {
            "team_id": w.team_id,
            "customer": {"first_name": "Cleo", "last_name": "Client"},
            "summary": "3 beds",
        },
    ),
    "GET /orgs/{org_id}/referral-requests/{request_id}": e(
        team_reader_or("referrals:manage"), request_id="accepted_referral_id"
    ),
    "GET /orgs/{org_id}/referral-requests/{request_id}/history": e(
        permission("referrals:manage"), request_id="accepted_referral_id"
    ),
    "POST /orgs/{org_id}/referral-requests/{request_id}/accept": e(TEAM_ACCEPTOR, request_id="open_referral_id"),
    "GET /me/teams": e(ANY_USER),
    # -- partner teams' referral fees
    "GET /orgs/{org_id}/teams/fee-agreement": e(permission("fees:manage")),
    "PUT /orgs/{org_id}/teams/fee-agreement": e(permission("fees:manage"), {"rate_bps": 3000}),
    "GET /orgs/{org_id}/teams/{team_id}/fee-agreement": e(FEE_READER),
    "PUT /orgs/{org_id}/teams/{team_id}/fee-agreement": e(FEE_MANAGER, {"rate_bps": 3000}),
    "GET /orgs/{org_id}/teams/{team_id}/fees": e(FEE_READER),
    "GET /orgs/{org_id}/teams/{team_id}/fees/{fee_id}": e(FEE_READER),
    "GET /orgs/{org_id}/teams/{team_id}/fee-ledger": e(FEE_READER),
    "POST /orgs/{org_id}/teams/{team_id}/fee-payments": e(
        FEE_MANAGER, lambda w: {"fee_id": w.fee_id, "amount": 1, "reference": "Matrix wire"}
    ),
    "POST /orgs/{org_id}/teams/{team_id}/fee-adjustments": e(
        FEE_MANAGER, lambda w: {"fee_id": w.fee_id, "amount": 1, "note": "Matrix adjustment"}
    ),
    "POST /orgs/{org_id}/teams/{team_id}/fees/{fee_id}/write-off": e(
        FEE_WRITER, {"note": "Matrix write-off"}, fee_id="written_off_fee_id"
    ),
    "POST /orgs/{org_id}/teams/{team_id}/customers/{customer_id}/closings": e(
        TEAM_ASSIGNEE, lambda w: {**w.fee_closing, "side": "sell"}, customer_id="fee_customer_id"
    ),
    "PUT /orgs/{org_id}/teams/{team_id}/closings/{closing_id}": e(
        FEE_MANAGER,
        {"sale_price": 30_000_000, "commission": 900_000, "note": "Matrix correction"},
        closing_id="fee_id",
    ),
    # -- partner teams' standards and standing
    "GET /orgs/{org_id}/teams/standards": e(permission("teams:manage")),
    "PUT /orgs/{org_id}/teams/standards": e(permission("teams:manage"), {"window_days": 90}),
    "GET /orgs/{org_id}/teams/below-standard": e(permission("teams:manage")),
    "GET /orgs/{org_id}/teams/{team_id}/scorecard": e(TEAM_MANAGER),
    "PUT /orgs/{org_id}/teams/{team_id}/standing": e(
        permission("teams:manage"), {"standing": "good", "reason": "Matrix"}
    ),
    "GET /orgs/{org_id}/teams/{team_id}/standing-history": e(permission("teams:manage")),
    "PUT /orgs/{org_id}/teams/{team_id}/areas": e(permission("teams:manage"), {"areas": ["Matrix"]}),
    # -- commissions, wallets, the ledger and payouts
    "POST /orgs/{org_id}/commission-plan/versions": e(
        BALANCE_KEEPER, {"currency": "AUD", "levels": [{"rule": "percentage", "percent": "10"}]}
    ),
    "GET /orgs/{org_id}/commission-plan": e(BALANCE_KEEPER),
    "GET /orgs/{org_id}/deals/{deal_id}/commission-preview": e(BALANCE_KEEPER),
    "GET /orgs/{org_id}/deals/{deal_id}/commissions": e(BALANCE_KEEPER),
    "GET /orgs/{org_id}/wallets": e(BALANCE_KEEPER),
    "GET /orgs/{org_id}/wallets/{partner_id}": e(BALANCE_KEEPER),
    "GET /orgs/{org_id}/wallets/{partner_id}/entries": e(BALANCE_KEEPER),
    "POST /orgs/{org_id}/wallets/{partner_id}/corrections": e(BALANCE_KEEPER, {"amount": 500, "reason": "goodwill"}),
    "GET /orgs/{org_id}/wallets/{partner_id}/export": e(BALANCE_KEEPER),
    "GET /orgs/{org_id}/ledger/export": e(BALANCE_KEEPER),
    "GET /orgs/{org_id}/portal/wallet": e(PARTNER),
    "GET /orgs/{org_id}/portal/wallet/entries": e(PARTNER),
    "GET /orgs/{org_id}/portal/wallet/export": e(PARTNER),
    "GET /orgs/{org_id}/portal/payout-requests": e(PARTNER),
    "POST /orgs/{org_id}/portal/payout-requests": e(PARTNER, {"amount": 100}),
    "GET /orgs/{org_id}/payout-requests": e(BALANCE_KEEPER),
    "GET /orgs/{org_id}/payout-requests/{request_id}": e(BALANCE_KEEPER, request_id="payout_to_pay_id"),
    "POST /orgs/{org_id}/payout-requests/{request_id}/pay": e(BALANCE_KEEPER, request_id="payout_to_pay_id"),
    "POST /orgs/{org_id}/payout-requests/{request_id}/reject": e(
        BALANCE_KEEPER, {"reason": "missing invoice"}, request_id="payout_to_reject_id"
    ),
    # -- webhook endpoints
    "GET /orgs/{org_id}/webhooks": e(INTEGRATIONS),
    "POST /orgs/{org_id}/webhooks": e(INTEGRATIONS, WEBHOOK),
    "GET /orgs/{org_id}/webhooks/{endpoint_id}": e(INTEGRATIONS),
    "PATCH /orgs/{org_id}/webhooks/{endpoint_id}": e(INTEGRATIONS, {"description": "checked"}),
    "DELETE /orgs/{org_id}/webhooks/{endpoint_id}": e(INTEGRATIONS, endpoint_id="deleted_endpoint_id"),
    "POST /orgs/{org_id}/webhooks/{endpoint_id}/rotate-secret": e(INTEGRATIONS),
    "POST /orgs/{org_id}/webhooks/{endpoint_id}/enable": Entry(INTEGRATIONS, after=_disable_after),
    "POST /orgs/{org_id}/webhooks/{endpoint_id}/disable": e(INTEGRATIONS),
    # -- their deliveries: on the quiet endpoint (enabled, which a replay and "resend what failed" need)
    "GET /orgs/{org_id}/webhooks/{endpoint_id}/deliveries": e(INTEGRATIONS, endpoint_id=QUIET),
    "GET /orgs/{org_id}/webhooks/{endpoint_id}/deliveries/{delivery_id}": e(INTEGRATIONS, endpoint_id=QUIET),
    "POST /orgs/{org_id}/webhooks/{endpoint_id}/deliveries/{delivery_id}/resend": e(INTEGRATIONS, endpoint_id=QUIET),
    "POST /orgs/{org_id}/webhooks/{endpoint_id}/replay": e(INTEGRATIONS, LONG_AGO, endpoint_id=QUIET),
    "POST /orgs/{org_id}/webhooks/{endpoint_id}/resend-failed": e(INTEGRATIONS, endpoint_id=QUIET),
    "POST /orgs/{org_id}/webhooks/{endpoint_id}/test": e(INTEGRATIONS, endpoint_id=QUIET),
}

# Twilio's webhooks: signed by Twilio rather than a token.
_TEXT = {"From": "+15550100999", "To": "+15550100000", "Body": "PAUSE", "MessageSid": "SM" + "0" * 32}
ACCESS |= {
    "POST /twilio/sms": Entry(TWILIO, _TEXT, form=True),
    "POST /twilio/status": Entry(TWILIO, {"MessageSid": "SM" + "0" * 32, "MessageStatus": "delivered"}, form=True),
}
