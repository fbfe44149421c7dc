"""The Cognito side of the stack, in moto: the user pool with its operators' group, the portal's app client,
users and their tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from common.orgs.access import OPERATORS_GROUP

from infra.manifest import LEAD_INTAKE_RESOURCE_SERVER, LEAD_INTAKE_SCOPE_NAME

POOL_NAME = "partner-programme-local"
PORTAL_CLIENT_NAME = "portal"


@dataclass(frozen=True)
class UserPool:
    pool_id: str
    portal_client_id: str
    issuer: str


def issuer_of(region: str, pool_id: str) -> str:
    return f"https://cognito-idp.{region}.amazonaws.com/{pool_id}"


def create_user_pool(cognito: Any, region: str) -> UserPool:
    """A pool that signs users in by e-mail, its operators' group (as infra/auth.py makes it), the
    lead-intake resource server and the portal's client."""
    pool_id = cognito.create_user_pool(
        PoolName=POOL_NAME, UsernameAttributes=["email"], AutoVerifiedAttributes=["email"]
    )["UserPool"]["Id"]
    cognito.create_group(UserPoolId=pool_id, GroupName=OPERATORS_GROUP)
    cognito.create_resource_server(
        UserPoolId=pool_id,
        Identifier=LEAD_INTAKE_RESOURCE_SERVER,
        Name="Lead intake",
        Scopes=[{"ScopeName": LEAD_INTAKE_SCOPE_NAME, "ScopeDescription": "Post leads"}],
    )
    portal = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=PORTAL_CLIENT_NAME,
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    return UserPool(pool_id, portal["ClientId"], issuer_of(region, pool_id))


def kept_user_pool(cognito: Any, region: str) -> UserPool | None:
    """The pool a kept snapshot brought back (local.kept_data), with its portal client; None if it has none."""
    pools = [p for p in cognito.list_user_pools(MaxResults=60)["UserPools"] if p["Name"] == POOL_NAME]
    if not pools:
        return None
    pool_id = pools[0]["Id"]
    clients = cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    portal = next((c["ClientId"] for c in clients if c["ClientName"] == PORTAL_CLIENT_NAME), None)
    return UserPool(pool_id, portal, issuer_of(region, pool_id)) if portal else None


def create_user(cognito: Any, pool_id: str, email: str, password: str, *, operator: bool = False) -> str:
    """A confirmed user with a permanent password (and in the operators' group when `operator`: their
    tokens then carry it); returns its `sub`, the id the API knows users by."""
    user = cognito.admin_create_user(
        UserPoolId=pool_id,
        Username=email,
        UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
        MessageAction="SUPPRESS",
    )["User"]
    cognito.admin_set_user_password(UserPoolId=pool_id, Username=email, Password=password, Permanent=True)
    if operator:
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=email, GroupName=OPERATORS_GROUP)
    return next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub")


def user_token(cognito: Any, client_id: str, email: str, password: str) -> str:
    """The access token the portal would send: its `username` claim marks the caller as a user."""
    result = cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": password},
    )
    return str(result["AuthenticationResult"]["AccessToken"])


def describe_client(cognito: Any, pool_id: str, client_id: str) -> dict[str, Any] | None:
    try:
        return dict(cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"])
    except cognito.exceptions.ResourceNotFoundException:
        return None
