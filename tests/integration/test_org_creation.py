"""Who may create organisations, and what a login whose address nobody has proved may do, over HTTP against
the local stack: only the deployment's operators (the Cognito group their tokens carry) create
organisations, an organisation's admin creates child organisations under it, and a referral registrant is
refused everywhere until they follow the confirmation link, except to read their own account and ask for
the link again."""

from __future__ import annotations

import uuid
from typing import Any

import requests
from common.orgs.access import OPERATORS_GROUP

from local.stack import LocalStack
from tests.integration.conftest import User
from tests.integration.support.actors import Actor, new_organisation, new_user, user_id_of
from tests.integration.support.partners import new_partner
from tests.integration.test_programme import INVITE, mails_to, token_in
from tests.integration.test_teams import member_body, new_team, phone

REGISTRANT_PASSWORD = "Registrant-Passw0rd!"


def refused_as(response: requests.Response, status: int, problem: str) -> bool:
    return (
        response.status_code == status
        and response.headers["content-type"] == "application/problem+json"
        and response.json()["type"] == f"/problems/{problem}"
    )


def test_only_operators_create_organisations(stack: LocalStack) -> None:
    plain = new_user(stack, "plain")
    refused = plain.post("/orgs", {"name": "Mine"})
    assert refused_as(refused, 403, "forbidden"), refused.text
    assert OPERATORS_GROUP in refused.json()["detail"]
    assert plain.get("/orgs").json()["items"] == []  # nothing was created

    operator = new_user(stack, "operator", operator=True)
    created = operator.post("/orgs", {"name": "Operated"})
    assert created.status_code == 201, created.text
    org_id = created.json()["org_id"]
    assert operator.get(f"/orgs/{org_id}").json()["membership"]["role"] == "admin"

    # An admin who is no operator creates child organisations under theirs, and no other.
    assert operator.put(f"/orgs/{org_id}/members/{plain.user_id}", {"role": "admin"}).status_code == 200
    assert refused_as(plain.post("/orgs", {"name": "Mine"}), 403, "forbidden")
    child = plain.post(f"/orgs/{org_id}/children", {"name": "Branch"})
    assert child.status_code == 201, child.text
    assert {o["org_id"] for o in plain.get("/orgs").json()["items"]} == {org_id, child.json()["org_id"]}


def test_the_operators_group_counts_from_the_next_sign_in_and_machines_never_create(
    stack: LocalStack, user: User
) -> None:
    before = Actor(stack.url, user.token, user.user_id)
    cognito = stack.client("cognito-idp")
    cognito.admin_add_user_to_group(UserPoolId=stack.user_pool_id, Username=user.email, GroupName=OPERATORS_GROUP)
    # The group travels in the token: the one issued before joining it does not carry it.
    assert refused_as(before.post("/orgs", {"name": "Early"}), 403, "forbidden")
    after = Actor(stack.url, stack.user_token(user.email, user.password), user.user_id)
    assert after.post("/orgs", {"name": "Later"}).status_code == 201

    company = new_organisation(stack, reps=0).company
    assert refused_as(company.post("/orgs", {"name": "Machine org"}), 403, "forbidden")


def _register(stack: LocalStack, code: str, email: str) -> requests.Response:
    body = {
        "code": code,
        "first_name": "Rex",
        "last_name": "Referred",
        "email": email,
        "phone": "+1 555 0199",
        "password": REGISTRANT_PASSWORD,
    }
    return requests.post(f"{stack.url}/public/registrations/referral", json=body, timeout=30)


