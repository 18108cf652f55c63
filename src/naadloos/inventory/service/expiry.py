"""Holds whose time is up give their units back: the sweeper job, and a reservation that finds
too little stock at a row."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from naadloos.inventory.models import Location, Reservation, ReservationLine
from naadloos.inventory.schemas import ReservationStatus
from naadloos.inventory.service import ledger
from naadloos.inventory.service.locations import Place
from naadloos.kit.db import table_of
from naadloos.kit.time import utcnow

RESERVATIONS = table_of(Reservation)


def expire_due(
    session: Session,
    *,
    at: datetime | None = None,
    limit: int = 500,
    key: tuple[str, int] | None = None,
    held: frozenset[tuple[str, int]] = frozenset(),
) -> int:
    """Release holds whose time is up; returns how many expired. The sweeper job calls it with
    no `key`. A reservation that finds too little at `key` calls it for the expired holds there,
    while it holds the rows `held` and those before `key`: it then expires only reservations
    whose rows it can take without leaving key order, so no two transactions wait on each other
    in a circle."""
    now = at or utcnow()
    stmt = select(Reservation.id).where(
        Reservation.status == ReservationStatus.HELD.value, Reservation.expires_at <= now
    )
    if key is not None:
        stmt = stmt.where(
            Reservation.id.in_(
                select(ReservationLine.reservation_id).where(
                    ReservationLine.sku == key[0], ReservationLine.location_id == key[1]
                )
            )
        )
    due = list(
        session.scalars(
            stmt.order_by(Reservation.id).limit(limit).with_for_update(skip_locked=True)
        )
    )
    if not due:
        return 0
    lines: dict[uuid.UUID, list[ReservationLine]] = defaultdict(list)
    for line in session.scalars(
        select(ReservationLine).where(ReservationLine.reservation_id.in_(due))
    ):
        lines[line.reservation_id].append(line)
    if key is not None:
        due = [
            r
            for r in due
            if all(
                (ln.sku, ln.location_id) in held or (ln.sku, ln.location_id) >= key
                for ln in lines[r]
            )
        ]
    changes: dict[tuple[str, int], int] = defaultdict(int)
    expired = 0
    for reservation_id in due:
        claimed = session.execute(
            update(RESERVATIONS)
            .where(
                RESERVATIONS.c.id == reservation_id,
                RESERVATIONS.c.status == ReservationStatus.HELD.value,
            )
            .values(status=ReservationStatus.EXPIRED.value, updated_at=now)
            .returning(RESERVATIONS.c.id)
        ).first()
        if claimed is None:
            continue
        expired += 1
        for line in lines[reservation_id]:
            changes[(line.sku, line.location_id)] += line.quantity
    places = {
        loc_id: Place(loc_id, code)
        for loc_id, code in session.execute(
            select(Location.id, Location.code).where(Location.id.in_({loc for _, loc in changes}))
        )
    }
    for sku, location_id in sorted(changes):
        ledger.change(
            session,
            sku,
            places[location_id],
            cause="expired",
            reserved=-changes[(sku, location_id)],
            at=now,
        )
    return expired
