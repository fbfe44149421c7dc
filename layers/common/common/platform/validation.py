"""Reusable field types for request models."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, Field, GetCoreSchemaHandler, StringConstraints
from pydantic_core import PydanticCustomError, core_schema

# Checked for shape, deliverability is SES's business; but only addresses SES can send to: ASCII local
# part, a dotted domain name (internationalised domains in their xn-- form), no spaces or control characters.
DOMAIN_PATTERN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]{0,62}"
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=254,
        pattern=r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@" + DOMAIN_PATTERN + "$",
    ),
]
# A domain name as e-mail addresses end with it, lower-cased.
Domain = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=253, pattern=f"^{DOMAIN_PATTERN}$")
]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 ()\-.]{4,29}$")]
# A phone number as texts are addressed (E.164: a plus, a country code, at most 15 digits in all).
E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"
E164 = Annotated[str, StringConstraints(strip_whitespace=True, pattern=E164_PATTERN)]


def is_e164(number: str) -> bool:
    return re.fullmatch(E164_PATTERN, number) is not None


# Characters that people's text never needs: control characters (they break e-mail headers and CSV
# exports), format characters (bidi overrides and isolates reorder what is shown, zero-width characters
# and the BOM are invisible: either lets one name pass for another, or a file name hide its extension),
# and line and paragraph separators. Multi-line text keeps tab, LF and CR. (Lone surrogates never get here:
# pydantic refuses them as strings.)
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
_LINE_BREAKS = frozenset("\t\n\r")


@dataclass(frozen=True)
class VisibleText:
    """Marks a text field as human text: NFC-normalised before its other constraints are checked (so one
    name has one spelling, and lengths count what is stored), then refused if it holds a character of
    _HIDDEN_CATEGORIES; with multiline, tab, LF and CR are allowed."""

    multiline: bool = False

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        checked = core_schema.no_info_after_validator_function(self._check, handler(source))
        return core_schema.no_info_before_validator_function(_nfc, checked)

    def _check(self, text: str) -> str:
        for position, char in enumerate(text):
            if unicodedata.category(char) in _HIDDEN_CATEGORIES and not (self.multiline and char in _LINE_BREAKS):
                raise PydanticCustomError(
                    "hidden_character",
                    "must not contain control, invisible formatting or line separator characters "
                    "(U+{code} at position {position})",
                    {"code": f"{ord(char):04X}", "position": position},
                )
        return text


def _nfc(value: Any) -> Any:
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


SINGLE_LINE = VisibleText()
MULTI_LINE = VisibleText(multiline=True)

# Names, titles, subjects: one line. Notes, bodies, comments: several.
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), SINGLE_LINE]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000), MULTI_LINE]
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
