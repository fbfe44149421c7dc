"""Who a calling partner is: their account, their node in the organisation and its settings, read in one
consistent batch, and the refusals that keep a partner from acting (an unconfirmed e-mail address, terms not
accepted, an archived partnership)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from common.orgs.access import Principal, require_user
from common.partners.partner_records import (
    PartnerStatus,
    account_key,
    node_key,
    partner_actor,
    partner_pk,
    settings_key,
    settings_of,
)
from common.platform import db
from common.platform.errors import Forbidden, NotFound


class EmailNotConfirmed(Forbidden):
    code = "email-not-confirmed"
    title = "E-mail address not confirmed"


class TermsNotAccepted(Forbidden):
    code = "terms-not-accepted"
    title = "The programme's current terms are not accepted"


@dataclass(frozen=True)
class PartnerCaller:
    partner_id: str
    org_id: str
    account: db.Item
    node: db.Item
    settings: dict[str, Any]

    @property
    def actor(self) -> str:
        return partner_actor(self.partner_id)


def require_partner(
    principal: Principal,
    org_id: str,
    *,
    confirming: bool = False,
    accepting_terms: bool = False,
    client: Any = None,
) -> PartnerCaller:
    """The caller as a partner of the organisation: account, node and the organisation's settings in one
    consistent read.

    Not a partner there (or removed): 404. E-mail not confirmed: 403 with that reason, except for the
    confirmation itself. The organisation's terms changed since the partner accepted: 403 until they
    accept the current version. Archived: 403."""
    require_user(principal)
    partner_id = principal.subject
    items = db.batch_get(
        [account_key(partner_id), node_key(org_id, partner_id), settings_key(org_id)], consistent=True, client=client
    )
    by_sk = {(i["pk"], i["sk"]): i for i in items}
    account = by_sk.get((partner_pk(partner_id), "ACCOUNT"))
    node = by_sk.get((partner_pk(partner_id), f"ORG#{org_id}"))
    settings = settings_of(by_sk.get((f"ORG#{org_id}", "PROGRAMME")))
    if account is None or node is None or node.get("removed_at"):
        raise NotFound(f"organisation {org_id} not found")
    if not confirming:
        refuse_unconfirmed(account)
    if node["status"] == PartnerStatus.ARCHIVED.value:
        raise Forbidden("your partnership with this organisation is archived")
    current_terms = settings.get("current_terms_version")
    if current_terms is not None and node.get("terms_version") != current_terms and not accepting_terms:
        raise TermsNotAccepted(f"accept the programme's terms (version {current_terms}) to continue")
    return PartnerCaller(partner_id, org_id, account, node, settings)


def refuse_unconfirmed(account: db.Item | None) -> None:
    """A partner account whose address is not confirmed yet: 403 email-not-confirmed. Until then its login
    may only confirm the address or ask for the link again (an address nobody has proved must not act).
    No account (staff, team members who are not partners) passes."""
    if account is not None and not account.get("email_confirmed"):
        raise EmailNotConfirmed("confirm your e-mail address first: follow the link we sent you (or ask for a new one)")


def require_confirmed(principal: Principal, *, client: Any = None) -> None:
    """The caller is a user whose partner account, if they have one, has its address confirmed (one
    consistent GetItem). For the routes any signed-in user reaches, whatever their memberships."""
    require_user(principal)
    refuse_unconfirmed(db.get(account_key(principal.subject), consistent=True, client=client))
