"""A team's shared customer list (seed 000): the customers its members accepted, their statuses with notes,
who each is assigned to, and when each is due for an update ("at least every 7 days").

    team customer   ORG#<org>#TEAM#<team> / CUSTOMER#<cust>   entity "team_customer"
                    gsi2 the assignee's customers in the team (newest assignment last)
                    gsi3 ORG#<org>#CUSTOMERS_DUE / <dueAt>#<team>#<cust> while open: the reminder sweep's queue

    history page    ORG#<org>#TEAM#<team> / HISTORY#<cust>#<first>   its older history (common.platform.history)

The customer id is the id of the referral request it came from, so an acceptance can never make two.
Each assignee's membership counts the customers assigned to them (customer_count), kept by the same
transactions that assign, so that removing a member or making them an admin can be refused while they
still hold customers, without a read-then-write race.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from common.platform import clock, db, history, ids, listings
from common.platform.errors import Conflict, DomainError, Forbidden, NotFound, invalid
from common.platform.validation import LongText, UserRef
from common.teams import team_stats
from common.teams.membership import TeamCaller
from common.teams.team_model import (
    FINISHED_STATUSES,
    UPDATE_EVERY,
    AdminNotAssignable,
    CustomerStatus,
    TeamRole,
    assignee_index,
    due_index,
    team_customer_key,
    team_member_key,
    team_pk,
)


class CustomerChanged(Conflict):
    code = "customer-changed"
    title = "The customer changed meanwhile"


# A status entry carries a note of up to 4000 characters (16 KB in UTF-8): the customer keeps its newest
# entries up to 120 KB, far below DynamoDB's 400 KB with its other details; older ones move to pages.
HISTORY = history.Bound(
    "history",
    limit=50,
    keep=25,
    max_bytes=120_000,
    pages_at=lambda item: (team_pk(item["org_id"], item["team_id"]), f"HISTORY#{item['customer_id']}#"),
)


# -- input -----------------------------------------------------------------------------------------


class CustomerStatusChange(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"status": "contacted", "note": "Called; viewing booked for Tuesday"}]},
    )
    status: CustomerStatus
    note: Annotated[LongText | None, Field(description="what happened; kept in the customer's history")] = None


class Reassignment(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"user_id": "2f6c4a8e-1b7d-4c3e-9a5f-0d8e7b6a5c41"}]}
    )
    user_id: UserRef = Field(description="the team's leader or one of its members (never an admin)")


# -- acceptance (used by the referral requests) ------------------------------------------------------


def assignee_for(team_member_item: Mapping[str, Any], team_item: Mapping[str, Any]) -> str:
    """Who a referral accepted by this member is assigned to: a member's acceptance to that member, a
    leader's or an admin's to the team's leader (admins are never assigned customers)."""
    if team_member_item["role"] == TeamRole.MEMBER:
        return str(team_member_item["user_id"])
    return str(team_item["leader_id"])


def new_customer_item(
    org_id: str,
    team_id: str,
    *,
    customer: Mapping[str, Any],
    summary: str,
    assignee_id: str,
    actor: str,
    request_id: str,
) -> db.Item:
    """The customer an accepted referral request adds to the team's list, status new, due in 7 days.
    Write it with `new_customer_actions` (the put and the assignee's customer count, in the acceptance
    transaction)."""
    now = clock.now()
    at = clock.iso(now)
    due = clock.iso(now + UPDATE_EVERY)
    customer_id = request_id
    return {
        **team_customer_key(org_id, team_id, customer_id),
        "entity": "team_customer",
        "org_id": org_id,
        "team_id": team_id,
        "customer_id": customer_id,
        "request_id": request_id,
        "customer": dict(customer),
        "summary": summary,
        "status": CustomerStatus.NEW.value,
        "assignee_id": assignee_id,
        "assigned_at": at,
        "created_by": actor,
        "created_at": at,
        "last_updated_at": at,
        "due_at": due,
        "history": [
            {"at": at, "by": actor, "event": "created", "status": CustomerStatus.NEW.value, "assignee_id": assignee_id}
        ],
        "version": 1,
        **assignee_index(org_id, team_id, assignee_id, at, customer_id),
        **due_index(org_id, team_id, customer_id, due),
    }


def _count(org_id: str, team_id: str, user_id: str, delta: int, *, assignable: bool) -> dict[str, Any]:
    """Change the member's customer count; receiving a customer needs a member who is not an admin."""
    condition = "attribute_exists(pk)"
    # The version moves too: a membership written whole (teams.put_member) is conditioned on it, so it
    # cannot put back a count read before this change.
    values: dict[str, Any] = {":delta": delta, ":one": 1}
    if assignable:
        condition += " AND #role <> :admin"
        values[":admin"] = TeamRole.ADMIN.value
    return db.tx_update(
        team_member_key(org_id, team_id, user_id),
        expression="ADD customer_count :delta, version :one",
        condition=condition,
        names={"#role": "role"} if assignable else None,
        values=values,
    )


