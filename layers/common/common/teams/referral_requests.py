"""Referral requests (seed 000): programme staff offer a customer to a partner team; the first team member
to accept gets it, by text reply or from the dashboard; a request nobody accepts in time expires.

    referral    ORG#<org>#REFERRAL#<req> / REQUEST           entity "referral_request"
                gsi1 ORG#<org>#REFERRALS / <createdAt>#<req>  the organisation's requests, newest first
                gsi3 ORG#<org>#REFERRALS_EXPIRING / <expiresAt>#<req>   while open: the expiry sweep's queue
    short code  ORG#<org>#TEAM#<team>#CODE#<code> / CODE     entity "referral_code": the open request a
                                                             4-digit code stands for in the team
    offer       ORG#<org>#REFERRAL#<req> / OFFER#<user>      entity "referral_offer" (common.teams.referral_offers)
    history     ORG#<org>#REFERRAL#<req> / HISTORY#<first>   the request's older history (common.platform.history)

The request's status and its history change in the same write. Acceptance is one transaction: the request
(open and not past its expiry), the team customer, the freed code and the memberships involved, so the
first acceptance wins and every later one changes nothing.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from common.platform import clock, db, history, ids
from common.platform.errors import Conflict, DomainError, Forbidden, NotFound, invalid
from common.platform.settings import get_settings
from common.platform.validation import (
    ENTITY_ID_PATTERN,
    SINGLE_LINE,
    USER_ID_PATTERN,
    Email,
    EntityId,
    LongText,
    Phone,
    ShortText,
)
from common.teams import team_customers
from common.teams.team_model import (
    ReferralStatus,
    TeamRole,
    code_key,
    offer_key,
    orgs_with_teams,
    referral_key,
    team_key,
    team_member_key,
)

S = ReferralStatus
DEFAULT_EXPIRES_MINUTES = 120
MIN_EXPIRES_MINUTES = 5
MAX_EXPIRES_MINUTES = 7 * 24 * 60
CODE_ATTEMPTS = 8
# How long after its expiry a code still answers late replies ("already taken", "expired").
CODE_KEPT = timedelta(days=7)
# The request keeps its newest history entries (each well under 1 KB: replies, offers, delivery failures),
# older ones move to pages, so a large team or a member texting all day cannot grow the item.
HISTORY = history.Bound("history", limit=50, keep=25, pages_at=lambda request: (request["pk"], "HISTORY#"))
PAGE_SIZE = 100

Summary = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=160), SINGLE_LINE]


class ReferralTaken(Conflict):
    code = "referral-taken"
    title = "The referral was already taken"


class ReferralExpired(Conflict):
    code = "referral-expired"
    title = "The referral has expired"


class NotEligible(Forbidden):
    code = "referral-not-eligible"
    title = "Not eligible to accept referrals"


# -- input -----------------------------------------------------------------------------------------


class ReferralCustomer(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    first_name: ShortText
    last_name: ShortText
    phone: Phone | None = None
    email: Email | None = None
    address: LongText | None = None


class NewReferralRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    team_id: EntityId
    customer: ReferralCustomer
    summary: Summary = Field(description="what the customer needs, in a line: it goes into the text")
    expires_in_minutes: Annotated[StrictInt, Field(ge=MIN_EXPIRES_MINUTES, le=MAX_EXPIRES_MINUTES)] = (
        DEFAULT_EXPIRES_MINUTES
    )


# -- items -----------------------------------------------------------------------------------------


def _listing(org_id: str) -> str:
    return f"ORG#{org_id}#REFERRALS"


def expiring_partition(org_id: str) -> str:
    return f"ORG#{org_id}#REFERRALS_EXPIRING"


def history_entry(event: str, by: str, **details: Any) -> dict[str, Any]:
    """A line of the request's history: `by` is user:<id> or system; `details` without the Nones."""
    entry = {"at": clock.now_iso(), "event": event, "by": by, **details}
    return {k: v for k, v in entry.items() if v is not None}


def _new_code() -> str:
    return f"{secrets.randbelow(10_000):04d}"


def effective_status(request: db.Item, now: datetime | None = None) -> ReferralStatus:
    """The status as callers see it: an open request past its expiry is expired, even before the sweep or
    the next acceptance attempt writes so."""
    status = S(request["status"])
    if status == S.OPEN and request["expires_at"] <= clock.iso(now or clock.now()):
        return S.EXPIRED
    return status


# -- create and read -------------------------------------------------------------------------------


