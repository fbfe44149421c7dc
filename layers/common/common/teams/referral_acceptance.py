"""Acceptance of referral requests, from the dashboard or by a "YES <code>" text reply: the first team
member to accept gets the customer.

Acceptance is one transaction: the request (open and not past its expiry), the team customer, the freed
code and the memberships involved, so the first acceptance wins and every later one changes nothing.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit

from common.orgs.access import Principal, user_actor
from common.platform import clock, db, history
from common.platform.errors import Conflict, DomainError, Forbidden, NotFound
from common.platform.observability import metrics
from common.teams import standing, team_customers, team_stats
from common.teams.membership import request_reader
from common.teams.referral_expiry import expire
from common.teams.referral_requests import HISTORY, Via, effective_status, find, get, history_entry
from common.teams.referral_views import Acceptance
from common.teams.team_model import ReferralStatus, TeamRole, code_key, referral_key, team_key, team_member_key

S = ReferralStatus


class ReferralTaken(Conflict):
    code = "referral-taken"
    title = "The referral was already taken"


class ReferralExpired(Conflict):
    code = "referral-expired"
    title = "The referral has expired"


class NotEligible(Forbidden):
    code = "referral-not-eligible"
    title = "Not eligible to accept referrals"


class _Mine(Exception):
    """The request was already accepted by this very member (a double click, a second reply)."""

    def __init__(self, request: db.Item) -> None:
        super().__init__(request["request_id"])
        self.request = request


def _may_accept(membership: db.Item) -> bool:
    role = membership["role"]
    return role in (TeamRole.LEADER, TeamRole.ADMIN) or (role == TeamRole.MEMBER and bool(membership.get("eligible")))


def accept(
    org_id: str,
    request_id: str,
    user_id: str,
    *,
    via: Via,
    message_sid: str | None = None,
    client: Any = None,
) -> db.Item:
    """The member accepts the request: the first acceptance wins. Returns the accepted request. Raises
    NotFound (no such request, or the user is not in its team), NotEligible, ReferralTaken,
    ReferralExpired; accepting one's own accepted request again returns it unchanged."""
    try:
        return _accept(org_id, request_id, user_id, via=via, message_sid=message_sid, client=client)
    except _Mine as mine:
        return mine.request


def accept_as_read(
    request: db.Item, team: db.Item | None, membership: db.Item, *, via: Via, client: Any = None
) -> db.Item:
    """`accept`, of the request, its team and the member's membership as the caller already read them
    (consistently): the transaction holds the acceptance to what was read, so nothing is read again."""
    try:
        return _accept_as_read(request, team, membership, via=via, message_sid=None, client=client)
    except _Mine as mine:
        return mine.request


def accept_on_dashboard(principal: Principal, org_id: str, request_id: str, *, client: Any = None) -> Acceptance:
    """A member of the request's team accepts it from the dashboard (staff who are not in the team may
    not: 403). The request, the membership and the team are read once (request_reader) and the acceptance's
    transaction holds to them."""
    reader = request_reader(principal, org_id, request_id, with_team=True, client=client)
    if reader.membership is None:
        raise Forbidden("only members of the request's team accept it")
    try:
        accepted = accept_as_read(reader.request, reader.team, reader.membership, via="dashboard", client=client)
    except (ReferralTaken, ReferralExpired):
        team_stats.record_attempt(
            reader.request, reader.membership["user_id"], client=client
        )  # lost: tried all the same
        raise
    team_stats.record_attempt(reader.request, reader.membership["user_id"], client=client)
    if reader.request["status"] != S.ACCEPTED:
        metrics.add_metric(name="ReferralsAccepted", unit=MetricUnit.Count, value=1)
    return Acceptance.of_item(accepted)


def _accept(org_id: str, request_id: str, user_id: str, *, via: Via, message_sid: str | None, client: Any) -> db.Item:
    request = get(org_id, request_id, consistent=True, client=client)
    team_id = request["team_id"]
    keys = [team_key(org_id, team_id), team_member_key(org_id, team_id, user_id)]
    found = {i["sk"]: i for i in db.batch_get(keys, consistent=True, client=client)}
    team, membership = found.get("TEAM"), found.get(keys[1]["sk"])
    return _accept_as_read(request, team, membership, via=via, message_sid=message_sid, client=client)