def new_customer_actions(item: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Transaction items adding the customer: its put (only if new) and the assignee's count (the
    assignee must be in the team and not an admin). A failure of the second means the assignee left the
    team or became an admin meanwhile."""
    return [
        db.tx_put(item, condition="attribute_not_exists(pk)"),
        _count(item["org_id"], item["team_id"], item["assignee_id"], 1, assignable=True),
    ]


# -- reads -----------------------------------------------------------------------------------------


def _visible(caller: TeamCaller, customer: db.Item | None, customer_id: str) -> db.Item:
    """The customer, if the caller may see it: a plain member only their own (others are 404 to them)."""
    if customer is None or not (caller.sees_all or customer.get("assignee_id") == caller.user_id):
        raise NotFound(f"customer {customer_id} not found")
    return customer


def get_customer(caller: TeamCaller, customer_id: str, *, client: Any = None) -> db.Item:
    item = db.get(team_customer_key(caller.org_id, caller.team_id, customer_id), consistent=True, client=client)
    return _visible(caller, item, customer_id)


def list_customers(
    caller: TeamCaller,
    *,
    status: CustomerStatus | None = None,
    overdue: bool = False,
    cursor: str | None = None,
    limit: int = 50,
    client: Any = None,
) -> tuple[list[db.Item], str | None]:
    """Newest first. The leader, admins and staff read the team's partition; a member reads their own
    customers through the assignee index. Filters apply within each page (a page may come back short)."""
    filters: list[str] = []
    values: dict[str, Any] = {}
    if status is not None:
        filters.append("#status = :status")
        values[":status"] = status.value
    if overdue:
        filters.append("due_at < :now")
        values[":now"] = clock.now_iso()
    filter_expression = " AND ".join(filters) or None
    names = {"#status": "status"} if status is not None else None
    if caller.sees_all:
        return listings.query(
            key_condition="pk = :pk AND begins_with(sk, :prefix)",
            values={":pk": team_pk(caller.org_id, caller.team_id), ":prefix": "CUSTOMER#", **values},
            names=names,
            filter_expression=filter_expression,
            newest_first=True,
            cursor=cursor,
            limit=limit,
            client=client,
        )
    partition = assignee_index(caller.org_id, caller.team_id, caller.user_id, "", "")["gsi2pk"]
    return listings.query_index(
        listings.IndexKey("gsi2", partition),
        filter_values=values,
        names=names,
        filter_expression=filter_expression,
        newest_first=True,
        cursor=cursor,
        limit=limit,
        client=client,
    )


# -- commands --------------------------------------------------------------------------------------


def update_status(caller: TeamCaller, customer_id: str, change: CustomerStatusChange, *, client: Any = None) -> db.Item:
    """Record the customer's status (with an optional note): its assignee, or the team's leader or an
    admin. The update restarts the 7 days (the due index moves), or takes a closed or lost customer out of
    the due index. One UpdateItem (with the page of its oldest history when that is full); a member's is
    conditioned on the customer still being theirs."""
    customer = get_customer(caller, customer_id, client=client)
    mine = customer.get("assignee_id") == caller.user_id
    if not (caller.leads or mine):
        raise Forbidden("only the customer's assignee or the team's leader or admins update its status")
    now = clock.now()
    at = clock.iso(now)
    change_id = ids.new_id()
    entry: dict[str, Any] = {"at": at, "by": caller.actor, "event": "status", "status": change.status.value}
    if change.note:
        entry["note"] = change.note
    values: dict[str, Any] = {
        ":status": change.status.value,
        ":at": at,
        ":by": caller.actor,
        ":one": 1,
        ":change": change_id,
    }
    expression = (
        "SET #status = :status, last_updated_at = :at, updated_by = :by, change_id = :change, version = version + :one"
    )
    if change.status in FINISHED_STATUSES:
        removal = " REMOVE due_at, gsi3pk, gsi3sk"
    else:
        due = clock.iso(now + UPDATE_EVERY)
        index = due_index(caller.org_id, caller.team_id, customer_id, due)
        expression += ", due_at = :due, gsi3pk = :g3pk, gsi3sk = :g3sk"
        values |= {":due": due, ":g3pk": index["gsi3pk"], ":g3sk": index["gsi3sk"]}
        removal = ""
    condition = "attribute_exists(pk)"
    if not caller.leads:
        condition += " AND assignee_id = :me"
        values[":me"] = caller.user_id

    def refusal(current: db.Item | None) -> DomainError | None:
        if current and current.get("change_id") == change_id:
            return None
        return NotFound(f"customer {customer_id} not found")

    def write(addition: history.Addition) -> db.Item:
        return history.update(
            team_customer_key(caller.org_id, caller.team_id, customer_id),
            addition,
            expression=f"{expression}, {addition.expression}{removal}",
            condition=f"{condition} AND {addition.condition}",
            names={"#status": "status"},
            values=values,
            on_conflict=refusal,
            client=client,
        )

    updated = history.attempt(history.Addition(HISTORY, [entry], customer), write)
    if change.status == CustomerStatus.CLOSED and customer.get("status") != CustomerStatus.CLOSED:
        # A closing counts in the team's and the assignee's standards (common.teams.team_stats).
        team_stats.add_counts(
            caller.org_id, caller.team_id, team_stats.today(), {"closed": 1}, customer.get("assignee_id"), client=client
        )
    return updated


# Set on a customer once the sweep finds it past its update date: the due date it was overdue for, and when
# that was noted. A stream consumer learns from it that the customer became overdue (events), once per due date.
OVERDUE_FOR = "overdue_for"
OVERDUE_NOTED_AT = "overdue_noted_at"


def note_overdue(customer: Mapping[str, Any], *, client: Any = None) -> bool:
    """Record that the customer (as the sweep read it) is overdue for its due date, unless that is recorded
    already or the customer was updated since (its due date moved, or it closed). Not a change of the
    customer: its version stays, so no update by the team is refused for it. Returns whether this call did."""
    due = customer.get("due_at")
    if not due or customer.get(OVERDUE_FOR) == due:
        return False
    try:
        db.update(
            team_customer_key(customer["org_id"], customer["team_id"], customer["customer_id"]),
            expression=f"SET {OVERDUE_FOR} = :due, {OVERDUE_NOTED_AT} = :now",
            condition=f"due_at = :due AND (attribute_not_exists({OVERDUE_FOR}) OR {OVERDUE_FOR} <> :due)",
            values={":due": due, ":now": clock.now_iso()},
            on_conflict=Conflict("updated since, or noted already"),
            client=client,
        )
    except Conflict:
        return False
    return True


class _FormerAssigneeGone(Exception):
    pass


def reassign(caller: TeamCaller, customer_id: str, change: Reassignment, *, client: Any = None) -> db.Item:
    """Assign the customer to the team's leader or another member, never to an admin: the customer
    (conditioned on the version read) and both assignees' counts in one transaction."""
    if not (caller.leads or caller.manages_teams):
        raise Forbidden("only the team's leader, its admins or staff re-assign customers")
    org_id, team_id = caller.org_id, caller.team_id
    customer = get_customer(caller, customer_id, client=client)
    new_id, old_id = change.user_id, customer["assignee_id"]
    if new_id == old_id:
        return customer
    at = clock.now_iso()
    entry = {"at": at, "by": caller.actor, "event": "assigned", "assignee_id": new_id, "from_assignee_id": old_id}
    addition = history.Addition(HISTORY, [entry], customer)
    index = assignee_index(org_id, team_id, new_id, at, customer_id)
    update = db.tx_update(
        team_customer_key(org_id, team_id, customer_id),
        expression="SET assignee_id = :new, assigned_at = :at, updated_by = :by, gsi2pk = :g2pk, gsi2sk = :g2sk, "
        f"version = version + :one, {addition.expression}",
        condition=f"version = :version AND {addition.condition}",
        values={
            ":new": new_id,
            ":at": at,
            ":by": caller.actor,
            ":g2pk": index["gsi2pk"],
            ":g2sk": index["gsi2sk"],
            ":one": 1,
            ":version": customer["version"],
            **addition.values,
        },
    )
    gain = _count(org_id, team_id, new_id, 1, assignable=True)
    loss = _count(org_id, team_id, old_id, -1, assignable=False)
    pages = addition.pages()

    def refusal(failed: list[db.Item | None], *, with_loss: bool = True) -> DomainError:
        target = failed[1]
        if target is not None:
            if not target:
                return invalid("body.user_id", "is not a member of the team")
            return AdminNotAssignable(
                f"user {new_id} is a team admin: admins accept referrals but are never assigned customers",
                conflicting_ids=[new_id],
            )
        if with_loss and failed[0] is None and failed[2] is not None:
            raise _FormerAssigneeGone()
        now_at = [failed[0]["version"]] if failed[0] and "version" in failed[0] else []
        return CustomerChanged(f"customer {customer_id} changed meanwhile; reload it and retry", conflicting_ids=now_at)

    try:
        db.transact([update, gain, loss, *pages], on_cancel=refusal, client=client)
    except _FormerAssigneeGone:
        # The former assignee's membership is gone (it can only be removed once it holds no customers, so
        # its count is already right): re-assign without it.
        db.transact([update, gain, *pages], on_cancel=lambda f: refusal(f, with_loss=False), client=client)
    moved = {
        **customer,
        "assignee_id": new_id,
        "assigned_at": at,
        "updated_by": caller.actor,
        "version": customer["version"] + 1,
        **index,
    }
    return addition.applied(moved)


def customer_history(
    caller: TeamCaller, customer_id: str, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[dict[str, Any]], str | None]:
    """The customer's whole history, newest first (the customer shows only its newest entries)."""
    customer = get_customer(caller, customer_id, client=client)
    return history.listing(HISTORY, customer, cursor=cursor, limit=limit, client=client)