def create(org_id: str, new: NewReferralRequest, created_by: str, *, client: Any = None) -> db.Item:
    """The request with its history, and a short code unique among the team's open requests: one
    transaction (another on the rare code collision). The team must exist in the organisation.
    `created_by` is the staff user's id."""
    request_id = ids.new_id()
    now = clock.now()
    at, expires_at = clock.iso(now), clock.iso(now + timedelta(minutes=new.expires_in_minutes))
    tried: set[str] = set()
    for _ in range(CODE_ATTEMPTS):
        code = _new_code()
        while code in tried:
            code = _new_code()
        tried.add(code)
        item = {
            **referral_key(org_id, request_id),
            "entity": "referral_request",
            "org_id": org_id,
            "request_id": request_id,
            "team_id": new.team_id,
            "customer": new.customer.model_dump(exclude_none=True),
            "summary": new.summary,
            "code": code,
            "status": S.OPEN.value,
            "expires_in_minutes": new.expires_in_minutes,
            "expires_at": expires_at,
            "created_by": created_by,
            "created_at": at,
            "updated_at": at,
            "history": [history_entry("created", f"user:{created_by}", code=code, expires_at=expires_at)],
            "gsi1pk": _listing(org_id),
            "gsi1sk": f"{at}#{request_id}",
            "gsi3pk": expiring_partition(org_id),
            "gsi3sk": f"{expires_at}#{request_id}",
        }
        code_item = {
            **code_key(org_id, new.team_id, code),
            "entity": "referral_code",
            "org_id": org_id,
            "team_id": new.team_id,
            "code": code,
            "request_id": request_id,
            "expires_at": expires_at,
            # Late replies are answered for a while after the request closes; then DynamoDB drops the code.
            "expiration": int((now + timedelta(minutes=new.expires_in_minutes) + CODE_KEPT).timestamp()),
        }

        def refusal(failed: list[db.Item | None]) -> DomainError:
            if failed[2] is not None:
                return invalid("body.team_id", "is not a team of the organisation")
            if failed[1] is not None:
                return _CodeTaken("the short code is taken")
            return Conflict("request id collision; retry")

        try:
            db.transact(
                [
                    db.tx_put(item, condition="attribute_not_exists(pk)"),
                    # A code is free when no request holds it, its request was accepted (closed), or its
                    # request's time is up (expired even if nobody has written that yet).
                    db.tx_put(
                        code_item,
                        condition="attribute_not_exists(pk) OR attribute_exists(closed_at) OR expires_at <= :now",
                        values={":now": at},
                    ),
                    db.tx_check(team_key(org_id, new.team_id), condition="attribute_exists(pk)"),
                ],
                on_cancel=refusal,
                client=client,
            )
        except _CodeTaken:
            continue
        return item
    raise Conflict("no free short code was found for the team; retry")


class _CodeTaken(Conflict):
    pass


def find(org_id: str, request_id: str, *, consistent: bool = False, client: Any = None) -> db.Item | None:
    return db.get(referral_key(org_id, request_id), consistent=consistent, client=client)


def get(org_id: str, request_id: str, *, consistent: bool = False, client: Any = None) -> db.Item:
    item = find(org_id, request_id, consistent=consistent, client=client)
    if item is None:
        raise NotFound(f"referral request {request_id} not found")
    return item


Filter = Literal["open", "accepted", "expired"]


def list_requests(
    org_id: str,
    *,
    status: Filter | None = None,
    team_id: str | None = None,
    created_by: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
    client: Any = None,
) -> tuple[list[db.Item], str | None]:
    """The organisation's requests, newest first (gsi1), optionally of one status as callers see it (an
    open request past its expiry counts as expired), one team, or one creator."""
    conditions: list[str] = []
    values: dict[str, Any] = {":pk": _listing(org_id)}
    names: dict[str, str] = {}
    if status == "accepted":
        conditions.append("#status = :accepted")
        values[":accepted"] = S.ACCEPTED.value
    elif status == "open":
        conditions.append("(#status = :open AND expires_at > :now)")
        values |= {":open": S.OPEN.value, ":now": clock.now_iso()}
    elif status == "expired":
        conditions.append("(#status = :expired OR (#status = :open AND expires_at <= :now))")
        values |= {":open": S.OPEN.value, ":expired": S.EXPIRED.value, ":now": clock.now_iso()}
    if status is not None:
        names["#status"] = "status"
    if team_id is not None:
        conditions.append("team_id = :team")
        values[":team"] = team_id
    if created_by is not None:
        conditions.append("created_by = :creator")
        values[":creator"] = created_by
    return db.query(
        index="gsi1",
        key_condition="gsi1pk = :pk",
        values=values,
        names=names or None,
        filter_expression=" AND ".join(conditions) or None,
        newest_first=True,
        cursor=cursor,
        limit=limit,
        client=client,
    )


def request_history(
    org_id: str, request_id: str, *, cursor: str | None = None, limit: int = 50, client: Any = None
) -> tuple[list[dict[str, Any]], str | None]:
    """The request's whole history, newest first (the request shows only its newest entries)."""
    request = get(org_id, request_id, consistent=True, client=client)
    return history.listing(HISTORY, request, cursor=cursor, limit=limit, client=client)


