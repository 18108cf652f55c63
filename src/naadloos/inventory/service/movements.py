"""Stock movements: the facts the ledger is made of (a receipt, a till's sale, a count, a
transfer, damage), each recorded once by its reference and applied to the figures by
`ledger.change`; and the ledger read back, oldest first."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from naadloos.inventory.models import StockMovement
from naadloos.inventory.schemas import MovementCreate, MovementKind, MovementOut
from naadloos.inventory.service import ledger, locations
from naadloos.inventory.service.locations import Place
from naadloos.kit.db import insert_or_nothing, table_of
from naadloos.kit.ids import new_id
from naadloos.kit.pagination import PageParams, paginate
from naadloos.kit.time import utcnow

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


def record_movement(
    session: Session, data: MovementCreate, *, channel: str | None, by: str | None
) -> MovementOut:
    """Record a fact about stock. Facts are never refused for lack of stock: a till's sale of
    goods that already left the shop is kept even below zero, and flagged for reconciliation.
    With a `reference`, sending the same movement again records nothing new."""
    ledger.checked_sku(session, data.sku, "sku")
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
        ledger.ensure_level(session, data.sku, location.id)
        current = session.execute(
            select(ledger.LEVELS.c.on_hand)
            .where(ledger.LEVELS.c.sku == data.sku, ledger.LEVELS.c.location_id == location.id)
            .with_for_update()
        ).scalar_one()
        on_hand_change, damaged_change = data.quantity - current, 0
    else:
        sign, damaged_sign = _EFFECT[data.kind]
        on_hand_change, damaged_change = sign * data.quantity, damaged_sign * data.quantity
    after = ledger.change(
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
    after = ledger.change(
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
    codes = locations.codes_of(session, (m.location_id for m in rows))
    return [movement_out(m, codes[m.location_id]) for m in rows], cursor
