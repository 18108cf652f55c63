"""Short codes people read aloud or scan: Crockford base32 (no I, L, O, U), so a code typed
with an O for a 0 or an l for a 1 still finds its cart."""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def short_code(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def normalised(code: str) -> str:
    """What a person typed or a scanner read, as stored: upper case, dashes and spaces left out."""
    return code.strip().upper().replace("-", "").replace(" ", "").translate(_READ_AS)


def pickup_code() -> str:
    """Six digits: said at the desk or shown as a QR."""
    return f"{secrets.randbelow(1_000_000):06d}"
