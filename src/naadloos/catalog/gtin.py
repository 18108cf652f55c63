"""GTIN (EAN-8, UPC-A, EAN-13, GTIN-14): digits with a GS1 mod-10 check digit."""

from __future__ import annotations

LENGTHS = (8, 12, 13, 14)


def check_digit(body: str) -> int:
    """The GS1 check digit of the digits before it: weights 3 and 1 from the right."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def problem(value: str) -> str | None:
    """Why `value` is not a GTIN, or None if it is one."""
    if not value.isdigit() or not value.isascii():
        return "a GTIN has digits only"
    if len(value) not in LENGTHS:
        return f"a GTIN has 8, 12, 13 or 14 digits, not {len(value)}"
    expected = check_digit(value[:-1])
    if int(value[-1]) != expected:
        return f"check digit is {value[-1]}, it should be {expected}"
    return None


def normalise(value: str) -> str:
    """GTIN-14 form, so an EAN-13 and the same UPC-A printed as 12 digits are one code."""
    return value.zfill(14)
