"""A real organisation with one of every resource the API's operations act on, and the callers of
test_authorization_matrix: built once, over HTTP as its users would (partners and their terms straight into
the table, as tests/integration/support/partners.py does). Resources that an allowed call uses up (a lead to
keep, a partner to remove, a payout to pay) are one per operation, so every operation finds its resource as
set up whatever ran before it."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
import requests
from common.partners.partner_records import PartnerStatus
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.integration.support.actors import Actor, Organisation, new_organisation, new_user
from tests.integration.support.authorization_matrix import ADMIN, QUIET, QUIET_WEBHOOK, WEBHOOK, Kind, email, phone
from tests.integration.support.customer_sides import sell_customers
from tests.integration.support.partners import new_partner
from tests.integration.support.sales import buyer_for_the_matrix

PDF = b"%PDF-1.7\n% programme terms\n"
STAGES = [
    {"name": "New"},
    {"name": "Contacted"},
    {"name": "Won", "commission": "compute"},
    {"name": "Lost", "commission": "reverse"},
]
CONTACT = {"first_name": "Casey", "last_name": "Client"}


def ok(response: requests.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json() if response.content else None


def forged_token(genuine: str) -> str:
    """The genuine token's header and claims, signed by a key the pool never issued."""
    header_part, payload_part = genuine.split(".")[:2]
    header = json.loads(base64.urlsafe_b64decode(header_part + "=" * (-len(header_part) % 4)))
    claims = json.loads(base64.urlsafe_b64decode(payload_part + "=" * (-len(payload_part) % 4)))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": header["kid"]})


@dataclass
class World:
    stack: Any
    org: Organisation
    outsider: Actor
    staff: Actor
    partner: Actor
    unconfirmed: Actor
    team_member: Actor
    child_org_id: str
    forged: str
    ids: dict[str, Any] = field(default_factory=dict)
    holders: dict[tuple[str, ...], Actor] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        """The resources' ids as attributes: the names ACCESS's path parameters and bodies use."""
        ids = self.__dict__.get("ids", {})
        if name in ids:
            return ids[name]
        raise AttributeError(name)

    @property
    def admin(self) -> Actor:
        return self.org.admin

    @property
    def org_id(self) -> str:
        return self.org.org_id

    @property
    def company_id(self) -> str:
        return self.org.company_id

    @property
    def partner_id(self) -> str:
        return self.partner.user_id

    @property
    def team_member_id(self) -> str:
        return self.team_member.user_id

    @property
    def rep_id(self) -> str:
        return self.org.reps[0].user_id

    def token(self, kind: Kind, holder: tuple[str, ...], actor: str | None = None) -> str | None:
        """The bearer token the kind of caller sends (None: no Authorization header)."""
        if actor is not None:
            return str(getattr(self, actor).token)
        tokens: dict[Kind, Any] = {
            Kind.NONE: None,
            Kind.GARBAGE: "not-a-token",
            Kind.FORGED: self.forged,
            Kind.COMPANY: self.org.company.token,
            Kind.OUTSIDER: self.outsider.token,
            Kind.PARTNER: self.partner.token,
            Kind.TEAM_MEMBER: self.team_member.token,
            Kind.STAFF: self.staff.token,
        }
        return self.holder(holder).token if kind is Kind.HOLDER else tokens[kind]

    def holder(self, held: tuple[str, ...]) -> Actor:
        """A staff member of the organisation (and of its child) holding exactly `held`; the admin for ADMIN."""
        if held == (ADMIN,):
            return self.admin
        if held not in self.holders:
            user = new_user(self.stack, "holder")
            for org_id in (self.org_id, self.child_org_id):
                ok(self.admin.put(f"/orgs/{org_id}/members/{user.user_id}", {"permissions": list(held)}))
            self.holders[held] = user
        return self.holders[held]

    def new_leader(self, number: str) -> dict[str, Any]:
        return {"user_id": new_user(self.stack, "leader").user_id, "phone": number, "display_name": "Lee Leader"}

    def disable_endpoint(self) -> None:
        """The matrix enabled the endpoint: disabled again, so nothing later entries change is delivered to it."""
        ok(self.admin.post(f"/orgs/{self.org_id}/webhooks/{self.ids['endpoint_id']}/disable"))

    def accept_current_terms(self) -> None:
        """A new version was published: the partner accepts it, as the portal asks them to."""
        current = ok(self.partner.get(f"/orgs/{self.org_id}/programme/terms"))["version"]
        ok(self.partner.post(f"/orgs/{self.org_id}/programme/terms/accept", {"version": current}))
        self.ids["terms_version"] = current


