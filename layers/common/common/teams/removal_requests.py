"""Removal requests: a member asks to remove a customer assigned to them (the team's
leader or an admin any customer of the team) with a reason from a fixed list and notes. A hand-off or a bad
fit goes to staff (teams:manage) as an open request, who reassign the customer to another team or close it
as lost; every other reason closes the customer as lost with that reason at once.

The request is an item of its own (common.teams.removal_model), written in one transaction with the
customer: the customer holds its open request (`removal_request`), so a second one is refused by the
condition, not by a read. Its changes are the events `team_customer.removal_requested` and
`team_customer.removed` (common.integrations.change_events), which carry the customer's details for the
organisation's survey.

Reassigning moves the customer: it leaves the first team's list (deleted there, its assignee's count down)
and joins the second's as new, assigned to that team's leader (their count up), with its history carried
on (numbered on; its pages stay in the partition of the team it was first in: team_customers.history_team).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from common.orgs.access import Member
from common.platform import clock, db, history, ids, listings
from common.platform.answers import Answer, Timestamp
from common.platform.errors import Conflict, DomainError, Forbidden, NotFound, invalid
from common.platform.validation import MULTI_LINE, EntityId
from common.teams import membership, standing, team_customers
from common.teams.membership import TeamCaller
from common.teams.referral_requests import ReferralCustomer
from common.teams.removal_model import (
    LOST_REASON,
    OPEN_REQUEST,
    STAFF_DECIDES,
    RemovalOutcome,
    RemovalReason,
    RemovalStatus,
    open_index,
    open_partition,
    removal_key,
)
from common.teams.team_model import UPDATE_EVERY, CustomerStatus, assignee_index, due_index, team_customer_key

# Notes are read by staff deciding and by whoever surveys the customer: a few paragraphs at most.
NOTES_MAX = 1000
Notes = Annotated[str, StringConstraints(strip_whitespace=True, max_length=NOTES_MAX), MULTI_LINE]
# The customer attributes of one team's list that do not travel with it to another team's.
_LEFT_BEHIND = (
    "gsi2pk",
    "gsi2sk",
    "gsi3pk",
    "gsi3sk",
    "due_at",
    "change_id",
    "updated_by",
    OPEN_REQUEST,
    team_customers.OVERDUE_FOR,
    team_customers.OVERDUE_NOTED_AT,
)


class RemovalRequestOpen(Conflict):
    code = "removal-request-open"
    title = "The customer already has an open removal request"


class CustomerFinished(Conflict):
    code = "customer-finished"
    title = "The customer is closed or lost already"


class RemovalDecided(Conflict):
    code = "removal-decided"
    title = "The removal request was decided already"


# A customer that may get a removal request: none open, neither closed nor lost.
_NO_OPEN_REQUEST = f"attribute_not_exists({OPEN_REQUEST}) AND NOT #status IN (:closed, :lost)"


# -- input -----------------------------------------------------------------------------------------


class NewRemovalRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "no_contact", "notes": "Five calls and three texts since May"}]},
    )
    reason: RemovalReason = Field(
        description="active_hand_off and bad_fit go to staff to decide; the others close the customer as lost at once"
    )
    notes: Notes | None = Field(None, description=f"what happened, up to {NOTES_MAX} characters")


class RemovalDecision(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"outcome": "reassigned", "team_id": "01J8ZQ4V6K3M2N1P0R9S8T7V6W"}]},
    )
    outcome: RemovalOutcome
    team_id: EntityId | None = Field(None, description="the team it joins (required to reassign, refused otherwise)")
    note: Notes | None = Field(None, description="why staff decided so")


# -- answer ----------------------------------------------------------------------------------------


class RemovalRequest(Answer):
    """A removal request, as staff read it and as its events tell it (with the customer's details, for a
    survey)."""

    org_id: str
    removal_id: str
    team_id: str = Field(description="the team whose list the customer was on")
    customer_id: str
    customer: ReferralCustomer
    reason: RemovalReason
    notes: str | None = None
    requested_by: str = Field(description="user:<id>")
    requested_at: Timestamp
    status: RemovalStatus
    outcome: RemovalOutcome | None = Field(None, description="null while open")
    to_team_id: str | None = Field(None, description="the team it joined (reassigned)")
    decided_by: str | None = Field(None, description="user:<id> of staff, or of the requester when decided at once")
    decided_at: Timestamp | None = None
    decision_note: str | None = None


# -- requesting ------------------------------------------------------------------------------------


def request_removal(caller: TeamCaller, customer_id: str, new: NewRemovalRequest, *, client: Any = None) -> db.Item:
    """The member's (own customer) or the leader's or an admin's request; decided at once unless staff
    decide it. One transaction: the request and the customer."""
    if caller.membership is None:
        raise Forbidden("only the team's members ask to remove its customers")
    customer = team_customers.get_customer(caller, customer_id, client=client)
    if not (caller.leads or customer.get("assignee_id") == caller.user_id):
        raise Forbidden("only the customer's assignee or the team's leader or admins ask to remove it")
    _refuse_finished(customer)
    if customer.get(OPEN_REQUEST):
        raise RemovalRequestOpen(f"customer {customer_id} has an open removal request", conflicting_ids=[customer_id])
    at = clock.now_iso()
    removal_id = ids.new_id()
    request: db.Item = {
        **removal_key(caller.org_id, removal_id),
        "entity": "removal_request",
        "org_id": caller.org_id,
        "removal_id": removal_id,
        "team_id": caller.team_id,
        "customer_id": customer_id,
        "customer": customer.get("customer") or {},
        "reason": new.reason.value,
        "requested_by": caller.actor,
        "requested_at": at,
        **({"notes": new.notes} if new.notes else {}),
    }
    if new.reason in STAFF_DECIDES:
        request |= {"status": RemovalStatus.OPEN.value, **open_index(caller.org_id, at, removal_id)}
        opened = {
            "removal_id": removal_id,
            "reason": new.reason.value,
            "requested_at": at,
            "requested_by": caller.actor,
        }
        mark = db.tx_update(
            team_customer_key(caller.org_id, caller.team_id, customer_id),
            expression=f"SET {OPEN_REQUEST} = :open, version = version + :one",
            condition=f"attribute_exists(pk) AND {_NO_OPEN_REQUEST}",
            names={"#status": "status"},
            values={":open": opened, ":one": 1, **_finished_values()},
        )
        db.transact(
            [db.tx_put(request, condition="attribute_not_exists(pk)"), mark],
            on_cancel=lambda failed: _request_refusal(customer_id, failed[1]),
            client=client,
        )
        return request
    request |= _decided(RemovalOutcome.LOST, caller.actor, at)
    history.attempt(
        history.Addition(team_customers.HISTORY, [_lost_entry(caller.actor, at, new.reason, new.notes)], customer),
        lambda addition: _close_lost(customer, request, addition, caller.actor, at, put_request=True, client=client),
    )
    return request


def _finished_values() -> dict[str, str]:
    return {":closed": CustomerStatus.CLOSED.value, ":lost": CustomerStatus.LOST.value}


def _refuse_finished(customer: db.Item) -> None:
    if customer.get("status") in (CustomerStatus.CLOSED, CustomerStatus.LOST):
        raise CustomerFinished(f"customer {customer['customer_id']} is {customer['status']} already")


def _request_refusal(customer_id: str, customer: db.Item | None) -> DomainError:
    if not customer:
        return NotFound(f"customer {customer_id} not found")
    if customer.get(OPEN_REQUEST):
        return RemovalRequestOpen(f"customer {customer_id} has an open removal request", conflicting_ids=[customer_id])
    return CustomerFinished(f"customer {customer_id} is {customer.get('status')} already")


def _decided(outcome: RemovalOutcome, actor: str, at: str, note: str | None = None) -> dict[str, Any]:
    return {
        "status": RemovalStatus.DECIDED.value,
        "outcome": outcome.value,
        "decided_by": actor,
        "decided_at": at,
        **({"decision_note": note} if note else {}),
    }


def _lost_entry(actor: str, at: str, reason: RemovalReason | str, note: str | None) -> dict[str, Any]:
    entry = {"at": at, "by": actor, "event": "status", "status": CustomerStatus.LOST.value, "reason": str(reason)}
    return entry | ({"note": note} if note else {})


def _close_lost(
    customer: db.Item,
    request: db.Item,
    addition: history.Addition,
    actor: str,
    at: str,
    *,
    put_request: bool,
    client: Any,
) -> None:
    """The customer closed as lost for the request's reason and the request decided, in one transaction: a
    new request is put, an open one moves from open to decided (conditioned on being the customer's open
    request). The customer leaves the due index, as any lost customer does."""
    org_id, team_id, customer_id = customer["org_id"], customer["team_id"], customer["customer_id"]
    values: dict[str, Any] = {
        ":lost": CustomerStatus.LOST.value,
        ":closed": CustomerStatus.CLOSED.value,
        ":reason": request["reason"],
        ":at": at,
        ":by": actor,
        ":one": 1,
        **addition.values,
    }
    if put_request:
        condition = f"attribute_exists(pk) AND {_NO_OPEN_REQUEST}"
        write_request = db.tx_put(request, condition="attribute_not_exists(pk)")
    else:
        condition = f"{OPEN_REQUEST}.removal_id = :removal AND NOT #status IN (:closed, :lost)"
        values[":removal"] = request["removal_id"]
        write_request = _decide_request(request)
    update = db.tx_update(
        team_customer_key(org_id, team_id, customer_id),
        expression=f"SET #status = :lost, {LOST_REASON} = :reason, last_updated_at = :at, updated_by = :by, "
        f"version = version + :one, {addition.expression} REMOVE due_at, gsi3pk, gsi3sk, {OPEN_REQUEST}",
        condition=f"{condition} AND {addition.condition}",
        names={"#status": "status"},
        values=values,
    )

    def refusal(failed: list[db.Item | None]) -> DomainError:
        if failed[1] is not None:
            addition.check(failed[1] or None)
            if (
                not put_request
                and failed[1]
                and (failed[1].get(OPEN_REQUEST) or {}).get("removal_id") != request["removal_id"]
            ):
                return RemovalDecided(f"removal request {request['removal_id']} was decided already")
            return _request_refusal(customer_id, failed[1])
        return RemovalDecided(f"removal request {request['removal_id']} was decided already")

    db.transact([write_request, update, *addition.pages()], on_cancel=refusal, client=client)


def _decide_request(request: db.Item) -> dict[str, Any]:
    """The open request moved to decided (as `request` says), out of the staff's open list."""
    fields = ("status", "outcome", "decided_by", "decided_at", "to_team_id", "decision_note")
    decided = {name: request[name] for name in fields if request.get(name) is not None}
    sets = ", ".join(f"#{name} = :{name}" for name in decided)
    return db.tx_update(
        removal_key(request["org_id"], request["removal_id"]),
        expression=f"SET {sets} REMOVE gsi1pk, gsi1sk",
        condition="#status = :open",
        names={f"#{name}": name for name in decided},
        values={f":{name}": value for name, value in decided.items()} | {":open": RemovalStatus.OPEN.value},
    )


