"""The shape of partner teams in the table (seed 000), shared by the team, referral, webhook and sweep
modules: keys, roles, customer statuses.

    team            ORG#<org>#TEAM#<team> / TEAM              gsi1 ORG#<org>#TEAMS / <name casefolded>#<team>
                                                              fee_pause_count: its fees more than 45 days overdue
                                                              and not paid (common.teams.fee_lateness)
    team member     ORG#<org>#TEAM#<team> / MEMBER#<user>     gsi2 USER#<user>#TEAMS / <org>#<team>
    phone           PHONE#<e164> / PHONE                      opted out (STOP) or not, for every team
    phone link      PHONE#<e164> / TEAM#<org>#<team>          which member a number is, in each team
    team customer   ORG#<org>#TEAM#<team> / CUSTOMER#<cust>   gsi2 ORG#<org>#TEAM#<team>#ASSIGNEE#<user> /
                                                              <assignedAt>#<cust>; gsi3 while open (not closed
                                                              or lost): ORG#<org>#CUSTOMERS_DUE / <dueAt>#<team>#<cust>
    referral        ORG#<org>#REFERRAL#<req> / REQUEST        gsi1 ORG#<org>#REFERRALS / <createdAt>#<req>
    offer           ORG#<org>#REFERRAL#<req> / OFFER#<user>   the text sent to one member, its delivery status
    short code      ORG#<org>#TEAM#<team>#CODE#<code> / CODE  the open request a code stands for in a team
    inbound SMS     SMS#<MessageSid> / NOTICE#reply           processed once (Twilio retries), TTL
    orgs with teams TEAM_ORGS / ORG#<org>                     the reminder sweep's list of organisations
    referral fees   ORG#<org>#TEAM#<team>#FEES / CLOSING#..., FEE#..., ENTRY#..., BALANCE#<currency>, LATE#...
                    and ORG#<org>#FEE_AGREEMENT#<scope> / VERSION#...: common.teams.fee_model
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from enum import StrEnum
from typing import Any

from common.platform import db, listings, notices
from common.platform.errors import Conflict

# "Customer list updates must be done at least every 7 days."
UPDATE_EVERY = timedelta(days=7)
# The customer ids a refusal names at most (a member may hold many).
NAMED_CUSTOMERS = 20


class AdminNotAssignable(Conflict):
    """One rule wherever it is met: a team admin holds no customers (none is assigned to an admin, and a
    member holding customers is not made an admin)."""

    code = "admin-not-assignable"
    title = "Team admins are never assigned customers"


class TeamRole(StrEnum):
    LEADER = "leader"  # accepts referrals and can be assigned customers; sees the whole list
    ADMIN = "admin"  # accepts referrals but is never assigned a customer; sees the whole list
    MEMBER = "member"  # sees only the customers assigned to them


class CustomerStatus(StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    SHOWING = "showing"
    UNDER_CONTRACT = "under_contract"
    CLOSED = "closed"
    LOST = "lost"


# Customers in these statuses need no more updates: no reminders, out of the due index.
FINISHED_STATUSES = frozenset({CustomerStatus.CLOSED, CustomerStatus.LOST})


class ReferralStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    EXPIRED = "expired"


def team_pk(org_id: str, team_id: str) -> str:
    return f"ORG#{org_id}#TEAM#{team_id}"


def team_key(org_id: str, team_id: str) -> db.Key:
    return {"pk": team_pk(org_id, team_id), "sk": "TEAM"}


def team_member_key(org_id: str, team_id: str, user_id: str) -> db.Key:
    return {"pk": team_pk(org_id, team_id), "sk": f"MEMBER#{user_id}"}


def phone_key(phone: str) -> db.Key:
    return {"pk": f"PHONE#{phone}", "sk": "PHONE"}


def phone_link_key(phone: str, org_id: str, team_id: str) -> db.Key:
    return {"pk": f"PHONE#{phone}", "sk": f"TEAM#{org_id}#{team_id}"}


def team_customer_key(org_id: str, team_id: str, customer_id: str) -> db.Key:
    return {"pk": team_pk(org_id, team_id), "sk": f"CUSTOMER#{customer_id}"}


def assignee_index(org_id: str, team_id: str, user_id: str, assigned_at: str, customer_id: str) -> dict[str, str]:
    return {"gsi2pk": f"{team_pk(org_id, team_id)}#ASSIGNEE#{user_id}", "gsi2sk": f"{assigned_at}#{customer_id}"}


def due_partition(org_id: str) -> str:
    return f"ORG#{org_id}#CUSTOMERS_DUE"


def due_index(org_id: str, team_id: str, customer_id: str, due_at: str) -> dict[str, str]:
    return {"gsi3pk": due_partition(org_id), "gsi3sk": f"{due_at}#{team_id}#{customer_id}"}


def referral_key(org_id: str, request_id: str) -> db.Key:
    return {"pk": f"ORG#{org_id}#REFERRAL#{request_id}", "sk": "REQUEST"}


def offer_key(org_id: str, request_id: str, user_id: str) -> db.Key:
    return {"pk": f"ORG#{org_id}#REFERRAL#{request_id}", "sk": f"OFFER#{user_id}"}


def code_key(org_id: str, team_id: str, code: str) -> db.Key:
    return {"pk": f"{team_pk(org_id, team_id)}#CODE#{code}", "sk": "CODE"}


def inbound_message_owner(message_sid: str) -> str:
    return f"SMS#{message_sid}"


# The notice of an inbound message (common.teams.text_replies): acted on once, with the reply it got.
INBOUND_NOTICE = "reply"


def inbound_message_key(message_sid: str) -> db.Key:
    return notices.notice_key(inbound_message_owner(message_sid), INBOUND_NOTICE)


TEAM_ORGS = "TEAM_ORGS"


def team_org_key(org_id: str) -> db.Key:
    return {"pk": TEAM_ORGS, "sk": f"ORG#{org_id}"}


def orgs_with_teams(*, client: Any = None) -> Iterator[list[db.Item]]:
    """Pages of the organisations that have teams: where the team sweeps look."""
    return listings.pages(key_condition="pk = :pk", values={":pk": TEAM_ORGS}, limit=100, client=client)
