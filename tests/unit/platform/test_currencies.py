"""The ISO 4217 table: the codes taken as input and the minor units every money answer carries."""

from __future__ import annotations

import pytest
from common.platform.currencies import MINOR_UNITS, CurrencyCode, format_amount, minor_units, money_fields
from pydantic import TypeAdapter, ValidationError


def test_minor_units_follow_iso_4217() -> None:
    assert (MINOR_UNITS["JPY"], MINOR_UNITS["EUR"], MINOR_UNITS["BHD"], MINOR_UNITS["CLF"]) == (0, 2, 3, 4)
    assert money_fields("KWD") == {"currency": "KWD", "minor_units": 3}
    assert money_fields(None) == {"currency": None, "minor_units": None}
    assert format_amount(1500, "ISK") == "1,500 ISK"


@pytest.mark.parametrize("code", ["ABC", "eur", "EURO", "XAU", "XXX", "HRK", ""])
def test_anything_but_an_active_code_with_a_minor_unit_is_refused(code: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(CurrencyCode).validate_python(code)
    assert minor_units(code) is None


def test_the_document_lists_the_codes() -> None:
    schema = TypeAdapter(CurrencyCode).json_schema()
    assert schema["enum"] == sorted(MINOR_UNITS) and "AUD" in schema["enum"]