def view(item: db.Item) -> dict[str, Any]:
    """The staff view: everything but storage keys, with the status as callers see it."""
    return {**db.without_storage(item), "status": effective_status(item).value}


def member_view(item: db.Item) -> dict[str, Any]:
    """What a team member sees of a request: what the text says, no more personal data."""
    keep = ("org_id", "request_id", "team_id", "summary", "code", "expires_at", "created_at", "accepted_at")
    shown = {k: item[k] for k in keep if k in item}
    shown["customer"] = {"first_name": item["customer"]["first_name"]}
    shown["status"] = effective_status(item).value
    if item.get("accepted_by"):
        shown["accepted_by"] = item["accepted_by"]
    return shown


# -- acceptance ------------------------------------------------------------------------------------


Via = Literal["dashboard", "sms"]


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


def _accept(org_id: str, request_id: str, user_id: str, *, via: Via, message_sid: str | None, client: Any) -> db.Item:
    request = get(org_id, request_id, consistent=True, client=client)
    team_id = request["team_id"]
    keys = [team_key(org_id, team_id), team_member_key(org_id, team_id, user_id)]
    found = {i["sk"]: i for i in db.batch_get(keys, consistent=True, client=client)}
    team, membership = found.get("TEAM"), found.get(keys[1]["sk"])
    if team is None or membership is None:
        raise NotFound(f"referral request {request_id} not found")
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
        actor=f"user:{user_id}",
        request_id=request_id,
    )
    entry = history_entry(
        "accepted",
        f"user:{user_id}",
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


Result = Literal["won", "already_yours", "taken", "expired", "not_eligible", "no_such_code"]


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
        "no_such_code": f"There is no open referral with code {code}.",
    }