def _upload_terms(admin: Actor, org_id: str) -> int:
    started = ok(admin.post(f"/orgs/{org_id}/programme/terms"), 201)
    form = started["upload"]
    posted = requests.post(form["url"], data=form["fields"], files={"file": ("terms.pdf", PDF)}, timeout=30)
    assert posted.status_code in (200, 204), posted.text
    return int(started["version"])


def _leads(org: Organisation, ids: dict[str, Any]) -> None:
    """Six leads assigned to the rep (one converted to a customer), two left in the queue: the newest to
    return (a claim takes the oldest)."""
    rep, path = org.reps[0], f"/orgs/{org.org_id}"
    for n in range(8):
        body = {"external_id": f"matrix-{uuid.uuid4().hex}", "contact_name": f"Lead {n}", "phone": "+1 555 0100"}
        ok(org.company.post(org.intake_path, body), 201)
        ids["posted_external_id"] = body["external_id"]  # the status lookup's
    for name in ("read", "keep", "requeue", "invalid", "convert", "customer"):
        ids[f"{name}_lead_id"] = ok(rep.post(f"{path}/lead-queue/claims"))["lead_id"]
    converted = ok(rep.post(f"{path}/leads/{ids['customer_lead_id']}/convert"), 201)
    ids["lead_customer_id"] = converted["customer"]["customer_id"]
    queued = ok(org.admin.get(f"{path}/leads", params={"status": "queued"}))["items"]  # in claim order
    ids["return_lead_id"] = queued[-1]["lead_id"]


def _programme(stack: Any, org: Organisation, ids: dict[str, Any]) -> tuple[Actor, Actor]:
    """Terms v1 published (and accepted), v2 uploaded; the partner and the partners staff routes act on."""
    admin, org_id, rep_id = org.admin, org.org_id, org.reps[0].user_id
    v1 = _upload_terms(admin, org_id)
    ok(admin.post(f"/orgs/{org_id}/programme/terms/{v1}/publish"))
    ids["terms_version"] = v1
    ids["unpublished_terms_version"] = _upload_terms(admin, org_id)
    partner = new_partner(stack, org_id, brokers=[rep_id], terms_version=v1)
    unconfirmed = new_partner(stack, org_id, terms_version=v1, email_confirmed=False)
    statuses = {
        "removable": PartnerStatus.LIVE,
        "ending": PartnerStatus.LIVE,
        "archived": PartnerStatus.LIVE,
        "prospect": PartnerStatus.PROSPECT,
        "terms_sent": PartnerStatus.PROSPECT_TERMS_SENT,
        "downline": PartnerStatus.LIVE,
        "sharee": PartnerStatus.LIVE,
    }
    for name, status in statuses.items():
        ids[f"{name}_id"] = new_partner(stack, org_id, status=status, terms_version=v1).user_id
    ok(admin.post(f"/orgs/{org_id}/partners/{ids['archived_id']}/status", {"status": "ARCHIVED", "reason": "left"}))
    ids["task_id"] = ok(
        admin.post(
            f"/orgs/{org_id}/partners/{partner.user_id}/tasks", {"title": "Call", "due_at": "2031-01-01T09:00Z"}
        ),
        201,
    )["task_id"]
    level_zero = {
        "first_name": "Ivy",
        "last_name": "Invitee",
        "email": email("ivy"),
        "phone": "+1 555 0123",
        "subject": "Join",
        "body": "Come and refer with us.",
        "level_zero": True,
    }
    ok(admin.post(f"/orgs/{org_id}/programme/invitations", level_zero), 201)
    stack.wait_for_streams()
    [mail] = [m for m in stack.outbox() if m["to"] == [level_zero["email"]]]
    ids["invitation_token"] = mail["body"].split("token=", 1)[1].split()[0].rstrip(".,)>\"'")
    ids["referral_code"] = ok(partner.get(f"/orgs/{org_id}/programme/me"))["referral_code"]
    ids["referred_email"] = email("rex")
    return partner, unconfirmed


