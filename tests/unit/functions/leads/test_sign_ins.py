"""The sign-ins of an organisation's users (functions/leads): who may end a user's sessions, disable or delete
their sign-in, or have their MFA checked, and on whom; and money permissions refused without MFA where the
deployment requires it (common.orgs.access)."""

from __future__ import annotations

import os
import time
from typing import Any

import boto3
import pytest
from common.orgs import sign_in
from common.platform import db
from common.platform.settings import get_settings
from common.teams.membership import user_teams
from common.teams.team_model import team_member_key

from tests.support import OPERATOR, Call, api_caller, body_of, http_event, invoke

pytestmark = pytest.mark.cognito

ADMIN, STAFF, OUTSIDER = "user-admin", "user-staff", "user-outsider"
PASSWORD = "Unit-Passw0rd!x"


@pytest.fixture
def call() -> Call:
    return api_caller("leads")


def signed_up(email: str) -> str:
    """A confirmed user of the pool with a password, by their sub."""
    cognito, pool = boto3.client("cognito-idp"), os.environ["USER_POOL_ID"]
    user = cognito.admin_create_user(UserPoolId=pool, Username=email, MessageAction="SUPPRESS")["User"]
    cognito.admin_set_user_password(UserPoolId=pool, Username=email, Password=PASSWORD, Permanent=True)
    return next(str(a["Value"]) for a in user["Attributes"] if a["Name"] == "sub")


def cognito_user(user_id: str) -> dict[str, Any] | None:
    cognito = boto3.client("cognito-idp")
    try:
        return dict(cognito.admin_get_user(UserPoolId=os.environ["USER_POOL_ID"], Username=user_id))
    except cognito.exceptions.UserNotFoundException:
        return None


@pytest.fixture
def org(call: Call) -> str:
    org_id = str(body_of(call("POST", "/orgs", user=ADMIN, groups=OPERATOR, body={"name": "Acme"}))["org_id"])
    assert call("PUT", f"/orgs/{org_id}/members/{STAFF}", user=ADMIN, body={"permissions": []})["statusCode"] == 200
    other = body_of(call("POST", "/orgs", user=OUTSIDER, groups=OPERATOR, body={"name": "Other"}))["org_id"]
    assert other
    return org_id


def problem(answer: dict[str, Any]) -> tuple[int, str]:
    return answer["statusCode"], body_of(answer)["type"].rsplit("/", 1)[-1]


def test_an_admin_signs_a_user_of_the_organisation_out_everywhere(call: Call, org: str) -> None:
    user = signed_up("rep@acme.example")
    assert call("PUT", f"/orgs/{org}/members/{user}", user=ADMIN, body={"permissions": []})["statusCode"] == 200
    before = int(time.time())

    answer = call("POST", f"/orgs/{org}/sign-ins/{user}/sign-out", user=ADMIN)

    assert answer["statusCode"] == 200, answer
    assert body_of(answer) | {"revoked_at": None} == {
        "user_id": user,
        "mfa": False,
        "mfa_methods": [],
        "mfa_checked_at": None,
        "revoked_at": None,
        "revocation": "sign_out",
        "revoked_by": f"user:{ADMIN}",
    }
    assert sign_in.state_of(user).not_before > before  # its tokens so far are refused
    assert cognito_user(user)["Enabled"] is True  # type: ignore[index]  # they may sign in again


def test_partners_and_team_members_are_users_of_the_organisation_too(call: Call, org: str) -> None:
    partner, member = "user-partner", "user-team-member"
    db.put({"pk": f"PARTNER#{partner}", "sk": f"ORG#{org}", "entity": "partner_node"})
    team = team_member_key(org, "01JD0000000000000000000000", member)
    db.put({**team, "entity": "team_member", "gsi2pk": user_teams(member), "gsi2sk": f"{org}#team"})
    for user in (partner, member):  # not in the pool (any more): the revocation is recorded all the same
        assert call("POST", f"/orgs/{org}/sign-ins/{user}/sign-out", user=ADMIN)["statusCode"] == 200
        assert sign_in.state_of(user).not_before > 0


def test_admins_reach_their_organisations_users_only(call: Call, org: str) -> None:
    stranger = signed_up("stranger@else.example")
    assert problem(call("POST", f"/orgs/{org}/sign-ins/{stranger}/sign-out", user=ADMIN)) == (404, "not-found")
    # A member who is no admin, and someone of another organisation.
    assert problem(call("POST", f"/orgs/{org}/sign-ins/{ADMIN}/sign-out", user=STAFF)) == (403, "forbidden")
    assert problem(call("POST", f"/orgs/{org}/sign-ins/{STAFF}/sign-out", user="user-nobody")) == (404, "not-found")
    assert problem(call("POST", f"/orgs/{org}/sign-ins/{STAFF}/sign-out", machine="client")) == (403, "forbidden")
    assert sign_in.state_of(STAFF).not_before == 0  # nothing recorded by a refusal


