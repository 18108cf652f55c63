"""The stock ledger and the figures it keeps. Every change of a (sku, location) goes through
`change`: one conditional UPDATE ... RETURNING in the caller's transaction, never a read, a check
in Python and a write (DESIGN rule 4). Callers that touch several rows do so in key order
(sku, location id), so concurrent transactions wait for each other instead of deadlocking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, select, update
from sqlalchemy.orm import Session

from naadloos.catalog.service import variants
from naadloos.inventory.events import BackInStock, OutOfStock, StockChanged
from naadloos.inventory.models import Location, SafetyStock, StockLevel, StockMovement
from naadloos.inventory.schemas import (
    MovementCreate,
    MovementKind,
    MovementOut,
)
from naadloos.inventory.service import locations
from naadloos.inventory.service.locations import Place
from naadloos.kit.db import insert_or_nothing, table_of
from naadloos.kit.errors import ValidationFailed
from naadloos.kit.events import emit
from naadloos.kit.ids import new_id
from naadloos.kit.pagination import PageParams, paginate
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


def _hold_with_safety(location: ColumnElement[int]) -> Prepared:
    """A hold that leaves the channel's safety stock alone, at `location` (SQL for its id)."""
    return Prepared(
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


# One statement each: the safety stock is applied inside the UPDATE, and by code the location
# is looked up there too (open ones only).
_HOLD_AT = _hold_with_safety(bindparam("location_id"))
_HOLD_AT_CODE = _hold_with_safety(
    select(Location.id)
    .where(Location.code == bindparam("code"), Location.active.is_(True))
    .scalar_subquery()
)


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
        _ensure_level(session, sku, location.id)
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


def _ensure_level(session: Session, sku: str, location_id: int) -> None:
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


# -- movements --------------------------------------------------------------------------------

# What a movement of `quantity` units does to on hand and damaged.
_EFFECT = {
    MovementKind.RECEIPT: (1, 0),
    MovementKind.RETURN: (1, 0),
    MovementKind.TRANSFER_IN: (1, 0),
    MovementKind.SALE: (-1, 0),
    MovementKind.TRANSFER_OUT: (-1, 0),
    MovementKind.DAMAGE: (-1, 1),
    MovementKind.ADJUSTMENT: (1, 0),
}


def checked_sku(session: Session, sku: str, field: str) -> None:
    if not variants.known_skus(session, [sku]):
        raise ValidationFailed.field(field, f"no variant with SKU {sku!r}")


def record_movement(
    session: Session, data: MovementCreate, *, channel: str | None, by: str | None
) -> MovementOut:
    """Record a fact about stock. Facts are never refused for lack of stock: a till's sale of
    goods that already left the shop is kept even below zero, and flagged for reconciliation.
    With a `reference`, sending the same movement again records nothing new."""
    checked_sku(session, data.sku, "sku")
    location = locations.resolve(session, [(data.location, "location")])[data.location]
    now = utcnow()
    row = {
        "id": new_id(),
        "sku": data.sku,
        "location_id": location.id,
        "kind": data.kind.value,
        "quantity": 0,
        "damaged_change": 0,
        "on_hand_after": None,
        "flagged": False,
        "reference": data.reference,
        "channel": channel,
        "note": data.note,
        "created_at": now,
        "created_by": by,
    }
    if insert_or_nothing(session, StockMovement, row, StockMovement.id) is None:
        earlier = session.scalars(
            select(StockMovement).where(
                StockMovement.location_id == location.id,
                StockMovement.kind == data.kind.value,
                StockMovement.reference == data.reference,
                StockMovement.sku == data.sku,
            )
        ).one()
        return movement_out(earlier, location.code, replayed=True)
    if data.kind is MovementKind.COUNT:
        _ensure_level(session, data.sku, location.id)
        current = session.execute(
            select(LEVELS.c.on_hand)
            .where(LEVELS.c.sku == data.sku, LEVELS.c.location_id == location.id)
            .with_for_update()
        ).scalar_one()
        on_hand_change, damaged_change = data.quantity - current, 0
    else:
        sign, damaged_sign = _EFFECT[data.kind]
        on_hand_change, damaged_change = sign * data.quantity, damaged_sign * data.quantity
    after = change(
        session,
        data.sku,
        location,
        cause=data.kind.value,
        reference=data.reference,
        on_hand=on_hand_change,
        damaged=damaged_change,
        at=now,
    )
    flagged = after.on_hand < 0
    session.execute(
        update(table_of(StockMovement))
        .where(table_of(StockMovement).c.id == row["id"])
        .values(
            quantity=on_hand_change,
            damaged_change=damaged_change,
            on_hand_after=after.on_hand,
            flagged=flagged,
        )
    )
    stored = StockMovement(**{**row, "quantity": on_hand_change, "flagged": flagged})
    stored.damaged_change, stored.on_hand_after = damaged_change, after.on_hand
    return movement_out(stored, location.code)


def record_fulfilment(
    session: Session,
    sku: str,
    location: Place,
    quantity: int,
    *,
    reference: str,
    channel: str | None,
    by: str | None,
    at: datetime,
) -> None:
    """Allocated units left the location: on hand and allocated go down together."""
    after = change(
        session,
        sku,
        location,
        cause=MovementKind.SALE.value,
        reference=reference,
        on_hand=-quantity,
        allocated=-quantity,
        at=at,
    )
    session.add(
        StockMovement(
            id=new_id(),
            sku=sku,
            location_id=location.id,
            kind=MovementKind.SALE.value,
            quantity=-quantity,
            damaged_change=0,
            on_hand_after=after.on_hand,
            flagged=after.on_hand < 0,
            reference=reference,
            channel=channel,
            note="fulfilled reservation",
            created_at=at,
            created_by=by,
        )
    )
    session.flush()


def movement_out(m: StockMovement, location: str, *, replayed: bool = False) -> MovementOut:
    return MovementOut(
        id=m.id,
        kind=MovementKind(m.kind),
        sku=m.sku,
        location=location,
        quantity=m.quantity,
        damaged_change=m.damaged_change,
        on_hand_after=m.on_hand_after,
        flagged=m.flagged,
        reference=m.reference,
        channel=m.channel,
        note=m.note,
        created_at=m.created_at,
        created_by=m.created_by,
        replayed=replayed,
    )


def list_movements(
    session: Session,
    page: PageParams,
    *,
    sku: str | None,
    location: str | None,
    flagged: bool | None,
) -> tuple[list[MovementOut], str | None]:
    """The ledger, oldest first; `flagged=true` lists what drove stock below zero."""
    stmt = select(StockMovement)
    if sku is not None:
        stmt = stmt.where(StockMovement.sku == sku)
    if location is not None:
        stmt = stmt.where(
            StockMovement.location_id
            == locations.get_location(session, location, field="location").id
        )
    if flagged is not None:
        stmt = stmt.where(StockMovement.flagged.is_(flagged))
    rows, cursor = paginate(session, stmt, StockMovement.id, page)
    codes = _codes(session, {m.location_id for m in rows})
    return [movement_out(m, codes[m.location_id]) for m in rows], cursor


def _codes(session: Session, ids: set[int]) -> dict[int, str]:
    return dict(
        session.execute(select(Location.id, Location.code).where(Location.id.in_(ids))).all()
    )
