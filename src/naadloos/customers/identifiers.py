"""Identifier types and their policies: how a value is normalised, which values are never
trusted (blocklist), how much a type says about a person (priority), and whether it is strong:
a person holds at most one of a strong type, and two persons holding different values of a
strong type are never joined (merge protection)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import NamedTuple

import phonenumbers
from email_validator import EmailNotValidError, validate_email

DEFAULT_PHONE_REGION = "NL"


class IdentifierType(StrEnum):
    USER_ID = "user_id"
    LOYALTY_CARD = "loyalty_card"
    EMAIL = "email"
    PHONE = "phone"
    WHATSAPP = "whatsapp"
    INSTAGRAM = "instagram"
    FACEBOOK = "facebook"
    RECEIPT = "receipt"
    EXTERNAL_ID = "external_id"  # a record's id in a source system: `<channel>/<id>`
    ANONYMOUS_ID = "anonymous_id"


class InvalidIdentifier(ValueError):
    """A value that is not a valid identifier of its type."""


def _email(value: str) -> str:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise InvalidIdentifier(f"not an email address: {exc}") from exc


def _phone(value: str) -> str:
    try:
        number = phonenumbers.parse(value.strip(), DEFAULT_PHONE_REGION)
    except phonenumbers.NumberParseException as exc:
        raise InvalidIdentifier(f"not a phone number: {exc}") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidIdentifier("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _handle(value: str) -> str:
    handle = value.strip().lstrip("@").lower()
    if not re.fullmatch(r"[a-z0-9._]{1,100}", handle):
        raise InvalidIdentifier("not a social handle")
    return handle


def _code(value: str) -> str:
    code = re.sub(r"[\s-]", "", value).upper()
    if not code or len(code) > 100:
        raise InvalidIdentifier("empty or longer than 100 characters")
    return code


def _opaque(value: str) -> str:
    text = value.strip()
    if not text or len(text) > 255:
        raise InvalidIdentifier("empty or longer than 255 characters")
    return text


@dataclass(frozen=True)
class IdentifierPolicy:
    type: IdentifierType
    priority: int
    strong: bool
    normalize: object  # Callable[[str], str]; kept as object so the dataclass stays hashable
    blocked_values: frozenset[str] = frozenset()
    blocked_patterns: tuple[re.Pattern[str], ...] = field(default=())
    # At most this many merges through one value within the window; past it the value is
    # shared (a shop's phone number typed in for every walk-in customer), not a bridge.
    merge_limit: int | None = None
    merge_window: timedelta = timedelta(days=30)

    def normalized(self, raw: object) -> str:
        if raw is None or isinstance(raw, bool | dict | list):
            raise InvalidIdentifier("not a scalar value")
        value: str = self.normalize(str(raw))  # type: ignore[operator]
        return value

    def blocks(self, value: str) -> bool:
        return value in self.blocked_values or any(p.search(value) for p in self.blocked_patterns)


_JUNK = frozenset({"null", "none", "undefined", "unknown", "anonymous", "test", "0", "-1", "nan"})

POLICIES: dict[IdentifierType, IdentifierPolicy] = {
    p.type: p
    for p in (
        IdentifierPolicy(IdentifierType.USER_ID, 100, True, _opaque, _JUNK),
        IdentifierPolicy(IdentifierType.LOYALTY_CARD, 90, True, _code, frozenset({"0", "0000"})),
        IdentifierPolicy(
            IdentifierType.EMAIL,
            80,
            False,
            _email,
            frozenset({"test@test.com", "test@example.com", "noreply@example.com"}),
            (
                re.compile(r"^(no-?reply|donotreply|geen-?email|noemail)@"),
                re.compile(r"@(example\.(com|org|net|nl)|test\.nl|mailinator\.com)$"),
            ),
            merge_limit=3,
        ),
        IdentifierPolicy(
            IdentifierType.PHONE,
            70,
            False,
            _phone,
            frozenset({"+31600000000", "+31612345678", "+31201234567"}),
            merge_limit=3,
        ),
        IdentifierPolicy(IdentifierType.WHATSAPP, 65, False, _phone, merge_limit=3),
        IdentifierPolicy(IdentifierType.INSTAGRAM, 50, False, _handle),
        IdentifierPolicy(IdentifierType.FACEBOOK, 50, False, _handle),
        IdentifierPolicy(IdentifierType.EXTERNAL_ID, 85, False, _opaque),
        IdentifierPolicy(IdentifierType.RECEIPT, 20, False, _code, merge_limit=1),
        IdentifierPolicy(
            IdentifierType.ANONYMOUS_ID,
            10,
            False,
            _opaque,
            _JUNK | {"00000000-0000-0000-0000-000000000000"},
            # Shared till and kiosk devices identify a shop, not a person.
            (re.compile(r"^(till|pos|kiosk|kassa|shared)[-_:]", re.IGNORECASE),),
            merge_limit=5,
        ),
    )
}

STRONG_TYPES = frozenset(t for t, p in POLICIES.items() if p.strong)

# Where identifiers are found in Segment traits (identify traits and context.traits).
TRAIT_IDENTIFIERS: dict[str, IdentifierType] = {
    "email": IdentifierType.EMAIL,
    "phone": IdentifierType.PHONE,
    "loyalty_card": IdentifierType.LOYALTY_CARD,
    "loyaltyCard": IdentifierType.LOYALTY_CARD,
    "whatsapp": IdentifierType.WHATSAPP,
    "instagram": IdentifierType.INSTAGRAM,
    "facebook": IdentifierType.FACEBOOK,
    "receipt_id": IdentifierType.RECEIPT,
    "external_id": IdentifierType.EXTERNAL_ID,
}


class IdentifierRef(NamedTuple):
    """A normalised identifier: the pair that is unique in the graph. A tuple, so that hashing
    and comparing one (a batch does so some fifteen times a message) runs in C."""

    type: IdentifierType
    value: str

    @property
    def policy(self) -> IdentifierPolicy:
        return POLICIES[self.type]

    def __str__(self) -> str:
        return f"{self.type}:{self.value}"


def parse_ref(type_: str, raw: object) -> IdentifierRef:
    """Normalise `raw` as an identifier of `type_`; InvalidIdentifier if it is not one."""
    try:
        kind = IdentifierType(type_)
    except ValueError as exc:
        known = ", ".join(t.value for t in IdentifierType)
        raise InvalidIdentifier(f"unknown identifier type {type_!r}; known: {known}") from exc
    return IdentifierRef(kind, POLICIES[kind].normalized(raw))