def _accept_as_read(
    request: db.Item,
    team: db.Item | None,
    membership: db.Item | None,
    *,
    via: Via,
    message_sid: str | None,
    client: Any,
) -> db.Item:
    org_id, request_id, team_id = request["org_id"], request["request_id"], request["team_id"]
    if team is None or membership is None:
        raise NotFound(f"referral request {request_id} not found")
    user_id = membership["user_id"]
    if not standing.may_accept(team):
        raise standing.TeamRemoved(
            f"team {team_id} was removed: its members accept no referral", conflicting_ids=[team_id]
        )
    if not _may_accept(membership):
        raise NotEligible("only the team's leader, its admins and eligible members accept referrals")
    _refuse_unless_open(request, user_id, client=client)

    now = clock.now_iso()
    assignee_id = team_customers.assignee_for(membership, team)
    customer = team_customers.new_customer_item(
        org_id,
        team_id,
        customer=request["customer"],
        summary=request["summary"],
        assignee_id=assignee_id,
        actor=user_actor(user_id),
        request_id=request_id,
    )
    entry = history_entry(
        "accepted",
        user_actor(user_id),
        via=via,
        message_sid=message_sid,
        assignee_id=assignee_id,
        customer_id=customer["customer_id"],
    )

    def write(addition: history.Addition) -> history.Addition:
        actions = [
            db.tx_update(
                referral_key(org_id, request_id),
                expression=(
                    "SET #status = :accepted, accepted_by = :by, accepted_at = :now, accepted_via = :via, "
                    f"assignee_id = :assignee, customer_id = :customer, updated_at = :now, {addition.expression} "
                    "REMOVE gsi3pk, gsi3sk"
                ),
                condition=f"#status = :open AND expires_at > :now AND {addition.condition}",
                names={"#status": "status"},
                values={
                    ":accepted": S.ACCEPTED.value,
                    ":open": S.OPEN.value,
                    ":by": user_id,
                    ":now": now,
                    ":via": via,
                    ":assignee": assignee_id,
                    ":customer": customer["customer_id"],
                    **addition.values,
                },
            ),
            db.tx_put(customer, condition="attribute_not_exists(pk)"),
            # The code is closed, not deleted: a late "YES <code>" still finds the request and hears it is taken.
            db.tx_update(
                code_key(org_id, team_id, request["code"]),
                expression="SET closed_at = :now",
                condition="request_id = :req",
                values={":req": request_id, ":now": now},
            ),
            *_membership_actions(org_id, team, membership, assignee_id),
            *addition.pages(),
            # The team's and the assignee's accepted customers of the day (common.teams.team_stats), with it.
            *team_stats.count_actions(org_id, team_id, team_stats.today(), {"accepted": 1}, assignee_id),
        ]

        def refusal(failed: list[db.Item | None]) -> DomainError:
            current = failed[0]
            if current is not None:
                if not current:
                    return NotFound(f"referral request {request_id} not found")
                _refuse_unless_open(current, user_id, client=client)  # raises unless it is still open
                addition.check(current)  # still open: its history may have filled meanwhile
            if failed[3] is not None:
                return NotEligible("your role or eligibility in the team changed; you cannot accept this referral")
            if failed[1] is not None:
                return ReferralTaken(f"referral request {request_id} was already taken")
            return Conflict("the team changed meanwhile; retry")

        db.transact(actions, on_cancel=refusal, client=client)
        return addition

    written = history.attempt(history.Addition(HISTORY, [entry], request), write)
    accepted = {
        **request,
        "status": S.ACCEPTED.value,
        "accepted_by": user_id,
        "accepted_at": now,
        "accepted_via": via,
        "assignee_id": assignee_id,
        "customer_id": customer["customer_id"],
        "updated_at": now,
    }
    return written.applied(accepted)


def _membership_actions(org_id: str, team: db.Item, membership: db.Item, assignee_id: str) -> list[dict[str, Any]]:
    """Transaction items holding the acceptance to the memberships as read: the acceptor still has the
    role (and a member the eligibility) they were read with; the assignee, who receives the customer,
    counts it and is no admin; a leader's or admin's acceptance goes to the leader read. One item per key:
    when the acceptor is the assignee, both conditions go on the count."""
    team_id, acceptor = team["team_id"], membership["user_id"]
    names = {"#role": "role"}
    condition = "#role = :role"
    values: dict[str, Any] = {":role": membership["role"]}
    if membership["role"] == TeamRole.MEMBER:
        condition += " AND eligible = :yes"
        values[":yes"] = True
    count = "ADD customer_count :one, version :one"
    if acceptor == assignee_id:
        return [
            db.tx_update(
                team_member_key(org_id, team_id, acceptor),
                expression=count,
                condition=condition,
                names=names,
                values={**values, ":one": 1},
            )
        ]
    return [
        db.tx_check(team_member_key(org_id, team_id, acceptor), condition=condition, names=names, values=values),
        db.tx_update(
            team_member_key(org_id, team_id, assignee_id),
            expression=count,
            condition="attribute_exists(pk) AND #role <> :admin",
            names=names,
            values={":admin": TeamRole.ADMIN.value, ":one": 1},
        ),
        db.tx_check(team_key(org_id, team_id), condition="leader_id = :leader", values={":leader": team["leader_id"]}),
    ]


