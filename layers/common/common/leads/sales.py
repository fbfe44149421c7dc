"""Selling leads and customers to a partner company that buys them (its side `buys_leads` with `lead_sale`,
`buys_customers` with `customer_sale`: common.leads.company_sides).

A request names the company and 1 to 100 distinct records. The company is read once: it must exist (422
naming `company_id` otherwise), be active and buy what is sold (409, nothing written). Each record is then
sold by one conditional write of its own, so one record's refusal leaves the others sold:

- a lead: pending or queued, not sold before (`attribute_not_exists(sale)`), and not from the buying company
  (that is a return). It becomes `sold`, leaves the work queue (gsi3) and moves to the `sold` listing
  (gsi1), and gains its `sale` and a `sold` history entry. An assigned lead is its rep's: they put it back
  first;
- a customer: not sold before; it gains its `sale`.

`sale` is {sale_id, company_id, sold_at, sold_by, method}: the method of the company's side at the moment of
the sale. Nothing else happens in the request: the post (common.integrations.sale_deliveries) or the e-mail,
and the Sale Notification e-mails (common.leads.sale_mail) follow from the table's stream, once per sale.
A refusal is told per record from the item DynamoDB returns with it (no read); a retried write that finds
its own sale applied counts as done.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from common.leads.changes import status_update
from common.leads.companies import find_company
from common.leads.customers import customer_key
from common.leads.model import HISTORY, LeadNotFound, LeadStatus, LeadUnavailable, Sale, history_entry, lead_key
from common.orgs.access import Member
from common.platform import clock, db, history, ids
from common.platform.answers import Answer
from common.platform.errors import Conflict, DomainError, NotFound, invalid
from common.platform.validation import EntityId

Side = Literal["leads", "customers"]
# The company's switch and settings of each side (common.leads.company_sides has their model).
SIDE_FIELDS: Mapping[str, tuple[str, str]] = {
    "leads": ("buys_leads", "lead_sale"),
    "customers": ("buys_customers", "customer_sale"),
}
SELLABLE = (LeadStatus.PENDING, LeadStatus.QUEUED)
MAX_RECORDS = 100
_EXAMPLE_ID = "01JD3M5Q7R8S9T0V1W2X3Y4Z5A"


class CompanyNotBuying(Conflict):
    code = "company-not-buying"
    title = "The partner company does not buy this from us"


class AlreadySold(Conflict):
    code = "already-sold"
    title = "The record was sold already"


class NotForSale(Conflict):
    code = "not-for-sale"
    title = "The record cannot be sold in its state"


class CustomerNotFound(NotFound):
    code = "customer-not-found"


def _distinct(values: list[str]) -> list[str]:
    repeated = sorted({value for value in values if values.count(value) > 1})
    if repeated:
        raise ValueError(f"each id once: {', '.join(repeated)} repeated")
    return values


class SellLeads(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"company_id": _EXAMPLE_ID, "lead_ids": [_EXAMPLE_ID]}]}
    )
    company_id: EntityId = Field(description="the partner company that buys them (buys_leads)")
    lead_ids: list[EntityId] = Field(min_length=1, max_length=MAX_RECORDS, description="distinct lead ids")

    _check_distinct = field_validator("lead_ids")(_distinct)


class SellCustomers(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"company_id": _EXAMPLE_ID, "customer_ids": [_EXAMPLE_ID]}]}
    )
    company_id: EntityId = Field(description="the partner company that buys them (buys_customers)")
    customer_ids: list[EntityId] = Field(min_length=1, max_length=MAX_RECORDS, description="distinct customer ids")

    _check_distinct = field_validator("customer_ids")(_distinct)


class SaleRefusal(Answer):
    """Why one record was not sold: the problem a sale of it alone answers."""

    type: str = Field(
        description="the problem type, e.g. /problems/already-sold, /problems/not-for-sale, /problems/lead-not-found"
    )
    status: int = Field(description="404: no such record; 409: sold already, or not for sale in its state")
    detail: str


class _Outcome(Answer):
    sold: bool = Field(description="true: sold now (`sale`); false: refused (`refusal`), nothing written for it")
    sale: Sale | None = None
    refusal: SaleRefusal | None = None


class LeadSold(_Outcome):
    lead_id: str


class CustomerSold(_Outcome):
    customer_id: str


class LeadSaleResult(Answer):
    """Every lead asked for, in the order asked: sold now, or refused with the reason."""

    items: list[LeadSold]
    sold: int = Field(ge=0)
    refused: int = Field(ge=0)


class CustomerSaleResult(Answer):
    """Every customer asked for, in the order asked: sold now, or refused with the reason."""

    items: list[CustomerSold]
    sold: int = Field(ge=0)
    refused: int = Field(ge=0)


# -- the buying company ----------------------------------------------------------------------------------


def buying_company(org_id: str, company_id: str, side: Side, *, client: Any = None) -> tuple[db.Item, db.Item]:
    """The company and its settings of `side`, when it is active and buys what `side` sells."""
    company = find_company(org_id, company_id, client=client)
    if company is None:
        raise invalid("body.company_id", "no such partner company in this organisation")
    name = company.get("name", company_id)
    if company.get("active") is False:
        raise CompanyNotBuying(f"{name} is inactive: nothing is sold to it")
    switch, settings = SIDE_FIELDS[side]
    if not company.get(switch) or not company.get(settings):
        raise CompanyNotBuying(f"{name} does not buy {side} from us ({switch} is off)")
    return company, company[settings]


def _new_sale(company_id: str, method: str, member: Member, now: str) -> dict[str, Any]:
    sale_id = ids.new_id()
    return {"sale_id": sale_id, "company_id": company_id, "sold_at": now, "sold_by": member.user_id, "method": method}


def _already(kind: str, record_id: str, current: db.Item) -> AlreadySold:
    sale = current["sale"]
    return AlreadySold(
        f"{kind} {record_id} was sold to partner company {sale['company_id']} at {sale['sold_at']}",
        conflicting_ids=[sale["sale_id"]],
    )


# -- leads ----------------------------------------------------------------------------------------------


def sell_lead(
    org_id: str, lead_id: str, company_id: str, sale: dict[str, Any], member: Member, *, client: Any = None
) -> db.Item:
    """One lead sold by one conditional write (with its history entry); the refusal says why."""
    now = sale["sold_at"]
    event = history_entry(member.actor, "sold", now, company_id=company_id, sale_id=sale["sale_id"])

    def explain(current: db.Item | None) -> DomainError | None:
        if current is None:
            return LeadNotFound(f"lead {lead_id} not found")
        if (current.get("sale") or {}).get("sale_id") == sale["sale_id"]:
            return None  # this very sale, applied by an attempt whose answer was lost
        if current.get("sale"):
            return _already("lead", lead_id, current)
        status = LeadStatus(current["status"])
        if status not in SELLABLE:
            hint = ": its rep puts it back in the queue first" if status is LeadStatus.ASSIGNED else ""
            return NotForSale(f"lead {lead_id} is {status.value}; only pending and queued leads are sold{hint}")
        if current.get("company_id") == company_id:
            return NotForSale(f"lead {lead_id} came from this company: return it instead")
        return LeadUnavailable(f"lead {lead_id} changed while it was being sold; retry")

    def write(addition: history.Addition) -> db.Item:
        expression, names, values = status_update(
            org_id, lead_id, LeadStatus.SOLD, now, addition, set_fields={"sale": sale}, remove=("gsi3pk", "gsi3sk")
        )
        values |= {":pending": LeadStatus.PENDING.value, ":queued": LeadStatus.QUEUED.value, ":buyer": company_id}
        condition = (
            "#status IN (:pending, :queued) AND attribute_not_exists(sale) "
            f"AND (attribute_not_exists(company_id) OR company_id <> :buyer) AND {addition.condition}"
        )
        return history.update(
            lead_key(org_id, lead_id),
            addition,
            expression=expression,
            condition=condition,
            names=names,
            values=values,
            on_conflict=explain,
            client=client,
        )

    return history.attempt(history.Addition(HISTORY, [event]), write)


def sell_leads(org_id: str, member: Member, body: SellLeads, *, client: Any = None) -> LeadSaleResult:
    """Sell the leads to the company; a request for one lead answers its refusal as the problem (404, 409)."""
    company, settings = buying_company(org_id, body.company_id, "leads", client=client)
    now = clock.now_iso()

    def sell(lead_id: str) -> db.Item:
        sale = _new_sale(company["company_id"], settings["method"], member, now)
        return sell_lead(org_id, lead_id, company["company_id"], sale, member, client=client)

    outcomes = _each(body.lead_ids, sell)
    items = [LeadSold(lead_id=record_id, **outcome) for record_id, outcome in outcomes]
    return LeadSaleResult(items=items, sold=sum(i.sold for i in items), refused=sum(not i.sold for i in items))


# -- customers -----------------------------------------------------------------------------------------


def sell_customer(org_id: str, customer_id: str, sale: dict[str, Any], *, client: Any = None) -> db.Item:
    def explain(current: db.Item | None) -> DomainError | None:
        if current is None:
            return CustomerNotFound(f"customer {customer_id} not found")
        if (current.get("sale") or {}).get("sale_id") == sale["sale_id"]:
            return None
        return _already("customer", customer_id, current)

    return db.update(
        customer_key(org_id, customer_id),
        expression="SET sale = :sale",
        condition="attribute_exists(pk) AND attribute_not_exists(sale)",
        values={":sale": sale},
        on_conflict=explain,
        client=client,
    )


def sell_customers(org_id: str, member: Member, body: SellCustomers, *, client: Any = None) -> CustomerSaleResult:
    """Sell the customers to the company; a request for one customer answers its refusal as the problem."""
    company, settings = buying_company(org_id, body.company_id, "customers", client=client)
    now = clock.now_iso()

    def sell(customer_id: str) -> db.Item:
        sale = _new_sale(company["company_id"], settings["method"], member, now)
        return sell_customer(org_id, customer_id, sale, client=client)

    outcomes = _each(body.customer_ids, sell)
    items = [CustomerSold(customer_id=record_id, **outcome) for record_id, outcome in outcomes]
    return CustomerSaleResult(items=items, sold=sum(i.sold for i in items), refused=sum(not i.sold for i in items))


def _each(record_ids: list[str], sell: Callable[[str], db.Item]) -> list[tuple[str, dict[str, Any]]]:
    """Each record sold on its own; a refusal of the only record asked for is raised as it is."""
    outcomes = []
    for record_id in record_ids:
        try:
            sold = sell(record_id)
        except (NotFound, Conflict) as refused:
            if len(record_ids) == 1:
                raise
            problem = refused.problem("")
            refusal = SaleRefusal(type=problem["type"], status=refused.status, detail=refused.detail)
            outcomes.append((record_id, {"sold": False, "refusal": refusal}))
            continue
        outcomes.append((record_id, {"sold": True, "sale": Sale.of(sold["sale"])}))
    return outcomes


# -- for the stream's consumers --------------------------------------------------------------------------


def newly_sold(old: db.Item | None, new: db.Item | None) -> dict[str, Any] | None:
    """The sale a change of a lead or customer made (None for any other change): a `sale` the old image did
    not have. A change that came without its old image counts too; what follows a sale is done once per sale
    id anyway."""
    if new is None or new.get("entity") not in ("lead", "customer") or not new.get("sale"):
        return None
    sale: dict[str, Any] = new["sale"]
    if old is not None and (old.get("sale") or {}).get("sale_id") == sale.get("sale_id"):
        return None
    return sale


def sold_record_id(item: Mapping[str, Any]) -> tuple[Side, str]:
    """Which side a sold item was sold on, and its id."""
    return ("leads", str(item["lead_id"])) if item.get("entity") == "lead" else ("customers", str(item["customer_id"]))
