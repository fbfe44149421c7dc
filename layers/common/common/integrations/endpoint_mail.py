"""The e-mail to an organisation's admins when one of its webhook endpoints was disabled because every
delivery to it had failed for days: each admin once (a notice per admin and disabling), from the system's
address. Admins are the members whose role is admin; their addresses are their sign-ins' (Cognito, whose
username is the member's user id). It names the endpoint by id and description, never its URL (which may hold
a token)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3

from common.integrations import endpoints
from common.integrations.endpoint_models import DISABLE_AFTER_FAILING
from common.orgs.access import org_key
from common.platform import db, listings
from common.platform.email import send_email
from common.platform.errors import NotFound
from common.platform.notices import once
from common.platform.observability import logger
from common.platform.settings import UserPool, get_settings


@lru_cache(maxsize=1)
def _cognito() -> Any:
    return boto3.client("cognito-idp")


def admin_addresses(org_id: str, *, client: Any = None, cognito: Any = None) -> list[tuple[str, str]]:
    """(user id, e-mail address) of each admin of the organisation who has a sign-in with an address."""
    members = listings.all_with_prefix(f"ORG#{org_id}", "MEMBER#", client=client)
    found = []
    idp = cognito or _cognito()
    for member in members:
        if member.get("role") != "admin":
            continue
        try:
            user = idp.admin_get_user(UserPoolId=get_settings(UserPool).user_pool_id, Username=member["user_id"])
        except idp.exceptions.UserNotFoundException:
            continue
        attributes = {a["Name"]: a["Value"] for a in user.get("UserAttributes", [])}
        if attributes.get("email"):
            found.append((str(member["user_id"]), attributes["email"]))
    return found


def tell_admins_disabled(
    org_id: str, endpoint_id: str, disabled_at: str, *, client: Any = None, ses: Any = None, cognito: Any = None
) -> int:
    """E-mail each admin that the endpoint was disabled at `disabled_at`; returns how many were sent now."""
    org = db.get(org_key(org_id), client=client) or {}
    try:
        endpoint = endpoints.get_endpoint(org_id, endpoint_id, client=client)
    except NotFound:
        endpoint = {}
    org_name = str(org.get("name") or org_id)
    description = f" ({endpoint['description']})" if endpoint.get("description") else ""
    subject = f"{org_name}: a webhook endpoint was disabled"
    body = "\n".join(
        [
            f"Every delivery to the webhook endpoint {endpoint_id}{description} of {org_name} has failed for "
            f"{DISABLE_AFTER_FAILING.days} days (since {endpoint.get('failing_since', 'then')}), so it was "
            f"disabled at {disabled_at}. Nothing is sent to it until it is enabled again.",
            "",
            "Its failed deliveries are kept. Once the receiving system works again, enable the endpoint and "
            "resend what failed:",
            f"POST /orgs/{org_id}/webhooks/{endpoint_id}/resend-failed",
        ]
    )
    owner = f"ORG#{org_id}#WEBHOOK#{endpoint_id}"
    sent = 0
    for user_id, address in admin_addresses(org_id, client=client, cognito=cognito):
        sent += once(
            owner,
            f"endpoint-disabled#{disabled_at}#{user_id}",
            lambda address=address: {"message_id": send_email([address], subject, body, client=ses)},  # type: ignore[misc]
            client=client,
        )
    logger.info("endpoint disabled, admins told", extra={"org_id": org_id, "endpoint_id": endpoint_id, "sent": sent})
    return sent
