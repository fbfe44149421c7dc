"""Partner identities in Cognito: one user per e-mail address, created without Cognito's own message (our
e-mails carry the links), or reused when the address already has one. The user's `sub` is the partner id."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import boto3

from common.platform.errors import Conflict, NotFound, invalid
from common.platform.settings import UserPool, get_settings
from common.platform.validation import is_e164

# A Cognito user made by AdminCreateUser that never chose a password.
NEW_USER_STATUS = "FORCE_CHANGE_PASSWORD"


@lru_cache(maxsize=1)
def _cognito() -> Any:
    return boto3.client("cognito-idp")


def _pool() -> str:
    return get_settings(UserPool).user_pool_id


def username_of(email: str) -> str:
    """The sign-in name of an address: addresses that differ only in case are one person."""
    return email.strip().lower()


def _e164(phone: str | None) -> str | None:
    """Cognito accepts only E.164 phone numbers; a number we cannot write that way stays in our table only."""
    if not phone:
        return None
    digits = re.sub(r"[ ()\-.]", "", phone)
    return digits if is_e164(digits) else None


def _attributes(attributes: list[dict[str, str]]) -> dict[str, str]:
    return {a["Name"]: a["Value"] for a in attributes}


def ensure_user(
    email: str,
    *,
    first_name: str,
    last_name: str,
    phone: str | None,
    email_verified: bool,
    client: Any = None,
) -> tuple[str, bool]:
    """The user of this e-mail address: (sub, created). An existing user is returned as it is (its
    attributes are not touched), so that adding a known person never changes their sign-in details.
    Two callers racing on one address both get the one user Cognito keeps."""
    cognito = client or _cognito()
    pool_id = _pool()
    username = username_of(email)
    attributes = [
        {"Name": "email", "Value": username},
        {"Name": "email_verified", "Value": "true" if email_verified else "false"},
        {"Name": "given_name", "Value": first_name},
        {"Name": "family_name", "Value": last_name},
    ]
    if number := _e164(phone):
        attributes.append({"Name": "phone_number", "Value": number})
    try:
        user = cognito.admin_create_user(
            UserPoolId=pool_id, Username=username, UserAttributes=attributes, MessageAction="SUPPRESS"
        )["User"]
    except cognito.exceptions.UsernameExistsException:
        existing = cognito.admin_get_user(UserPoolId=pool_id, Username=username)
        return _attributes(existing["UserAttributes"])["sub"], False
    except cognito.exceptions.InvalidParameterException as error:
        # Our pattern checks an address's shape only; Cognito is stricter about what it accepts.
        raise invalid("body.email", "is not an address we can create a sign-in for") from error
    return _attributes(user["Attributes"])["sub"], True


def user_details(sub: str, *, client: Any = None) -> dict[str, Any]:
    """What Cognito knows of a user: e-mail (and whether it is verified), names, phone, account status.
    In a pool that signs in by e-mail the username is the sub."""
    cognito = client or _cognito()
    pool_id = _pool()
    user = cognito.admin_get_user(UserPoolId=pool_id, Username=sub)
    attributes = _attributes(user["UserAttributes"])
    return {
        "sub": attributes.get("sub", sub),
        "email": attributes.get("email"),
        "email_verified": attributes.get("email_verified") == "true",
        "first_name": attributes.get("given_name", ""),
        "last_name": attributes.get("family_name", ""),
        "phone": attributes.get("phone_number"),
        "status": user.get("UserStatus"),
        "enabled": bool(user.get("Enabled", True)),
    }


def has_password(sub: str, *, client: Any = None) -> bool:
    """Whether the login has chosen a password (then no link of ours may set another). No such user: 404."""
    cognito = client or _cognito()
    try:
        return user_details(sub, client=cognito)["status"] != NEW_USER_STATUS
    except cognito.exceptions.UserNotFoundException as error:
        raise NotFound("this sign-in no longer exists") from error


def set_password(partner_id: str, password: str, *, cognito: Any = None) -> None:
    cognito = cognito or _cognito()
    try:
        cognito.admin_set_user_password(UserPoolId=_pool(), Username=partner_id, Password=password, Permanent=True)
    except cognito.exceptions.InvalidPasswordException as error:
        raise invalid("body.password", "does not meet the password policy") from error


def verify_email(partner_id: str, email: str | None = None, *, cognito: Any = None) -> None:
    """Mark the sign-in address verified (and change it first, when `email` is given)."""
    cognito = cognito or _cognito()
    attributes = [{"Name": "email", "Value": email}] if email else []
    try:
        cognito.admin_update_user_attributes(
            UserPoolId=_pool(),
            Username=partner_id,
            UserAttributes=[*attributes, {"Name": "email_verified", "Value": "true"}],
        )
    except (cognito.exceptions.AliasExistsException, cognito.exceptions.UsernameExistsException) as error:
        raise Conflict("another sign-in already uses this address") from error
