"""Locking a sign-in out works at once: a token that worked is refused on its very next request once its user
is signed out everywhere, disabled or deleted through the sign-in routes; and a member has their MFA checked
and recorded. Over HTTP against the local stack, whose gateway runs the token authorizer on every request
(deployed, API Gateway reuses a decision for TOKEN_AUTHORIZER_CACHE_SECONDS, 30)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError
from common.orgs import sign_in

from tests.integration.support.actors import PASSWORD, Actor, Organisation, new_organisation
from tests.integration.support.partners import new_partner

# What the gateway answers for a token its authorizer refuses (docs/deploy.md, step 8).
REFUSED = (403, {"message": "Forbidden"})


@dataclass
class SignedIn:
    """A user signed in as the portal signs in: their access token (the actor's) and id token."""

    actor: Actor
    email: str
    id_token: str


@pytest.fixture(scope="module")
def org(stack: Any) -> Organisation:
    return new_organisation(stack, reps=0)  # its admin is an operator too


@pytest.fixture
def cognito(stack: Any) -> Iterator[Any]:
    yield stack.client("cognito-idp")


def sign_in_with_password(stack: Any, email: str) -> dict[str, str]:
    result = stack.client("cognito-idp").initiate_auth(
        ClientId=stack.portal_client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
    )
    return dict(result["AuthenticationResult"])


def staff_member(stack: Any, org: Organisation) -> SignedIn:
    email = f"staff-{uuid.uuid4().hex[:8]}@it.example"
    user_id = stack.create_user(email, PASSWORD)
    assert org.admin.put(f"/orgs/{org.org_id}/members/{user_id}", {"permissions": []}).status_code == 200
    tokens = sign_in_with_password(stack, email)
    actor = Actor(stack.url, tokens["AccessToken"], user_id)
    return SignedIn(actor, email, tokens["IdToken"])


def answer(response: requests.Response) -> tuple[int, Any]:
    return response.status_code, response.json()


def works(actor: Actor, org: Organisation, token: str | None = None) -> bool:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = actor.get(f"/orgs/{org.org_id}", headers=headers)
    assert response.status_code in (200, 403), response.text
    return response.status_code == 200


def test_signing_a_user_out_everywhere_refuses_their_tokens_at_once(stack: Any, org: Organisation) -> None:
    user = staff_member(stack, org)
    assert works(user.actor, org) and works(user.actor, org, user.id_token)

    ended = org.admin.post(f"/orgs/{org.org_id}/sign-ins/{user.actor.user_id}/sign-out")

    assert ended.status_code == 200, ended.text
    assert ended.json()["revocation"] == "sign_out" and ended.json()["revoked_by"] == f"user:{org.admin.user_id}"
    assert answer(user.actor.get(f"/orgs/{org.org_id}")) == REFUSED  # the access token
    assert not works(user.actor, org, user.id_token)  # and the id token
    # Signed out, not locked out: the password still signs in (its tokens count from the next second).
    assert sign_in_with_password(stack, user.email)["AccessToken"]


def test_disabling_a_sign_in_refuses_its_tokens_and_its_password(stack: Any, org: Organisation) -> None:
    user = staff_member(stack, org)
    assert works(user.actor, org)

    ended = org.admin.post(f"/orgs/{org.org_id}/sign-ins/{user.actor.user_id}/disable")  # as an operator

    assert (ended.status_code, ended.json()["revocation"]) == (200, "disable")
    assert answer(user.actor.get(f"/orgs/{org.org_id}")) == REFUSED
    with pytest.raises(ClientError, match="disabled"):
        sign_in_with_password(stack, user.email)


def test_deleting_a_sign_in_refuses_its_tokens(stack: Any, org: Organisation, cognito: Any) -> None:
    user = staff_member(stack, org)
    assert works(user.actor, org)

    ended = org.admin.call("DELETE", f"/orgs/{org.org_id}/sign-ins/{user.actor.user_id}")

    assert (ended.status_code, ended.json()["revocation"]) == (200, "delete")
    assert answer(user.actor.get(f"/orgs/{org.org_id}")) == REFUSED
    with pytest.raises(ClientError, match="UserNotFound"):
        cognito.admin_get_user(UserPoolId=stack.user_pool_id, Username=user.actor.user_id)


def test_a_partner_signed_out_is_refused_on_their_portal_routes(stack: Any, org: Organisation) -> None:
    partner = new_partner(stack, org.org_id)
    assert partner.get("/me/partner").status_code == 200

    assert org.admin.post(f"/orgs/{org.org_id}/sign-ins/{partner.user_id}/sign-out").status_code == 200

    assert answer(partner.get("/me/partner")) == REFUSED


def test_a_sign_in_deleted_in_cognitos_console_stops_once_the_route_records_it(
    stack: Any, org: Organisation, cognito: Any
) -> None:
    """What docs/deploy.md has the operator do after acting in the console: Cognito alone leaves the issued
    tokens valid until they expire."""
    user = staff_member(stack, org)
    cognito.admin_delete_user(UserPoolId=stack.user_pool_id, Username=user.actor.user_id)
    assert works(user.actor, org)  # the gap the route closes

    assert org.admin.post(f"/orgs/{org.org_id}/sign-ins/{user.actor.user_id}/sign-out").status_code == 200

    assert answer(user.actor.get(f"/orgs/{org.org_id}")) == REFUSED


def test_a_refused_attempt_ends_nothing(stack: Any, org: Organisation) -> None:
    user, colleague = staff_member(stack, org), staff_member(stack, org)

    for path in ("sign-out", "disable"):
        refused = colleague.actor.post(f"/orgs/{org.org_id}/sign-ins/{user.actor.user_id}/{path}")
        assert refused.status_code == 403 and refused.json()["type"] == "/problems/forbidden"
    outsider = new_organisation(stack, reps=0).admin  # an operator: but not of a user of that organisation
    stranger = outsider.post(f"/orgs/{org.org_id}/sign-ins/{uuid.uuid4()}/sign-out")
    assert stranger.status_code == 404

    assert works(user.actor, org)


def test_a_member_has_their_mfa_checked_and_recorded(stack: Any, org: Organisation, cognito: Any) -> None:
    user = staff_member(stack, org)
    check = f"/orgs/{org.org_id}/sign-ins/{user.actor.user_id}/mfa-check"
    assert user.actor.post(check).json()["mfa"] is False

    # The portal sets up an authenticator app with the user's own access token (Cognito's API), then asks.
    cognito.associate_software_token(AccessToken=user.actor.token)
    cognito.verify_software_token(AccessToken=user.actor.token, UserCode="123456")
    cognito.set_user_mfa_preference(
        AccessToken=user.actor.token, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    checked = user.actor.post(check)

    assert checked.status_code == 200, checked.text
    assert (checked.json()["mfa"], checked.json()["mfa_methods"]) == (True, ["SOFTWARE_TOKEN_MFA"])
    assert sign_in.state_of(user.actor.user_id).mfa is True  # what the token authorizer passes on from now
    assert works(user.actor, org)  # a check ends no session
