"""A lead's time zone and the queue hours read in it: names, addresses, hours across midnight, and the days
the clocks change."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from common.leads import region_zones
from common.leads.time_zones import Hours, ZoneSource, first_instant_at, is_zone_name, lead_zone, zone_of_address

NEW_YORK = "America/New_York"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize("name", ["America/New_York", "UTC", "Etc/GMT+5", "America/Argentina/Buenos_Aires"])
def test_zone_names_of_the_database_are_zones(name: str) -> None:
    assert is_zone_name(name)


@pytest.mark.parametrize(
    "name",
    ["Mars/Olympus_Mons", "america/new york", "../../etc/passwd", "/etc/localtime", "localtime", "posixrules",
     "posix/America/New_York", "right/UTC", "America//New_York", "", "A" * 70],
)  # fmt: skip
def test_anything_else_is_not(name: str) -> None:
    assert not is_zone_name(name)


def test_every_zone_the_tables_name_is_in_the_database() -> None:
    tables = (region_zones.US_STATES, region_zones.CA_PROVINCES, region_zones.SINGLE_ZONE_COUNTRIES)
    names = {zone for table in tables for zone in table.values()}
    assert [name for name in sorted(names) if not is_zone_name(name)] == []
    assert set(region_zones.REGION_NAMES.values()) <= set(region_zones.US_STATES) | set(region_zones.CA_PROVINCES)


@pytest.mark.parametrize(
    ("country", "region", "zone"),
    [
        ("US", "TX", "America/Chicago"),
        ("US", "ca", "America/Los_Angeles"),
        ("US", "New York", NEW_YORK),
        (None, "AZ", "America/Phoenix"),  # a state's code needs no country
        ("CA", "BC", "America/Vancouver"),
        ("CA", "Québec", "America/Toronto"),
        (None, "NL", "America/St_Johns"),  # Newfoundland: the region is a province, the country unnamed
        ("NL", None, "Europe/Amsterdam"),  # the Netherlands: one zone
        ("JP", "Tokyo", "Asia/Tokyo"),
        ("GB", "CA", "Europe/London"),  # a region code that is a US state's means nothing in Britain
    ],
)
def test_the_zone_of_an_address(country: str | None, region: str | None, zone: str) -> None:
    assert zone_of_address(country, region) == zone


@pytest.mark.parametrize(("country", "region"), [("AU", "NSW"), ("BR", None), ("US", "Atlantis"), (None, None)])
def test_an_address_that_does_not_say(country: str | None, region: str | None) -> None:
    assert zone_of_address(country, region) is None


def test_a_given_zone_comes_first_then_the_address_then_the_organisations_fallback() -> None:
    assert lead_zone("Europe/Paris", "US", "TX", "UTC") == ("Europe/Paris", ZoneSource.GIVEN)
    assert lead_zone(None, "US", "TX", "UTC") == ("America/Chicago", ZoneSource.ADDRESS)
    assert lead_zone(None, "AU", None, "Australia/Sydney") == ("Australia/Sydney", ZoneSource.ORGANISATION)


DAY = Hours(time(9), time(17))
NIGHT = Hours(time(22), time(6))  # across midnight


@pytest.mark.parametrize(
    ("local", "inside"),
    [("08:59", False), ("09:00", True), ("16:59", True), ("17:00", False), ("23:00", False)],
)
def test_day_hours_include_from_and_exclude_until(local: str, inside: bool) -> None:
    moment = datetime.fromisoformat(f"2026-06-10T{local}").replace(tzinfo=ZoneInfo(NEW_YORK))
    assert DAY.contain(moment, NEW_YORK) is inside


@pytest.mark.parametrize(
    ("local", "inside"),
    [("21:59", False), ("22:00", True), ("23:59", True), ("00:00", True), ("05:59", True), ("06:00", False)],
)
def test_hours_across_midnight(local: str, inside: bool) -> None:
    moment = datetime.fromisoformat(f"2026-06-10T{local}").replace(tzinfo=ZoneInfo(NEW_YORK))
    assert NIGHT.contain(moment, NEW_YORK) is inside


def test_the_next_opening_is_now_when_open_else_the_next_from_time_in_the_leads_zone() -> None:
    assert DAY.next_opening(utc("2026-06-10T15:00"), NEW_YORK) == utc("2026-06-10T15:00")  # 11:00 EDT
    assert DAY.next_opening(utc("2026-06-10T22:00"), NEW_YORK) == utc("2026-06-11T13:00")  # 18:00 EDT: tomorrow
    assert DAY.next_opening(utc("2026-06-10T05:00"), NEW_YORK) == utc("2026-06-10T13:00")  # 01:00 EDT: today
    assert NIGHT.next_opening(utc("2026-06-10T16:00"), NEW_YORK) == utc("2026-06-11T02:00")  # 12:00 EDT: 22:00
    # The same instant in Tokyo is another local time: it is the lead's zone that counts.
    assert DAY.next_opening(utc("2026-06-10T22:00"), "Asia/Tokyo") == utc("2026-06-11T00:00")  # 07:00 JST


def test_hours_keep_local_time_across_the_change_to_summer_time() -> None:
    # New York moves its clocks forward on 8 March 2026 (02:00 EST becomes 03:00 EDT, at 07:00 UTC).
    assert DAY.next_opening(utc("2026-03-07T05:00"), NEW_YORK) == utc("2026-03-07T14:00")  # 09:00 EST
    assert DAY.next_opening(utc("2026-03-08T05:00"), NEW_YORK) == utc("2026-03-08T13:00")  # 09:00 EDT
    assert DAY.contain(utc("2026-03-08T20:59"), NEW_YORK)  # 16:59 EDT
    assert not DAY.contain(utc("2026-03-08T21:00"), NEW_YORK)  # 17:00 EDT, where 17:00 EST was 22:00 UTC


def test_an_opening_in_the_skipped_hour_is_when_the_clocks_jump() -> None:
    early = Hours(time(2, 30), time(8))
    # 02:30 does not happen on 8 March 2026 in New York: the clock reads 03:00 EDT at 07:00 UTC.
    assert first_instant_at(datetime(2026, 3, 8).date(), time(2, 30), NEW_YORK) == utc("2026-03-08T07:00")
    assert early.next_opening(utc("2026-03-08T05:00"), NEW_YORK) == utc("2026-03-08T07:00")
    # Hours wholly inside the skipped hour: none that day, the next day's instead.
    gone = Hours(time(2, 10), time(2, 40))
    assert gone.next_opening(utc("2026-03-08T05:00"), NEW_YORK) == utc("2026-03-09T06:10")  # 02:10 EDT


def test_an_opening_in_the_repeated_hour_is_its_first_occurrence() -> None:
    # New York's clocks go back on 1 November 2026: 01:30 happens at 05:30 UTC (EDT) and 06:30 UTC (EST).
    late = Hours(time(1, 30), time(5))
    assert late.next_opening(utc("2026-11-01T04:00"), NEW_YORK) == utc("2026-11-01T05:30")
    assert late.contain(utc("2026-11-01T06:45"), NEW_YORK)  # 01:45 EST, the second time round
    assert DAY.next_opening(utc("2026-11-01T05:00"), NEW_YORK) == utc("2026-11-01T14:00")  # 09:00 EST
