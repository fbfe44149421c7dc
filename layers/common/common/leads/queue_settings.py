"""The organisation's queue settings (the product's global lead settings): how long a lead a rep requested
and put back is held out of the queue, the queue hours in each lead's own time zone, whether a lead with the
phone number or e-mail address of an earlier one is taken, and the time zone of leads that do not say theirs.

    queue settings   ORG#<org> / QUEUE_SETTINGS      absent: the defaults (today's behaviour)

Read by any member; changed with leads:manage. Intake reads them (one GetItem); the claim reads them with the
caller's membership in one BatchGetItem (`claimant`), so a claim still makes one read before its query."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator, model_validator

from common.leads.companies import QueuePriority
from common.leads.model import queue_position
from common.leads.time_zones import Hours, ZoneName, ZoneSource, lead_zone
from common.orgs.access import Member, Permission, Principal, checked_member, member_key, require_user
from common.platform import clock, db
from common.platform.answers import Answer, Timestamp

SETTINGS_ENTITY = "queue_settings"
MAX_HOLD_MINUTES = 24 * 60
MAX_DUPLICATE_DAYS = 3650
DEFAULT_FALLBACK_ZONE = "UTC"

LocalTime = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$"),
    Field(description="local time of day, HH:MM (24-hour clock)"),
]


def settings_key(org_id: str) -> db.Key:
    return {"pk": f"ORG#{org_id}", "sk": "QUEUE_SETTINGS"}


class QueueHours(BaseModel):
    """When leads are served, in each lead's own time zone; `until` before `from` spans midnight."""

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, json_schema_extra={"examples": [{"from": "09:00", "until": "17:30"}]}
    )
    opens: LocalTime = Field(alias="from", description="the first minute served (HH:MM)")
    until: LocalTime = Field(description="the first minute no longer served (HH:MM)")

    @model_validator(mode="after")
    def _not_empty(self) -> QueueHours:
        if self.opens == self.until:
            raise ValueError("from and until are the same time: for a queue served at any hour, queue_hours is null")
        return self

    def hours(self) -> Hours:
        return Hours(time.fromisoformat(self.opens), time.fromisoformat(self.until))


class DuplicateRule(StrEnum):
    ALWAYS = "always"  # any lead is taken (the default)
    AFTER_DAYS = "after_days"  # a lead like one received in the last `days` days is refused
    NEVER = "never"  # a lead like any earlier one is refused


class Duplicates(BaseModel):
    """Whether a lead with the phone number or e-mail address of an earlier lead is taken."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"allowed": "after_days", "days": 30}]})
    allowed: DuplicateRule = Field(
        DuplicateRule.ALWAYS,
        description="always: duplicates are taken; after_days: refused within `days` days of the earlier lead; "
        "never: always refused",
    )
    days: int | None = Field(
        None, ge=1, le=MAX_DUPLICATE_DAYS, validate_default=True, description="after_days only: the window in days"
    )

    @field_validator("days")
    @classmethod
    def _days_for_after_days(cls, days: int | None, info: ValidationInfo) -> int | None:
        rule = info.data.get("allowed")
        if rule is DuplicateRule.AFTER_DAYS and days is None:
            raise ValueError("required when duplicates are allowed after a number of days")
        if rule is not None and rule is not DuplicateRule.AFTER_DAYS and days is not None:
            raise ValueError("only when duplicates are allowed after a number of days")
        return days

    def window_start(self, now: datetime) -> str | None:
        """The oldest receipt time that still makes a lead a duplicate: "" for never (every earlier lead),
        None when duplicates are always taken."""
        if self.allowed is DuplicateRule.NEVER:
            return ""
        if self.allowed is DuplicateRule.AFTER_DAYS and self.days:
            return clock.iso(now - timedelta(days=self.days))
        return None


class QueueSettingsChange(BaseModel):
    """The whole of the queue settings (a field left out takes its default)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "put_back_hold_minutes": 30,
                    "queue_hours": {"from": "09:00", "until": "20:00"},
                    "duplicates": {"allowed": "after_days", "days": 30},
                    "fallback_time_zone": "America/Chicago",
                }
            ]
        },
    )
    put_back_hold_minutes: int = Field(
        0,
        ge=0,
        le=MAX_HOLD_MINUTES,
        description="a lead requested from the queue and put back is not served again for this many minutes "
        "(0: at once, or at its new contact time)",
    )
    queue_hours: QueueHours | None = Field(
        None, description="when leads are served, in each lead's time zone; null: at any hour"
    )
    duplicates: Duplicates = Field(default_factory=Duplicates)
    fallback_time_zone: ZoneName = Field(
        DEFAULT_FALLBACK_ZONE,
        description="the time zone of a lead that names none and whose address does not say (IANA name)",
    )


