"""The stock ledger and the figures it keeps. Every change of a (sku, location) goes through
`change`: one conditional UPDATE ... RETURNING in the caller's transaction, never a read, a check
in Python and a write (DESIGN rule 4). Callers that touch several rows do so in key order
(sku, location id), so concurrent transactions wait for each other instead of deadlocking."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, Update, bindparam, func, select, update
from sqlalchemy.orm import Session

from naadloos.catalog.service import variants
from naadloos.inventory.events import BackInStock, OutOfStock, StockChanged
from naadloos.inventory.models import Location, SafetyStock, StockLevel
from naadloos.inventory.service.locations import Place
from naadloos.kit.db import insert_or_nothing, table_of
from naadloos.kit.errors import ValidationFailed
from naadloos.kit.events import emit
from naadloos.kit.prepared import Prepared
from naadloos.kit.time import utcnow

LEVELS = table_of(StockLevel)
ALL_SKUS = "*"  # a safety stock row for every SKU of a channel


@dataclass(frozen=True)
class Figures:
    on_hand: int
    reserved: int
    allocated: int
    damaged: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved - self.allocated


def held_back(channel: Any, sku: Any) -> ColumnElement[int]:
    """SQL for what `channel` leaves alone of `sku` (values, bound parameters or columns):
    the SKU's own safety stock, else the channel's for all SKUs, else 0."""
    own = (
        select(SafetyStock.quantity)
        .where(SafetyStock.channel == channel, SafetyStock.sku == sku)
        .scalar_subquery()
    )
    every = (
        select(SafetyStock.quantity)
        .where(SafetyStock.channel == channel, SafetyStock.sku == ALL_SKUS)
        .scalar_subquery()
    )
    return func.coalesce(own, every, 0)


_FIGURES = (LEVELS.c.on_hand, LEVELS.c.reserved, LEVELS.c.allocated, LEVELS.c.damaged)
# Built once; each change binds its values. `_HOLD` only changes a row with enough available.
_CHANGE = Prepared(
    update(LEVELS)
    .where(LEVELS.c.sku == bindparam("k_sku"), LEVELS.c.location_id == bindparam("k_location"))
    .values(
        on_hand=LEVELS.c.on_hand + bindparam("d_on_hand"),
        reserved=LEVELS.c.reserved + bindparam("d_reserved"),
        allocated=LEVELS.c.allocated + bindparam("d_allocated"),
        damaged=LEVELS.c.damaged + bindparam("d_damaged"),
        updated_at=bindparam("at"),
    )
    .returning(*_FIGURES)
)
_HOLD = Prepared(
    update(LEVELS)
    .where(
        LEVELS.c.sku == bindparam("k_sku"),
        LEVELS.c.location_id == bindparam("k_location"),
        LEVELS.c.on_hand - LEVELS.c.reserved - LEVELS.c.allocated - bindparam("safety")
        >= bindparam("need"),
    )
    .values(reserved=LEVELS.c.reserved + bindparam("need"), updated_at=bindparam("at"))
    .returning(*_FIGURES)
)


def hold_statement(location: ColumnElement[int]) -> Update:
    """A hold that leaves the channel's safety stock alone, at `location` (SQL for its id):
    the figures after it and the location's id, or no row when it held nothing. Parameters
    `k_sku`, `channel`, `need`, `at` and those of `location`."""
    return (
        update(LEVELS)
        .where(
            LEVELS.c.sku == bindparam("k_sku"),
            LEVELS.c.location_id == location,
            LEVELS.c.on_hand
            - LEVELS.c.reserved
            - LEVELS.c.allocated
            - held_back(bindparam("channel"), LEVELS.c.sku)
            >= bindparam("need"),
        )
        .values(reserved=LEVELS.c.reserved + bindparam("need"), updated_at=bindparam("at"))
        .returning(*_FIGURES, LEVELS.c.location_id)
    )


# At a location the caller resolved (a cart's), or at the open location with this code.
HOLD_AT: ColumnElement[int] = bindparam("location_id", type_=Integer)
HOLD_AT_CODE: ColumnElement[int] = (
    select(Location.id)
    .where(Location.code == bindparam("code"), Location.active.is_(True))
    .scalar_subquery()
)


# One statement each: the safety stock is applied inside the UPDATE, and by code the location
# is looked up there too (open ones only).
_HOLD_AT = Prepared(hold_statement(HOLD_AT))
_HOLD_AT_CODE = Prepared(hold_statement(HOLD_AT_CODE))


def change(
    session: Session,
    sku: str,
    location: Place,
    *,
    cause: str,
    reference: str | None = None,
    on_hand: int = 0,
    reserved: int = 0,
    allocated: int = 0,
    damaged: int = 0,
    at: datetime | None = None,
) -> Figures:
    """Apply the changes to the figures of `sku` at `location` atomically and announce them."""
    values = {
        "k_sku": sku,
        "k_location": location.id,
        "d_on_hand": on_hand,
        "d_reserved": reserved,
        "d_allocated": allocated,
        "d_damaged": damaged,
        "at": at or utcnow(),
    }
    row = _CHANGE.first(session, values)
    if row is None:
        ensure_level(session, sku, location.id)
        row = _CHANGE.first(session, values)
        if row is None:  # pragma: no cover - the row was just made
            raise RuntimeError(f"no stock row for {sku!r} at {location.code!r}")
    after = Figures(*row)
    _announce(
        session,
        sku,
        location,
        after,
        available_change=on_hand - reserved - allocated,
        cause=cause,
        reference=reference,
    )
    return after


def hold(
    session: Session,
    sku: str,
    location: Place,
    quantity: int,
    *,
    safety: int,
    reference: str,
    at: datetime,
) -> Figures | None:
    """Reserve `quantity` units only if that many are available beyond `safety`: one
    conditional UPDATE. None if not."""
    row = _HOLD.first(
        session,
        {"k_sku": sku, "k_location": location.id, "safety": safety, "need": quantity, "at": at},
    )
    if row is None:
        return None
    after = Figures(*row)
    _announce(
        session,
        sku,
        location,
        after,
        available_change=-quantity,
        cause="reserved",
        reference=reference,
    )
    return after


def hold_for_channel(
    session: Session,
    sku: str,
    location: Place | str,
    quantity: int,
    *,
    channel: str,
    reference: str,
    at: datetime,
) -> Place | None:
    """`hold`, leaving `channel`'s safety stock alone, at a resolved location or at the open
    location with this code, in one statement. The location held at, or None when nothing
    was held (too little stock, or no such SKU or open location: the caller finds out which)."""
    values = {"k_sku": sku, "channel": channel, "need": quantity, "at": at}
    if isinstance(location, Place):
        row = _HOLD_AT.first(session, {**values, "location_id": location.id})
    else:
        row = _HOLD_AT_CODE.first(session, {**values, "code": location})
    if row is None:
        return None
    return announce_hold(session, sku, location, row, quantity=quantity, reference=reference)


def announce_hold(
    session: Session,
    sku: str,
    location: Place | str,
    row: Sequence[Any],
    *,
    quantity: int,
    reference: str,
) -> Place:
    """Announce what a `hold_statement` held (its row: the figures after, the location's id)
    and return where."""
    place = location if isinstance(location, Place) else Place(row[4], location)
    _announce(
        session,
        sku,
        place,
        Figures(*row[:4]),
        available_change=-quantity,
        cause="reserved",
        reference=reference,
    )
    return place


def _announce(
    session: Session,
    sku: str,
    location: Place,
    after: Figures,
    *,
    available_change: int,
    cause: str,
    reference: str | None,
) -> None:
    emit(
        session,
        StockChanged(
            sku=sku,
            location=location.code,
            on_hand=after.on_hand,
            reserved=after.reserved,
            allocated=after.allocated,
            damaged=after.damaged,
            available=after.available,
            cause=cause,
            reference=reference,
        ),
    )
    before = after.available - available_change
    if before > 0 >= after.available:
        emit(session, OutOfStock(sku=sku, location=location.code))
    elif before <= 0 < after.available:
        emit(session, BackInStock(sku=sku, location=location.code, available=after.available))


def ensure_level(session: Session, sku: str, location_id: int) -> None:
    insert_or_nothing(
        session,
        StockLevel,
        {
            "sku": sku,
            "location_id": location_id,
            "on_hand": 0,
            "reserved": 0,
            "allocated": 0,
            "damaged": 0,
            "updated_at": utcnow(),
        },
        StockLevel.sku,
    )


def figures(session: Session, sku: str, location_id: int) -> Figures:
    row = session.execute(
        select(LEVELS.c.on_hand, LEVELS.c.reserved, LEVELS.c.allocated, LEVELS.c.damaged).where(
            LEVELS.c.sku == sku, LEVELS.c.location_id == location_id
        )
    ).first()
    return Figures(*row) if row else Figures(0, 0, 0, 0)


def checked_sku(session: Session, sku: str, field: str) -> None:
    if not variants.known_skus(session, [sku]):
        raise ValidationFailed.field(field, f"no variant with SKU {sku!r}")
