"""A one-line hold, and why it held nothing, for the common answer: too little stock.

A hold is one conditional UPDATE (`ledger.hold_statement`); when it changes no row, the
reason may be an unknown SKU or location, holds that lapsed but were not swept yet (their units
count again), or simply too little. The general path finds out which in four or five
statements. In a sale that runs out, almost every refusal is the last case: this reads the
stock row, the channel's safety stock and whether any lapsed hold is left at the row, and
says so when it is plainly too little. Anything else (no stock row, a closed or unknown
location, a lapsed hold to sweep, or stock that was freed since the UPDATE) it leaves to the
general path.

On PostgreSQL the hold and that reading are one statement (the UPDATE in a CTE, the reading
only when the CTE returned nothing), so a refusal costs one round trip, as a hold does. The
reading there sees the row as the statement began; when a concurrent hold made the UPDATE wait
and then fail, the figure read may be from before that hold, and shows more available than
there is: then, as when stock was freed, the general path reads again. SQLite has no UPDATE in
a CTE: two statements there, in process.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    cast,
    exists,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from naadloos.inventory.models import Location, Reservation, ReservationLine
from naadloos.inventory.schemas import ReservationStatus
from naadloos.inventory.service import ledger
from naadloos.inventory.service.ledger import LEVELS, held_back
from naadloos.inventory.service.locations import Place
from naadloos.kit.prepared import Prepared


class Short(NamedTuple):
    """Too little of a SKU at a location: what the channel may still take there."""

    place: Place
    available: int


def _why(location: ColumnElement[bool]) -> Select[tuple[int, str, int, bool]]:
    """The location's id and code, what the channel may still take there, and whether a lapsed
    hold is left at the row. Parameters `sku`, `channel`, `now` and those of `location`."""
    # The inner EXISTS names the stock row two levels up: correlated explicitly (automatic
    # correlation reaches only the enclosing statement, and read every stock row instead).
    lapsed = exists().where(
        Reservation.status == ReservationStatus.HELD.value,
        Reservation.expires_at <= bindparam("now"),
        exists()
        .where(
            ReservationLine.reservation_id == Reservation.id,
            ReservationLine.sku == LEVELS.c.sku,
            ReservationLine.location_id == LEVELS.c.location_id,
        )
        .correlate(LEVELS, Reservation),
    )
    return (
        select(
            Location.id,
            Location.code,
            LEVELS.c.on_hand
            - LEVELS.c.reserved
            - LEVELS.c.allocated
            - held_back(bindparam("channel"), LEVELS.c.sku),
            lapsed,
        )
        .select_from(LEVELS)
        .join(Location, Location.id == LEVELS.c.location_id)
        .where(and_(LEVELS.c.sku == bindparam("sku"), location))
    )


def _hold_or_why(held_at: ColumnElement[int], why_at: ColumnElement[bool]) -> Prepared:
    """PostgreSQL: the hold, and only when it held nothing, `_why`, in one statement. A row of
    the hold is (figures after, location id, NULL, NULL, NULL); a row of `_why` is (NULL x 4,
    location id, code, available, lapsed)."""
    held = ledger.hold_statement(held_at).cte("held")
    took = select(
        *(held.c[c] for c in ("on_hand", "reserved", "allocated", "damaged", "location_id")),
        cast(null(), String),
        cast(null(), Integer),
        cast(null(), Boolean),
    )
    why = _why(why_at).where(~exists(select(held.c.location_id)))
    nothing = cast(null(), Integer)
    return Prepared(
        union_all(
            took, why.with_only_columns(nothing, nothing, nothing, nothing, *why.selected_columns)
        )
    )


# At a location the caller resolved (a cart's), or at the open location with this code (as
# `ledger.hold_statement` holds).
_AT_ID = Location.id == bindparam("location_id")
_AT_OPEN_CODE = and_(Location.code == bindparam("code"), Location.active.is_(True))
_AT = Prepared(_why(_AT_ID))
_AT_CODE = Prepared(_why(_AT_OPEN_CODE))
_HOLD_OR_WHY_AT = _hold_or_why(ledger.HOLD_AT, _AT_ID)
_HOLD_OR_WHY_AT_CODE = _hold_or_why(ledger.HOLD_AT_CODE, _AT_OPEN_CODE)


def hold_or_short(
    session: Session,
    sku: str,
    location: Place | str,
    qty: int,
    *,
    channel: str,
    reference: str,
    at: datetime,
) -> Place | Short | None:
    """Hold `qty` of `sku` for `channel` (announced as `ledger.hold_for_channel` does): where it
    was held; else what is available when that is plainly too little; else None, for the
    general path to find out why."""
    if session.get_bind().dialect.name != "postgresql":
        place = ledger.hold_for_channel(
            session, sku, location, qty, channel=channel, reference=reference, at=at
        )
        if place is not None:
            return place
        return plainly_short(session, sku, location, qty, channel=channel, at=at)
    params = {"k_sku": sku, "sku": sku, "channel": channel, "need": qty, "at": at, "now": at}
    if isinstance(location, Place):
        row = _HOLD_OR_WHY_AT.first(session, {**params, "location_id": location.id})
    else:
        row = _HOLD_OR_WHY_AT_CODE.first(session, {**params, "code": location})
    if row is None:
        return None
    if row[0] is not None:
        return ledger.announce_hold(session, sku, location, row, quantity=qty, reference=reference)
    return _short(row[4:], qty)


def plainly_short(
    session: Session, sku: str, location: Place | str, qty: int, *, channel: str, at: datetime
) -> Short | None:
    """What is available when a hold of `qty` failed for too little stock and nothing else;
    None when the general path must find out why (see the module)."""
    params = {"sku": sku, "channel": channel, "now": at}
    if isinstance(location, Place):
        row = _AT.first(session, {**params, "location_id": location.id})
    else:
        row = _AT_CODE.first(session, {**params, "code": location})
    return None if row is None else _short(row, qty)


def _short(why: Sequence[Any], qty: int) -> Short | None:
    location_id, code, available, lapsed = why
    if lapsed or available >= qty:
        return None
    return Short(Place(location_id, code), max(0, available))
