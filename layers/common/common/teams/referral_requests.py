"""Referral requests (seed 000): programme staff offer a customer to a partner team; the first team member
to accept gets it (common.teams.referral_acceptance), by text reply or from the dashboard; a request nobody
accepts in time expires (common.teams.referral_expiry). This module makes, reads and lists them.

    referral    ORG#<org>#REFERRAL#<req> / REQUEST           entity "referral_request"
                gsi1 ORG#<org>#REFERRALS / <createdAt>#<req>  the organisation's requests, newest first
                gsi3 ORG#<org>#REFERRALS_EXPIRING / <expiresAt>#<req>   while open: the expiry sweep's queue
    short code  ORG#<org>#TEAM#<team>#CODE#<code> / CODE     entity "referral_code": the open request a
                                                             4-digit code stands for in the team
    offer       ORG#<org>#REFERRAL#<req> / OFFER#<user>      entity "referral_offer" (common.teams.referral_offers)
    history     ORG#<org>#REFERRAL#<req> / HISTORY#<first>   the request's older history (common.platform.history)

The request's status and its history change in the same write.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints
from pydantic.json_schema import JsonDict

from common.orgs.access import user_actor
from common.platform import clock, db, history, ids, listings
from common.platform.errors import Conflict, DomainError, NotFound, invalid
from common.platform.table_schema import TTL_ATTRIBUTE
from common.platform.validation import SINGLE_LINE, Email, EntityId, LongText, Phone, ShortText
from common.teams import routing, standing
from common.teams.routing import AreaName
from common.teams.team_model import ReferralStatus, code_key, referral_key, team_key
from common.teams.team_stats import storable

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

Summary = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=160), SINGLE_LINE]
# Where a request was accepted.
Via = Literal["dashboard", "sms"]


# -- input -----------------------------------------------------------------------------------------


_EXAMPLE_CUSTOMER: JsonDict = {
    "first_name": "Casey",
    "last_name": "Client",
    "phone": "+1 555 0199",
    "email": "casey.client@example.org",
    "address": "12 Harbour Street, Springfield",
}


class ReferralCustomer(BaseModel):
    model_config = ConfigDict(
        extra="forbid", str_strip_whitespace=True, json_schema_extra={"examples": [_EXAMPLE_CUSTOMER]}
    )
    first_name: ShortText
    last_name: ShortText
    phone: Phone | None = None
    email: Email | None = None
    address: LongText | None = None


class NewReferralRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "team_id": "01JD8X4Q2M7K9T3V5W6Y8Z0ABC",
                    "customer": _EXAMPLE_CUSTOMER,
                    "summary": "Looking for a 3-bedroom house near the schools",
                    "expires_in_minutes": 120,
                }
            ]
        },
    )
    team_id: EntityId | None = Field(None, description="the team to offer it to; or give `area`")
    area: AreaName | None = Field(
        None,
        description="instead of a team: the area the customer is in; the request goes to the best team serving "
        "it (good standing first, by close rate, then probation)",
    )
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


def effective_status(request: Mapping[str, Any], now: datetime | None = None) -> ReferralStatus:
    """The status as callers see it: an open request past its expiry is expired, even before the sweep or
    the next acceptance attempt writes so."""
    status = S(request["status"])
    if status == S.OPEN and request["expires_at"] <= clock.iso(now or clock.now()):
        return S.EXPIRED
    return status


# -- create and read -------------------------------------------------------------------------------


def create(org_id: str, new: NewReferralRequest, created_by: str, *, client: Any = None) -> db.Item:
    """The request for the team named, or for the first team its area's route offers it to (the next one
    when a candidate stopped being offerable meanwhile). The team must exist in the organisation and be
    offerable (common.teams.standing): 409 team-not-offerable otherwise, naming why."""
    if (new.team_id is None) == (new.area is None):
        field = "body.area" if new.area is not None else "body.team_id"
        raise invalid(field, "give either team_id or area, exactly one of them")
    if new.team_id is not None:
        return _create(org_id, new, new.team_id, None, created_by, client=client)
    found = routing.candidates(org_id, new.area or "", client=client)
    for position, candidate in enumerate(found):
        route = routing.Route(area=new.area or "", candidates=found, position=position)
        try:
            return _create(org_id, new, candidate.team_id, route, created_by, client=client)
        except standing.TeamNotOfferable:
            continue  # its standing changed since it was read: the next one
    raise standing.TeamNotOfferable(f"no team in good standing or on probation serves the area {new.area!r}")


def _create(
    org_id: str,
    new: NewReferralRequest,
    team_id: str,
    route: routing.Route | None,
    created_by: str,
    *,
    rerouted_from: str | None = None,
    client: Any = None,
) -> db.Item:
    """The request with its history, and a short code unique among the team's open requests: one
    transaction (another on the rare code collision), held to the team being offerable. `created_by` is the
    staff user's id. A request offered on to the next team of its route (`rerouted_from`, expired) names
    its successor in the same transaction, once."""
    request_id = ids.new_id()
    now = clock.now()
    at, expires_at = clock.iso(now), clock.iso(now + timedelta(minutes=new.expires_in_minutes))
    offerable, offerable_values = standing.offerable_condition()
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
            "team_id": team_id,
            **({"area": route.area, "route": storable(route.model_dump(mode="json"))} if route else {}),
            **({"rerouted_from": rerouted_from} if rerouted_from else {}),
            "customer": new.customer.model_dump(exclude_none=True),
            "summary": new.summary,
            "code": code,
            "status": S.OPEN.value,
            "expires_in_minutes": new.expires_in_minutes,
            "expires_at": expires_at,
            "created_by": created_by,
            "created_at": at,
            "updated_at": at,
            "history": [history_entry("created", user_actor(created_by), code=code, expires_at=expires_at)],
            "gsi1pk": _listing(org_id),
            "gsi1sk": f"{at}#{request_id}",
            "gsi3pk": expiring_partition(org_id),
            "gsi3sk": f"{expires_at}#{request_id}",
        }
        code_item = {
            **code_key(org_id, team_id, code),
            "entity": "referral_code",
            "org_id": org_id,
            "team_id": team_id,
            "code": code,
            "request_id": request_id,
            "expires_at": expires_at,
            # Late replies are answered for a while after the request closes; then DynamoDB drops the code.
            TTL_ATTRIBUTE: int((now + timedelta(minutes=new.expires_in_minutes) + CODE_KEPT).timestamp()),
        }

        def refusal(failed: list[db.Item | None]) -> DomainError:
            if len(failed) > 3 and failed[3] is not None:
                return _Rerouted("offered on already")
            if failed[2] is not None:
                if not failed[2]:
                    return invalid("body.team_id", "is not a team of the organisation")
                return _not_offerable(failed[2])
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
                    db.tx_check(team_key(org_id, team_id), condition=offerable, values=offerable_values),
                    *(
                        [
                            db.tx_update(
                                referral_key(org_id, rerouted_from),
                                expression="SET rerouted_to = :next",
                                condition="attribute_not_exists(rerouted_to) AND #status = :expired",
                                names={"#status": "status"},
                                values={":next": request_id, ":expired": S.EXPIRED.value},
                            )
                        ]
                        if rerouted_from
                        else []
                    ),
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


class _Rerouted(Conflict):
    pass


def reroute(expired: db.Item, *, client: Any = None) -> db.Item | None:
    """Offer an expired request made for an area to the next team of its route that is still offerable
    (a new request, with its own code and time): once, however often it is asked (the expired request
    names its successor in the successor's transaction). Returns the new request; None when it was offered
    on already or no candidate is left."""
    if expired.get("status") != S.EXPIRED or not expired.get("route") or expired.get("rerouted_to"):
        return None
    route = routing.Route.model_validate(expired["route"])
    new = NewReferralRequest(
        area=route.area,
        customer=ReferralCustomer.model_validate(expired["customer"]),
        summary=expired["summary"],
        expires_in_minutes=int(expired["expires_in_minutes"]),
    )
    for position in range(route.position + 1, len(route.candidates)):
        onward = routing.Route(area=route.area, candidates=route.candidates, position=position)
        try:
            return _create(
                expired["org_id"],
                new,
                route.candidates[position].team_id,
                onward,
                expired["created_by"],
                rerouted_from=expired["request_id"],
                client=client,
            )
        except standing.TeamNotOfferable:
            continue
        except _Rerouted:
            return None
    return None


def _not_offerable(team: db.Item) -> DomainError:
    try:
        standing.refuse_unless_offerable(team)
    except standing.TeamNotOfferable as refusal:
        return refusal
    return Conflict("the team changed meanwhile; retry")


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
    values: dict[str, Any] = {}
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
    return listings.query_index(
        listings.IndexKey("gsi1", _listing(org_id)),
        filter_expression=" AND ".join(conditions) or None,
        filter_values=values,
        names=names or None,
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