def _money(stack: Any, org: Organisation, partner: Actor, ids: dict[str, Any]) -> None:
    """A commission plan, balances, and a pending payout request to pay and one to reject."""
    admin, org_id, terms = org.admin, org.org_id, ids["terms_version"]
    plan = {"currency": "AUD", "levels": [{"rule": "percentage", "percent": "10"}]}
    ok(admin.post(f"/orgs/{org_id}/commission-plan/versions", plan), 201)
    payees = [new_partner(stack, org_id, terms_version=terms) for _ in range(2)]
    for someone in (partner, *payees):
        ok(
            admin.post(f"/orgs/{org_id}/wallets/{someone.user_id}/corrections", {"amount": 1_000, "reason": "seed"}),
            201,
        )
    for name, payee in zip(("payout_to_pay_id", "payout_to_reject_id"), payees, strict=True):
        ids[name] = ok(payee.post(f"/orgs/{org_id}/portal/payout-requests", {"amount": 100}), 201)["request_id"]


def _deals(org: Organisation, partner: Actor, ids: dict[str, Any]) -> None:
    """Two workflows, and deals owned by the rep (another user than every caller), credited to the partner."""
    admin, path = org.admin, f"/orgs/{org.org_id}"
    workflow = ok(admin.post(f"{path}/workflows", {"name": "Referrals", "stages": STAGES}), 201)
    ids["workflow_id"] = workflow["workflow_id"]
    ids["won_stage_id"] = next(s["stage_id"] for s in workflow["stages"] if s["name"] == "Won")
    other = ok(admin.post(f"{path}/workflows", {"name": "Other", "stages": [{"name": "New"}, {"name": "Done"}]}), 201)
    ids["workflow2_id"], ids["workflow2_stage_id"] = other["workflow_id"], other["stages"][1]["stage_id"]
    ids["stage_id"] = workflow["stages"][1]["stage_id"]
    ok(admin.put(f"{path}/portal-settings", {"default_workflow_id": ids["workflow_id"]}))
    for name in ("deal_id", "moving_deal_id"):
        body = {
            "workflow_id": ids["workflow_id"],
            "contacts": [CONTACT],
            "owner_id": org.reps[0].user_id,
            "partner_id": partner.user_id,
            "value": {"amount": 250_000, "currency": "AUD"},
        }
        ids[name] = ok(admin.post(f"{path}/deals", body), 201)["deal_id"]
    note = org.reps[0].post(f"{path}/deals/{ids['deal_id']}/notes", {"body": "Valuation booked"})
    ids["note_id"] = ok(note, 201)["note_id"]


def _teams(stack: Any, org: Organisation, ids: dict[str, Any]) -> Actor:
    """A team with its leader, the member who calls, a member to remove; a second team whose leader changes;
    a referral request the member accepted (their customer) and one still open."""
    admin, path = org.admin, f"/orgs/{org.org_id}"
    teams = {}
    for name in ("team", "team2"):
        leader = new_user(stack, "leader")
        details = {"user_id": leader.user_id, "phone": phone(), "display_name": "Lea Leader"}
        teams[name] = ok(admin.post(f"{path}/teams", {"name": f"Matrix {name}", "leader": details}), 201)["team_id"]
    member, leaver, other = (new_user(stack, role) for role in ("member", "team-leaver", "member2"))
    for team, user in (("team", member), ("team", leaver), ("team2", other)):
        body = {"role": "member", "phone": phone(), "display_name": "Mo Member"}
        ok(admin.put(f"{path}/teams/{teams[team]}/members/{user.user_id}", body), 201)
    ids |= {"team_id": teams["team"], "team2_id": teams["team2"]}
    ids |= {"team_leaver_id": leaver.user_id, "team2_member_id": other.user_id}
    for name in ("accepted_referral_id", "open_referral_id"):
        request = {"team_id": teams["team"], "customer": CONTACT, "summary": "3 beds"}
        ids[name] = ok(admin.post(f"{path}/referral-requests", request), 201)["request_id"]
    ok(member.post(f"{path}/referral-requests/{ids['accepted_referral_id']}/accept"))
    ids["team_customer_id"] = ids["accepted_referral_id"]
    # The member's customers to remove: one the matrix asks to remove, one with a hand-off staff decide.
    for name in ("removal_customer_id", "handed_off_customer_id"):
        request = {"team_id": teams["team"], "customer": CONTACT, "summary": "2 beds"}
        ids[name] = ok(admin.post(f"{path}/referral-requests", request), 201)["request_id"]
        ok(member.post(f"{path}/referral-requests/{ids[name]}/accept"))
    removal = f"{path}/teams/{teams['team']}/customers/{ids['handed_off_customer_id']}/removal-requests"
    ids["removal_id"] = ok(member.post(removal, {"reason": "active_hand_off"}), 201)["removal_id"]
    ids["statement_month"] = "2026-05"
    _fees(org, teams["team"], member, ids)
    return member