# -- staff -----------------------------------------------------------------------------------------


def open_requests(
    org_id: str, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[db.Item], str | None]:
    """The open removal requests, oldest first (the staff's work list)."""
    return listings.query_index(
        listings.IndexKey("gsi1", open_partition(org_id)), cursor=cursor, limit=limit, client=client
    )


def decide(staff: Member, org_id: str, removal_id: str, decision: RemovalDecision, *, client: Any = None) -> db.Item:
    """Staff decide an open request: close the customer as lost, or move it to another team."""
    if decision.outcome is RemovalOutcome.REASSIGNED and not decision.team_id:
        raise invalid("body.team_id", "is required to reassign the customer")
    if decision.outcome is RemovalOutcome.LOST and decision.team_id:
        raise invalid("body.team_id", "is only for reassigning the customer")
    request = db.get(removal_key(org_id, removal_id), consistent=True, client=client)
    if request is None:
        raise NotFound(f"removal request {removal_id} not found")
    if request.get("status") != RemovalStatus.OPEN:
        raise RemovalDecided(f"removal request {removal_id} was decided already")
    customer = db.get(
        team_customer_key(org_id, request["team_id"], request["customer_id"]), consistent=True, client=client
    )
    if customer is None or (customer.get(OPEN_REQUEST) or {}).get("removal_id") != removal_id:
        raise RemovalDecided(f"removal request {removal_id} was decided already")
    _refuse_finished(customer)
    at = clock.now_iso()
    if decision.outcome is RemovalOutcome.LOST:
        decided = {**request, **_decided(RemovalOutcome.LOST, staff.actor, at, decision.note)}
        entry = _lost_entry(staff.actor, at, request["reason"], decision.note)
        history.attempt(
            history.Addition(team_customers.HISTORY, [entry], customer),
            lambda addition: _close_lost(
                customer, decided, addition, staff.actor, at, put_request=False, client=client
            ),
        )
    else:
        assert decision.team_id is not None  # checked above
        decided = {**request, **_decided(RemovalOutcome.REASSIGNED, staff.actor, at, decision.note)}
        decided["to_team_id"] = decision.team_id
        _move(customer, decided, decision.team_id, staff.actor, at, client=client)
    decided.pop("gsi1pk", None)
    decided.pop("gsi1sk", None)
    return decided


