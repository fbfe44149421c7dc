"""The sign-in routes' rules (functions/leads: `/orgs/{orgId}/sign-ins/{userId}/...`): who may end a user's
sessions, disable or delete their sign-in, or have their MFA checked, and on whom.

Reach, never more than the caller's:
- an organisation's **admins** sign out (everywhere) a user of their organisation: a staff member, a partner
  or a partner-team member of it. The user may sign in again; what they may do there the admin controls
  already (membership, partnership, team membership, each read on every request).
- the deployment's **operators** (the Cognito group) also disable or delete a sign-in: it serves every
  organisation the user belongs to, which no single organisation's admin may decide for the others.
- a user has their **own MFA** checked; an admin or an operator may have anyone's of the organisation
  checked again (to clear a record after the user turned MFA off).

The user must be one of the organisation's users in every case, so the path names who is acted on honestly
and another organisation's users stay invisible (404)."""

from __future__ import annotations

from typing import Any

from common.orgs import sign_in
from common.orgs.access import OPERATORS_GROUP, Principal, member_key, require_member, require_user, user_actor
from common.partners.partner_records import node_key
from common.platform import db, listings
from common.platform.errors import Forbidden, NotFound
from common.platform.observability import logger
from common.teams.membership import user_teams


def is_user_of(org_id: str, user_id: str, *, client: Any = None) -> bool:
    """A staff member, a partner or a partner-team member of the organisation."""
    if db.batch_get([member_key(org_id, user_id), node_key(org_id, user_id)], consistent=True, client=client):
        return True
    teams, _ = listings.query_index(
        listings.IndexKey("gsi2", user_teams(user_id), sort_prefix=f"{org_id}#"), limit=1, client=client
    )
    return bool(teams)


def _is_operator(principal: Principal) -> bool:
    return OPERATORS_GROUP in principal.groups


def _require_reach(org_id: str, user_id: str, *, client: Any = None) -> None:
    if not is_user_of(org_id, user_id, client=client):
        raise NotFound(f"user {user_id} is not a user of organisation {org_id}")


def end_sign_in(
    principal: Principal, org_id: str, user_id: str, revocation: sign_in.Revocation, *, client: Any = None
) -> sign_in.SignIn:
    """Record the revocation (the user's tokens are refused from the authorizer's next decision), then end
    the sessions in Cognito. Recorded first: if Cognito fails, the tokens are refused already and a retry
    finishes the job. A user Cognito no longer has (deleted in the console) still gets the revocation."""
    require_user(principal)
    if not _is_operator(principal):
        member = require_member(principal, org_id, client=client)  # 404 for anyone not in the organisation
        if revocation is not sign_in.Revocation.SIGN_OUT:
            raise Forbidden(
                f"only the deployment's operators ({OPERATORS_GROUP}) {revocation.value} a sign-in: it serves "
                "every organisation its user belongs to"
            )
        if member.role != "admin":
            raise Forbidden("only an admin of the organisation signs its users out")
    _require_reach(org_id, user_id, client=client)
    recorded = sign_in.revoke(user_id, revocation, user_actor(principal.subject), client=client)
    in_cognito = sign_in.end_sessions(user_id, revocation)
    logger.info(
        "sign-in ended",
        extra={"user_id": user_id, "org_id": org_id, "revocation": revocation.value, "in_cognito": in_cognito},
    )
    return recorded


def check_mfa(principal: Principal, org_id: str, user_id: str, *, client: Any = None) -> sign_in.SignIn:
    """Ask Cognito which second factors the user has set up, and record them for the authorizer."""
    require_user(principal)
    if principal.subject != user_id and not _is_operator(principal):
        member = require_member(principal, org_id, client=client)
        if member.role != "admin":
            raise Forbidden("a member has their own MFA checked; an admin anyone's of the organisation")
    _require_reach(org_id, user_id, client=client)
    return sign_in.record_mfa(user_id, sign_in.mfa_methods(user_id), client=client)
