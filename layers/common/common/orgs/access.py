"""Who is calling and what they may do.

The JWT (checked by API Gateway's authorizer) says who the caller is; what they may do is read from the
table on every request, so revoking a permission takes effect on the next request.

The permissions that move money (MONEY_PERMISSIONS) also need a second factor on the member's sign-in where
the deployment requires it (`SignInPolicy.money_mfa_required`, on by default on protected stages): the
token authorizer reads whether the user set up MFA (common.orgs.sign_in) with the sign-in record it reads
anyway, and a member who holds such a permission without MFA is refused with `mfa-required` wherever the
permission is used.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Literal

from common.platform import db
from common.platform.errors import Forbidden, MfaRequired, NotFound, Unauthorized
from common.platform.settings import SignInPolicy, get_settings


class Permission(StrEnum):
    MANAGE_MEMBERS = "members:manage"
    MANAGE_COMPANIES = "companies:manage"
    MANAGE_TEMPLATES = "templates:manage"
    CREATE_LEADS = "leads:create"
    VIEW_PENDING_LEADS = "leads:view_pending"
    REQUEST_LEADS = "leads:request"
    RETURN_LEADS = "leads:return"
    # Lead administration: act on any lead (also one assigned to someone else) and list every lead.
    MANAGE_LEADS = "leads:manage"
    # Sell pending or queued leads, and customers, to partner companies that buy them; their sale posts' log.
    SELL_LEADS = "leads:sell"
    # Partners (referrers): add, edit, assign, set their status, remove; the organisation's portal settings.
    MANAGE_PARTNERS = "partners:manage"
    # Workflows, and every deal (not only those the user owns).
    MANAGE_DEALS = "deals:manage"
    # A deal's money: set its value or the partner it is credited to, and move it into a stage that computes
    # or reverses commission. Without it a staff member works their deals through the other stages only.
    DEAL_MONEY = "deals:money"
    # The partner programme (seed 004): take part in it; see every participant in "your partners" (not
    # only one's own downline); manage balances and payout requests; invite at level zero (nobody above).
    PROGRAMME_JOIN = "programme:join"
    PROGRAMME_SEE_ALL = "programme:see_all"
    PROGRAMME_MANAGE_BALANCES = "programme:manage_balances"
    PROGRAMME_INVITE_LEVEL_ZERO = "programme:invite_level_zero"
    # Partner teams (seed 000): create teams and manage their members; create referral requests and see
    # every team's requests and overdue customers.
    MANAGE_TEAMS = "teams:manage"
    MANAGE_REFERRALS = "referrals:manage"
    # Webhook endpoints: create, change, delete them, rotate their secrets, read their delivery logs.
    MANAGE_INTEGRATIONS = "integrations:manage"
    # Partner teams' referral fees: agreements, payments, adjustments, corrections, and reading every team's
    # fees, ledger and statements. Writing fees off is a permission of its own.
    MANAGE_FEES = "fees:manage"
    WRITE_OFF_FEES = "fees:write_off"


# Setting a deal's value or credited partner, paying or reversing commission, balances, corrections,
# payouts and writing off teams' fees: what an attacker with a stolen password would want. Held without MFA,
# they are refused where the deployment requires MFA for them.
MONEY_PERMISSIONS = frozenset({Permission.DEAL_MONEY, Permission.PROGRAMME_MANAGE_BALANCES, Permission.WRITE_OFF_FEES})

Role = Literal["admin", "staff"]

# The Cognito group of the deployment's operators: the only users who may create (top-level) organisations.
OPERATORS_GROUP = "operators"


@dataclass(frozen=True)
class Principal:
    subject: str
    kind: Literal["user", "machine"]
    client_id: str
    scopes: frozenset[str]
    # The user's Cognito groups, as their token carries them (`cognito:groups`).
    groups: frozenset[str] = frozenset()
    # Whether the user's sign-in has a second factor set up, as the token authorizer read it.
    mfa: bool = False


@dataclass(frozen=True)
class Member:
    org_id: str
    user_id: str
    role: Role
    permissions: frozenset[str]
    # The user's superior in the staff hierarchy (not the programme structure, which is separate).
    superior_id: str | None = None
    # Whether the member's sign-in has MFA set up (the caller's, from their token's authorizer context).
    mfa: bool = False

    def can(self, permission: Permission) -> bool:
        """Whether the member holds the permission. A money permission held without MFA where the deployment
        requires it is refused (MfaRequired, 403 `mfa-required`) rather than answered False: the member
        holds it and can use it once their sign-in has a second factor."""
        held = self.role == "admin" or permission.value in self.permissions
        if held and permission in MONEY_PERMISSIONS and not self.mfa and money_needs_mfa():
            raise MfaRequired(
                f"{permission.value} moves money: set up multi-factor authentication on your sign-in "
                "(an authenticator app or e-mail codes), then have it checked (POST "
                "/orgs/{orgId}/sign-ins/{userId}/mfa-check)"
            )
        return held

    @property
    def actor(self) -> str:
        """Who did it, as histories and audit entries record a staff member."""
        return user_actor(self.user_id)


def money_needs_mfa() -> bool:
    """The deployment's setting: whether money permissions need MFA on the member's sign-in."""
    return get_settings(SignInPolicy).money_mfa_required


def user_actor(user_id: str) -> str:
    """A staff member (or any signed-in user) as the actor of a change: the one form of that string."""
    return f"user:{user_id}"


def _scopes(raw: Any) -> frozenset[str]:
    if isinstance(raw, list):
        return frozenset(str(s) for s in raw)
    if isinstance(raw, str):
        return frozenset(raw.replace("[", " ").replace("]", " ").split())
    return frozenset()


def principal_from_event(event: dict[str, Any]) -> Principal:
    """Build the caller from an API Gateway HTTP API (payload 2.0) event: the token authorizer
    (functions/authorizer) has verified the bearer token and passes on what kind of caller it is, its
    subject, app client, scopes and (for a user) Cognito groups."""
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    context = authorizer.get("lambda") or {}
    subject = str(context.get("sub", ""))
    kind = context.get("kind")
    if not subject or kind not in ("user", "machine"):
        raise Unauthorized("a bearer token is required")
    return Principal(
        subject,
        kind,
        str(context.get("client_id", "")),
        _scopes(context.get("scope")),
        _scopes(context.get("groups")),
        mfa=str(context.get("mfa", "")).lower() == "true",
    )


def require_operator(principal: Principal) -> None:
    """Creating an organisation is for the deployment's operators (a Cognito group the deployer fills)."""
    require_user(principal)
    if OPERATORS_GROUP not in principal.groups:
        raise Forbidden("only the deployment's operators create organisations")


