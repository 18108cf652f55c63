from __future__ import annotations

import pytest

from naadloos.customers.identifiers import IdentifierType, InvalidIdentifier, parse_ref


@pytest.mark.parametrize(
    ("type_", "raw", "normalised"),
    [
        ("email", "  Jan.Jansen@Example.NL ", "jan.jansen@example.nl"),
        ("phone", "06 1234 5679", "+31612345679"),
        ("phone", "+32 470 12 34 56", "+32470123456"),
        ("loyalty_card", "nl-0042 7731", "NL00427731"),
        ("instagram", "@Stijl.En.Co", "stijl.en.co"),
        ("user_id", 42, "42"),
    ],
)
def test_identifiers_are_normalised(type_: str, raw: object, normalised: str) -> None:
    assert parse_ref(type_, raw).value == normalised


@pytest.mark.parametrize(
    ("type_", "raw"),
    [("email", "jan@"), ("phone", "12"), ("instagram", "no spaces please"), ("fax", "1")],
)
def test_invalid_identifiers_are_named(type_: str, raw: str) -> None:
    with pytest.raises(InvalidIdentifier):
        parse_ref(type_, raw)


@pytest.mark.parametrize(
    ("type_", "raw"),
    [
        ("email", "test@example.com"),
        ("email", "noreply@stijlenco.nl"),
        ("anonymous_id", "till-amsterdam-3"),
        ("user_id", "undefined"),
        ("phone", "0612345678"),
    ],
)
def test_test_values_and_shared_devices_are_blocked(type_: str, raw: str) -> None:
    ref = parse_ref(type_, raw)

    assert ref.policy.blocks(ref.value)


def test_strong_identifiers_outrank_weak_ones() -> None:
    user = parse_ref("user_id", "u1").policy
    device = parse_ref("anonymous_id", "d1").policy

    assert user.strong
    assert not device.strong
    assert user.priority > device.priority
    assert parse_ref("loyalty_card", "L1").type is IdentifierType.LOYALTY_CARD
