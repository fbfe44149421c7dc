"""ISO 4217: the active currency codes and each one's minor unit (how many decimals its amounts have).

Money is integer minor units plus a currency; every answer that carries a currency also says its minor
units (`money_fields`), so a client formats an amount without a table of its own. Only the codes below
are accepted as input: codes without a minor unit (precious metals, XDR, XSU, XUA, the test and "no
currency" codes) are refused, since their amounts cannot be integer minor units, and so are withdrawn
codes (e.g. HRK, SLL, ANG, BGN: replaced by EUR, SLE, XCG and EUR).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, WithJsonSchema

_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_FOUR = "CLF UYW"
_TWO = (
    "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF "
    "CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL "
    "HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU "
    "MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR "
    "SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED "
    "VES WST XCD XCG YER ZAR ZMW ZWG"
)

# code -> minor-unit exponent: an amount of 1234 is 12.34 EUR, 1234 JPY, 1.234 BHD.
MINOR_UNITS: dict[str, int] = {
    code: exponent for codes, exponent in ((_ZERO, 0), (_TWO, 2), (_THREE, 3), (_FOUR, 4)) for code in codes.split()
}

MINOR_UNITS_DESCRIPTION = "the currency's minor-unit exponent (ISO 4217): amounts are in 10^-minor_units of it"


def _iso_4217(code: str) -> str:
    if code not in MINOR_UNITS:
        raise ValueError("is not an active ISO 4217 currency code (three capital letters, e.g. EUR)")
    return code


# An input currency: one of MINOR_UNITS' codes (422 naming the field otherwise); the document lists them.
CurrencyCode = Annotated[
    str,
    AfterValidator(_iso_4217),
    WithJsonSchema({"type": "string", "enum": sorted(MINOR_UNITS), "description": "an active ISO 4217 code"}),
]


def minor_units(currency: str | None) -> int | None:
    """The exponent of a stored currency; None for none (or a code stored before only ISO 4217 was taken)."""
    return MINOR_UNITS.get(currency) if currency else None


def money_fields(currency: str | None) -> dict[str, Any]:
    """What an answer says beside an amount: the currency and its minor units."""
    return {"currency": currency, "minor_units": minor_units(currency)}


def with_minor_units(money: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A stored amount and currency (e.g. a deal's value) as answered: with the currency's minor units."""
    return {**money, **money_fields(money.get("currency"))} if money else None


def format_amount(amount: int, currency: str) -> str:
    """Minor units as a reader writes them: 123456 EUR -> "1,234.56 EUR" (integer arithmetic only)."""
    decimals = minor_units(currency)
    decimals = 2 if decimals is None else decimals
    sign, units = ("-" if amount < 0 else ""), abs(amount)
    whole, fraction = divmod(units, 10**decimals)
    text = f"{whole:,}" + (f".{fraction:0{decimals}d}" if decimals else "")
    return f"{sign}{text} {currency}"
