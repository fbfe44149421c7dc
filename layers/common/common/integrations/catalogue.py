"""Every event an organisation's other systems may subscribe to: its type `<resource>.<change>`, the version of
its `data` schema, what it means, and the model of its `data`.

The data of an event is the resource as an admin of the organisation reads it: the answer model the API
answers with (never a copy), built from the item as the change left it (common.integrations.change_events).
So an event carries no more personal data than that answer, and its schema is the answer's schema, published
with the API's (common.integrations.event_docs). A change of a model that breaks its readers is a new version
of the types that carry it.

How each change is recognised in the table's changes: common.integrations.change_events.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from common.deals.deal_views import Deal
from common.leads.customers import StaffCustomer
from common.leads.model import Lead
from common.money.ledger import LedgerEntry
from common.money.payout_requests import StaffPayoutRequest
from common.partners.partner_nodes import Partner
from common.programme.invitations import Invitation
from common.teams.customer_views import TeamCustomer
from common.teams.referral_views import ReferralRequest
from common.teams.removal_requests import RemovalRequest
from common.teams.team_views import Team


@dataclass(frozen=True)
class EventType:
    name: str  # <resource>.<change>
    version: int
    description: str
    model: type[BaseModel]  # the schema of the event's `data`

    @property
    def resource(self) -> str:
        return self.name.partition(".")[0]


# -- leads (the lead exchange) -------------------------------------------------------------------------

LEAD_RECEIVED = EventType(
    "lead.received", 1, "A lead arrived: posted by a partner company or entered by staff, pending or queued.", Lead
)
LEAD_CLAIMED = EventType("lead.claimed", 1, "A rep took the lead from the work queue: it is assigned to them.", Lead)
LEAD_REQUEUED = EventType(
    "lead.requeued", 1, "The lead was put back in the work queue (perhaps not before a new contact time).", Lead
)
LEAD_CONVERTED = EventType(
    "lead.converted", 1, "The lead became a customer (`customer_id`; `customer.created` follows).", Lead
)
LEAD_INVALIDATED = EventType("lead.invalidated", 1, "The lead was marked invalid, with a reason.", Lead)
LEAD_RETURNED = EventType(
    "lead.returned",
    1,
    "The lead was returned to the partner company it came from, with the call center's comments.",
    Lead,
)
LEAD_SOLD = EventType(
    "lead.sold",
    1,
    "The lead was sold to a partner company that buys leads (`sale`: to whom, when, by whom, how); it left the "
    "work queue. Its post's receiver id is not told.",
    Lead,
)
CUSTOMER_CREATED = EventType(
    "customer.created",
    1,
    "A customer was converted from a lead (a customer a partner company sold us is `customer.received`).",
    StaffCustomer,
)
CUSTOMER_RECEIVED = EventType(
    "customer.received",
    1,
    "A partner company sold us a customer: it arrived, with its account, in the company's office location.",
    StaffCustomer,
)
CUSTOMER_SOLD = EventType(
    "customer.sold",
    1,
    "The customer was sold to a partner company that buys customers (`sale`: to whom, when, by whom, how).",
    StaffCustomer,
)

# -- partners and the programme ------------------------------------------------------------------------

PARTNER_ADDED = EventType(
    "partner.added",
    1,
    "Staff added a partner to the organisation (a new one, or a partner of its parent organisation). Partners who "
    "join or register themselves come as `programme.joined` and `programme.registered`.",
    Partner,
)
PARTNER_STATUS_CHANGED = EventType(
    "partner.status_changed",
    1,
    "The partner's lifecycle status changed: by staff, by terms sent or signed, by a credited lead (ACTIVE), by "
    "the 30-day lapse (LAPSED), by archiving or restoring.",
    Partner,
)
PARTNER_REMOVED = EventType(
    "partner.removed", 1, "The partner was removed from the organisation (their record as it was then).", Partner
)
PROGRAMME_JOINED = EventType(
    "programme.joined", 1, "A staff member joined the programme as a partner, under their superior.", Partner
)
PROGRAMME_INVITED = EventType("programme.invited", 1, "Someone was invited to register as a partner.", Invitation)
PROGRAMME_REGISTERED = EventType(
    "programme.registered",
    1,
    "Someone registered as a partner through an invitation or a referral link (`origin` says which).",
    Partner,
)

# -- deals --------------------------------------------------------------------------------------------

DEAL_CREATED = EventType("deal.created", 1, "A deal was created, by staff or by a partner in the portal.", Deal)
DEAL_STAGE_CHANGED = EventType(
    "deal.stage_changed", 1, "The deal moved to another stage of its workflow (its newest stage history entry).", Deal
)
DEAL_SHARED = EventType(
    "deal.shared", 1, "Staff shared the deal with another partner (the newest of `partner_ids`).", Deal
)

# -- money --------------------------------------------------------------------------------------------

COMMISSION_PAID = EventType(
    "commission.paid",
    1,
    "A commission was paid into a partner's wallet: one event per partner and level of a deal's stage change.",
    LedgerEntry,
)
COMMISSION_REVERSED = EventType(
    "commission.reversed", 1, "A commission paid earlier was reversed (the entry that undoes it).", LedgerEntry
)
WALLET_CORRECTED = EventType(
    "wallet.corrected", 1, "Staff corrected a partner's balance (the correction's entry, with its reason).", LedgerEntry
)
PAYOUT_REQUESTED = EventType("payout.requested", 1, "A partner requested a payout.", StaffPayoutRequest)
PAYOUT_PAID = EventType("payout.paid", 1, "A payout request was paid.", StaffPayoutRequest)
PAYOUT_REJECTED = EventType("payout.rejected", 1, "A payout request was rejected, with a reason.", StaffPayoutRequest)

# -- partner teams and referrals ----------------------------------------------------------------------

TEAM_CUSTOMER_ASSIGNED = EventType(
    "team_customer.assigned",
    1,
    "A customer in a team's list was assigned to a member: when an accepted referral added it, and on every "
    "re-assignment.",
    TeamCustomer,
)
TEAM_CUSTOMER_STATUS_CHANGED = EventType(
    "team_customer.status_changed",
    1,
    "A team recorded another status for its customer (an update restating the same status is not a change).",
    TeamCustomer,
)
TEAM_CUSTOMER_OVERDUE = EventType(
    "team_customer.overdue",
    1,
    "The customer's status update is overdue (due every 7 days): once per due date, when the daily sweep finds it.",
    TeamCustomer,
)
TEAM_CUSTOMER_REMOVAL_REQUESTED = EventType(
    "team_customer.removal_requested",
    1,
    "A team member asked to remove a customer from the team's list, with a reason and notes (the request, with the "
    "customer's details). A hand-off or a bad fit waits for staff; other reasons are decided at once "
    "(`team_customer.removed` follows).",
    RemovalRequest,
)
TEAM_CUSTOMER_REMOVED = EventType(
    "team_customer.removed",
    1,
    "A customer left a team's list: `outcome` lost (closed as lost with `reason`) or reassigned (it joined "
    "`to_team_id`'s list as new). Survey the customer from its details.",
    RemovalRequest,
)
REFERRAL_REQUEST_CREATED = EventType(
    "referral_request.created", 1, "Staff offered a customer to a partner team.", ReferralRequest
)
REFERRAL_REQUEST_OFFERED = EventType(
    "referral_request.offered",
    1,
    "The request was texted to a member of the team: one event per member (the newest `offered` history entry).",
    ReferralRequest,
)
REFERRAL_REQUEST_ACCEPTED = EventType(
    "referral_request.accepted",
    1,
    "A member accepted the request, by text or on the dashboard: the customer joined the team's list.",
    ReferralRequest,
)
REFERRAL_REQUEST_EXPIRED = EventType(
    "referral_request.expired", 1, "Nobody accepted the request before it expired.", ReferralRequest
)
TEAM_STANDING_CHANGED = EventType(
    "team.standing_changed",
    1,
    "Staff set a partner team's standing (good, probation, paused or removed) with a reason: once per change, "
    "also when the same standing is set again with a new reason.",
    Team,
)

EVENT_TYPES: dict[str, EventType] = {
    event_type.name: event_type
    for event_type in (
        LEAD_RECEIVED,
        LEAD_CLAIMED,
        LEAD_REQUEUED,
        LEAD_CONVERTED,
        LEAD_INVALIDATED,
        LEAD_RETURNED,
        LEAD_SOLD,
        CUSTOMER_CREATED,
        CUSTOMER_RECEIVED,
        CUSTOMER_SOLD,
        PARTNER_ADDED,
        PARTNER_STATUS_CHANGED,
        PARTNER_REMOVED,
        PROGRAMME_JOINED,
        PROGRAMME_INVITED,
        PROGRAMME_REGISTERED,
        DEAL_CREATED,
        DEAL_STAGE_CHANGED,
        DEAL_SHARED,
        COMMISSION_PAID,
        COMMISSION_REVERSED,
        WALLET_CORRECTED,
        PAYOUT_REQUESTED,
        PAYOUT_PAID,
        PAYOUT_REJECTED,
        TEAM_CUSTOMER_ASSIGNED,
        TEAM_CUSTOMER_STATUS_CHANGED,
        TEAM_CUSTOMER_OVERDUE,
        TEAM_CUSTOMER_REMOVAL_REQUESTED,
        TEAM_CUSTOMER_REMOVED,
        REFERRAL_REQUEST_CREATED,
        REFERRAL_REQUEST_OFFERED,
        REFERRAL_REQUEST_ACCEPTED,
        REFERRAL_REQUEST_EXPIRED,
        TEAM_STANDING_CHANGED,
    )
}
