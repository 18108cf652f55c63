from __future__ import annotations

from decimal import Decimal

import pytest

from naadloos.kit.money import vat_included


@pytest.mark.parametrize(
    ("amount", "rate", "vat"),
    [
        (12100, "21", 2100),  # 100.00 + 21% VAT
        (8995, "21", 1561),  # 1561.12 rounds down
        (1995, "9", 165),  # 164.72 rounds up
        (121, "21", 21),
        (1000, "0", 0),
        (0, "21", 0),
        (-12100, "21", -2100),  # a refund carries its VAT back
    ],
)
def test_the_vat_inside_a_price(amount: int, rate: str, vat: int) -> None:
    assert vat_included(amount, Decimal(rate)) == vat
