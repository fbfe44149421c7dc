"""A lead's local time: its IANA time zone (given, derived from its address, or the organisation's fallback)
and the organisation's queue hours read in that zone, daylight saving time included.

Zones come from the standard library's zoneinfo, which reads the system's tz database and falls back to the
`tzdata` package (pinned in the run-time lock, so the layer carries it whatever the runtime image holds)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, StringConstraints

from common.leads.region_zones import CA_PROVINCES, REGION_NAMES, SINGLE_ZONE_COUNTRIES, US_STATES

# An IANA name ("America/New_York", "UTC", "Etc/GMT+5"): areas and locations of letters, digits, _ + -.
ZONE_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9][A-Za-z0-9_+\-]*){0,2}$"
# Files of the system's database that are not zones, and its alternative trees (absent from `tzdata`).
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory", "leapseconds", "leap-seconds"})
_OTHER_TREES = ("posix/", "right/")
EXAMPLE_ZONE = "America/New_York"


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def is_zone_name(name: str) -> bool:
    """Whether `name` is a time zone of the tz database, the same answer wherever the code runs."""
    if not re.fullmatch(ZONE_NAME_PATTERN, name) or name in _NOT_ZONES or name.startswith(_OTHER_TREES):
        return False
    try:
        zone(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def _checked_zone(name: str) -> str:
    if not is_zone_name(name):
        raise ValueError(f"not a time zone of the IANA database (e.g. {EXAMPLE_ZONE})")
    return name


ZoneName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=64, pattern=ZONE_NAME_PATTERN),
    AfterValidator(_checked_zone),
    Field(description=f"an IANA time zone name, e.g. {EXAMPLE_ZONE}", examples=[EXAMPLE_ZONE]),
]


class ZoneSource(StrEnum):
    GIVEN = "given"  # the lead came with its time_zone
    ADDRESS = "address"  # derived from its address's state, province or country
    ORGANISATION = "organisation"  # the organisation's fallback: no zone and no address that names one


def zone_of_address(country: str | None, region: str | None) -> str | None:
    """The zone of a US state or territory, a Canadian province or territory (by code or name; the country
    may be left out for them), or of a country that has one zone. None when the address does not say."""
    code = (region or "").strip()
    code = REGION_NAMES.get(code.lower(), code.upper())
    if country in (None, "US") and code in US_STATES:
        return US_STATES[code]
    if country in (None, "CA") and code in CA_PROVINCES:
        return CA_PROVINCES[code]
    return SINGLE_ZONE_COUNTRIES.get(country) if country else None


def lead_zone(given: str | None, country: str | None, region: str | None, fallback: str) -> tuple[str, ZoneSource]:
    if given:
        return given, ZoneSource.GIVEN
    derived = zone_of_address(country, region)
    if derived:
        return derived, ZoneSource.ADDRESS
    return fallback, ZoneSource.ORGANISATION


# -- queue hours ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hours:
    """Local hours [opens, closes): closes before opens spans midnight (22:00 to 06:00)."""

    opens: time
    closes: time

    def contain(self, moment: datetime, zone_name: str) -> bool:
        local = moment.astimezone(zone(zone_name)).time().replace(tzinfo=None)
        if self.opens < self.closes:
            return self.opens <= local < self.closes
        return local >= self.opens or local < self.closes

    def next_opening(self, moment: datetime, zone_name: str) -> datetime:
        """The first instant at or after `moment` inside the hours, in UTC."""
        if self.contain(moment, zone_name):
            return moment.astimezone(UTC)
        local_day = moment.astimezone(zone(zone_name)).date()
        for days in range(3):
            opening = first_instant_at(local_day + timedelta(days=days), self.opens, zone_name)
            # An opening inside a skipped hour (DST) lands after it: still inside the hours, unless they
            # lay wholly in the skipped hour, which leaves that day without hours.
            if opening > moment and self.contain(opening, zone_name):
                return opening
        raise AssertionError("hours open every day")  # three days cover any jump of the clocks


def first_instant_at(day: date, wall: time, zone_name: str) -> datetime:
    """The first instant (UTC) at which the local clock of `day` reads `wall` or later: the earlier one when
    the clocks go back and the time happens twice, the end of the skipped hour when they go forward past it."""
    tz = zone(zone_name)
    naive = datetime.combine(day, wall)
    candidates = [naive.replace(tzinfo=tz, fold=fold).astimezone(UTC) for fold in (0, 1)]
    existing = [c for c in candidates if c.astimezone(tz).replace(tzinfo=None) == naive]
    if existing:
        return min(existing)
    # Skipped: the clock jumps from before `wall` to after it between the two candidates; find that jump.
    before, after = min(candidates), max(candidates)
    while after - before > timedelta(seconds=1):
        middle = before + (after - before) / 2
        if middle.astimezone(tz).replace(tzinfo=None) >= naive:
            after = middle
        else:
            before = middle
    return after.replace(microsecond=0)
