"""Reusable field types for request models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

# Checked for shape, deliverability is SES's business; but only addresses SES can send to: ASCII local
# part, a dotted domain name (internationalised domains in their xn-- form), no spaces or control characters.
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=254,
        pattern=r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]{0,62}$",
    ),
]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 ()\-.]{4,29}$")]
# Text never carries control characters (they break e-mail headers and CSV exports); long text keeps its
# line breaks and tabs.
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")
]
LongText = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=4000, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$")
]
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
