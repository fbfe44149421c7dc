"""Partner companies (seed 001): their four sides (common.leads.company_sides: they sell leads to us with
today's lead settings, buy leads from us, sell customers to us, buy customers from us), whether they are
active, and their machine credentials for lead intake.

    company   ORG#<org>#COMPANY#<company> / COMPANY
              gsi1 ORG#<org>#COMPANIES / <name, case-folded>#<company>     the companies by name (filtered by
                                                                          side and `active`)
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

from common.leads import company_sides as sides
from common.leads.company_sides import CustomerPurchase, SaleSide, SaleSideSettings
from common.orgs.templates import find_template
from common.platform import clock, db, ids, listings, urls
from common.platform.answers import Answer, Timestamp
from common.platform.errors import Conflict, DomainError, FieldError, InvalidInput, NotFound
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
    active: bool | None = Field(None, description="inactive companies are kept, but offered as no source or buyer")
    buys_leads: bool | None = None
    lead_sale: SaleSide | None = Field(None, description="how leads sold to the company reach it (buys_leads)")
    sells_customers: bool | None = None
    customer_purchase: CustomerPurchase | None = Field(
        None, description="customers the company sells to us (sells_customers)"
    )
    buys_customers: bool | None = None
    customer_sale: SaleSide | None = Field(None, description="how customers sold to the company reach it")


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
    active: bool = True
    buys_leads: bool = False
    sells_customers: bool = False
    buys_customers: bool = False


class PartnerCompany(NewCompany, Answer):
    """A partner company: its settings as created or changed (NewCompany), and what the system keeps."""

    model_config = Answer.model_config
    org_id: str
    company_id: str
    created_at: Timestamp
    updated_at: Timestamp
    updated_by: str
    has_credentials: bool = Field(description="whether client credentials for lead intake have been issued")
    # The sale sides as kept: the receivers' credentials without their secrets.
    lead_sale: SaleSideSettings | None = None  # type: ignore[assignment]
    customer_sale: SaleSideSettings | None = None  # type: ignore[assignment]

    @classmethod
    def of(cls, item: Mapping[str, Any], **fields: Any) -> Self:
        # The intake client's id is shown only when credentials are issued; the company says it has one.
        return super().of(item, has_credentials=bool(item.get("client_id")), **fields)


# Optional contact details and the template may be cleared with null, and a side's settings while it is off;
# every other setting keeps a value.
_CLEARABLE = frozenset(
    {"contact_person", "email", "phone", "notes", "auto_response_template_id", *(s.settings for s in sides.SIDES)}
)
# What a change validated together with the kept company touches.
_SIDE_FIELDS = frozenset(field for s in sides.SIDES for field in (s.switch, s.settings))
# Decided again from a fresh read when the company changed between the read and the write.
_ATTEMPTS = 3


def company_key(org_id: str, company_id: str) -> db.Key:
    return {"pk": f"ORG#{org_id}#COMPANY#{company_id}", "sk": "COMPANY"}


def company_actor(company_id: str) -> str:
    """A partner company as the actor of a change (the leads it posts): the one form of that string."""
    return f"company:{company_id}"


def _companies_listing(org_id: str) -> str:
    return f"ORG#{org_id}#COMPANIES"


def _listing_keys(org_id: str, company_id: str, name: str) -> dict[str, str]:
    return {"gsi1pk": _companies_listing(org_id), "gsi1sk": f"{name.casefold()}#{company_id}"}


def _template_problems(org_id: str, template_id: str | None, client: Any) -> list[FieldError]:
    if template_id and find_template(org_id, template_id, client=client) is None:
        return [FieldError("body.auto_response_template_id", "no such message template in this organisation")]
    return []


def _refuse(problems: list[FieldError]) -> None:
    if problems:
        raise InvalidInput(f"invalid fields: {', '.join(p.field for p in problems)}", errors=problems)


def _kept_fields(sent: dict[str, Any]) -> dict[str, Any]:
    """The fields sent, as the item keeps them: sale sides without their secrets."""
    return sent | {
        side.settings: sides.kept_sale(sent[side.settings])
        for side in sides.SALE_SIDES.values()
        if side.settings in sent
    }


def create_company(
    org_id: str,
    new: NewCompany,
    author_id: str,
    *,
    policy: urls.OutboundPolicy | None = None,
    client: Any = None,
    ssm: Any = None,
) -> db.Item:
    sent = new.model_dump(mode="json")
    _refuse(
        _template_problems(org_id, new.auto_response_template_id, client)
        + sides.side_problems(sent, None, policy or urls.OutboundPolicy.from_settings())
    )
    company_id = ids.new_id()
    at = clock.now_iso()
    item = {
        **company_key(org_id, company_id),
        **_listing_keys(org_id, company_id, new.name),
        "entity": "partner_company",
        "org_id": org_id,
        "company_id": company_id,
        **_kept_fields(sent),
        "created_at": at,
        "updated_at": at,
        "updated_by": author_id,
    }
    secrets = sides.secret_changes(sent, None)
    sides.apply_secret_changes(org_id, company_id, secrets, ssm=ssm)
    try:
        db.put(
            item,
            condition="attribute_not_exists(pk)",
            on_conflict=Conflict("company id collision; retry"),
            client=client,
        )
    except Exception:
        sides.apply_secret_changes(org_id, company_id, [sides.SecretChange(c.side, None) for c in secrets], ssm=ssm)
        raise
    return item


def find_company(org_id: str, company_id: str, *, consistent: bool = False, client: Any = None) -> db.Item | None:
    return db.get(company_key(org_id, company_id), consistent=consistent, client=client)


def get_company(org_id: str, company_id: str, *, consistent: bool = False, client: Any = None) -> db.Item:
    item = find_company(org_id, company_id, consistent=consistent, client=client)
    if item is None:
        raise NotFound(f"partner company {company_id} not found")
    return item


class _Changed(Conflict):
    """The company changed between its read and its write: decided again."""


def update_company(
    org_id: str,
    company_id: str,
    patch: CompanyPatch,
    author_id: str,
    *,
    policy: urls.OutboundPolicy | None = None,
    client: Any = None,
    ssm: Any = None,
) -> db.Item:
    """Change the fields sent. A change of a side (its switch or its settings) is checked together with the
    company as kept, and written only if the company has not changed since (else decided again); the
    receivers' secrets are kept or forgotten before the write, so the item never says a secret is kept that
    is not."""
    changes = patch.model_dump(mode="json", exclude_unset=True)
    cleared = sorted(field for field, value in changes.items() if value is None and field not in _CLEARABLE)
    if cleared:
        message = "cannot be removed; send a value instead"
        raise InvalidInput(
            f"fields that cannot be cleared: {', '.join(cleared)}",
            errors=[FieldError(f"body.{field}", message) for field in cleared],
        )
    template_problems = _template_problems(org_id, changes.get("auto_response_template_id"), client)
    if not changes.keys() & _SIDE_FIELDS:
        _refuse(template_problems)
        return _write(org_id, company_id, changes, author_id, None, client)
    policy = policy or urls.OutboundPolicy.from_settings()
    for attempt in range(_ATTEMPTS):
        current = get_company(org_id, company_id, consistent=True, client=client)
        _refuse(template_problems + sides.side_problems(changes, current, policy))
        sides.apply_secret_changes(org_id, company_id, sides.secret_changes(changes, current), ssm=ssm)
        try:
            return _write(org_id, company_id, _kept_fields(changes), author_id, current["updated_at"], client)
        except _Changed:
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _write(
    org_id: str, company_id: str, changes: dict[str, Any], author_id: str, seen: str | None, client: Any
) -> db.Item:
    """One conditional update of the fields changed (null: removed); `seen`: the company's updated_at as read,
    which it must still have."""
    changes = changes | {"updated_at": clock.now_iso(), "updated_by": author_id}
    if changes.get("name"):
        changes["gsi1sk"] = _listing_keys(org_id, company_id, changes["name"])["gsi1sk"]
    names = {f"#f{i}": field for i, field in enumerate(changes)}
    values = {f":v{i}": value for i, value in enumerate(changes.values()) if value is not None}
    to_set = [f"#f{i} = :v{i}" for i, value in enumerate(changes.values()) if value is not None]
    to_remove = [f"#f{i}" for i, value in enumerate(changes.values()) if value is None]
    expression = "SET " + ", ".join(to_set) + (" REMOVE " + ", ".join(to_remove) if to_remove else "")
    condition = "attribute_exists(pk)"
    if seen is not None:
        condition += " AND #seen = :seen"
        names["#seen"], values[":seen"] = "updated_at", seen

    def _refusal(current: db.Item | None) -> DomainError:
        return NotFound(f"partner company {company_id} not found") if current is None else _Changed("changed")

    return db.update(
        company_key(org_id, company_id),
        expression=expression,
        condition=condition,
        names=names,
        values=values,
        on_conflict=_refusal,
        client=client,
    )


# Kept before the sides were added, a company may lack a switch (off) or `active` (on).
_ABSENT_MEANS = {"active": True} | dict.fromkeys(sides.SWITCHES, False)


def list_companies(
    org_id: str,
    *,
    where: Mapping[str, bool] | None = None,
    cursor: str | None = None,
    limit: int = 50,
    client: Any = None,
) -> tuple[list[db.Item], str | None]:
    """The organisation's companies by name; `where` keeps those whose switches (sells_leads, buys_leads,
    sells_customers, buys_customers) and `active` have the values given. One query of the companies' gsi1
    partition with a filter: a page holds `limit` companies that match, read `limit` + 1 at a time."""
    clauses, names, values = [], {}, {}
    for i, (field, wanted) in enumerate((where or {}).items()):
        names[f"#w{i}"], values[f":w{i}"] = field, wanted
        clause = f"#w{i} = :w{i}"
        if wanted == _ABSENT_MEANS[field]:
            clause = f"(attribute_not_exists(#w{i}) OR {clause})"
        clauses.append(clause)
    return listings.query_index(
        listings.IndexKey("gsi1", _companies_listing(org_id)),
        filter_expression=" AND ".join(clauses) or None,
        filter_values=values or None,
        names=names or None,
        cursor=cursor,
        limit=limit,
        client=client,
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
