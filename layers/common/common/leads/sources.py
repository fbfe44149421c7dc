"""Where leads and customers come from. Every lead has a source: a partner company (outside), or the
organisation's own "self-generated" source (inside) for what its staff generate. The self-generated source
is not an item: it is the same fixed id in every organisation (SELF_GENERATED), so each organisation has
exactly one, which nothing can delete or rename. What may be picked as a source (`list_sources`) is that
one and the active companies that sell leads (or customers); staff entering a lead by hand name one of
them (`manual_source`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from common.leads import campaigns
from common.leads.companies import find_company, list_companies
from common.platform import db
from common.platform.answers import Answer
from common.platform.cursors import cursor_fields, encode_cursor
from common.platform.errors import invalid
from common.platform.validation import ENTITY_ID_PATTERN

SELF_GENERATED = "self-generated"
SELF_GENERATED_NAME = "Self-generated"
# A source as named in a request: the self-generated one, or a partner company's id.
SourceId = Annotated[str, StringConstraints(pattern=f"^(?:{SELF_GENERATED}|{ENTITY_ID_PATTERN[1:-1]})$")]
# The cursor of a first page that held only the self-generated source: the companies follow from their start.
_AFTER_SELF_GENERATED = {"source_id": SELF_GENERATED}


class SourceKind(StrEnum):
    SELF_GENERATED = "self_generated"
    PARTNER_COMPANY = "partner_company"


class SourceFor(StrEnum):
    """What a source is picked for: leads (companies that sell leads) or customers (that sell customers)."""

    LEADS = "leads"
    CUSTOMERS = "customers"

    @property
    def switch(self) -> str:
        return "sells_leads" if self is SourceFor.LEADS else "sells_customers"


class Source(Answer):
    """A source that may be picked for a lead or a customer."""

    source_id: str = Field(description=f'"{SELF_GENERATED}", or the partner company\'s id')
    kind: SourceKind
    name: str
    company_id: str | None = Field(None, description="partner_company sources")


SELF_GENERATED_SOURCE = Source(source_id=SELF_GENERATED, kind=SourceKind.SELF_GENERATED, name=SELF_GENERATED_NAME)


def _company_source(company: db.Item) -> Source:
    return Source(
        source_id=company["company_id"],
        kind=SourceKind.PARTNER_COMPANY,
        name=company["name"],
        company_id=company["company_id"],
    )


def list_sources(
    org_id: str, wanted: SourceFor, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[Source], str | None]:
    """The self-generated source first, then the active companies that sell what is `wanted`, by name.
    A cursor names a page's last source, the self-generated one included."""
    first_page = cursor is None
    if cursor is not None and cursor_fields(cursor) == _AFTER_SELF_GENERATED:
        cursor = None
    room = limit - 1 if first_page else limit
    where = {"active": True, wanted.switch: True}
    companies, next_cursor = (
        list_companies(org_id, where=where, cursor=cursor, limit=room, client=client) if room else ([], None)
    )
    if not room:  # a page of one: does any company follow it?
        following, _ = list_companies(org_id, where=where, limit=1, client=client)
        next_cursor = encode_cursor(_AFTER_SELF_GENERATED) if following else None
    found = [_company_source(company) for company in companies]
    return ([SELF_GENERATED_SOURCE, *found] if first_page else found), next_cursor


def manual_source(org_id: str, source_id: str, campaign_id: str | None, *, client: Any = None) -> dict[str, Any]:
    """The source of a lead entered by hand, as the lead keeps it: the self-generated source, or an active
    company that sells leads, with one of its inbound campaigns (our campaign id) if one is named. Anything
    else is 422 naming `body.source_id` (or `body.campaign_id`)."""
    if source_id == SELF_GENERATED:
        if campaign_id is not None:
            raise invalid("body.campaign_id", "campaigns belong to partner companies: pick the company as the source")
        return {"source_id": SELF_GENERATED}
    company = find_company(org_id, source_id, client=client)
    if company is None or not company.get("sells_leads") or company.get("active") is False:
        raise invalid(
            "body.source_id",
            f'must be "{SELF_GENERATED}" or an active partner company that sells leads (GET .../sources?for=leads)',
        )
    source: dict[str, Any] = {"source_id": source_id, "company_id": source_id}
    if campaign_id is not None:
        source |= campaigns.picked(org_id, source_id, campaign_id, client=client)
    return source
