"""Machine credentials for partner companies: a Cognito app client with the client-credentials grant,
limited to the lead-intake scope. Issuing again rotates: the new client replaces the old one."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from botocore.exceptions import ClientError
from pydantic import Field

from common.leads.companies import attach_client, get_company
from common.platform.answers import Answer
from common.platform.errors import Conflict
from common.platform.settings import LeadIntake, UserPool, get_settings


@lru_cache(maxsize=1)
def _cognito() -> Any:
    return boto3.client("cognito-idp")


class Credentials(Answer):
    """Client credentials for lead intake; the secret is shown only here."""

    client_id: str
    client_secret: str
    scope: str
    token_url: str | None = Field(None, description="where the company gets its tokens (client-credentials grant)")


def issue_credentials(org_id: str, company_id: str, *, cognito: Any = None, client: Any = None) -> Credentials:
    # Checked before creating an app client; attach_client checks again, atomically, and a client created
    # for a company that changed meanwhile is deleted.
    company = get_company(org_id, company_id, client=client)
    if not (company.get("sells_leads") or company.get("sells_customers")):
        raise Conflict("only a company that sells leads or customers gets credentials for intake")
    pool_id, intake = get_settings(UserPool).user_pool_id, get_settings(LeadIntake)
    cognito = cognito or _cognito()
    created = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=f"partner-company-{company_id}",
        GenerateSecret=True,
        AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthScopes=[intake.lead_intake_scope],
        SupportedIdentityProviders=["COGNITO"],
        AccessTokenValidity=1,
        TokenValidityUnits={"AccessToken": "hours"},
    )["UserPoolClient"]
    try:
        previous = attach_client(org_id, company_id, created["ClientId"], client=client)
    except Exception:
        _delete_client(cognito, pool_id, created["ClientId"])
        raise
    if previous:
        _delete_client(cognito, pool_id, previous)
    return Credentials(
        client_id=created["ClientId"],
        client_secret=created["ClientSecret"],
        scope=intake.lead_intake_scope,
        token_url=intake.token_url or None,
    )


def _delete_client(cognito: Any, pool_id: str, client_id: str) -> None:
    try:
        cognito.delete_user_pool_client(UserPoolId=pool_id, ClientId=client_id)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
