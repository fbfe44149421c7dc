"""States and provinces: the two-letter codes of the US states (and the District of Columbia) and of Canada's
provinces and territories, by country, with each country's postal code form.

Addresses of customers bought from partner companies are in the US or Canada. A state is checked against the
address's country (TX is no Canadian province). The US territories (Puerto Rico, Guam, the US Virgin Islands,
American Samoa, the Northern Mariana Islands) have ISO 3166-1 country codes of their own (PR, GU, VI, AS, MP)
and are not states, so they are refused as states of the US.
"""

from __future__ import annotations

import re
from typing import Literal

Country = Literal["US", "CA"]

_US = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND "
    "OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY"
)
_CANADA = "AB BC MB NB NL NS NT NU ON PE QC SK YT"  # ten provinces, three territories
US_STATES = frozenset(_US.split())
CANADIAN_PROVINCES = frozenset(_CANADA.split())

STATES: dict[str, frozenset[str]] = {"US": US_STATES, "CA": CANADIAN_PROVINCES}

# ZIP or ZIP+4; a Canadian postal code (letter digit letter, digit letter digit), the space optional.
_POSTAL_CODES = {"US": re.compile(r"[0-9]{5}(-[0-9]{4})?"), "CA": re.compile(r"[A-Z][0-9][A-Z] ?[0-9][A-Z][0-9]")}
POSTAL_CODE_FORMS = {"US": "a ZIP code (12345 or 12345-6789)", "CA": "a Canadian postal code (K1A 0B1)"}


def check_state(country: str, state: str) -> str:
    """The state, if it is one of the country's; ValueError naming what the country takes otherwise."""
    if state not in STATES[country]:
        kind = "US state" if country == "US" else "Canadian province or territory"
        raise ValueError(f"{state} is not the two-letter code of a {kind}")
    return state


def check_postal_code(country: str, postal_code: str) -> str:
    """The postal code, upper-cased, if it has the country's form; ValueError otherwise."""
    code = postal_code.upper()
    if not _POSTAL_CODES[country].fullmatch(code):
        raise ValueError(f"must be {POSTAL_CODE_FORMS[country]}")
    return code
