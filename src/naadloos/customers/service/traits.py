"""Trait merge rules. Each trait is kept with the time it was set; applying the rules is
order-independent, so a late event, a merge or a replay all give the same profile."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any


class Rule(StrEnum):
    MOST_RECENT = "most_recent"  # the latest value wins, even an empty one
    NON_EMPTY = "non_empty"  # the latest non-empty value wins (the default)
    FIRST = "first"  # the earliest value wins


RULES: dict[str, Rule] = {
    "created_at": Rule.FIRST,
    "first_channel": Rule.FIRST,
    "signup_store": Rule.FIRST,
    "marketing_opt_in": Rule.MOST_RECENT,
}


def _empty(value: Any) -> bool:
    return value is None or value in ("", [], {})


def apply(traits: dict[str, Any], times: dict[str, str], new: dict[str, Any], at: datetime) -> bool:
    """Apply traits set at `at` to (traits, times) in place; True if anything changed."""
    stamp = at.isoformat()
    changed = False
    for key, value in new.items():
        rule = RULES.get(key, Rule.NON_EMPTY)
        if rule is Rule.NON_EMPTY and _empty(value):
            continue
        known = times.get(key)
        if known is not None:
            before = datetime.fromisoformat(known)
            if (rule is Rule.FIRST and at >= before) or (rule is not Rule.FIRST and at < before):
                continue
        if traits.get(key) != value or known != stamp:
            traits[key] = value
            times[key] = stamp
            changed = True
    return changed


def combine(
    a: tuple[dict[str, Any], dict[str, str]], b: tuple[dict[str, Any], dict[str, str]]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The traits of two merged profiles, as if all their events had been applied to one."""
    traits, times = dict(a[0]), dict(a[1])
    for key, value in b[0].items():
        stamp = b[1].get(key)
        if stamp is None:
            continue
        apply(traits, times, {key: value}, datetime.fromisoformat(stamp))
    return traits, times