def org_key(org_id: str) -> db.Key:
    return {"pk": f"ORG#{org_id}", "sk": "ORG"}


def member_key(org_id: str, user_id: str) -> db.Key:
    return {"pk": f"ORG#{org_id}", "sk": f"MEMBER#{user_id}"}


def member_from_item(item: db.Item) -> Member:
    return Member(
        item["org_id"], item["user_id"], item["role"], frozenset(item.get("permissions", [])), item.get("superior_id")
    )


def require_user(principal: Principal) -> None:
    if principal.kind != "user":
        raise Forbidden("this route is for staff users; machine credentials may only post leads")


def require_member(
    principal: Principal, org_id: str, permission: Permission | None = None, *, client: Any = None
) -> Member:
    """The caller's membership of the org, read with a consistent read.

    Not a member (or no such org): 404, so other organisations' existence is not revealed.
    A member without the permission: 403 (a money permission held without the MFA it needs: 403 `mfa-required`).
    """
    require_user(principal)
    item = db.get(member_key(org_id, principal.subject), consistent=True, client=client)
    return checked_member(principal, org_id, item, permission)


def checked_member(
    principal: Principal, org_id: str, item: db.Item | None, permission: Permission | None = None
) -> Member:
    """require_member's answer for the caller's membership item, read (consistently) by a caller that reads
    it together with other items of the organisation's partition."""
    if item is None:
        raise NotFound(f"organisation {org_id} not found")
    member = replace(member_from_item(item), mfa=principal.mfa)
    if permission is not None and not member.can(permission):
        raise Forbidden(f"missing permission {permission.value}")
    return member


def member_or_none(principal: Principal, org_id: str, *, client: Any = None) -> Member | None:
    """The caller's membership of the org, or None for someone who is not a member (a partner, say)."""
    try:
        return require_member(principal, org_id, client=client)
    except NotFound:
        return None
