"""A demo organisation, created through the HTTP API as the portal and an admin would create it.

Only the Cognito sign-ups go around the API (in AWS, users sign up with Cognito itself).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import requests

from local.stack import LocalStack

# The team member (the second rep) who receives referral texts, and replies from this number.
MEMBER_PHONE = "+15550100002"
DEMO_PASSWORD = "Demo-Passw0rd!"  # noqa: S105 - a published demo password for a throwaway local pool
ADMIN_EMAIL = "admin@demo.example"
ADMIN_NAME = "Alex Admin"
REP_EMAILS = ("rep1@demo.example", "rep2@demo.example")
REP_PERMISSIONS = ["leads:request", "leads:return", "leads:view_pending", "leads:create"]
COMPANY_NAME = "Test Lead SELLER"
# The demo company's inbound campaign: its system posts leads naming it by its own id.
CAMPAIGN = {
    "name": "Spring mailing",
    "description": "Postcards to new homeowners",
    "direction": "inbound",
    "sender_campaign_id": "SPRING-26",
}
PARTNER_EMAIL = "partner@demo.example"
# Above the demo partner, top first: their sponsor's sponsor and their sponsor (first and last name, e-mail,
# phone), so a won deal pays three levels, one per rule of the plan.
SPONSORS = (
    ("Tara", "Top", "top@demo.example", "+15550100211"),
    ("Sam", "Sponsor", "sponsor@demo.example", "+15550100212"),
)
CURRENCY = "EUR"
# Level 1 (the credited partner) 10% of the deal value, level 2 (their sponsor) 5% capped at 200.00,
# level 3 a fixed 25.00.
COMMISSION_LEVELS = [
    {"rule": "percentage", "percent": "10"},
    {"rule": "percentage", "percent": "5", "cap": 20000},
    {"rule": "fixed", "amount": 2500},
]
# Moving a deal to Won pays the partners' commissions; moving it on to Lost reverses them.
STAGES = [
    {"name": "New"},
    {"name": "Contacted"},
    {"name": "Proposal"},
    {"name": "Won", "commission": "compute"},
    {"name": "Lost", "commission": "reverse"},
]
ACTIVATION_LINK = re.compile(r"/activate\?token=([A-Za-z0-9_-]+)")


@dataclass(frozen=True)
class DemoUser:
    email: str
    password: str
    user_id: str
    token: str


@dataclass(frozen=True)
class Demo:
    org_id: str
    admin: DemoUser
    reps: tuple[DemoUser, ...]
    template_id: str
    company_id: str
    client_id: str
    client_secret: str
    machine_token: str
    workflow_id: str
    partner: DemoUser
    team_id: str
    # The demo partner's upline, sponsor first (partner ids).
    upline: tuple[str, ...]
    member_phone: str = MEMBER_PHONE
    # The company's inbound campaign (none in data kept before campaigns existed).
    campaign_id: str = ""


class DemoError(RuntimeError):
    pass


class _Client:
    def __init__(self, base_url: str, token: str) -> None:
        self._base_url = base_url
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body: dict[str, Any] | None, expected: int) -> dict[str, Any]:
        response = self._session.request(method, f"{self._base_url}{path}", json=body, timeout=30)
        if response.status_code != expected:
            raise DemoError(f"{method} {path} answered {response.status_code}, expected {expected}: {response.text}")
        return dict(response.json())


def _user(stack: LocalStack, email: str, *, operator: bool = False) -> DemoUser:
    user_id = stack.create_user(email, DEMO_PASSWORD, operator=operator)
    return DemoUser(email, DEMO_PASSWORD, user_id, stack.user_token(email, DEMO_PASSWORD))


def seed(stack: LocalStack) -> Demo:
    admin = _user(stack, ADMIN_EMAIL, operator=True)  # an operator: only operators create organisations
    api = _Client(stack.url, admin.token)
    org_id = api.call("POST", "/orgs", {"name": "Demo Sales Ltd"}, 201)["org_id"]
    # The admin is the demo partner's broker: the portal lists brokers by their membership's display name.
    api.call("PUT", f"/orgs/{org_id}/members/{admin.user_id}", {"role": "admin", "display_name": ADMIN_NAME}, 200)

    reps = tuple(_user(stack, email) for email in REP_EMAILS)
    for number, rep in enumerate(reps, start=1):
        membership = {"role": "staff", "permissions": REP_PERMISSIONS, "display_name": f"Sales Rep {number}"}
        api.call("PUT", f"/orgs/{org_id}/members/{rep.user_id}", membership, 200)

    # The auto-response sent with leads returned to the company.
    template = {
        "name": "Returned lead",
        "subject": "Returning lead {{lead.external_id}}",
        "body": "Hello {{company.contact_person}},\n\nwe are returning lead {{lead.external_id}} "
        "({{lead.contact_name}}), received {{lead.received_at}}.\n\n{{comments}}\n\n{{org.name}}",
    }
    template_id = api.call("POST", f"/orgs/{org_id}/message-templates", template, 201)["template_id"]

    company = {
        "name": COMPANY_NAME,
        "contact_person": "Sam Seller",
        "email": "sam@lead-seller.example",
        "phone": "+15550100100",
        "notes": "Demo partner company that sells leads into our queue.",
        "sells_leads": True,
        "default_lead_location": "queue",
        "force_default_location": False,
        "purchase_notification_emails": ["lead-purchases@demo-sales.example"],
        "return_notification_emails": ["returns@lead-seller.example"],
        "include_comments_with_returns": True,
        "auto_response_template_id": template_id,
        "queue_priority": "high",
    }
    company_id = api.call("POST", f"/orgs/{org_id}/partner-companies", company, 201)["company_id"]
    campaign_id = api.call("POST", f"/orgs/{org_id}/partner-companies/{company_id}/campaigns", CAMPAIGN, 201)[
        "campaign_id"
    ]
    credentials = api.call("POST", f"/orgs/{org_id}/partner-companies/{company_id}/credentials", None, 201)
    client_id, client_secret = credentials["client_id"], credentials["client_secret"]
    api.call(
        "POST", f"/orgs/{org_id}/commission-plan/versions", {"currency": CURRENCY, "levels": COMMISSION_LEVELS}, 201
    )
    workflow_id, partner, upline = _partner_portal(stack, api, org_id, admin)
    team_id = _team(api, org_id, reps)
    return Demo(
        org_id=org_id,
        admin=admin,
        reps=reps,
        template_id=template_id,
        company_id=company_id,
        campaign_id=campaign_id,
        client_id=client_id,
        client_secret=client_secret,
        machine_token=stack.machine_token(client_id, client_secret),
        workflow_id=workflow_id,
        partner=partner,
        team_id=team_id,
        upline=upline,
    )


def _team(api: _Client, org_id: str, reps: tuple[DemoUser, ...]) -> str:
    """A partner team led by the first rep, with the second as a member who receives referral texts."""
    leader, member = reps
    team = {
        "name": "Demo team",
        "leader": {"user_id": leader.user_id, "phone": "+15550100001", "display_name": "Lee Leader"},
    }
    team_id = str(api.call("POST", f"/orgs/{org_id}/teams", team, 201)["team_id"])
    joining = {"role": "member", "phone": MEMBER_PHONE, "display_name": "Max Member", "eligible": True}
    api.call("PUT", f"/orgs/{org_id}/teams/{team_id}/members/{member.user_id}", joining, 201)
    return team_id


def _partner_portal(
    stack: LocalStack, api: _Client, org_id: str, admin: DemoUser
) -> tuple[str, DemoUser, tuple[str, ...]]:
    """A workflow for partners' deals (Won computes commissions, Lost reverses them), the portal settings,
    two partners above the demo partner (no login: they only earn), and the demo partner, added by the
    admin under them, assigned to the admin and activated through the link of the login e-mail, as the
    partner would."""
    workflow_id = api.call("POST", f"/orgs/{org_id}/workflows", {"name": "Referrals", "stages": STAGES}, 201)[
        "workflow_id"
    ]
    settings = {
        "default_workflow_id": workflow_id,
        "partner_added_email": True,
        "deal_shared_email": True,
        "partner_notification_types": ["deal_shared", "deal_stage_changed", "note_shared"],
    }
    api.call("PUT", f"/orgs/{org_id}/portal-settings", settings, 200)
    upline: list[str] = []
    for first, last, email, phone in SPONSORS:
        above = {"sponsor_id": upline[0]} if upline else {}
        sponsor = {"first_name": first, "last_name": last, "email": email, "phone": phone, **above}
        upline.insert(0, api.call("POST", f"/orgs/{org_id}/partners", sponsor, 201)["partner_id"])
    partner = {
        "first_name": "Paula",
        "last_name": "Partner",
        "email": PARTNER_EMAIL,
        "phone": "+15550100200",
        "sponsor_id": upline[0],
    }
    partner_id = api.call("POST", f"/orgs/{org_id}/partners", partner, 201)["partner_id"]
    api.call("PUT", f"/orgs/{org_id}/partners/{partner_id}/brokers", {"brokers": [admin.user_id]}, 200)
    stack.wait_for_streams()
    mails = [m for m in stack.outbox() if PARTNER_EMAIL in m["to"] and ACTIVATION_LINK.search(m["body"])]
    if not mails:
        raise DemoError("the partner's login e-mail was not sent")
    token = ACTIVATION_LINK.findall(mails[-1]["body"])[-1]
    activation = requests.post(
        f"{stack.url}/public/activations", json={"token": token, "password": DEMO_PASSWORD}, timeout=30
    )
    if activation.status_code != 200:
        raise DemoError(f"activating the demo partner answered {activation.status_code}: {activation.text}")
    token = stack.user_token(PARTNER_EMAIL, DEMO_PASSWORD)
    return workflow_id, DemoUser(PARTNER_EMAIL, DEMO_PASSWORD, partner_id, token), tuple(upline)


# -- a kept demo (make dev --keep-data) -------------------------------------------------------------


def demo_ids(demo: Demo) -> dict[str, Any]:
    """What identifies the demo, without its tokens (they expire): written beside the kept data."""
    ids = asdict(demo)
    for user in (ids["admin"], *ids["reps"], ids["partner"]):
        user.pop("token")
    ids.pop("machine_token")
    return ids


def reconnect(stack: LocalStack, ids: dict[str, Any]) -> Demo:
    """The kept demo with fresh tokens for its users and its partner company."""

    def user(kept: dict[str, Any]) -> DemoUser:
        return DemoUser(**kept, token=stack.user_token(kept["email"], kept["password"]))

    return Demo(
        **{
            **ids,
            "admin": user(ids["admin"]),
            "reps": tuple(user(rep) for rep in ids["reps"]),
            "partner": user(ids["partner"]),
            "upline": tuple(ids["upline"]),
            "machine_token": stack.machine_token(ids["client_id"], ids["client_secret"]),
        }
    )
