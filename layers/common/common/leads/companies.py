"""Partner companies (seed 001): their lead settings and their machine credentials for lead intake."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

from common.orgs.templates import find_template
from common.platform import clock, db, ids, listings
from common.platform.answers import Answer, Timestamp
from common.platform.errors import Conflict, FieldError, InvalidInput, NotFound, invalid
from common.platform.validation import Email, EmailList, EntityId, LongText, Phone, ShortText


class LeadLocation(StrEnum):
    PENDING = "pending"
    QUEUE = "queue"


class QueuePriority(StrEnum):
    NORMAL = "normal"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        """Queue partitions are read in rank order: 1 (high) first."""
        return {"high": 1, "medium": 2, "normal": 3}[self.value]


class CompanyPatch(BaseModel):
    """Fields of a partner company; on update only the fields sent are changed."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [{"queue_priority": "medium", "notes": "Weekly call on Mondays", "phone": None}]
        },
    )
    name: ShortText | None = None
    contact_person: ShortText | None = None
    email: Email | None = None
    phone: Phone | None = None
    notes: LongText | None = None
    sells_leads: bool | None = None
    default_lead_location: LeadLocation | None = None
    force_default_location: bool | None = None
    purchase_notification_emails: EmailList | None = None
    return_notification_emails: EmailList | None = None
    include_comments_with_returns: bool | None = None
    auto_response_template_id: EntityId | None = None
    queue_priority: QueuePriority | None = None


class NewCompany(CompanyPatch):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Acme Leads",
                    "contact_person": "Sam Seller",
                    "email": "sam@acme-leads.example.org",
                    "phone": "+15550100",
                    "sells_leads": True,
                    "default_lead_location": "queue",
                    "queue_priority": "high",
                    "purchase_notification_emails": ["buying@example.org"],
                    "return_notification_emails": ["returns@acme-leads.example.org"],
                    "include_comments_with_returns": True,
                }
            ]
        }
    )
    name: ShortText  # the one required field
    sells_leads: bool = False
    default_lead_location: LeadLocation = LeadLocation.PENDING
    force_default_location: bool = False
    purchase_notification_emails: EmailList = []
    return_notification_emails: EmailList = []
    include_comments_with_returns: bool = False
    queue_priority: QueuePriority = QueuePriority.NORMAL


class PartnerCompany(NewCompany, Answer):
    """A partner company: its settings as created or changed (NewCompany), and what the system keeps."""

    model_config = Answer.model_config
    org_id: str
    company_id: str
    created_at: Timestamp
    updated_at: Timestamp
    updated_by: str
    has_credentials: bool = Field(description="whether client credentials for lead intake have been issued")

    @classmethod
    def of(cls, item: Mapping[str, Any], **fields: Any) -> Self:
        # The intake client's id is shown only when credentials are issued; the company says it has one.
        return super().of(item, has_credentials=bool(item.get("client_id")), **fields)


# Optional contact details and the template may be cleared with null; every other setting keeps a value.
_CLEARABLE = frozenset({"contact_person", "email", "phone", "notes", "auto_response_template_id"})


def company_key(org_id: str, company_id: str) -> db.Key:
    return {"pk": f"ORG#{org_id}#COMPANY#{company_id}", "sk": "COMPANY"}


def company_actor(company_id: str) -> str:
    """A partner company as the actor of a change (the leads it posts): the one form of that string."""
    return f"company:{company_id}"


def _companies_listing(org_id: str) -> str:
    return f"ORG#{org_id}#COMPANIES"


def _listing_keys(org_id: str, company_id: str, name: str) -> dict[str, str]:
    return {"gsi1pk": _companies_listing(org_id), "gsi1sk": f"{name.casefold()}#{company_id}"}


def _check_template(org_id: str, template_id: str | None, client: Any) -> None:
    if template_id and find_template(org_id, template_id, client=client) is None:
        raise invalid("body.auto_response_template_id", "no such message template in this organisation")


def create_company(org_id: str, new: NewCompany, author_id: str, *, client: Any = None) -> db.Item:
    _check_template(org_id, new.auto_response_template_id, client)
    company_id = ids.new_id()
    at = clock.now_iso()
    item = {
        **company_key(org_id, company_id),
        **_listing_keys(org_id, company_id, new.name),
        "entity": "partner_company",
        "org_id": org_id,
        "company_id": company_id,
        **new.model_dump(mode="json"),
        "created_at": at,
        "updated_at": at,
        "updated_by": author_id,
    }
    db.put(
        item,
        condition="attribute_not_exists(pk)",
        on_conflict=Conflict("company id collision; retry"),
        client=client,
    )
    return item


def find_company(org_id: str, company_id: str, *, client: Any = None) -> db.Item | None:
    return db.get(company_key(org_id, company_id), client=client)


def get_company(org_id: str, company_id: str, *, client: Any = None) -> db.Item:
    item = find_company(org_id, company_id, client=client)
    if item is None:
        raise NotFound(f"partner company {company_id} not found")
    return item


def update_company(org_id: str, company_id: str, patch: CompanyPatch, author_id: str, *, client: Any = None) -> db.Item:
    changes = patch.model_dump(mode="json", exclude_unset=True)
    cleared = sorted(field for field, value in changes.items() if value is None and field not in _CLEARABLE)
    if cleared:
        message = "cannot be removed; send a value instead"
        raise InvalidInput(
            f"fields that cannot be cleared: {', '.join(cleared)}",
            errors=[FieldError(f"body.{field}", message) for field in cleared],
        )
    _check_template(org_id, changes.get("auto_response_template_id"), client)
    changes |= {"updated_at": clock.now_iso(), "updated_by": author_id}
    if changes.get("name"):
        changes["gsi1sk"] = _listing_keys(org_id, company_id, changes["name"])["gsi1sk"]
    names = {f"#f{i}": field for i, field in enumerate(changes)}
    values = {f":v{i}": value for i, value in enumerate(changes.values())}
    to_set = [f"#f{i} = :v{i}" for i, value in enumerate(changes.values()) if value is not None]
    to_remove = [f"#f{i}" for i, value in enumerate(changes.values()) if value is None]
    expression = "SET " + ", ".join(to_set) + (" REMOVE " + ", ".join(to_remove) if to_remove else "")
    return db.update(
        company_key(org_id, company_id),
        expression=expression,
        condition="attribute_exists(pk)",
        names=names,
        values={k: v for k, v in values.items() if v is not None},
        on_conflict=NotFound(f"partner company {company_id} not found"),
        client=client,
    )


def list_companies(
    org_id: str, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[db.Item], str | None]:
    return listings.query_index(
        listings.IndexKey("gsi1", _companies_listing(org_id)), cursor=cursor, limit=limit, client=client
    )


def attach_client(org_id: str, company_id: str, client_id: str, *, client: Any = None) -> str | None:
    """Record the company's current machine client in one conditional write; returns the client it
    replaces (from the old image), so that concurrent issuances each learn which client to revoke."""
    old = db.update(
        company_key(org_id, company_id),
        expression="SET client_id = :new, updated_at = :at",
        condition="attribute_exists(pk) AND (sells_leads = :true OR sells_customers = :true)",
        values={":new": client_id, ":at": clock.now_iso(), ":true": True},
        on_conflict=lambda current: (
            NotFound(f"partner company {company_id} not found")
            if current is None
            else Conflict("only a company that sells leads or customers gets credentials for intake")
        ),
        returning="ALL_OLD",
        client=client,
    )
    previous = old.get("client_id")
    return str(previous) if previous else None