def _refuse_unless_open(request: db.Item, user_id: str, *, client: Any = None) -> None:
    """Raise why the request cannot be accepted now (expiring it on the way when its time is up)."""
    status = effective_status(request)
    if status == S.OPEN:
        return
    if status == S.ACCEPTED:
        if request.get("accepted_by") == user_id:
            raise _Mine(request)
        raise ReferralTaken(
            f"referral request {request['request_id']} was already taken",
            conflicting_ids=[request["accepted_by"]] if request.get("accepted_by") else [],
        )
    if request["status"] == S.OPEN:
        expire(request, client=client)
    raise ReferralExpired(f"referral request {request['request_id']} has expired")


# -- by text reply ---------------------------------------------------------------------------------


Result = Literal["won", "already_yours", "taken", "expired", "not_eligible", "team_removed", "no_such_code"]


@dataclass(frozen=True)
class AcceptanceOutcome:
    """What became of a member's "YES <code>" in one of their teams, and the text to reply."""

    result: Result
    reply: str
    org_id: str
    team_id: str
    request_id: str | None = None
    customer_id: str | None = None

    @property
    def found(self) -> bool:
        """The code stood for a request of this team (taken or expired or not)."""
        return self.result != "no_such_code"

    @property
    def accepted(self) -> bool:
        return self.result in ("won", "already_yours")


def _replies(code: str, first_name: str, to_leader: bool) -> dict[Result, str]:
    where = "assigned to your team leader" if to_leader else "assigned to you"
    return {
        "won": f"You got it: {first_name} (referral {code}) is now in your team's customer list, {where}.",
        "already_yours": f"You already accepted referral {code}.",
        "taken": f"Sorry, referral {code} was already taken by someone else.",
        "expired": f"Sorry, referral {code} has expired.",
        "not_eligible": f"You cannot accept referral {code}: you are not set to receive referrals in this team.",
        "team_removed": f"You cannot accept referral {code}: your team no longer takes referrals.",
        "no_such_code": f"There is no open referral with code {code}.",
    }


_REFUSALS: dict[type[DomainError], Result] = {
    ReferralTaken: "taken",
    ReferralExpired: "expired",
    NotEligible: "not_eligible",
    standing.TeamRemoved: "team_removed",
}


def accept_by_code(phone_link: db.Item, code: str, *, message_sid: str, client: Any = None) -> AcceptanceOutcome:
    """A member's "YES <code>" reply, in the team of one of their phone links (org_id, team_id, user_id).
    Every reply is in the request's history; only the first acceptance changes anything else."""
    org_id, team_id, user_id = phone_link["org_id"], phone_link["team_id"], phone_link["user_id"]
    code_item = db.get(code_key(org_id, team_id, code), consistent=True, client=client)
    if code_item is None:
        return AcceptanceOutcome("no_such_code", _replies(code, "", False)["no_such_code"], org_id, team_id)
    request_id = code_item["request_id"]
    result: Result
    try:
        request = _accept(org_id, request_id, user_id, via="sms", message_sid=message_sid, client=client)
        result = "won"
    except _Mine as mine:
        request, result = mine.request, "already_yours"
    except NotFound:
        # The code's request is gone, or the number's member left the team meanwhile.
        return AcceptanceOutcome("no_such_code", _replies(code, "", False)["no_such_code"], org_id, team_id)
    except (ReferralTaken, ReferralExpired, NotEligible, standing.TeamRemoved) as refusal:
        result = _REFUSALS[type(refusal)]
        _record_reply(org_id, request_id, user_id, result, message_sid, client=client)
        if result in ("taken", "expired"):  # a YES that lost the race (or came late) is an attempt all the same
            lost = find(org_id, request_id, client=client)
            if lost is not None:
                team_stats.record_attempt(lost, user_id, client=client)
        reply = _replies(code, "", False)[result]
        return AcceptanceOutcome(result, reply, org_id, team_id, request_id)
    team_stats.record_attempt(request, user_id, client=client)
    to_leader = request.get("assignee_id") != user_id
    reply = _replies(code, request["customer"]["first_name"], to_leader)[result]
    return AcceptanceOutcome(result, reply, org_id, team_id, request_id, request.get("customer_id"))


def _record_reply(
    org_id: str, request_id: str, user_id: str, outcome: str, message_sid: str, *, client: Any = None
) -> None:
    """A reply that won nothing joins the request's history (bounded), and changes nothing else."""
    entry = history_entry("reply", user_actor(user_id), outcome=outcome, message_sid=message_sid)

    def write(addition: history.Addition) -> db.Item:
        return history.update(
            referral_key(org_id, request_id),
            addition,
            expression=f"SET {addition.expression}",
            condition=f"attribute_exists(pk) AND {addition.condition}",
            values={},
            on_conflict=Conflict("the request is gone"),
            client=client,
        )

    with contextlib.suppress(Conflict):  # the request is gone
        history.attempt(history.Addition(HISTORY, [entry]), write)
