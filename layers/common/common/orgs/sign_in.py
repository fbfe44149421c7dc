"""A user's sign-in as this deployment keeps it beside Cognito: one item per user, which the token authorizer
reads (consistently) each time it decides on one of the user's tokens.

- **Revocation.** Cognito's AdminUserGlobalSignOut, AdminDisableUser and AdminDeleteUser end a user's
  sessions, but an access token already issued is a signed JWT that stays valid until it expires: the
  authorizer checks signature, issuer and expiry, which a revocation does not change. So ending a sign-in
  also records `not_before`, and the authorizer refuses every token whose sign-in began earlier (its
  `auth_time`, which a refreshed token keeps; `iat` where a token has none).
- **MFA.** Whether the user has a second factor set up, as Cognito's AdminGetUser reported it when it was
  last checked (`POST /orgs/{orgId}/sign-ins/{userId}/mfa-check`). The authorizer passes it on, so the
  money permissions can require it (common.orgs.access) without a call to Cognito per request.

Token times are Cognito's wall clock (whole seconds), so `not_before` is taken from the system clock, not
the injectable one the local stack shifts: a shifted clock must not lock users out of tokens issued now.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

import boto3
from pydantic import Field

from common.platform import clock, db
from common.platform.answers import Answer, Timestamp
from common.platform.errors import NotFound
from common.platform.settings import UserPool, get_settings

ENTITY = "sign_in"
# Every sign-in record's partition key starts with it (and no other item's does): the token authorizer may
# read these items and nothing else of the table (infra/auth.py).
PARTITION_PREFIX = "USER#"


class Revocation(StrEnum):
    """How a sign-in was ended: signed out everywhere (the user may sign in again), disabled (they may not
    until it is enabled again) or deleted."""

    SIGN_OUT = "sign_out"
    DISABLE = "disable"
    DELETE = "delete"


def sign_in_key(user_id: str) -> db.Key:
    return {"pk": f"{PARTITION_PREFIX}{user_id}", "sk": "SIGN_IN"}


@dataclass(frozen=True)
class SignInState:
    """What the token authorizer decides on: the first second a token's sign-in may have begun in, and MFA."""

    not_before: int = 0
    mfa: bool = False

    def accepts(self, authenticated_at: int) -> bool:
        """Whether a token whose sign-in began at `authenticated_at` (epoch seconds) is still good."""
        return authenticated_at >= self.not_before


def state_of(user_id: str, *, client: Any = None) -> SignInState:
    """The user's sign-in state, read consistently: a revocation counts from the very next decision."""
    item = db.get(sign_in_key(user_id), consistent=True, client=client)
    if item is None:
        return SignInState()
    return SignInState(int(item.get("not_before", 0)), bool(item.get("mfa", False)))


class SignIn(Answer):
    """A user's sign-in as the deployment keeps it: when its sessions were last ended, and its MFA."""

    user_id: str
    mfa: bool = Field(False, description="a second factor is set up (TOTP or e-mail codes), as last checked")
    mfa_methods: list[str] = Field(
        default_factory=list, description="Cognito's names of the factors set up, e.g. SOFTWARE_TOKEN_MFA"
    )
    mfa_checked_at: Timestamp | None = Field(None, description="when MFA was last checked with Cognito")
    revoked_at: Timestamp | None = Field(
        None, description="when its sessions were last ended: tokens of sign-ins that began before are refused"
    )
    revocation: Revocation | None = Field(None, description="how they were ended")
    revoked_by: str | None = Field(None, description="who ended them (user:<sub>)")


def revoke(user_id: str, revocation: Revocation, actor: str, *, now: float | None = None, client: Any = None) -> SignIn:
    """Refuse every token of the user's sign-ins so far. Token times are whole seconds, so the tokens of the
    current second are refused too (signing in again works from the next second). A later revocation
    recorded meanwhile is kept."""
    not_before = int(time.time() if now is None else now) + 1
    item = db.update(
        sign_in_key(user_id),
        expression="SET entity = :entity, user_id = :user, not_before = :not_before, revoked_at = :at, "
        "revocation = :how, revoked_by = :by",
        condition="attribute_not_exists(not_before) OR not_before < :not_before",
        values={
            ":entity": ENTITY,
            ":user": user_id,
            ":not_before": not_before,
            ":at": clock.now_iso(),
            ":how": revocation.value,
            ":by": actor,
        },
        on_conflict=lambda current: None,  # a later revocation stands
        client=client,
    )
    return SignIn.of(item)


def record_mfa(user_id: str, methods: list[str], *, client: Any = None) -> SignIn:
    """Record the user's second factors as Cognito reports them (none: MFA is not set up)."""
    item = db.update(
        sign_in_key(user_id),
        expression="SET entity = :entity, user_id = :user, mfa = :mfa, mfa_methods = :methods, mfa_checked_at = :at",
        values={
            ":entity": ENTITY,
            ":user": user_id,
            ":mfa": bool(methods),
            ":methods": sorted(methods),
            ":at": clock.now_iso(),
        },
        client=client,
    )
    return SignIn.of(item)


# -- Cognito -------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _cognito() -> Any:
    return boto3.client("cognito-idp")


def _pool() -> str:
    return get_settings(UserPool).user_pool_id


def end_sessions(user_id: str, revocation: Revocation, *, client: Any = None) -> bool:
    """Sign the user out everywhere (their refresh tokens stop working), disable them or delete them in
    Cognito. A user Cognito no longer has is left as it is (deleted, perhaps in the console): False."""
    cognito = client or _cognito()
    action = {
        Revocation.SIGN_OUT: cognito.admin_user_global_sign_out,
        Revocation.DISABLE: cognito.admin_disable_user,
        Revocation.DELETE: cognito.admin_delete_user,
    }[revocation]
    try:
        action(UserPoolId=_pool(), Username=user_id)  # the pool signs in by e-mail: a user's username is its sub
    except cognito.exceptions.UserNotFoundException:
        return False
    return True


def mfa_methods(user_id: str, *, client: Any = None) -> list[str]:
    """The second factors the user has set up, from Cognito (AdminGetUser's UserMFASettingList)."""
    cognito = client or _cognito()
    try:
        user = cognito.admin_get_user(UserPoolId=_pool(), Username=user_id)
    except cognito.exceptions.UserNotFoundException as missing:
        raise NotFound(f"user {user_id} has no sign-in") from missing
    return [str(method) for method in user.get("UserMFASettingList") or []]