def _move(customer: db.Item, request: db.Item, to_team_id: str, actor: str, at: str, *, client: Any) -> None:
    org_id, from_team_id, customer_id = customer["org_id"], customer["team_id"], customer["customer_id"]
    if to_team_id == from_team_id:
        raise invalid("body.team_id", "is the team the customer is leaving")
    team = membership.find_team(org_id, to_team_id, consistent=True, client=client)
    if team is None:
        raise invalid("body.team_id", "is not a team of the organisation")
    # The customer joins that team's list as a new referral would: a paused or removed team takes none.
    standing.refuse_unless_offerable(team)
    leader_id = str(team["leader_id"])
    now = clock.now()
    due = clock.iso(now + UPDATE_EVERY)
    moved: db.Item = {key: value for key, value in customer.items() if key not in _LEFT_BEHIND}
    moved |= {
        **team_customer_key(org_id, to_team_id, customer_id),
        "team_id": to_team_id,
        "history_team_id": team_customers.history_team(customer),
        "status": CustomerStatus.NEW.value,
        "assignee_id": leader_id,
        "assigned_at": at,
        "created_by": actor,
        "created_at": at,
        "last_updated_at": at,
        "due_at": due,
        "version": 1,
        "reassigned_from": {"team_id": from_team_id, "removal_id": request["removal_id"], "at": at},
        **assignee_index(org_id, to_team_id, leader_id, at, customer_id),
        **due_index(org_id, to_team_id, customer_id, due),
    }
    entry = {
        "at": at,
        "by": actor,
        "event": "created",
        "status": CustomerStatus.NEW.value,
        "assignee_id": leader_id,
        "from_team_id": from_team_id,
        "reason": request["reason"],
    }
    addition = history.Addition(team_customers.HISTORY, [entry], moved)
    moved = addition.applied(moved)
    leave = db.tx_delete(
        team_customer_key(org_id, from_team_id, customer_id),
        condition=f"version = :version AND {OPEN_REQUEST}.removal_id = :removal",
        values={":version": customer["version"], ":removal": request["removal_id"]},
    )
    actions = [
        _decide_request(request),
        leave,
        db.tx_put(moved, condition="attribute_not_exists(pk)"),
        team_customers.assignee_count(org_id, from_team_id, customer["assignee_id"], -1, assignable=False),
        team_customers.assignee_count(org_id, to_team_id, leader_id, 1, assignable=True),
        *addition.pages(),
    ]

    def refusal(failed: list[db.Item | None]) -> DomainError:
        if failed[0] is not None or failed[1] is not None:
            return RemovalDecided(f"removal request {request['removal_id']} was decided or its customer changed")
        if failed[2] is not None:
            return Conflict(f"team {to_team_id} has customer {customer_id} already", conflicting_ids=[customer_id])
        if failed[4] is not None:
            return Conflict(f"team {to_team_id}'s leader cannot take the customer now; retry")
        return Conflict("the customer's assignee changed meanwhile; retry")

    db.transact(actions, on_cancel=refusal, client=client)
