"""Money as integer minor units plus an ISO 4217 currency; never floats."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CurrencyMismatch(ValueError):
    pass


class Money(BaseModel):
    model_config = ConfigDict(frozen=True)

    amount_minor: int
    currency: str = Field(pattern=r"^[A-Z]{3}$")

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} vs {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(amount_minor=self.amount_minor + other.amount_minor, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(amount_minor=self.amount_minor - other.amount_minor, currency=self.currency)

    def __neg__(self) -> Money:
        return Money(amount_minor=-self.amount_minor, currency=self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(amount_minor=0, currency=currency)


# ISO 4217 currencies whose minor unit is not the hundredth.
_DECIMALS = {
    **dict.fromkeys(
        (
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}


def format_amount(amount: int, currency: str) -> str:
    """Minor units as a reader writes them: 123456 EUR -> "1,234.56 EUR" (integer arithmetic only)."""
    decimals = _DECIMALS.get(currency, 2)
    sign, units = ("-" if amount < 0 else ""), abs(amount)
    whole, fraction = divmod(units, 10**decimals)
    text = f"{whole:,}" + (f".{fraction:0{decimals}d}" if decimals else "")
    return f"{sign}{text} {currency}"
