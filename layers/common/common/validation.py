"""Reusable field types for request models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

# Deliberately simple: the address is checked for shape; deliverability is SES's business.
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 ()\-.]{4,29}$")]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
ENTITY_ID_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"
EntityId = Annotated[str, StringConstraints(pattern=ENTITY_ID_PATTERN)]
# Users (staff and partners alike) are known by their Cognito `sub`.
USER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$"
UserRef = Annotated[str, StringConstraints(pattern=USER_ID_PATTERN)]
EmailList = Annotated[list[Email], Field(max_length=10)]


# Times we store in sort keys must be ordinary UTC instants, written with four-digit years.
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def _plausible(moment: datetime) -> datetime:
    try:
        utc = moment.astimezone(UTC)
    except OverflowError as error:
        raise ValueError("is out of range") from error
    if not _EARLIEST <= utc < _LATEST:
        raise ValueError("must be between 2000-01-01 and 2100-01-01 (UTC)")
    return utc


Instant = Annotated[AwareDatetime, AfterValidator(_plausible)]