class QueueSettings(QueueSettingsChange, Answer):
    """The queue settings in force (the defaults until they are first saved)."""

    model_config = Answer.model_config
    org_id: str
    updated_at: Timestamp | None = Field(None, description="null until first saved")
    updated_by: str | None = Field(None, description="who saved them last (user:<id>)")

    def ready_at(self, earliest: datetime, zone_name: str) -> str:
        """When a lead of `zone_name` that could be served from `earliest` on is next served."""
        hours = self.hours()
        return clock.iso(hours.next_opening(earliest, zone_name) if hours else earliest)

    def hours(self) -> Hours | None:
        return self.queue_hours.hours() if self.queue_hours else None

    def zone_of(self, lead: Mapping[str, Any], given: str | None = None) -> tuple[str, ZoneSource]:
        """A lead's time zone: `given`, else the one it has, else from its address, else the fallback."""
        address = (lead.get("contact") or {}).get("address") or {}
        given = given or lead.get("time_zone")
        return lead_zone(given, address.get("country"), address.get("region"), self.fallback_time_zone)

    def placed(self, lead: db.Item, given_zone: str | None = None) -> db.Item:
        """A new lead with its time zone; when it is queued, ready at the next opening of the queue hours in
        that zone (at once when they are open or unset)."""
        zone_name, source = self.zone_of(lead, given_zone)
        placed = lead | {"time_zone": zone_name, "time_zone_source": source.value}
        if "gsi3pk" in lead:
            placed |= self.queue_place(placed, datetime.fromisoformat(lead["available_at"]))
        return placed

    def queue_place(self, lead: Mapping[str, Any], earliest: datetime) -> dict[str, str]:
        """`available_at` and the queue position of a lead that may be served from `earliest` on."""
        available_at = self.ready_at(earliest, self.zone_of(lead)[0])
        priority = QueuePriority(lead["priority"])
        return {"available_at": available_at, "gsi3sk": queue_position(priority, available_at, lead["lead_id"])}


def settings_of(org_id: str, item: db.Item | None) -> QueueSettings:
    return QueueSettings.of(item or {}, org_id=org_id)


def read_settings(org_id: str, *, client: Any = None) -> QueueSettings:
    return settings_of(org_id, db.get(settings_key(org_id), consistent=True, client=client))


def claimant(principal: Principal, org_id: str, *, client: Any = None) -> tuple[Member, QueueSettings]:
    """The caller as a member who may request leads, and the queue settings, in one round trip: both live
    in the organisation's partition, and BatchGetItem reads them consistently at once."""
    require_user(principal)
    member_at, settings_at = member_key(org_id, principal.subject), settings_key(org_id)
    found = {item["sk"]: item for item in db.batch_get([member_at, settings_at], consistent=True, client=client)}
    member = checked_member(principal, org_id, found.get(member_at["sk"]), Permission.REQUEST_LEADS)
    return member, settings_of(org_id, found.get(settings_at["sk"]))


def save_settings(org_id: str, member: Member, body: QueueSettingsChange, *, client: Any = None) -> QueueSettings:
    """Replace the settings (leads:manage). They apply to leads as they are taken in, put back or claimed
    from then on."""
    item = {
        **settings_key(org_id),
        "entity": SETTINGS_ENTITY,
        **body.model_dump(mode="json", by_alias=True),
        "org_id": org_id,
        "updated_at": clock.now_iso(),
        "updated_by": member.actor,
    }
    db.put(item, client=client)
    return settings_of(org_id, item)
