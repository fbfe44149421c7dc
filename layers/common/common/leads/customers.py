"""Customers (leads staff converted, and customers partner companies sold us) and whether a customer is a
registered partner of the organisation (seed 004: the customer list marks those who are).

    customer   ORG#<org>#CUSTOMER#<cust> / CUSTOMER
               gsi1 ORG#<org>#CUSTOMERS / <createdAt>#<cust>                 every customer (leads:manage)
               gsi2 ORG#<org>#CUSTOMERS#OWNER#<owner> / <createdAt>#<cust>   a staff user's own customers

A converted customer is owned by the lead's assignee. A purchased one (`origin` purchased,
common.leads.customer_intake) arrives with no owner: it is listed and read by lead administrators only, like
every customer, until someone is made its owner; it carries its account (`account`), the office it landed in
and the campaign it came with.

A customer is a partner when their e-mail address belongs to a partner of the organisation: the partner's
e-mail guard (partner_model.org_email_key) exists. The flag is read whenever customers are answered (one
BatchGetItem for a page), never stored: an address becomes a partner's, moves to another address or is
freed by a removal without the customer changing, and a stored flag would need a reverse index from
addresses to customers (of staff and of teams) to be kept current.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Self

from pydantic import Field

from common.leads.customer_accounts import CustomerAccount
from common.leads.model import LeadContact, LeadSource, Sale
from common.orgs.access import Member, Permission
from common.partners.partner_records import org_email_key
from common.platform import db, listings
from common.platform.answers import Answer, Timestamp
from common.platform.errors import Forbidden, NotFound


def customer_key(org_id: str, customer_id: str) -> db.Key:
    return {"pk": f"ORG#{org_id}#CUSTOMER#{customer_id}", "sk": "CUSTOMER"}


def _all_customers(org_id: str) -> str:
    return f"ORG#{org_id}#CUSTOMERS"


def _owner_customers(org_id: str, owner_id: str) -> str:
    return f"ORG#{org_id}#CUSTOMERS#OWNER#{owner_id}"


def customer_indexes(org_id: str, customer_id: str, owner_id: str | None, created_at: str) -> dict[str, str]:
    """The listing keys of a new customer (gsi1: everyone's, gsi2: its owner's, when it has one)."""
    order = f"{created_at}#{customer_id}"
    keys = {"gsi1pk": _all_customers(org_id), "gsi1sk": order}
    if owner_id is not None:
        keys |= {"gsi2pk": _owner_customers(org_id, owner_id), "gsi2sk": order}
    return keys


# -- the answer ---------------------------------------------------------------------------------------

IS_PARTNER = "whether the customer's e-mail address belongs to a partner of the organisation, as of this answer"


CustomerOrigin = Literal["converted", "purchased"]


class CustomerSource(LeadSource):
    lead_id: str | None = Field(
        None, description="the lead the customer was converted from; null for a customer a partner company sold us"
    )


class StaffCustomer(Answer):
    """A customer staff converted from a lead, or one a partner company sold us (a partner team's customers are
    another resource)."""

    org_id: str
    customer_id: str
    origin: CustomerOrigin = Field(
        "converted",
        description="converted: staff converted a lead; purchased: a partner company sold us the customer",
    )
    contact: LeadContact = Field(
        description="purchased customers: `contact_name` is the first and last name, the address's `region` its "
        "state or province"
    )
    source: CustomerSource
    is_partner: bool = Field(description=IS_PARTNER)
    owner: str | None = Field(
        None,
        description="the staff user who owns the customer: the lead's assignee; null for a purchased customer "
        "(lead administrators see it)",
    )
    office_location: str | None = Field(
        None, description="purchased customers: the office they landed in (the selling company's)"
    )
    campaign_id: str | None = Field(None, description="purchased customers: the campaign they were posted with")
    account: CustomerAccount | None = Field(None, description="purchased customers: the account as posted")
    created_by: str = Field(description="the staff user who converted the lead, or company:<id> for a purchase")
    created_at: Timestamp
    sale: Sale | None = Field(None, description="whom the customer was sold to, once sold")

    @classmethod
    def of(cls, item: Mapping[str, Any], **fields: Any) -> Self:
        account = item.get("account")
        return super().of(item, account=CustomerAccount.of(account) if account else None, **fields)


# -- the partner flag ------------------------------------------------------------------------------


def partner_flags(org_id: str, emails: Sequence[str | None], *, client: Any = None) -> list[bool]:
    """For each address, whether it belongs to a partner of the organisation as of now: one BatchGetItem
    of the distinct addresses' e-mail guards (a page's worth)."""
    keys = {org_email_key(org_id, e)["pk"]: org_email_key(org_id, e) for e in emails if isinstance(e, str) and e}
    found = {i["pk"] for i in db.batch_get(list(keys.values()), client=client)} if keys else set()
    return [isinstance(e, str) and bool(e) and org_email_key(org_id, e)["pk"] in found for e in emails]


def flag_partners(
    org_id: str, items: Sequence[Mapping[str, Any]], email_of: Callable[[Mapping[str, Any]], Any], *, client: Any = None
) -> list[db.Item]:
    """The items, each with `is_partner` (see partner_flags) for the address `email_of` finds in it."""
    emails = [email if isinstance(email := email_of(i), str) else None for i in items]
    return [
        {**i, "is_partner": flag} for i, flag in zip(items, partner_flags(org_id, emails, client=client), strict=True)
    ]


def contact_email(customer: Mapping[str, Any]) -> Any:
    return (customer.get("contact") or {}).get("email")


# -- staff reads -----------------------------------------------------------------------------------


def get_customer(org_id: str, customer_id: str, member: Member, *, client: Any = None) -> db.Item:
    item = db.get(customer_key(org_id, customer_id), client=client)
    if item is None:
        raise NotFound(f"customer {customer_id} not found")
    if item.get("owner") != member.user_id and not member.can(Permission.MANAGE_LEADS):
        raise Forbidden("this customer is visible to its owner and lead administrators only")
    return flag_partners(org_id, [item], contact_email, client=client)[0]


def list_customers(
    org_id: str, member: Member, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[db.Item], str | None]:
    """Newest first: every customer with leads:manage, else the caller's own (as get_customer allows)."""
    if member.can(Permission.MANAGE_LEADS):
        listing = listings.IndexKey("gsi1", _all_customers(org_id))
    else:
        listing = listings.IndexKey("gsi2", _owner_customers(org_id, member.user_id))
    items, next_cursor = listings.query_index(listing, newest_first=True, cursor=cursor, limit=limit, client=client)
    return flag_partners(org_id, items, contact_email, client=client), next_cursor
