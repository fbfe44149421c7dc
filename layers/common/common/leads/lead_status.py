"""The status of a lead as the company that posted it may know it: its system asks by its own external id, with
its own credentials, and learns where the lead stands in the company's terms (`IntakeStatus`), nothing of our
work on it. Another company's lead, like an external id never posted, is not found.

One BatchGetItem (the company, to check the credentials, and the external id's guard, which names the lead)
and one GetItem of the lead, both consistent so a lead just posted is found. The status is read from the lead,
not kept on the guard: every change of a lead would otherwise write the guard too.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from common.leads.companies import company_key
from common.leads.intake import own_company, require_intake_token
from common.leads.model import external_id_key, lead_key
from common.orgs.access import Principal
from common.platform import db
from common.platform.answers import Answer
from common.platform.errors import NotFound


class IntakeStatus(StrEnum):
    QUEUED = "queued"
    ASSIGNED = "assigned"
    CUSTOMER = "customer"
    RETURNED = "returned"
    INVALID = "invalid"
    SOLD_ON = "sold_on"


# A lead's status (common.leads.model.LeadStatus, by value) as the company is told it. Pending counts as queued:
# both wait for a rep, and where a buyer parks a lead is its own business. A lead we sold on is `sold`.
REPORTED = {
    "pending": IntakeStatus.QUEUED,
    "queued": IntakeStatus.QUEUED,
    "assigned": IntakeStatus.ASSIGNED,
    "converted": IntakeStatus.CUSTOMER,
    "returned": IntakeStatus.RETURNED,
    "invalid": IntakeStatus.INVALID,
    "sold": IntakeStatus.SOLD_ON,
}


class LeadIntakeStatus(Answer):
    """Where a lead a partner company posted stands, in the company's terms."""

    external_id: str
    lead_id: str
    status: IntakeStatus


def lead_status(
    org_id: str, company_id: str, external_id: str, principal: Principal, *, client: Any = None
) -> LeadIntakeStatus:
    require_intake_token(principal)
    company_at, guard_at = company_key(org_id, company_id), external_id_key(org_id, company_id, external_id)
    found = {(i["pk"], i["sk"]): i for i in db.batch_get([company_at, guard_at], consistent=True, client=client)}
    own_company(found.get((company_at["pk"], company_at["sk"])), company_id, principal)
    guard = found.get((guard_at["pk"], guard_at["sk"]))
    lead = db.get(lead_key(org_id, guard["lead_id"]), consistent=True, client=client) if guard else None
    if lead is None:
        raise NotFound(f"no lead with external id {external_id} from this company")
    return LeadIntakeStatus(external_id=external_id, lead_id=lead["lead_id"], status=REPORTED[lead["status"]])
