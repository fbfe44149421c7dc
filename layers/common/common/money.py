"""Money as integer minor units plus an ISO 4217 currency; never floats."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from .currencies import CurrencyCode, minor_units


class CurrencyMismatch(ValueError):
    pass


class Money(BaseModel):
    model_config = ConfigDict(frozen=True)

    amount_minor: int
    currency: CurrencyCode

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


def format_amount(amount: int, currency: str) -> str:
    """Minor units as a reader writes them: 123456 EUR -> "1,234.56 EUR" (integer arithmetic only)."""
    decimals = minor_units(currency)
    decimals = 2 if decimals is None else decimals
    sign, units = ("-" if amount < 0 else ""), abs(amount)
    whole, fraction = divmod(units, 10**decimals)
    text = f"{whole:,}" + (f".{fraction:0{decimals}d}" if decimals else "")
    return f"{sign}{text} {currency}"