def _everything_but_confirming(registrant: Actor, org: str, team: str, request: str) -> dict[str, Any]:
    """Every route a signed-in user reaches without a staff membership, as the registrant."""
    return {
        "GET /orgs": registrant.get("/orgs"),
        "GET /me/teams": registrant.get("/me/teams"),
        "PATCH /me/partner": registrant.patch("/me/partner", {"first_name": "Rexy"}),
        "POST /me/partner/email": registrant.post("/me/partner/email", {"email": f"m-{uuid.uuid4().hex}@it.example"}),
        "GET programme/me": registrant.get(f"{org}/programme/me"),
        "GET programme/partners": registrant.get(f"{org}/programme/partners"),
        "GET programme/terms": registrant.get(f"{org}/programme/terms"),
        "GET programme/invitations": registrant.get(f"{org}/programme/invitations"),
        "POST programme/invitations": registrant.post(
            f"{org}/programme/invitations", {**INVITE, "email": f"i-{uuid.uuid4().hex}@it.example"}
        ),
        "GET portal/workflows": registrant.get(f"{org}/portal/workflows"),
        "GET portal/deals": registrant.get(f"{org}/portal/deals"),
        "GET portal/notifications": registrant.get(f"{org}/portal/notifications"),
        "GET portal/wallet": registrant.get(f"{org}/portal/wallet"),
        "GET portal/payout-requests": registrant.get(f"{org}/portal/payout-requests"),
        "GET team": registrant.get(team),
        "GET team customers": registrant.get(f"{team}/customers"),
        "GET referral request": registrant.get(f"{org}/referral-requests/{request}"),
        "POST referral request accept": registrant.post(f"{org}/referral-requests/{request}/accept"),
    }


def test_a_referral_registrant_does_nothing_but_confirm_until_the_address_is_confirmed(stack: LocalStack) -> None:
    team = new_team(stack)
    org = f"/orgs/{team.org_id}"
    code = new_partner(stack, team.org_id).get(f"{org}/programme/me").json()["referral_code"]
    email = f"registrant-{uuid.uuid4().hex[:10]}@it.example"
    assert _register(stack, code, email).status_code == 202
    registrant = Actor(stack.url, stack.user_token(email, REGISTRANT_PASSWORD), user_id_of(stack, email))
    # Staff, who cannot tell the address was never proved, put the login in a team and offer it a referral.
    joined = team.staff.put(f"{team.path}/members/{registrant.user_id}", member_body("member", phone(), eligible=True))
    assert joined.status_code == 201, joined.text
    offered = team.staff.post(
        f"{org}/referral-requests",
        {"team_id": team.team_id, "customer": {"first_name": "Cleo", "last_name": "Client"}, "summary": "2 beds"},
    )
    assert offered.status_code == 201, offered.text
    request = offered.json()["request_id"]

    refused = _everything_but_confirming(registrant, org, team.path, request)
    wrong = {route: r.text for route, r in refused.items() if not refused_as(r, 403, "email-not-confirmed")}
    assert wrong == {}
    assert refused_as(registrant.post("/orgs", {"name": "Mine"}), 403, "forbidden")
    assert registrant.get(org).status_code == 404  # staff routes: not a member
    assert registrant.get(f"{org}/partners").status_code == 404
    # What it may do: read its own account, ask for the link again (once a minute), and confirm.
    own = registrant.get("/me/partner")
    assert own.status_code == 200 and own.json()["account"]["email_confirmed"] is False
    original = stack.clock_offset
    try:
        stack.advance_clock(120)
        resent = registrant.post("/me/partner/confirmation")
        assert resent.status_code == 202, resent.text
    finally:
        stack.set_clock_offset(original)
    links = [token_in(m) for m in mails_to(stack, email) if "/confirm?token=" in m["body"]]
    assert len(links) == 2
    confirmed = requests.post(f"{stack.url}/public/email-confirmations", json={"token": links[-1]}, timeout=30)
    assert confirmed.status_code == 200, confirmed.text

    assert registrant.get("/orgs").status_code == 200
    assert [t["team_id"] for t in registrant.get("/me/teams").json()["items"]] == [team.team_id]
    assert registrant.get(team.path).status_code == 200
    assert registrant.get(f"{org}/programme/me").status_code == 200
    assert registrant.get(f"{org}/referral-requests/{request}").status_code == 200
