"""How the programme structure is answered: a participant's node, their own view with the referral link, a
move, and "your partners" in one view per kind of caller (seed 004).

"Your partners" shows a partner their downline's names, levels and statuses only; staff see each
partner's place in the structure; balances (the seed's Wallet column) only a holder of
programme:manage_balances. Nothing staff-only (contact details, brokers, why a partner was archived) is
in any of them: that is the partners:manage record (common.partners.partner_nodes.Partner).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from common.partners.partner_records import PartnerStatus
from common.platform.answers import Answer, Timestamp
from common.platform.currencies import MINOR_UNITS_DESCRIPTION

ORIGIN = "added, existing, joined, invitation or referral"
Scope = Literal["all", "downline"]


class Node(Answer):
    """A participant's node: the caller's own (joining, accepting terms) or the one staff moved."""

    org_id: str
    partner_id: str
    first_name: str
    last_name: str
    name: str
    email: str
    status: PartnerStatus
    origin: str = Field(description=ORIGIN)
    sponsor_id: str | None = None
    upline: list[str] = Field(description="the sponsor first, up to the root")
    level: int = Field(description="0 at the top of the structure")
    terms_version: int | None = None
    terms_accepted_at: Timestamp | None = None
    added_at: Timestamp


class Move(Answer):
    partner: Node
    moved: int = Field(description="how many nodes were re-placed: the partner and its downline (0: no change)")


class Sponsor(Answer):
    partner_id: str
    name: str | None = None


class TermsStatus(Answer):
    current_version: int | None
    accepted_version: int | None = None
    accepted_at: Timestamp | None = None


class Participant(Answer):
    """The caller's own place in the programme, with their referral link."""

    org_id: str
    partner_id: str
    status: PartnerStatus
    level: int
    upline: list[str]
    sponsor: Sponsor | None
    referral_code: str
    referral_link: str = Field(description="the portal's registration page for this code")
    terms: TermsStatus


# -- "your partners" -------------------------------------------------------------------------------


class DownlinePartner(Answer):
    """A partner of the caller's downline, as a partner sees them."""

    partner_id: str
    name: str
    status: PartnerStatus
    level: int = Field(description="0 at the top of the structure")
    sponsor_id: str | None = Field(None, description="who is directly above them")


class StructurePartner(Answer):
    """A partner's place in the structure, as staff see it."""

    org_id: str
    partner_id: str
    name: str
    status: PartnerStatus
    origin: str = Field(description=ORIGIN)
    sponsor_id: str | None = None
    upline: list[str] = Field(description="the sponsor first, up to the root")
    level: int = Field(description="0 at the top of the structure")
    terms_version: int | None = None
    added_at: Timestamp


class StructureWallet(Answer):
    balance: int = Field(description="minor units: the sum of the partner's ledger entries")
    currency: str
    minor_units: int | None = Field(description=MINOR_UNITS_DESCRIPTION)


class StructurePartnerWithBalance(StructurePartner):
    """A partner's place in the structure and their balance, for staff with programme:manage_balances."""

    wallet: StructureWallet | None = Field(
        description="the partner's balance; null before their first ledger entry, a balance of 0"
    )


class _Listing(Answer):
    next_cursor: str | None = Field(description="pass as cursor for the next page; null on the last page")
    scope: Scope = Field(description="all (programme:see_all) or downline (the caller's own structure)")


class DownlinePage(_Listing):
    """A partner's "your partners": a page of their downline in structure order."""

    items: list[DownlinePartner]


class StructurePage(_Listing):
    """Staff's "your partners": a page of the structure in structure order."""

    items: list[StructurePartner]


class StructureBalancePage(_Listing):
    """Staff's "your partners" with each partner's balance (programme:manage_balances)."""

    items: list[StructurePartnerWithBalance]


YourPartners = DownlinePage | StructurePage | StructureBalancePage
