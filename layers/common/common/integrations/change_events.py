"""Which events a change of the table means: `events_of(change)` reads a stream record, as the dispatcher sends
it, and returns the events of the catalogue (common.integrations.catalogue) that its transition from the old
image to the new one stands for. A change that alters nothing an event is about means none.

How each change shows in its item:

- Records with a history (a lead's, a deal's stage history, a partner node's, a team customer's, a referral
  request's) add an entry in the write that changes them (common.platform.history): the entries numbered after
  the old image's newest are what this change did, and the entry says what (`action` or `event`) and when.
- A partner's arrival and removal show in `removed_at` (absent, then set; or a node put back over a removed
  one), its status in `status` (a credited deal makes a partner ACTIVE without a history entry).
- A deal shared with a partner gains them in `partner_ids`; customers, invitations, ledger entries and
  payout requests are put once (INSERT), and a payout request is settled once (`status`); a customer is sold
  once (`sale`, absent before).
- A team customer's becoming overdue is noted by the sweep on the item (team_customers.note_overdue).
- A removal request is put once (requested) and decided once (`status` to decided: removed, lost or
  reassigned); one decided at once is put decided, and means both.
- A team's standing changes with an entry of its standing history (common.teams.standing).

Every event's id derives from the record's id and its type (events.event_id), so a redelivered record means
the same events; its time is the item's own time of the change (the history entry's, `updated_at`, ...),
else the record's ApproximateCreationDateTime, never the time it is handled. Its data is the resource as the
change left it, built as the API answers it to an admin; the two answers that read more than their item
read it here too (a customer's `is_partner`, a payout request's `partner_name`): the only reads of
`events_of`. `on_change`, the consumer's reaction, records the events and hands them on.

Every entity with events is bounded far below half a queue message (docs/decisions.md, "Bounded items"), so
its records always carry both images. A modification that came without its old image (which only a change
too large for one message would) means no event: what it changed cannot be told.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from common.deals.deal_records import STAGE_HISTORY
from common.deals.deal_views import Deal
from common.integrations import catalogue as c
from common.integrations import deliveries, endpoint_counts, events
from common.integrations.catalogue import EventType
from common.integrations.events import Event, event_id
from common.leads import customer_intake, customers
from common.leads.model import HISTORY as LEAD_HISTORY
from common.leads.model import Lead
from common.money.ledger import LedgerEntry
from common.money.payout_requests import with_names
from common.money.wallets import EntryKind, PayoutStatus
from common.partners.partner_nodes import Partner
from common.platform import clock, db, history
from common.platform.observability import logger
from common.programme.invitations import Invitation, InvitationState
from common.teams import standing, team_customers
from common.teams.customer_views import TeamCustomer
from common.teams.referral_requests import HISTORY as REFERRAL_HISTORY
from common.teams.referral_requests import effective_status
from common.teams.referral_views import ReferralRequest
from common.teams.removal_model import RemovalStatus
from common.teams.removal_requests import RemovalRequest
from common.teams.team_views import Team

Found = tuple[EventType, str | None]  # an event type, and when its change happened as the item says (if it does)
Detect = Callable[[db.Item | None, db.Item], list[Found]]
DataOf = Callable[[db.Item, str, Any], BaseModel]  # the item, the change's time, a client: the event's data


def events_of(change: Mapping[str, Any], *, client: Any = None) -> list[Event]:
    """The events the stream record `change` means, at most one of each type."""
    record = change["dynamodb"]
    old, new = db.stream_images(record)
    if new is None or (change.get("eventName") == "MODIFY" and old is None):
        return []  # a removal (TTL), or a modification without its old image: nothing to tell
    entity = new.get("entity")
    if entity not in _ENTITIES:
        return []
    detect, answer = _ENTITIES[entity]
    found = dict(detect(old, new))  # one event per type and change: the last one found
    events = []
    for event_type, at in found.items():
        occurred_at = at or _record_time(record)
        events.append(
            Event(
                id=event_id(str(change["eventID"]), event_type.name),
                type=event_type.name,
                version=event_type.version,
                org_id=new["org_id"],
                occurred_at=occurred_at,
                data=answer(new, occurred_at, client).model_dump(mode="json"),
            )
        )
    return events


def _record_time(record: Mapping[str, Any]) -> str:
    return clock.iso(datetime.fromtimestamp(float(record["ApproximateCreationDateTime"]), UTC))


def _added(bound: history.Bound, old: db.Item | None, new: db.Item) -> list[history.Entry]:
    """The history entries this change added: all of a new item's, else those after the old image's newest."""
    after = bound.newest(old) if old is not None else -1
    return [entry for number, entry in bound.numbered(new) if number > after]


def _from_history(entries: Iterable[history.Entry], key: str, types: Mapping[str, EventType]) -> list[Found]:
    return [(types[entry[key]], entry.get("at")) for entry in entries if entry.get(key) in types]


# -- leads and customers -------------------------------------------------------------------------------

_LEAD_ACTIONS = {
    "received": c.LEAD_RECEIVED,
    "claimed": c.LEAD_CLAIMED,
    "requeued": c.LEAD_REQUEUED,
    "converted": c.LEAD_CONVERTED,
    "marked_invalid": c.LEAD_INVALIDATED,
    "returned": c.LEAD_RETURNED,
    "sold": c.LEAD_SOLD,
}  # a lead "kept" by its assignee changes nothing an integrator follows


def _lead(old: db.Item | None, new: db.Item) -> list[Found]:
    return _from_history(_added(LEAD_HISTORY, old, new), "action", _LEAD_ACTIONS)


def _customer(old: db.Item | None, new: db.Item) -> list[Found]:
    """A customer put: converted from a lead (created), or sold to us by a partner company (received); a
    customer we sold (`sale`, absent before)."""
    if old is None:
        arrival = c.CUSTOMER_RECEIVED if new.get("origin") == customer_intake.ORIGIN else c.CUSTOMER_CREATED
        return [(arrival, new.get("created_at"))]
    sale = new.get("sale")
    if sale and not old.get("sale"):
        return [(c.CUSTOMER_SOLD, sale.get("sold_at"))]
    return []


def _customer_answer(item: db.Item, at: str, client: Any) -> BaseModel:
    [flagged] = customers.flag_partners(item["org_id"], [item], customers.contact_email, client=client)
    return customers.StaffCustomer.of(flagged)


# -- partners and the programme ------------------------------------------------------------------------

_ARRIVALS = {
    "added": c.PARTNER_ADDED,
    "existing": c.PARTNER_ADDED,
    "joined": c.PROGRAMME_JOINED,
    "invitation": c.PROGRAMME_REGISTERED,
    "referral": c.PROGRAMME_REGISTERED,
}


def _partner(old: db.Item | None, new: db.Item) -> list[Found]:
    was_in = old is not None and not old.get("removed_at")
    if new.get("removed_at"):
        return [(c.PARTNER_REMOVED, new.get("removed_at"))] if was_in else []
    if not was_in:  # a new node, or one put back over a removed one
        arrival = _ARRIVALS.get(str(new.get("origin")))
        return [(arrival, new.get("updated_at"))] if arrival else []
    if old is not None and old.get("status") != new.get("status"):
        return [(c.PARTNER_STATUS_CHANGED, new.get("updated_at"))]
    return []


def _invitation(old: db.Item | None, new: db.Item) -> list[Found]:
    return [(c.PROGRAMME_INVITED, new.get("created_at"))] if old is None else []


def _invitation_answer(item: db.Item, at: str, client: Any) -> BaseModel:
    state: InvitationState = (
        "accepted" if item.get("accepted_at") else "expired" if item["expires_at"] <= at else "sent"
    )
    return Invitation.of(item, state=state)


# -- deals --------------------------------------------------------------------------------------------


def _deal(old: db.Item | None, new: db.Item) -> list[Found]:
    if old is None:
        return [(c.DEAL_CREATED, new.get("created_at"))]
    found: list[Found] = [(c.DEAL_STAGE_CHANGED, entry.get("at")) for entry in _added(STAGE_HISTORY, old, new)]
    if set(new.get("partner_ids") or []) - set(old.get("partner_ids") or []):
        found.append((c.DEAL_SHARED, new.get("updated_at")))
    return found


# -- money --------------------------------------------------------------------------------------------

_ENTRY_KINDS = {
    EntryKind.COMMISSION.value: c.COMMISSION_PAID,
    EntryKind.REVERSAL.value: c.COMMISSION_REVERSED,
    EntryKind.CORRECTION.value: c.WALLET_CORRECTED,
}  # a payout's entry is told as the payout request's `payout.paid`


def _ledger_entry(old: db.Item | None, new: db.Item) -> list[Found]:
    kind = _ENTRY_KINDS.get(str(new.get("kind")))
    return [(kind, new.get("recorded_at"))] if old is None and kind else []


_SETTLEMENTS = {PayoutStatus.PAID.value: c.PAYOUT_PAID, PayoutStatus.REJECTED.value: c.PAYOUT_REJECTED}


def _payout_request(old: db.Item | None, new: db.Item) -> list[Found]:
    if old is None:
        return [(c.PAYOUT_REQUESTED, new.get("requested_at"))]
    settled = _SETTLEMENTS.get(str(new.get("status")))
    return [(settled, new.get("settled_at"))] if settled and old.get("status") != new.get("status") else []


def _payout_answer(item: db.Item, at: str, client: Any) -> BaseModel:
    [named] = with_names(item["org_id"], [item], client=client)
    return named


# -- partner teams and referrals ----------------------------------------------------------------------

_ASSIGNMENTS = {"created": c.TEAM_CUSTOMER_ASSIGNED, "assigned": c.TEAM_CUSTOMER_ASSIGNED}


def _team_customer(old: db.Item | None, new: db.Item) -> list[Found]:
    added = _added(team_customers.HISTORY, old, new)
    found = _from_history(added, "event", _ASSIGNMENTS)
    if old is not None and old.get("status") != new.get("status"):
        found += [
            (c.TEAM_CUSTOMER_STATUS_CHANGED, entry.get("at")) for entry in added if entry.get("event") == "status"
        ]
    overdue_for = new.get(team_customers.OVERDUE_FOR)
    if overdue_for and overdue_for == new.get("due_at") and overdue_for != (old or {}).get(team_customers.OVERDUE_FOR):
        found.append((c.TEAM_CUSTOMER_OVERDUE, new.get(team_customers.OVERDUE_NOTED_AT)))
    return found


def _team_customer_answer(item: db.Item, at: str, client: Any) -> BaseModel:
    # Overdue as of the change; whether the customer is a partner is looked up by reads only (null on changes).
    due = item.get("due_at")
    return TeamCustomer.of(item, overdue=bool(due and due < at), is_partner=None)


def _removal_request(old: db.Item | None, new: db.Item) -> list[Found]:
    """A removal request put (requested; decided at once too when its reason needs no staff), or decided."""
    found: list[Found] = [(c.TEAM_CUSTOMER_REMOVAL_REQUESTED, new.get("requested_at"))] if old is None else []
    if new.get("status") == RemovalStatus.DECIDED and (old is None or old.get("status") != RemovalStatus.DECIDED):
        found.append((c.TEAM_CUSTOMER_REMOVED, new.get("decided_at")))
    return found


_REFERRAL_EVENTS = {
    "created": c.REFERRAL_REQUEST_CREATED,
    "offered": c.REFERRAL_REQUEST_OFFERED,
    "accepted": c.REFERRAL_REQUEST_ACCEPTED,
    "expired": c.REFERRAL_REQUEST_EXPIRED,
}


def _referral_request(old: db.Item | None, new: db.Item) -> list[Found]:
    return _from_history(_added(REFERRAL_HISTORY, old, new), "event", _REFERRAL_EVENTS)


def _referral_answer(item: db.Item, at: str, client: Any) -> BaseModel:
    # The status as of the change: an open request past its expiry is expired.
    moment = datetime.fromisoformat(at)
    return ReferralRequest.of(item, status=effective_status(item, moment))


def _team(old: db.Item | None, new: db.Item) -> list[Found]:
    # Only staff's standing changes are events of a team (its other changes are not published).
    return [(c.TEAM_STANDING_CHANGED, entry.get("at")) for entry in _added(standing.HISTORY, old, new)] if old else []


def _plain(model: type[Any]) -> DataOf:
    return lambda item, at, client: model.of(item)


_ENTITIES: dict[str, tuple[Detect, DataOf]] = {
    "lead": (_lead, _plain(Lead)),
    "customer": (_customer, _customer_answer),
    "partner_node": (_partner, _plain(Partner)),
    "invitation": (_invitation, _invitation_answer),
    "deal": (_deal, _plain(Deal)),
    "ledger_entry": (_ledger_entry, _plain(LedgerEntry)),
    "payout_request": (_payout_request, _payout_answer),
    "team_customer": (_team_customer, _team_customer_answer),
    "referral_request": (_referral_request, _referral_answer),
    "removal_request": (_removal_request, _plain(RemovalRequest)),
    "team": (_team, _plain(Team)),
}
# The entities whose changes may mean events: the consumer's queue receives these only (change_fanout).
ENTITIES = tuple(_ENTITIES)


# -- the consumer's reaction ----------------------------------------------------------------------------


def on_change(change: dict[str, Any], *, client: Any = None) -> None:
    """The integrations consumer's reaction to a change: record each event it means (once: a redelivered
    change finds it recorded) and hand it on to its deliveries. A redelivery hands the recorded event on
    again, since the first delivery may have stopped between recording it and handing it on.

    An organisation without webhook endpoints has nobody to deliver to: its changes record nothing (one read
    of its endpoint count), so the events of the many organisations that use none cost no writes."""
    _, new = db.stream_images(change["dynamodb"])
    if new is None or not new.get("org_id") or not endpoint_counts.has_endpoints(str(new["org_id"]), client=client):
        return
    for event in events_of(change, client=client):
        recorded = events.record(event, client=client)
        if not recorded:
            event = events.get(event.org_id, event.occurred_at, event.id, client=client) or event
        created = deliveries.fan_out(event, client=client)
        logger.info(
            "event",
            extra={
                "event_id": event.id,
                "type": event.type,
                "org_id": event.org_id,
                "recorded": recorded,
                "deliveries": created,
            },
        )