def test_disabling_and_deleting_a_sign_in_is_for_operators(call: Call, org: str) -> None:
    user = signed_up("leaver@acme.example")
    assert call("PUT", f"/orgs/{org}/members/{user}", user=ADMIN, body={"permissions": []})["statusCode"] == 200
    # An admin of the organisation who is no operator: a sign-in serves every organisation of its user.
    assert problem(call("POST", f"/orgs/{org}/sign-ins/{user}/disable", user=ADMIN)) == (403, "forbidden")
    assert problem(call("DELETE", f"/orgs/{org}/sign-ins/{user}", user=ADMIN)) == (403, "forbidden")
    assert cognito_user(user)["Enabled"] is True  # type: ignore[index]

    # An operator needs no membership of the organisation, but the user must be one of its users.
    disabled = call("POST", f"/orgs/{org}/sign-ins/{user}/disable", user=OUTSIDER, groups=OPERATOR)
    assert (disabled["statusCode"], body_of(disabled)["revocation"]) == (200, "disable")
    assert cognito_user(user)["Enabled"] is False  # type: ignore[index]
    deleted = call("DELETE", f"/orgs/{org}/sign-ins/{user}", user=OUTSIDER, groups=OPERATOR)
    assert (deleted["statusCode"], body_of(deleted)["revoked_by"]) == (200, f"user:{OUTSIDER}")
    assert cognito_user(user) is None
    # Again, or after a deletion in Cognito's console: recorded all the same.
    assert call("DELETE", f"/orgs/{org}/sign-ins/{user}", user=OUTSIDER, groups=OPERATOR)["statusCode"] == 200
    stranger = signed_up("stranger@else.example")
    assert problem(call("POST", f"/orgs/{org}/sign-ins/{stranger}/disable", user=OUTSIDER, groups=OPERATOR)) == (
        404,
        "not-found",
    )


def test_a_user_has_their_mfa_checked_and_recorded(call: Call, org: str) -> None:
    email = "money@acme.example"
    user = signed_up(email)
    assert call("PUT", f"/orgs/{org}/members/{user}", user=ADMIN, body={"permissions": []})["statusCode"] == 200
    path = f"/orgs/{org}/sign-ins/{user}/mfa-check"
    assert body_of(call("POST", path, user=user))["mfa"] is False
    assert sign_in.state_of(user).mfa is False

    # The portal sets up an authenticator app with the user's own access token, then asks for the check.
    cognito = boto3.client("cognito-idp")
    client_id = cognito.create_user_pool_client(
        UserPoolId=os.environ["USER_POOL_ID"], ClientName="portal", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    token = cognito.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD}
    )["AuthenticationResult"]["AccessToken"]
    cognito.associate_software_token(AccessToken=token)
    cognito.verify_software_token(AccessToken=token, UserCode="123456")
    cognito.set_user_mfa_preference(AccessToken=token, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})

    checked = body_of(call("POST", path, user=user))
    assert (checked["mfa"], checked["mfa_methods"]) == (True, ["SOFTWARE_TOKEN_MFA"])
    assert checked["mfa_checked_at"] is not None
    assert sign_in.state_of(user).mfa is True
    # An admin may have it checked again; another member may not; nor may anyone of another organisation.
    assert call("POST", path, user=ADMIN)["statusCode"] == 200
    assert problem(call("POST", path, user=STAFF)) == (403, "forbidden")
    assert problem(call("POST", f"/orgs/{org}/sign-ins/{STAFF}/mfa-check", user=STAFF)) == (404, "not-found")


# -- money permissions need MFA where the deployment says so -----------------------------------------------


def money_call(method: str, path: str, *, user: str, mfa: bool, **kwargs: Any) -> dict[str, Any]:
    """A payouts API call as the authorizer passes it on, saying whether the user's sign-in has MFA."""
    event = http_event(method, path, user=user, **kwargs)
    event["requestContext"]["authorizer"]["lambda"]["mfa"] = "true" if mfa else "false"
    return invoke("payouts.api.lambda_handler", event)


@pytest.fixture
def mfa_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONEY_MFA_REQUIRED", "true")
    get_settings.cache_clear()


def test_money_permissions_need_mfa_where_required(call: Call, org: str, mfa_required: None) -> None:
    keeper = "user-keeper"
    body = {"permissions": ["programme:manage_balances"]}
    assert call("PUT", f"/orgs/{org}/members/{keeper}", user=ADMIN, body=body)["statusCode"] == 200
    wallets = f"/orgs/{org}/wallets"

    for user in (keeper, ADMIN):  # an admin holds every permission, these too
        refused = money_call("GET", wallets, user=user, mfa=False)
        assert problem(refused) == (403, "mfa-required")
        assert "mfa-check" in body_of(refused)["detail"]
        assert money_call("GET", wallets, user=user, mfa=True)["statusCode"] == 200
    # Without the permission it is the permission that is missing, MFA or not.
    assert problem(money_call("GET", wallets, user=STAFF, mfa=True)) == (403, "forbidden")
    # Routes that move no money do not ask for it.
    assert call("GET", f"/orgs/{org}/members", user=ADMIN)["statusCode"] == 200


def test_without_the_setting_money_permissions_need_no_mfa(call: Call, org: str) -> None:
    assert money_call("GET", f"/orgs/{org}/wallets", user=ADMIN, mfa=False)["statusCode"] == 200
