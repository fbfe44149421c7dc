"""What a removal request is made of, shared by the customer's answer and the requests themselves: the
reasons a member may give for removing a customer from the team's list, and the open request a customer
carries.

    removal request  ORG#<org>#REMOVAL#<removal> / REQUEST   entity "removal_request"
                     gsi1 ORG#<org>#REMOVALS_OPEN / <requestedAt>#<removal> while open: the staff's list
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from common.platform import db
from common.platform.answers import Answer, Timestamp


class RemovalReason(StrEnum):
    NO_CONTACT = "no_contact"
    LOST_TOUCH = "lost_touch"
    CHANGED_MIND = "changed_mind"
    OUT_OF_AREA = "out_of_area"
    ACTIVE_HAND_OFF = "active_hand_off"
    BAD_FIT = "bad_fit"
    CANNOT_QUALIFY = "cannot_qualify"
    WORKING_WITH_ANOTHER_AGENT = "working_with_another_agent"
    LOOKING_TO_RENT = "looking_to_rent"


# Reasons staff decide (reassign the customer to another team, or close it as lost); the others close the
# customer as lost at once.
STAFF_DECIDES = frozenset({RemovalReason.ACTIVE_HAND_OFF, RemovalReason.BAD_FIT})


class RemovalStatus(StrEnum):
    OPEN = "open"
    DECIDED = "decided"


class RemovalOutcome(StrEnum):
    REASSIGNED = "reassigned"
    LOST = "lost"


# The customer's field holding its open request (one at a time), and the reason it was closed as lost for.
OPEN_REQUEST = "removal_request"
LOST_REASON = "lost_reason"


class OpenRemoval(Answer):
    """The removal request a customer waits on (staff decide it)."""

    removal_id: str
    reason: RemovalReason
    requested_at: Timestamp
    requested_by: str = Field(description="user:<id>")


def removal_key(org_id: str, removal_id: str) -> db.Key:
    return {"pk": f"ORG#{org_id}#REMOVAL#{removal_id}", "sk": "REQUEST"}


def open_partition(org_id: str) -> str:
    return f"ORG#{org_id}#REMOVALS_OPEN"


def open_index(org_id: str, requested_at: str, removal_id: str) -> dict[str, str]:
    return {"gsi1pk": open_partition(org_id), "gsi1sk": f"{requested_at}#{removal_id}"}
