"""What a batch of a person's activity does to their profile (the persons table): when they
were first and last seen, through which channels, and their traits by the trait rules. Used by
tracking ingestion and by `record_activity` (what other modules saw a person do)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, or_, update
from sqlalchemy.orm import Session

from naadloos.customers.models import Person
from naadloos.customers.service import match
from naadloos.customers.service import traits as trait_rules
from naadloos.kit.bulk import lookup, update_rows
from naadloos.kit.db import UTCDateTime, table_of
from naadloos.kit.prepared import Prepared


@dataclass
class Touch:
    """What a batch saw of one person: the span of its events, their channels, the traits
    identify messages brought (with their times)."""

    first: datetime
    last: datetime
    channels: set[str] = field(default_factory=set)
    traits: list[tuple[dict[str, Any], datetime]] = field(default_factory=list)


def _fold(row: dict[str, Any], touch: Touch) -> None:
    """Fold the channels and traits a batch brought into a person's columns (a dict; the
    traits and their times only when it brought traits)."""
    if touch.traits:
        traits, times = dict(row["traits"]), dict(row["trait_times"])
        for new, at in touch.traits:
            trait_rules.apply(traits, times, new, at)
        row["traits"], row["trait_times"] = traits, times
    row["channels"] = sorted(set(row["channels"]) | touch.channels)


def fold_new(row: dict[str, Any], touch: Touch, now: datetime) -> None:
    """Fold what a batch did into the row of a person it made (every column of the table)."""
    _fold(row, touch)
    row["first_seen_at"] = min(touch.first, row["first_seen_at"] or touch.first)
    row["last_seen_at"] = max(touch.last, row["last_seen_at"] or touch.last)
    row["updated_at"] = now


def _later(column: Any, value: Any, *, earliest: bool) -> Any:
    """`value` where it is earlier (or later) than what `column` holds or the column is empty."""
    beats = column > value if earliest else column < value
    return case((or_(column.is_(None), beats), value), else_=column)


# When a person was first and last seen is folded in by the database itself: no read, and two
# batches of one person at once cannot put back each other's times.
_FOLD_SEEN = Prepared(
    update(table_of(Person))
    .where(Person.id == bindparam("person"))
    .values(
        first_seen_at=_later(
            Person.first_seen_at, bindparam("first", type_=UTCDateTime), earliest=True
        ),
        last_seen_at=_later(
            Person.last_seen_at, bindparam("last", type_=UTCDateTime), earliest=False
        ),
        updated_at=bindparam("now", type_=UTCDateTime),
    )
)
_CHANNELS = ("channels",)
_TRAITS = ("channels", "traits", "trait_times")


def update_profiles(
    session: Session, touched: dict[uuid.UUID, Touch], now: datetime
) -> set[uuid.UUID]:
    """Fold a batch into existing persons: when they were seen in one executemany without a
    read; where (channels) and their traits read only for the persons the batch brought a
    channel or traits for, and written where they changed. Returns the persons whose matching
    traits changed."""
    _FOLD_SEEN.run_many(
        session,
        [{"person": p, "first": t.first, "last": t.last, "now": now} for p, t in touched.items()],
    )
    rematch: set[uuid.UUID] = set()
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    channels_only = [(p,) for p, t in touched.items() if t.channels and not t.traits]
    with_traits = [(p,) for p, t in touched.items() if t.traits]
    for names, ids in ((_CHANNELS, channels_only), (_TRAITS, with_traits)):
        columns = [Person.id, *(getattr(Person, c) for c in names)]
        for row in lookup(session, columns, [Person.id], ids):
            pid, before = row[0], dict(zip(names, row[1:], strict=True))
            after = dict(before)
            _fold(after, touched[pid])
            changed = tuple(c for c in names if after[c] != before[c])
            if "traits" in changed and any(
                before["traits"].get(t) != after["traits"].get(t) for t in match.MATCH_TRAITS
            ):
                rematch.add(pid)
            if changed:
                groups.setdefault(changed, []).append({**{c: after[c] for c in changed}, "id": pid})
    for group in groups.values():
        update_rows(session, Person, "id", group)
    return rematch
