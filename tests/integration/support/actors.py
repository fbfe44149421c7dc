"""People and systems that use the API in the integration tests, each with their own credentials."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import requests

PASSWORD = "Integration-Passw0rd!"
REP_PERMISSIONS = ["leads:request", "leads:return", "leads:create"]


@dataclass
class Actor:
    base_url: str
    token: str
    user_id: str = ""
    session: requests.Session = field(default_factory=requests.Session)

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.session.request(method, self.base_url + path, headers=headers, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, json=json, **kwargs)

    def put(self, path: str, json: Any = None) -> requests.Response:
        return self.call("PUT", path, json=json)

    def patch(self, path: str, json: Any = None) -> requests.Response:
        return self.call("PATCH", path, json=json)


def new_user(stack: Any, role: str, *, operator: bool = False) -> Actor:
    """A signed-in user; an `operator` (in the deployment's operators' group) may create organisations."""
    email = f"{role}-{uuid.uuid4().hex[:8]}@it.example"
    user_id = stack.create_user(email, PASSWORD, operator=operator)
    return Actor(stack.url, stack.user_token(email, PASSWORD), user_id)


def user_id_of(stack: Any, email: str) -> str:
    """The sub of the sign-in of `email`, from Cognito (answers of public routes do not name it)."""
    user = stack.client("cognito-idp").admin_get_user(UserPoolId=stack.user_pool_id, Username=email)
    return next(str(a["Value"]) for a in user["UserAttributes"] if a["Name"] == "sub")


@dataclass
class Organisation:
    org_id: str
    admin: Actor
    reps: list[Actor]
    supervisor: Actor  # may see and act on pending leads
    company_id: str
    company: Actor  # the partner company's system, with its client-credentials token

    @property
    def intake_path(self) -> str:
        return f"/orgs/{self.org_id}/partner-companies/{self.company_id}/leads"


def new_organisation(stack: Any, *, reps: int = 2, **company_settings: Any) -> Organisation:
    admin = new_user(stack, "admin", operator=True)
    created = admin.post("/orgs", {"name": "Integration org"})
    assert created.status_code == 201, created.text
    org_id = created.json()["org_id"]
    rep_actors = [new_user(stack, "rep") for _ in range(reps)]
    for rep in rep_actors:
        assert admin.put(f"/orgs/{org_id}/members/{rep.user_id}", {"permissions": REP_PERMISSIONS}).status_code == 200
    supervisor = new_user(stack, "supervisor")
    admin.put(f"/orgs/{org_id}/members/{supervisor.user_id}", {"permissions": ["leads:view_pending"]})
    settings = {
        "name": "Test Lead SELLER",
        "sells_leads": True,
        "default_lead_location": "queue",
        "queue_priority": "high",
        "purchase_notification_emails": [f"purchases-{org_id.lower()}@buyer.example"],
        "return_notification_emails": [f"returns-{org_id.lower()}@seller.example"],
        **company_settings,
    }
    company = admin.post(f"/orgs/{org_id}/partner-companies", settings)
    assert company.status_code == 201, company.text
    company_id = company.json()["company_id"]
    credentials = admin.post(f"/orgs/{org_id}/partner-companies/{company_id}/credentials")
    assert credentials.status_code == 201, credentials.text
    secret = credentials.json()
    machine = Actor(stack.url, stack.machine_token(secret["client_id"], secret["client_secret"]))
    return Organisation(org_id, admin, rep_actors, supervisor, company_id, machine)


def lead(external_id: str, **fields: Any) -> dict[str, Any]:
    return {"external_id": external_id, "contact_name": "Jane Doe", "phone": "+1 555 0100", **fields}