_REFUSALS: dict[type[DomainError], Result] = {
    ReferralTaken: "taken",
    ReferralExpired: "expired",
    NotEligible: "not_eligible",
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
    except (ReferralTaken, ReferralExpired, NotEligible) as refusal:
        result = _REFUSALS[type(refusal)]
        _record_reply(org_id, request_id, user_id, result, message_sid, client=client)
        reply = _replies(code, "", False)[result]
        return AcceptanceOutcome(result, reply, org_id, team_id, request_id)
    to_leader = request.get("assignee_id") != user_id
    reply = _replies(code, request["customer"]["first_name"], to_leader)[result]
    return AcceptanceOutcome(result, reply, org_id, team_id, request_id, request.get("customer_id"))


def _record_reply(
    org_id: str, request_id: str, user_id: str, outcome: str, message_sid: str, *, client: Any = None
) -> None:
    """A reply that won nothing joins the request's history (bounded), and changes nothing else."""
    entry = history_entry("reply", f"user:{user_id}", outcome=outcome, message_sid=message_sid)

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


# -- delivery statuses -----------------------------------------------------------------------------

# The query string of the status callback URL each text carries: which offer a delivery status is about.
CALLBACK_PARAMETERS = ("org_id", "request_id", "user_id")
CALLBACK_PATTERNS = (ENTITY_ID_PATTERN, ENTITY_ID_PATTERN, USER_ID_PATTERN)


def status_callback_url(org_id: str, request_id: str, user_id: str) -> str | None:
    """Where Twilio posts the delivery statuses of the text offering the request to the member."""
    base = get_settings().sms_status_url
    if not base:
        return None
    query = urlencode(dict(zip(CALLBACK_PARAMETERS, (org_id, request_id, user_id), strict=True)))
    return f"{base}{'&' if '?' in base else '?'}{query}"


def offer_of_status_callback(query: Mapping[str, str]) -> tuple[str, str, str] | None:
    """The (org_id, request_id, user_id) a status callback's query string names; None when it names no
    well-formed offer."""
    values = tuple(str(query.get(name) or "") for name in CALLBACK_PARAMETERS)
    if not all(re.fullmatch(pattern, value) for pattern, value in zip(CALLBACK_PATTERNS, values, strict=True)):
        return None
    return values[0], values[1], values[2]


FAILED_DELIVERIES = frozenset({"failed", "undelivered"})
FINAL_DELIVERIES = FAILED_DELIVERIES | {"delivered"}


def record_delivery(
    org_id: str,
    request_id: str,
    user_id: str,
    status: str,
    error_code: str | None,
    *,
    message_sid: str | None = None,
    client: Any = None,
) -> bool:
    """Twilio's delivery status of the offer texted to a member. Statuses only move forward (a late
    "sent" never hides "delivered" or "failed"); a failed or undelivered text joins the request's history
    once. Returns whether anything was recorded."""
    status = status.strip().lower()
    at = clock.now_iso()
    names = {"#status": "status"}
    values: dict[str, Any] = {
        ":entity": "referral_offer",
        ":org": org_id,
        ":req": request_id,
        ":user": user_id,
        ":status": status,
        ":at": at,
    }
    sets = "entity = :entity, org_id = :org, request_id = :req, user_id = :user, #status = :status, status_at = :at"
    if error_code:
        sets += ", error_code = :error"
        values[":error"] = str(error_code)
    if message_sid:
        sets += ", message_sid = if_not_exists(message_sid, :sid)"
        values[":sid"] = message_sid
    final = [f":final{i}" for i in range(len(FINAL_DELIVERIES))]
    values |= dict(zip(final, sorted(FINAL_DELIVERIES), strict=True))
    if status in FINAL_DELIVERIES:
        # The same final status twice (Twilio retries its callbacks) is recorded once.
        condition = "attribute_not_exists(#status) OR #status <> :status"
        values = {k: v for k, v in values.items() if k not in final}
    else:
        condition = f"attribute_not_exists(#status) OR NOT #status IN ({', '.join(final)})"
    offer = db.tx_update(
        offer_key(org_id, request_id, user_id),
        expression=f"SET {sets}",
        condition=condition,
        names=names,
        values=values,
    )
    if status not in FAILED_DELIVERIES:
        recorded = [offer, db.tx_check(referral_key(org_id, request_id), condition="attribute_exists(pk)")]
        try:
            db.transact(recorded, on_cancel=lambda failed: Conflict("nothing to record"), client=client)
        except Conflict:
            return False
        return True
    entry = history_entry("delivery_failed", "system", user_id=user_id, status=status, error_code=error_code)

    def write(addition: history.Addition) -> None:
        request = db.tx_update(
            referral_key(org_id, request_id),
            expression=f"SET {addition.expression}",
            condition=f"attribute_exists(pk) AND {addition.condition}",
            values=addition.values,
        )

        def refusal(failed: list[db.Item | None]) -> DomainError:
            if failed[0] is None:  # the offer took it: only the request's history may have refused
                addition.check(failed[1] or None)
            return Conflict("nothing to record")

        db.transact([offer, request, *addition.pages()], on_cancel=refusal, client=client)

    try:
        history.attempt(history.Addition(HISTORY, [entry]), write)
    except Conflict:
        return False
    return True


# -- expiry ----------------------------------------------------------------------------------------


def expire(request: db.Item, *, client: Any = None) -> bool:
    """Mark an open request past its expiry as expired (one conditional UpdateItem). Its code needs no
    write: a code whose time is up is free for the team's next request. Returns whether this call did."""
    now = clock.now_iso()
    entry = history_entry("expired", "system", expires_at=request["expires_at"])

    def write(addition: history.Addition) -> db.Item:
        return history.update(
            referral_key(request["org_id"], request["request_id"]),
            addition,
            expression=(
                f"SET #status = :expired, expired_at = :now, updated_at = :now, {addition.expression} "
                "REMOVE gsi3pk, gsi3sk"
            ),
            condition=f"#status = :open AND expires_at <= :now AND {addition.condition}",
            names={"#status": "status"},
            values={":expired": S.EXPIRED.value, ":open": S.OPEN.value, ":now": now},
            on_conflict=Conflict("not open or not due"),
            client=client,
        )

    try:
        # The request as read (the expiry index's copy may be behind: its history is decided again then).
        history.attempt(history.Addition(HISTORY, [entry], request), write)
    except Conflict:
        return False
    return True


@dataclass
class ExpiryCounts:
    orgs: int = 0
    due: int = 0
    expired: int = 0
    items_read: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"orgs": self.orgs, "due": self.due, "expired": self.expired, "items_read": self.items_read}


def expire_due(now: datetime | None = None, *, client: Any = None) -> ExpiryCounts:
    """Expire every open request past its expiry: for each organisation with teams, one query of its
    expiring index up to now (reads grow with what is due, not with all requests)."""
    cutoff = clock.iso(now or clock.now())
    counts = ExpiryCounts()
    for org_id in _orgs_with_teams(counts, client):
        counts.orgs += 1
        for items in db.pages(
            index="gsi3",
            key_condition="gsi3pk = :pk AND gsi3sk < :cutoff",
            values={":pk": expiring_partition(org_id), ":cutoff": cutoff},
            limit=PAGE_SIZE,
            client=client,
        ):
            counts.items_read += len(items)
            for item in items:
                counts.due += 1
                counts.expired += expire(item, client=client)
    return counts


def _orgs_with_teams(counts: ExpiryCounts, client: Any) -> Iterator[str]:
    for items in orgs_with_teams(client=client):
        counts.items_read += len(items)
        yield from (i["org_id"] for i in items)