def _fees(org: Organisation, team_id: str, member: Actor, ids: dict[str, Any]) -> None:
    """A customer of the member's, closed with a closing (its fee: the one payments and corrections aim
    at) and a further closing of the other side (the fee written off)."""
    path = f"/orgs/{org.org_id}"
    request = {"team_id": team_id, "customer": CONTACT, "summary": "2 beds"}
    customer_id = ok(org.admin.post(f"{path}/referral-requests", request), 201)["request_id"]
    ok(member.post(f"{path}/referral-requests/{customer_id}/accept"))
    customers = f"{path}/teams/{team_id}/customers/{customer_id}"
    day = ok(org.admin.get(customers))["created_at"][:10]
    closing = {"close_date": day, "side": "buy", "sale_price": 30_000_000, "commission": 900_000, "currency": "USD"}
    ok(member.post(f"{customers}/status", {"status": "closed", "closing": closing}))
    ok(member.post(f"{customers}/closings", {**closing, "side": "sell"}), 201)
    ids |= {"fee_customer_id": customer_id, "fee_closing": closing}
    ids |= {"fee_id": f"{customer_id}-buy-{day}", "written_off_fee_id": f"{customer_id}-sell-{day}"}


def _webhooks(stack: Any, org: Organisation, ids: dict[str, Any]) -> None:
    """Two endpoints, disabled: one the routes act on, one to delete; and the quiet one, enabled, with the
    delivery of a test event, failed (a resend needs a delivery that is not pending)."""
    for name in ("endpoint_id", "deleted_endpoint_id"):
        ids[name] = ok(org.admin.post(f"/orgs/{org.org_id}/webhooks", WEBHOOK), 201)["endpoint_id"]
    ids[QUIET] = ok(org.admin.post(f"/orgs/{org.org_id}/webhooks", QUIET_WEBHOOK), 201)["endpoint_id"]
    ids["delivery_id"] = ok(org.admin.post(f"/orgs/{org.org_id}/webhooks/{ids[QUIET]}/test"), 202)["delivery_id"]
    stack.wait_for_streams(60)


def build_world(stack: Any) -> World:
    org = new_organisation(stack, reps=1)
    admin, org_id = org.admin, org.org_id
    outsider = new_organisation(stack, reps=0).admin
    staff = new_user(stack, "plain-staff")
    ok(admin.put(f"/orgs/{org_id}/members/{staff.user_id}", {"permissions": []}))
    child_org_id = ok(admin.post(f"/orgs/{org_id}/children", {"name": "Matrix branch"}), 201)["org_id"]
    ok(admin.put(f"/orgs/{child_org_id}/members/{staff.user_id}", {"permissions": []}))
    ids: dict[str, Any] = {}
    leaver = new_user(stack, "leaver")
    ok(admin.put(f"/orgs/{org_id}/members/{leaver.user_id}", {"permissions": []}))
    ids |= {"leaver_id": leaver.user_id, "newcomer_id": new_user(stack, "newcomer").user_id}
    for name in ("signed_out", "disabled", "deleted"):  # staff whose sign-ins the sign-in routes end
        ended = new_user(stack, name)
        ok(admin.put(f"/orgs/{org_id}/members/{ended.user_id}", {"permissions": []}))
        ids[f"{name}_id"] = ended.user_id
    template = {"name": "Thanks", "subject": "Thanks", "body": "Thanks for the lead"}
    ids["template_id"] = ok(admin.post(f"/orgs/{org_id}/message-templates", template), 201)["template_id"]
    ids["company2_id"] = ok(
        admin.post(f"/orgs/{org_id}/partner-companies", {"name": "Second seller", "sells_leads": True}), 201
    )["company_id"]
    campaigns = f"/orgs/{org_id}/partner-companies/{org.company_id}/campaigns"
    for name in ("campaign", "deleted_campaign"):  # one to read and change, one to delete
        ids[f"{name}_id"] = ok(admin.post(campaigns, {"name": name}), 201)["campaign_id"]
    _leads(org, ids)
    sell_customers(stack, org_id, org.company_id)  # the company also posts customers
    ids |= buyer_for_the_matrix(org)  # and a company buys from us
    partner, unconfirmed = _programme(stack, org, ids)
    _money(stack, org, partner, ids)
    _deals(org, partner, ids)
    team_member = _teams(stack, org, ids)
    _webhooks(stack, org, ids)
    forged = forged_token(admin.token)
    world = World(stack, org, outsider, staff, partner, unconfirmed, team_member, child_org_id, forged, ids)
    return world
