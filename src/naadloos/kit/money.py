"""Money: integer minor units with an ISO 4217 currency. Prices are VAT-inclusive and keep their
VAT rate (DESIGN: rules of the house, 7)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import StringConstraints

# Currencies a European retailer meets, with their minor units; ISO 4217.
MINOR_UNITS = {
    "EUR": 2,
    "GBP": 2,
    "USD": 2,
    "CHF": 2,
    "DKK": 2,
    "SEK": 2,
    "NOK": 2,
    "PLN": 2,
    "CZK": 2,
    "HUF": 2,
    "JPY": 0,
}
DEFAULT_CURRENCY = "EUR"

Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


def known_currency(code: str) -> bool:
    return code in MINOR_UNITS


def vat_basis_points(rate: Decimal) -> int:
    """21.00 (per cent) -> 2100."""
    return int((rate * 100).to_integral_value())


def vat_rate(basis_points: int) -> Decimal:
    """2100 -> Decimal('21.00')."""
    return (Decimal(basis_points) / 100).quantize(Decimal("0.01"))


def vat_included(amount: int, rate: Decimal) -> int:
    """The VAT inside a VAT-inclusive amount of minor units, rounded half up:
    12100 at 21% -> 2100."""
    if rate <= 0:
        return 0
    exact = Decimal(amount) * rate / (Decimal(100) + rate)
    return int(exact.quantize(Decimal(1), rounding="ROUND_HALF_UP"))
